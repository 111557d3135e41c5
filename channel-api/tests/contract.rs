//! The OpenAPI document and the Rust types describe the same contract: every path, error code,
//! payment state and enum value in one is in the other, and sample messages round-trip.

use std::collections::BTreeSet;

use channel_api::{
    ActivateRequest, ErrorCode, OPENAPI_JSON, OfflineBatchRequest, OutcomeRequest, PaidWith,
    Payment, PaymentState, Tender, paths,
};
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
}

fn enum_values(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {schema} has an enum"))
        .iter()
        .map(|v| v.as_str().expect("string enum").to_owned())
        .collect()
}

#[test]
fn document_is_openapi_3_1_with_every_path() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = paths::ALL.into_iter().collect();
    assert_eq!(documented, served);
}

#[test]
fn every_reference_resolves() {
    let doc = doc();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut stack = vec![&doc];
    let mut refs = 0;
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    let name = r
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("local schema ref: {r}"));
                    assert!(schemas.contains_key(name), "dangling {r}");
                    refs += 1;
                }
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    assert!(refs > 50, "the document uses its schemas ({refs} refs)");
}

#[test]
fn error_codes_match_the_catalogue() {
    let documented = enum_values(&doc(), "ErrorCode");
    let catalogue: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(documented, catalogue);
}

#[test]
fn enums_match_the_types() {
    let doc = doc();
    let states: BTreeSet<String> = PaymentState::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(enum_values(&doc, "PaymentState"), states);
    let tenders: BTreeSet<String> = Tender::ALL.iter().map(|t| t.as_str().to_owned()).collect();
    assert_eq!(enum_values(&doc, "Tender"), tenders);
    for v in enum_values(&doc, "PaidWith") {
        assert!(PaidWith::parse(&v).is_some(), "{v}");
    }
    for v in enum_values(&doc, "DeviceKind") {
        assert!(channel_api::DeviceKind::parse(&v).is_some(), "{v}");
    }
}

#[test]
fn state_names_are_pinned() {
    // These are also the adapter's on-disk values: changing one needs a data migration.
    let pinned = [
        (PaymentState::Activating, "activating"),
        (PaymentState::ActivationFailed, "activation_failed"),
        (PaymentState::Active, "active"),
        (PaymentState::OutcomePending, "outcome_pending"),
        (PaymentState::Confirmed, "confirmed"),
        (PaymentState::Cancelled, "cancelled"),
        (PaymentState::LateAccepted, "late_accepted"),
        (PaymentState::RefundDue, "refund_due"),
        (PaymentState::Refunded, "refunded"),
        (PaymentState::NeedsAttention, "needs_attention"),
        (PaymentState::OfflineQueued, "offline_queued"),
    ];
    assert_eq!(pinned.len(), PaymentState::ALL.len());
    for (state, name) in pinned {
        assert_eq!(state.as_str(), name);
        assert_eq!(PaymentState::parse(name), Some(state));
        assert_eq!(
            serde_json::to_value(state).expect("serializes"),
            Value::from(name)
        );
    }
}

#[test]
fn activate_request_reads_cents_and_rejects_floats() {
    let json = r#"{"client_key":"c1b2c3d4-0001","notice_number":"300715700000000032",
        "creditor_fiscal_code":"00085240950","amount":15000,"tender":"card","extra":"ignored"}"#;
    let req: ActivateRequest = serde_json::from_str(json).expect("parses");
    assert_eq!(req.amount.cents(), 15000);
    assert_eq!(req.tender, Tender::Card);
    let float = json.replace("15000", "150.00");
    assert!(serde_json::from_str::<ActivateRequest>(&float).is_err());
    let short_key = json.replace("c1b2c3d4-0001", "k1");
    assert!(serde_json::from_str::<ActivateRequest>(&short_key).is_err());
}

#[test]
fn outcome_request_is_tagged_by_outcome() {
    let ok = r#"{"outcome":"OK","paid_with":"pagobancomat","fee":120,
        "paid_at":"2025-03-01T09:30:00Z","terminal":{"terminal_id":"T1","masked_pan":"****1234"}}"#;
    match serde_json::from_str::<OutcomeRequest>(ok).expect("parses") {
        OutcomeRequest::Ok {
            paid_with,
            fee,
            terminal,
            ..
        } => {
            assert_eq!(paid_with.tender(), Tender::Card);
            assert_eq!(fee.cents(), 120);
            assert!(terminal.expect("terminal").masked_pan_is_safe());
        }
        other => panic!("expected OK, got {other:?}"),
    }
    let ko = r#"{"outcome":"KO","reason":"declined"}"#;
    let parsed: OutcomeRequest = serde_json::from_str(ko).expect("parses");
    assert_eq!(
        serde_json::to_string(&parsed).expect("serializes"),
        ko.replace(' ', "")
    );
}

#[test]
fn a_card_number_is_not_a_safe_masked_pan() {
    let refs = |pan: &str| channel_api::TerminalRefs {
        terminal_id: "T1".into(),
        masked_pan: Some(pan.into()),
        ..Default::default()
    };
    assert!(refs("************1234").masked_pan_is_safe());
    assert!(refs("XXXX XXXX XXXX 1234").masked_pan_is_safe());
    assert!(!refs("4111111111111111").masked_pan_is_safe());
    assert!(!refs("411111******1111").masked_pan_is_safe());
    assert!(!refs("****1234<script>").masked_pan_is_safe());
}

#[test]
fn payment_round_trips() {
    let json = r#"{"id":"0123456789abcdef0123456789abcdef","state":"active","client_key":"c1b2c3d4-0001",
        "notice_number":"300715700000000032","creditor_fiscal_code":"00085240950",
        "amount":15000,"fee":120,"total":15120,"tender":"card","creditor_name":"Comune di Roma",
        "description":null,"iuv":"00715700000000032","payment_token":"c110729d258c4ab1b765fe902aae41d6",
        "token_expires_at":"2025-03-01T09:40:00.000Z","outcome":null,"error":null,"offline":false,
        "created_at":"2025-03-01T09:30:00.000Z","updated_at":"2025-03-01T09:30:01.000Z"}"#;
    let p: Payment = serde_json::from_str(json).expect("parses");
    assert_eq!(p.state, PaymentState::Active);
    assert_eq!(p.total.cents(), 15120);
    let again: Payment =
        serde_json::from_str(&serde_json::to_string(&p).expect("serializes")).expect("parses");
    assert_eq!(again, p);
}

#[test]
fn offline_batch_limit_is_documented() {
    let doc = doc();
    assert_eq!(
        doc["components"]["schemas"]["OfflineBatchRequest"]["properties"]["payments"]["maxItems"],
        OfflineBatchRequest::MAX_PAYMENTS
    );
}

#[test]
fn closing_and_resolution_shapes_match_the_document() {
    let doc = doc();
    let verdicts: BTreeSet<String> = [
        channel_api::ClosingVerdict::Agree,
        channel_api::ClosingVerdict::Mismatch,
    ]
    .iter()
    .map(|v| v.as_str().to_owned())
    .collect();
    assert_eq!(enum_values(&doc, "ClosingVerdict"), verdicts);
    let kinds: BTreeSet<String> =
        doc["components"]["schemas"]["ResolutionRequest"]["properties"]["resolution"]["enum"]
            .as_array()
            .expect("resolution kinds")
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect();
    let refund: channel_api::ResolutionRequest = serde_json::from_str(
        r#"{"resolution":"refunded","tender":"cash","amount":4100,"note":"allo sportello"}"#,
    )
    .expect("a refund");
    assert_eq!(refund.note(), Some("allo sportello"));
    let samples = [
        refund,
        serde_json::from_str(r#"{"resolution":"written_off"}"#).expect("a write-off"),
        serde_json::from_str(r#"{"resolution":"other","note":"x"}"#).expect("other"),
    ];
    let sent: BTreeSet<String> = samples.iter().map(|r| r.kind().to_owned()).collect();
    assert_eq!(kinds, sent);
    for r in &samples {
        let json = serde_json::to_value(r).expect("serializes");
        assert_eq!(json["resolution"], r.kind());
        let back: channel_api::ResolutionRequest =
            serde_json::from_value(json).expect("round-trips");
        assert_eq!(&back, r);
    }
    assert!(
        serde_json::from_str::<channel_api::ResolutionRequest>(
            r#"{"resolution":"refunded","tender":"cash","amount":41.00}"#
        )
        .is_err(),
        "amounts are integer cents"
    );
    assert!(
        serde_json::from_str::<channel_api::ResolutionRequest>(r#"{"resolution":"other"}"#)
            .is_err(),
        "other needs a note"
    );
    let closing: channel_api::ClosingRequest = serde_json::from_str(
        r#"{"day":"2025-03-01","totals":{"cash":{"count":1,"cents":4100},"card":{"count":0,"cents":0}},
            "expected_cash":4100,"counted_cash":4000,
            "payments":[{"client_key":"pay-cash-0001","tender":"cash","total":4100}]}"#,
    )
    .expect("a closing");
    assert_eq!(closing.day.to_string(), "2025-03-01");
    assert_eq!(closing.counted_cash.cents(), 4000);
    assert_eq!(closing.payments[0].total.cents(), 4100);
}

#[test]
fn fleet_enums_match_the_types() {
    use channel_api::fleet::{CredentialKind, FeeDisplay, PaperLevel};
    let doc = doc();
    let wire = |v: serde_json::Value| v.as_str().expect("string").to_owned();
    let kinds: BTreeSet<String> = [CredentialKind::Secret, CredentialKind::KeyPair]
        .into_iter()
        .map(|k| wire(serde_json::to_value(k).expect("serializes")))
        .collect();
    assert_eq!(enum_values(&doc, "CredentialKind"), kinds);
    let levels: BTreeSet<String> = [PaperLevel::Ok, PaperLevel::Low, PaperLevel::Out]
        .into_iter()
        .map(|k| wire(serde_json::to_value(k).expect("serializes")))
        .collect();
    assert_eq!(enum_values(&doc, "PaperLevel"), levels);
    let displays: BTreeSet<String> = [FeeDisplay::Itemized, FeeDisplay::TotalFirst]
        .into_iter()
        .map(|k| wire(serde_json::to_value(k).expect("serializes")))
        .collect();
    assert_eq!(enum_values(&doc, "FeeDisplay"), displays);
    // The signed-request scheme is documented next to the bearer one.
    assert!(doc["components"]["securitySchemes"]["signature"].is_object());
    assert_eq!(
        doc["paths"]["/v1/enroll"]["post"]["security"],
        serde_json::json!([])
    );
}
