//! `provision enroll`: from a fresh device and a one-time code to an enrolled, configured and
//! self-tested station, in one command.
//!
//! The order is chosen so that a failure leaves nothing behind and wastes nothing that cannot
//! be had again: everything local is checked first (an enrolled configuration is not replaced by
//! accident, the receipt details are known), then the adapter's certificate is captured and
//! checked, the key is made and written beside its final place, and only then is the code spent.
//! A refused code, a wrong fingerprint or an unreachable adapter remove what was staged, so the
//! technician can simply run the command again. After enrollment the key and the pin are moved
//! into place first (the device is only usable with them), then the configuration is written,
//! then the devices are tested: a device problem is reported, not fatal, since the enrollment
//! stands and the technician fixes the cable and re-runs `provision test`.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use channel_api::fleet::EnrollRequest;
use channel_api::{DeviceKind, Timestamp};
use clap::{Args, ValueEnum};
use kiosk::adapter::AdapterClient;
use kiosk::device_key::DeviceKey;

use crate::error::{ProvisionError, exit};
use crate::pin::{ExpectedFingerprint, Trust};
use crate::progress::{fail, note, ok};
use crate::selftest::{self, Printer, Summary};
use crate::station::{self, Chosen, Enrolled, Operator, Psp};

/// Where the kiosk agent's configuration lives by default.
pub const DEFAULT_CONFIG: &str = "/etc/pagopa-kiosk/kiosk.toml";
/// Where the agent keeps its journal by default.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/pagopa-kiosk";
/// The pinned certificate, next to the configuration.
pub const PIN_FILE: &str = "adapter-ca.pem";
/// The device key, next to the configuration.
pub const KEY_FILE: &str = "device.key";

/// Kiosk or counter, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// A self-service kiosk (cards only).
    Kiosk,
    /// A staffed counter (cash and cards).
    Counter,
}

impl From<ModeArg> for DeviceKind {
    fn from(m: ModeArg) -> DeviceKind {
        match m {
            ModeArg::Kiosk => DeviceKind::Kiosk,
            ModeArg::Counter => DeviceKind::Counter,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The channel adapter, e.g. `https://pagopa-adapter.example.it` (`http://` only on loopback,
    /// for demos and tests).
    #[arg(long, value_name = "URL")]
    adapter: String,
    /// The one-time code from the administrator (XXXX-XXXX-XXXX; case and dashes do not
    /// matter).
    #[arg(long)]
    code: String,
    /// The adapter certificate's SHA-256 fingerprint as the administrator read it out (colons
    /// optional; the first 16 hex digits are enough). Enrollment stops on a mismatch.
    #[arg(long, value_name = "SHA256-HEX")]
    fingerprint: Option<String>,
    /// The adapter's CA (PEM): verify the adapter against it instead of trusting it on first
    /// use; it becomes the pinned certificate.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// The kiosk agent's configuration to write (an existing one not yet enrolled is kept as
    /// the base: receipt wording, staff, offline limits).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// The agent's data directory (its journal).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Kiosk or counter; by default what the code was issued for.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Replace a configuration that already holds an enrolled device.
    #[arg(long)]
    force: bool,
    /// Do not print the summary receipt.
    #[arg(long)]
    no_print: bool,
    /// Use simulated devices (demo stations and tests) instead of detecting real ones.
    #[arg(long)]
    sim_devices: bool,
    /// The printer's address, instead of detection (`none`: no printer).
    #[arg(long, value_name = "ADDRESS")]
    printer: Option<String>,
    /// The scanner's address, instead of detection (`none`: no scanner).
    #[arg(long, value_name = "ADDRESS")]
    scanner: Option<String>,
    /// The card terminal's address, instead of detection (`none`: no terminal).
    #[arg(long, value_name = "ADDRESS")]
    terminal: Option<String>,
    /// A member of staff who may log in at a counter, as `ID:Full name` (may be repeated); the
    /// PINs are read from standard input, one line each, in the same order.
    #[arg(long, value_name = "ID:NAME")]
    operator: Vec<String>,
    /// The PSP's name on receipts (needed unless the existing configuration has it).
    #[arg(long)]
    psp_name: Option<String>,
    /// The PSP's fiscal code on receipts (needed unless the existing configuration has it).
    #[arg(long)]
    psp_fiscal_code: Option<String>,
    /// Root of sysfs (for tests).
    #[arg(long, default_value = "/sys", hide = true)]
    sysfs: PathBuf,
    /// Root of /dev (for tests).
    #[arg(long, default_value = "/dev", hide = true)]
    dev: PathBuf,
}

/// The adapter's URL, split for the certificate capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterUrl {
    /// The URL, without a trailing slash.
    pub url: String,
    /// `https`.
    pub tls: bool,
    /// The host name or address.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl AdapterUrl {
    /// Parses `https://host[:port][/prefix]`, or `http://` with a loopback host.
    pub fn parse(text: &str) -> Result<AdapterUrl, ProvisionError> {
        let bad = || ProvisionError::Url(text.to_owned());
        let url = text.trim().trim_end_matches('/').to_owned();
        let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, tail) = v6.split_once(']').ok_or_else(bad)?;
                let port = match tail.strip_prefix(':') {
                    Some(p) => p.parse().map_err(|_| bad())?,
                    None if tail.is_empty() => default_port,
                    None => return Err(bad()),
                };
                (host.to_owned(), port)
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (authority.to_owned(), default_port),
            },
        };
        if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
            return Err(bad());
        }
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback {
            return Err(bad());
        }
        Ok(AdapterUrl {
            url,
            tls,
            host,
            port,
        })
    }
}

/// The host's name, for the fleet view.
fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Now, from the system clock.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_unix_millis(ms)
}

/// The directory a file lives in (`.` for a bare name).
pub fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn create_dir(path: &Path) -> Result<(), ProvisionError> {
    std::fs::create_dir_all(path).map_err(|source| ProvisionError::File {
        action: "creating",
        path: path.to_owned(),
        source,
    })
}

/// Moves a staged file into place and makes the move durable.
pub fn promote(staged: &Path, target: &Path) -> Result<(), ProvisionError> {
    let io = |source| ProvisionError::File {
        action: "moving into place",
        path: target.to_owned(),
        source,
    };
    std::fs::rename(staged, target).map_err(io)?;
    std::fs::File::open(dir_of(target))
        .and_then(|d| d.sync_all())
        .map_err(io)
}

/// Files staged beside their final place, removed unless kept.
#[derive(Debug, Default)]
struct Staged(Vec<PathBuf>);

impl Drop for Staged {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn staged_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir_of(target).join(format!(".{name}.enrolling"))
}

fn psp_of(args: &EnrollArgs) -> Result<Option<Psp>, ProvisionError> {
    match (&args.psp_name, &args.psp_fiscal_code) {
        (None, None) => Ok(None),
        (Some(name), Some(code)) => {
            let code = code.trim();
            if code.len() != 11 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ProvisionError::Missing(format!(
                    "--psp-fiscal-code {code:?}: expected 11 digits"
                )));
            }
            Ok(Some(Psp {
                name: name.trim().to_owned(),
                fiscal_code: code.to_owned(),
            }))
        }
        _ => Err(ProvisionError::Missing(
            "pass both --psp-name and --psp-fiscal-code".into(),
        )),
    }
}

/// The operators given with `--operator`, their PINs read from standard input and hashed
/// (before the code is spent, so a mistyped PIN costs nothing).
fn operators_of(args: &EnrollArgs) -> Result<Vec<Operator>, ProvisionError> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut out = Vec::new();
    for given in &args.operator {
        let Some((id, name)) = given.split_once(':') else {
            return Err(ProvisionError::Missing(format!(
                "--operator {given:?}: expected ID:Full name, e.g. mrossi:Mario Rossi"
            )));
        };
        if interactive {
            eprint!("PIN for {id} (4 to 12 digits): ");
        }
        let mut pin = String::new();
        stdin
            .lock()
            .read_line(&mut pin)
            .map_err(|source| ProvisionError::File {
                action: "reading a PIN from",
                path: PathBuf::from("standard input"),
                source,
            })?;
        let pin_hash = kiosk::auth::hash_pin(pin.trim())
            .map_err(|e| ProvisionError::Missing(format!("PIN for {id}: {e} ({})", e.code())))?;
        out.push(Operator {
            id: id.trim().to_owned(),
            name: name.trim().to_owned(),
            pin_hash,
        });
    }
    Ok(out)
}

fn has_receipt_details(template: Option<&toml::Table>) -> bool {
    template
        .and_then(|t| t.get("receipt"))
        .and_then(toml::Value::as_table)
        .is_some_and(|r| r.contains_key("psp_name") && r.contains_key("psp_fiscal_code"))
}

fn device_arg(v: &Option<String>) -> Option<Option<String>> {
    v.as_ref().map(|s| match s.trim() {
        "" | "none" => None,
        s => Some(s.to_owned()),
    })
}

/// Chooses the devices: simulators, the addresses given, or what detection found.
async fn choose_devices(args: &EnrollArgs) -> Chosen {
    if args.sim_devices {
        let chosen = Chosen {
            scanner: Some("sim".into()),
            printer: Some("sim".into()),
            terminal: Some("sim".into()),
            terminal_id: None,
        };
        ok("devices", "simulated scanner, printer and card terminal");
        return chosen;
    }
    let (printer, scanner, terminal) = (
        device_arg(&args.printer),
        device_arg(&args.scanner),
        device_arg(&args.terminal),
    );
    let survey = if printer.is_some() && scanner.is_some() && terminal.is_some() {
        crate::detect::Survey::default()
    } else {
        match crate::detect::survey(&args.sysfs, &args.dev, &[9600, 115_200]).await {
            Ok(s) => s,
            Err(e) => {
                fail("devices", format!("cannot list the ports: {e}"));
                crate::detect::Survey::default()
            }
        }
    };
    let (found_terminal, found_terminal_id) = match survey.terminal {
        Some((address, id)) => (Some(address), Some(id)),
        None => (None, None),
    };
    let terminal_id = if terminal.is_some() {
        None
    } else {
        found_terminal_id
    };
    let chosen = Chosen {
        scanner: scanner.unwrap_or(survey.scanner),
        printer: printer.unwrap_or(survey.printer),
        terminal: terminal.unwrap_or(found_terminal),
        terminal_id: terminal_id.filter(|id| id.len() == 8 && id != "00000000"),
    };
    let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".into());
    ok(
        "devices",
        format!(
            "printer {}, scanner {}, card terminal {}",
            show(&chosen.printer),
            show(&chosen.scanner),
            show(&chosen.terminal)
        ),
    );
    chosen
}

/// Runs `provision enroll`.
pub async fn run(args: EnrollArgs) -> Result<ExitCode, ProvisionError> {
    // 1. Everything that can be checked without spending the code.
    let url = AdapterUrl::parse(&args.adapter)?;
    let expected = args
        .fingerprint
        .as_deref()
        .map(ExpectedFingerprint::parse)
        .transpose()?;
    let psp = psp_of(&args)?;
    let operators = operators_of(&args)?;
    let template = station::read(&args.config)?;
    let replaced = template.as_ref().and_then(station::enrolled_as);
    if let Some(device) = &replaced
        && !args.force
    {
        return Err(ProvisionError::ConfigExists {
            path: args.config.clone(),
            device: device.clone(),
        });
    }
    if psp.is_none() && !has_receipt_details(template.as_ref()) {
        return Err(ProvisionError::Missing(
            "the receipt needs the PSP's name and fiscal code: pass --psp-name and --psp-fiscal-code, or install a configuration with a [receipt] section first".into(),
        ));
    }
    let config_dir = dir_of(&args.config);
    create_dir(&config_dir)?;
    create_dir(&args.data_dir)?;
    let key_file = config_dir.join(KEY_FILE);
    let pin_file = config_dir.join(PIN_FILE);
    if staged_path(&key_file).exists() {
        note(
            "previous attempt",
            "an earlier enrollment stopped half-way; if it had reached the adapter, that device is registered without its key: ask the administrator to revoke it",
        );
    }
    let mut staged = Staged::default();

    // 2. The adapter's certificate.
    let pin = if url.tls {
        let trust = Trust {
            ca_file: args.ca.clone(),
            fingerprint: expected.clone(),
        };
        let pin = crate::pin::capture(&url.host, url.port, &trust, Duration::from_secs(10)).await?;
        let how = match (&args.ca, &expected) {
            (Some(ca), _) => format!("verified with {}", ca.display()),
            (None, Some(_)) => "matches the fingerprint given".to_owned(),
            (None, None) => "trusted on first use: check it against the administrator's".to_owned(),
        };
        ok(
            "certificate",
            format!("SHA-256 {} ({how})", pin.adapter_fingerprint),
        );
        let staged_pin = staged_path(&pin_file);
        kiosk::fsutil::write_atomic(&staged_pin, pin.pem().as_bytes(), 0o644)?;
        staged.0.push(staged_pin.clone());
        Some((pin, staged_pin))
    } else {
        note(
            "certificate",
            "plain HTTP: nothing is encrypted; acceptable on loopback for demos and tests only",
        );
        None
    };

    // 3. The key, made here; only its public half leaves the device.
    let key = DeviceKey::generate()?;
    let staged_key = staged_path(&key_file);
    key.save(&staged_key)?;
    staged.0.push(staged_key.clone());
    ok("key", "Ed25519 key pair generated on this device");

    // 4. Enrollment: the code is spent here.
    let client = AdapterClient::for_enrollment(
        &url.url,
        pin.as_ref().map(|(_, staged_pin)| staged_pin.as_path()),
    )?;
    let answer = client
        .enroll(&EnrollRequest {
            code: args.code.clone(),
            public_key: key.public_key(),
            hostname: hostname(),
            agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        })
        .await?;
    promote(&staged_key, &key_file)?;
    if let Some((pinned, staged_pin)) = &pin {
        promote(staged_pin, &pin_file)?;
        ok(
            "pinned",
            format!(
                "{} (SHA-256 {}): the agent trusts only this",
                pin_file.display(),
                pinned.pinned_fingerprint
            ),
        );
    }
    staged.0.clear();
    let device = &answer.device;
    let comune_name = answer
        .comune_name
        .clone()
        .unwrap_or_else(|| format!("Comune {}", device.comune));
    ok(
        "enrolled",
        format!(
            "device {} \"{}\", {} at {} ({}), {}",
            device.id,
            device.name,
            device.kind.as_str(),
            comune_name,
            device.comune,
            answer.location
        ),
    );
    if let Some(old) = &replaced {
        note(
            "replaced",
            format!(
                "the previous device ({old}) stays registered on the adapter: ask the administrator to revoke it"
            ),
        );
    }
    let skew_ms = now().unix_millis() - answer.server_time.unix_millis();
    if skew_ms.abs() > 60_000 {
        note(
            "clock",
            format!(
                "this device's clock is {} s off the adapter's: set it (NTP), signed requests are refused beyond 5 minutes",
                skew_ms / 1000
            ),
        );
    }
    let mode = match args.mode.map(DeviceKind::from) {
        Some(m) if m != device.kind => {
            note(
                "mode",
                format!(
                    "configured as {} although the code was issued for a {}",
                    m.as_str(),
                    device.kind.as_str()
                ),
            );
            m
        }
        _ => device.kind,
    };

    // 5. The devices and the configuration.
    let devices = choose_devices(&args).await;
    let enrolled = Enrolled {
        url: url.url.clone(),
        device_id: device.id,
        key_file: key_file.clone(),
        ca_file: pin.as_ref().map(|_| pin_file.clone()),
        name: device.name.clone(),
        mode,
        comune: device.comune,
        comune_name: comune_name.clone(),
        location: answer.location.clone(),
        journal_path: args.data_dir.join("journal.db"),
        devices: devices.clone(),
        psp,
        operators,
    };
    let text = station::render(template, &enrolled)?;
    kiosk::fsutil::write_atomic(&args.config, text.as_bytes(), 0o644)?;
    let mut all_ok = true;
    match kiosk::config::Config::from_toml(&text) {
        Ok(_) => ok("configuration", args.config.display()),
        Err(e) => {
            all_ok = false;
            fail(
                "configuration",
                format!(
                    "{} written, but the agent will refuse it: {e} ({}); fix it, then `kiosk check-config --config {}`",
                    args.config.display(),
                    e.code(),
                    args.config.display()
                ),
            );
        }
    }

    // 6. Self-test and receipt.
    let printer = match devices.printer.as_deref() {
        Some(address) => Printer::open(address).await.ok(),
        None => None,
    };
    let checks = selftest::run(&devices, printer.as_ref()).await;
    for c in &checks {
        if c.ok {
            ok(c.what, &c.text);
        } else {
            all_ok = false;
            fail(c.what, &c.text);
        }
    }
    let summary = Summary {
        device_id: device.id,
        name: device.name.clone(),
        kind: match mode {
            DeviceKind::Kiosk => "chiosco",
            DeviceKind::Counter => "sportello",
        },
        comune_name,
        comune: device.comune.to_string(),
        location: answer.location.clone(),
        adapter: url.url.clone(),
        fingerprint: pin.as_ref().map(|(p, _)| p.adapter_fingerprint.clone()),
        checks,
        at: kiosk::clock::local_display(now()),
    };
    match (&printer, args.no_print) {
        (_, true) => {}
        (None, false) => note("receipt", "no printer: nothing printed"),
        (Some(p), false) => match p.print(&selftest::receipt(&summary)).await {
            Ok(Some(text)) => {
                ok("receipt", "printed on the simulated printer:");
                for line in text.lines() {
                    println!("    {line}");
                }
            }
            Ok(None) => ok("receipt", "printed: leave it with the station"),
            Err(e) => {
                all_ok = false;
                fail("receipt", e);
            }
        },
    }
    if all_ok {
        println!(
            "Device {} is enrolled and ready: start the agent (kiosk run --config {}).",
            device.id,
            args.config.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "Device {} is enrolled; fix the ✗ above, then `provision test …` (no need to enroll again).",
            device.id
        );
        Ok(ExitCode::from(exit::CHECKS_FAILED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_urls_need_tls_except_on_loopback() {
        let u = AdapterUrl::parse("https://adapter.example.it/").expect("https");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port),
            (true, "adapter.example.it", 443)
        );
        assert_eq!(u.url, "https://adapter.example.it");
        let u = AdapterUrl::parse("https://[::1]:8443/api").expect("v6");
        assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
        assert!(AdapterUrl::parse("http://127.0.0.1:8088").is_ok());
        assert!(AdapterUrl::parse("http://localhost:8088").is_ok());
        for bad in [
            "http://adapter.example.it",
            "http://10.0.0.1:80",
            "ftp://x",
            "https://",
            "https://user@host",
            "https://host:port",
        ] {
            assert_eq!(
                AdapterUrl::parse(bad).map_err(|e| e.code()),
                Err("ADAPTER_URL"),
                "{bad}"
            );
        }
    }
}
