//! The agent end to end over loopback HTTP: its local API in front, the real channel adapter
//! (with the simulated Nodo) behind, and the drivers' simulators (ECR17 terminal and ESC/POS
//! printer on TCP, scanner on a pseudo-terminal) as devices.

mod common;

use std::time::Duration;

use common::{
    TempDir, adapter_payment_of, agent_toml, backend, close_day, confirm, http, journal_kinds,
    login_as, manual, offline_view, pay_cash, poll, poll_until, queue_drained, receipt_preview,
    scan, screen, session_token, tap_card, wait_for,
};
use kiosk::config::Config;
use serde_json::{Value, json};

async fn start_agent(mode: &str, url: &str, credential: &str, dir: &TempDir) -> kiosk::AgentHandle {
    let text = agent_toml(mode, url, credential, &dir.join("journal.db"));
    let config = Config::from_toml(&text).expect("agent config");
    kiosk::Agent::start(config).await.expect("agent starts")
}

/// Log the clerk in; the session token (also set as an HttpOnly cookie).
async fn login(addr: std::net::SocketAddr) -> String {
    let a = login_as(addr, "mrossi", "2468").await;
    let token = session_token(&a);
    assert!(
        a.header("set-cookie")
            .is_some_and(|c| c.contains("kiosk_session=") && c.contains("HttpOnly"))
    );
    token
}

async fn adapter_payment(backend: &common::Backend, credential: &str, id: &str) -> Value {
    let a = http_adapter(backend, credential, &format!("/v1/payments/{id}")).await;
    a.json()
}

async fn http_adapter(backend: &common::Backend, credential: &str, path: &str) -> common::Answer {
    http(backend.addr, "GET", path, Some(credential), None).await
}

/// The closings the adapter kept for the counter on `day`.
async fn adapter_closings(backend: &common::Backend, day: &str) -> Value {
    let path = format!("/v1/closings?day={day}");
    http_adapter(backend, &backend.counter_credential, &path)
        .await
        .json()
}

fn journal_intact(dir: &TempDir) -> u64 {
    let j = kiosk::journal::Journal::open(&dir.join("journal.db")).expect("journal");
    j.verify().expect("intact chain").entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_card_payment_from_scan_to_receipt() {
    let backend = backend().await;
    let dir = TempDir::new("kiosk-card");
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    let notice = backend.notices[0].clone();

    // The scanner (a pseudo-terminal simulator) reads the notice.
    let a = http(
        addr,
        "POST",
        "/sim/scan",
        None,
        Some(&json!({ "payload": notice.qr() }).to_string()),
    )
    .await;
    assert_eq!(a.status, 202);
    let v = screen(addr, "confirm").await;
    assert_eq!(v["mode"], "kiosk");
    assert_eq!(v["notice"]["notice_number"], notice.notice_number.as_str());
    assert_eq!(v["notice"]["amount_cents"], notice.amount_cents);
    assert_eq!(
        v["notice"]["fee_cents"], 120,
        "the kiosk card fee from the adapter"
    );
    assert_eq!(v["notice"]["total_cents"], notice.amount_cents + 120);
    assert!(v["notice"]["creditor_name"].is_string());
    assert_eq!(v["methods"], json!(["card"]));

    // Cash is refused at a kiosk; card goes through the terminal.
    let a = http(addr, "POST", "/api/confirm", None, None).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    screen(addr, "tender").await;
    let a = http(
        addr,
        "POST",
        "/api/pay",
        None,
        Some(r#"{"method":"cash","tendered_cents":100000}"#),
    )
    .await;
    assert_eq!(a.status, 409);
    assert_eq!(a.json()["code"], "TENDER_NOT_ACCEPTED");
    let a = http(addr, "POST", "/api/pay", None, Some(r#"{"method":"card"}"#)).await;
    assert_eq!(a.status, 200);
    let v = screen(addr, "done").await;
    let flow = v["flow_id"].as_str().expect("flow id").to_owned();
    assert_eq!(v["receipt_id"], flow.as_str());
    assert!(v["error"].is_null(), "{v}");

    // The terminal charged amount + fee once.
    let sims = agent.sims();
    let terminal = sims.terminal.as_ref().expect("terminal sim");
    assert_eq!(terminal.payments_executed(), 1);
    assert_eq!(terminal.total_cents(), notice.amount_cents + 120);

    // The printer received the receipt; the preview is rendered from those bytes.
    let printout = sims
        .printer
        .as_ref()
        .expect("printer sim")
        .printout()
        .expect("printout");
    let text = printout.text_lines().join("\n");
    assert!(text.contains("RICEVUTA DI"), "{text}");
    assert!(text.contains(&flow), "{text}");
    assert!(!text.contains("COPIA"));
    let p = receipt_preview(addr, &flow).await;
    assert!(p["lines"].as_array().is_some_and(|l| l.iter().any(|l| {
        l["text"]
            .as_str()
            .is_some_and(|t| t.contains("Token pagoPA"))
    })));
    assert_eq!(p["copy"], false);
    assert!(p["png_base64"].is_string());
    assert_eq!(p["qr"][0], notice.qr());

    // The adapter has the OK outcome with the terminal's references and no card number.
    let payment = adapter_payment_of(&backend, &backend.kiosk_credential, &flow)
        .await
        .expect("payment at the adapter");
    let payment = adapter_payment(
        &backend,
        &backend.kiosk_credential,
        payment["id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(payment["outcome"]["outcome"], "OK");
    assert_eq!(payment["outcome"]["receipt_number"], flow.as_str());
    let pan = payment["outcome"]["terminal"]["masked_pan"]
        .as_str()
        .expect("masked pan");
    assert!(pan.bytes().filter(u8::is_ascii_digit).count() <= 4, "{pan}");

    // Back to idle.
    let a = http(addr, "POST", "/api/done", None, None).await;
    assert_eq!(a.json()["screen"], "idle");
    agent.shutdown().await;
    assert!(journal_intact(&dir) > 10);
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_then_cancel_sends_a_ko_and_charges_nothing() {
    let backend = backend().await;
    let dir = TempDir::new("kiosk-decline");
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    let terminal = agent.sims().terminal.clone().expect("terminal");
    terminal.script([drivers::sim::terminal::Behaviour::Decline(
        "RIFIUTATA".into(),
    )]);
    scan(addr, None, &backend.notices[1].qr()).await;
    confirm(addr, None, None).await;
    tap_card(addr).await;
    let v = wait_for(addr, 15, "declined", |v| {
        v["error"]["code"] == "CARD_DECLINED"
    })
    .await;
    assert_eq!(v["screen"], "tender");
    let flow = v["flow_id"].as_str().expect("flow").to_owned();
    let a = http(addr, "POST", "/api/cancel", None, None).await;
    assert_eq!(a.status, 200);
    screen(addr, "cancelled").await;
    assert_eq!(terminal.total_cents(), 0, "nothing charged");
    let p = adapter_payment_of(&backend, &backend.kiosk_credential, &flow)
        .await
        .expect("payment");
    assert_eq!(p["outcome"]["outcome"], "KO");
    assert_eq!(p["outcome"]["reason"], "cancelled_by_citizen");
    agent.shutdown().await;
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_terminal_answer_is_resolved_by_last_result_not_by_a_second_charge() {
    let backend = backend().await;
    let dir = TempDir::new("kiosk-lost");
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    let terminal = agent.sims().terminal.clone().expect("terminal");
    terminal.script([drivers::sim::terminal::Behaviour::DropAfterApprove]);
    let notice = backend.notices[2].clone();
    scan(addr, None, &notice.qr()).await;
    confirm(addr, None, None).await;
    tap_card(addr).await;
    let v = wait_for(addr, 30, "receipt after recovery", |v| {
        v["screen"] == "done"
    })
    .await;
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(terminal.payments_executed(), 1, "charged exactly once");
    assert_eq!(terminal.total_cents(), notice.amount_cents + 120);
    agent.shutdown().await;
    let kinds = journal_kinds(&dir.join("journal.db"));
    let charge = kinds
        .iter()
        .position(|k| k == "intent.charge")
        .expect("charge journaled");
    let ask = kinds
        .iter()
        .position(|k| k == "intent.last_result")
        .expect("the terminal was asked");
    assert!(charge < ask);
    assert_eq!(
        kinds.iter().filter(|k| *k == "intent.charge").count(),
        1,
        "never charged twice"
    );
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_activation_sends_the_ko_from_the_journal_alone() {
    let backend = backend().await;
    let dir = TempDir::new("kiosk-restart");
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    scan(addr, None, &backend.notices[3].qr()).await;
    let v = confirm(addr, None, None).await;
    let flow = v["flow_id"].as_str().expect("flow").to_owned();
    // Power cut: the agent stops with the payment open.
    agent.shutdown().await;
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    let p = poll(10, "the KO after restart", async || {
        let p = adapter_payment_of(&backend, &backend.kiosk_credential, &flow).await;
        let p = p.filter(|p| !p["outcome"].is_null());
        p.ok_or_else(|| "no outcome".to_owned())
    })
    .await;
    assert_eq!(p["outcome"]["outcome"], "KO");
    assert_eq!(p["outcome"]["reason"], "device_fault");
    let v = http(addr, "GET", "/api/state", None, None).await.json();
    assert_eq!(v["screen"], "idle", "the screen is free after recovery");
    agent.shutdown().await;
    assert!(journal_intact(&dir) > 5);
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_cash_online_then_offline_queue_synced_in_order_and_closing() {
    let backend = backend().await;
    let dir = TempDir::new("counter");
    let agent = start_agent("counter", &backend.url(), &backend.counter_credential, &dir).await;
    let addr = agent.addr();

    // Staff only.
    let a = http(addr, "POST", "/api/scan", None, Some(r#"{"payload":"x"}"#)).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["code"], "LOGIN_REQUIRED");
    let bad = login_as(addr, "mrossi", "0000").await;
    assert_eq!(bad.status, 401);
    let token = login(addr).await;
    let t = Some(token.as_str());

    // Online cash with change.
    let n0 = backend.notices[0].clone();
    let v = manual(addr, t, &n0).await;
    assert_eq!(v["operator"]["id"], "mrossi");
    assert_eq!(v["methods"], json!(["card", "cash"]));
    let v = confirm(addr, t, Some("cash")).await;
    let total = v["notice"]["total_cents"].as_u64().expect("total");
    assert_eq!(total, n0.amount_cents + 100);
    let v = pay_cash(addr, t, total + 500).await;
    assert_eq!(v["change_cents"], 500);
    http(addr, "POST", "/api/done", t, None).await;

    // The adapter becomes unreachable: two cash payments against the printed amount.
    backend.set_down(true);
    let mut offline_flows = Vec::new();
    for n in &backend.notices[1..3] {
        let v = scan(addr, t, &n.qr()).await;
        assert_eq!(v["offline_payment"], true);
        assert_eq!(v["offline"], true);
        assert_eq!(
            v["methods"],
            json!(["cash"]),
            "cards are never taken offline"
        );
        let a = http(
            addr,
            "POST",
            "/api/confirm",
            t,
            Some(r#"{"method":"card"}"#),
        )
        .await;
        assert_eq!(a.json()["code"], "CARD_OFFLINE");
        let v = confirm(addr, t, Some("cash")).await;
        let total = v["notice"]["total_cents"].as_u64().expect("total");
        let v = pay_cash(addr, t, total).await;
        offline_flows.push(v["flow_id"].as_str().expect("flow").to_owned());
        http(addr, "POST", "/api/done", t, None).await;
    }
    let printed = agent
        .sims()
        .printer
        .as_ref()
        .expect("printer")
        .printout()
        .expect("printout")
        .text_lines()
        .join("\n");
    assert!(printed.contains("RICEVUTA PROVVISORIA"), "{printed}");
    let (o, queue) = offline_view(addr, t).await;
    assert_eq!(o["online"], false);
    assert_eq!(queue, offline_flows, "in the order taken");
    assert_eq!(o["limits"]["max_payment_cents"], 20000);

    // A payment above the offline limit is refused with the reason.
    let big = "PAGOPA|002|300715700000000032|00085240950|30000";
    http(
        addr,
        "POST",
        "/api/scan",
        t,
        Some(&json!({ "payload": big }).to_string()),
    )
    .await;
    let v = wait_for(addr, 10, "offline refusal", |v| v["screen"] == "error").await;
    assert_eq!(v["error"]["code"], "OFFLINE_LIMIT_PAYMENT");
    http(addr, "POST", "/api/done", t, None).await;

    // The adapter is back: the queue goes to it, once, in order.
    backend.set_down(false);
    agent.sync_now();
    queue_drained(addr, t, 10, None).await;
    let list = http_adapter(
        &backend,
        &backend.counter_credential,
        "/v1/payments?state=offline_queued",
    )
    .await
    .json();
    let forwarded: Vec<String> = list["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .filter_map(|p| p["client_key"].as_str().map(str::to_owned))
        .collect();
    for f in &offline_flows {
        assert_eq!(
            forwarded
                .iter()
                .filter(|k| **k == format!("off-{f}"))
                .count(),
            1,
            "forwarded exactly once: {f}"
        );
    }

    // Daily closing: the journal's totals, the counted cash, the adapter's records.
    let s = http(addr, "GET", "/api/closing", t, None).await.json();
    let expected = s["expected_cash_cents"].as_u64().expect("expected");
    assert_eq!(s["totals"]["cash_count"], 3);
    let c = close_day(addr, t, expected).await;
    assert_eq!(c["difference_cents"], 0);
    assert_eq!(c["closing"]["adapter"], "agree", "{c}");
    assert_eq!(c["closing"]["adapter_revision"], 1, "{c}");
    assert_eq!(c["closing"]["adapter_differences"], json!([]), "{c}");
    assert!(c.get("adapter_closing_endpoint").is_none(), "{c}");
    // The adapter checked it and kept it: its totals are the station's.
    let day = c["closing"]["day"].as_str().expect("day").to_owned();
    let kept = adapter_closings(&backend, &day).await;
    let kept = &kept["closings"][0];
    assert_eq!(kept["verdict"], "agree", "{kept}");
    assert_eq!(kept["adapter_totals"]["cash"]["count"], 3, "{kept}");
    assert_eq!(kept["counted_cash"], expected, "{kept}");
    assert_eq!(c["printed"], true);
    assert!(
        c["report_preview"]["lines"].as_array().is_some_and(|l| l
            .iter()
            .any(|l| l["text"].as_str().is_some_and(|t| t.contains("CHIUSURA")))),
        "{c}"
    );
    let printed = agent
        .sims()
        .printer
        .as_ref()
        .expect("printer")
        .printout()
        .expect("printout")
        .text_lines()
        .join("\n");
    assert!(printed.contains("CHIUSURA DI"), "{printed}");

    // Payments of the day and a reprint marked as a copy.
    let p = http(addr, "GET", "/api/payments", t, None).await.json();
    assert_eq!(p["payments"].as_array().map(Vec::len), Some(3));
    let first = p["payments"][0]["id"].as_str().expect("id").to_owned();
    let a = http(
        addr,
        "POST",
        &format!("/api/payments/{first}/reprint"),
        t,
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let preview = async || receipt_preview(addr, &first).await;
    poll_until(10, "a copy printed", preview, |pv| pv["copy"] == true).await;

    let st = http(addr, "GET", "/api/status", None, None).await.json();
    assert_eq!(st["journal"]["intact_at_start"], true);
    assert!(
        st["devices"].as_array().is_some_and(|d| d.len() == 3),
        "{st}"
    );
    let a = http(addr, "POST", "/api/logout", t, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        http(addr, "GET", "/api/payments", t, None).await.status,
        401
    );
    agent.shutdown().await;
    assert!(journal_intact(&dir) > 20);
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_the_state_and_bad_input_gets_typed_errors() {
    let backend = backend().await;
    let dir = TempDir::new("kiosk-sse");
    let agent = start_agent("kiosk", &backend.url(), &backend.kiosk_credential, &dir).await;
    let addr = agent.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(
            b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
        )
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("first event")
        .expect("read");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.contains("text/event-stream"), "{first}");
    assert!(
        first.contains("event: state") || first.contains("event:state"),
        "{first}"
    );

    let a = http(
        addr,
        "POST",
        "/api/scan",
        None,
        Some(r#"{"payload":"PAGOPA|002|123|456|1"}"#),
    )
    .await;
    assert_eq!(a.status, 409);
    let e = a.json();
    assert_eq!(e["code"], "SCAN_UNREADABLE");
    assert!(e["message_it"].as_str().is_some_and(|m| !m.is_empty()));
    let a = http(addr, "POST", "/api/pay", None, Some("{not json")).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["code"], "INVALID_REQUEST");
    let a = http(addr, "POST", "/api/confirm", None, None).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.json()["code"], "NOT_ALLOWED_NOW");
    assert_eq!(http(addr, "GET", "/api/nope", None, None).await.status, 404);
    let samples = http(addr, "GET", "/api/sim/samples", None, None)
        .await
        .json();
    assert_eq!(samples[0]["label"], "TARI");

    // A change arrives on the stream.
    http(
        addr,
        "POST",
        "/api/scan",
        None,
        Some(&json!({ "payload": backend.notices[4].qr() }).to_string()),
    )
    .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("\"screen\":\"confirm\"") {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("events")
            .expect("read");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let page = http(addr, "GET", "/", None, None).await;
    assert_eq!(page.status, 200);
    agent.shutdown().await;
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_made_offline_is_sent_again_and_gets_the_adapters_verdict() {
    let backend = backend().await;
    let dir = TempDir::new("closing-offline");
    let agent = start_agent("counter", &backend.url(), &backend.counter_credential, &dir).await;
    let addr = agent.addr();
    let token = login(addr).await;
    let t = Some(token.as_str());

    backend.set_down(true);
    let c = close_day(addr, t, 0).await;
    assert_eq!(c["closing"]["adapter"], "unavailable", "{c}");
    let day = c["closing"]["day"].as_str().expect("day").to_owned();

    // Back online: the sync worker sends the closing again and journals the verdict.
    backend.set_down(false);
    agent.sync_now();
    let latest = poll(10, "the closing resent", async || {
        let s = http(addr, "GET", &format!("/api/closing?day={day}"), t, None)
            .await
            .json();
        let closings = s["closings"].as_array().cloned().unwrap_or_default();
        if closings.len() == 2 {
            return Ok(closings[1].clone());
        }
        agent.sync_now();
        Err(format!("{s}"))
    })
    .await;
    assert_eq!(latest["adapter"], "agree", "{latest}");
    assert_eq!(latest["adapter_revision"], 1, "{latest}");
    assert_eq!(latest["operator"], "mrossi");
    let kept = adapter_closings(&backend, &day).await;
    assert_eq!(kept["closings"].as_array().map(Vec::len), Some(1), "{kept}");
    assert!(journal_intact(&dir) > 0);
}
