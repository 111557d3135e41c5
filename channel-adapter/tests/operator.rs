//! The operators' commands of the binary: `nodo check` against a Nodo (nodo-sim on loopback),
//! `outbox list|reset` and `exceptions` on a store.

mod common;

use std::process::{Command, Output};

use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::store::{ActivatedInfo, NewPayment, Store};
use channel_api::{
    ClientKey, DeviceKind, OutcomeRequest, PaidWith, PaymentId, ReportedOutcome, Tender,
};
use common::TempDir;
use common::stack::{StackOptions, notice, sim_config, stack_config_toml};
use pagopa::soap::{IdempotencyKey, PaymentToken};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};

const BIN: &str = env!("CARGO_BIN_EXE_channel-adapter");

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(args)
            .env_remove("CHANNEL_ADAPTER_CONFIG")
            .env("CHANNEL_ADAPTER_LOG", "warn")
            .output()
            .expect("run the binary")
    })
    .await
    .expect("join")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodo_check_prints_the_nodo_answer() {
    let o = StackOptions::default();
    let sim = nodo_sim::Simulator::start(sim_config(&o, 3))
        .await
        .expect("nodo-sim");
    let dir = TempDir::new("nodo-check");
    let url = format!("http://{}{}", sim.addr(), nodo_sim::SOAP_PATH);
    let config = dir.join("adapter.toml");
    std::fs::write(
        &config,
        stack_config_toml("127.0.0.1:0", &dir.join("a.db"), &url, &o),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let check = |n: String| {
        vec![
            "nodo".into(),
            "--config".into(),
            config.clone(),
            "check".into(),
            "--notice".into(),
            n,
            "--fiscal-code".into(),
            "77777777777".into(),
        ]
    };
    let out = run(check(notice(1, 1))).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = text(&out);
    assert!(stdout.contains("outcome: OK"), "{stdout}");
    assert!(stdout.contains("amount: 100.00 EUR"), "{stdout}");

    let out = run(check(notice(95, 1))).await;
    assert!(out.status.success());
    let stdout = text(&out);
    assert!(stdout.contains("outcome: KO"), "{stdout}");
    assert!(
        stdout.contains("fault: PPT_ERRORE_EMESSO_DA_PAA"),
        "{stdout}"
    );
    assert!(
        stdout.contains("original fault: PAA_PAGAMENTO_DUPLICATO"),
        "{stdout}"
    );
    assert!(stdout.contains("action: ALREADY_PAID"), "{stdout}");

    // The calls were journaled in the configured store.
    let store = Store::open(&dir.join("a.db")).expect("store");
    assert_eq!(store.calls_without_payment().expect("journal").len(), 2);

    sim.shutdown().await.expect("stop");
    // No Nodo at all: a failure with the reason, not an answer.
    let out = run(check(notice(1, 2))).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no answer from the Nodo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_list_reset_and_exceptions() {
    let dir = TempDir::new("outbox-cli");
    let path = dir.join("a.db");
    let store = Store::open(&path).expect("store");
    let cf = |s: &str| CreditorFiscalCode::parse(s, CheckMode::Lenient).expect("cf");
    let now = SystemClock.now();
    let device = channel_adapter::devices::add(
        &store,
        "counter-1",
        "02438750586",
        DeviceKind::Counter,
        &OsRandom,
        now,
    )
    .expect("device")
    .device
    .id;
    let id = PaymentId::parse("pay00000000000001").expect("id");
    let key = |s: &str| IdempotencyKey::new("70000000001", s).expect("key");
    store
        .insert_payment(
            &NewPayment {
                id: id.clone(),
                device_id: device,
                comune: cf("02438750586"),
                client_key: ClientKey::parse("counter-1-op-0001").expect("ck"),
                notice_number: NoticeNumber::parse(&notice(1, 1), CheckMode::Lenient)
                    .expect("notice"),
                creditor_fiscal_code: cf("77777777777"),
                amount: Amount::from_cents(10_000).expect("amount"),
                fee: Amount::from_cents(100).expect("fee"),
                tender: Tender::Cash,
                activate_key: key("ACTIVATE01"),
            },
            now,
        )
        .expect("insert");
    store
        .mark_active(
            id.as_str(),
            &ActivatedInfo {
                payment_token: PaymentToken::new("c110729d258c4ab1b765fe902aae41d6")
                    .expect("token"),
                token_expires_at: now.add_millis(600_000),
                amount: Amount::from_cents(10_000).expect("amount"),
                iuv: "02010000000000001".into(),
                creditor_name: None,
                description: None,
            },
            now,
        )
        .expect("active");
    let report = ReportedOutcome {
        report: OutcomeRequest::Ok {
            paid_with: PaidWith::Cash,
            fee: Amount::from_cents(100).expect("fee"),
            paid_at: now,
            terminal: None,
            receipt_number: None,
        },
        reported_at: now,
    };
    store
        .record_outcome(
            id.as_str(),
            &report,
            Amount::from_cents(100).expect("fee"),
            &key("OUTCOME001"),
            now,
        )
        .expect("record");
    store.outbox_attempt(id.as_str(), now).expect("attempt");
    store
        .outbox_park(id.as_str(), "PPT_TOKEN_SCONOSCIUTO", "ALERT", now)
        .expect("park");
    drop(store);
    let p = path.to_string_lossy().into_owned();
    let args = |a: &[&str]| {
        let mut v: Vec<String> = a.iter().map(|s| (*s).to_owned()).collect();
        v.extend(["--store".to_owned(), p.clone()]);
        v
    };

    let out = run(args(&["outbox", "list", "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["payment_id"], id.as_str());
    assert_eq!(list[0]["state"], "needs_attention");
    assert_eq!(list[0]["attempts"], 1);
    assert_eq!(list[0]["last_action"], "ALERT");
    assert!(list[0]["parked_at"].is_string());

    let out = run(args(&["exceptions"])).await;
    let stdout = text(&out);
    assert!(
        stdout.contains(id.as_str()) && stdout.contains("needs_attention"),
        "{stdout}"
    );

    let out = run(args(&["outbox", "reset", id.as_str()])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(args(&["outbox", "list", "--json"])).await;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["state"], "outcome_pending");
    assert_eq!(list[0]["attempts"], 0);
    assert!(list[0]["parked_at"].is_null());
    let out = run(args(&["exceptions"])).await;
    assert!(!text(&out).contains(id.as_str()));

    let out = run(args(&["outbox", "reset", "pay00000000000099"])).await;
    assert!(!out.status.success(), "nothing to reset is an error");
}
