//! Unit tests of the pure state machine: every SANP rule the simulator claims, with injected
//! time and a seeded token generator.

use super::*;
use crate::ids::SeededTokens;
use pagopa::soap::{
    ActivatePaymentNoticeV2Request, ExpirationTime, PaymentChannel, SendPaymentOutcomeRequest,
    SendPaymentOutcomeV2Request, VerifyPaymentNoticeRequest,
};
use pagopa::{CheckMode, NoticeNumber};

const CATALOGUE: &str = r#"
[[creditors]]
fiscal_code = "02438750586"
company_name = "Roma Capitale"
office_name = "Dipartimento Risorse Economiche"

[[creditors]]
fiscal_code = "80034390585"
company_name = "Citta' metropolitana di Roma Capitale"

[[creditors]]
fiscal_code = "01199250158"
company_name = "Comune irraggiungibile"
station = "unreachable"

[[notices]]
creditor = "02438750586"
notice_number = "301000000000012373"
service = "TARI"
description = "TARI 2025 - rata unica"
due_date = "2025-09-30"
debtor = { id = "RSSMRA80A01H501U", name = "Mario Rossi" }
transfers = [
  { iban = "IT60X0542811101000000123456", amount = "190.00", remittance = "TARI 2025", category = "0101101IM" },
  { fiscal_code = "80034390585", iban = "IT60X0542811101000000123456", amount = "9.50", remittance = "TEFA 2025", category = "0201102IM" },
]

[[notices]]
creditor = "02438750586"
notice_number = "302000000000000111"
description = "Mensa scolastica"
office_name = "Servizi Scolastici"
due_date = "2025-09-30"
debtor = { id = "RSSMRA80A01H501U", name = "Mario Rossi" }
transfers = [{ iban = "IT60X0542811101000000123456", amount = "45.00", remittance = "Mensa", category = "0105108TS" }]

[[notices]]
creditor = "02438750586"
notice_number = "303000000000000222"
description = "Verbale annullato"
due_date = "2025-09-30"
status = "annulled"
debtor = { id = "RSSMRA80A01H501U", name = "Mario Rossi" }
transfers = [{ iban = "IT60X0542811101000000123456", amount = "42.00", remittance = "Multa", category = "0103103SP" }]
"#;

const ROMA: &str = "02438750586";
const TARI: &str = "301000000000012373";
const MENSA: &str = "302000000000000111";
const MIN: Millis = 60_000;
const T0: Millis = 1_750_000_000_000;

fn channel(psp: &str, channel: &str) -> Channel {
    Channel {
        id_psp: Text35::new(psp).expect("psp"),
        id_broker_psp: Text35::new(psp).expect("broker"),
        id_channel: Text35::new(channel).expect("channel"),
        password: Password::new("pwdpwdpwd").expect("password"),
        psp_company_name: Text70::new("PSP di prova").expect("name"),
        psp_fiscal_code: None,
        channel_description: Text35::new("Sportello").expect("description"),
    }
}

fn nodo() -> Nodo {
    nodo_keeping(100_000)
}

fn nodo_keeping(max_receipts: usize) -> Nodo {
    let catalogue = Catalogue::from_toml(CATALOGUE, "test").expect("catalogue");
    let settings = Settings {
        channels: vec![
            channel("70000000001", "70000000001_01"),
            channel("60000000001", "60000000001_01"),
            channel("70000000001", "70000000001_02"),
        ],
        scenario_creditor: CreditorFiscalCode::parse("77777777777", CheckMode::Lenient)
            .expect("fc"),
        station_timeout_ms: 7_000,
        idempotency_ttl_ms: 30 * MIN,
        retention_ms: 60 * MIN,
        max_receipts,
    };
    Nodo::new(settings, catalogue, Box::new(SeededTokens::new(1))).expect("nodo")
}

fn psp() -> PspIdentity {
    PspIdentity {
        id_psp: Text35::new("70000000001").expect("psp"),
        id_broker_psp: Text35::new("70000000001").expect("broker"),
        id_channel: Text35::new("70000000001_01").expect("channel"),
        password: Password::new("pwdpwdpwd").expect("password"),
    }
}

fn qr(fc: &str, notice: &str) -> QrCode {
    QrCode {
        fiscal_code: CreditorFiscalCode::parse(fc, CheckMode::Lenient).expect("fc"),
        notice_number: NoticeNumber::parse(notice, CheckMode::Lenient).expect("notice"),
    }
}

fn key(suffix: &str) -> IdempotencyKey {
    IdempotencyKey::new("70000000001", suffix).expect("key")
}

fn cents(c: u64) -> Amount {
    Amount::from_cents(c).expect("amount")
}

fn verify(fc: &str, notice: &str) -> NodoRequest {
    NodoRequest::VerifyPaymentNotice(VerifyPaymentNoticeRequest {
        psp: psp(),
        qr_code: qr(fc, notice),
    })
}

fn activate_req(
    fc: &str,
    notice: &str,
    amount: u64,
    k: Option<&str>,
    expiration_ms: Option<u32>,
) -> ActivatePaymentNoticeRequest {
    ActivatePaymentNoticeRequest {
        psp: psp(),
        idempotency_key: k.map(key),
        qr_code: qr(fc, notice),
        expiration_time: expiration_ms.map(|ms| ExpirationTime::from_millis(ms).expect("ms")),
        amount: cents(amount),
        due_date: None,
        payment_note: None,
    }
}

fn activate(fc: &str, notice: &str, amount: u64, k: Option<&str>, exp: Option<u32>) -> NodoRequest {
    NodoRequest::ActivatePaymentNotice(activate_req(fc, notice, amount, k, exp))
}

fn details() -> OutcomeDetails {
    OutcomeDetails {
        payment_method: PaymentMethod::Cash,
        payment_channel: Some(PaymentChannel::FrontOffice),
        fee: cents(150),
        payer: None,
        application_date: Date::new(2025, 6, 15).expect("date"),
        transfer_date: Date::new(2025, 6, 16).expect("date"),
    }
}

fn outcome(token: &str, ok: bool, k: Option<&str>) -> NodoRequest {
    NodoRequest::SendPaymentOutcome(SendPaymentOutcomeRequest {
        psp: psp(),
        idempotency_key: k.map(key),
        payment_token: PaymentToken::new(token).expect("token"),
        outcome: if ok { Outcome::Ok } else { Outcome::Ko },
        details: ok.then(details),
    })
}

fn fault_code(r: &Reply) -> Option<&str> {
    r.response.fault().map(|f| f.fault_code.as_str())
}

fn original_code(r: &Reply) -> Option<&str> {
    r.response
        .fault()
        .and_then(|f| f.original_fault_code.as_ref())
        .map(FaultCode::as_str)
}

fn token_of(r: &Reply) -> String {
    match &r.response {
        NodoResponse::ActivatePaymentNotice(a) => a
            .result
            .as_ref()
            .map(|p| p.payment_token.to_string())
            .expect("activate OK"),
        NodoResponse::ActivatePaymentNoticeV2(a) => a
            .result
            .as_ref()
            .map(|p| p.payment_token.to_string())
            .expect("activate OK"),
        other => panic!("not an activation: {other:?}"),
    }
}

#[test]
fn verify_answers_without_side_effects() {
    let mut n = nodo();
    for _ in 0..3 {
        let r = n.handle(&verify(ROMA, TARI), T0);
        assert_eq!(fault_code(&r), None);
        match &r.response {
            NodoResponse::VerifyPaymentNotice(v) => {
                let v = v.result.as_ref().expect("OK");
                assert_eq!(v.payment_options[0].amount.get(), cents(19_950));
                assert_eq!(
                    v.company_name.as_ref().map(Text140::as_str),
                    Some("Roma Capitale")
                );
                assert_eq!(
                    v.office_name.as_ref().map(Text140::as_str),
                    Some("Dipartimento Risorse Economiche")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let r = n.handle(&activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), None), T0);
    assert_eq!(fault_code(&r), None);
}

#[test]
fn activation_returns_transfers_token_and_iuv() {
    let mut n = nodo();
    let r = n.handle(&activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), None), T0);
    let NodoResponse::ActivatePaymentNotice(a) = &r.response else {
        panic!("{r:?}");
    };
    let a = a.result.as_ref().expect("OK");
    assert_eq!(a.total_amount, cents(19_950));
    assert_eq!(a.creditor_reference_id.as_str(), "01000000000012373");
    assert_eq!(a.transfers.len(), 2);
    assert_eq!(a.transfers[1].fiscal_code_pa.as_str(), "80034390585");
    assert_eq!(a.transfers[1].amount, cents(950));
    assert_eq!(a.transfers_total(), Ok(cents(19_950)));
    // The token comes from the injected generator.
    let expected = format_token(SeededTokens::new(1).next_token());
    assert_eq!(a.payment_token.as_str(), expected);
    assert_eq!(a.payment_token.as_str().len(), 32);

    let v2 = NodoRequest::ActivatePaymentNoticeV2(ActivatePaymentNoticeV2Request {
        base: activate_req(ROMA, MENSA, 4_500, Some("aaaaaaaaa2"), None),
        payment_method: None,
        touch_point: None,
    });
    let r = n.handle(&v2, T0);
    let NodoResponse::ActivatePaymentNoticeV2(a) = &r.response else {
        panic!("{r:?}");
    };
    let a = a.result.as_ref().expect("OK");
    assert_eq!(
        a.office_name.as_ref().map(Text140::as_str),
        Some("Servizi Scolastici")
    );
    assert_eq!(
        a.transfers[0]
            .transfer_category
            .as_ref()
            .map(Text140::as_str),
        Some("0105108TS")
    );
    assert!(matches!(
        a.transfers[0].destination,
        Some(TransferDestination::Iban(_))
    ));
    assert_eq!(a.all_ccp, Some(false));
}

#[test]
fn a_live_token_locks_the_notice_until_it_expires() {
    let mut n = nodo();
    let r = n.handle(
        &activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), Some(120_000)),
        T0,
    );
    let first = token_of(&r);
    let again = activate(ROMA, TARI, 19_950, Some("bbbbbbbbb1"), None);
    assert_eq!(
        fault_code(&n.handle(&again, T0 + 1)),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    assert_eq!(
        fault_code(&n.handle(&verify(ROMA, TARI), T0 + 1)),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    // Expired: the notice is free again, and the new session has a new token.
    let r = n.handle(&again, T0 + 120_000);
    assert_eq!(fault_code(&r), None);
    assert_ne!(token_of(&r), first);
}

#[test]
fn the_default_lifetime_is_thirty_minutes() {
    let mut n = nodo();
    n.handle(&activate(ROMA, TARI, 19_950, None, None), T0);
    let other = activate(ROMA, TARI, 19_950, None, None);
    assert_eq!(
        fault_code(&n.handle(&other, T0 + 30 * MIN - 1)),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    assert_eq!(fault_code(&n.handle(&other, T0 + 30 * MIN)), None);
}

#[test]
fn the_amount_must_be_the_one_due() {
    let mut n = nodo();
    let r = n.handle(&activate(ROMA, TARI, 19_900, Some("aaaaaaaaa1"), None), T0);
    assert_eq!(fault_code(&r), Some("PPT_ERRORE_EMESSO_DA_PAA"));
    assert_eq!(original_code(&r), Some("PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO"));
    // Nothing was locked.
    assert_eq!(fault_code(&n.handle(&verify(ROMA, TARI), T0)), None);
}

#[test]
fn idempotency_replays_the_same_request_and_refuses_a_different_one() {
    let mut n = nodo();
    let req = activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), None);
    let first = n.handle(&req, T0);
    let replay = n.handle(&req, T0 + 1_000);
    assert_eq!(replay, first, "same key, same body: the original answer");
    let different = activate(ROMA, MENSA, 4_500, Some("aaaaaaaaa1"), None);
    assert_eq!(
        fault_code(&n.handle(&different, T0 + 2_000)),
        Some("PPT_ERRORE_IDEMPOTENZA")
    );

    let token = token_of(&first);
    let out = outcome(&token, true, Some("ccccccccc1"));
    let ok = n.handle(&out, T0 + 3_000);
    assert_eq!(fault_code(&ok), None);
    assert_eq!(n.handle(&out, T0 + 4_000), ok, "outcome replayed");
    assert_eq!(
        n.receipts().len(),
        1,
        "the replay produced no second receipt"
    );
    let ko_instead = outcome(&token, false, Some("ccccccccc1"));
    assert_eq!(
        fault_code(&n.handle(&ko_instead, T0 + 5_000)),
        Some("PPT_ERRORE_IDEMPOTENZA")
    );
    // The activation's key died with the outcome: the same activation is a new request now.
    assert_eq!(
        fault_code(&n.handle(&req, T0 + 6_000)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
}

#[test]
fn an_activation_key_expires_with_its_token() {
    let mut n = nodo();
    let req = activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), Some(60_000));
    let first = n.handle(&req, T0);
    // After the token (and so the key) expired, the same request is a new activation.
    let second = n.handle(&req, T0 + 60_000);
    assert_eq!(fault_code(&second), None);
    assert_ne!(token_of(&second), token_of(&first));
}

#[test]
fn keys_are_shared_by_the_channels_of_a_psp() {
    let mut n = nodo();
    let first = activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), None);
    assert_eq!(fault_code(&n.handle(&first, T0)), None);
    let NodoRequest::ActivatePaymentNotice(mut other_channel) = first.clone() else {
        panic!("activation");
    };
    other_channel.psp.id_channel = Text35::new("70000000001_02").expect("channel");
    let r = n.handle(&NodoRequest::ActivatePaymentNotice(other_channel), T0 + 1);
    assert_eq!(fault_code(&r), Some("PPT_ERRORE_IDEMPOTENZA"));
    // Another PSP has its own keys: the same key is a new request there.
    let NodoRequest::ActivatePaymentNotice(mut other_psp) = first else {
        panic!("activation");
    };
    other_psp.psp.id_psp = Text35::new("60000000001").expect("psp");
    other_psp.psp.id_broker_psp = Text35::new("60000000001").expect("broker");
    other_psp.psp.id_channel = Text35::new("60000000001_01").expect("channel");
    let r = n.handle(&NodoRequest::ActivatePaymentNotice(other_psp), T0 + 2);
    assert_eq!(fault_code(&r), Some("PPT_PAGAMENTO_IN_CORSO"));
}

#[test]
fn an_ok_outcome_pays_the_notice_and_produces_a_receipt() {
    let mut n = nodo();
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, Some("aaaaaaaaa1"), None), T0));
    let r = n.handle(&outcome(&token, true, Some("ccccccccc1")), T0 + MIN);
    assert_eq!(fault_code(&r), None);
    assert_eq!(
        fault_code(&n.handle(&verify(ROMA, TARI), T0 + 2 * MIN)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
    let again = activate(ROMA, TARI, 19_950, Some("bbbbbbbbb1"), None);
    assert_eq!(
        fault_code(&n.handle(&again, T0 + 2 * MIN)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
    let second = outcome(&token, true, Some("ddddddddd1"));
    assert_eq!(
        fault_code(&n.handle(&second, T0 + 3 * MIN)),
        Some("PPT_ESITO_GIA_ACQUISITO")
    );

    assert_eq!(n.receipts().len(), 1, "one receipt expected");
    let rec = &n.receipts()[0];
    assert!(!rec.late);
    assert_eq!(rec.fdr_code(), 0);
    assert_eq!(rec.receipt.receipt_id.as_str(), token);
    assert_eq!(rec.receipt.payment_amount, cents(19_950));
    assert_eq!(rec.receipt.fee, Some(cents(150)));
    assert_eq!(
        rec.receipt.payment_method.as_ref().map(Text35::as_str),
        Some("cash")
    );
    assert_eq!(rec.receipt.transfers.len(), 2);
    assert_eq!(rec.station.id_station.as_str(), "02438750586_01");
    assert_eq!(rec.receipt.id_channel.as_str(), "70000000001_01");
    assert!(rec.receipt.payment_date_time.is_some());
}

#[test]
fn a_ko_outcome_releases_the_notice() {
    let mut n = nodo();
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0));
    assert_eq!(
        fault_code(&n.handle(&outcome(&token, false, None), T0 + 1)),
        None
    );
    assert!(n.receipts().is_empty());
    assert_eq!(fault_code(&n.handle(&verify(ROMA, TARI), T0 + 2)), None);
    assert_eq!(
        fault_code(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0 + 3)),
        None
    );
}

#[test]
fn late_outcomes_follow_the_best_practice_table() {
    // OK after expiry, nobody else around: accepted, receipt with FdR code 9.
    let mut n = nodo();
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, Some(60_000)), T0));
    let r = n.handle(&outcome(&token, true, None), T0 + 2 * MIN);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCADUTO"));
    assert_eq!(n.receipts().len(), 1);
    assert!(n.receipts()[0].late);
    assert_eq!(n.receipts()[0].fdr_code(), 9);
    assert_eq!(
        fault_code(&n.handle(&verify(ROMA, TARI), T0 + 3 * MIN)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );

    // KO after expiry.
    let mut n = nodo();
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, Some(60_000)), T0));
    let r = n.handle(&outcome(&token, false, None), T0 + 2 * MIN);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCADUTO_KO"));
    assert_eq!(
        fault_code(&n.handle(&verify(ROMA, TARI), T0 + 3 * MIN)),
        None
    );

    // OK after expiry, someone else paid meanwhile: refund.
    let mut n = nodo();
    let a = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, Some(60_000)), T0));
    let b = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0 + 2 * MIN));
    assert_eq!(
        fault_code(&n.handle(&outcome(&b, true, None), T0 + 3 * MIN)),
        None
    );
    let r = n.handle(&outcome(&a, true, None), T0 + 4 * MIN);
    assert_eq!(fault_code(&r), Some("PPT_PAGAMENTO_DUPLICATO"));
    assert_eq!(
        n.receipts().len(),
        1,
        "only the payment that counted has a receipt"
    );
    assert_eq!(n.receipts()[0].receipt.receipt_id.as_str(), b);

    // OK after expiry while another session holds the notice: refund too.
    let mut n = nodo();
    let a = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, Some(60_000)), T0));
    let b = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0 + 2 * MIN));
    assert_eq!(
        fault_code(&n.handle(&outcome(&a, true, None), T0 + 3 * MIN)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
    assert_eq!(
        fault_code(&n.handle(&outcome(&b, true, None), T0 + 4 * MIN)),
        None
    );
}

#[test]
fn unknown_tokens_and_missing_details_are_refused() {
    let mut n = nodo();
    let r = n.handle(&outcome("0123456789abcdef0123456789abcdef", true, None), T0);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCONOSCIUTO"));
    let r = n.handle(&outcome("not-a-nodo-token", false, None), T0);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCONOSCIUTO"));
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0));
    let NodoRequest::SendPaymentOutcome(mut req) = outcome(&token, true, None) else {
        panic!("outcome");
    };
    req.details = None;
    let r = n.handle(&NodoRequest::SendPaymentOutcome(req), T0);
    assert_eq!(fault_code(&r), Some("PPT_SEMANTICA"));
    // Another PSP cannot close our session.
    let NodoRequest::SendPaymentOutcome(mut req) = outcome(&token, true, None) else {
        panic!("outcome");
    };
    req.psp.id_psp = Text35::new("60000000001").expect("psp");
    req.psp.id_broker_psp = Text35::new("60000000001").expect("broker");
    req.psp.id_channel = Text35::new("60000000001_01").expect("channel");
    let r = n.handle(&NodoRequest::SendPaymentOutcome(req), T0);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCONOSCIUTO"));
}

#[test]
fn forgotten_sessions_become_unknown_tokens() {
    let mut n = nodo();
    let token = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, Some(60_000)), T0));
    // Retention is 60 minutes after expiry; a request after that purges.
    let later = T0 + 60_000 + 60 * MIN + 1;
    n.handle(&verify(ROMA, MENSA), later);
    let r = n.handle(&outcome(&token, true, None), later);
    assert_eq!(fault_code(&r), Some("PPT_TOKEN_SCONOSCIUTO"));
}

#[test]
fn sessions_are_let_go_a_shard_at_a_time() {
    let mut n = nodo();
    for i in 0..200 {
        let notice = format!("30200{i:013}");
        token_of(&n.handle(
            &activate("77777777777", &notice, 12_000, None, Some(60_000)),
            T0,
        ));
    }
    assert_eq!(n.sessions.len(), 200);
    // Requests every purge step, as under load, until retention has passed for them all.
    let gone_at = T0 + 60_000 + 60 * MIN + 1;
    let mut at = T0;
    while at < gone_at {
        at += PURGE_STEP_MS;
        n.handle(&verify(ROMA, MENSA), at);
    }
    // Eight steps later, eight of the 64 shards have been looked at since: some sessions are
    // gone, not all.
    for _ in 0..8 {
        at += PURGE_STEP_MS;
        n.handle(&verify(ROMA, MENSA), at);
    }
    let left = n.sessions.len();
    assert!(0 < left && left < 200, "{left} sessions left");
    // One period later every shard has been looked at.
    while at < gone_at + PURGE_EVERY_MS + PURGE_STEP_MS {
        at += PURGE_STEP_MS;
        n.handle(&verify(ROMA, MENSA), at);
    }
    assert_eq!(n.sessions.len(), 0);
}

#[test]
fn v2_outcome_closes_several_tokens() {
    let mut n = nodo();
    let a = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0));
    let b = token_of(&n.handle(&activate(ROMA, MENSA, 4_500, None, None), T0));
    let req = |tokens: &[&str], k: &str| {
        NodoRequest::SendPaymentOutcomeV2(SendPaymentOutcomeV2Request {
            psp: psp(),
            idempotency_key: Some(key(k)),
            payment_tokens: BoundedVec::new(
                tokens
                    .iter()
                    .map(|t| PaymentToken::new(t).expect("token"))
                    .collect(),
            )
            .expect("1..5 tokens"),
            outcome: Outcome::Ok,
            details: Some(OutcomeDetailsV2 {
                payment_method: PaymentMethod::CreditCard,
                payment_channel: None,
                fee: cents(200),
                primary_ci_incurred_fee: None,
                id_bundle: None,
                id_ci_bundle: None,
                payer: None,
                application_date: Date::new(2025, 6, 15).expect("date"),
                transfer_date: Date::new(2025, 6, 16).expect("date"),
                digital_stamps: None,
            }),
        })
    };
    assert_eq!(
        fault_code(&n.handle(&req(&[&a, &a], "eeeeeeeee0"), T0)),
        Some("PPT_SEMANTICA")
    );
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        fault_code(&n.handle(&req(&[&a, unknown], "eeeeeeeee1"), T0)),
        Some("PPT_TOKEN_SCONOSCIUTO")
    );
    let r = n.handle(&req(&[&a, &b], "eeeeeeeee2"), T0 + MIN);
    assert!(matches!(r.response, NodoResponse::SendPaymentOutcomeV2(_)));
    assert_eq!(fault_code(&r), None);
    let fees: Vec<_> = n.receipts().iter().map(|r| r.receipt.fee).collect();
    assert_eq!(
        fees,
        [Some(cents(200)), Some(Amount::ZERO)],
        "the cart's fee is charged once"
    );
    assert_eq!(
        fault_code(&n.handle(&req(&[&b], "eeeeeeeee3"), T0 + 2 * MIN)),
        Some("PPT_ESITO_GIA_ACQUISITO")
    );
}

#[test]
fn caller_identity_is_checked_in_order() {
    let mut n = nodo();
    let with = |f: &dyn Fn(&mut PspIdentity)| {
        let mut p = psp();
        f(&mut p);
        NodoRequest::VerifyPaymentNotice(VerifyPaymentNoticeRequest {
            psp: p,
            qr_code: qr(ROMA, TARI),
        })
    };
    type Tamper<'a> = &'a dyn Fn(&mut PspIdentity);
    let cases: [(Tamper, &str); 5] = [
        (
            &|p| p.id_psp = Text35::new("X").expect("t"),
            "PPT_PSP_SCONOSCIUTO",
        ),
        (
            &|p| p.id_broker_psp = Text35::new("X").expect("t"),
            "PPT_INTERMEDIARIO_PSP_SCONOSCIUTO",
        ),
        (
            &|p| p.id_channel = Text35::new("X").expect("t"),
            "PPT_CANALE_SCONOSCIUTO",
        ),
        (
            &|p| p.id_channel = Text35::new("60000000001_01").expect("t"),
            "PPT_AUTORIZZAZIONE",
        ),
        (
            &|p| p.password = Password::new("wrongpass").expect("p"),
            "PPT_AUTENTICAZIONE",
        ),
    ];
    for (f, code) in cases {
        let r = n.handle(&with(f), T0);
        assert_eq!(fault_code(&r), Some(code));
        assert_eq!(r.response.fault().map(|f| f.id.as_str()), Some(NODO_ID));
    }
}

#[test]
fn creditors_refuse_as_configured() {
    let mut n = nodo();
    let cases = [
        (
            "77777777777",
            "302970000000000000",
            "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            None,
        ),
        (
            "77777777777",
            "302980000000000000",
            "PPT_STAZIONE_INT_PA_TIMEOUT",
            None,
        ),
        (
            "77777777777",
            "302990000000000000",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_SCADUTO"),
        ),
        (
            "77777777777",
            "302960000000000000",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_ANNULLATO"),
        ),
        (
            "77777777777",
            "302950000000000000",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_DUPLICATO"),
        ),
        (
            "77777777777",
            "302500000000000000",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_SCONOSCIUTO"),
        ),
        (
            ROMA,
            "303000000000000222",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_ANNULLATO"),
        ),
        (
            ROMA,
            "309999999999999999",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_SCONOSCIUTO"),
        ),
        (
            "01199250158",
            TARI,
            "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            None,
        ),
        ("00000000000", TARI, "PPT_DOMINIO_SCONOSCIUTO", None),
    ];
    for (fc, notice, code, original) in cases {
        for req in [verify(fc, notice), activate(fc, notice, 12_000, None, None)] {
            let r = n.handle(&req, T0);
            assert_eq!(fault_code(&r), Some(code), "{fc} {notice}");
            assert_eq!(original_code(&r), original, "{fc} {notice}");
            let timeout = code == "PPT_STAZIONE_INT_PA_TIMEOUT";
            assert_eq!(r.delay_ms, if timeout { 7_000 } else { 0 });
        }
    }
}

#[test]
fn only_the_most_recent_receipts_are_kept() {
    let mut n = nodo_keeping(2);
    for (i, notice) in [
        "302000000000000011",
        "302000000000000012",
        "302000000000000013",
    ]
    .into_iter()
    .enumerate()
    {
        let at = T0 + i as Millis * MIN;
        let token = token_of(&n.handle(&activate("77777777777", notice, 12_000, None, None), at));
        assert_eq!(
            fault_code(&n.handle(&outcome(&token, true, None), at + 1)),
            None
        );
    }
    assert_eq!(n.receipts_produced(), 3);
    let kept: Vec<_> = n.receipts().iter().map(|r| r.seq).collect();
    assert_eq!(kept, [2, 3], "the oldest is dropped, the numbering goes on");
    n.reset();
    assert_eq!(n.receipts_produced(), 0);
    assert!(n.receipts().is_empty());
}

#[test]
fn scenario_notices_are_payable_once_each() {
    let mut n = nodo();
    let a = "302000000000000001";
    let b = "302000000000000002";
    let ta = token_of(&n.handle(&activate("77777777777", a, 12_000, None, None), T0));
    assert_eq!(
        fault_code(&n.handle(&activate("77777777777", a, 12_000, None, None), T0)),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    assert_eq!(
        fault_code(&n.handle(&activate("77777777777", b, 12_000, None, None), T0)),
        None
    );
    assert_eq!(fault_code(&n.handle(&outcome(&ta, true, None), T0)), None);
    assert_eq!(
        fault_code(&n.handle(&verify("77777777777", a), T0)),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
    assert_eq!(
        n.receipts()[0].receipt.transfers[1].fiscal_code_pa.as_str(),
        "77777777778"
    );
}

#[test]
fn notice_views_and_reset() {
    let mut n = nodo();
    let states = |n: &Nodo, now| {
        n.notices(now)
            .map(|v| (v.entry.notice_number.to_string(), v.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states(&n, T0),
        [
            (TARI.to_owned(), NoticeState::Open),
            (MENSA.to_owned(), NoticeState::Open),
            ("303000000000000222".to_owned(), NoticeState::Annulled),
        ]
    );
    let t = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0));
    n.handle(&activate(ROMA, MENSA, 4_500, None, None), T0);
    n.handle(&outcome(&t, true, None), T0);
    let s = states(&n, T0);
    assert_eq!(s[0].1, NoticeState::Paid);
    assert_eq!(s[1].1, NoticeState::InProgress);
    n.reset();
    assert!(n.receipts().is_empty());
    assert_eq!(states(&n, T0)[0].1, NoticeState::Open);
    // Tokens are never reused across a reset.
    let t2 = token_of(&n.handle(&activate(ROMA, TARI, 19_950, None, None), T0));
    assert_ne!(t, t2);
}

#[test]
fn construction_refuses_inconsistent_settings() {
    let catalogue = Catalogue::from_toml(CATALOGUE, "test").expect("catalogue");
    let mut settings = nodo().settings().clone();
    settings.scenario_creditor = CreditorFiscalCode::parse(ROMA, CheckMode::Strict).expect("fc");
    let e = Nodo::new(settings, catalogue.clone(), Box::new(SeededTokens::new(1)))
        .expect_err("scenario creditor in catalogue");
    assert_eq!(e.code(), "NODO_SCENARIO_CREDITOR_IN_CATALOGUE");
    let mut settings = nodo().settings().clone();
    settings
        .channels
        .push(channel("70000000001", "70000000001_01"));
    let e = Nodo::new(settings, catalogue, Box::new(SeededTokens::new(1)))
        .expect_err("duplicate channel");
    assert_eq!(e.code(), "NODO_DUPLICATE_CHANNEL");
}
