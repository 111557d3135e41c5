//! The adapter against nodo-sim over real loopback HTTP: every scenario and fault class, the
//! outbox's delivery until an application answer, late outcomes and duplicates, offline
//! forwarding in order, two devices on one notice, the Nodo unreachable for a while. Every
//! request the adapter sends is validated against `shared/specs/pagopa/soap.xsd` with xmllint.

mod common;

use std::time::Duration;

use channel_adapter::store::CallResult;
use channel_api::DeviceKind;
use common::stack::{Stack, StackOptions, active, notice, notice_of};
use common::xsd::assert_valid;
use common::{call, http};
use nodo_sim::{FaultPlan, PrimitiveFaults, Trigger};
use pagopa::fault::Primitive;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn faults(p: Primitive, f: PrimitiveFaults) -> FaultPlan {
    let mut plan = FaultPlan::none();
    plan.set(p, f).expect("valid faults");
    plan
}

fn count(n: u32) -> Trigger {
    Trigger {
        count: n,
        percent: 0,
    }
}

fn id(p: &Value) -> String {
    p["id"].as_str().expect("payment id").to_owned()
}

fn token(p: &Value) -> String {
    p["payment_token"].as_str().expect("token").to_owned()
}

/// Verify, activate, report OK, delivered: with V1 and V2 primitives, every request valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_end_to_end_with_v1_and_v2() {
    for primitives in ["v1", "v2"] {
        let s = Stack::start(
            "e2e",
            StackOptions {
                primitives,
                ..StackOptions::default()
            },
        )
        .await;
        let counter = s.device("counter-1", DeviceKind::Counter);
        let n = notice(1, 1);

        let r = s.verify(&counter, &n).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["amount"], 10000);
        assert_eq!(
            v["fees"],
            json!([{"tender": "card", "fee": 100, "total": 10100},
            {"tender": "cash", "fee": 100, "total": 10100}])
        );

        let p = active(&s, &counter, "counter-1-op-0001", &n, 10000).await;
        assert_eq!(p["iuv"].as_str().map(str::len), Some(17));
        let r = s.outcome_ok(&counter, &id(&p), "cash", 100).await;
        assert_eq!(r.status, 202, "{}", r.text());
        let done = s.wait_for_state(&counter, &id(&p), "confirmed", WAIT).await;
        assert_eq!(done["payment_token"], p["payment_token"]);
        assert_eq!(s.receipts_for(&token(&p)), 1, "exactly one receipt");
        let receipt = &s.sim.receipts()[0];
        assert!(!receipt.late);
        assert_eq!(receipt.receipt.fee.map(|f| f.cents()), Some(100));

        let journal = s.store.calls_for_payment(&id(&p)).expect("journal");
        let primitives_called: Vec<_> = journal.iter().map(|c| c.primitive.soap_action()).collect();
        let expected = if primitives == "v1" {
            ["activatePaymentNotice", "sendPaymentOutcome"]
        } else {
            ["activatePaymentNoticeV2", "sendPaymentOutcomeV2"]
        };
        assert_eq!(primitives_called, expected);
        assert!(journal.iter().all(|c| c.result == Some(CallResult::Ok)));
        assert!(journal.iter().all(|c| c.http_status == Some(200)));
        assert!(
            journal[1]
                .response_xml
                .as_deref()
                .is_some_and(|x| x.contains("<outcome>OK</outcome>"))
        );

        let sent = s.sent_requests();
        assert_eq!(sent.len(), 3, "verify, activate, outcome");
        assert!(
            sent.iter()
                .all(|(_, xml)| xml.contains("<password>pwdpwdpwd</password>"))
        );
        assert_valid(&sent);
        s.stop().await;
    }
}

/// A KO closes the session: no receipt, and the notice can be paid by someone else at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ko_releases_the_notice() {
    let s = Stack::start("ko", StackOptions::default()).await;
    let a = s.device("counter-a", DeviceKind::Counter);
    let b = s.device("counter-b", DeviceKind::Counter);
    let n = notice(1, 2);
    let p = active(&s, &a, "counter-a-op-0001", &n, 10000).await;
    let r = s.outcome_ko(&a, &id(&p)).await;
    assert_eq!(r.status, 202);
    s.wait_for_state(&a, &id(&p), "cancelled", WAIT).await;
    assert_eq!(s.receipts_for(&token(&p)), 0);
    let q = active(&s, &b, "counter-b-op-0001", &n, 10000).await;
    assert_ne!(q["payment_token"], p["payment_token"]);
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// The creditor's and the Nodo's refusals become the catalogue's codes for the citizen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_device_as_catalogue_codes() {
    let s = Stack::start("refusals", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    for (scenario, status, code) in [
        (95, 409, "NOTICE_ALREADY_PAID"),
        (96, 410, "NOTICE_CANCELLED"),
        (97, 503, "CREDITOR_UNAVAILABLE"),
        (98, 503, "CREDITOR_UNAVAILABLE"),
        (99, 410, "NOTICE_EXPIRED"),
        (50, 404, "NOTICE_UNKNOWN"),
    ] {
        let r = s.verify(&c, &notice(scenario, 3)).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "scenario {scenario}"
        );
        let r = s
            .activate(
                &c,
                &format!("counter-1-op-{scenario:04}"),
                &notice(scenario, 3),
                10000,
                "cash",
            )
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "activate {scenario}"
        );
    }
    // The amount must be the one due (the creditor says PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO).
    let r = s
        .activate(&c, "counter-1-op-amount", &notice(1, 4), 9000, "cash")
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "AMOUNT_MISMATCH")
    );
    assert!(
        r.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO"))
    );
    // A creditor pagoPA does not know.
    let body =
        json!({"notice_number": notice(1, 5), "creditor_fiscal_code": "00000000001"}).to_string();
    let r = call(s.addr, &c, "POST", "/v1/verify", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "CREDITOR_NOT_ENABLED")
    );
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// Our own configuration wrong: the subscription key (HTTP 401 from the gateway) or the channel
/// password (PPT_AUTENTICAZIONE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_misconfiguration_is_reported_as_such() {
    for (options, detail) in [
        (
            StackOptions {
                subscription_key: "wrong-key",
                ..StackOptions::default()
            },
            "HTTP status 401",
        ),
        (
            StackOptions {
                password: "wrongpassword",
                ..StackOptions::default()
            },
            "PPT_AUTENTICAZIONE",
        ),
    ] {
        let s = Stack::start("misconfigured", options).await;
        let c = s.device("counter-1", DeviceKind::Counter);
        let r = s.verify(&c, &notice(1, 6)).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (503, "SERVICE_MISCONFIGURED")
        );
        assert!(
            r.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains(detail)),
            "{}",
            r.text()
        );
        let journal = s.store.calls_without_payment().expect("journal");
        assert_eq!(journal[0].action.as_deref(), Some("MISCONFIGURED"));
        s.stop().await;
    }
}

/// A lost activation answer: the device resends with its key, the adapter resends the same
/// body with the same Nodo key, the Nodo replays: one session, the same token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_activation_answer_is_recovered_with_the_same_key() {
    let s = Stack::start("lost-activation", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let n = notice(1, 7);
    s.sim.set_faults(faults(
        Primitive::ActivatePaymentNoticeV2,
        PrimitiveFaults {
            drop_after_commit: count(1),
            ..PrimitiveFaults::default()
        },
    ));
    let r = s.activate(&c, "counter-1-op-0001", &n, 10000, "cash").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "NODO_UNAVAILABLE")
    );
    assert_eq!(r.json()["retryable"], true);
    // A 5xx from the gateway on verify is "maybe not processed" too.
    s.sim.set_faults(faults(
        Primitive::VerifyPaymentNotice,
        PrimitiveFaults {
            http_5xx: count(1),
            ..PrimitiveFaults::default()
        },
    ));
    let r = s.verify(&c, &n).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "NODO_UNAVAILABLE")
    );

    let r = s.activate(&c, "counter-1-op-0001", &n, 10000, "cash").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["state"], "active");
    let journal = s.store.calls_for_payment(&id(&p)).expect("journal");
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0].result, Some(CallResult::NoAnswer));
    assert_eq!(journal[1].result, Some(CallResult::Ok));
    assert_eq!(
        journal[0].request_xml, journal[1].request_xml,
        "identical body"
    );
    assert_eq!(journal[0].idempotency_key, journal[1].idempotency_key);

    // Meanwhile the notice is locked: the verify says so.
    s.sim.set_faults(FaultPlan::none());
    let r = s.verify(&c, &n).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "PAYMENT_IN_PROGRESS")
    );
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// Outcome answers lost or refused by the gateway: resent, same body and key, until the Nodo
/// answers; exactly one receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_resent_until_the_nodo_answers() {
    let s = Stack::start("outcome-resend", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let p = active(&s, &c, "counter-1-op-0001", &notice(1, 8), 10000).await;
    s.sim.set_faults(faults(
        Primitive::SendPaymentOutcomeV2,
        PrimitiveFaults {
            http_5xx: count(2),
            drop_after_commit: count(1),
            ..PrimitiveFaults::default()
        },
    ));
    let r = s.outcome_ok(&c, &id(&p), "cash", 100).await;
    assert_eq!(r.status, 202);
    s.wait_for_state(&c, &id(&p), "confirmed", WAIT).await;
    assert_eq!(s.receipts_for(&token(&p)), 1);
    let outcomes: Vec<_> = s
        .store
        .calls_for_payment(&id(&p))
        .expect("journal")
        .into_iter()
        .filter(|c| c.primitive == Primitive::SendPaymentOutcomeV2)
        .collect();
    let results: Vec<_> = outcomes.iter().map(|c| c.result).collect();
    assert_eq!(
        results,
        [
            Some(CallResult::HttpStatus),
            Some(CallResult::HttpStatus),
            Some(CallResult::NoAnswer),
            Some(CallResult::Ok)
        ]
    );
    assert_eq!(outcomes[0].http_status, Some(503));
    assert!(
        outcomes
            .windows(2)
            .all(|w| w[0].request_xml == w[1].request_xml)
    );
    assert!(
        outcomes
            .windows(2)
            .all(|w| w[0].idempotency_key == w[1].idempotency_key)
    );
    // The back-off: 50 ms, 150 ms, then 350 ms capped at the 300 ms interval (slot 50 ms).
    let gaps: Vec<i64> = outcomes
        .windows(2)
        .map(|w| w[1].started_at.millis_since(w[0].started_at))
        .collect();
    for (gap, min) in gaps.iter().zip([50, 150, 300]) {
        assert!(*gap >= min, "gaps {gaps:?}");
    }
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// No answer within the deadline: resent, replayed, one receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_timeout_is_resent() {
    let s = Stack::start("outcome-timeout", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let p = active(&s, &c, "counter-1-op-0001", &notice(1, 9), 10000).await;
    s.sim.set_faults(faults(
        Primitive::SendPaymentOutcomeV2,
        PrimitiveFaults {
            latency_ms: 2_500,
            ..PrimitiveFaults::default()
        },
    ));
    assert_eq!(s.outcome_ok(&c, &id(&p), "cash", 100).await.status, 202);
    // Once the Nodo has processed the first attempt (it holds the answer), it becomes fast
    // again.
    let until = std::time::Instant::now() + WAIT;
    while s.receipts_for(&token(&p)) == 0 {
        assert!(
            std::time::Instant::now() < until,
            "no attempt reached the Nodo"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        s.store.open_calls().expect("open").len(),
        1,
        "the attempt is in flight"
    );
    s.sim.set_faults(FaultPlan::none());
    s.wait_for_state(&c, &id(&p), "confirmed", WAIT).await;
    let journal = s.store.calls_for_payment(&id(&p)).expect("journal");
    assert_eq!(journal[1].result, Some(CallResult::NoAnswer));
    assert!(
        journal[1]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("within"))
    );
    assert_eq!(journal[2].result, Some(CallResult::Ok));
    assert_eq!(s.receipts_for(&token(&p)), 1);
    s.stop().await;
}

/// After the token expired: an OK is accepted late (late_accepted, receipt marked late), a KO
/// just closes, and an OK for a notice someone else paid meanwhile means a refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_outcomes_and_duplicates_become_exceptions() {
    let s = Stack::start("late", StackOptions::default()).await;
    let a = s.device("counter-a", DeviceKind::Counter);
    let b = s.device("counter-b", DeviceKind::Counter);
    let late = active(&s, &a, "counter-a-op-0001", &notice(1, 10), 10000).await;
    let late_ko = active(&s, &a, "counter-a-op-0002", &notice(1, 11), 10000).await;
    let dup_notice = notice(1, 12);
    let dup = active(&s, &a, "counter-a-op-0003", &dup_notice, 10000).await;
    s.sim.advance_clock(11 * 60 * 1000);
    // Someone else pays the third notice while A's token is expired.
    let other = active(&s, &b, "counter-b-op-0001", &dup_notice, 10000).await;
    assert_eq!(s.outcome_ok(&b, &id(&other), "cash", 100).await.status, 202);
    s.wait_for_state(&b, &id(&other), "confirmed", WAIT).await;

    assert_eq!(s.outcome_ok(&a, &id(&late), "cash", 100).await.status, 202);
    assert_eq!(s.outcome_ko(&a, &id(&late_ko)).await.status, 202);
    assert_eq!(s.outcome_ok(&a, &id(&dup), "cash", 100).await.status, 202);

    let p = s
        .wait_for_state(&a, &id(&late), "late_accepted", WAIT)
        .await;
    assert_eq!(p["error"]["code"], "LATE_OUTCOME");
    assert_eq!(p["error"]["detail"], "PPT_TOKEN_SCADUTO");
    let receipts = s.sim.receipts();
    let r = receipts
        .iter()
        .find(|r| r.receipt.receipt_id.as_str() == token(&late))
        .expect("a late receipt");
    assert!(r.late);
    assert_eq!(r.fdr_code(), 9);

    s.wait_for_state(&a, &id(&late_ko), "cancelled", WAIT).await;
    let p = s.wait_for_state(&a, &id(&dup), "refund_due", WAIT).await;
    assert_eq!(p["error"]["code"], "DUPLICATE_PAYMENT");
    assert_eq!(s.receipts_for(&token(&dup)), 0);
    assert_eq!(s.receipts_for(&token(&other)), 1);

    // Surfaced: the operators' list and the metrics.
    let exceptions: Vec<String> = s
        .store
        .exceptions()
        .expect("exceptions")
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(exceptions, [id(&late), id(&dup)]);
    let m = http(s.addr, "GET", "/metrics", &[], None).await.text();
    assert!(
        m.contains("channel_adapter_payments{state=\"late_accepted\"} 1"),
        "{m}"
    );
    assert!(m.contains("channel_adapter_payments{state=\"refund_due\"} 1"));
    assert!(m.contains("channel_adapter_outbox_results_total{action=\"REFUND\"} 1"));
    assert!(m.contains("channel_adapter_outbox_results_total{action=\"ACCEPTED_LATE\"} 1"));
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// An answer that makes no sense for the payment (the Nodo forgot the token): no blind retry;
/// the payment waits for an operator, who can reset the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_waits_for_an_operator() {
    let s = Stack::start("unknown-token", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let p = active(&s, &c, "counter-1-op-0001", &notice(1, 13), 10000).await;
    s.sim.reset();
    assert_eq!(s.outcome_ok(&c, &id(&p), "cash", 100).await.status, 202);
    let q = s.wait_for_state(&c, &id(&p), "needs_attention", WAIT).await;
    assert!(
        q["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("PPT_TOKEN_SCONOSCIUTO"))
    );
    let listed = s.store.outbox_list().expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].parked_at.is_some());
    assert_eq!(listed[0].last_action.as_deref(), Some("ALERT"));
    let calls = || s.store.calls_for_payment(&id(&p)).expect("journal").len();
    let before = calls();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls(), before, "no automatic retry while parked");

    // The operator resets it: one more attempt, parked again.
    let now = channel_adapter::ambient::Clock::now(&channel_adapter::ambient::SystemClock);
    assert_eq!(s.store.outbox_reset(Some(&id(&p)), now).expect("reset"), 1);
    s.state.outbox_wakeup.all();
    s.wait_for_state(&c, &id(&p), "needs_attention", WAIT).await;
    let until = std::time::Instant::now() + WAIT;
    while calls() == before {
        assert!(
            std::time::Instant::now() < until,
            "the reset entry was not retried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop().await;
}

/// Two devices activate the same notice at once: one gets the session, the other a clear
/// "in progress" answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_on_one_notice_one_wins() {
    let s = Stack::start("contention", StackOptions::default()).await;
    let a = s.device("counter-a", DeviceKind::Counter);
    let b = s.device("counter-b", DeviceKind::Counter);
    let n = notice(1, 14);
    let (ra, rb) = tokio::join!(
        s.activate(&a, "counter-a-op-0001", &n, 10000, "cash"),
        s.activate(&b, "counter-b-op-0001", &n, 10000, "cash"),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", ra.text(), rb.text());
    let loser = if ra.status == 409 { &ra } else { &rb };
    let body = loser.json();
    assert_eq!(body["code"], "PAYMENT_IN_PROGRESS");
    assert_eq!(body["retryable"], true);
    assert!(
        body["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("in progress"))
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("PPT_PAGAMENTO_IN_CORSO"))
    );
    s.stop().await;
}

/// An offline batch is forwarded in order; the conflicts become refunds, never silent drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_payments_are_forwarded_in_order_and_conflicts_surface() {
    let s = Stack::start("offline", StackOptions::default()).await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let item = |key: &str, notice: String, amount: u64| {
        json!({"client_key": key, "notice_number": notice, "creditor_fiscal_code": "77777777777",
            "amount": amount, "fee": 100, "paid_with": "cash",
            "paid_at": "2025-03-01T08:00:00Z", "receipt_number": format!("P-{key}")})
    };
    let batch = json!({"payments": [
        item("offline-0001", notice_of(2_500, 1), 2_500),
        item("offline-0002", notice(95, 15), 10_000),
        item("offline-0003", notice_of(4_000, 2), 4_000),
        item("offline-0004", notice(1, 16), 9_000),
        item("offline-0005", notice_of(7_000, 3), 7_000),
    ]})
    .to_string();
    let r = call(s.addr, &c, "POST", "/v1/offline-batches", Some(&batch)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].clone();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            results[i]["payment"]["id"]
                .as_str()
                .expect("queued")
                .to_owned()
        })
        .collect();
    s.wait_outbox_empty(WAIT).await;
    let states: Vec<Value> = {
        let mut v = Vec::new();
        for i in &ids {
            v.push(s.payment(&c, i).await);
        }
        v
    };
    let names: Vec<&str> = states
        .iter()
        .map(|p| p["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "confirmed",
            "refund_due",
            "confirmed",
            "refund_due",
            "confirmed"
        ]
    );
    assert_eq!(states[1]["error"]["code"], "NOTICE_ALREADY_PAID");
    assert_eq!(states[3]["error"]["code"], "AMOUNT_MISMATCH");
    assert!(states.iter().all(|p| p["offline"] == true));
    // The receipts came in the batch's order.
    let order: Vec<String> = s
        .sim
        .receipts()
        .iter()
        .map(|r| r.receipt.receipt_id.as_str().to_owned())
        .collect();
    assert_eq!(
        order,
        [token(&states[0]), token(&states[2]), token(&states[4])]
    );
    assert_valid(&s.sent_requests());
    s.stop().await;
}

/// The Nodo unreachable (connections refused) well past the SANP back-off: the outcomes wait,
/// are reported overdue, and are delivered in order once it is back, one receipt each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_queued_while_the_nodo_is_unreachable_are_delivered_in_order() {
    let s = Stack::start(
        "nodo-down",
        StackOptions {
            via_proxy: true,
            ..StackOptions::default()
        },
    )
    .await;
    let c = s.device("counter-1", DeviceKind::Counter);
    let mut payments = Vec::new();
    for i in 0..5u64 {
        payments.push(
            active(
                &s,
                &c,
                &format!("counter-1-op-{i:04}"),
                &notice(1, 20 + i),
                10000,
            )
            .await,
        );
    }
    let proxy = s.proxy.as_ref().expect("proxy");
    proxy.down().await;
    for p in &payments {
        assert_eq!(s.outcome_ok(&c, &id(p), "cash", 100).await.status, 202);
    }
    // 50 + 150 + 350 + 750 ms of back-off, then every 300 ms: overdue after ~1.3 s.
    let until = std::time::Instant::now() + WAIT;
    loop {
        let stats = s.store.outbox_stats(5).expect("stats");
        if stats.overdue >= 1 {
            assert_eq!(stats.pending, 5);
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "never overdue: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = http(s.addr, "GET", "/metrics", &[], None).await.text();
    assert!(m.contains("channel_adapter_outbox_pending 5\n"), "{m}");
    assert!(
        m.contains("channel_adapter_outbox_overdue 1\n"),
        "only the head is tried: {m}"
    );
    assert!(s.sim.receipts().is_empty());
    for p in &payments {
        assert_eq!(s.payment(&c, &id(p)).await["state"], "outcome_pending");
    }

    proxy.up().await;
    s.wait_outbox_empty(WAIT).await;
    let order: Vec<String> = s
        .sim
        .receipts()
        .iter()
        .map(|r| r.receipt.receipt_id.as_str().to_owned())
        .collect();
    let expected: Vec<String> = payments.iter().map(token).collect();
    assert_eq!(order, expected, "delivered in order, once each");
    for p in &payments {
        assert_eq!(s.payment(&c, &id(p)).await["state"], "confirmed");
    }
    assert_valid(&s.sent_requests());
    s.stop().await;
}
