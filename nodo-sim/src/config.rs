//! The simulator's configuration: a TOML file, overridable from the command line, and the same
//! struct for starting a simulator in-process.
//!
//! Values are kept as plain strings and numbers so that the file, the CLI and test code share
//! one type with an infallible `Default`; [`Config::validate`] turns them into domain types when
//! the simulator starts, and reports the first bad field by name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pagopa::soap::{Password, Text35, Text70};
use pagopa::{CheckMode, CreditorFiscalCode, Date};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::faults::FaultPlan;
use crate::nodo::{Channel, Settings};

/// Why a configuration was refused. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("configurazione {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or not the configuration's shape.
    #[error("configurazione {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value breaks its rule.
    #[error("configurazione: {field}: {reason}")]
    Invalid {
        /// The field, e.g. `channels[0].password`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "CONFIG_IO",
            ConfigError::Syntax { .. } => "CONFIG_SYNTAX",
            ConfigError::Invalid { .. } => "CONFIG_INVALID_VALUE",
        }
    }
}

/// A PSP channel the simulator accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// `idPSP`
    pub id_psp: String,
    /// `idBrokerPSP`
    pub id_broker_psp: String,
    /// `idChannel`
    pub id_channel: String,
    /// The channel password (8..15 characters).
    pub password: String,
    /// The PSP's name, written in receipts.
    #[serde(default = "default_psp_name")]
    pub psp_company_name: String,
    /// The PSP's fiscal code, written in receipts.
    #[serde(default)]
    pub psp_fiscal_code: Option<String>,
    /// The channel's description, written in receipts.
    #[serde(default = "default_channel_description")]
    pub channel_description: String,
}

fn default_psp_name() -> String {
    "PSP di prova nodo-sim".to_owned()
}

fn default_channel_description() -> String {
    "Canale di prova".to_owned()
}

impl Default for ChannelConfig {
    /// The demo channel: PSP and broker `70000000001`, channel `70000000001_01`, password
    /// `pwdpwdpwd`.
    fn default() -> Self {
        ChannelConfig {
            id_psp: "70000000001".to_owned(),
            id_broker_psp: "70000000001".to_owned(),
            id_channel: "70000000001_01".to_owned(),
            password: "pwdpwdpwd".to_owned(),
            psp_company_name: default_psp_name(),
            psp_fiscal_code: Some("70000000001".to_owned()),
            channel_description: default_channel_description(),
        }
    }
}

/// Everything the simulator needs to start. `Default` is the documented demo setup on
/// `127.0.0.1:8089`; in-process tests usually set `listen` to `127.0.0.1:0` and a fixed `seed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Accepted values of the `Ocp-Apim-Subscription-Key` header (primary and secondary);
    /// empty = the header is not checked.
    pub subscription_keys: Vec<String>,
    /// Catalogue file (TOML, or JSON by extension); the demo catalogue when absent.
    pub catalogue: Option<PathBuf>,
    /// An in-memory catalogue (takes precedence over `catalogue`; not in files).
    #[serde(skip)]
    pub catalogue_data: Option<Catalogue>,
    /// Reference date of the demo catalogue's due dates (`YYYY-MM-DD`); today when absent.
    pub demo_reference_date: Option<String>,
    /// Seed of every random choice (tokens, demo catalogue, fault dice); from the clock when
    /// absent, so restarted simulators never reuse tokens.
    pub seed: Option<u64>,
    /// Fiscal code of the scenario creditor.
    pub scenario_creditor: String,
    /// How long a timing-out station makes callers wait, in milliseconds.
    pub station_timeout_ms: u64,
    /// Lifetime of an outcome's idempotency key, in milliseconds.
    pub idempotency_ttl_ms: u64,
    /// How long closed or expired payment sessions are remembered, in milliseconds.
    pub retention_ms: u64,
    /// How many receipts are kept for `GET /admin/receipts`; beyond it the oldest are dropped.
    pub max_receipts: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The PSP channels accepted.
    pub channels: Vec<ChannelConfig>,
    /// Faults injected from the start (and restored by `POST /admin/reset`).
    pub faults: FaultPlan,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8089)),
            subscription_keys: vec!["nodo-sim-key".to_owned()],
            catalogue: None,
            catalogue_data: None,
            demo_reference_date: None,
            seed: None,
            scenario_creditor: "77777777777".to_owned(),
            station_timeout_ms: 7_000,
            idempotency_ttl_ms: 1_800_000,
            retention_ms: 3_600_000,
            max_receipts: 100_000,
            max_body_bytes: 1 << 20,
            channels: vec![ChannelConfig::default()],
            faults: FaultPlan::none(),
        }
    }
}

fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.to_string(),
    }
}

/// A configuration file with every field at its default value, each explained in a comment.
pub const EXAMPLE_TOML: &str = include_str!("../config.example.toml");

impl Config {
    /// Read a TOML configuration file; fields not given keep their defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        Config::from_toml(&text, &shown)
    }

    /// Parse TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// The Nodo's settings, checked.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut channels = Vec::with_capacity(self.channels.len());
        for (i, c) in self.channels.iter().enumerate() {
            let f = |name: &str| format!("channels[{i}].{name}");
            channels.push(Channel {
                id_psp: Text35::new(&c.id_psp).map_err(|e| invalid(f("id_psp"), e))?,
                id_broker_psp: Text35::new(&c.id_broker_psp)
                    .map_err(|e| invalid(f("id_broker_psp"), e))?,
                id_channel: Text35::new(&c.id_channel).map_err(|e| invalid(f("id_channel"), e))?,
                password: Password::new(&c.password).map_err(|e| invalid(f("password"), e))?,
                psp_company_name: Text70::new(&c.psp_company_name)
                    .map_err(|e| invalid(f("psp_company_name"), e))?,
                psp_fiscal_code: c
                    .psp_fiscal_code
                    .as_deref()
                    .map(Text70::new)
                    .transpose()
                    .map_err(|e| invalid(f("psp_fiscal_code"), e))?,
                channel_description: Text35::new(&c.channel_description)
                    .map_err(|e| invalid(f("channel_description"), e))?,
            });
        }
        if channels.is_empty() {
            return Err(invalid("channels", "serve almeno un canale"));
        }
        if self.max_receipts == 0 {
            return Err(invalid("max_receipts", "deve essere almeno 1"));
        }
        Ok(Settings {
            channels,
            scenario_creditor: CreditorFiscalCode::parse(
                &self.scenario_creditor,
                CheckMode::Lenient,
            )
            .map_err(|e| invalid("scenario_creditor", e))?,
            station_timeout_ms: self.station_timeout_ms,
            idempotency_ttl_ms: self.idempotency_ttl_ms,
            retention_ms: self.retention_ms,
            max_receipts: self.max_receipts,
        })
    }

    /// The demo catalogue's reference date, if one is configured.
    pub fn reference_date(&self) -> Result<Option<Date>, ConfigError> {
        self.demo_reference_date
            .as_deref()
            .map(Date::parse)
            .transpose()
            .map_err(|e| invalid("demo_reference_date", e))
    }

    /// Check every field without starting anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings()?;
        self.reference_date()?;
        if self.subscription_keys.iter().any(String::is_empty) {
            return Err(invalid("subscription_keys", "chiave vuota"));
        }
        Ok(())
    }

    /// The configuration as TOML (the default one documents every field).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| invalid("*", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagopa::fault::Primitive;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = Config::default();
        c.validate().expect("default config is valid");
        let text = c.to_toml().expect("serializes");
        let back = Config::from_toml(&text, "default").expect("reads back");
        assert_eq!(back.listen, c.listen);
        assert_eq!(back.channels, c.channels);
        assert_eq!(back.subscription_keys, c.subscription_keys);
    }

    #[test]
    fn the_commented_example_is_the_default() {
        let example = Config::from_toml(EXAMPLE_TOML, "config.example.toml").expect("parses");
        assert_eq!(
            example.to_toml().expect("serializes"),
            Config::default().to_toml().expect("serializes")
        );
    }

    #[test]
    fn partial_file_keeps_defaults() {
        let c = Config::from_toml(
            r#"
listen = "0.0.0.0:9000"
subscription_keys = []
seed = 7

[[channels]]
id_psp = "BCITITMM"
id_broker_psp = "00799960158"
id_channel = "00799960158_01"
password = "secret123"

[faults.activatePaymentNotice]
latency_ms = 250
drop_after_commit = { percent = 10 }
"#,
            "t",
        )
        .expect("valid");
        c.validate().expect("valid values");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.seed, Some(7));
        assert!(c.subscription_keys.is_empty());
        assert_eq!(c.station_timeout_ms, 7_000);
        assert_eq!(c.channels[0].psp_company_name, "PSP di prova nodo-sim");
        let f = c.faults.get(Primitive::ActivatePaymentNotice);
        assert_eq!(f.latency_ms, 250);
        assert_eq!(f.drop_after_commit.percent, 10);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut c = Config::default();
        c.channels[0].password = "short".to_owned();
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "channels[0].password"),
            other => panic!("{other:?}"),
        }
        let c = Config {
            scenario_creditor: "7777".to_owned(),
            ..Config::default()
        };
        assert_eq!(
            c.validate().map_err(|e| e.code()),
            Err("CONFIG_INVALID_VALUE")
        );
        assert_eq!(
            Config::from_toml("lissen = 1", "t")
                .map_err(|e| e.code())
                .err(),
            Some("CONFIG_SYNTAX")
        );
        assert!(Config::from_toml("[faults.nope]\nlatency_ms = 1", "t").is_err());
        let c = Config {
            max_receipts: 0,
            ..Config::default()
        };
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "max_receipts"),
            other => panic!("{other:?}"),
        }
    }
}
