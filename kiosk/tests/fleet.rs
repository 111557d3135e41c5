//! The agent as a member of the fleet, end to end over loopback HTTP against the real channel
//! adapter and nodo-sim: it enrolls with a key it made and then signs every request; it picks
//! up a configuration published on the adapter while it runs; its heartbeat carries the
//! printer's paper-out to the fleet view; a revocation mid-payment stops it without taking
//! money.

mod common;

use std::time::Duration;

use channel_adapter::ambient::{Clock as _, OsRandom, SystemClock};
use channel_adapter::store::fleet::ConfigScope;
use channel_api::DeviceKind;
use channel_api::fleet::{
    CredentialKind, DeviceSettings, EnrollRequest, FeeDisplay, PaperLevel, RotateCredentialRequest,
};
use common::{
    TempDir, adapter_fixture, adapter_payment_of, adapter_without_nodo, agent_toml, backend,
    confirm, http, journal_kinds, login, manual, pay_by_card, poll_until, scan, screen, tap_card,
    wait_for,
};
use kiosk::adapter::AdapterClient;
use kiosk::config::{Config, DeviceCredential};
use kiosk::device_key::DeviceKey;
use kiosk::flow::Failure;
use serde_json::{Value, json};

/// Enroll a new device of `kind` through the adapter's API, with a key made here; the agent's
/// configuration for it (key file, device id) and its id.
async fn enroll(backend: &common::Backend, kind: DeviceKind, dir: &TempDir) -> (Config, u64) {
    let issued = channel_adapter::enroll::create_code(
        &backend.store,
        &OsRandom,
        &channel_adapter::enroll::CodeRequest {
            comune: "00085240950",
            location: "Ufficio anagrafe",
            kind,
            ttl: Duration::from_secs(600),
            created_by: "test",
        },
        SystemClock.now(),
    )
    .expect("enrollment code");
    let key = DeviceKey::generate().expect("key");
    let enrolled = AdapterClient::for_enrollment(&backend.url(), None)
        .expect("client")
        .enroll(&EnrollRequest {
            code: issued.code.display(),
            public_key: key.public_key(),
            hostname: Some("kiosk-test".into()),
            agent_version: Some(env!("CARGO_PKG_VERSION").into()),
        })
        .await
        .expect("enrolled");
    let id = enrolled.device.id;
    let key_file = dir.join("device.key");
    key.save(&key_file).expect("key saved");
    let mode = match kind {
        DeviceKind::Kiosk => "kiosk",
        _ => "counter",
    };
    let text = agent_toml(mode, &backend.url(), "unused", &dir.join("journal.db")).replace(
        "credential = \"unused\"",
        &format!("key_file = \"{}\"\ndevice_id = {id}", key_file.display()),
    );
    let config = Config::from_toml(&text).expect("agent config");
    assert_eq!(
        config.adapter.credential,
        DeviceCredential::Key {
            device_id: id,
            key_file
        }
    );
    (config, id)
}

async fn status(addr: std::net::SocketAddr) -> Value {
    http(addr, "GET", "/api/status", None, None).await.json()
}

/// Poll the adapter's record of device `id` until `pred` holds.
async fn device_until(
    backend: &common::Backend,
    id: u64,
    what: &str,
    pred: impl Fn(&channel_adapter::store::DeviceRecord) -> bool,
) -> channel_adapter::store::DeviceRecord {
    let device = async || backend.store.device(id).expect("store").expect("device");
    poll_until(15, what, device, pred).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_kiosk_pays_with_signed_requests() {
    let backend = backend().await;
    let dir = TempDir::new("fleet-signed");
    let (config, id) = enroll(&backend, DeviceKind::Kiosk, &dir).await;
    let client_config = config.adapter.clone();
    let client = AdapterClient::new(&client_config)
        .expect("client")
        .signed_by(id, DeviceKey::load(&dir.join("device.key")).expect("key"));
    let me = client.device_status().await.expect("signed status");
    assert_eq!(me.device.id, id);
    assert_eq!(me.credential, CredentialKind::KeyPair);

    let agent = kiosk::Agent::start(config).await.expect("agent starts");
    let addr = agent.addr();
    let v = pay_by_card(addr, &backend.notices[0].qr()).await;
    assert!(v["error"].is_null(), "{v}");
    let flow = v["flow_id"].as_str().expect("flow").to_owned();

    // The adapter has the payment, with its outcome, from this device.
    let list = client.payments().await.expect("signed list");
    let p = list
        .payments
        .iter()
        .find(|p| p.client_key.as_str() == format!("act-{flow}"))
        .expect("payment at the adapter");
    let p = client.payment(&p.id).await.expect("payment");
    assert_eq!(
        serde_json::to_value(&p).expect("json")["outcome"]["outcome"],
        "OK"
    );
    // And the heartbeats: the journal head and the applied configuration reach the fleet.
    agent.sync_now();
    let d = device_until(&backend, id, "a heartbeat with health", |d| {
        d.health.as_ref().is_some_and(|h| h.journal_head.is_some())
    })
    .await;
    assert_eq!(d.credential, CredentialKind::KeyPair);

    // A new key, as `provision rotate-credential` makes it while the agent runs: the running
    // agent signs with it from its next request on.
    let key_file = match &client_config.credential {
        DeviceCredential::Key { key_file, .. } => key_file.clone(),
        other => panic!("enrolled: {other:?}"),
    };
    let new_key = DeviceKey::generate().expect("key");
    let changed = client
        .rotate_credential(&RotateCredentialRequest {
            public_key: new_key.public_key(),
        })
        .await
        .expect("rotated");
    new_key.save(&key_file).expect("new key in place");
    let refused = client.device_status().await.expect_err("the old key");
    assert!(
        matches!(&refused, Failure::Refused { error } if error.code.as_str() == "SIGNATURE_INVALID"),
        "{refused:?}"
    );
    agent.sync_now();
    device_until(&backend, id, "a heartbeat signed with the new key", |d| {
        d.last_heartbeat_at.is_some_and(|t| t > changed.at)
    })
    .await;
    assert!(status(addr).await["credential_refused"].is_null());
    agent.shutdown().await;
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_configuration_reaches_the_running_agent_and_survives_a_restart() {
    let backend = backend().await;
    let dir = TempDir::new("fleet-config");
    let (config, id) = enroll(&backend, DeviceKind::Kiosk, &dir).await;
    let agent = kiosk::Agent::start(config.clone())
        .await
        .expect("agent starts");
    let addr = agent.addr();
    let v = http(addr, "GET", "/api/state", None, None).await.json();
    assert_eq!(v["languages"], json!(["it", "en", "de"]));
    assert_eq!(v["fee_display"], "itemized");

    let version = channel_adapter::fleet::publish(
        &backend.store,
        ConfigScope::Device(id),
        &DeviceSettings {
            fee_display: Some(FeeDisplay::TotalFirst),
            languages: Some(vec!["en".into(), "it".into()]),
            screen_timeout_s: Some(12),
            printer_width: Some(32),
            ..DeviceSettings::default()
        },
        "test",
        SystemClock.now(),
    )
    .expect("published");
    agent.sync_now();
    let v = wait_for(addr, 15, "the managed languages", |v| {
        v["languages"] == json!(["en", "it"])
    })
    .await;
    assert_eq!(v["fee_display"], "total_first");
    let s = status(addr).await;
    assert_eq!(s["settings"]["version"], version);
    assert_eq!(s["settings"]["screen_timeout_s"], 12);
    assert_eq!(s["settings"]["languages"], json!(["en", "it"]));
    assert_eq!(s["settings"]["receipt_width"], 32);

    // The next payment runs with the new screen timeout (the local one is 30 s).
    let v = scan(addr, None, &backend.notices[1].qr()).await;
    let left = v["deadline_ms_left"].as_i64().expect("deadline");
    assert!(left <= 12_000, "screen timeout applied: {left} ms left");
    confirm(addr, None, None).await;
    tap_card(addr).await;
    let v = screen(addr, "done").await;
    assert!(v["error"].is_null(), "{v}");
    // Its receipt is printed for 58 mm paper: 32 characters a line.
    let printout = agent
        .sims()
        .printer
        .as_ref()
        .expect("printer sim")
        .printout()
        .expect("printout");
    let lines = printout.text_lines();
    assert!(lines.iter().any(|l| l.contains("RICEVUTA")), "{lines:?}");
    let widest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 32, "a line of {widest} characters: {lines:#?}");
    http(addr, "POST", "/api/done", None, None).await;

    // The adapter learns which version is applied.
    agent.sync_now();
    device_until(&backend, id, "the applied version", |d| {
        d.applied_config_version == Some(version)
    })
    .await;
    agent.shutdown().await;

    // Restarted with the adapter unreachable, the station keeps the managed settings.
    backend.set_down(true);
    let agent = kiosk::Agent::start(config).await.expect("agent restarts");
    let v = http(agent.addr(), "GET", "/api/state", None, None)
        .await
        .json();
    assert_eq!(v["languages"], json!(["en", "it"]));
    assert_eq!(v["fee_display"], "total_first");
    agent.shutdown().await;
    assert!(
        journal_kinds(&dir.join("journal.db"))
            .iter()
            .any(|k| k == "settings_applied"),
        "the change is journaled"
    );
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_out_reaches_the_fleet_view_with_the_next_heartbeat() {
    let backend = backend().await;
    let dir = TempDir::new("fleet-paper");
    let (config, id) = enroll(&backend, DeviceKind::Kiosk, &dir).await;
    let agent = kiosk::Agent::start(config).await.expect("agent starts");
    agent.sync_now();
    device_until(&backend, id, "paper ok", |d| {
        d.health
            .as_ref()
            .and_then(|h| h.printer)
            .is_some_and(|p| p.online && p.paper == PaperLevel::Ok)
    })
    .await;

    let printer = agent.sims().printer.as_ref().expect("printer sim");
    printer.set_state(drivers::sim::printer::PrinterState {
        paper: drivers::sim::printer::Paper::Out,
        ..Default::default()
    });
    agent.sync_now();
    let d = device_until(&backend, id, "paper out", |d| {
        d.health
            .as_ref()
            .and_then(|h| h.printer)
            .is_some_and(|p| p.paper == PaperLevel::Out)
    })
    .await;
    let (state, reasons) =
        channel_adapter::fleet::status(&d, SystemClock.now(), Duration::from_secs(300), 0);
    assert_eq!(state, channel_adapter::fleet::FleetStatus::Error);
    assert!(reasons.contains(&"paper_out"), "{reasons:?}");
    agent.shutdown().await;
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revoked_mid_payment_is_refused_and_takes_no_money() {
    let backend = backend().await;
    let dir = TempDir::new("fleet-revoked");
    let (config, id) = enroll(&backend, DeviceKind::Counter, &dir).await;
    let agent = kiosk::Agent::start(config).await.expect("agent starts");
    let addr = agent.addr();
    let token = login(addr).await;
    let t = Some(token.as_str());
    let v = manual(addr, t, &backend.notices[2]).await;
    let flow = v["flow_id"].as_str().expect("flow").to_owned();

    // The adapter revokes the device while the clerk reads the amounts to the citizen.
    channel_adapter::devices::revoke(&backend.store, &id.to_string(), SystemClock.now())
        .expect("revoked");
    http(
        addr,
        "POST",
        "/api/confirm",
        t,
        Some(r#"{"method":"cash"}"#),
    )
    .await;
    let v = wait_for(addr, 15, "the refusal", |v| {
        v["error"]["code"] == "DEVICE_REVOKED"
    })
    .await;
    assert_ne!(v["screen"], "tender", "no cash asked for: {v}");
    assert!(v["tendered_cents"].is_null(), "{v}");

    // No payment was opened at the adapter for this flow, and the drawer never opened.
    let opened = adapter_payment_of(&backend, &backend.counter_credential, &flow).await;
    assert!(opened.is_none(), "{opened:?}");
    let printer = agent.sims().printer.as_ref().expect("printer sim");
    let kick = [0x1b, b'p'];
    assert!(
        !printer.received().windows(2).any(|w| w == kick),
        "the drawer was not opened"
    );

    // The technician's status page says why.
    agent.sync_now();
    let s = poll_until(
        15,
        "the refusal on the status page",
        async || status(addr).await,
        |s| {
            s["credential_refused"]
                .as_str()
                .is_some_and(|r| r.starts_with("DEVICE_REVOKED"))
        },
    )
    .await;
    assert!(
        s["recent_errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["text"]
                .as_str()
                .is_some_and(|t| t.contains("DEVICE_REVOKED")))),
        "{s}"
    );
    agent.shutdown().await;
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pinned_certificate_is_trusted() {
    let dir = TempDir::new("fleet-tls");
    let (addr, store, task) = adapter_without_nodo(&dir, true).await;
    let url = format!("https://localhost:{}", addr.port());
    let code = || {
        channel_adapter::enroll::create_code(
            &store,
            &OsRandom,
            &channel_adapter::enroll::CodeRequest {
                comune: "00085240950",
                location: "Ufficio tributi",
                kind: DeviceKind::Kiosk,
                ttl: Duration::from_secs(600),
                created_by: "test",
            },
            SystemClock.now(),
        )
        .expect("code")
        .code
        .display()
    };
    let key = DeviceKey::generate().expect("key");
    let request = EnrollRequest {
        code: code(),
        public_key: key.public_key(),
        hostname: None,
        agent_version: None,
    };

    // Another certificate pinned: a distinct failure, and still "no answer" for the money rules.
    let other = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/other.pem");
    let e = AdapterClient::for_enrollment(&url, Some(&other))
        .expect("client")
        .enroll(&request)
        .await
        .expect_err("another certificate");
    assert!(kiosk::adapter::is_certificate_mismatch(&e), "{e:?}");
    assert!(matches!(e, kiosk::flow::Failure::Unreachable { .. }));
    // Nothing pinned: only the public web roots, which do not know the test CA.
    let e = AdapterClient::for_enrollment(&url, None)
        .expect("client")
        .enroll(&request)
        .await
        .expect_err("unknown CA");
    assert!(!kiosk::adapter::is_certificate_mismatch(&e), "{e:?}");
    assert!(format!("{e:?}").contains("not trusted"), "{e:?}");

    // The CA pinned: enrolled (the code was not spent by the failed handshakes).
    let enrolled = AdapterClient::for_enrollment(&url, Some(&adapter_fixture("ca.pem")))
        .expect("client")
        .enroll(&request)
        .await
        .expect("enrolled over TLS");
    // The adapter's own certificate pinned: signed requests go through.
    let client = AdapterClient::for_enrollment(&url, Some(&adapter_fixture("server.pem")))
        .expect("client")
        .signed_by(enrolled.device.id, key);
    let me = client.device_status().await.expect("signed over TLS");
    assert_eq!(me.credential, CredentialKind::KeyPair);
    task.abort();
}
