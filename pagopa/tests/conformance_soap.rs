//! SOAP conformance: what we write validates against the official XSDs (with xmllint), the
//! official examples parse into the right types and survive a round trip, parsing is tolerant
//! of the usual variations, and bad input gives the right typed error.

use std::path::{Path, PathBuf};
use std::process::Command;

use pagopa::fault::{Fault, FaultCode};
use pagopa::soap::pa::{self, StationIdentity};
use pagopa::soap::{self, *};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, DateTime, Iuv, NoticeNumber};

fn spec_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/pagopa"
    ));
    // Canonical, because xmllint resolves the schema imports lexically.
    std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("spec directory {}: {e}", dir.display()))
}

fn example(name: &str) -> String {
    let path = spec_dir().join("examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// xmllint

/// Validate every message against `soap.xsd` with a single xmllint run; return, for each
/// message that does not validate, its name, xmllint's complaints and the message.
fn schema_failures(messages: &[(String, String)]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "pagopa-soap-conformance-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let mut paths = Vec::new();
    for (i, (name, xml)) in messages.iter().enumerate() {
        let path = dir.join(format!("{i:03}-{name}.xml"));
        std::fs::write(&path, xml).expect("write a message to the temporary directory");
        paths.push(path);
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(spec_dir().join("soap.xsd"))
        .args(&paths)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is needed for this test ({e}): apt-get install libxml2-utils")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("failed to compile") && !stderr.contains("failed to load"),
        "the schema did not load: {stderr}"
    );
    let mut failures = Vec::new();
    for path in &paths {
        let p = path.display().to_string();
        if !stderr.contains(&format!("{p} validates")) {
            let complaints: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&p)).collect();
            failures.push(format!(
                "{}:\n  {}\n  {}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                complaints.join("\n  "),
                std::fs::read_to_string(path).unwrap_or_default()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

fn assert_schema_valid(messages: &[(String, String)]) {
    let failures = schema_failures(messages);
    assert!(
        failures.is_empty(),
        "{} of {} messages are not schema-valid:\n{}",
        failures.len(),
        messages.len(),
        failures.join("\n")
    );
}

#[test]
fn the_schema_check_catches_broken_messages() {
    let good = example("activatePaymentNotice.request.xml");
    let broken = [
        (
            "amount-without-decimals",
            good.replace("<amount>30.00", "<amount>30"),
        ),
        (
            "unknown-element",
            good.replace("<amount>", "<importo>1</importo><amount>"),
        ),
        (
            "wrong-order",
            good.replace("<expirationTime>6000</expirationTime>", "")
                .replace(
                    "</amount>",
                    "</amount><expirationTime>6000</expirationTime>",
                ),
        ),
    ];
    let mut all = vec![("good".to_owned(), good.clone())];
    all.extend(broken.iter().map(|(n, x)| ((*n).to_owned(), x.clone())));
    let failures = schema_failures(&all);
    assert_eq!(failures.len(), broken.len(), "{failures:#?}");
    for (name, _) in &broken {
        assert!(
            failures.iter().any(|f| f.contains(name)),
            "{name} was not caught"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

const ACCENTED: &str = "Comune di Sant'Oreste — TARI 2026 àèéìòù <>&\"' ";

fn text<const MIN: usize, const MAX: usize>(s: &str) -> Text<MIN, MAX> {
    Text::new(s).unwrap_or_else(|e| panic!("{s:?} is valid text: {e}"))
}

/// Exactly MAX characters of accented text with every XML special character.
fn longest<const MIN: usize, const MAX: usize>() -> Text<MIN, MAX> {
    let mut s: String = ACCENTED.chars().cycle().take(MAX).collect();
    if s.ends_with(' ') {
        s.pop();
        s.push('ù');
    }
    let t: Text<MIN, MAX> = text(&s);
    assert_eq!(t.as_str().chars().count(), MAX);
    t
}

fn amount(cents: u64) -> Amount {
    Amount::from_cents(cents).expect("valid amount")
}

fn nonzero(cents: u64) -> NonZeroAmount {
    NonZeroAmount::new(amount(cents)).expect("not zero")
}

fn date(s: &str) -> Date {
    Date::parse(s).expect("valid date")
}

fn cf(s: &str) -> CreditorFiscalCode {
    CreditorFiscalCode::parse(s, CheckMode::Lenient).expect("valid fiscal code")
}

fn notice(s: &str) -> NoticeNumber {
    NoticeNumber::parse(s, CheckMode::Lenient).expect("valid notice")
}

fn iban(s: &str) -> Iban {
    Iban::new(s).expect("valid IBAN")
}

fn token(s: &str) -> PaymentToken {
    PaymentToken::new(s).expect("valid token")
}

fn key(prefix: &str) -> IdempotencyKey {
    IdempotencyKey::new(prefix, "a1B2c3D4e5").expect("valid key")
}

fn psp_min() -> PspIdentity {
    PspIdentity {
        id_psp: text("88888888888"),
        id_broker_psp: text("88888888888"),
        id_channel: text("88888888888_01"),
        password: Password::new("**********").expect("valid password"),
    }
}

fn psp_max() -> PspIdentity {
    PspIdentity {
        id_psp: longest(),
        id_broker_psp: longest(),
        id_channel: longest(),
        password: Password::new("<&>\"'àèéìòù12<>").expect("15 characters"),
    }
}

fn qr() -> QrCode {
    QrCode {
        fiscal_code: cf("77777777777"),
        notice_number: notice("311111111112222222"),
    }
}

fn metadata(n: usize) -> Metadata {
    BoundedVec::new(
        (0..n)
            .map(|i| MapEntry {
                key: if i == 0 {
                    longest()
                } else {
                    text(&format!("chiave{i}"))
                },
                value: if i == 0 {
                    longest()
                } else {
                    text(&format!("valore & <{i}>"))
                },
            })
            .collect(),
    )
    .expect("1..15 entries")
}

fn subject_full() -> Subject {
    Subject {
        unique_identifier: UniqueIdentifier {
            kind: EntityType::Natural,
            value: text("RSSMRA80A01H501U"),
        },
        full_name: longest(),
        street_name: Some(longest()),
        civic_number: Some(longest()),
        postal_code: Some(longest()),
        city: Some(longest()),
        state_province_region: Some(longest()),
        country: Some(NationProvinceCode::new("IT").expect("valid")),
        email: Some(Email::new("mario.rossi+pagopa@comune.sant-oreste.rm.it").expect("valid")),
    }
}

fn subject_min() -> Subject {
    Subject::new(
        EntityType::Legal,
        text("ANONIMO"),
        text("Ditta & Figli S.r.l."),
    )
}

fn fault_full() -> Fault {
    Fault {
        fault_code: FaultCode::PptErroreEmessoDaPaa,
        fault_string: "Errore restituito dall'ente <PAA>".into(),
        id: "NodoDeiPagamentiSPC".into(),
        description: Some(format!("{ACCENTED}descrizione")),
        serial: Some(-7),
        original_fault_code: Some(FaultCode::PaaPagamentoScaduto),
        original_fault_string: Some("Pagamento scaduto".into()),
        original_description: Some("L'avviso è scaduto il 31/12/2025 & non è più pagabile".into()),
    }
}

fn fault_min() -> Fault {
    Fault::new(
        FaultCode::Other("PPT_NUOVO_CODICE".into()),
        "",
        "NodoDeiPagamentiSPC",
    )
}

fn stamp_request() -> StampRequest {
    StampRequest {
        document_hash: DocumentHash::new(vec![0xAB; 54])
            .expect("54 bytes, the longest: 72 base64 characters"),
        stamp_type: StampType::Digital,
        province_of_residence: NationProvinceCode::new("RM").expect("valid"),
    }
}

fn transfer_v1(i: u8, max: bool) -> Transfer {
    Transfer {
        id_transfer: TransferId::new(i).expect("1..=5"),
        amount: amount(if max {
            99_999_999_999
        } else {
            1000 * u64::from(i)
        }),
        fiscal_code_pa: cf(if i.is_multiple_of(2) {
            "77777777778"
        } else {
            "02438750586"
        }),
        iban: if max {
            iban(&format!("IT60{}", "X".repeat(30)))
        } else {
            iban("IT60X0542811101000000123456")
        },
        remittance_information: if max {
            longest()
        } else {
            text("/RFB/000000000000123/30.00/TXT/TARI")
        },
        metadata: max.then(|| metadata(15)),
    }
}

fn transfer_v2(i: u8) -> TransferV2 {
    TransferV2 {
        id_transfer: TransferId::new(i).expect("1..=5"),
        amount: amount(100 * u64::from(i)),
        fiscal_code_pa: cf("77777777777"),
        company_name: (i % 2 == 1).then(longest),
        destination: match i % 3 {
            0 => None,
            1 => Some(TransferDestination::Iban(iban(
                "IT0000000000000000000000000",
            ))),
            _ => Some(TransferDestination::Stamp(stamp_request())),
        },
        remittance_information: longest(),
        transfer_category: (i != 2).then(|| text("0101002IM")),
        metadata: (i == 5).then(|| metadata(3)),
    }
}

fn outcome_details(
    method: PaymentMethod,
    channel: Option<PaymentChannel>,
    payer: Option<Subject>,
) -> OutcomeDetails {
    OutcomeDetails {
        payment_method: method,
        payment_channel: channel,
        fee: amount(150),
        payer,
        application_date: date("2026-01-31"),
        transfer_date: date("2026-02-02"),
    }
}

fn outcome_details_v2(full: bool) -> OutcomeDetailsV2 {
    OutcomeDetailsV2 {
        payment_method: PaymentMethod::Bancomat,
        payment_channel: full.then_some(PaymentChannel::Atm),
        fee: amount(0),
        primary_ci_incurred_fee: full.then(|| amount(50)),
        id_bundle: full.then(longest),
        id_ci_bundle: full.then(longest),
        payer: full.then(subject_full),
        application_date: date("2026-02-28"),
        transfer_date: date("2026-03-02"),
        digital_stamps: full.then(|| {
            BoundedVec::new(
                (0..25)
                    .map(|i| DigitalStamp {
                        payment_token: token(&format!("{i:035}")),
                        id_transfer: TransferId::new(i % 5 + 1).expect("1..=5"),
                        attachment: Base64Binary::new(vec![i; usize::from(i) * 7]),
                    })
                    .collect(),
            )
            .expect("25 stamps")
        }),
    }
}

fn activate_v1(full: bool) -> ActivatePaymentNoticeRequest {
    ActivatePaymentNoticeRequest {
        psp: if full { psp_max() } else { psp_min() },
        idempotency_key: full.then(|| key("ABCDEFGHIJKLMNOPQ8")),
        qr_code: qr(),
        expiration_time: full.then_some(ExpirationTime::MAX),
        amount: amount(if full { 99_999_999_999 } else { 3000 }),
        due_date: full.then(|| date("2026-12-31")),
        payment_note: full.then(longest),
    }
}

fn activated_v1(transfers: u8, max: bool) -> ActivatedPayment {
    ActivatedPayment {
        total_amount: amount(3000),
        payment_description: max.then(longest),
        fiscal_code_pa: max.then(|| cf("77777777777")),
        company_name: max.then(longest),
        office_name: max.then(longest),
        payment_token: token(if max {
            "c110729d258c4ab1b765fe902aae41d6XYZ"
        } else {
            "t"
        }),
        transfers: BoundedVec::new((1..=transfers).map(|i| transfer_v1(i, max)).collect())
            .expect("1..=5 transfers"),
        creditor_reference_id: Iuv::parse(if max {
            "RF23ABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
        } else {
            "11111111112222222"
        })
        .expect("valid IUV"),
        standin: max.then_some(false),
    }
}

fn activated_v2(full: bool) -> ActivatedPaymentV2 {
    ActivatedPaymentV2 {
        total_amount: amount(1500),
        payment_description: full.then(longest),
        fiscal_code_pa: full.then(|| cf("77777777777")),
        company_name: full.then(longest),
        office_name: full.then(longest),
        payment_token: token("c110729d258c4ab1b765fe902aae41d6"),
        transfers: BoundedVec::new((1..=if full { 5 } else { 1 }).map(transfer_v2).collect())
            .expect("1..=5 transfers"),
        metadata: full.then(|| metadata(15)),
        creditor_reference_id: Iuv::parse("11111111112222222").expect("valid IUV"),
        suggested_user_fee: full.then(|| amount(100)),
        suggested_pa_fee: full.then(|| amount(0)),
        suggested_id_bundle: full.then(longest),
        suggested_id_ci_bundle: full.then(longest),
        all_ccp: full.then_some(true),
        standin: full.then_some(true),
    }
}

fn verified(options: usize, full: bool) -> VerifiedNotice {
    VerifiedNotice {
        payment_options: BoundedVec::new(
            (0..options)
                .map(|i| PaymentOption {
                    amount: nonzero(if i == 0 { 1 } else { 99_999_999_999 }),
                    options: AmountOption::ALL[i % 4],
                    due_date: full.then(|| date("2026-06-30")),
                    payment_note: full.then(longest),
                })
                .collect(),
        )
        .expect("1..=5 options"),
        payment_description: full.then(longest),
        fiscal_code_pa: full.then(|| cf("02438750586")),
        company_name: full.then(longest),
        office_name: full.then(longest),
        standin: full.then_some(true),
    }
}

fn station() -> StationIdentity {
    StationIdentity {
        id_pa: longest(),
        id_broker_pa: text("77777777777"),
        id_station: text("77777777777_01"),
    }
}

fn pa_transfer(i: u8) -> pa::Transfer {
    pa::Transfer {
        id_transfer: TransferId::new(i).expect("1..=5"),
        amount: nonzero(600),
        fiscal_code_pa: cf("77777777777"),
        iban: iban("IT0000000000000000000000000"),
        remittance_information: longest(),
        transfer_category: text("0101100IM"),
        metadata: (i == 1).then(|| metadata(15)),
    }
}

fn pa_payment() -> pa::Payment {
    pa::Payment {
        creditor_reference_id: Iuv::parse("11111111112222222").expect("valid IUV"),
        payment_amount: nonzero(3000),
        due_date: date("2026-12-31"),
        retention_date: Some(DateTime::parse("2026-12-31T23:59:59.123+01:00").expect("valid")),
        last_payment: Some(false),
        description: longest(),
        company_name: Some(longest()),
        office_name: None,
        debtor: subject_full(),
        transfers: BoundedVec::new((1..=5).map(pa_transfer).collect()).expect("5 transfers"),
        metadata: Some(metadata(2)),
    }
}

fn pa_payment_v2() -> pa::PaymentV2 {
    pa::PaymentV2 {
        creditor_reference_id: Iuv::parse("11111111112222222").expect("valid IUV"),
        payment_amount: nonzero(3000),
        due_date: date("2026-12-31"),
        retention_date: None,
        last_payment: None,
        description: text("TARI 2026"),
        company_name: text("Comune di Sant'Oreste"),
        office_name: Some(text("Ufficio tributi")),
        debtor: subject_min(),
        transfers: BoundedVec::new(vec![
            pa::TransferV2 {
                id_transfer: TransferId::new(1).expect("valid"),
                amount: nonzero(2984),
                fiscal_code_pa: cf("77777777777"),
                company_name: Some(longest()),
                destination: TransferDestination::Iban(iban("IT0000000000000000000000000")),
                remittance_information: text("TARI"),
                transfer_category: text("0101100IM"),
                metadata: None,
            },
            pa::TransferV2 {
                id_transfer: TransferId::new(2).expect("valid"),
                amount: nonzero(16),
                fiscal_code_pa: cf("77777777777"),
                company_name: None,
                destination: TransferDestination::Stamp(stamp_request()),
                remittance_information: text("Marca da bollo"),
                transfer_category: text("9/0301109AP"),
                metadata: Some(metadata(1)),
            },
        ])
        .expect("2 transfers"),
        metadata: None,
    }
}

fn receipt(full: bool) -> pa::Receipt {
    pa::Receipt {
        receipt_id: token("c110729d258c4ab1b765fe902aae41d6"),
        notice_number: notice("311111111112222222"),
        fiscal_code: cf("77777777777"),
        outcome: Outcome::Ok,
        creditor_reference_id: Iuv::parse("11111111112222222").expect("valid IUV"),
        payment_amount: amount(3000),
        description: longest(),
        company_name: longest(),
        office_name: full.then(longest),
        debtor: subject_full(),
        transfers: BoundedVec::new((1..=if full { 5 } else { 1 }).map(pa_transfer).collect())
            .expect("transfers"),
        id_psp: longest(),
        psp_fiscal_code: full.then(longest),
        psp_vat_number: full.then(longest),
        psp_company_name: longest(),
        id_channel: longest(),
        channel_description: longest(),
        payer: full.then(subject_min),
        payment_method: full.then(|| text("creditCard")),
        fee: full.then(|| amount(200)),
        payment_date_time: full.then(|| DateTime::parse("2026-01-31T17:48:22").expect("valid")),
        application_date: full.then(|| date("2026-01-31")),
        transfer_date: full.then(|| date("2026-02-02")),
        metadata: full.then(|| metadata(15)),
        stand_in: full.then_some(false),
    }
}

fn receipt_v2() -> pa::ReceiptV2 {
    let r = receipt(true);
    pa::ReceiptV2 {
        receipt_id: r.receipt_id,
        notice_number: r.notice_number,
        fiscal_code: r.fiscal_code,
        outcome: r.outcome,
        creditor_reference_id: r.creditor_reference_id,
        payment_amount: r.payment_amount,
        description: r.description,
        company_name: r.company_name,
        office_name: r.office_name,
        debtor: r.debtor,
        transfers: BoundedVec::new(vec![
            pa::ReceiptTransferV2 {
                id_transfer: TransferId::new(1).expect("valid"),
                amount: nonzero(2984),
                fiscal_code_pa: cf("77777777777"),
                company_name: Some(longest()),
                destination: pa::ReceiptDestination::Iban(iban("IT0000000000000000000000000")),
                remittance_information: text("TARI"),
                transfer_category: text("0101100IM"),
                metadata: Some(metadata(15)),
            },
            pa::ReceiptTransferV2 {
                id_transfer: TransferId::new(2).expect("valid"),
                amount: nonzero(16),
                fiscal_code_pa: cf("77777777777"),
                company_name: None,
                destination: pa::ReceiptDestination::Stamp(Base64Binary::new(b"<marca/>".to_vec())),
                remittance_information: text("Marca da bollo"),
                transfer_category: text("9/0301109AP"),
                metadata: None,
            },
        ])
        .expect("2 transfers"),
        id_psp: r.id_psp,
        psp_fiscal_code: r.psp_fiscal_code,
        psp_vat_number: r.psp_vat_number,
        psp_company_name: r.psp_company_name,
        id_channel: r.id_channel,
        channel_description: r.channel_description,
        payer: r.payer,
        payment_method: r.payment_method,
        payment_note: Some(longest()),
        fee: r.fee,
        primary_ci_incurred_fee: Some(amount(10)),
        id_bundle: Some(longest()),
        id_ci_bundle: Some(longest()),
        payment_date_time: r.payment_date_time,
        application_date: r.application_date,
        transfer_date: r.transfer_date,
        metadata: r.metadata,
        stand_in: Some(true),
    }
}

/// Encode, check it decodes back to the same value, and collect it for xmllint.
fn add<M: Message + PartialEq + std::fmt::Debug>(
    out: &mut Vec<(String, String)>,
    name: &str,
    msg: M,
) {
    let xml = msg.encode();
    let back = M::decode(&xml)
        .unwrap_or_else(|e| panic!("{name}: own output does not decode: {e}\n{xml}"));
    assert_eq!(back, msg, "{name}: round trip changed the value");
    out.push((name.to_owned(), xml));
}

fn every_message() -> Vec<(String, String)> {
    let mut m = Vec::new();
    // verifyPaymentNotice
    add(
        &mut m,
        "verify-req-min",
        VerifyPaymentNoticeRequest {
            psp: psp_min(),
            qr_code: qr(),
        },
    );
    add(
        &mut m,
        "verify-req-max",
        VerifyPaymentNoticeRequest {
            psp: psp_max(),
            qr_code: qr(),
        },
    );
    add(
        &mut m,
        "verify-res-full",
        VerifyPaymentNoticeResponse::ok(verified(5, true)),
    );
    add(
        &mut m,
        "verify-res-min",
        VerifyPaymentNoticeResponse::ok(verified(1, false)),
    );
    add(
        &mut m,
        "verify-res-ko-full",
        VerifyPaymentNoticeResponse::ko(fault_full()),
    );
    add(
        &mut m,
        "verify-res-ko-min",
        VerifyPaymentNoticeResponse::ko(fault_min()),
    );
    // activatePaymentNotice
    add(&mut m, "activate-req-full", activate_v1(true));
    add(&mut m, "activate-req-min", activate_v1(false));
    add(
        &mut m,
        "activate-res-five",
        ActivatePaymentNoticeResponse::ok(activated_v1(5, true)),
    );
    add(
        &mut m,
        "activate-res-one",
        ActivatePaymentNoticeResponse::ok(activated_v1(1, false)),
    );
    add(
        &mut m,
        "activate-res-ko",
        ActivatePaymentNoticeResponse::ko(fault_full()),
    );
    // activatePaymentNoticeV2: every fee method and touch point
    for (i, method) in FeePaymentMethod::ALL.iter().enumerate() {
        let touch = TouchPoint::ALL[i % TouchPoint::ALL.len()];
        add(
            &mut m,
            &format!("activate-v2-req-{method}-{touch}"),
            ActivatePaymentNoticeV2Request {
                base: activate_v1(i == 0),
                payment_method: Some(*method),
                touch_point: Some(touch),
            },
        );
    }
    add(
        &mut m,
        "activate-v2-req-min",
        ActivatePaymentNoticeV2Request {
            base: activate_v1(false),
            payment_method: None,
            touch_point: None,
        },
    );
    add(
        &mut m,
        "activate-v2-res-full",
        ActivatePaymentNoticeV2Response::ok(activated_v2(true)),
    );
    add(
        &mut m,
        "activate-v2-res-min",
        ActivatePaymentNoticeV2Response::ok(activated_v2(false)),
    );
    add(
        &mut m,
        "activate-v2-res-ko",
        ActivatePaymentNoticeV2Response::ko(fault_min()),
    );
    // sendPaymentOutcome: every method and channel
    for (i, method) in PaymentMethod::ALL.iter().enumerate() {
        for (j, channel) in PaymentChannel::ALL.iter().enumerate() {
            let payer = match (i + j) % 3 {
                0 => None,
                1 => Some(subject_min()),
                _ => Some(subject_full()),
            };
            add(
                &mut m,
                &format!("outcome-req-{method}-{channel}"),
                SendPaymentOutcomeRequest::ok(
                    psp_min(),
                    key("70000000001"),
                    token("c110729d258c4ab1b765fe902aae41d6"),
                    outcome_details(*method, Some(*channel), payer),
                ),
            );
        }
    }
    add(
        &mut m,
        "outcome-req-ok-no-channel",
        SendPaymentOutcomeRequest::ok(
            psp_max(),
            key("AB"),
            token("t"),
            outcome_details(PaymentMethod::Cash, None, None),
        ),
    );
    add(
        &mut m,
        "outcome-req-ko",
        SendPaymentOutcomeRequest::ko(psp_min(), key("70000000001"), token(&"9".repeat(35))),
    );
    add(
        &mut m,
        "outcome-req-ko-no-key",
        SendPaymentOutcomeRequest {
            idempotency_key: None,
            ..SendPaymentOutcomeRequest::ko(psp_min(), key("AB"), token("t"))
        },
    );
    add(&mut m, "outcome-res-ok", SendPaymentOutcomeResponse::ok(()));
    add(
        &mut m,
        "outcome-res-ko",
        SendPaymentOutcomeResponse::ko(fault_full()),
    );
    // sendPaymentOutcomeV2
    add(
        &mut m,
        "outcome-v2-req-full",
        SendPaymentOutcomeV2Request {
            psp: psp_max(),
            idempotency_key: Some(key("70000000001")),
            payment_tokens: BoundedVec::new((1..=5).map(|i| token(&format!("token{i}"))).collect())
                .expect("5 tokens"),
            outcome: Outcome::Ok,
            details: Some(outcome_details_v2(true)),
        },
    );
    add(
        &mut m,
        "outcome-v2-req-min",
        SendPaymentOutcomeV2Request {
            psp: psp_min(),
            idempotency_key: None,
            payment_tokens: BoundedVec::one(token("t")),
            outcome: Outcome::Ok,
            details: Some(outcome_details_v2(false)),
        },
    );
    add(
        &mut m,
        "outcome-v2-req-ko",
        SendPaymentOutcomeV2Request {
            psp: psp_min(),
            idempotency_key: Some(key("AB")),
            payment_tokens: BoundedVec::one(token("t")),
            outcome: Outcome::Ko,
            details: None,
        },
    );
    add(
        &mut m,
        "outcome-v2-res-ok",
        SendPaymentOutcomeV2Response::ok(()),
    );
    add(
        &mut m,
        "outcome-v2-res-ko",
        SendPaymentOutcomeV2Response::ko(fault_min()),
    );
    // SOAP Faults
    for (name, f) in [
        ("soap-fault-min", SoapFault::new(SoapFaultCode::Server, "")),
        (
            "soap-fault-full",
            SoapFault {
                code: SoapFaultCode::Client,
                string: format!("{ACCENTED}\u{1}"),
                actor: Some("https://api.uat.platform.pagopa.it/nodo-auth/node-for-psp/v1".into()),
                detail: Some(fault_full()),
            },
        ),
    ] {
        let xml = f.encode();
        let back = SoapFault::decode(&xml).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        assert_eq!(back.code, f.code);
        assert_eq!(back.detail, f.detail);
        m.push((name.into(), xml));
    }
    // EC side
    add(
        &mut m,
        "pa-verify-req",
        pa::PaVerifyPaymentNoticeRequest {
            station: station(),
            qr_code: qr(),
        },
    );
    add(
        &mut m,
        "pa-verify-res-full",
        pa::PaVerifyPaymentNoticeResponse::ok(pa::VerifiedNotice {
            payment_options: BoundedVec::one(pa::PaymentOption {
                amount: nonzero(99_999_999_999),
                options: AmountOption::Equal,
                due_date: Some(date("2026-12-31")),
                detail_description: Some(longest()),
                all_ccp: true,
            }),
            payment_description: Some(longest()),
            fiscal_code_pa: Some(cf("77777777777")),
            company_name: Some(longest()),
            office_name: Some(longest()),
        }),
    );
    add(
        &mut m,
        "pa-verify-res-min",
        pa::PaVerifyPaymentNoticeResponse::ok(pa::VerifiedNotice {
            payment_options: BoundedVec::one(pa::PaymentOption {
                amount: nonzero(1),
                options: AmountOption::Any,
                due_date: None,
                detail_description: None,
                all_ccp: false,
            }),
            payment_description: None,
            fiscal_code_pa: None,
            company_name: None,
            office_name: None,
        }),
    );
    add(
        &mut m,
        "pa-verify-res-ko",
        pa::PaVerifyPaymentNoticeResponse::ko(fault_full()),
    );
    let get_full = pa::PaGetPaymentRequest {
        station: station(),
        qr_code: qr(),
        amount: Some(amount(3000)),
        payment_note: Some(longest()),
        transfer_type: Some(pa::TransferType::Postal),
        due_date: Some(date("2026-12-31")),
    };
    add(&mut m, "pa-get-req-full", get_full.clone());
    add(
        &mut m,
        "pa-get-req-min",
        pa::PaGetPaymentRequest {
            amount: None,
            payment_note: None,
            transfer_type: None,
            due_date: None,
            ..get_full.clone()
        },
    );
    add(
        &mut m,
        "pa-get-v2-req",
        pa::PaGetPaymentV2Request { base: get_full },
    );
    add(
        &mut m,
        "pa-get-res-full",
        pa::PaGetPaymentResponse::ok(pa_payment()),
    );
    add(
        &mut m,
        "pa-get-res-ko",
        pa::PaGetPaymentResponse::ko(fault_min()),
    );
    add(
        &mut m,
        "pa-get-v2-res",
        pa::PaGetPaymentV2Response::ok(pa_payment_v2()),
    );
    add(
        &mut m,
        "pa-send-rt-req-full",
        pa::PaSendRtRequest {
            station: station(),
            receipt: receipt(true),
        },
    );
    add(
        &mut m,
        "pa-send-rt-req-min",
        pa::PaSendRtRequest {
            station: station(),
            receipt: receipt(false),
        },
    );
    add(&mut m, "pa-send-rt-res-ok", pa::PaSendRtResponse::ok(()));
    add(
        &mut m,
        "pa-send-rt-res-ko",
        pa::PaSendRtResponse::ko(fault_full()),
    );
    add(
        &mut m,
        "pa-send-rt-v2-req",
        pa::PaSendRtV2Request {
            station: station(),
            receipt: receipt_v2(),
        },
    );
    add(
        &mut m,
        "pa-send-rt-v2-res",
        pa::PaSendRtV2Response::ko(fault_min()),
    );
    m
}

#[test]
fn every_message_we_write_is_schema_valid() {
    let messages = every_message();
    assert!(messages.len() > 60, "only {} messages", messages.len());
    assert_schema_valid(&messages);
}

#[test]
fn edge_values_survive_the_wire() {
    let xml = activate_v1(true).encode();
    assert!(xml.contains("<amount>999999999.99</amount>"), "{xml}");
    assert!(xml.contains("<expirationTime>1800000</expirationTime>"));
    assert!(
        xml.contains("&lt;&gt;&amp;&quot;&apos;"),
        "special characters escaped"
    );
    assert!(xml.contains("àèéìòù"), "accents written as UTF-8");
    assert!(xml.starts_with(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:nfp=\"http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd\"><soapenv:Body>\
         <nfp:activatePaymentNoticeReq><idPSP>"
    ));
    let fee = SendPaymentOutcomeV2Request {
        psp: psp_min(),
        idempotency_key: None,
        payment_tokens: BoundedVec::one(token("t")),
        outcome: Outcome::Ok,
        details: Some(outcome_details_v2(false)),
    }
    .encode();
    assert!(fee.contains("<fee>0.00</fee>"), "{fee}");
    // Booleans are written true/false, whatever form they were read in.
    let v = VerifyPaymentNoticeResponse::ok(verified(1, true)).encode();
    assert!(v.contains("<standin>true</standin>"));
    // A control character in a fault text is replaced, keeping the message well-formed.
    let f = SoapFault::new(SoapFaultCode::Server, "a\u{0}b").encode();
    assert!(f.contains("<faultstring>a\u{FFFD}b</faultstring>"), "{f}");
}

// ---------------------------------------------------------------------------------------------
// The official examples

#[test]
fn the_official_examples_parse_round_trip_and_validate() {
    let mut reencoded = Vec::new();
    fn check<M: Message + PartialEq + std::fmt::Debug>(
        file: &str,
        out: &mut Vec<(String, String)>,
    ) -> M {
        let v: M = soap::decode(&example(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let xml = v.encode();
        let back: M = soap::decode(&xml).unwrap_or_else(|e| panic!("{file} re-encoded: {e}"));
        assert_eq!(back, v, "{file}");
        out.push((file.trim_end_matches(".xml").to_owned(), xml));
        v
    }
    let o = &mut reencoded;

    let v: VerifyPaymentNoticeRequest = check("verifyPaymentNotice.request.xml", o);
    assert_eq!(v.psp.id_channel.as_str(), "88888888888_01");
    assert_eq!(v.psp.password.expose(), "**********");
    assert_eq!(v.qr_code.notice_number.as_str(), "311111111112222222");
    assert_eq!(v.qr_code.fiscal_code.as_str(), "77777777777");

    let v: VerifyPaymentNoticeResponse = check("verifyPaymentNotice.response.xml", o);
    let n = v.result.expect("OK");
    assert_eq!(n.payment_options.len(), 1);
    assert_eq!(n.payment_options[0].amount.get(), amount(3000));
    assert_eq!(n.payment_options[0].options, AmountOption::Equal);
    assert_eq!(
        n.payment_options[0].payment_note.as_ref().map(Text::as_str),
        Some("test")
    );
    assert_eq!(
        n.company_name.as_ref().map(Text::as_str),
        Some("company EC")
    );
    assert_eq!(n.standin, None);

    let a: ActivatePaymentNoticeRequest = check("activatePaymentNotice.request.xml", o);
    assert_eq!(
        a.idempotency_key.as_ref().map(IdempotencyKey::as_str),
        Some("70000000001_100149bdWB")
    );
    assert_eq!(a.expiration_time.map(ExpirationTime::as_millis), Some(6000));
    assert_eq!(a.amount, amount(3000));

    let r: ActivatePaymentNoticeResponse = check("activatePaymentNotice.response.xml", o);
    let p = r.result.expect("OK");
    assert_eq!(p.payment_token.as_str(), "c110729d258c4ab1b765fe902aae41d6");
    assert_eq!(p.total_amount, amount(3000));
    assert_eq!(p.transfers.len(), 2);
    assert_eq!(p.transfers[0].amount, amount(2000));
    assert_eq!(p.transfers[1].amount, amount(1000));
    assert_eq!(p.transfers[1].fiscal_code_pa.as_str(), "77777777778");
    assert_eq!(p.transfers[1].iban.as_str(), "IT0000000000000000000000001");
    assert_eq!(p.transfers_total(), Ok(p.total_amount));
    assert_eq!(p.creditor_reference_id.as_str(), "11111111112222222");

    let a: ActivatePaymentNoticeV2Request = check("activatePaymentNoticeV2.request.xml", o);
    assert_eq!(a.base.amount, amount(3000));
    assert_eq!(a.payment_method, None);

    let r: ActivatePaymentNoticeV2Response = check("activatePaymentNoticeV2.response.xml", o);
    let p = r.result.expect("OK");
    assert_eq!(p.payment_token.as_str(), "c110729d258c4ab1b765fe902aae41d6");
    assert_eq!(p.transfers.len(), 2);
    assert_eq!(
        p.transfers[0].destination,
        Some(TransferDestination::Iban(iban(
            "IT0000000000000000000000000"
        )))
    );
    let m = p.transfers[0].metadata.as_ref().expect("transfer metadata");
    assert_eq!((m[0].key.as_str(), m[0].value.as_str()), ("keytest1", "1"));
    let m = p.metadata.as_ref().expect("payment metadata");
    assert_eq!((m[0].key.as_str(), m[0].value.as_str()), ("keytest2", "2"));
    assert_eq!(p.suggested_user_fee, Some(amount(100)));
    assert_eq!(p.suggested_pa_fee, Some(amount(50)));
    assert_eq!(
        p.suggested_id_ci_bundle.as_ref().map(Text::as_str),
        Some("2")
    );

    let s: SendPaymentOutcomeRequest = check("sendPaymentOutcome.request.xml", o);
    assert_eq!(s.outcome, Outcome::Ok);
    let d = s.details.expect("details");
    assert_eq!(d.payment_method, PaymentMethod::CreditCard);
    assert_eq!(d.payment_channel, Some(PaymentChannel::App));
    assert_eq!(d.fee, amount(200));
    assert_eq!(d.application_date, date("2021-10-01"));
    assert_eq!(d.transfer_date, date("2021-10-02"));
    let payer = d.payer.expect("payer");
    assert_eq!(payer.unique_identifier.kind, EntityType::Natural);
    assert_eq!(payer.unique_identifier.value.as_str(), "JHNDOE00A01F205N");
    assert_eq!(
        payer.email.as_ref().map(Email::as_str),
        Some("john.doe@test.it")
    );

    let s: SendPaymentOutcomeResponse = check("sendPaymentOutcome.response.xml", o);
    assert_eq!(s.result, Ok(()));

    let s: SendPaymentOutcomeV2Request = check("sendPaymentOutcomeV2.request.xml", o);
    assert_eq!(
        s.payment_tokens
            .iter()
            .map(PaymentToken::as_str)
            .collect::<Vec<_>>(),
        [
            "d221820d258c4ab1b765fe902aae6d14",
            "c110729d258c4ab1b765fe902aae41d6"
        ]
    );
    let d = s.details.expect("details");
    assert_eq!(d.primary_ci_incurred_fee, Some(amount(50)));
    assert_eq!(d.id_bundle.as_ref().map(Text::as_str), Some("1"));

    let v: pa::PaVerifyPaymentNoticeRequest = check("paVerifyPaymentNotice.request.xml", o);
    assert_eq!(v.station.id_station.as_str(), "77777777777_01");

    let v: pa::PaVerifyPaymentNoticeResponse = check("paVerifyPaymentNotice.response.xml", o);
    let n = v.result.expect("OK");
    assert!(!n.payment_options[0].all_ccp);
    assert_eq!(n.payment_options[0].due_date, Some(date("2021-12-31")));

    let g: pa::PaGetPaymentRequest = check("paGetPayment.request.xml", o);
    assert_eq!(g.amount, Some(amount(3000)));

    let g: pa::PaGetPaymentResponse = check("paGetPayment.response.xml", o);
    let p = g.result.expect("OK");
    assert_eq!(p.last_payment, Some(false), "<lastPayment>0</lastPayment>");
    assert_eq!(
        p.retention_date.map(|d| d.to_string()),
        Some("2021-12-31T23:59:59".into())
    );
    assert_eq!(p.transfers.len(), 2);
    assert_eq!(p.transfers[1].transfer_category.as_str(), "0201102IM");
    assert_eq!(p.debtor.full_name.as_str(), "John Doe");

    let g: pa::PaGetPaymentV2Response = check("paGetPaymentV2.response.xml", o);
    let p = g.result.expect("OK");
    assert_eq!(p.company_name.as_str(), "company EC");
    assert!(p.transfers[0].metadata.is_some());

    let rt: pa::PaSendRtRequest = check("paSendRT.request.xml", o);
    let r = rt.receipt;
    assert_eq!(r.receipt_id.as_str(), "c110729d258c4ab1b765fe902aae41d6");
    assert_eq!(r.payment_amount, amount(3000));
    assert_eq!(r.psp_company_name.as_str(), "PSP name");
    assert_eq!(
        r.payment_date_time.map(|d| d.to_string()),
        Some("2021-10-01T17:48:22".into())
    );
    assert_eq!(r.fee, Some(amount(200)));

    let rt: pa::PaSendRtResponse = check("paSendRT.response.xml", o);
    assert_eq!(rt.result, Ok(()));

    assert_eq!(reencoded.len(), 16);
    assert_schema_valid(&reencoded);
}

#[test]
fn the_simulator_and_adapter_entry_points_dispatch() {
    let req = decode_request(&example("activatePaymentNoticeV2.request.xml")).expect("request");
    assert_eq!(req.primitive(), Primitive::ActivatePaymentNoticeV2);
    assert_eq!(req.psp().id_psp.as_str(), "88888888888");
    assert_eq!(
        req.idempotency_key().map(IdempotencyKey::as_str),
        Some("70000000001_100149bdWB")
    );
    assert_eq!(decode_request(&req.encode()), Ok(req));
    for (file, p) in [
        (
            "verifyPaymentNotice.request.xml",
            Primitive::VerifyPaymentNotice,
        ),
        (
            "activatePaymentNotice.request.xml",
            Primitive::ActivatePaymentNotice,
        ),
        (
            "sendPaymentOutcome.request.xml",
            Primitive::SendPaymentOutcome,
        ),
        (
            "sendPaymentOutcomeV2.request.xml",
            Primitive::SendPaymentOutcomeV2,
        ),
    ] {
        assert_eq!(
            decode_request(&example(file)).map(|r| r.primitive()),
            Ok(p),
            "{file}"
        );
    }
    let res = decode_response(
        &example("activatePaymentNotice.response.xml"),
        Primitive::ActivatePaymentNotice,
    )
    .expect("response");
    assert_eq!(res.primitive(), Primitive::ActivatePaymentNotice);
    assert_eq!(res.fault(), None);
    assert_eq!(
        decode_response(&res.encode(), Primitive::ActivatePaymentNotice),
        Ok(res)
    );
    // The answer to another primitive is refused.
    assert!(matches!(
        decode_response(
            &example("activatePaymentNotice.response.xml"),
            Primitive::ActivatePaymentNoticeV2
        ),
        Err(SoapError::UnexpectedBody {
            expected: "activatePaymentNoticeV2Response",
            ..
        })
    ));
    // A response is not a request.
    assert!(matches!(
        decode_request(&example("verifyPaymentNotice.response.xml")),
        Err(SoapError::UnexpectedBody { .. })
    ));
    assert_eq!(
        <ActivatePaymentNoticeV2Request as Request>::PRIMITIVE.soap_action(),
        "activatePaymentNoticeV2"
    );
}

// ---------------------------------------------------------------------------------------------
// Tolerance

#[test]
fn prefixes_whitespace_comments_and_unknown_elements_do_not_matter() {
    let original = example("activatePaymentNotice.response.xml");
    let canonical: ActivatePaymentNoticeResponse = soap::decode(&original).expect("example");
    let variants = [
        ("ns2 prefix", original.replace("nfpsp:", "ns2:").replace("xmlns:nfpsp", "xmlns:ns2")),
        (
            "default namespace",
            original
                .replace("<nfpsp:activatePaymentNoticeRes>", "<activatePaymentNoticeRes xmlns=\"http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd\">")
                .replace("</nfpsp:activatePaymentNoticeRes>", "</activatePaymentNoticeRes>"),
        ),
        (
            "SOAP prefix S",
            original.replace("soapenv:", "S:").replace("xmlns:soapenv", "xmlns:S"),
        ),
        ("no whitespace", original.lines().map(str::trim).collect::<String>()),
        (
            "extra whitespace and newlines",
            original
                .replace("<paymentToken>", "<paymentToken>\n\t  ")
                .replace("</paymentToken>", "\r\n  </paymentToken>")
                .replace("<transfer>", "\n\n<transfer   >"),
        ),
        (
            "comments",
            original
                .replace("<transferList>", "<transferList><!-- due trasferimenti -->")
                .replace("<totalAmount>30.00", "<totalAmount><!-- x -->30.00<!-- y -->"),
        ),
        (
            "unknown elements",
            original
                .replace("<outcome>OK</outcome>", "<outcome>OK</outcome><futureField a=\"1\"><nested>x</nested></futureField>")
                .replace("<idTransfer>2</idTransfer>", "<idTransfer>2</idTransfer><extra/>")
                .replace("</soapenv:Body>", "<trailing/></soapenv:Body>")
                .replace("<soapenv:Body>", "<soapenv:Header><wsse:Security xmlns:wsse=\"urn:x\">t</wsse:Security></soapenv:Header><soapenv:Body>"),
        ),
        ("CDATA", original.replace("<paymentDescription>test", "<paymentDescription><![CDATA[test]]>")),
        ("character reference", original.replace("<paymentDescription>test", "<paymentDescription>&#116;es&#x74;")),
        ("no XML declaration", original.replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "", 1)),
        (
            "reordered elements",
            original.replace(
                "<totalAmount>30.00</totalAmount>\n      <paymentDescription>test</paymentDescription>",
                "<paymentDescription>test</paymentDescription><totalAmount>30.00</totalAmount>",
            ),
        ),
    ];
    for (what, xml) in variants {
        assert_ne!(xml, original, "{what}: the variant must differ");
        let v: ActivatePaymentNoticeResponse =
            soap::decode(&xml).unwrap_or_else(|e| panic!("{what}: {e}\n{xml}"));
        assert_eq!(v, canonical, "{what}");
    }
    // Leading zeros and a plus sign are valid xsd:int forms.
    let r = example("activatePaymentNotice.request.xml")
        .replace("<expirationTime>6000", "<expirationTime>+0006000");
    let a: ActivatePaymentNoticeRequest = soap::decode(&r).expect("xsd:integer forms");
    assert_eq!(a.expiration_time.map(ExpirationTime::as_millis), Some(6000));
}

// ---------------------------------------------------------------------------------------------
// Errors

fn activate_res_with(from: &str, to: &str) -> Result<ActivatePaymentNoticeResponse, SoapError> {
    let original = example("activatePaymentNotice.response.xml");
    assert!(original.contains(from), "{from}");
    soap::decode(&original.replacen(from, to, 1))
}

fn invalid(r: Result<impl std::fmt::Debug, SoapError>) -> (&'static str, &'static str) {
    match r {
        Err(SoapError::Invalid { element, error }) => (element, error.code()),
        other => panic!("expected an invalid value, got {other:?}"),
    }
}

#[test]
fn bad_messages_give_typed_errors() {
    assert_eq!(
        activate_res_with(
            "<paymentToken>c110729d258c4ab1b765fe902aae41d6</paymentToken>",
            ""
        ),
        Err(SoapError::Missing {
            element: "paymentToken"
        })
    );
    assert_eq!(
        activate_res_with(
            "<remittanceInformation>remittanceInformation2</remittanceInformation>",
            ""
        ),
        Err(SoapError::Missing {
            element: "remittanceInformation"
        })
    );
    assert_eq!(
        activate_res_with("<transferList>", "<transferListOld>")
            .err()
            .map(|e| e.code()),
        Some("SOAP_NOT_XML"),
        "mismatched tags are not XML"
    );
    assert_eq!(
        invalid(activate_res_with("<totalAmount>30.00", "<totalAmount>30")),
        ("totalAmount", "AMOUNT_MALFORMED")
    );
    assert_eq!(
        invalid(activate_res_with(
            "<transferAmount>20.00",
            "<transferAmount>20.5"
        )),
        ("transferAmount", "AMOUNT_TOO_FEW_DECIMALS")
    );
    assert_eq!(
        invalid(activate_res_with(
            "<fiscalCodePA>77777777778",
            "<fiscalCodePA>7777777777"
        )),
        ("fiscalCodePA", "FISCAL_CODE_LENGTH")
    );
    assert_eq!(
        invalid(activate_res_with("<idTransfer>2", "<idTransfer>6")),
        ("idTransfer", "VALUE_OUT_OF_RANGE")
    );
    assert_eq!(
        invalid(activate_res_with(
            "<IBAN>IT0000000000000000000000001",
            "<IBAN>IT 0000"
        )),
        ("IBAN", "VALUE_PATTERN")
    );
    assert_eq!(
        invalid(activate_res_with(
            "<paymentToken>c110729d258c4ab1b765fe902aae41d6",
            &format!("<paymentToken>{}", "x".repeat(36))
        )),
        ("paymentToken", "VALUE_LENGTH")
    );
    let six = "<transfer><idTransfer>1</idTransfer><transferAmount>1.00</transferAmount><fiscalCodePA>77777777777</fiscalCodePA><IBAN>IT00A</IBAN><remittanceInformation>r</remittanceInformation></transfer>".repeat(6);
    assert_eq!(
        invalid(activate_res_with(
            "<transferList>",
            &format!("<transferList>{six}")
        )),
        ("transferList", "VALUE_COUNT")
    );
    assert_eq!(
        activate_res_with("<outcome>OK</outcome>", "<outcome>KO</outcome>"),
        Err(SoapError::Missing { element: "fault" })
    );
    assert_eq!(
        invalid(activate_res_with(
            "<outcome>OK</outcome>",
            "<outcome>ok</outcome>"
        )),
        ("outcome", "VALUE_NOT_ALLOWED")
    );

    let req = example("activatePaymentNotice.request.xml");
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("311111111112222222", "31111111111222222"));
    assert_eq!(invalid(r), ("noticeNumber", "NOTICE_LENGTH"));
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("<amount>30.00", "<amount>30"));
    assert_eq!(invalid(r), ("amount", "AMOUNT_MALFORMED"));
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("70000000001_100149bdWB", "70000000001-100149bdWB"));
    assert_eq!(invalid(r), ("idempotencyKey", "VALUE_PATTERN"));
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("<expirationTime>6000", "<expirationTime>1800001"));
    assert_eq!(invalid(r), ("expirationTime", "VALUE_OUT_OF_RANGE"));
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("**********", "short"));
    assert_eq!(invalid(r), ("password", "VALUE_LENGTH"));
    let r: Result<ActivatePaymentNoticeRequest, _> =
        soap::decode(&req.replace("<idPSP>88888888888</idPSP>", ""));
    assert_eq!(r, Err(SoapError::Missing { element: "idPSP" }));

    // Wrong root element: a verify answer where an activate answer was expected.
    let r: Result<ActivatePaymentNoticeResponse, _> =
        soap::decode(&example("verifyPaymentNotice.response.xml"));
    assert_eq!(
        r,
        Err(SoapError::UnexpectedBody {
            expected: "activatePaymentNoticeRes",
            found: "verifyPaymentNoticeRes".into()
        })
    );

    // Not XML, not SOAP, empty.
    for (what, body, code) in [
        ("plain text", "Service Unavailable", "SOAP_NOT_XML"),
        ("empty", "", "SOAP_NOT_XML"),
        ("truncated", &req[..req.len() / 2], "SOAP_NOT_XML"),
        (
            "HTML error page",
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502</h1><hr><center>nginx</center></body></html>",
            "SOAP_NOT_XML",
        ),
        (
            "well-formed HTML error page",
            "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503</h1></body></html>",
            "SOAP_NOT_ENVELOPE",
        ),
        (
            "JSON",
            "{\"statusCode\": 401, \"message\": \"Access denied due to missing subscription key.\"}",
            "SOAP_NOT_XML",
        ),
        (
            "empty body",
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>",
            "SOAP_NO_BODY",
        ),
        (
            "no body",
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header/></s:Envelope>",
            "SOAP_NO_BODY",
        ),
    ] {
        let r: Result<ActivatePaymentNoticeResponse, _> = soap::decode(body);
        assert_eq!(r.err().map(|e| e.code()), Some(code), "{what}");
        assert_eq!(
            decode_request(body).err().map(|e| e.code()),
            Some(code),
            "{what}"
        );
    }
}

#[test]
fn soap_faults_are_typed_errors() {
    let xml = r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <soap:Fault>
      <faultcode>soap:Client.Authentication</faultcode>
      <faultstring>Invalid SOAPAction &amp; stuff</faultstring>
      <detail>
        <ns2:fault xmlns:ns2="http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd">
          <faultCode>PPT_SOAPACTION_ERRATA</faultCode>
          <faultString>SOAPAction errata</faultString>
          <id>NodoDeiPagamentiSPC</id>
        </ns2:fault>
      </detail>
    </soap:Fault>
  </soap:Body>
</soap:Envelope>"#;
    let r: Result<VerifyPaymentNoticeResponse, _> = soap::decode(xml);
    let Err(SoapError::Fault(f)) = r else {
        panic!("expected a SOAP Fault, got {r:?}")
    };
    assert_eq!(f.code, SoapFaultCode::Client);
    assert_eq!(f.string, "Invalid SOAPAction & stuff");
    let bean = f.detail.as_ref().expect("fault bean in detail");
    assert_eq!(bean.fault_code, FaultCode::PptSoapactionErrata);
    assert_eq!(
        pagopa::fault::classify_soap_fault(Primitive::VerifyPaymentNotice, &f),
        pagopa::fault::Action::Misconfigured
    );
    assert_eq!(SoapFault::decode(xml).as_ref(), Ok(&*f));
    assert_eq!(
        decode_request(xml).err().map(|e| e.code()),
        Some("SOAP_FAULT")
    );
    // A bare fault, as gateways send them.
    let bare = "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body><e:Fault><faultcode>e:Server</faultcode><faultstring>Internal Error</faultstring></e:Fault></e:Body></e:Envelope>";
    let f = SoapFault::decode(bare).expect("fault");
    assert_eq!(
        (f.code, f.string.as_str(), f.detail),
        (SoapFaultCode::Server, "Internal Error", None)
    );
    // And a message that is not a fault is not one.
    assert!(matches!(
        SoapFault::decode(&example("paSendRT.response.xml")),
        Err(SoapError::UnexpectedBody {
            expected: "Fault",
            ..
        })
    ));
}

#[test]
fn ko_answers_carry_the_whole_fault_bean() {
    let xml = VerifyPaymentNoticeResponse::ko(fault_full()).encode();
    assert!(
        xml.contains("<outcome>KO</outcome><fault><faultCode>PPT_ERRORE_EMESSO_DA_PAA</faultCode>")
    );
    let back: VerifyPaymentNoticeResponse = soap::decode(&xml).expect("decodes");
    let f = back.result.expect_err("KO");
    assert_eq!(f.original_fault_code, Some(FaultCode::PaaPagamentoScaduto));
    assert_eq!(f.serial, Some(-7));
    assert_eq!(
        pagopa::fault::classify(Primitive::VerifyPaymentNotice, &f),
        pagopa::fault::Action::Permanent(pagopa::fault::FailureReason::NoticeExpired)
    );
}

#[test]
fn spec_paths_exist() {
    assert!(
        Path::new(&spec_dir().join("soap.xsd")).is_file(),
        "{}",
        spec_dir().display()
    );
}
