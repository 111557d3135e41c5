//! What the counter reports besides payments, over a real TCP listener on 127.0.0.1: the daily
//! cash closing (agreement, mismatch with its differences, idempotent resend, revisions, one
//! device's closing blind to another comune's payments, authentication) and how staff resolved
//! an exception (refund, write-off, idempotence, conflicts, visibility).

mod common;

use channel_adapter::ambient::Clock;
use channel_api::{DeviceKind, ErrorCode};
use common::harness::Harness;
use common::{call, http};
use serde_json::{Value, json};

const ROMA: &str = "02438750586";
const OTHER_COMUNE: &str = "80015010723";
const NOTICE: &str = "300715700000000032";
const CREDITOR: &str = "00085240950";
const DAY: &str = "2025-03-01";

fn offline(key: &str, amount: u64, paid_with: &str, paid_at: &str) -> Value {
    json!({"client_key": key, "notice_number": NOTICE, "creditor_fiscal_code": CREDITOR,
        "amount": amount, "fee": 100, "paid_with": paid_with, "paid_at": paid_at,
        "receipt_number": format!("P-{key}")})
}

/// Three payments on 2025-03-01 in Italy (one at 00:30 Italian time, still the 28th in UTC),
/// one the day after.
async fn take_payments(h: &Harness, credential: &str) {
    let batch = json!({"payments": [
        offline("pay-cash-0001", 4000, "cash", "2025-03-01T08:00:00Z"),
        offline("pay-card-0002", 3000, "pagobancomat", "2025-03-01T09:00:00Z"),
        offline("pay-cash-0003", 2000, "cash", "2025-02-28T23:30:00Z"),
        offline("pay-cash-0004", 1000, "cash", "2025-03-02T10:00:00Z"),
    ]})
    .to_string();
    let r = call(
        h.addr,
        credential,
        "POST",
        "/v1/offline-batches",
        Some(&batch),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for result in r.json()["results"].as_array().expect("results") {
        assert!(result["error"].is_null(), "{result}");
    }
}

fn closing(items: &[(&str, &str, u64)], cash: (u32, u64), card: (u32, u64)) -> String {
    let payments: Vec<Value> = items
        .iter()
        .map(|(k, t, total)| json!({"client_key": k, "tender": t, "total": total}))
        .collect();
    json!({
        "day": DAY,
        "totals": {"cash": {"count": cash.0, "cents": cash.1},
                   "card": {"count": card.0, "cents": card.1}},
        "expected_cash": cash.1 + 10_000,
        "counted_cash": cash.1 + 10_000,
        "payments": payments,
    })
    .to_string()
}

/// The closing that matches [`take_payments`] exactly.
fn agreeing_closing() -> String {
    closing(
        &[
            ("pay-cash-0001", "cash", 4100),
            ("pay-card-0002", "card", 3100),
            ("pay-cash-0003", "cash", 2100),
        ],
        (2, 6200),
        (1, 3100),
    )
}

#[tokio::test]
async fn a_matching_closing_agrees_and_a_resend_gets_the_same_answer() {
    let h = Harness::start("closings", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    take_payments(&h, &counter).await;
    let body = agreeing_closing();
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json();
    assert_eq!(first["verdict"], "agree", "{first}");
    assert_eq!(first["revision"], 1);
    assert_eq!(first["day"], DAY);
    assert_eq!(
        first["adapter_totals"],
        json!({"cash": {"count": 2, "cents": 6200}, "card": {"count": 1, "cents": 3100}})
    );
    assert_eq!(first["counted_cash"], 16_200);
    assert_eq!(first["missing_at_adapter"], json!([]));
    assert_eq!(first["missing_at_device"], json!([]));

    // A lost answer: the same closing later gets the very same answer, not a new revision.
    h.clock.advance(60_000);
    let again = call(h.addr, &counter, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), first);

    let list = call(h.addr, &counter, "GET", "/v1/closings?day=2025-03-01", None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()["closings"], json!([first]));
    h.stop().await;
}

#[tokio::test]
async fn a_different_closing_is_a_new_revision_with_the_differences() {
    let h = Harness::start("closings", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    take_payments(&h, &counter).await;
    let agreeing = agreeing_closing();
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&agreeing)).await;
    assert_eq!(r.json()["verdict"], "agree");

    // The device got one amount wrong, forgot one payment and counts one the adapter never saw.
    let wrong = closing(
        &[
            ("pay-cash-0001", "cash", 4000),
            ("pay-card-0002", "card", 3100),
            ("ghost-pay-0009", "cash", 500),
        ],
        (2, 4500),
        (1, 3100),
    );
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&wrong)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json();
    assert_eq!(second["verdict"], "mismatch");
    assert_eq!(second["revision"], 2);
    assert_eq!(second["missing_at_adapter"], json!(["ghost-pay-0009"]));
    assert_eq!(second["missing_at_device"], json!(["pay-cash-0003"]));
    assert_eq!(
        second["amount_differences"],
        json!([{"client_key": "pay-cash-0001", "device_tender": "cash", "device_total": 4000,
                "adapter_tender": "cash", "adapter_total": 4100}])
    );
    assert_eq!(second["device_totals"]["cash"]["cents"], 4500);
    assert_eq!(second["adapter_totals"]["cash"]["cents"], 6200);

    // Totals alone disagreeing is a mismatch too.
    let bad_totals = closing(
        &[
            ("pay-cash-0001", "cash", 4100),
            ("pay-card-0002", "card", 3100),
            ("pay-cash-0003", "cash", 2100),
        ],
        (2, 6300),
        (1, 3100),
    );
    let third = call(h.addr, &counter, "POST", "/v1/closings", Some(&bad_totals))
        .await
        .json();
    assert_eq!(
        (third["verdict"].clone(), third["revision"].clone()),
        (json!("mismatch"), json!(3))
    );
    assert_eq!(third["missing_at_adapter"], json!([]));
    assert_eq!(third["amount_differences"], json!([]));

    let list = call(h.addr, &counter, "GET", "/v1/closings?day=2025-03-01", None)
        .await
        .json();
    let revisions: Vec<&Value> = list["closings"]
        .as_array()
        .expect("closings")
        .iter()
        .map(|c| &c["revision"])
        .collect();
    assert_eq!(revisions, [&json!(1), &json!(2), &json!(3)]);
    let other_day = call(h.addr, &counter, "GET", "/v1/closings?day=2025-03-02", None)
        .await
        .json();
    assert_eq!(other_day["closings"], json!([]));
    h.stop().await;
}

#[tokio::test]
async fn another_comunes_device_sees_none_of_the_payments_nor_the_closings() {
    let h = Harness::start("closings", None).await;
    let roma = h.device("counter-roma", ROMA, DeviceKind::Counter);
    let other = h.device("counter-other", OTHER_COMUNE, DeviceKind::Counter);
    take_payments(&h, &roma).await;
    let body = closing(&[("pay-cash-0001", "cash", 4100)], (1, 4100), (0, 0));
    let r = call(h.addr, &roma, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(r.json()["revision"], 1);
    let r = call(h.addr, &other, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let theirs = r.json();
    assert_eq!(theirs["verdict"], "mismatch");
    assert_eq!(theirs["revision"], 1, "revisions are per device");
    assert_eq!(theirs["missing_at_adapter"], json!(["pay-cash-0001"]));
    assert_eq!(
        theirs["adapter_totals"],
        json!({"cash": {"count": 0, "cents": 0}, "card": {"count": 0, "cents": 0}})
    );
    let list = call(h.addr, &other, "GET", "/v1/closings?day=2025-03-01", None)
        .await
        .json();
    assert_eq!(list["closings"].as_array().map(Vec::len), Some(1));
    h.stop().await;
}

#[tokio::test]
async fn closings_need_a_credential_and_a_well_formed_request() {
    let h = Harness::start("closings", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    let body = closing(&[], (0, 0), (0, 0));
    let r = http(h.addr, "POST", "/v1/closings", &[], Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (401, "MISSING_CREDENTIAL")
    );
    let r = http(h.addr, "GET", "/v1/closings?day=2025-03-01", &[], None).await;
    assert_eq!(r.status, 401);
    let r = call(
        h.addr,
        "not-a-credential",
        "GET",
        "/v1/closings?day=2025-03-01",
        None,
    )
    .await;
    assert_eq!(r.status, 401);

    // An empty day with nothing at the adapter agrees.
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(r.json()["verdict"], "agree");

    for bad in [
        "/v1/closings",
        "/v1/closings?day=2025-13-01",
        "/v1/closings?day=yesterday",
    ] {
        let r = call(h.addr, &counter, "GET", bad, None).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "INVALID_REQUEST"),
            "{bad}"
        );
    }
    let twice = closing(
        &[
            ("pay-cash-0001", "cash", 4100),
            ("pay-cash-0001", "cash", 4100),
        ],
        (2, 8200),
        (0, 0),
    );
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&twice)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "INVALID_REQUEST")
    );
    let float = body.replace("\"counted_cash\":10000", "\"counted_cash\":100.5");
    assert_ne!(float, body, "the test edits the counted cash");
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&float)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "INVALID_REQUEST")
    );
    let big = closing(
        &(0..=10_000)
            .map(|i| (format!("pay-{i:08}"), "cash", 100))
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, t, c)| (k.as_str(), *t, *c))
            .collect::<Vec<_>>(),
        (0, 0),
        (0, 0),
    );
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&big)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "CLOSING_TOO_LARGE")
    );
    h.stop().await;
}

/// Queue `keys` offline (cash, 40.00 + 1.00 fee each) and let the Nodo refuse them for good:
/// each becomes `refund_due`. Returns the payment ids.
async fn refunds_due(h: &Harness, credential: &str, keys: &[&str]) -> Vec<String> {
    let items: Vec<Value> = keys
        .iter()
        .map(|k| offline(k, 4000, "cash", "2025-03-01T08:00:00Z"))
        .collect();
    let batch = json!({ "payments": items }).to_string();
    let r = call(
        h.addr,
        credential,
        "POST",
        "/v1/offline-batches",
        Some(&batch),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut ids = Vec::new();
    for result in r.json()["results"].as_array().expect("results") {
        let id = result["payment"]["id"].as_str().expect("queued").to_owned();
        h.store
            .offline_rejected(
                &id,
                ErrorCode::NoticeAlreadyPaid,
                "PPT_PAGAMENTO_DUPLICATO",
                "ALREADY_PAID",
                h.clock.now(),
            )
            .expect("reject");
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn a_refund_moves_the_payment_to_refunded_once() {
    let h = Harness::start("closings", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    let ids = refunds_due(&h, &counter, &["pay-cash-0001", "pay-cash-0002"]).await;
    assert_eq!(h.store.exceptions().expect("exceptions").len(), 2);

    let path = format!("/v1/payments/{}/resolution", ids[0]);
    let refund = json!({"resolution": "refunded", "tender": "cash", "amount": 4100,
        "note": "reso in contanti allo sportello"})
    .to_string();
    let r = call(h.addr, &counter, "POST", &path, Some(&refund)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json();
    assert_eq!(first["payment"]["state"], "refunded");
    assert_eq!(first["resolution"]["resolution"], "refunded");
    assert_eq!(first["resolution"]["tender"], "cash");
    assert_eq!(first["resolution"]["amount"], 4100);

    // A resend after a lost answer is the same answer; another resolution is a conflict.
    h.clock.advance(60_000);
    let again = call(h.addr, &counter, "POST", &path, Some(&refund)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["resolution"], first["resolution"]);
    let other = json!({"resolution": "written_off"}).to_string();
    let r = call(h.addr, &counter, "POST", &path, Some(&other)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "RESOLUTION_CONFLICT")
    );

    let listed: Vec<String> = h
        .store
        .exceptions()
        .expect("exceptions")
        .iter()
        .map(|p| p.id.as_str().to_owned())
        .collect();
    assert_eq!(listed, [ids[1].clone()]);
    let metrics = http(h.addr, "GET", "/metrics", &[], None).await.text();
    assert!(
        metrics.contains("channel_adapter_payments{state=\"refunded\"} 1"),
        "{metrics}"
    );

    // A write-off leaves the state as the Nodo left it but closes the exception.
    let path = format!("/v1/payments/{}/resolution", ids[1]);
    let off = json!({"resolution": "written_off", "note": "rimborsa l'ente"}).to_string();
    let r = call(h.addr, &counter, "POST", &path, Some(&off)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["payment"]["state"], "refund_due");
    assert!(h.store.exceptions().expect("exceptions").is_empty());

    // The refunded payment still counts in the day's closing: the money was taken that day.
    let body = closing(
        &[
            ("pay-cash-0001", "cash", 4100),
            ("pay-cash-0002", "cash", 4100),
        ],
        (2, 8200),
        (0, 0),
    );
    let r = call(h.addr, &counter, "POST", "/v1/closings", Some(&body)).await;
    assert_eq!(r.json()["verdict"], "agree", "{}", r.text());
    h.stop().await;
}

#[tokio::test]
async fn resolutions_are_checked_and_only_for_the_comunes_exceptions() {
    let h = Harness::start("closings", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    let other = h.device("counter-other", OTHER_COMUNE, DeviceKind::Counter);
    let ids = refunds_due(&h, &counter, &["pay-cash-0001"]).await;
    let path = format!("/v1/payments/{}/resolution", ids[0]);
    let long = "x".repeat(201);
    for bad in [
        json!({"resolution": "refunded", "tender": "cash", "amount": 0}),
        json!({"resolution": "refunded", "tender": "cash", "amount": 4101}),
        json!({"resolution": "refunded", "tender": "cash"}),
        json!({"resolution": "other", "note": " "}),
        json!({"resolution": "other", "note": long}),
        json!({"resolution": "lost"}),
    ] {
        let r = call(h.addr, &counter, "POST", &path, Some(&bad.to_string())).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "INVALID_REQUEST"),
            "{bad}"
        );
    }
    let fine = json!({"resolution": "other", "note": "x".repeat(200)}).to_string();

    // Another comune's device does not learn the payment exists.
    let r = call(h.addr, &other, "POST", &path, Some(&fine)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "PAYMENT_NOT_FOUND")
    );
    let r = call(
        h.addr,
        &counter,
        "POST",
        "/v1/payments/00000000000000000000000000000000/resolution",
        Some(&fine),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "PAYMENT_NOT_FOUND")
    );
    let r = http(h.addr, "POST", &path, &[], Some(&fine)).await;
    assert_eq!(r.status, 401);

    // A payment that is no exception cannot be resolved.
    let batch =
        json!({"payments": [offline("pay-cash-0009", 1000, "cash", "2025-03-01T08:00:00Z")]})
            .to_string();
    let r = call(
        h.addr,
        &counter,
        "POST",
        "/v1/offline-batches",
        Some(&batch),
    )
    .await;
    let queued = r.json()["results"][0]["payment"]["id"]
        .as_str()
        .expect("queued")
        .to_owned();
    let r = call(
        h.addr,
        &counter,
        "POST",
        &format!("/v1/payments/{queued}/resolution"),
        Some(&fine),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "INVALID_STATE"));

    let r = call(h.addr, &counter, "POST", &path, Some(&fine)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["resolution"]["note"].as_str().map(|n| n.len()),
        Some(200)
    );
    h.stop().await;
}
