//! The adapter's configuration: a TOML file plus environment overrides, validated as a whole at
//! start-up.
//!
//! Why hand-read instead of `#[derive(Deserialize)]`: an operator fixing a production config at
//! night needs every problem at once, each naming the exact key (`nodo.verify_timeout_secs`) and,
//! for an override, the variable it came from. So the file is parsed into a TOML table, every
//! key is read through a `Reader`, which records what is wrong and which keys were used, and
//! anything left over is reported as unknown (a typo would otherwise be silently ignored).
//!
//! Environment overrides: every scalar key has a variable, `CHANNEL_ADAPTER_` followed by the key
//! in upper case with dots as underscores (`psp.password` → `CHANNEL_ADAPTER_PSP_PASSWORD`).
//! Secrets (channel password, subscription key) are best given this way rather than in the file.
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! store_path = "/var/lib/channel-adapter/adapter.db"
//! store_sync = "full"                # "normal": no wait for the disk (see store::Sync)
//! check_digits = "strict"            # "lenient" for pagoPA's test environment
//! log_format = "json"                # or "text"
//!
//! [psp]
//! id_psp = "ABCDITMMXXX"
//! id_broker_psp = "01234567890"
//! id_channel = "01234567890_01"
//! fiscal_code = "01234567890"        # prefix of the Nodo idempotency keys
//! # password, subscription_key: from the environment
//!
//! [nodo]
//! url = "https://api.uat.platform.pagopa.it/nodo-auth/node-for-psp/v1"
//! primitives = "v2"                  # or "v1"
//! verify_timeout_secs = 15           # at least 10: the Nodo waits 7 s for the creditor
//! activate_timeout_secs = 15
//! outcome_timeout_secs = 10
//! token_lifetime_secs = 600          # 60..=1800
//!
//! [tls]                              # required unless listen is a loopback address
//! cert_path = "/etc/channel-adapter/cert.pem"
//! key_path = "/etc/channel-adapter/key.pem"
//!
//! [fees.kiosk]                       # fee the citizen pays, per kind of station and tender
//! card = 120                         # a flat fee in cents…
//! [fees.counter]
//! cash = 150
//! card = [{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]   # …or bands
//!
//! [enrollment]
//! code_ttl = "24h"                   # default lifetime of a one-time code (1m..=30d)
//! max_attempts = 5                   # wrong secrets that burn a code (1..=20)
//! max_failures_per_address = 20      # failed enrollments per client address per 15 min
//!
//! [fleet]
//! silent_after = "5m"                # no heartbeat for longer: the device shows as silent
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Uri;
use channel_api::{DeviceKind, Tender};
use pagopa::soap::{ExpirationTime, Password, PspIdentity, Text35};
use pagopa::{Amount, CheckMode};

use crate::fees::{FeeBand, FeeRule, FeeSchedule};

/// The prefix of every override variable.
pub const ENV_PREFIX: &str = "CHANNEL_ADAPTER_";

/// Variables with the prefix that are not configuration keys (read by `main`).
pub const ENV_NOT_KEYS: [&str; 2] = ["CHANNEL_ADAPTER_CONFIG", "CHANNEL_ADAPTER_LOG"];

/// The scalar keys, which can be overridden from the environment.
const SCALAR_KEYS: [&str; 28] = [
    "listen",
    "store_path",
    "store_sync",
    "check_digits",
    "log_format",
    "psp.id_psp",
    "psp.id_broker_psp",
    "psp.id_channel",
    "psp.password",
    "psp.subscription_key",
    "psp.fiscal_code",
    "nodo.url",
    "nodo.primitives",
    "nodo.verify_timeout_secs",
    "nodo.activate_timeout_secs",
    "nodo.outcome_timeout_secs",
    "nodo.token_lifetime_secs",
    "nodo.ca_path",
    "tls.cert_path",
    "tls.key_path",
    "outbox.max_attempts",
    "outbox.slot_ms",
    "outbox.retry_interval_ms",
    "outbox.concurrency",
    "enrollment.code_ttl",
    "enrollment.max_attempts",
    "enrollment.max_failures_per_address",
    "fleet.silent_after",
];

/// The smallest verify/activate timeout: the Nodo itself waits 7 s for the creditor.
pub const MIN_NODO_TIMEOUT_SECS: u64 = 10;

/// The environment variable that overrides `key`.
pub fn env_var_for(key: &str) -> String {
    let mut s = String::with_capacity(ENV_PREFIX.len() + key.len());
    s.push_str(ENV_PREFIX);
    s.extend(key.chars().map(|c| {
        if c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    s
}

/// One thing wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// The key, dotted (`nodo.url`), or the environment variable for an unknown override.
    pub key: String,
    /// What is wrong, and where the value came from when it was the environment.
    pub problem: String,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Why the configuration cannot be used. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("the configuration file is not valid TOML: {0}")]
    Syntax(String),
    /// Some keys are missing or wrong; every one is listed.
    #[error("invalid configuration:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid(Vec<KeyProblem>),
}

impl ConfigError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "CONFIG_READ",
            ConfigError::Syntax(_) => "CONFIG_SYNTAX",
            ConfigError::Invalid(_) => "CONFIG_INVALID",
        }
    }

    /// The keys named by the problems (empty unless [`ConfigError::Invalid`]).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            ConfigError::Invalid(p) => p.iter().map(|p| p.key.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// A secret that must not reach a log: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Which generation of the Nodo primitives our channel is configured for at pagoPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitives {
    /// activatePaymentNotice + sendPaymentOutcome.
    V1,
    /// activatePaymentNoticeV2 + sendPaymentOutcomeV2.
    V2,
}

/// Our identity as a PSP channel.
#[derive(Debug, Clone)]
pub struct PspConfig {
    /// idPSP, idBrokerPSP, idChannel and the channel password.
    pub identity: PspIdentity,
    /// The APIM subscription key (`Ocp-Apim-Subscription-Key`).
    pub subscription_key: Secret,
    /// The PSP's fiscal code: the prefix of our idempotency keys.
    pub fiscal_code: String,
}

/// How to reach the Nodo.
#[derive(Debug, Clone)]
pub struct NodoConfig {
    /// The nodeForPsp endpoint.
    pub url: Uri,
    /// V1 or V2 primitives.
    pub primitives: Primitives,
    /// How long to wait for a verify.
    pub verify_timeout: Duration,
    /// How long to wait for an activate.
    pub activate_timeout: Duration,
    /// How long to wait for a sendPaymentOutcome.
    pub outcome_timeout: Duration,
    /// The payment token lifetime we ask for.
    pub token_lifetime: ExpirationTime,
    /// A PEM bundle of the only CAs trusted for the Nodo's certificate; Mozilla's roots when
    /// absent.
    pub ca_path: Option<PathBuf>,
}

/// The server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_path: PathBuf,
    /// PEM private key.
    pub key_path: PathBuf,
}

/// The outcome outbox: how undelivered outcomes (and offline payments) are retried.
///
/// The SANP back-off: after attempt `k` (from 1) fails, wait `slot × (2^k − 1)`, for at most
/// `max_attempts` attempts. An outcome must still reach the Nodo eventually (exactly one per
/// token), so after those attempts the adapter keeps trying every `retry_interval` and reports
/// the entry as overdue (metrics, `channel-adapter outbox list`) until it is delivered or an
/// operator resets its counter (`channel-adapter outbox reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Attempts on the SANP back-off schedule (the SANP allows at most 5).
    pub max_attempts: u32,
    /// The back-off slot (SANP "slottime": the caller's maximum wait).
    pub slot: Duration,
    /// The interval between attempts once the back-off is used up (also its cap).
    pub retry_interval: Duration,
    /// Deliveries in flight at once (different devices; one device's are delivered in order).
    pub concurrency: usize,
}

impl OutboxConfig {
    /// How long to wait after attempt `attempts` (from 1) failed.
    pub fn backoff(&self, attempts: u32) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        if attempts >= self.max_attempts {
            return self.retry_interval;
        }
        // 2^k − 1 slots; k ≤ 5 in practice, saturate anyway.
        let slots = 1u32
            .checked_shl(attempts)
            .map_or(u32::MAX, |p| p.saturating_sub(1));
        self.slot.saturating_mul(slots).min(self.retry_interval)
    }

    /// Whether an entry with `attempts` has used up the SANP back-off (reported as overdue).
    pub fn overdue(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

/// `[enrollment]`: one-time enrollment codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentConfig {
    /// How long a new code works unless its creator says otherwise (default 24 h).
    pub code_ttl: Duration,
    /// Wrong secrets that burn a code (default 5).
    pub max_attempts: u32,
    /// Failed enrollments from one address before it is refused for 15 minutes (default 20).
    pub max_failures_per_address: u32,
}

/// `[fleet]`: the fleet view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// A device with no heartbeat for longer is shown as silent (default 5 min).
    pub silent_after: Duration,
}

/// Read a duration such as `90s`, `30m`, `24h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("expected a duration such as 90s, 30m, 24h or 7d, found {s:?}"))?;
    let secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "expected a duration such as 90s, 30m, 24h or 7d, found {s:?}"
            ));
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration too long: {s:?}"))
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the device API listens.
    pub listen: SocketAddr,
    /// The SQLite database.
    pub store_path: PathBuf,
    /// Whether writes that must survive a power loss wait for the disk.
    pub store_sync: crate::store::Sync,
    /// Whether wrong check digits are refused.
    pub check_mode: CheckMode,
    /// Log line format.
    pub log_format: LogFormat,
    /// Our PSP identity.
    pub psp: PspConfig,
    /// The Nodo.
    pub nodo: NodoConfig,
    /// TLS, absent only on loopback.
    pub tls: Option<TlsConfig>,
    /// The citizen's fee per kind of station and tender.
    pub fees: FeeSchedule,
    /// The outcome outbox.
    pub outbox: OutboxConfig,
    /// Enrollment codes.
    pub enrollment: EnrollmentConfig,
    /// The fleet view.
    pub fleet: FleetConfig,
}

impl Config {
    /// Read `path` and apply the overrides found in `env` (pass `std::env::vars()`).
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, env)
    }

    /// Parse `text` and apply the overrides found in `env`.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let mut r = Reader::new(table, env);
        let config = r.config();
        r.finish()?;
        // `config()` gives None only after recording a problem, which `finish` reports.
        config.ok_or_else(|| ConfigError::Invalid(Vec::new()))
    }
}

/// Where a raw value came from.
enum Raw<'a> {
    File(&'a toml::Value),
    Env(&'a str, String),
}

/// Reads keys from the table and the overrides, collecting problems.
struct Reader {
    table: toml::Table,
    env: BTreeMap<String, String>,
    used: BTreeSet<String>,
    problems: Vec<KeyProblem>,
}

impl Reader {
    fn new(table: toml::Table, env: impl IntoIterator<Item = (String, String)>) -> Reader {
        let mut overrides = BTreeMap::new();
        let mut problems = Vec::new();
        let known: BTreeMap<String, &str> =
            SCALAR_KEYS.iter().map(|k| (env_var_for(k), *k)).collect();
        for (var, value) in env {
            if !var.starts_with(ENV_PREFIX) || ENV_NOT_KEYS.contains(&var.as_str()) {
                continue;
            }
            match known.get(&var) {
                Some(key) => {
                    overrides.insert((*key).to_owned(), value);
                }
                None => problems.push(KeyProblem {
                    key: var,
                    problem: "unknown override variable (no such configuration key)".into(),
                }),
            }
        }
        Reader {
            table,
            env: overrides,
            used: BTreeSet::new(),
            problems,
        }
    }

    fn problem(&mut self, key: &str, problem: impl Into<String>) {
        self.problems.push(KeyProblem {
            key: key.to_owned(),
            problem: problem.into(),
        });
    }

    fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.split('.');
        let first = parts.next()?;
        let mut v = self.table.get(first)?;
        for p in parts {
            v = v.as_table()?.get(p)?;
        }
        Some(v)
    }

    fn raw(&mut self, key: &str) -> Option<Raw<'_>> {
        self.used.insert(key.to_owned());
        if let Some(v) = self.env.get(key) {
            return Some(Raw::Env(v.as_str(), env_var_for(key)));
        }
        self.lookup(key).map(Raw::File)
    }

    /// A string value; `None` when absent (no problem recorded) or wrong (recorded).
    fn string(&mut self, key: &str) -> Option<String> {
        let got = match self.raw(key)? {
            Raw::Env(v, _) => Ok(v.to_owned()),
            Raw::File(toml::Value::String(s)) => Ok(s.clone()),
            Raw::File(other) => Err(format!("expected a string, found {}", other.type_str())),
        };
        got.map_err(|e| self.problem(key, e)).ok()
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        let v = self.string(key);
        if v.is_none() && !self.has_problem(key) {
            let var = env_var_for(key);
            self.problem(key, format!("missing (set it in the file or in {var})"));
        }
        v
    }

    fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }

    /// An integer value in `range`.
    fn integer(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let got = match self.raw(key)? {
            Raw::Env(v, var) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("expected a whole number, found {v:?} (from {var})")),
            Raw::File(toml::Value::Integer(i)) => {
                u64::try_from(*i).map_err(|_| format!("must not be negative, found {i}"))
            }
            Raw::File(other) => Err(format!(
                "expected a whole number, found {}",
                other.type_str()
            )),
        };
        match got {
            Ok(n) if range.contains(&n) => Some(n),
            Ok(n) => {
                self.problem(
                    key,
                    format!(
                        "must be between {} and {}, found {n}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    /// An integer in `range`, `default` when absent; `None` only after recording a problem.
    fn integer_or(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Option<u64> {
        match self.integer(key, range) {
            Some(n) => Some(n),
            None if self.has_problem(key) => None,
            None => Some(default),
        }
    }

    /// Parse a string value with `parse`, recording its error against `key`.
    fn parsed<T, E: fmt::Display>(
        &mut self,
        key: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = if required {
            self.required_string(key)?
        } else {
            self.string(key)?
        };
        let from = if self.env.contains_key(key) {
            format!(" (from {})", env_var_for(key))
        } else {
            String::new()
        };
        parse(&s)
            .map_err(|e| self.problem(key, format!("{e}{from}")))
            .ok()
    }

    fn config(&mut self) -> Option<Config> {
        let listen = self.parsed("listen", true, |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("expected an address such as 127.0.0.1:8443, found {s:?}"))
        });
        let store_path = self.parsed("store_path", true, |s| {
            if s.trim().is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(s))
            }
        });
        let store_sync = self
            .parsed("store_sync", false, |s| match s {
                "full" => Ok(crate::store::Sync::Full),
                "normal" => Ok(crate::store::Sync::Normal),
                _ => Err(format!("expected \"full\" or \"normal\", found {s:?}")),
            })
            .unwrap_or(crate::store::Sync::Full);
        let check_mode = self
            .parsed("check_digits", false, |s| match s {
                "strict" => Ok(CheckMode::Strict),
                "lenient" => Ok(CheckMode::Lenient),
                _ => Err(format!("expected \"strict\" or \"lenient\", found {s:?}")),
            })
            .unwrap_or(CheckMode::Strict);
        let log_format = self
            .parsed("log_format", false, |s| match s {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("expected \"text\" or \"json\", found {s:?}")),
            })
            .unwrap_or(LogFormat::Text);
        let psp = self.psp();
        let nodo = self.nodo();
        let tls = self.tls();
        if let (Some(listen), Some(None)) = (listen, &tls)
            && !listen.ip().is_loopback()
        {
            self.problem(
                "listen",
                format!(
                    "{listen} is not a loopback address: plain HTTP is allowed only on loopback; \
                     configure [tls] cert_path and key_path"
                ),
            );
        }
        let fees = self.fees();
        let outbox = self.outbox(nodo.as_ref().map(|n| n.outcome_timeout));
        let enrollment = self.enrollment();
        let fleet = self.fleet();
        Some(Config {
            listen: listen?,
            store_path: store_path?,
            store_sync,
            check_mode,
            log_format,
            psp: psp?,
            nodo: nodo?,
            tls: tls?,
            fees: fees?,
            outbox: outbox?,
            enrollment: enrollment?,
            fleet: fleet?,
        })
    }

    /// A duration key within `range`, `default` when absent.
    fn duration_or(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<Duration>,
        default: Duration,
    ) -> Option<Duration> {
        let got = self.parsed(key, false, |s| {
            let d = parse_duration(s)?;
            if range.contains(&d) {
                Ok(d)
            } else {
                Err(format!(
                    "must be between {}s and {}s, found {s:?}",
                    range.start().as_secs(),
                    range.end().as_secs()
                ))
            }
        });
        match got {
            Some(d) => Some(d),
            None if self.has_problem(key) => None,
            None => Some(default),
        }
    }

    /// `[enrollment]`.
    fn enrollment(&mut self) -> Option<EnrollmentConfig> {
        let code_ttl = self.duration_or(
            "enrollment.code_ttl",
            Duration::from_secs(60)..=crate::enroll::MAX_TTL,
            Duration::from_secs(24 * 3600),
        );
        let max_attempts = self.integer_or("enrollment.max_attempts", 1..=20, 5);
        let per_address = self.integer_or("enrollment.max_failures_per_address", 1..=1000, 20);
        Some(EnrollmentConfig {
            code_ttl: code_ttl?,
            max_attempts: u32::try_from(max_attempts?).ok()?,
            max_failures_per_address: u32::try_from(per_address?).ok()?,
        })
    }

    /// `[fleet]`.
    fn fleet(&mut self) -> Option<FleetConfig> {
        let silent_after = self.duration_or(
            "fleet.silent_after",
            Duration::from_secs(30)..=Duration::from_secs(7 * 24 * 3600),
            Duration::from_secs(300),
        );
        Some(FleetConfig {
            silent_after: silent_after?,
        })
    }

    /// `[outbox]`; the slot defaults to the outcome timeout (the SANP's "caller's maximum
    /// wait").
    fn outbox(&mut self, outcome_timeout: Option<Duration>) -> Option<OutboxConfig> {
        let max_attempts = self.integer_or("outbox.max_attempts", 1..=5, 5);
        let default_slot = outcome_timeout.map_or(10_000, |t| t.as_millis() as u64);
        let slot = self.integer_or("outbox.slot_ms", 10..=600_000, default_slot);
        let retry_interval = self.integer_or("outbox.retry_interval_ms", 100..=3_600_000, 300_000);
        let concurrency = self.integer_or("outbox.concurrency", 1..=4096, 256);
        Some(OutboxConfig {
            max_attempts: u32::try_from(max_attempts?).ok()?,
            slot: Duration::from_millis(slot?),
            retry_interval: Duration::from_millis(retry_interval?),
            concurrency: usize::try_from(concurrency?).ok()?,
        })
    }

    fn psp(&mut self) -> Option<PspConfig> {
        let text35 = |s: &str| Text35::new(s).map_err(|e| e.to_string());
        let id_psp = self.parsed("psp.id_psp", true, text35);
        let id_broker_psp = self.parsed("psp.id_broker_psp", true, text35);
        let id_channel = self.parsed("psp.id_channel", true, text35);
        let password = self.parsed("psp.password", true, |s| {
            Password::new(s)
                .map_err(|e| format!("the channel password must be 8 to 15 characters: {e}"))
        });
        let subscription_key = self.parsed("psp.subscription_key", true, |s| {
            if s.trim().is_empty() || s.trim() != s {
                Err("must be the APIM subscription key, without spaces".to_owned())
            } else {
                Ok(Secret(s.to_owned()))
            }
        });
        let fiscal_code = self.parsed("psp.fiscal_code", true, |s| {
            if (2..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "expected 2 to 18 letters or digits (the PSP's fiscal code), found {s:?}"
                ))
            }
        });
        Some(PspConfig {
            identity: PspIdentity {
                id_psp: id_psp?,
                id_broker_psp: id_broker_psp?,
                id_channel: id_channel?,
                password: password?,
            },
            subscription_key: subscription_key?,
            fiscal_code: fiscal_code?,
        })
    }

    fn nodo(&mut self) -> Option<NodoConfig> {
        let url = self.parsed("nodo.url", true, parse_nodo_url);
        let primitives = self
            .parsed("nodo.primitives", false, |s| match s {
                "v1" => Ok(Primitives::V1),
                "v2" => Ok(Primitives::V2),
                _ => Err(format!("expected \"v1\" or \"v2\", found {s:?}")),
            })
            .unwrap_or(Primitives::V1);
        let secs = |r: &mut Reader, key: &str, min: u64, default: u64| {
            r.integer(key, min..=120)
                .or(if r.has_problem(key) {
                    None
                } else {
                    Some(default)
                })
                .map(Duration::from_secs)
        };
        let verify_timeout = secs(self, "nodo.verify_timeout_secs", MIN_NODO_TIMEOUT_SECS, 15);
        let activate_timeout = secs(
            self,
            "nodo.activate_timeout_secs",
            MIN_NODO_TIMEOUT_SECS,
            15,
        );
        let outcome_timeout = secs(self, "nodo.outcome_timeout_secs", 2, 10);
        let lifetime_key = "nodo.token_lifetime_secs";
        let token_lifetime = match self.integer(lifetime_key, 60..=1800) {
            Some(s) => Some(s),
            None if self.has_problem(lifetime_key) => None,
            None => Some(600),
        }
        .and_then(|s| ExpirationTime::from_millis(s as u32 * 1000).ok());
        let ca_path = self.parsed("nodo.ca_path", false, |s| {
            if s.trim().is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(s))
            }
        });
        Some(NodoConfig {
            ca_path,
            url: url?,
            primitives,
            verify_timeout: verify_timeout?,
            activate_timeout: activate_timeout?,
            outcome_timeout: outcome_timeout?,
            token_lifetime: token_lifetime?,
        })
    }

    /// `Some(None)`: no TLS; `None`: a problem was recorded.
    fn tls(&mut self) -> Option<Option<TlsConfig>> {
        let cert = self.string("tls.cert_path");
        let key = self.string("tls.key_path");
        match (cert, key) {
            (None, None)
                if !self.has_problem("tls.cert_path") && !self.has_problem("tls.key_path") =>
            {
                Some(None)
            }
            (Some(c), Some(k)) => Some(Some(TlsConfig {
                cert_path: c.into(),
                key_path: k.into(),
            })),
            (Some(_), None) => {
                self.problem("tls.key_path", "missing (tls.cert_path is set)");
                None
            }
            (None, Some(_)) => {
                self.problem("tls.cert_path", "missing (tls.key_path is set)");
                None
            }
            (None, None) => None,
        }
    }

    fn fees(&mut self) -> Option<FeeSchedule> {
        self.used.insert("fees".into());
        let Some(fees) = self.lookup("fees").cloned() else {
            self.problem(
                "fees",
                "missing: at least one [fees.kiosk] or [fees.counter] entry such as card = 120",
            );
            return None;
        };
        let Some(fees) = fees.as_table() else {
            self.problem("fees", "expected a table");
            return None;
        };
        let mut schedule = FeeSchedule::default();
        let mut ok = true;
        for (kind_name, methods) in fees {
            let kind_key = format!("fees.{kind_name}");
            let Some(kind) = DeviceKind::parse(kind_name) else {
                self.problem(
                    &kind_key,
                    "unknown kind of station: expected kiosk or counter",
                );
                ok = false;
                continue;
            };
            let Some(methods) = methods.as_table() else {
                self.problem(&kind_key, "expected a table such as { card = 120 }");
                ok = false;
                continue;
            };
            for (tender_name, rule) in methods {
                let key = format!("{kind_key}.{tender_name}");
                let Some(tender) = Tender::parse(tender_name) else {
                    self.problem(&key, "unknown tender: expected card or cash");
                    ok = false;
                    continue;
                };
                match fee_rule(rule) {
                    Ok(rule) => schedule.set(kind, tender, rule),
                    Err(e) => {
                        self.problem(&key, e);
                        ok = false;
                    }
                }
            }
        }
        if ok && schedule.is_empty() {
            self.problem("fees", "no tender is configured for any kind of station");
            ok = false;
        }
        ok.then_some(schedule)
    }

    fn finish(mut self) -> Result<(), ConfigError> {
        let mut unknown = Vec::new();
        collect_unknown(&self.table, "", &self.used, &mut unknown);
        for key in unknown {
            self.problem(&key, "unknown key");
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.problems))
        }
    }
}

/// Keys present in the table and never read. `fees` is read as a whole by `Reader::fees`.
fn collect_unknown(t: &toml::Table, prefix: &str, used: &BTreeSet<String>, out: &mut Vec<String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if used.contains(&key) {
            continue;
        }
        match v.as_table() {
            Some(section) => collect_unknown(section, &key, used, out),
            None => out.push(key),
        }
    }
}

/// The Nodo URL: https, or plain http only towards a loopback host (the simulator).
fn parse_nodo_url(s: &str) -> Result<Uri, String> {
    let uri: Uri = s.parse().map_err(|_| format!("not a URL: {s:?}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("the URL has no host: {s:?}"))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback_host(host) => Ok(uri),
        Some("http") => Err(format!(
            "plain http is allowed only towards a loopback host (a simulator), found {host}"
        )),
        _ => Err(format!("expected an https:// URL, found {s:?}")),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The largest fee accepted in the schedule: a guard against a missing zero.
const MAX_FEE_CENTS: u64 = 10_000;

fn fee_cents(v: &toml::Value, what: &str) -> Result<Amount, String> {
    let n = v
        .as_integer()
        .ok_or_else(|| format!("{what}: expected whole cents, found {}", v.type_str()))?;
    let n = u64::try_from(n).map_err(|_| format!("{what}: must not be negative"))?;
    if n > MAX_FEE_CENTS {
        return Err(format!(
            "{what}: {n} cents is above the {MAX_FEE_CENTS}-cent sanity limit"
        ));
    }
    Amount::from_cents(n).map_err(|e| format!("{what}: {e}"))
}

fn fee_rule(v: &toml::Value) -> Result<FeeRule, String> {
    if v.is_integer() {
        return fee_cents(v, "fee").map(FeeRule::Flat);
    }
    let bands = v
        .as_array()
        .ok_or("expected cents (card = 120) or a list of bands [{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]")?;
    let mut out = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate() {
        let t = b
            .as_table()
            .ok_or_else(|| format!("band {}: expected a table", i + 1))?;
        if let Some(k) = t
            .keys()
            .find(|k| !matches!(k.as_str(), "up_to_cents" | "fee_cents"))
        {
            return Err(format!("band {}: unknown key {k}", i + 1));
        }
        let fee = fee_cents(
            t.get("fee_cents")
                .ok_or_else(|| format!("band {}: fee_cents missing", i + 1))?,
            &format!("band {}", i + 1),
        )?;
        let up_to = match t.get("up_to_cents") {
            None => None,
            Some(u) => {
                let n = u
                    .as_integer()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| format!("band {}: up_to_cents must be whole cents", i + 1))?;
                Some(Amount::from_cents(n).map_err(|e| format!("band {}: {e}", i + 1))?)
            }
        };
        out.push(FeeBand { up_to, fee });
    }
    FeeRule::bands(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_keys() {
        assert_eq!(env_var_for("psp.password"), "CHANNEL_ADAPTER_PSP_PASSWORD");
        assert_eq!(env_var_for("listen"), "CHANNEL_ADAPTER_LISTEN");
        assert_eq!(
            env_var_for("nodo.verify_timeout_secs"),
            "CHANNEL_ADAPTER_NODO_VERIFY_TIMEOUT_SECS"
        );
    }

    #[test]
    fn nodo_url_must_be_https_except_towards_loopback() {
        assert!(
            parse_nodo_url("https://api.uat.platform.pagopa.it/nodo-auth/node-for-psp/v1").is_ok()
        );
        assert!(parse_nodo_url("http://127.0.0.1:9000/nodo").is_ok());
        assert!(parse_nodo_url("http://[::1]:9000/nodo").is_ok());
        assert!(parse_nodo_url("http://localhost:9000/").is_ok());
        assert!(parse_nodo_url("http://nodo.example.org/").is_err());
        assert!(parse_nodo_url("ftp://127.0.0.1/").is_err());
        assert!(parse_nodo_url("not a url").is_err());
    }
}
