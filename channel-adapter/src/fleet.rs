//! The fleet, as administrators see it: managed settings (validated, published per comune or
//! per device, overlaid into a device's effective configuration) and a status per device
//! derived from its last heartbeat, so a broken printer in a small comune shows up before the
//! citizens complain.

use std::time::Duration;

use channel_api::Timestamp;
use channel_api::fleet::{DeviceConfig, DeviceSettings, PaperLevel};
use pagopa::CreditorFiscalCode;
use serde::{Deserialize, Serialize};

use crate::store::fleet::{ConfigScope, PublishedConfig};
use crate::store::{DeviceRecord, Store, StoreError};

/// The languages the kiosk ships.
pub const LANGUAGES: [&str; 3] = ["it", "en", "de"];

/// Why settings are refused. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The document is not valid settings JSON/TOML (unknown field, wrong type).
    #[error("settings: {0}")]
    Syntax(String),
    /// A field is out of range.
    #[error("{field}: {problem}")]
    Field {
        /// The field (`printer_width`, `offline.max_payment_cents`…).
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl SettingsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::Syntax(_) => "SETTINGS_SYNTAX",
            SettingsError::Field { .. } => "SETTINGS_INVALID",
        }
    }
}

fn field(field: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Field {
        field,
        problem: problem.into(),
    }
}

/// Check settings a device can apply: known languages, a printable width, sane timeouts,
/// coherent offline limits.
pub fn validate(s: &DeviceSettings) -> Result<(), SettingsError> {
    if let Some(langs) = &s.languages {
        if langs.is_empty() {
            return Err(field("languages", "at least one language"));
        }
        for (i, l) in langs.iter().enumerate() {
            if !LANGUAGES.contains(&l.as_str()) {
                return Err(field(
                    "languages",
                    format!("{l:?} is not one of {}", LANGUAGES.join(", ")),
                ));
            }
            if langs[..i].contains(l) {
                return Err(field("languages", format!("{l:?} listed twice")));
            }
        }
    }
    if let Some(w) = s.printer_width
        && !channel_api::fleet::PRINTER_WIDTHS.contains(&w)
    {
        return Err(field("printer_width", format!("32 or 48, found {w}")));
    }
    if let Some(t) = s.screen_timeout_s
        && !(10..=600).contains(&t)
    {
        return Err(field("screen_timeout_s", format!("10 to 600, found {t}")));
    }
    if let Some(t) = s.done_timeout_s
        && !(3..=300).contains(&t)
    {
        return Err(field("done_timeout_s", format!("3 to 300, found {t}")));
    }
    if let Some(o) = &s.offline {
        if o.enabled && o.max_payment_cents.cents() == 0 {
            return Err(field(
                "offline.max_payment_cents",
                "must be more than 0 when offline cash is enabled",
            ));
        }
        if o.max_payment_cents > o.max_outstanding_cents {
            return Err(field(
                "offline.max_outstanding_cents",
                "must be at least offline.max_payment_cents",
            ));
        }
        if !(60..=7 * 24 * 3600).contains(&o.max_age_s) {
            return Err(field(
                "offline.max_age_s",
                format!("60 to 604800 (a week), found {}", o.max_age_s),
            ));
        }
    }
    Ok(())
}

/// Read settings from JSON or TOML text (`toml`: the file ended in `.toml`), then validate.
pub fn parse_settings(text: &str, toml: bool) -> Result<DeviceSettings, SettingsError> {
    let s: DeviceSettings = if toml {
        toml::from_str(text).map_err(|e| SettingsError::Syntax(e.message().to_owned()))?
    } else {
        serde_json::from_str(text).map_err(|e| SettingsError::Syntax(e.to_string()))?
    };
    validate(&s)?;
    Ok(s)
}

/// `device` overlaid on `comune`: every field the device's settings set wins.
pub fn overlay(comune: DeviceSettings, device: DeviceSettings) -> DeviceSettings {
    DeviceSettings {
        fee_display: device.fee_display.or(comune.fee_display),
        languages: device.languages.or(comune.languages),
        offline: device.offline.or(comune.offline),
        printer_width: device.printer_width.or(comune.printer_width),
        screen_timeout_s: device.screen_timeout_s.or(comune.screen_timeout_s),
        done_timeout_s: device.done_timeout_s.or(comune.done_timeout_s),
    }
}

fn settings_of(p: Option<&PublishedConfig>) -> Result<DeviceSettings, StoreError> {
    p.map_or(Ok(DeviceSettings::default()), |p| {
        serde_json::from_str(&p.settings_json).map_err(|_| StoreError::Corrupt {
            what: "device_configs.settings_json",
            value: p.settings_json.clone(),
        })
    })
}

/// The effective configuration of `device`: its comune's settings overlaid by its own, at
/// the highest version of the two (versions come from one counter, so it only grows).
pub fn effective_config(store: &Store, device: &DeviceRecord) -> Result<DeviceConfig, StoreError> {
    let (of_comune, of_device) = store.configs_for(&device.comune, device.id)?;
    let version = of_comune
        .as_ref()
        .map_or(0, |c| c.version)
        .max(of_device.as_ref().map_or(0, |d| d.version));
    Ok(DeviceConfig {
        version,
        settings: overlay(
            settings_of(of_comune.as_ref())?,
            settings_of(of_device.as_ref())?,
        ),
    })
}

/// Validate and publish `settings` for `scope`; returns the new version.
pub fn publish(
    store: &Store,
    scope: ConfigScope,
    settings: &DeviceSettings,
    by: &str,
    now: Timestamp,
) -> Result<u64, PublishError> {
    validate(settings)?;
    let json = serde_json::to_string(settings)
        .map_err(|e| PublishError::Settings(SettingsError::Syntax(e.to_string())))?;
    Ok(store.publish_config(scope, &json, by, now)?)
}

/// Why a configuration could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The store failed, or the device does not exist.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PublishError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::Settings(e) => e.code(),
            PublishError::Store(e) => e.code(),
        }
    }
}

/// A device's status, for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetStatus {
    /// Working.
    Ok,
    /// Working, but someone should look soon (paper low, queue growing, config not applied).
    Warning,
    /// Not able to serve citizens fully (printer offline or out of paper, cover open,
    /// terminal unreachable, scanner missing).
    Error,
    /// No heartbeat for longer than `fleet.silent_after`.
    Silent,
    /// Revoked: refused on every request.
    Revoked,
}

impl FleetStatus {
    /// Every status, in the order of the metrics.
    pub const ALL: [FleetStatus; 5] = [
        FleetStatus::Ok,
        FleetStatus::Warning,
        FleetStatus::Error,
        FleetStatus::Silent,
        FleetStatus::Revoked,
    ];

    /// The wire value (pinned by a test).
    pub fn as_str(self) -> &'static str {
        match self {
            FleetStatus::Ok => "ok",
            FleetStatus::Warning => "warning",
            FleetStatus::Error => "error",
            FleetStatus::Silent => "silent",
            FleetStatus::Revoked => "revoked",
        }
    }
}

/// Queue depth above which a device is in warning: it has been offline or cannot forward.
pub const QUEUE_WARNING: u32 = 20;

/// The status of `device` at `now` and the reasons for it (stable snake_case words the page
/// translates: `paper_out`, `printer_offline`…).
pub fn status(
    device: &DeviceRecord,
    now: Timestamp,
    silent_after: Duration,
    current_config: u64,
) -> (FleetStatus, Vec<&'static str>) {
    if device.revoked_at.is_some() {
        return (FleetStatus::Revoked, vec!["revoked"]);
    }
    let last = device.last_heartbeat_at.or(device.last_seen_at);
    let silent_ms = i64::try_from(silent_after.as_millis()).unwrap_or(i64::MAX);
    match last {
        None => return (FleetStatus::Silent, vec!["never_seen"]),
        Some(t) if now.unix_millis().saturating_sub(t.unix_millis()) > silent_ms => {
            return (FleetStatus::Silent, vec!["no_heartbeat"]);
        }
        Some(_) => {}
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let health = device.health.clone().unwrap_or_default();
    if let Some(p) = health.printer {
        if !p.online {
            errors.push("printer_offline");
        } else {
            match p.paper {
                PaperLevel::Out => errors.push("paper_out"),
                PaperLevel::Low => warnings.push("paper_low"),
                PaperLevel::Ok => {}
            }
            if p.cover_open {
                errors.push("cover_open");
            }
        }
    }
    if health.terminal_reachable == Some(false) {
        errors.push("terminal_unreachable");
    }
    if health.scanner_present == Some(false) {
        errors.push("scanner_missing");
    }
    if health.queue_depth > QUEUE_WARNING {
        warnings.push("queue_growing");
    }
    if current_config > 0 && device.applied_config_version.unwrap_or(0) < current_config {
        warnings.push("config_not_applied");
    }
    if !errors.is_empty() {
        errors.extend(warnings);
        (FleetStatus::Error, errors)
    } else if !warnings.is_empty() {
        (FleetStatus::Warning, warnings)
    } else {
        (FleetStatus::Ok, Vec::new())
    }
}

/// The current configuration version of `device` (without reading the settings).
pub fn config_version(store: &Store, device: &DeviceRecord) -> Result<u64, StoreError> {
    let (c, d) = store.configs_for(&device.comune, device.id)?;
    Ok(c.map_or(0, |c| c.version).max(d.map_or(0, |d| d.version)))
}

/// How many devices are in each status, for the `channel_adapter_devices` gauge.
pub fn status_counts(
    store: &Store,
    now: Timestamp,
    silent_after: Duration,
) -> Result<[(FleetStatus, u64); 5], StoreError> {
    let mut counts = FleetStatus::ALL.map(|s| (s, 0u64));
    for d in store.list_devices()? {
        let (s, _) = status(&d, now, silent_after, config_version(store, &d)?);
        if let Some(c) = counts.iter_mut().find(|(k, _)| *k == s) {
            c.1 += 1;
        }
    }
    Ok(counts)
}

/// The Prometheus text of the device gauges.
pub fn render_gauges(counts: &[(FleetStatus, u64)]) -> String {
    let mut out = String::from(
        "# HELP channel_adapter_devices Registered devices by fleet status.\n\
         # TYPE channel_adapter_devices gauge\n",
    );
    for (s, n) in counts {
        out.push_str(&format!(
            "channel_adapter_devices{{status=\"{}\"}} {n}\n",
            s.as_str()
        ));
    }
    out
}

/// The name of a comune of the Città metropolitana di Roma Capitale, from the list embedded in
/// nodo-sim (the 121 comuni the fleet serves); `None` for any other fiscal code.
pub fn comune_name(cf: &CreditorFiscalCode) -> Option<String> {
    static NAMES: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            nodo_sim::demo::comuni()
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.fiscal_code.as_str().to_owned(), c.name))
                .collect()
        })
        .get(cf.as_str())
        .cloned()
}

/// Whether a user scoped to `comuni` (`None`: all) may see `comune`.
pub fn in_scope(comuni: Option<&[CreditorFiscalCode]>, comune: &CreditorFiscalCode) -> bool {
    comuni.is_none_or(|cs| cs.contains(comune))
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::fleet::{DeviceHealth, OfflineLimits, PrinterHealth};
    use channel_api::{DeviceKind, fleet::CredentialKind};
    use pagopa::{Amount, CheckMode};

    fn device() -> DeviceRecord {
        DeviceRecord {
            id: 1,
            name: "k".into(),
            comune: CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid"),
            kind: DeviceKind::Kiosk,
            credential_salt: [0; 16],
            credential_hash: [0; 32],
            created_at: Timestamp::from_unix_millis(0),
            revoked_at: None,
            last_seen_at: None,
            location: String::new(),
            credential: CredentialKind::KeyPair,
            public_key: None,
            enrolled_at: None,
            hostname: None,
            agent_version: None,
            last_heartbeat_at: Some(Timestamp::from_unix_millis(1_000)),
            health: None,
            applied_config_version: None,
        }
    }

    #[test]
    fn statuses_are_pinned() {
        for (s, v) in FleetStatus::ALL
            .iter()
            .zip(["ok", "warning", "error", "silent", "revoked"])
        {
            assert_eq!(s.as_str(), v);
            assert_eq!(
                serde_json::to_value(s).expect("serializes"),
                serde_json::Value::from(v)
            );
        }
    }

    #[test]
    fn status_from_health() {
        let five = Duration::from_secs(300);
        let now = Timestamp::from_unix_millis(2_000);
        let mut d = device();
        assert_eq!(status(&d, now, five, 0), (FleetStatus::Ok, vec![]));
        assert_eq!(status(&d, now, five, 3).0, FleetStatus::Warning);
        d.health = Some(DeviceHealth {
            printer: Some(PrinterHealth {
                online: true,
                paper: PaperLevel::Out,
                cover_open: false,
            }),
            ..DeviceHealth::default()
        });
        assert_eq!(
            status(&d, now, five, 0),
            (FleetStatus::Error, vec!["paper_out"])
        );
        let later = Timestamp::from_unix_millis(1_000 + 300_001);
        assert_eq!(status(&d, later, five, 0).0, FleetStatus::Silent);
        d.revoked_at = Some(now);
        assert_eq!(status(&d, now, five, 0).0, FleetStatus::Revoked);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |s: DeviceSettings| validate(&s).expect_err("invalid").to_string();
        assert!(
            bad(DeviceSettings {
                printer_width: Some(20),
                ..DeviceSettings::default()
            })
            .starts_with("printer_width:")
        );
        assert!(
            bad(DeviceSettings {
                languages: Some(vec!["fr".into()]),
                ..DeviceSettings::default()
            })
            .starts_with("languages:")
        );
        let cents = |c| Amount::from_cents(c).expect("amount");
        assert!(
            bad(DeviceSettings {
                offline: Some(OfflineLimits {
                    enabled: true,
                    max_payment_cents: cents(10_000),
                    max_outstanding_cents: cents(5_000),
                    max_age_s: 3600,
                }),
                ..DeviceSettings::default()
            })
            .starts_with("offline.max_outstanding_cents:")
        );
        assert!(parse_settings("printer_width = 48\nlanguages = [\"it\", \"de\"]", true).is_ok());
        assert!(
            bad(DeviceSettings {
                printer_width: Some(42),
                ..DeviceSettings::default()
            })
            .starts_with("printer_width:"),
            "only the widths a station can print"
        );
        assert_eq!(
            parse_settings("{\"colour\": 1}", false)
                .expect_err("unknown field")
                .code(),
            "SETTINGS_SYNTAX"
        );
    }

    #[test]
    fn comuni_have_names() {
        let roma = CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid");
        assert_eq!(comune_name(&roma).as_deref(), Some("Roma"));
    }

    #[test]
    fn device_settings_win_over_the_comune() {
        let comune = DeviceSettings {
            printer_width: Some(48),
            languages: Some(vec!["it".into()]),
            ..DeviceSettings::default()
        };
        let device = DeviceSettings {
            printer_width: Some(32),
            ..DeviceSettings::default()
        };
        let o = overlay(comune, device);
        assert_eq!(o.printer_width, Some(32));
        assert_eq!(o.languages, Some(vec!["it".to_owned()]));
    }
}
