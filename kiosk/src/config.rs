//! The agent's configuration: one TOML file, validated whole at start-up.
//!
//! A station in a town hall is configured once by a technician and then runs unattended for
//! months, so every mistake must be caught before the agent takes its first payment, with a
//! message naming the field and saying what is expected. Parsing goes through raw `serde`
//! structs that refuse unknown keys (a misspelt key is an error, not a silently ignored
//! setting), then [`Config::from_toml`] checks each value and builds the typed [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_api::fleet::FeeDisplay;
use channel_api::{DeviceKind, Tender};
use drivers::escpos::PaperWidth;
use pagopa::{Amount, CheckMode, CreditorFiscalCode};
use serde::Deserialize;

/// Why a configuration cannot be used. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or a key that does not exist, or a value of the wrong type.
    #[error("configuration syntax: {0}")]
    Syntax(String),
    /// A value that is out of range or inconsistent with the others.
    #[error("configuration field `{field}`: {reason}")]
    Invalid {
        /// The dotted path of the field.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl ConfigError {
    /// Stable machine-readable code: `CONFIG_READ`, `CONFIG_SYNTAX`, `CONFIG_INVALID`.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "CONFIG_READ",
            ConfigError::Syntax(_) => "CONFIG_SYNTAX",
            ConfigError::Invalid { .. } => "CONFIG_INVALID",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Whether the station is a self-service kiosk or a staffed counter.
pub type Mode = DeviceKind;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kiosk or counter.
    pub mode: Mode,
    /// The station's name (logs, receipts, status page).
    pub name: String,
    /// Where the local web API listens; loopback only unless the UI runs elsewhere.
    pub listen: SocketAddr,
    /// The journal (SQLite file).
    pub journal_path: PathBuf,
    /// Languages offered on screen, the first being the default.
    pub languages: Vec<String>,
    /// How the fee is shown on the confirmation screen.
    pub fee_display: FeeDisplay,
    /// Check digits of scanned notices: strict in production, lenient against pagoPA's test
    /// environment.
    pub check_mode: CheckMode,
    /// The channel adapter.
    pub adapter: AdapterConfig,
    /// The comune the station belongs to.
    pub comune: Comune,
    /// Where the station is (printed on receipts).
    pub location: String,
    /// What identifies the PSP on receipts.
    pub receipt: ReceiptConfig,
    /// Screen and device timeouts.
    pub timeouts: Timeouts,
    /// Taking cash while the adapter is unreachable.
    pub offline: OfflineConfig,
    /// The devices.
    pub devices: Devices,
    /// Staff who may log in (counter mode).
    pub operators: Vec<Operator>,
    /// Demo mode: simulated devices, sample notices, `/sim` routes.
    pub demo: Option<Demo>,
}

/// How to reach the channel adapter.
#[derive(Clone)]
pub struct AdapterConfig {
    /// Base URL, `http://` (loopback only) or `https://`.
    pub url: String,
    /// How the station proves who it is.
    pub credential: DeviceCredential,
    /// Deadline of one request, answer included.
    pub timeout: Duration,
    /// Deadline of the TCP and TLS connection.
    pub connect_timeout: Duration,
    /// The adapter's certificate (or its CA), PEM, pinned at enrollment: when set, it is the
    /// only certificate trusted, the public web roots are not.
    pub ca_file: Option<PathBuf>,
    /// Interval of the heartbeat and of the offline queue's sync.
    pub sync_interval: Duration,
}

/// How a station authenticates to the adapter: exactly one of the two in a configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum DeviceCredential {
    /// A bearer secret issued by `channel-adapter device add` (`adapter.credential`).
    Secret(String),
    /// An enrolled device: its Ed25519 key (`adapter.key_file`, PEM PKCS#8, mode 0600) signs
    /// every request as device `adapter.device_id`.
    Key {
        /// The id the adapter gave the device at enrollment.
        device_id: u64,
        /// The private key file.
        key_file: PathBuf,
    },
    /// No credential: only enrollment (`POST /v1/enroll`) works. Never read from a file;
    /// `provision enroll` builds its client with it.
    None,
}

impl std::fmt::Debug for DeviceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceCredential::Secret(_) => f.write_str("Secret(***)"),
            DeviceCredential::Key {
                device_id,
                key_file,
            } => f
                .debug_struct("Key")
                .field("device_id", device_id)
                .field("key_file", key_file)
                .finish(),
            DeviceCredential::None => f.write_str("None"),
        }
    }
}

impl std::fmt::Debug for AdapterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credential never reaches a log.
        f.debug_struct("AdapterConfig")
            .field("url", &self.url)
            .field("credential", &self.credential)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ca_file", &self.ca_file)
            .field("sync_interval", &self.sync_interval)
            .finish()
    }
}

/// The comune.
#[derive(Debug, Clone)]
pub struct Comune {
    /// Its fiscal code.
    pub fiscal_code: CreditorFiscalCode,
    /// Its name.
    pub name: String,
}

/// PSP identification and free text printed on receipts (pagoPA asks for the PSP's name and
/// fiscal code on the attestation of payment).
#[derive(Debug, Clone)]
pub struct ReceiptConfig {
    /// The PSP's name.
    pub psp_name: String,
    /// The PSP's fiscal code.
    pub psp_fiscal_code: String,
    /// The PSP's ABI code, if it has one.
    pub psp_abi: Option<String>,
    /// Lines printed at the top.
    pub header: Vec<String>,
    /// Lines printed at the bottom.
    pub footer: Vec<String>,
    /// The printer's paper: 32 characters per line (58 mm) or 48 (80 mm).
    pub width: PaperWidth,
}

/// The paper of a printer printing `columns` characters per line, if the drivers render
/// receipts for that width.
pub fn paper_width(columns: u8) -> Option<PaperWidth> {
    [PaperWidth::Mm58, PaperWidth::Mm80]
        .into_iter()
        .find(|w| w.columns() == usize::from(columns))
}

/// Timeouts of the flow.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// How long a screen waits for the citizen or the clerk.
    pub screen: Duration,
    /// How long the final screen (receipt, error) stays before going back to idle.
    pub done: Duration,
    /// Interval between two questions to the terminal about an unknown card result.
    pub last_result_retry: Duration,
    /// Wait for the result of a card payment (PIN entry, host round trip).
    pub card_result: Duration,
}

/// One fee tier: up to `up_to` (inclusive) the fee is `fee`; the last tier has no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeTier {
    /// Upper bound of the amount, `None` for the last tier.
    pub up_to: Option<Amount>,
    /// The fee.
    pub fee: Amount,
}

/// Limits of offline cash.
#[derive(Debug, Clone)]
pub struct OfflineConfig {
    /// Whether this station may take cash offline at all.
    pub enabled: bool,
    /// The largest single payment.
    pub max_payment: Amount,
    /// The largest total of payments not yet accepted by the adapter.
    pub max_outstanding: Amount,
    /// The oldest a queued payment may be for another to be taken.
    pub max_age: Duration,
    /// The cash fee schedule (the adapter's, for this kind of station), used when the adapter
    /// cannot be asked.
    pub cash_fee: Vec<FeeTier>,
}

impl OfflineConfig {
    /// The cash fee for `amount`.
    pub fn fee(&self, amount: Amount) -> Amount {
        self.cash_fee
            .iter()
            .find(|t| t.up_to.is_none_or(|max| amount <= max))
            .map_or(Amount::ZERO, |t| t.fee)
    }
}

/// Where a device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEndpoint {
    /// Not installed.
    None,
    /// A simulator started in-process (demo mode and tests).
    Sim,
    /// A real device: a serial path or `tcp://host:port`.
    Real(String),
}

/// The devices.
#[derive(Debug, Clone)]
pub struct Devices {
    /// The barcode/QR scanner.
    pub scanner: DeviceEndpoint,
    /// The receipt printer (and the cash drawer wired to it).
    pub printer: DeviceEndpoint,
    /// Whether a cash drawer is wired to the printer.
    pub drawer: bool,
    /// The card terminal.
    pub terminal: DeviceEndpoint,
    /// The terminal's 8-digit ID (`00000000` until learnt).
    pub terminal_id: String,
    /// The 8-digit cash-register ID the terminal expects.
    pub cash_register: String,
}

/// A member of staff.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    /// Login name.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Argon2 PHC string of the PIN (`kiosk hash-pin`).
    pub pin_hash: String,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("name", &pagopa::scan::mask(&self.name))
            .finish()
    }
}

/// Demo settings.
#[derive(Debug, Clone, Default)]
pub struct Demo {
    /// Sample notices offered by `GET /api/sim/samples`.
    pub samples: Vec<Sample>,
}

/// A sample notice for the demo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    /// What it is.
    pub label: String,
    /// The scanner payload.
    pub payload: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    mode: String,
    name: String,
    listen: Option<String>,
    journal_path: PathBuf,
    languages: Option<Vec<String>>,
    fee_display: Option<String>,
    check_digits: Option<String>,
    location: Option<String>,
    adapter: RawAdapter,
    comune: RawComune,
    receipt: RawReceipt,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    offline: RawOffline,
    #[serde(default)]
    devices: RawDevices,
    #[serde(default)]
    operators: Vec<RawOperator>,
    demo: Option<RawDemo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdapter {
    url: String,
    credential: Option<String>,
    key_file: Option<PathBuf>,
    device_id: Option<u64>,
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    ca_file: Option<PathBuf>,
    sync_interval_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComune {
    fiscal_code: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceipt {
    psp_name: String,
    psp_fiscal_code: String,
    psp_abi: Option<String>,
    #[serde(default)]
    header: Vec<String>,
    #[serde(default)]
    footer: Vec<String>,
    width: Option<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    screen_secs: Option<u64>,
    done_secs: Option<u64>,
    last_result_retry_ms: Option<u64>,
    card_result_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    enabled: Option<bool>,
    max_payment_cents: Option<u64>,
    max_outstanding_cents: Option<u64>,
    max_age_hours: Option<u64>,
    #[serde(default)]
    cash_fee: Vec<RawTier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    up_to_cents: Option<u64>,
    fee_cents: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevices {
    scanner: Option<String>,
    printer: Option<String>,
    drawer: Option<bool>,
    terminal: Option<String>,
    terminal_id: Option<String>,
    cash_register: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    id: String,
    name: String,
    pin_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemo {
    #[serde(default)]
    samples: Vec<RawSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    label: String,
    payload: String,
}

fn millis(
    field: &'static str,
    v: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let v = v.unwrap_or(default);
    if !range.contains(&v) {
        return Err(invalid(
            field,
            format!("{v} is out of range {}..={}", range.start(), range.end()),
        ));
    }
    Ok(Duration::from_millis(v))
}

fn cents(field: &'static str, v: u64) -> Result<Amount, ConfigError> {
    Amount::from_cents(v).map_err(|e| invalid(field, e.to_string()))
}

fn endpoint(
    field: &'static str,
    v: Option<String>,
    demo: bool,
) -> Result<DeviceEndpoint, ConfigError> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("none") => Ok(DeviceEndpoint::None),
        Some("sim") if demo => Ok(DeviceEndpoint::Sim),
        Some("sim") => Err(invalid(
            field,
            "\"sim\" is allowed only with a [demo] section",
        )),
        Some(s) => drivers::transport::Endpoint::parse(s)
            .map(|_| DeviceEndpoint::Real(s.to_owned()))
            .map_err(|e| invalid(field, e.to_string())),
    }
}

fn eight_digits(
    field: &'static str,
    v: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v)
    } else {
        Err(invalid(field, "expected 8 digits"))
    }
}

/// Check a list of screen languages: at least one, each with its translation file.
pub(crate) fn check_languages(languages: &[String]) -> Result<(), String> {
    if languages.is_empty() {
        return Err("at least one language".into());
    }
    if let Some(l) = languages.iter().find(|l| !crate::ui::has_language(l)) {
        let known: Vec<&str> = crate::ui::languages().collect();
        return Err(format!(
            "unknown language {l:?}: there is no translation file for it (known: {})",
            known.join(", ")
        ));
    }
    if let Some(l) = languages
        .iter()
        .enumerate()
        .find(|(i, l)| languages[..*i].contains(l))
    {
        return Err(format!("{:?} appears twice", l.1));
    }
    Ok(())
}

impl Config {
    /// Read and validate the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text)
    }

    /// Validate a configuration text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let mode = DeviceKind::parse(raw.mode.trim())
            .ok_or_else(|| invalid("mode", "expected \"kiosk\" or \"counter\""))?;
        let name = raw.name.trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(invalid("name", "1 to 64 printable characters"));
        }
        let listen = raw
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8080")
            .parse::<SocketAddr>()
            .map_err(|e| invalid("listen", format!("{e}: expected ip:port")))?;
        // The languages are whatever translation files the UI embeds (adding a language is
        // adding one file): Italian first, then English, then the others.
        let languages = raw.languages.unwrap_or_else(|| {
            let mut all: Vec<String> = crate::ui::languages().map(str::to_owned).collect();
            all.sort_by_key(|l| (l != "it", l != "en", l.clone()));
            all
        });
        check_languages(&languages).map_err(|reason| invalid("languages", reason))?;
        let fee_display = match raw.fee_display.as_deref() {
            None | Some("itemized") => FeeDisplay::Itemized,
            Some("total_first") => FeeDisplay::TotalFirst,
            Some(_) => {
                return Err(invalid(
                    "fee_display",
                    "expected \"itemized\" or \"total_first\"",
                ));
            }
        };
        let check_mode = match raw.check_digits.as_deref() {
            None | Some("strict") => CheckMode::Strict,
            Some("lenient") => CheckMode::Lenient,
            Some(_) => {
                return Err(invalid(
                    "check_digits",
                    "expected \"strict\" or \"lenient\"",
                ));
            }
        };
        let demo = raw.demo.map(|d| Demo {
            samples: d
                .samples
                .into_iter()
                .map(|s| Sample {
                    label: s.label,
                    payload: s.payload,
                })
                .collect(),
        });

        let url = raw.adapter.url.trim().trim_end_matches('/').to_owned();
        let loopback_http = url.strip_prefix("http://").is_some_and(|rest| {
            rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
        });
        if !(url.starts_with("https://") || loopback_http) {
            return Err(invalid(
                "adapter.url",
                "expected https://…, or http:// on loopback only (the credential travels in it)",
            ));
        }
        let credential = match (
            raw.adapter.credential,
            raw.adapter.key_file,
            raw.adapter.device_id,
        ) {
            (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
                return Err(invalid(
                    "adapter.credential",
                    "set either adapter.credential (a device registered by hand) or adapter.key_file and adapter.device_id (an enrolled device), not both",
                ));
            }
            (Some(credential), None, None) => {
                let credential = credential.trim().to_owned();
                if credential.is_empty()
                    || credential.len() > 256
                    || !credential.is_ascii()
                    || credential.contains(char::is_whitespace)
                {
                    return Err(invalid(
                        "adapter.credential",
                        "expected the credential printed by `channel-adapter device add`",
                    ));
                }
                DeviceCredential::Secret(credential)
            }
            (None, Some(key_file), Some(device_id)) => {
                if device_id == 0 {
                    return Err(invalid(
                        "adapter.device_id",
                        "expected the device id given at enrollment (1 or more)",
                    ));
                }
                if key_file.as_os_str().is_empty() {
                    return Err(invalid(
                        "adapter.key_file",
                        "expected the device key's path",
                    ));
                }
                DeviceCredential::Key {
                    device_id,
                    key_file,
                }
            }
            (None, Some(_), None) => {
                return Err(invalid(
                    "adapter.device_id",
                    "an enrolled device needs the id given at enrollment with adapter.key_file",
                ));
            }
            (None, None, Some(_)) => {
                return Err(invalid(
                    "adapter.key_file",
                    "an enrolled device needs its key file with adapter.device_id",
                ));
            }
            (None, None, None) => {
                return Err(invalid(
                    "adapter.credential",
                    "expected adapter.credential (from `channel-adapter device add`), or adapter.key_file and adapter.device_id (from `provision enroll`)",
                ));
            }
        };
        let adapter = AdapterConfig {
            url,
            credential,
            timeout: millis(
                "adapter.timeout_ms",
                raw.adapter.timeout_ms,
                15_000,
                100..=120_000,
            )?,
            connect_timeout: millis(
                "adapter.connect_timeout_ms",
                raw.adapter.connect_timeout_ms,
                3_000,
                50..=60_000,
            )?,
            ca_file: raw.adapter.ca_file,
            sync_interval: millis(
                "adapter.sync_interval_ms",
                raw.adapter.sync_interval_ms,
                30_000,
                100..=3_600_000,
            )?,
        };

        let comune = Comune {
            fiscal_code: CreditorFiscalCode::parse(raw.comune.fiscal_code.trim(), check_mode)
                .map_err(|e| invalid("comune.fiscal_code", e.to_string()))?,
            name: raw.comune.name.trim().to_owned(),
        };
        if comune.name.is_empty() {
            return Err(invalid(
                "comune.name",
                "the comune's name is printed on receipts",
            ));
        }
        let receipt = ReceiptConfig {
            psp_name: raw.receipt.psp_name.trim().to_owned(),
            psp_fiscal_code: raw.receipt.psp_fiscal_code.trim().to_owned(),
            psp_abi: raw.receipt.psp_abi.map(|s| s.trim().to_owned()),
            header: raw.receipt.header,
            footer: raw.receipt.footer,
            width: match raw.receipt.width {
                None => PaperWidth::default(),
                Some(c) => paper_width(c).ok_or_else(|| {
                    invalid(
                        "receipt.width",
                        format!("{c} characters per line: expected 32 (58 mm paper) or 48 (80 mm)"),
                    )
                })?,
            },
        };
        if receipt.psp_name.is_empty() {
            return Err(invalid(
                "receipt.psp_name",
                "pagoPA requires the PSP's name on the receipt",
            ));
        }
        if receipt.psp_fiscal_code.len() != 11
            || !receipt.psp_fiscal_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid("receipt.psp_fiscal_code", "expected 11 digits"));
        }
        if receipt
            .psp_abi
            .as_deref()
            .is_some_and(|a| a.len() != 5 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("receipt.psp_abi", "expected 5 digits"));
        }

        let t = raw.timeouts;
        let timeouts = Timeouts {
            screen: millis(
                "timeouts.screen_secs",
                t.screen_secs.map(|s| s.saturating_mul(1000)),
                90_000,
                5_000..=3_600_000,
            )?,
            done: millis(
                "timeouts.done_secs",
                t.done_secs.map(|s| s.saturating_mul(1000)),
                20_000,
                1_000..=3_600_000,
            )?,
            last_result_retry: millis(
                "timeouts.last_result_retry_ms",
                t.last_result_retry_ms,
                5_000,
                10..=600_000,
            )?,
            card_result: millis(
                "timeouts.card_result_secs",
                t.card_result_secs.map(|s| s.saturating_mul(1000)),
                120_000,
                1_000..=600_000,
            )?,
        };

        let o = raw.offline;
        let mut cash_fee = Vec::with_capacity(o.cash_fee.len());
        for tier in &o.cash_fee {
            cash_fee.push(FeeTier {
                up_to: tier
                    .up_to_cents
                    .map(|c| cents("offline.cash_fee.up_to_cents", c))
                    .transpose()?,
                fee: cents("offline.cash_fee.fee_cents", tier.fee_cents)?,
            });
        }
        let ascending = cash_fee.windows(2).all(|w| match (w[0].up_to, w[1].up_to) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, _) => false,
        });
        if !ascending {
            return Err(invalid(
                "offline.cash_fee",
                "tiers must have ascending up_to_cents, only the last without one",
            ));
        }
        let enabled = o.enabled.unwrap_or(mode == DeviceKind::Counter);
        if enabled && cash_fee.last().is_none_or(|t| t.up_to.is_some()) {
            return Err(invalid(
                "offline.cash_fee",
                "offline cash needs the cash fee schedule, ending with a tier without up_to_cents",
            ));
        }
        let offline = OfflineConfig {
            enabled,
            max_payment: cents(
                "offline.max_payment_cents",
                o.max_payment_cents.unwrap_or(50_000),
            )?,
            max_outstanding: cents(
                "offline.max_outstanding_cents",
                o.max_outstanding_cents.unwrap_or(200_000),
            )?,
            max_age: Duration::from_secs(o.max_age_hours.unwrap_or(72).saturating_mul(3600)),
            cash_fee,
        };
        if offline.max_payment > offline.max_outstanding {
            return Err(invalid(
                "offline.max_payment_cents",
                "cannot exceed offline.max_outstanding_cents",
            ));
        }

        let is_demo = demo.is_some();
        let d = raw.devices;
        let devices = Devices {
            scanner: endpoint("devices.scanner", d.scanner, is_demo)?,
            printer: endpoint("devices.printer", d.printer, is_demo)?,
            drawer: d.drawer.unwrap_or(mode == DeviceKind::Counter),
            terminal: endpoint("devices.terminal", d.terminal, is_demo)?,
            terminal_id: eight_digits("devices.terminal_id", d.terminal_id, "00000000")?,
            cash_register: eight_digits("devices.cash_register", d.cash_register, "00000001")?,
        };
        if devices.drawer && devices.printer == DeviceEndpoint::None {
            return Err(invalid(
                "devices.drawer",
                "the cash drawer is opened through the printer: configure devices.printer",
            ));
        }
        if mode == DeviceKind::Kiosk && devices.terminal == DeviceEndpoint::None {
            return Err(invalid(
                "devices.terminal",
                "a kiosk takes cards only: configure its card terminal",
            ));
        }

        let mut operators: Vec<Operator> = Vec::with_capacity(raw.operators.len());
        for o in raw.operators {
            let id = o.id.trim().to_owned();
            if id.is_empty()
                || id.len() > 32
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
            {
                return Err(invalid(
                    "operators.id",
                    "1 to 32 characters among A-Z a-z 0-9 . _ -",
                ));
            }
            if operators.iter().any(|x| x.id == id) {
                return Err(invalid("operators.id", format!("{id:?} appears twice")));
            }
            if !o.pin_hash.starts_with("$argon2") {
                return Err(invalid(
                    "operators.pin_hash",
                    format!(
                        "operator {id:?}: expected an Argon2 hash from `kiosk hash-pin`, never the PIN itself"
                    ),
                ));
            }
            operators.push(Operator {
                id,
                name: o.name.trim().to_owned(),
                pin_hash: o.pin_hash,
            });
        }
        if mode == DeviceKind::Counter && operators.is_empty() {
            return Err(invalid(
                "operators",
                "a counter needs at least one operator",
            ));
        }

        Ok(Config {
            mode,
            name,
            listen,
            journal_path: raw.journal_path,
            languages,
            fee_display,
            check_mode,
            adapter,
            comune,
            location: raw.location.unwrap_or_default().trim().to_owned(),
            receipt,
            timeouts,
            offline,
            devices,
            operators,
            demo,
        })
    }

    /// Whether this station may take `tender` at all.
    pub fn accepts(&self, tender: Tender) -> bool {
        match tender {
            Tender::Card => self.devices.terminal != DeviceEndpoint::None,
            Tender::Cash => self.mode == DeviceKind::Counter,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid counter configuration; tests replace lines to break it.
    pub(crate) const COUNTER: &str = r#"
mode = "counter"
name = "roma-anagrafe-1"
journal_path = "/tmp/journal.db"
check_digits = "lenient"
location = "Via del Tritone 142, Roma"

[adapter]
url = "http://127.0.0.1:9"
credential = "ca1.1.00"

[comune]
fiscal_code = "02438750586"
name = "Roma Capitale"

[receipt]
psp_name = "Roma Capitale (intermediario)"
psp_fiscal_code = "02438750586"

[offline]
cash_fee = [{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]

[devices]
printer = "tcp://127.0.0.1:9100"
terminal = "tcp://127.0.0.1:10000"

[[operators]]
id = "mrossi"
name = "Mario Rossi"
pin_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
"#;

    fn field_of(text: &str) -> &'static str {
        match Config::from_toml(text) {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_counter_configuration_gets_its_defaults() {
        let c = Config::from_toml(COUNTER).expect("valid");
        assert_eq!(c.mode, DeviceKind::Counter);
        assert!(c.offline.enabled, "counters take cash offline by default");
        assert!(c.devices.drawer);
        assert_eq!(c.languages, ["it", "en", "de"]);
        assert_eq!(
            c.offline.fee(Amount::from_cents(5000).expect("ok")).cents(),
            100
        );
        assert_eq!(
            c.offline.fee(Amount::from_cents(5001).expect("ok")).cents(),
            150
        );
        assert!(c.accepts(Tender::Cash) && c.accepts(Tender::Card));
        assert!(
            !format!("{:?}", c.adapter).contains("ca1.1.00"),
            "credential in Debug"
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        assert_eq!(
            field_of(&COUNTER.replace("\"counter\"", "\"desk\"")),
            "mode"
        );
        assert_eq!(
            field_of(&COUNTER.replace("http://127.0.0.1:9", "http://adapter.example")),
            "adapter.url"
        );
        assert_eq!(
            field_of(&COUNTER.replace("02438750586\"\nname", "123\"\nname")),
            "comune.fiscal_code"
        );
        assert_eq!(
            field_of(&COUNTER.replace(
                "[{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]",
                "[{ up_to_cents = 5000, fee_cents = 100 }]"
            )),
            "offline.cash_fee"
        );
        assert_eq!(
            field_of(&COUNTER.replace("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "1234")),
            "operators.pin_hash"
        );
        assert_eq!(
            field_of(&COUNTER.replace("tcp://127.0.0.1:10000", "sim")),
            "devices.terminal"
        );
        let kiosk = COUNTER
            .replace("\"counter\"", "\"kiosk\"")
            .replace("terminal = \"tcp://127.0.0.1:10000\"", "");
        assert_eq!(field_of(&kiosk), "devices.terminal");
    }

    #[test]
    fn unknown_keys_are_syntax_errors() {
        let text = COUNTER.replace("[adapter]", "[adapter]\ntimeout = 3");
        let e = Config::from_toml(&text).expect_err("unknown key");
        assert_eq!(e.code(), "CONFIG_SYNTAX");
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn an_enrolled_device_has_a_key_file_and_an_id_never_both_credentials() {
        let enrolled = COUNTER.replace(
            "credential = \"ca1.1.00\"",
            "key_file = \"/etc/kiosk/device.key\"\ndevice_id = 7",
        );
        let c = Config::from_toml(&enrolled).expect("valid");
        assert_eq!(
            c.adapter.credential,
            DeviceCredential::Key {
                device_id: 7,
                key_file: "/etc/kiosk/device.key".into()
            }
        );
        let both = COUNTER.replace(
            "credential = \"ca1.1.00\"",
            "credential = \"ca1.1.00\"\nkey_file = \"/k\"\ndevice_id = 7",
        );
        assert_eq!(field_of(&both), "adapter.credential");
        let neither = COUNTER.replace("credential = \"ca1.1.00\"", "");
        assert_eq!(field_of(&neither), "adapter.credential");
        let no_id = COUNTER.replace("credential = \"ca1.1.00\"", "key_file = \"/k\"");
        assert_eq!(field_of(&no_id), "adapter.device_id");
        let no_key = COUNTER.replace("credential = \"ca1.1.00\"", "device_id = 7");
        assert_eq!(field_of(&no_key), "adapter.key_file");
        let zero = COUNTER.replace(
            "credential = \"ca1.1.00\"",
            "key_file = \"/k\"\ndevice_id = 0",
        );
        assert_eq!(field_of(&zero), "adapter.device_id");
    }

    #[test]
    fn receipt_width_and_fee_display_are_checked() {
        let c = Config::from_toml(COUNTER).expect("valid");
        assert_eq!(c.receipt.width, PaperWidth::Mm80);
        assert_eq!(c.fee_display, FeeDisplay::Itemized);
        let narrow = COUNTER
            .replace(
                "psp_fiscal_code = \"02438750586\"",
                "psp_fiscal_code = \"02438750586\"\nwidth = 32",
            )
            .replace(
                "check_digits",
                "fee_display = \"total_first\"\ncheck_digits",
            );
        let c = Config::from_toml(&narrow).expect("valid");
        assert_eq!(c.receipt.width, PaperWidth::Mm58);
        assert_eq!(c.fee_display, FeeDisplay::TotalFirst);
        assert_eq!(
            field_of(&COUNTER.replace(
                "psp_fiscal_code = \"02438750586\"",
                "psp_fiscal_code = \"02438750586\"\nwidth = 40"
            )),
            "receipt.width"
        );
        assert_eq!(
            field_of(&COUNTER.replace("check_digits", "fee_display = \"big\"\ncheck_digits")),
            "fee_display"
        );
    }
}
