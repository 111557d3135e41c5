//! Configuration: a valid file loads; every bad key is named; environment overrides win; plain
//! HTTP only on loopback.

mod common;

use std::time::Duration;

use channel_adapter::config::{Config, ConfigError, LogFormat, Primitives, env_var_for};
use channel_api::{DeviceKind, Tender};
use common::{TempDir, config_toml};
use pagopa::{Amount, CheckMode};

fn base() -> String {
    config_toml("127.0.0.1:8080", std::path::Path::new("/tmp/adapter.db"))
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Replace the line starting with `key =` (or append the line to the document's top).
fn with(doc: &str, key: &str, line: Option<&str>) -> String {
    let mut out = String::new();
    let mut replaced = false;
    for l in doc.lines() {
        if l.trim_start().starts_with(&format!("{key} =")) && !replaced {
            replaced = true;
            if let Some(new) = line {
                out.push_str(new);
                out.push('\n');
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    assert!(replaced, "no line for {key}");
    out
}

fn problems(text: &str, env: Vec<(String, String)>) -> Vec<String> {
    match Config::from_toml(text, env) {
        Ok(_) => panic!("expected an invalid configuration"),
        Err(e @ ConfigError::Invalid(_)) => {
            assert_eq!(e.code(), "CONFIG_INVALID");
            e.keys().into_iter().map(str::to_owned).collect()
        }
        Err(e) => panic!("expected CONFIG_INVALID, got {e}"),
    }
}

#[test]
fn the_sample_configuration_loads_with_defaults() {
    let c = Config::from_toml(&base(), no_env()).expect("valid");
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.check_mode, CheckMode::Lenient);
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.nodo.primitives, Primitives::V2);
    assert_eq!(c.nodo.verify_timeout, Duration::from_secs(15));
    assert_eq!(c.nodo.activate_timeout, Duration::from_secs(15));
    assert_eq!(c.nodo.outcome_timeout, Duration::from_secs(10));
    assert_eq!(c.nodo.token_lifetime.as_millis(), 600_000);
    assert_eq!(c.psp.identity.id_psp.as_str(), "AGID_01");
    assert_eq!(c.psp.identity.password.expose(), "pwdpwdpwd");
    assert!(c.tls.is_none());
    let fee = |k, t, cents| {
        c.fees
            .quote(k, t, Amount::from_cents(cents).expect("amount"))
            .map(|q| q.fee.cents())
    };
    assert_eq!(fee(DeviceKind::Kiosk, Tender::Card, 1000), Ok(120));
    assert!(fee(DeviceKind::Kiosk, Tender::Cash, 1000).is_err());
    assert_eq!(fee(DeviceKind::Counter, Tender::Cash, 5000), Ok(100));
    assert_eq!(fee(DeviceKind::Counter, Tender::Cash, 5001), Ok(150));
}

#[test]
fn secrets_do_not_show_in_debug() {
    let c = Config::from_toml(&base(), no_env()).expect("valid");
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("pwdpwdpwd"), "{dbg}");
    assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
}

#[test]
fn each_bad_value_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("listen", "listen = \"not an address\"", "listen"),
        ("store_path", "store_path = \"\"", "store_path"),
        (
            "check_digits",
            "check_digits = \"sometimes\"",
            "check_digits",
        ),
        ("id_psp", "id_psp = \"\"", "psp.id_psp"),
        ("id_broker_psp", "id_broker_psp = 12", "psp.id_broker_psp"),
        (
            "id_channel",
            "id_channel = \"0123456789012345678901234567890123456789\"",
            "psp.id_channel",
        ),
        ("password", "password = \"short\"", "psp.password"),
        (
            "subscription_key",
            "subscription_key = \" \"",
            "psp.subscription_key",
        ),
        (
            "fiscal_code",
            "fiscal_code = \"with space\"",
            "psp.fiscal_code",
        ),
        ("url", "url = \"http://nodo.example.org/\"", "nodo.url"),
        ("primitives", "primitives = \"v3\"", "nodo.primitives"),
        (
            "token_lifetime_secs",
            "token_lifetime_secs = 3600",
            "nodo.token_lifetime_secs",
        ),
        ("card", "card = -5", "fees.kiosk.card"),
    ];
    for (line_key, line, key) in cases {
        let doc = with(&base(), line_key, Some(line));
        let keys = problems(&doc, no_env());
        assert_eq!(keys, vec![key.to_owned()], "{line}");
    }
}

#[test]
fn nodo_timeouts_below_ten_seconds_are_refused() {
    let doc = base().replace(
        "primitives = \"v2\"",
        "primitives = \"v2\"\nverify_timeout_secs = 7\nactivate_timeout_secs = 9\noutcome_timeout_secs = 1",
    );
    let keys = problems(&doc, no_env());
    assert_eq!(
        keys,
        [
            "nodo.verify_timeout_secs",
            "nodo.activate_timeout_secs",
            "nodo.outcome_timeout_secs"
        ]
    );
    let err = Config::from_toml(&doc, no_env()).expect_err("invalid");
    assert!(
        err.to_string().contains("between 10 and 120, found 7"),
        "{err}"
    );
}

#[test]
fn missing_keys_are_all_reported_at_once() {
    let doc = with(&with(&base(), "password", None), "listen", None);
    let keys = problems(&doc, no_env());
    assert_eq!(keys, ["listen", "psp.password"]);
    let err = Config::from_toml(&doc, no_env()).expect_err("invalid");
    assert!(
        err.to_string().contains("CHANNEL_ADAPTER_PSP_PASSWORD"),
        "the message says where else the secret may come from: {err}"
    );
}

#[test]
fn unknown_keys_and_sections_are_reported() {
    let doc = format!("verbose = true\n{}\n[nodo_extra]\nx = 1\n", base())
        .replace("[psp]\n", "[psp]\nid_pps = \"typo\"\n");
    let mut keys = problems(&doc, no_env());
    keys.sort();
    assert_eq!(keys, ["nodo_extra.x", "psp.id_pps", "verbose"]);
    let doc = base().replace("[fees.counter]", "[fees.atm]");
    assert_eq!(problems(&doc, no_env()), ["fees.atm"]);
    let doc = base().replace("card = 120", "cheque = 120");
    assert_eq!(problems(&doc, no_env()), ["fees.kiosk.cheque"]);
}

#[test]
fn fee_bands_are_validated() {
    let doc = base().replace(
        "cash = [{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]",
        "cash = [{ up_to_cents = 5000, fee_cents = 100 }]",
    );
    assert_eq!(problems(&doc, no_env()), ["fees.counter.cash"]);
    let doc = base().replace("card = 120", "card = 100000");
    assert_eq!(problems(&doc, no_env()), ["fees.kiosk.card"]);
}

#[test]
fn plain_http_only_on_loopback() {
    let doc = with(&base(), "listen", Some("listen = \"0.0.0.0:8443\""));
    let err = Config::from_toml(&doc, no_env()).expect_err("invalid");
    assert_eq!(err.keys(), ["listen"]);
    assert!(err.to_string().contains("loopback"), "{err}");

    let tls = format!(
        "{}\n[tls]\ncert_path = \"/etc/cert.pem\"\nkey_path = \"/etc/key.pem\"\n",
        doc
    );
    let c = Config::from_toml(&tls, no_env()).expect("TLS makes any address fine");
    assert_eq!(
        c.tls.map(|t| t.cert_path),
        Some(std::path::PathBuf::from("/etc/cert.pem"))
    );

    let half = format!("{doc}\n[tls]\ncert_path = \"/etc/cert.pem\"\n");
    let keys = problems(&half, no_env());
    assert!(keys.contains(&"tls.key_path".to_owned()), "{keys:?}");
}

#[test]
fn environment_overrides_the_file() {
    let doc = with(&base(), "password", None);
    let c = Config::from_toml(
        &doc,
        env(&[
            ("CHANNEL_ADAPTER_PSP_PASSWORD", "fromenv123"),
            ("CHANNEL_ADAPTER_LISTEN", "127.0.0.1:9999"),
            ("CHANNEL_ADAPTER_NODO_VERIFY_TIMEOUT_SECS", "20"),
            ("CHANNEL_ADAPTER_NODO_PRIMITIVES", "v1"),
            ("CHANNEL_ADAPTER_CONFIG", "/ignored/path.toml"),
            ("CHANNEL_ADAPTER_LOG", "debug"),
            ("UNRELATED", "x"),
        ]),
    )
    .expect("valid with overrides");
    assert_eq!(c.psp.identity.password.expose(), "fromenv123");
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.nodo.verify_timeout, Duration::from_secs(20));
    assert_eq!(c.nodo.primitives, Primitives::V1);
}

#[test]
fn bad_overrides_name_the_key_and_the_variable() {
    let err = Config::from_toml(
        &base(),
        env(&[
            ("CHANNEL_ADAPTER_NODO_ACTIVATE_TIMEOUT_SECS", "soon"),
            ("CHANNEL_ADAPTER_PSP_PASWORD", "typo-in-the-name"),
        ]),
    )
    .expect_err("invalid");
    assert_eq!(
        err.keys(),
        ["CHANNEL_ADAPTER_PSP_PASWORD", "nodo.activate_timeout_secs"]
    );
    let text = err.to_string();
    assert!(
        text.contains("from CHANNEL_ADAPTER_NODO_ACTIVATE_TIMEOUT_SECS"),
        "{text}"
    );
    assert_eq!(
        env_var_for("nodo.activate_timeout_secs"),
        "CHANNEL_ADAPTER_NODO_ACTIVATE_TIMEOUT_SECS"
    );
}

#[test]
fn syntax_errors_and_missing_files_have_their_own_codes() {
    let err = Config::from_toml("listen = ", no_env()).expect_err("syntax");
    assert_eq!(err.code(), "CONFIG_SYNTAX");
    let dir = TempDir::new("config-missing");
    let err = Config::load(&dir.join("absent.toml"), no_env()).expect_err("missing");
    assert_eq!(err.code(), "CONFIG_READ");
    let path = dir.join("adapter.toml");
    std::fs::write(&path, base()).expect("write");
    assert!(Config::load(&path, no_env()).is_ok());
}

#[test]
fn outbox_store_and_nodo_client_keys() {
    let c = Config::from_toml(&base(), no_env()).expect("valid");
    // The SANP back-off: at most 5 attempts, slot = the outcome timeout, then every 5 minutes.
    assert_eq!(c.outbox.max_attempts, 5);
    assert_eq!(c.outbox.slot, Duration::from_secs(10));
    assert_eq!(c.outbox.retry_interval, Duration::from_secs(300));
    assert_eq!(c.outbox.concurrency, 256);
    assert_eq!(c.store_sync, channel_adapter::store::Sync::Full);
    assert_eq!(c.nodo.ca_path, None);

    // A top-level key after the tables would belong to the last table: it goes first.
    let text = format!("store_sync = \"normal\"\n{}", base());
    let c = Config::from_toml(
        &format!("{text}\n[outbox]\nmax_attempts = 3\nslot_ms = 200\n"),
        env(&[
            ("CHANNEL_ADAPTER_OUTBOX_RETRY_INTERVAL_MS", "1500"),
            ("CHANNEL_ADAPTER_NODO_CA_PATH", "/etc/ssl/nodo-ca.pem"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.store_sync, channel_adapter::store::Sync::Normal);
    assert_eq!(c.outbox.max_attempts, 3);
    assert_eq!(c.outbox.slot, Duration::from_millis(200));
    assert_eq!(c.outbox.retry_interval, Duration::from_millis(1500));
    assert_eq!(c.outbox.backoff(1), Duration::from_millis(200));
    assert_eq!(c.outbox.backoff(2), Duration::from_millis(600));
    assert_eq!(
        c.outbox.backoff(3),
        Duration::from_millis(1500),
        "past max: the interval"
    );
    assert_eq!(
        c.nodo.ca_path.as_deref(),
        Some(std::path::Path::new("/etc/ssl/nodo-ca.pem"))
    );

    let bad = format!(
        "store_sync = \"fast\"\n{}\n[outbox]\nmax_attempts = 6\nslot_ms = 1\nconcurrency = 0\nretry_interval_ms = \"soon\"\n",
        base()
    );
    let mut keys = problems(&bad, no_env());
    keys.sort();
    assert_eq!(
        keys,
        [
            "outbox.concurrency",
            "outbox.max_attempts",
            "outbox.retry_interval_ms",
            "outbox.slot_ms",
            "store_sync"
        ]
    );
}

#[test]
fn enrollment_and_fleet_keys_have_defaults_and_are_validated() {
    let c = Config::from_toml(&base(), no_env()).expect("valid");
    assert_eq!(c.enrollment.code_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(c.enrollment.max_attempts, 5);
    assert_eq!(c.enrollment.max_failures_per_address, 20);
    assert_eq!(c.fleet.silent_after, Duration::from_secs(300));

    let doc = format!(
        "{}\n[enrollment]\ncode_ttl = \"2h\"\nmax_attempts = 3\n\n[fleet]\nsilent_after = \"10m\"\n",
        base()
    );
    let c = Config::from_toml(&doc, no_env()).expect("valid");
    assert_eq!(c.enrollment.code_ttl, Duration::from_secs(7200));
    assert_eq!(c.enrollment.max_attempts, 3);
    assert_eq!(c.fleet.silent_after, Duration::from_secs(600));
    let c = Config::from_toml(
        &base(),
        env(&[("CHANNEL_ADAPTER_FLEET_SILENT_AFTER", "90s")]),
    )
    .expect("override");
    assert_eq!(c.fleet.silent_after, Duration::from_secs(90));

    let bad = format!(
        "{}\n[enrollment]\ncode_ttl = \"soon\"\nmax_attempts = 0\n\n[fleet]\nsilent_after = \"1s\"\n",
        base()
    );
    let p = problems(&bad, no_env());
    assert_eq!(
        p,
        [
            "enrollment.code_ttl",
            "enrollment.max_attempts",
            "fleet.silent_after"
        ]
    );
}
