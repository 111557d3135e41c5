//! Property tests of the SOAP codec: every generated message survives encode → decode
//! unchanged, and no input (arbitrary text, or a valid message with flipped bytes, cuts and
//! stray markup) makes a decoder panic.

use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;

use pagopa::fault::{Fault, FaultCode, Primitive};
use pagopa::soap::pa;
use pagopa::soap::{self, *};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, DateTime, Iuv, NoticeNumber};

// ---------------------------------------------------------------------------------------------
// Leaf strategies

fn regex(re: &str) -> impl Strategy<Value = String> + use<> {
    proptest::string::string_regex(re).expect("valid regex")
}

/// Any printable text whose trimmed length fits (controls excluded: XML cannot carry most).
fn text<const MIN: usize, const MAX: usize>() -> impl Strategy<Value = Text<MIN, MAX>> {
    prop_oneof![
        regex(&format!("[a-zA-Z0-9 ]{{{MIN},{MAX}}}")),
        regex(&format!("[àèéìòù<>&\"' —€a-z]{{{MIN},{MAX}}}")),
        regex(&format!("\\PC{{{MIN},{MAX}}}")),
    ]
    .prop_filter_map("fits after trimming", |s| Text::new(&s).ok())
}

fn free_text() -> impl Strategy<Value = String> {
    regex("\\PC{0,40}").prop_map(|s| s.trim().to_owned())
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        Just(0u64),
        Just(Amount::MAX.cents()),
        0u64..=Amount::MAX.cents(),
        0u64..100_000,
    ]
    .prop_map(|c| Amount::from_cents(c).expect("in range"))
}

fn nonzero() -> impl Strategy<Value = NonZeroAmount> {
    amount().prop_filter_map("not zero", |a| NonZeroAmount::new(a).ok())
}

fn date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).expect("valid"))
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (
        date(),
        0u8..24,
        0u8..60,
        0u8..60,
        select(&["", ".1", ".123", ".123456789"][..]),
        select(&["", "Z", "+01:00", "-05:30", "+14:00"][..]),
    )
        .prop_map(|(d, h, m, s, frac, off)| {
            DateTime::parse(&format!("{d}T{h:02}:{m:02}:{s:02}{frac}{off}")).expect("valid")
        })
}

fn fiscal_code() -> impl Strategy<Value = CreditorFiscalCode> {
    regex("[0-9]{11}")
        .prop_map(|s| CreditorFiscalCode::parse(&s, CheckMode::Lenient).expect("11 digits"))
}

fn notice() -> impl Strategy<Value = NoticeNumber> {
    regex("[0-3][0-9]{17}")
        .prop_map(|s| NoticeNumber::parse(&s, CheckMode::Lenient).expect("18 digits"))
}

fn iuv() -> impl Strategy<Value = Iuv> {
    regex("[A-Za-z0-9]{1,35}").prop_map(|s| Iuv::parse(&s).expect("valid IUV"))
}

fn token() -> impl Strategy<Value = PaymentToken> {
    prop_oneof![regex("[0-9a-f]{32}"), regex("\\PC{1,35}")]
        .prop_filter_map("fits after trimming", |s| PaymentToken::new(&s).ok())
}

fn key() -> impl Strategy<Value = IdempotencyKey> {
    (regex("[a-zA-Z0-9]{2,18}"), regex("[a-zA-Z0-9]{10}"))
        .prop_map(|(p, s)| IdempotencyKey::new(&p, &s).expect("valid key"))
}

fn iban() -> impl Strategy<Value = Iban> {
    regex("[a-zA-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}").prop_map(|s| Iban::new(&s).expect("valid IBAN"))
}

fn code2() -> impl Strategy<Value = NationProvinceCode> {
    regex("[A-Z]{2}").prop_map(|s| NationProvinceCode::new(&s).expect("valid"))
}

fn transfer_id() -> impl Strategy<Value = TransferId> {
    (1u8..=5).prop_map(|n| TransferId::new(n).expect("1..=5"))
}

fn bounded<T: std::fmt::Debug, const MAX: usize>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = BoundedVec<T, MAX>> {
    vec(item, 1..=MAX).prop_map(|v| BoundedVec::new(v).expect("1..=MAX items"))
}

fn metadata() -> impl Strategy<Value = Metadata> {
    bounded((text(), text()).prop_map(|(key, value)| MapEntry { key, value }))
}

fn subject() -> impl Strategy<Value = Subject> {
    (
        select(EntityType::ALL),
        text::<2, 16>(),
        text(),
        (of(text()), of(text()), of(text()), of(text()), of(text())),
        of(code2()),
        of(
            regex("[a-zA-Z0-9_.+-]{1,20}@[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}")
                .prop_map(|s| Email::new(&s).expect("valid e-mail")),
        ),
    )
        .prop_map(
            |(kind, value, full_name, (street, civic, postal, city, region), country, email)| {
                Subject {
                    unique_identifier: UniqueIdentifier { kind, value },
                    full_name,
                    street_name: street,
                    civic_number: civic,
                    postal_code: postal,
                    city,
                    state_province_region: region,
                    country,
                    email,
                }
            },
        )
}

fn fault_code() -> impl Strategy<Value = FaultCode> {
    prop_oneof![
        select(FaultCode::KNOWN),
        regex("X_[A-Z_]{0,20}").prop_map(FaultCode::Other),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    (
        fault_code(),
        free_text(),
        free_text(),
        of(free_text()),
        of(any::<i32>()),
        of(fault_code()),
        of(free_text()),
        of(free_text()),
    )
        .prop_map(
            |(code, string, id, description, serial, ocode, ostring, odesc)| Fault {
                fault_code: code,
                fault_string: string,
                id,
                description,
                serial,
                original_fault_code: ocode,
                original_fault_string: ostring,
                original_description: odesc,
            },
        )
}

fn reply<T: std::fmt::Debug + Clone>(
    ok: impl Strategy<Value = T>,
) -> impl Strategy<Value = Result<T, Fault>> {
    prop_oneof![ok.prop_map(Ok), fault().prop_map(Err)]
}

// ---------------------------------------------------------------------------------------------
// Message strategies

fn psp() -> impl Strategy<Value = PspIdentity> {
    (text(), text(), text(), regex("[!-~]{8,15}")).prop_map(
        |(id_psp, id_broker_psp, id_channel, pw)| PspIdentity {
            id_psp,
            id_broker_psp,
            id_channel,
            password: Password::new(&pw).expect("valid password"),
        },
    )
}

fn qr() -> impl Strategy<Value = QrCode> {
    (fiscal_code(), notice()).prop_map(|(fiscal_code, notice_number)| QrCode {
        fiscal_code,
        notice_number,
    })
}

fn verify_request() -> impl Strategy<Value = VerifyPaymentNoticeRequest> {
    (psp(), qr()).prop_map(|(psp, qr_code)| VerifyPaymentNoticeRequest { psp, qr_code })
}

fn verified() -> impl Strategy<Value = VerifiedNotice> {
    (
        bounded(
            (nonzero(), select(AmountOption::ALL), of(date()), of(text())).prop_map(
                |(amount, options, due_date, payment_note)| PaymentOption {
                    amount,
                    options,
                    due_date,
                    payment_note,
                },
            ),
        ),
        of(text()),
        of(fiscal_code()),
        of(text()),
        of(text()),
        of(any::<bool>()),
    )
        .prop_map(
            |(
                payment_options,
                payment_description,
                fiscal_code_pa,
                company_name,
                office_name,
                standin,
            )| {
                VerifiedNotice {
                    payment_options,
                    payment_description,
                    fiscal_code_pa,
                    company_name,
                    office_name,
                    standin,
                }
            },
        )
}

fn activate_request() -> impl Strategy<Value = ActivatePaymentNoticeRequest> {
    (
        psp(),
        of(key()),
        qr(),
        of((0u32..=1_800_000).prop_map(|ms| ExpirationTime::from_millis(ms).expect("in range"))),
        amount(),
        of(date()),
        of(text()),
    )
        .prop_map(
            |(psp, idempotency_key, qr_code, expiration_time, amount, due_date, payment_note)| {
                ActivatePaymentNoticeRequest {
                    psp,
                    idempotency_key,
                    qr_code,
                    expiration_time,
                    amount,
                    due_date,
                    payment_note,
                }
            },
        )
}

fn activate_v2_request() -> impl Strategy<Value = ActivatePaymentNoticeV2Request> {
    (
        activate_request(),
        of(select(FeePaymentMethod::ALL)),
        of(select(TouchPoint::ALL)),
    )
        .prop_map(
            |(base, payment_method, touch_point)| ActivatePaymentNoticeV2Request {
                base,
                payment_method,
                touch_point,
            },
        )
}

fn transfer() -> impl Strategy<Value = Transfer> {
    (
        transfer_id(),
        amount(),
        fiscal_code(),
        iban(),
        text(),
        of(metadata()),
    )
        .prop_map(
            |(id_transfer, amount, fiscal_code_pa, iban, remittance_information, metadata)| {
                Transfer {
                    id_transfer,
                    amount,
                    fiscal_code_pa,
                    iban,
                    remittance_information,
                    metadata,
                }
            },
        )
}

fn destination() -> impl Strategy<Value = TransferDestination> {
    prop_oneof![
        iban().prop_map(TransferDestination::Iban),
        (vec(any::<u8>(), 1..=54), code2()).prop_map(
            |(hash, province)| TransferDestination::Stamp(StampRequest {
                document_hash: DocumentHash::new(hash).expect("1..=54 bytes"),
                stamp_type: StampType::Digital,
                province_of_residence: province,
            })
        ),
    ]
}

fn transfer_v2() -> impl Strategy<Value = TransferV2> {
    (
        transfer_id(),
        amount(),
        fiscal_code(),
        of(text()),
        of(destination()),
        text(),
        of(text()),
        of(metadata()),
    )
        .prop_map(
            |(
                id_transfer,
                amount,
                fiscal_code_pa,
                company_name,
                destination,
                remittance_information,
                transfer_category,
                metadata,
            )| {
                TransferV2 {
                    id_transfer,
                    amount,
                    fiscal_code_pa,
                    company_name,
                    destination,
                    remittance_information,
                    transfer_category,
                    metadata,
                }
            },
        )
}

fn activated() -> impl Strategy<Value = ActivatedPayment> {
    (
        amount(),
        (of(text()), of(fiscal_code()), of(text()), of(text())),
        token(),
        bounded(transfer()),
        iuv(),
        of(any::<bool>()),
    )
        .prop_map(
            |(
                total_amount,
                (payment_description, fiscal_code_pa, company_name, office_name),
                payment_token,
                transfers,
                creditor_reference_id,
                standin,
            )| {
                ActivatedPayment {
                    total_amount,
                    payment_description,
                    fiscal_code_pa,
                    company_name,
                    office_name,
                    payment_token,
                    transfers,
                    creditor_reference_id,
                    standin,
                }
            },
        )
}

fn activated_v2() -> impl Strategy<Value = ActivatedPaymentV2> {
    (
        amount(),
        (of(text()), of(fiscal_code()), of(text()), of(text())),
        token(),
        bounded(transfer_v2()),
        of(metadata()),
        iuv(),
        (of(amount()), of(amount()), of(text()), of(text())),
        (of(any::<bool>()), of(any::<bool>())),
    )
        .prop_map(
            |(
                total_amount,
                (payment_description, fiscal_code_pa, company_name, office_name),
                payment_token,
                transfers,
                metadata,
                creditor_reference_id,
                (suggested_user_fee, suggested_pa_fee, suggested_id_bundle, suggested_id_ci_bundle),
                (all_ccp, standin),
            )| ActivatedPaymentV2 {
                total_amount,
                payment_description,
                fiscal_code_pa,
                company_name,
                office_name,
                payment_token,
                transfers,
                metadata,
                creditor_reference_id,
                suggested_user_fee,
                suggested_pa_fee,
                suggested_id_bundle,
                suggested_id_ci_bundle,
                all_ccp,
                standin,
            },
        )
}

fn details() -> impl Strategy<Value = OutcomeDetails> {
    (
        select(PaymentMethod::ALL),
        of(select(PaymentChannel::ALL)),
        amount(),
        of(subject()),
        date(),
        date(),
    )
        .prop_map(
            |(payment_method, payment_channel, fee, payer, application_date, transfer_date)| {
                OutcomeDetails {
                    payment_method,
                    payment_channel,
                    fee,
                    payer,
                    application_date,
                    transfer_date,
                }
            },
        )
}

fn details_v2() -> impl Strategy<Value = OutcomeDetailsV2> {
    (
        details(),
        of(amount()),
        of(text()),
        of(text()),
        of(bounded(
            (token(), transfer_id(), vec(any::<u8>(), 0..64)).prop_map(
                |(payment_token, id_transfer, bytes)| DigitalStamp {
                    payment_token,
                    id_transfer,
                    attachment: Base64Binary::new(bytes),
                },
            ),
        )),
    )
        .prop_map(
            |(d, primary_ci_incurred_fee, id_bundle, id_ci_bundle, digital_stamps)| {
                OutcomeDetailsV2 {
                    payment_method: d.payment_method,
                    payment_channel: d.payment_channel,
                    fee: d.fee,
                    primary_ci_incurred_fee,
                    id_bundle,
                    id_ci_bundle,
                    payer: d.payer,
                    application_date: d.application_date,
                    transfer_date: d.transfer_date,
                    digital_stamps,
                }
            },
        )
}

fn outcome_request() -> impl Strategy<Value = SendPaymentOutcomeRequest> {
    (
        psp(),
        of(key()),
        token(),
        select(Outcome::ALL),
        of(details()),
    )
        .prop_map(|(psp, idempotency_key, payment_token, outcome, details)| {
            SendPaymentOutcomeRequest {
                psp,
                idempotency_key,
                payment_token,
                outcome,
                details,
            }
        })
}

fn outcome_v2_request() -> impl Strategy<Value = SendPaymentOutcomeV2Request> {
    (
        psp(),
        of(key()),
        bounded(token()),
        select(Outcome::ALL),
        of(details_v2()),
    )
        .prop_map(|(psp, idempotency_key, payment_tokens, outcome, details)| {
            SendPaymentOutcomeV2Request {
                psp,
                idempotency_key,
                payment_tokens,
                outcome,
                details,
            }
        })
}

fn pa_payment() -> impl Strategy<Value = pa::Payment> {
    (
        iuv(),
        nonzero(),
        date(),
        of(date_time()),
        of(any::<bool>()),
        text(),
        (of(text()), of(text())),
        subject(),
        bounded(
            (
                transfer_id(),
                nonzero(),
                fiscal_code(),
                iban(),
                text(),
                text(),
                of(metadata()),
            )
                .prop_map(
                    |(
                        id_transfer,
                        amount,
                        fiscal_code_pa,
                        iban,
                        remittance_information,
                        transfer_category,
                        metadata,
                    )| {
                        pa::Transfer {
                            id_transfer,
                            amount,
                            fiscal_code_pa,
                            iban,
                            remittance_information,
                            transfer_category,
                            metadata,
                        }
                    },
                ),
        ),
        of(metadata()),
    )
        .prop_map(
            |(
                creditor_reference_id,
                payment_amount,
                due_date,
                retention_date,
                last_payment,
                description,
                (company_name, office_name),
                debtor,
                transfers,
                metadata,
            )| {
                pa::Payment {
                    creditor_reference_id,
                    payment_amount,
                    due_date,
                    retention_date,
                    last_payment,
                    description,
                    company_name,
                    office_name,
                    debtor,
                    transfers,
                    metadata,
                }
            },
        )
}

fn soap_fault() -> impl Strategy<Value = SoapFault> {
    (
        select(
            &[
                SoapFaultCode::VersionMismatch,
                SoapFaultCode::MustUnderstand,
                SoapFaultCode::Client,
                SoapFaultCode::Server,
            ][..],
        ),
        free_text(),
        of(regex("https://[a-z.]{1,20}/[a-z/]{0,20}")),
        of(fault()),
    )
        .prop_map(|(code, string, actor, detail)| SoapFault {
            code,
            string,
            actor,
            detail,
        })
}

// ---------------------------------------------------------------------------------------------
// Round trips

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(m: &M) -> Result<(), TestCaseError> {
    let xml = m.encode();
    let back = M::decode(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
    prop_assert_eq!(&back, m, "{}", xml);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_round_trips(req in verify_request(), res in reply(verified())) {
        round_trip(&req)?;
        round_trip(&VerifyPaymentNoticeResponse { result: res })?;
    }

    #[test]
    fn activate_round_trips(req in activate_request(), res in reply(activated())) {
        round_trip(&req)?;
        round_trip(&ActivatePaymentNoticeResponse { result: res })?;
    }

    #[test]
    fn activate_v2_round_trips(req in activate_v2_request(), res in reply(activated_v2())) {
        round_trip(&req)?;
        round_trip(&ActivatePaymentNoticeV2Response { result: res })?;
        // Through the simulator's and adapter's entry points too.
        let r = NodoRequest::ActivatePaymentNoticeV2(req);
        prop_assert_eq!(decode_request(&r.encode()), Ok(r));
    }

    #[test]
    fn outcome_round_trips(req in outcome_request(), res in reply(Just(()))) {
        round_trip(&req)?;
        round_trip(&SendPaymentOutcomeResponse { result: res.clone() })?;
        let r = NodoResponse::SendPaymentOutcome(SendPaymentOutcomeResponse { result: res });
        prop_assert_eq!(decode_response(&r.encode(), Primitive::SendPaymentOutcome), Ok(r));
    }

    #[test]
    fn outcome_v2_round_trips(req in outcome_v2_request(), res in reply(Just(()))) {
        round_trip(&req)?;
        round_trip(&SendPaymentOutcomeV2Response { result: res })?;
    }

    #[test]
    fn ec_side_round_trips(res in reply(pa_payment())) {
        round_trip(&pa::PaGetPaymentResponse { result: res })?;
    }

    #[test]
    fn soap_faults_round_trip(f in soap_fault()) {
        prop_assert_eq!(SoapFault::decode(&f.encode()), Ok(f));
    }
}

// ---------------------------------------------------------------------------------------------
// No panics

/// Run every decoder on `s`; only a panic fails.
fn decode_everything(s: &str) {
    let _ = decode_request(s);
    for p in Primitive::ALL {
        let _ = decode_response(s, p);
    }
    let _ = SoapFault::decode(s);
    let _ = soap::decode::<pa::PaVerifyPaymentNoticeRequest>(s);
    let _ = soap::decode::<pa::PaVerifyPaymentNoticeResponse>(s);
    let _ = soap::decode::<pa::PaGetPaymentRequest>(s);
    let _ = soap::decode::<pa::PaGetPaymentV2Request>(s);
    let _ = soap::decode::<pa::PaGetPaymentResponse>(s);
    let _ = soap::decode::<pa::PaGetPaymentV2Response>(s);
    let _ = soap::decode::<pa::PaSendRtRequest>(s);
    let _ = soap::decode::<pa::PaSendRtResponse>(s);
    let _ = soap::decode::<pa::PaSendRtV2Request>(s);
    let _ = soap::decode::<pa::PaSendRtV2Response>(s);
}

fn seeds() -> Vec<String> {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/pagopa/examples"
    ));
    let mut seeds: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| std::fs::read_to_string(&p).expect("readable example"))
        .collect();
    seeds.sort();
    seeds.push(SoapFault::new(SoapFaultCode::Server, "x").encode());
    seeds
}

/// A mutation of a valid message.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, &'static str),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            select(
                &[
                    "<",
                    ">",
                    "/",
                    "</a>",
                    "<x>",
                    "<x/>",
                    "&",
                    "&amp;",
                    "&bogus;",
                    "&#0;",
                    "&#xD800;",
                    "&#1114112;",
                    "]]>",
                    "<![CDATA[",
                    "<!--",
                    "-->",
                    "\"",
                    "'",
                    "<?xml version=\"1.0\"?>",
                    "<!DOCTYPE x>",
                    "<outcome>KO</outcome>",
                    "<fault>",
                    "<transfer>",
                    "<soapenv:Fault>",
                    ":",
                    "xmlns:a=\"b\"",
                    "\u{0}",
                    "\u{FFFF}",
                    "é",
                    " ",
                ][..]
            ),
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(seed: &str, mutations: &[Mutation], cut: Option<usize>) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x = b;
                }
            }
            Mutation::Insert(i, s) => {
                let at = (i % len).min(bytes.len());
                bytes.splice(at..at, s.bytes());
            }
            Mutation::Delete(i, n) => {
                let at = (i % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_text_never_panics(s in prop_oneof![any::<String>(), regex("[<>/a-zA-Z:=\" &;#!?\\[\\]-]{0,200}")]) {
        decode_everything(&s);
    }

    #[test]
    fn mutated_messages_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..6),
        cut in of(any::<usize>()),
    ) {
        let seeds = SEEDS.with(|s| s.clone());
        let base = &seeds[seed.index(seeds.len())];
        decode_everything(&apply(base, &mutations, cut));
    }

    #[test]
    fn generated_messages_mutated_never_panic(
        res in reply(activated_v2()),
        mutations in vec(mutation(), 1..4),
        cut in of(any::<usize>()),
    ) {
        let xml = ActivatePaymentNoticeV2Response { result: res }.encode();
        decode_everything(&apply(&xml, &mutations, cut));
    }
}

thread_local! {
    static SEEDS: Vec<String> = seeds();
}

#[test]
fn decoders_reject_garbage_with_errors_not_values() {
    // A sanity check that the no-panic properties exercise real decoding: the seeds decode,
    // a cut in the middle of each does not.
    for seed in seeds() {
        let cut = &seed[..seed.len() / 2];
        assert!(decode_request(cut).is_err());
        assert!(SoapFault::decode(cut).is_err());
    }
    let requests = seeds().iter().filter(|s| decode_request(s).is_ok()).count();
    assert_eq!(requests, 5, "the five PSP request examples decode");
}
