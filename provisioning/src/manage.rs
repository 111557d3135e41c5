//! `provision status`, `rotate-credential` and `unenroll`: an enrolled device's life after
//! enrollment.
//!
//! Each reads the agent's own configuration and key through the `kiosk` library, so what it
//! reports is what the agent will do. Rotation is the delicate one: a device with no key the
//! adapter accepts needs a technician's visit, so the new key is written beside the old one
//! before the adapter is told, and only after the adapter's answer does it replace the old one.
//! A rotation cut short (power, network) leaves `<key>.new`; the next run asks the adapter which
//! of the two keys it accepts and finishes or rolls back accordingly.

use std::io::{BufRead as _, IsTerminal as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use channel_api::ErrorCode;
use channel_api::fleet::{CredentialKind, RotateCredentialRequest};
use clap::Args;
use kiosk::adapter::AdapterClient;
use kiosk::config::{Config, DeviceCredential, DeviceEndpoint};
use kiosk::device_key::DeviceKey;
use kiosk::flow::Failure;

use crate::enroll::{DEFAULT_CONFIG, promote};
use crate::error::{ProvisionError, exit};
use crate::progress::{fail, note, ok};

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The kiosk agent's configuration.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

#[derive(Debug, Args)]
pub struct UnenrollArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Unenroll even with payments still queued in the journal, or with the adapter
    /// unreachable (the administrator must then revoke the device on the adapter).
    #[arg(long)]
    force: bool,
}

/// An enrolled configuration: the agent's configuration and the device's identity.
struct Enrolled {
    config: Config,
    device_id: u64,
    key_file: PathBuf,
}

fn load(path: &Path) -> Result<Enrolled, ProvisionError> {
    // A configuration without credential (never enrolled, or unenrolled) is not an error of
    // the file: say what to do.
    let not_enrolled = || ProvisionError::NotEnrolled {
        path: path.to_owned(),
    };
    let table = crate::station::read(path)?.ok_or_else(not_enrolled)?;
    if crate::station::enrolled_as(&table).is_none() {
        return Err(not_enrolled());
    }
    let config = Config::load(path)?;
    match &config.adapter.credential {
        DeviceCredential::Key {
            device_id,
            key_file,
        } => Ok(Enrolled {
            device_id: *device_id,
            key_file: key_file.clone(),
            config,
        }),
        _ => Err(not_enrolled()),
    }
}

/// `<key>.new`: the key of a rotation in progress.
fn pending_key(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn display_time(t: Option<channel_api::Timestamp>) -> String {
    t.map_or_else(|| "never".to_owned(), kiosk::clock::local_display)
}

/// Runs `provision status`.
pub async fn status(args: ConfigArg) -> Result<ExitCode, ProvisionError> {
    let e = load(&args.config)?;
    let mut healthy = true;
    ok(
        "device",
        format!(
            "id {} \"{}\", {} at {} ({}), {}",
            e.device_id,
            e.config.name,
            e.config.mode.as_str(),
            e.config.comune.name,
            e.config.comune.fiscal_code,
            e.config.location
        ),
    );
    ok("adapter", &e.config.adapter.url);
    match &e.config.adapter.ca_file {
        Some(ca) => match crate::pin::file_fingerprint(ca) {
            Ok(f) => ok("pinned", format!("{} (SHA-256 {f})", ca.display())),
            Err(err) => {
                healthy = false;
                fail("pinned", err);
            }
        },
        None if e.config.adapter.url.starts_with("http://") => {
            note("pinned", "nothing: plain HTTP on loopback (demo)");
        }
        None => note("pinned", "nothing: the public web roots are trusted"),
    }
    match std::fs::metadata(&e.key_file) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                ok(
                    "key",
                    format!(
                        "{} (mode {mode:o}, owner uid {})",
                        e.key_file.display(),
                        meta.uid()
                    ),
                );
            } else {
                healthy = false;
                fail(
                    "key",
                    format!(
                        "{} is readable by others (mode {mode:o}): chmod 600 it",
                        e.key_file.display()
                    ),
                );
            }
        }
        Err(err) => {
            healthy = false;
            fail("key", format!("{}: {err}", e.key_file.display()));
        }
    }
    if pending_key(&e.key_file).exists() {
        healthy = false;
        note(
            "rotation",
            "a key rotation was interrupted: run `provision rotate-credential` to finish it",
        );
    }
    let client = AdapterClient::new(&e.config.adapter)?;
    match client.device_status().await {
        Ok(s) => {
            ok(
                "adapter view",
                format!(
                    "enrolled{}, {} credential, configuration version {}, last heartbeat {}",
                    s.enrolled_at
                        .map(|t| format!(" since {}", kiosk::clock::local_display(t)))
                        .unwrap_or_default(),
                    match s.credential {
                        CredentialKind::KeyPair => "key-pair",
                        CredentialKind::Secret => "secret",
                    },
                    s.config_version,
                    display_time(s.last_heartbeat)
                ),
            );
            if s.device.id != e.device_id {
                healthy = false;
                fail(
                    "adapter view",
                    format!(
                        "the adapter knows this key as device {}, the configuration says {}",
                        s.device.id, e.device_id
                    ),
                );
            }
        }
        Err(Failure::Refused { error }) if error.code == ErrorCode::DeviceRevoked => {
            fail(
                "adapter view",
                "this device is REVOKED: it cannot take payments; enroll it again with a new code",
            );
            return Ok(ExitCode::from(exit::DEVICE_REFUSED));
        }
        Err(f) if kiosk::adapter::is_certificate_mismatch(&f) => {
            fail(
                "adapter view",
                "the adapter presents a certificate other than the pinned one: check with the administrator before anything else",
            );
            return Ok(ExitCode::from(exit::CERTIFICATE));
        }
        Err(f) => return Err(f.into()),
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECKS_FAILED)
    })
}

/// Which key the adapter accepts, asked with a signed `GET /v1/device`.
async fn accepts(client: &AdapterClient) -> Result<bool, ProvisionError> {
    match client.device_status().await {
        Ok(_) => Ok(true),
        Err(Failure::Refused { error })
            if matches!(
                error.code,
                ErrorCode::SignatureInvalid | ErrorCode::InvalidCredential
            ) =>
        {
            Ok(false)
        }
        Err(f) => Err(f.into()),
    }
}

/// Runs `provision rotate-credential`.
pub async fn rotate(args: ConfigArg) -> Result<ExitCode, ProvisionError> {
    let e = load(&args.config)?;
    let new_file = pending_key(&e.key_file);
    let client = AdapterClient::new(&e.config.adapter)?;
    if new_file.exists() {
        // An earlier rotation stopped between writing the new key and replacing the old one.
        let new_key = DeviceKey::load(&new_file)?;
        let with_new = client.clone().signed_by(e.device_id, new_key);
        if accepts(&with_new).await? {
            promote(&new_file, &e.key_file)?;
            ok(
                "rotation",
                "the interrupted rotation had reached the adapter: finished, the new key is in place",
            );
            return Ok(ExitCode::SUCCESS);
        }
        if !accepts(&client).await? {
            return Err(ProvisionError::NoKeyAccepted {
                old: e.key_file,
                new: new_file,
            });
        }
        remove(&new_file)?;
        note(
            "rotation",
            "the interrupted rotation had not reached the adapter: rolled back, rotating again",
        );
    }
    let new_key = DeviceKey::generate()?;
    new_key.save(&new_file)?;
    let public_key = new_key.public_key();
    match client
        .rotate_credential(&RotateCredentialRequest { public_key })
        .await
    {
        Ok(changed) => {
            promote(&new_file, &e.key_file)?;
            ok(
                "rotated",
                format!(
                    "device {}: new key in {} since {}; the old key is refused from now on",
                    changed.device_id,
                    e.key_file.display(),
                    kiosk::clock::local_display(changed.at)
                ),
            );
        }
        Err(f @ Failure::Refused { .. }) => {
            // The adapter kept the old key: so does the device.
            remove(&new_file)?;
            return Err(f.into());
        }
        Err(f) => {
            // It may or may not have arrived: keep both, the next run finds out.
            note(
                "rotation",
                format!(
                    "no answer; {} is kept: run `provision rotate-credential` again when the adapter is reachable",
                    new_file.display()
                ),
            );
            return Err(f.into());
        }
    }
    let check = AdapterClient::new(&e.config.adapter)?;
    match check.device_status().await {
        Ok(_) => ok("check", "the adapter accepts the new key"),
        Err(f) => {
            fail("check", ProvisionError::from(f));
            return Ok(ExitCode::from(exit::CHECKS_FAILED));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(path: &Path) -> Result<(), ProvisionError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ProvisionError::File {
            action: "removing",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Offline payments not yet forwarded, and other flows still owing the adapter something.
fn queued(config: &Config) -> Result<(usize, usize), ProvisionError> {
    if !config.journal_path.exists() {
        return Ok((0, 0));
    }
    let journal = kiosk::journal::Journal::open(&config.journal_path)?;
    let stored = kiosk::record::read_all(&journal.entries()?)?;
    let policy = kiosk::core::policy_of(
        config,
        config.devices.terminal != DeviceEndpoint::None,
        config.devices.drawer && config.devices.printer != DeviceEndpoint::None,
    );
    let ledger = kiosk::ledger::Ledger::load(&stored, &policy);
    let offline = ledger.offline_queue().len();
    Ok((offline, ledger.active_count().saturating_sub(offline)))
}

fn confirm(e: &Enrolled) -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    println!(
        "Unenroll device {} \"{}\" ({})? It will stop taking payments. [y/N]",
        e.device_id, e.config.name, e.config.location
    );
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(
        line.trim().to_lowercase().as_str(),
        "y" | "yes" | "s" | "si" | "sì"
    )
}

/// Runs `provision unenroll`.
pub async fn unenroll(args: UnenrollArgs) -> Result<ExitCode, ProvisionError> {
    let path = &args.config.config;
    let e = load(path)?;
    let (offline, pending) = queued(&e.config)?;
    if offline + pending > 0 {
        if !args.force {
            return Err(ProvisionError::QueueNotEmpty { offline, pending });
        }
        note(
            "journal",
            format!(
                "{offline} offline payment(s) and {pending} other payment(s) still owed to the adapter: unenrolling anyway (--force)"
            ),
        );
    } else {
        ok("journal", "nothing queued for the adapter");
    }
    if !args.yes && !confirm(&e) {
        return Err(ProvisionError::NotConfirmed);
    }
    let client = AdapterClient::new(&e.config.adapter)?;
    match client.unenroll().await {
        Ok(changed) => ok(
            "adapter",
            format!(
                "device {} unenrolled at {}; its key is refused from now on",
                changed.device_id,
                kiosk::clock::local_display(changed.at)
            ),
        ),
        Err(Failure::Refused { error })
            if matches!(
                error.code,
                ErrorCode::DeviceRevoked | ErrorCode::SignatureInvalid
            ) =>
        {
            note(
                "adapter",
                format!(
                    "the adapter already refuses this device ({}): removing it locally",
                    error.code.as_str()
                ),
            );
        }
        Err(f @ Failure::Unreachable { .. }) if args.force => {
            note(
                "adapter",
                format!(
                    "unreachable ({}): removing the device locally; the administrator must revoke device {} on the adapter",
                    ProvisionError::from(f),
                    e.device_id
                ),
            );
        }
        Err(f) => return Err(f.into()),
    }
    remove(&e.key_file)?;
    remove(&pending_key(&e.key_file))?;
    ok("key", format!("{} deleted", e.key_file.display()));
    let table = crate::station::read(path)?
        .ok_or_else(|| ProvisionError::NotEnrolled { path: path.clone() })?;
    let text = crate::station::without_credential(table)?;
    kiosk::fsutil::write_atomic(path, text.as_bytes(), 0o644)?;
    ok(
        "configuration",
        format!(
            "{}: credential removed; the agent will not start until the device is enrolled again",
            path.display()
        ),
    );
    Ok(ExitCode::SUCCESS)
}
