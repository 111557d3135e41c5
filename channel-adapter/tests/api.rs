//! The device API over a real TCP listener on 127.0.0.1: authentication, errors, OpenAPI,
//! metrics, payments, and the Nodo flows against a scripted [`NodoClient`] (a test double that
//! lives here, not in the adapter).

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use channel_adapter::ambient::Clock;
use channel_adapter::devices;
use channel_adapter::nodo::{ActivateCall, HttpReply, NodoClient, NodoError, NodoFuture};
use channel_adapter::store::CallResult;
use channel_api::{DeviceKind, ErrorCode, PaymentState};
use common::harness::Harness;
use common::{call, http};
use pagopa::fault::{Fault, FaultCode, Primitive};
use pagopa::soap::{
    ActivatePaymentNoticeV2Response, ActivatedPaymentV2, AmountOption, BoundedVec, Iban, Message,
    NodoRequest, NonZeroAmount, PaymentOption, PaymentToken, Text140, Text210, TransferDestination,
    TransferId, TransferV2, VerifiedNotice, VerifyPaymentNoticeRequest,
    VerifyPaymentNoticeResponse,
};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Iuv};
use serde_json::{Value, json};

const ROMA: &str = "02438750586";
const OTHER_COMUNE: &str = "80015010723";
const NOTICE: &str = "300715700000000032";
const CREDITOR: &str = "00085240950";

/// A scripted Nodo: raw answers are queued per primitive; requests are decoded and recorded.
#[derive(Debug, Default)]
struct ScriptedNodo {
    verify: Mutex<VecDeque<Result<HttpReply, NodoError>>>,
    activate: Mutex<VecDeque<Result<HttpReply, NodoError>>>,
    seen_verify: Mutex<Vec<VerifyPaymentNoticeRequest>>,
    seen_activate: Mutex<Vec<ActivateCall>>,
}

impl NodoClient for ScriptedNodo {
    fn post<'a>(&'a self, primitive: Primitive, envelope: &'a str) -> NodoFuture<'a, HttpReply> {
        let request = pagopa::soap::decode_request(envelope).expect("the adapter sends valid SOAP");
        assert_eq!(
            request.primitive(),
            primitive,
            "SOAPAction matches the body"
        );
        let next = match request {
            NodoRequest::VerifyPaymentNotice(r) => {
                self.seen_verify.lock().expect("lock").push(r);
                self.verify.lock().expect("lock").pop_front()
            }
            NodoRequest::ActivatePaymentNotice(r) => {
                self.seen_activate
                    .lock()
                    .expect("lock")
                    .push(ActivateCall::V1(r));
                self.activate.lock().expect("lock").pop_front()
            }
            NodoRequest::ActivatePaymentNoticeV2(r) => {
                self.seen_activate
                    .lock()
                    .expect("lock")
                    .push(ActivateCall::V2(r));
                self.activate.lock().expect("lock").pop_front()
            }
            // Outcomes are the outbox worker's, which these tests do not run.
            _ => None,
        };
        Box::pin(
            async move { next.unwrap_or_else(|| Err(NodoError::NoAnswer("no script".into()))) },
        )
    }
}

/// An HTTP 200 carrying `message`.
fn soap(message: impl Message) -> Result<HttpReply, NodoError> {
    Ok(HttpReply {
        status: 200,
        body: message.encode().into(),
    })
}

fn cents(n: u64) -> Amount {
    Amount::from_cents(n).expect("amount")
}

fn creditor() -> CreditorFiscalCode {
    CreditorFiscalCode::parse(CREDITOR, CheckMode::Strict).expect("cf")
}

fn verified(amount: u64) -> VerifyPaymentNoticeResponse {
    VerifyPaymentNoticeResponse::ok(VerifiedNotice {
        payment_options: BoundedVec::one(PaymentOption {
            amount: NonZeroAmount::new(cents(amount)).expect("non-zero"),
            options: AmountOption::Equal,
            due_date: None,
            payment_note: None,
        }),
        payment_description: Some(Text210::new("TARI 2025 rata unica").expect("text")),
        fiscal_code_pa: Some(creditor()),
        company_name: Some(Text140::new("Comune di Esempio").expect("text")),
        office_name: None,
        standin: None,
    })
}

fn fault(code: &str, original: Option<&str>) -> Fault {
    let mut f = Fault::new(FaultCode::parse(code), "KO", "NodoDeiPagamentiSPC");
    f.original_fault_code = original.map(FaultCode::parse);
    f
}

fn activated(amount: u64) -> ActivatePaymentNoticeV2Response {
    ActivatePaymentNoticeV2Response::ok(ActivatedPaymentV2 {
        total_amount: cents(amount),
        payment_description: Some(Text140::new("TARI 2025 rata unica").expect("text")),
        fiscal_code_pa: Some(creditor()),
        company_name: Some(Text140::new("Comune di Esempio").expect("text")),
        office_name: None,
        payment_token: PaymentToken::new("c110729d258c4ab1b765fe902aae41d6").expect("token"),
        transfers: BoundedVec::one(TransferV2 {
            id_transfer: TransferId::new(1).expect("id"),
            amount: cents(amount),
            fiscal_code_pa: creditor(),
            company_name: None,
            destination: Some(TransferDestination::Iban(
                Iban::new("IT60X0542811101000000123456").expect("iban"),
            )),
            remittance_information: Text140::new("TARI").expect("text"),
            transfer_category: None,
            metadata: None,
        }),
        metadata: None,
        creditor_reference_id: Iuv::parse("00715700000000032").expect("iuv"),
        suggested_user_fee: None,
        suggested_pa_fee: None,
        suggested_id_bundle: None,
        suggested_id_ci_bundle: None,
        all_ccp: None,
        standin: None,
    })
}

/// The credential with its last hex digit changed: never equal to the original,
/// whatever that digit was.
fn flip_last_digit(credential: &str) -> String {
    let (head, last) = credential.split_at(credential.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

#[tokio::test]
async fn authentication_missing_bad_revoked_and_good() {
    let h = Harness::start("api", None).await;
    let good = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    let hb = Some("{}");

    let r = http(h.addr, "POST", "/v1/heartbeat", &[], hb).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "MISSING_CREDENTIAL");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let body = r.json();
    assert!(body["message_it"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["message_en"].as_str().is_some_and(|m| !m.is_empty()));

    for bad in [
        "Bearer nonsense".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        format!("Bearer {}", good.replace("ca1.1.", "ca1.99.")),
        format!("Bearer {}", flip_last_digit(&good)),
    ] {
        let r = http(
            h.addr,
            "POST",
            "/v1/heartbeat",
            &[("Authorization", &bad)],
            hb,
        )
        .await;
        assert_eq!(r.status, 401, "{bad}");
        assert_eq!(r.error_code(), "INVALID_CREDENTIAL", "{bad}");
    }

    let r = call(
        h.addr,
        &good,
        "POST",
        "/v1/heartbeat",
        Some(r#"{"agent_version":"1.0.0","device_time":"2025-03-01T09:30:01Z"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["device"]["name"], "kiosk-1");
    assert_eq!(body["device"]["kind"], "kiosk");
    assert_eq!(body["device"]["comune"], ROMA);
    assert_eq!(body["api_version"], "v1");
    assert_eq!(body["server_time"], "2025-03-01T09:30:00.000Z");
    assert_eq!(body["clock_skew_ms"], 1000);
    let seen = h.store.list_devices().expect("list");
    assert!(
        seen[0].last_seen_at.is_some(),
        "heartbeat records last_seen_at"
    );

    devices::revoke(&h.store, "kiosk-1", h.clock.now()).expect("revoke");
    let r = call(h.addr, &good, "POST", "/v1/heartbeat", hb).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "DEVICE_REVOKED");

    let metrics = http(h.addr, "GET", "/metrics", &[], None).await.text();
    assert!(
        metrics.contains("channel_adapter_auth_failures_total{code=\"MISSING_CREDENTIAL\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("channel_adapter_auth_failures_total{code=\"INVALID_CREDENTIAL\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("channel_adapter_auth_failures_total{code=\"DEVICE_REVOKED\"} 1"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn openapi_and_metrics_are_served() {
    let h = Harness::start("api", None).await;
    let r = http(h.addr, "GET", "/v1/openapi.json", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/payments/{id}/outcome"]["post"].is_object());

    let cred = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    call(h.addr, &cred, "POST", "/v1/heartbeat", Some("{}")).await;
    let r = http(h.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = r.text();
    assert!(text.contains("# TYPE channel_adapter_http_requests_total counter"));
    assert!(text.contains(
        "channel_adapter_http_requests_total{route=\"/v1/heartbeat\",method=\"POST\",status=\"200\"} 1"
    ), "{text}");
    assert!(text.contains("channel_adapter_payments{state=\"refund_due\"} 0"));
    h.stop().await;
}

#[tokio::test]
async fn errors_are_catalogue_bodies() {
    let h = Harness::start("api", None).await;
    let cred = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);

    let r = http(h.addr, "GET", "/v1/nowhere", &[], None).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "NOT_FOUND"));
    let r = http(h.addr, "DELETE", "/v1/openapi.json", &[], None).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );
    let r = call(h.addr, &cred, "POST", "/v1/heartbeat", Some("{not json")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "INVALID_REQUEST")
    );
    assert!(r.json()["detail"].is_string());
    let r = call(h.addr, &cred, "GET", "/v1/payments?state=bogus", None).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "INVALID_REQUEST")
    );
    let r = call(
        h.addr,
        &cred,
        "GET",
        "/v1/payments/0123456789abcdef0123456789abcdef",
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "PAYMENT_NOT_FOUND")
    );
    let r = call(h.addr, &cred, "GET", "/v1/payments/..%2F..", None).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "PAYMENT_NOT_FOUND")
    );
    let body = r.json();
    let code = ErrorCode::parse(body["code"].as_str().expect("code"));
    assert_eq!(body["message_it"], code.message(channel_api::Lang::It));
    assert_eq!(body["message_en"], code.message(channel_api::Lang::En));
    assert_eq!(body["retryable"], false);
    h.stop().await;
}

#[tokio::test]
async fn without_a_nodo_client_the_nodo_routes_do_not_exist() {
    let h = Harness::start("api", None).await;
    let cred = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    let verify = json!({"notice_number": NOTICE, "creditor_fiscal_code": CREDITOR}).to_string();
    let r = call(h.addr, &cred, "POST", "/v1/verify", Some(&verify)).await;
    assert_eq!(r.status, 404);
    let r = call(h.addr, &cred, "POST", "/v1/payments", Some("{}")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );
    let r = call(h.addr, &cred, "GET", "/v1/payments", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["payments"], json!([]));
    h.stop().await;
}

fn activate_body(key: &str, amount: u64, tender: &str) -> String {
    json!({
        "client_key": key,
        "notice_number": NOTICE,
        "creditor_fiscal_code": CREDITOR,
        "amount": amount,
        "tender": tender,
    })
    .to_string()
}

#[tokio::test]
async fn verify_quotes_fees_and_maps_faults() {
    let nodo = Arc::new(ScriptedNodo::default());
    nodo.verify.lock().expect("lock").extend([
        soap(verified(15000)),
        soap(VerifyPaymentNoticeResponse::ko(fault(
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_DUPLICATO"),
        ))),
        soap(VerifyPaymentNoticeResponse::ko(fault(
            "PPT_STAZIONE_INT_PA_TIMEOUT",
            None,
        ))),
        // APIM's answer to a wrong subscription key.
        Ok(HttpReply {
            status: 401,
            body: "{\"statusCode\": 401}".into(),
        }),
    ]);
    let h = Harness::start("api", Some(Arc::clone(&nodo) as Arc<dyn NodoClient>)).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    let body = json!({"notice_number": NOTICE, "creditor_fiscal_code": CREDITOR}).to_string();

    let r = call(h.addr, &counter, "POST", "/v1/verify", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["amount"], 15000);
    assert_eq!(v["creditor_name"], "Comune di Esempio");
    assert_eq!(
        v["fees"],
        json!([
            {"tender": "card", "fee": 100, "total": 15100},
            {"tender": "cash", "fee": 150, "total": 15150}
        ])
    );
    let seen = nodo.seen_verify.lock().expect("lock").clone();
    assert_eq!(seen[0].qr_code.notice_number.as_str(), NOTICE);
    assert_eq!(seen[0].psp.id_channel.as_str(), "97735020584_03");

    let r = call(h.addr, &counter, "POST", "/v1/verify", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "NOTICE_ALREADY_PAID")
    );
    assert_eq!(
        r.json()["detail"],
        "PPT_ERRORE_EMESSO_DA_PAA (PAA_PAGAMENTO_DUPLICATO)"
    );
    let r = call(h.addr, &counter, "POST", "/v1/verify", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "CREDITOR_UNAVAILABLE")
    );
    assert_eq!(r.json()["retryable"], true);
    let r = call(h.addr, &counter, "POST", "/v1/verify", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "SERVICE_MISCONFIGURED")
    );

    // Every verify was journaled, with the password redacted.
    let calls = h.store.calls_without_payment().expect("journal");
    assert_eq!(calls.len(), 4);
    assert!(
        calls
            .iter()
            .all(|c| c.primitive == Primitive::VerifyPaymentNotice)
    );
    assert!(calls.iter().all(|c| !c.request_xml.contains("pwdpwdpwd")));
    assert!(
        calls[0]
            .request_xml
            .contains("<password>********</password>")
    );
    let results: Vec<_> = calls.iter().map(|c| c.result).collect();
    assert_eq!(
        results,
        [
            Some(CallResult::Ok),
            Some(CallResult::Ko),
            Some(CallResult::Ko),
            Some(CallResult::HttpStatus)
        ]
    );
    assert_eq!(calls[1].action.as_deref(), Some("ALREADY_PAID"));
    h.stop().await;
}

#[tokio::test]
async fn activation_is_journaled_idempotent_and_resent_with_the_same_key() {
    let nodo = Arc::new(ScriptedNodo::default());
    nodo.activate.lock().expect("lock").extend([
        Err(NodoError::Timeout(std::time::Duration::from_secs(15))),
        soap(activated(15000)),
    ]);
    let h = Harness::start("api", Some(Arc::clone(&nodo) as Arc<dyn NodoClient>)).await;
    let kiosk = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    let body = activate_body("kiosk-1-op-0001", 15000, "card");

    // First attempt: no answer. The payment waits in `activating`; the device may resend.
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "NODO_UNAVAILABLE")
    );
    assert_eq!(r.json()["retryable"], true);

    // The resend carries the same Nodo idempotency key and the same body.
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["state"], "active");
    assert_eq!(p["amount"], 15000);
    assert_eq!(p["fee"], 120);
    assert_eq!(p["total"], 15120);
    assert_eq!(p["payment_token"], "c110729d258c4ab1b765fe902aae41d6");
    assert_eq!(p["iuv"], "00715700000000032");
    assert_eq!(p["token_expires_at"], "2025-03-01T09:40:00.000Z");
    let seen = nodo.seen_activate.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "identical request on resend");
    let ActivateCall::V2(first) = &seen[0] else {
        panic!("the configuration asks for V2");
    };
    let key = first.base.idempotency_key.clone().expect("key");
    assert_eq!(key.prefix(), "97735020584");
    assert_eq!(
        first.base.expiration_time.map(|e| e.as_millis()),
        Some(600_000)
    );
    assert_eq!(first.base.amount, cents(15000));

    // A third send with the same key answers from the store, without calling the Nodo.
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], p["id"]);
    assert_eq!(nodo.seen_activate.lock().expect("lock").len(), 2);

    // The same key with other data is refused.
    let other = activate_body("kiosk-1-op-0001", 9999, "card");
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&other)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "CLIENT_KEY_REUSED")
    );

    // The journal holds both attempts, before and after.
    let id = p["id"].as_str().expect("id");
    let calls = h.store.calls_for_payment(id).expect("journal");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].result, Some(CallResult::NoAnswer));
    assert_eq!(calls[0].action.as_deref(), Some("RESEND_SAME"));
    assert_eq!(calls[1].result, Some(CallResult::Ok));
    assert_eq!(calls[0].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(calls[1].idempotency_key.as_deref(), Some(key.as_str()));
    assert!(h.store.open_calls().expect("open").is_empty());
    h.stop().await;
}

#[tokio::test]
async fn refused_activation_and_retry_after_a_transient_refusal() {
    let nodo = Arc::new(ScriptedNodo::default());
    nodo.activate.lock().expect("lock").extend([
        soap(ActivatePaymentNoticeV2Response::ko(fault(
            "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            None,
        ))),
        soap(activated(15000)),
        soap(ActivatePaymentNoticeV2Response::ko(fault(
            "PPT_PAGAMENTO_DUPLICATO",
            None,
        ))),
    ]);
    let h = Harness::start("api", Some(Arc::clone(&nodo) as Arc<dyn NodoClient>)).await;
    let kiosk = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);

    let body = activate_body("kiosk-1-op-0001", 15000, "card");
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "CREDITOR_UNAVAILABLE")
    );
    // Retrying the same operation starts a new attempt with a new Nodo key.
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "active");
    let seen = nodo.seen_activate.lock().expect("lock").clone();
    let key = |c: &ActivateCall| match c {
        ActivateCall::V2(r) => r.base.idempotency_key.clone(),
        ActivateCall::V1(r) => r.idempotency_key.clone(),
    };
    assert_ne!(key(&seen[0]), key(&seen[1]));

    // A permanent refusal sticks: the same key gets the same answer without a new call.
    let body = activate_body("kiosk-1-op-0002", 15000, "card");
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "NOTICE_ALREADY_PAID")
    );
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "NOTICE_ALREADY_PAID")
    );
    assert_eq!(nodo.seen_activate.lock().expect("lock").len(), 3);
    let failed = call(
        h.addr,
        &kiosk,
        "GET",
        "/v1/payments?state=activation_failed",
        None,
    )
    .await
    .json();
    assert_eq!(
        failed["payments"][0]["error"]["code"],
        "NOTICE_ALREADY_PAID"
    );

    // A tender the kiosk does not take is refused before any Nodo call.
    let body = activate_body("kiosk-1-op-0003", 15000, "cash");
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "TENDER_NOT_ACCEPTED")
    );
    assert_eq!(nodo.seen_activate.lock().expect("lock").len(), 3);
    h.stop().await;
}

async fn active_payment(h: &Harness, cred: &str) -> Value {
    let body = activate_body("kiosk-1-op-0001", 15000, "card");
    let r = call(h.addr, cred, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn outcome_is_recorded_once_and_queued() {
    let nodo = Arc::new(ScriptedNodo::default());
    nodo.activate
        .lock()
        .expect("lock")
        .push_back(soap(activated(15000)));
    let h = Harness::start("api", Some(Arc::clone(&nodo) as Arc<dyn NodoClient>)).await;
    let kiosk = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    let p = active_payment(&h, &kiosk).await;
    let id = p["id"].as_str().expect("id");
    let path = format!("/v1/payments/{id}/outcome");

    let wrong_fee = json!({"outcome": "OK", "paid_with": "credit_card", "fee": 100,
        "paid_at": "2025-03-01T09:31:00Z", "terminal": {"terminal_id": "T1"}})
    .to_string();
    let r = call(h.addr, &kiosk, "POST", &path, Some(&wrong_fee)).await;
    assert_eq!((r.status, r.error_code().as_str()), (422, "FEE_MISMATCH"));

    let card_number = json!({"outcome": "OK", "paid_with": "credit_card", "fee": 120,
        "paid_at": "2025-03-01T09:31:00Z",
        "terminal": {"terminal_id": "T1", "masked_pan": "4111111111111111"}})
    .to_string();
    let r = call(h.addr, &kiosk, "POST", &path, Some(&card_number)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "INVALID_REQUEST")
    );

    let ok = json!({"outcome": "OK", "paid_with": "pagobancomat", "fee": 120,
        "paid_at": "2025-03-01T09:31:00Z", "receipt_number": "K1-000042",
        "terminal": {"terminal_id": "T1", "auth_code": "A1B2C3", "masked_pan": "************1234"}})
    .to_string();
    let r = call(h.addr, &kiosk, "POST", &path, Some(&ok)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    assert_eq!(body["state"], "outcome_pending");
    assert_eq!(body["outcome"]["outcome"], "OK");
    assert_eq!(
        body["outcome"]["terminal"]["masked_pan"],
        "************1234"
    );

    // Resending the same outcome is fine; a different one is a conflict.
    let r = call(h.addr, &kiosk, "POST", &path, Some(&ok)).await;
    assert_eq!(r.status, 202);
    let ko = json!({"outcome": "KO", "reason": "declined"}).to_string();
    let r = call(h.addr, &kiosk, "POST", &path, Some(&ko)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "OUTCOME_CONFLICT")
    );

    // Exactly one outbox entry, due now.
    let due = h.store.outbox_heads().expect("due");
    assert_eq!(due.len(), 1);
    assert!(due[0].ok);
    assert_eq!(due[0].payment_id.as_str(), id);
    assert_eq!(due[0].idempotency_key.prefix(), "97735020584");
    assert!(due[0].next_attempt_at <= h.clock.now());

    // Another comune's device sees nothing.
    let stranger = h.device("kiosk-far", OTHER_COMUNE, DeviceKind::Kiosk);
    let r = call(
        h.addr,
        &stranger,
        "GET",
        &format!("/v1/payments/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "PAYMENT_NOT_FOUND")
    );
    let r = call(h.addr, &stranger, "POST", &path, Some(&ko)).await;
    assert_eq!(r.status, 404);
    // The same comune's other device reads it but cannot report for it.
    let colleague = h.device("counter-1", ROMA, DeviceKind::Counter);
    let r = call(
        h.addr,
        &colleague,
        "GET",
        &format!("/v1/payments/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["state"], "outcome_pending");
    h.state.outbox_wakeup.all();
    h.stop().await;
}

#[tokio::test]
async fn outcome_before_activation_is_refused() {
    let nodo = Arc::new(ScriptedNodo::default());
    // No script: the activation gets no answer and the payment stays `activating`.
    let h = Harness::start("api", Some(Arc::clone(&nodo) as Arc<dyn NodoClient>)).await;
    let kiosk = h.device("kiosk-1", ROMA, DeviceKind::Kiosk);
    let body = activate_body("kiosk-1-op-0001", 15000, "card");
    let r = call(h.addr, &kiosk, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 503);
    let list = call(h.addr, &kiosk, "GET", "/v1/payments", None)
        .await
        .json();
    let id = list["payments"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(list["payments"][0]["state"], "activating");
    let ko = json!({"outcome": "KO", "reason": "cancelled_by_citizen"}).to_string();
    let r = call(
        h.addr,
        &kiosk,
        "POST",
        &format!("/v1/payments/{id}/outcome"),
        Some(&ko),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "INVALID_STATE"));
    assert!(h.store.outbox_heads().expect("due").is_empty());
    h.stop().await;
}

#[tokio::test]
async fn offline_batches_queue_each_payment_once() {
    let h = Harness::start("api", None).await;
    let counter = h.device("counter-1", ROMA, DeviceKind::Counter);
    let item = |key: &str, amount: u64, fee: u64| {
        json!({"client_key": key, "notice_number": NOTICE, "creditor_fiscal_code": CREDITOR,
            "amount": amount, "fee": fee, "paid_with": "cash",
            "paid_at": "2025-03-01T08:00:00Z", "receipt_number": format!("P-{key}")})
    };
    let batch = json!({"payments": [
        item("offline-0001", 4000, 100),
        item("offline-0002", 6000, 100),
        item("offline-0003", 6000, 150),
    ]})
    .to_string();
    let r = call(
        h.addr,
        &counter,
        "POST",
        "/v1/offline-batches",
        Some(&batch),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].clone();
    assert_eq!(results[0]["payment"]["state"], "offline_queued");
    assert_eq!(results[0]["payment"]["offline"], true);
    assert_eq!(results[1]["error"]["code"], "FEE_MISMATCH");
    assert_eq!(results[2]["payment"]["state"], "offline_queued");
    let first_id = results[0]["payment"]["id"].clone();

    // Resent after a lost answer: the same payments, nothing new.
    let r = call(
        h.addr,
        &counter,
        "POST",
        "/v1/offline-batches",
        Some(&batch),
    )
    .await;
    let again = r.json()["results"].clone();
    assert_eq!(again[0]["payment"]["id"], first_id);
    let queued = call(
        h.addr,
        &counter,
        "GET",
        "/v1/payments?state=offline_queued",
        None,
    )
    .await
    .json();
    assert_eq!(queued["payments"].as_array().map(Vec::len), Some(2));

    let big = json!({"payments": (0..101).map(|i| item(&format!("offline-{i:04}"), 100, 100)).collect::<Vec<_>>()}).to_string();
    let r = call(h.addr, &counter, "POST", "/v1/offline-batches", Some(&big)).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "BATCH_TOO_LARGE")
    );
    h.stop().await;
}

#[tokio::test]
async fn payment_state_names_in_the_api_are_the_stored_ones() {
    for s in PaymentState::ALL {
        assert_eq!(
            serde_json::to_value(s).expect("serializes"),
            Value::from(s.as_str())
        );
    }
}
