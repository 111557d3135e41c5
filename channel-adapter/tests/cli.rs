//! The binary: `device add|list|revoke` against a temporary store, `check-config`, and `serve`
//! end to end (a credential from `device add` works over TCP until `device revoke`).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::{TempDir, call, config_toml, tls_toml};

const BIN: &str = env!("CARGO_BIN_EXE_channel-adapter");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("CHANNEL_ADAPTER_CONFIG")
        .output()
        .expect("run channel-adapter")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `channel-adapter <what> list --store <store> --json`: the list, and the text printed.
fn list_json(what: &str, store: &str) -> (serde_json::Value, String) {
    let o = run(&[what, "list", "--store", store, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    let list = serde_json::from_str(&printed).expect("JSON list");
    (list, printed)
}

fn add(store: &Path, name: &str, kind: &str) -> String {
    let store = store.to_str().expect("utf-8 path");
    let o = run(&[
        "device",
        "add",
        "--store",
        store,
        "--name",
        name,
        "--comune",
        "02438750586",
        "--kind",
        kind,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let credential = out.trim().to_owned();
    assert!(
        credential.starts_with("ca1."),
        "stdout is only the credential: {out:?}"
    );
    assert!(
        stderr(&o).contains("shown"),
        "the operator is told it is shown once"
    );
    credential
}

#[test]
fn device_add_list_revoke() {
    let dir = TempDir::new("cli-devices");
    let store = dir.join("adapter.db");
    let s = store.to_str().expect("utf-8 path");
    let c1 = add(&store, "roma-anagrafe-kiosk-1", "kiosk");
    let c2 = add(&store, "roma-tributi-counter-1", "counter");
    assert_ne!(c1, c2);

    let (list, printed) = list_json("device", s);
    assert_eq!(list[0]["name"], "roma-anagrafe-kiosk-1");
    assert_eq!(list[0]["kind"], "kiosk");
    assert_eq!(list[1]["kind"], "counter");
    assert_eq!(list[0]["comune"], "02438750586");
    assert!(list[0]["revoked_at"].is_null());
    // The credential is never shown again.
    assert!(!printed.contains(&c1[6..]));

    let o = run(&["device", "revoke", "--store", s, "roma-anagrafe-kiosk-1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["device", "list", "--store", s]);
    let table = stdout(&o);
    assert!(table.contains("roma-anagrafe-kiosk-1"), "{table}");
    assert!(table.contains("revoked"), "{table}");
    assert!(table.contains("active"), "{table}");

    // Errors: a duplicate name, a bad comune, an unknown device; each exits non-zero.
    let dup = run(&[
        "device",
        "add",
        "--store",
        s,
        "--name",
        "roma-tributi-counter-1",
        "--comune",
        "02438750586",
        "--kind",
        "counter",
    ]);
    assert!(!dup.status.success());
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    let bad = run(&[
        "device",
        "add",
        "--store",
        s,
        "--name",
        "x",
        "--comune",
        "02438750587",
        "--kind",
        "kiosk",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("comune"), "{}", stderr(&bad));
    let missing = run(&["device", "revoke", "--store", s, "nobody"]);
    assert!(!missing.status.success());
    let kind = run(&[
        "device",
        "add",
        "--store",
        s,
        "--name",
        "y",
        "--comune",
        "02438750586",
        "--kind",
        "atm",
    ]);
    assert!(!kind.status.success());
}

#[test]
fn check_config_names_bad_keys() {
    let dir = TempDir::new("cli-check");
    let good = dir.join("good.toml");
    std::fs::write(&good, config_toml("127.0.0.1:0", &dir.join("a.db"))).expect("write");
    let o = run(&["check-config", "--config", good.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        config_toml("0.0.0.0:8443", &dir.join("a.db")).replace("pwdpwdpwd", "short"),
    )
    .expect("write");
    let o = run(&["check-config", "--config", bad.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("listen:") && err.contains("psp.password:"),
        "{err}"
    );
}

/// The server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_end_to_end() {
    let dir = TempDir::new("cli-serve");
    let store = dir.join("adapter.db");
    let config = dir.join("adapter.toml");
    std::fs::write(&config, config_toml("127.0.0.1:0", &store)).expect("write config");
    let credential = add(&store, "kiosk-1", "kiosk");

    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().expect("utf-8")])
        .env("CHANNEL_ADAPTER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let out = child.stdout.take().expect("stdout");
    let server = Server(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read the listening line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");

    let r = call(addr, &credential, "POST", "/v1/heartbeat", Some("{}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["device"]["name"], "kiosk-1");
    let r = call(addr, "ca1.1.00", "POST", "/v1/heartbeat", Some("{}")).await;
    assert_eq!(r.error_code(), "INVALID_CREDENTIAL");

    // Revoking from the command line takes effect at once on the running server.
    let o = run(&[
        "device",
        "revoke",
        "--store",
        store.to_str().expect("utf-8"),
        "kiosk-1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = call(addr, &credential, "POST", "/v1/heartbeat", Some("{}")).await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "DEVICE_REVOKED"));

    let r = common::http(addr, "GET", "/v1/openapi.json", &[], None).await;
    assert_eq!(r.json()["info"]["version"], "1.0.0");
    let metrics = common::http(addr, "GET", "/metrics", &[], None)
        .await
        .text();
    assert!(metrics.contains("channel_adapter_build_info"), "{metrics}");
    drop(server);
}

#[test]
fn serve_refuses_an_invalid_configuration() {
    let dir = TempDir::new("cli-serve-bad");
    let config = dir.join("adapter.toml");
    std::fs::write(
        &config,
        config_toml("127.0.0.1:0", &dir.join("a.db"))
            .replace("primitives = \"v2\"", "primitives = 2"),
    )
    .expect("write");
    let o = run(&["serve", "--config", config.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nodo.primitives"), "{}", stderr(&o));
}

/// `channel-adapter <command…>` with these `--option value` pairs.
fn run_with(command: &[&str], options: &[(&str, &str)]) -> Output {
    let mut args = command.to_vec();
    for (option, value) in options {
        args.extend([*option, *value]);
    }
    run(&args)
}

/// `channel-adapter device enroll-code` with these options.
fn enroll_code(options: &[(&str, &str)]) -> Output {
    run_with(&["device", "enroll-code"], options)
}

/// `channel-adapter user add --store <store> --name <name> --role <role>` and its `scope`.
fn user_add(store: &str, name: &str, role: &str, scope: &[&str]) -> Output {
    let mut args = vec![
        "user", "add", "--store", store, "--name", name, "--role", role,
    ];
    args.extend(scope);
    run(&args)
}

/// `channel-adapter device config` of Roma (`--device` among the `extra` options) from `file`.
fn device_config(store: &str, extra: &[(&str, &str)], file: &Path) -> Output {
    let mut options = vec![("--store", store), ("--comune", "02438750586")];
    options.extend(extra);
    options.push(("--file", file.to_str().expect("utf-8")));
    run_with(&["device", "config"], &options)
}

#[test]
fn enroll_code_prints_a_code_and_the_certificate_fingerprint() {
    let dir = TempDir::new("cli-enroll-code");
    let store = dir.join("adapter.db");
    let config = dir.join("adapter.toml");
    std::fs::write(
        &config,
        format!("{}{}", config_toml("127.0.0.1:0", &store), tls_toml()),
    )
    .expect("write config");
    let o = enroll_code(&[
        ("--config", config.to_str().expect("utf-8")),
        ("--comune", "02438750586"),
        ("--location", "Ufficio tributi, piano terra"),
        ("--kind", "counter"),
        ("--ttl", "2h"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let code = out
        .lines()
        .find_map(|l| l.strip_prefix("code: "))
        .unwrap_or_else(|| panic!("no code in {out:?}"));
    assert_eq!(code.len(), 14);
    assert_eq!(code.matches('-').count(), 2);
    assert!(out.contains("expires: "), "{out}");
    let fp = out
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap_or_else(|| panic!("no fingerprint in {out:?}"));
    assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");

    // Without TLS there is no fingerprint; a bad comune or lifetime is refused.
    let s = store.to_str().expect("utf-8");
    let o = enroll_code(&[
        ("--store", s),
        ("--comune", "02438750586"),
        ("--location", "x"),
        ("--kind", "kiosk"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("fingerprint"));
    for (comune, ttl) in [("02438750587", "1h"), ("02438750586", "99d")] {
        let o = enroll_code(&[
            ("--store", s),
            ("--comune", comune),
            ("--location", "x"),
            ("--kind", "kiosk"),
            ("--ttl", ttl),
        ]);
        assert!(!o.status.success(), "{comune} {ttl}");
    }
}

#[test]
fn user_add_list_revoke() {
    let dir = TempDir::new("cli-users");
    let s = dir.join("adapter.db");
    let s = s.to_str().expect("utf-8");
    let roma_and_fiumicino = ["--comune", "02438750586", "--comune", "97086740582"];
    let o = user_add(s, "ada", "operator", &roma_and_fiumicino);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    assert!(
        token.starts_with("cu1."),
        "stdout is only the token: {token:?}"
    );
    let o = user_add(s, "root", "admin", &["--all-comuni"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = user_add(s, "x", "admin", &[]);
    assert!(!o.status.success(), "a scope is required");

    let (list, printed) = list_json("user", s);
    assert_eq!(list[0]["name"], "ada");
    assert_eq!(list[0]["role"], "operator");
    assert_eq!(list[0]["comuni"], "02438750586,97086740582");
    assert_eq!(list[1]["comuni"], "all");
    assert!(!printed.contains(&token[6..]));

    let o = run(&["user", "revoke", "--store", s, "ada"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["user", "list", "--store", s]);
    assert!(stdout(&o).contains("revoked"), "{}", stdout(&o));
}

#[test]
fn device_config_publishes_validated_settings() {
    let dir = TempDir::new("cli-config");
    let store = dir.join("adapter.db");
    let s = store.to_str().expect("utf-8");
    let good = dir.join("settings.toml");
    std::fs::write(&good, "printer_width = 48\nlanguages = [\"it\", \"en\"]\n").expect("write");
    let o = device_config(s, &[], &good);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("version 1"), "{}", stdout(&o));

    let json = dir.join("settings.json");
    std::fs::write(&json, r#"{"screen_timeout_s": 60}"#).expect("write");
    let o = device_config(s, &[], &json);
    assert!(stdout(&o).contains("version 2"), "{}", stdout(&o));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"printer_width": 100}"#).expect("write");
    let o = device_config(s, &[], &bad);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("printer_width"), "{}", stderr(&o));
    let o = device_config(s, &[("--device", "42")], &good);
    assert!(!o.status.success(), "no such device");
}
