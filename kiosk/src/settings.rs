//! Managed settings: what the adapter's administrators set for this station (fee display,
//! languages, offline limits, printer width, screen timeouts), laid over the local
//! configuration and applied while the agent runs.
//!
//! The local file stays the station's baseline and its only source for everything else; the
//! adapter's [`DeviceConfig`] overrides the fields it sets, the others keep the local value
//! (so withdrawing a managed setting restores the local one). The configuration last applied
//! is kept in a file next to the journal, written atomically, so a station that restarts while
//! the adapter is unreachable keeps running with it; each application is also journaled
//! ([`crate::record::Record::SettingsApplied`]) for the audit trail.
//!
//! A new configuration is applied only between payments (see [`crate::sync`]): a citizen is
//! never shown one fee display and asked to pay under another, and a payment's offline limits
//! are those in force when it began.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use channel_api::Timestamp;
use channel_api::fleet::{DeviceConfig, DeviceSettings};

/// Why a managed configuration cannot be applied. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A setting is out of range or does not fit this station.
    #[error("managed setting `{setting}`: {reason}")]
    Invalid {
        /// The setting's name in [`DeviceSettings`].
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl SettingsError {
    /// Stable machine-readable code: `SETTINGS_INVALID`.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::Invalid { .. } => "SETTINGS_INVALID",
        }
    }
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        setting,
        reason: reason.into(),
    }
}

fn seconds(
    setting: &'static str,
    v: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Duration, SettingsError> {
    if range.contains(&v) {
        Ok(Duration::from_secs(u64::from(v)))
    } else {
        Err(invalid(
            setting,
            format!("{v} s is out of range {}..={}", range.start(), range.end()),
        ))
    }
}

/// The effective configuration: `local` with every setting `managed` sets replaced, each
/// checked as the local file's would be.
pub fn overlay(local: &Config, managed: &DeviceSettings) -> Result<Config, SettingsError> {
    let mut c = local.clone();
    if let Some(f) = managed.fee_display {
        c.fee_display = f;
    }
    if let Some(l) = &managed.languages {
        crate::config::check_languages(l).map_err(|reason| invalid("languages", reason))?;
        c.languages = l.clone();
    }
    if let Some(o) = managed.offline {
        if o.max_payment_cents > o.max_outstanding_cents {
            return Err(invalid(
                "offline",
                "max_payment_cents cannot exceed max_outstanding_cents",
            ));
        }
        if o.enabled
            && local
                .offline
                .cash_fee
                .last()
                .is_none_or(|t| t.up_to.is_some())
        {
            return Err(invalid(
                "offline",
                "offline cash needs the cash fee schedule in the station's local configuration",
            ));
        }
        c.offline.enabled = o.enabled;
        c.offline.max_payment = o.max_payment_cents;
        c.offline.max_outstanding = o.max_outstanding_cents;
        c.offline.max_age = Duration::from_secs(u64::from(o.max_age_s));
    }
    if let Some(w) = managed.printer_width {
        c.receipt.width = crate::config::paper_width(w).ok_or_else(|| {
            invalid(
                "printer_width",
                format!("{w} characters per line: this station prints 32 (58 mm) or 48 (80 mm)"),
            )
        })?;
    }
    if let Some(s) = managed.screen_timeout_s {
        c.timeouts.screen = seconds("screen_timeout_s", s, 5..=3600)?;
    }
    if let Some(s) = managed.done_timeout_s {
        c.timeouts.done = seconds("done_timeout_s", s, 1..=3600)?;
    }
    Ok(c)
}

/// Where the applied managed configuration is kept: next to the journal
/// (`journal.db` → `journal.db.managed.json`).
pub fn managed_path(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(".managed.json");
    PathBuf::from(s)
}

/// The managed configuration kept at `path`, if there is a readable one.
pub fn load_managed(path: &Path) -> Option<DeviceConfig> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "managed settings unreadable: local settings apply");
            return None;
        }
    };
    match serde_json::from_slice(&text) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "managed settings unreadable: local settings apply");
            None
        }
    }
}

/// Keep `managed` at `path` (atomically).
pub fn save_managed(path: &Path, managed: &DeviceConfig) -> Result<(), crate::fsutil::WriteError> {
    // A DeviceConfig always serialises; an empty object would only mean "local settings".
    let bytes = serde_json::to_vec_pretty(managed).unwrap_or_default();
    crate::fsutil::write_atomic(path, &bytes, 0o644)
}

/// The managed settings' state, shared by the sync worker (which applies them), the executor
/// (which runs with the effective configuration) and the status page.
#[derive(Debug)]
pub struct Settings {
    local: Arc<Config>,
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Clone)]
struct State {
    applied: DeviceConfig,
    effective: Arc<Config>,
    rejected: Option<(u64, String)>,
    refusal: Option<(Timestamp, String)>,
}

/// What the status page shows of the managed settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettingsView {
    /// The version applied (0: local settings only).
    pub version: u64,
    /// The managed settings applied.
    pub managed: DeviceSettings,
    /// A version the adapter published that this station refused, and why.
    pub rejected: Option<String>,
    /// The adapter's last refusal of the station's credential (`DEVICE_REVOKED`…), and when.
    pub credential_refused: Option<String>,
}

impl Settings {
    /// The settings of a station with this local configuration and journal: the managed
    /// configuration kept from the last run is applied at once, if it is still valid.
    pub fn start(local: Arc<Config>) -> Settings {
        let path = managed_path(&local.journal_path);
        let (applied, effective) = match load_managed(&path) {
            Some(m) => match overlay(&local, &m.settings) {
                Ok(c) => (m, Arc::new(c)),
                Err(e) => {
                    tracing::warn!(error = %e, "kept managed settings no longer valid: local settings apply");
                    (DeviceConfig::default(), Arc::clone(&local))
                }
            },
            None => (DeviceConfig::default(), Arc::clone(&local)),
        };
        Settings {
            local,
            path,
            state: Mutex::new(State {
                applied,
                effective,
                rejected: None,
                refusal: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration in force.
    pub fn effective(&self) -> Arc<Config> {
        Arc::clone(&self.lock().effective)
    }

    /// The version applied.
    pub fn version(&self) -> u64 {
        self.lock().applied.version
    }

    /// Whether the adapter's `version` is worth pulling: not the one applied, nor one already
    /// refused.
    pub fn wants(&self, version: u64) -> bool {
        let s = self.lock();
        version != s.applied.version && s.rejected.as_ref().is_none_or(|(v, _)| *v != version)
    }

    /// Check `managed` against the local configuration: the effective configuration, or the
    /// reason it is refused (remembered, so the same version is not pulled again).
    pub fn prepare(&self, managed: &DeviceConfig) -> Result<Config, SettingsError> {
        let r = overlay(&self.local, &managed.settings);
        if let Err(e) = &r {
            self.lock().rejected = Some((managed.version, e.to_string()));
        }
        r
    }

    /// Keep `managed` on disk for the next start.
    pub fn persist(&self, managed: &DeviceConfig) -> Result<(), crate::fsutil::WriteError> {
        save_managed(&self.path, managed)
    }

    /// Record that `managed` is now in force, as `effective`.
    pub fn adopt(&self, managed: DeviceConfig, effective: Arc<Config>) {
        let mut s = self.lock();
        s.applied = managed;
        s.effective = effective;
        s.rejected = None;
    }

    /// Note the adapter's answer to the station's credential: a refusal code, or `None` when
    /// a request was accepted. Returns whether the code changed.
    pub fn note_credential(&self, refusal: Option<(Timestamp, String)>) -> bool {
        let mut s = self.lock();
        let changed = s.refusal.as_ref().map(|r| &r.1) != refusal.as_ref().map(|r| &r.1);
        if changed {
            s.refusal = refusal;
        }
        changed
    }

    /// The state, for the status page.
    pub fn view(&self) -> SettingsView {
        let s = self.lock();
        SettingsView {
            version: s.applied.version,
            managed: s.applied.settings.clone(),
            rejected: s
                .rejected
                .as_ref()
                .map(|(v, why)| format!("version {v}: {why}")),
            credential_refused: s
                .refusal
                .as_ref()
                .map(|(at, code)| format!("{code} at {at}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::fleet::{FeeDisplay, OfflineLimits};
    use drivers::escpos::PaperWidth;
    use pagopa::Amount;

    fn cents(c: u64) -> Amount {
        Amount::from_cents(c).expect("cents")
    }

    fn local() -> Config {
        Config::from_toml(crate::config::tests::COUNTER).expect("valid")
    }

    #[test]
    fn managed_settings_override_only_what_they_set() {
        let local = local();
        let same = overlay(&local, &DeviceSettings::default()).expect("empty");
        assert_eq!(same.languages, local.languages);
        assert_eq!(same.timeouts.screen, local.timeouts.screen);

        let managed = DeviceSettings {
            fee_display: Some(FeeDisplay::TotalFirst),
            languages: Some(vec!["en".into(), "it".into()]),
            offline: Some(OfflineLimits {
                enabled: true,
                max_payment_cents: cents(10_000),
                max_outstanding_cents: cents(30_000),
                max_age_s: 3600,
            }),
            printer_width: Some(32),
            screen_timeout_s: Some(30),
            done_timeout_s: None,
        };
        let c = overlay(&local, &managed).expect("valid");
        assert_eq!(c.fee_display, FeeDisplay::TotalFirst);
        assert_eq!(c.languages, ["en", "it"]);
        assert_eq!(c.offline.max_payment, cents(10_000));
        assert_eq!(c.offline.max_age, Duration::from_secs(3600));
        assert_eq!(
            c.offline.cash_fee, local.offline.cash_fee,
            "the fee schedule stays local"
        );
        assert_eq!(c.receipt.width, PaperWidth::Mm58);
        assert_eq!(c.timeouts.screen, Duration::from_secs(30));
        assert_eq!(c.timeouts.done, local.timeouts.done, "not set: local");
        assert_eq!(c.operators.len(), local.operators.len());
    }

    #[test]
    fn invalid_managed_settings_name_the_setting() {
        let local = local();
        let setting = |m: DeviceSettings| match overlay(&local, &m) {
            Err(SettingsError::Invalid { setting, .. }) => setting,
            Ok(_) => panic!("accepted"),
        };
        assert_eq!(
            setting(DeviceSettings {
                languages: Some(vec!["xx".into()]),
                ..DeviceSettings::default()
            }),
            "languages"
        );
        assert_eq!(
            setting(DeviceSettings {
                languages: Some(Vec::new()),
                ..DeviceSettings::default()
            }),
            "languages"
        );
        assert_eq!(
            setting(DeviceSettings {
                printer_width: Some(40),
                ..DeviceSettings::default()
            }),
            "printer_width"
        );
        assert_eq!(
            setting(DeviceSettings {
                screen_timeout_s: Some(1),
                ..DeviceSettings::default()
            }),
            "screen_timeout_s"
        );
        assert_eq!(
            setting(DeviceSettings {
                offline: Some(OfflineLimits {
                    enabled: true,
                    max_payment_cents: cents(2),
                    max_outstanding_cents: cents(1),
                    max_age_s: 1,
                }),
                ..DeviceSettings::default()
            }),
            "offline"
        );
    }

    #[test]
    fn applied_settings_survive_a_restart_and_a_refused_version_is_not_pulled_again() {
        let dir = std::env::temp_dir().join(format!("kiosk-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut local = local();
        local.journal_path = dir.join("journal.db");
        let local = Arc::new(local);
        let s = Settings::start(Arc::clone(&local));
        assert_eq!(s.version(), 0);
        assert!(s.wants(3));
        let managed = DeviceConfig {
            version: 3,
            settings: DeviceSettings {
                languages: Some(vec!["de".into()]),
                ..DeviceSettings::default()
            },
        };
        let eff = Arc::new(s.prepare(&managed).expect("valid"));
        s.persist(&managed).expect("persist");
        s.adopt(managed, eff);
        assert!(!s.wants(3));

        let again = Settings::start(Arc::clone(&local));
        assert_eq!(again.version(), 3);
        assert_eq!(again.effective().languages, ["de"]);

        let bad = DeviceConfig {
            version: 4,
            settings: DeviceSettings {
                printer_width: Some(7),
                ..DeviceSettings::default()
            },
        };
        assert!(again.prepare(&bad).is_err());
        assert!(!again.wants(4), "refused once");
        assert!(again.wants(5));
        assert!(
            again
                .view()
                .rejected
                .is_some_and(|r| r.contains("version 4"))
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
