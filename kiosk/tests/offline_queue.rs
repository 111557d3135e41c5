//! A day without network at the counter: the adapter is unreachable while a clerk takes 200
//! offline cash payments through the agent's API; then it comes back, and the queue goes to it
//! in the order taken, each payment exactly once, and the day's closing squares.

mod common;

use common::{
    TempDir, agent_toml, backend_with, close_day, confirm, http, login, offline_view, pay_cash,
    poll, queue_drained, scan,
};
use kiosk::config::Config;
use serde_json::Value;

const PAYMENTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_offline_payments_are_forwarded_in_order_exactly_once() {
    let backend = backend_with(PAYMENTS, 100_000, true).await;
    assert_eq!(
        backend.notices.len(),
        PAYMENTS,
        "the demo catalogue has enough open notices"
    );
    let dir = TempDir::new("offline-200");
    // Limits high enough for a whole day offline.
    let text = agent_toml(
        "counter",
        &backend.url(),
        &backend.counter_credential,
        &dir.join("journal.db"),
    )
    .replace("max_payment_cents = 20000", "max_payment_cents = 100000")
    .replace(
        "max_outstanding_cents = 50000",
        "max_outstanding_cents = 100000000",
    );
    let config = Config::from_toml(&text).expect("agent config");
    let agent = kiosk::Agent::start(config).await.expect("agent starts");
    let addr = agent.addr();
    let token = login(addr).await;
    let t = Some(token.as_str());

    backend.set_down(true);
    let mut taken = Vec::with_capacity(PAYMENTS);
    let mut expected_cents = 0u64;
    for n in &backend.notices {
        let v = scan(addr, t, &n.qr()).await;
        assert_eq!(v["offline_payment"], true, "{v}");
        let v = confirm(addr, t, Some("cash")).await;
        let total = v["notice"]["total_cents"].as_u64().expect("total");
        let v = pay_cash(addr, t, total).await;
        assert!(v["error"].is_null(), "{v}");
        taken.push(v["flow_id"].as_str().expect("flow").to_owned());
        expected_cents += total;
        let a = http(addr, "POST", "/api/done", t, None).await;
        assert_eq!(a.status, 200);
    }

    // Staff see the queue, in the order taken, and what it adds up to.
    let (o, queue) = offline_view(addr, t).await;
    assert_eq!(o["online"], false);
    assert_eq!(queue, taken, "queued in the order taken");
    assert_eq!(o["outstanding_cents"], expected_cents);
    let s = http(addr, "GET", "/api/status", None, None).await.json();
    assert_eq!(s["queue_depth"], PAYMENTS);

    // The adapter is back.
    backend.set_down(false);
    agent.sync_now();
    queue_drained(addr, t, 60, Some(&agent)).await;
    // The agent's part ends when the adapter has accepted a payment (its flow is then settled);
    // the adapter's outbox takes each to the Nodo. Wait until the Nodo has a receipt for every
    // notice, then check that none has two.
    poll(180, "final payments", async || {
        let s = http(addr, "GET", "/api/status", None, None).await.json();
        assert_eq!(s["queue_depth"], 0);
        let receipts = backend.nodo.receipts().len();
        if s["flows_active"] == 0 && receipts >= PAYMENTS {
            return Ok(());
        }
        Err(format!("{receipts} Nodo receipts; agent {s}"))
    })
    .await;
    let receipts = backend.nodo.receipts();
    assert_eq!(
        receipts.len(),
        PAYMENTS,
        "no receipt more than the payments"
    );
    for n in &backend.notices {
        assert_eq!(
            receipts
                .iter()
                .filter(|r| r.receipt.notice_number.to_string() == n.notice_number
                    && r.receipt.fiscal_code.to_string() == n.fiscal_code)
                .count(),
            1,
            "one Nodo receipt for notice {} {}",
            n.fiscal_code,
            n.notice_number
        );
    }

    // At the adapter: each payment once, in the order taken (its list is newest first).
    let list = http(
        backend.addr,
        "GET",
        "/v1/payments?limit=500",
        Some(&backend.counter_credential),
        None,
    )
    .await
    .json();
    let mut forwarded: Vec<&Value> = list["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .filter(|p| {
            p["client_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("off-"))
        })
        .collect();
    forwarded.reverse();
    let keys: Vec<String> = forwarded
        .iter()
        .filter_map(|p| p["client_key"].as_str().map(str::to_owned))
        .collect();
    let want: Vec<String> = taken.iter().map(|f| format!("off-{f}")).collect();
    assert_eq!(keys, want, "forwarded in order, exactly once");
    let at_adapter: u64 = forwarded.iter().filter_map(|p| p["total"].as_u64()).sum();
    assert_eq!(at_adapter, expected_cents);
    assert!(
        forwarded.iter().all(|p| p["offline"] == true),
        "every one recorded as taken offline"
    );

    // The day's closing squares, and the adapter agrees.
    let c = http(addr, "GET", "/api/closing", t, None).await.json();
    assert_eq!(c["totals"]["cash_count"], PAYMENTS);
    assert_eq!(c["totals"]["offline_cash_cents"], expected_cents);
    assert_eq!(c["expected_cash_cents"], expected_cents);
    assert_eq!(c["queued_offline"], 0, "{c}");
    let c = close_day(addr, t, expected_cents).await;
    assert_eq!(c["difference_cents"], 0);
    assert_eq!(c["closing"]["adapter"], "agree", "{c}");
    assert_eq!(c["closing"]["payments"], PAYMENTS, "{c}");

    agent.shutdown().await;

    // The journal's batches: each payment in the order taken (a batch resent after a lost
    // answer would repeat, harmlessly, the same keys).
    let journal = kiosk::journal::Journal::open(&dir.join("journal.db")).expect("journal");
    let mut batched: Vec<String> = Vec::new();
    for r in kiosk::record::read_all(&journal.entries().expect("entries")).expect("records") {
        if let kiosk::record::Record::SyncBatch { flows } = r.record {
            for f in flows {
                if !batched.contains(&f.as_str().to_owned()) {
                    batched.push(f.as_str().to_owned());
                }
            }
        }
    }
    assert_eq!(batched, taken, "batched in the order taken");
    journal.verify().expect("intact journal");
    backend.stop();
}
