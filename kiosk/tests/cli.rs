//! The `kiosk` binary's tools: `journal verify`, `check-config`, `hash-pin`.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use channel_api::Timestamp;
use common::TempDir;

fn kiosk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiosk"))
}

#[test]
fn journal_verify_passes_an_intact_journal_and_names_the_broken_entry() {
    let dir = TempDir::new("cli-journal");
    let path = dir.join("journal.db");
    {
        let mut j = kiosk::journal::Journal::open(&path).expect("journal");
        for i in 0..5 {
            j.append(
                Timestamp::from_unix_millis(i),
                "test",
                &format!("{{\"i\":{i}}}"),
            )
            .expect("append");
        }
    }
    let ok = kiosk()
        .args(["journal", "verify", "--journal"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("5 entries"));

    let j = kiosk::journal::Journal::open(&path).expect("journal");
    j.connection()
        .execute("UPDATE entries SET body = '{\"i\":7}' WHERE seq = 3", [])
        .expect("tamper");
    drop(j);
    let bad = kiosk()
        .args(["journal", "verify", "--journal"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("JOURNAL_BROKEN") && err.contains("entry 3"),
        "{err}"
    );
}

#[test]
fn check_config_reports_the_field() {
    let dir = TempDir::new("cli-config");
    let good = dir.join("good.toml");
    let text = common::agent_toml(
        "counter",
        "http://127.0.0.1:9",
        "ca1.1.x",
        &dir.join("j.db"),
    );
    std::fs::write(&good, &text).expect("write");
    let out = kiosk()
        .arg("check-config")
        .arg("--config")
        .arg(&good)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("max_payment_cents = 20000", "max_payment_cents = 90000"),
    )
    .expect("write");
    let out = kiosk()
        .arg("check-config")
        .arg("--config")
        .arg(&bad)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("offline.max_payment_cents"));
}

#[test]
fn hash_pin_prints_an_argon2_hash_that_verifies() {
    let mut child = kiosk()
        .arg("hash-pin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"13579\n")
        .expect("write");
    let out = child.wait_with_output().expect("runs");
    assert!(out.status.success());
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(kiosk::auth::verify_pin(&hash, "13579"));
}
