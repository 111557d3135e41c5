//! Rendicontazione conformance: every flow and envelope this crate writes must validate with
//! xmllint against the official XSDs (`FlussoRiversamento_1_0_4.xsd` / `_1_0_5.xsd`, and
//! `soap.xsd` for whole `nodoInviaFlussoRendicontazione` envelopes), and the official examples
//! must decode to the right values.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use pagopa::fdr::soap::{NodoInviaFlussoRendicontazione, NodoInviaFlussoRendicontazioneRisposta};
use pagopa::fdr::{
    self, FdrError, FieldError, FlowHeader, IdentifierType, OutcomeCode, Payment, Reader, Receiver,
    SchemaVersion, Sender, Text, Writer,
};
use pagopa::remittance::FlowId;
use pagopa::soap::{Password, PspIdentity};
use pagopa::{Amount, Date, DateTime, Iuv};

fn spec(rel: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/pagopa"
    ))
    .join(rel)
}

fn read_spec(rel: &str) -> Vec<u8> {
    std::fs::read(spec(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn xsd(v: SchemaVersion) -> PathBuf {
    spec(&format!("xsd-common/{}", v.xsd_file()))
}

/// Validate `xml` against `schema`; `Err` carries xmllint's complaint.
fn xmllint(xml: &[u8], schema: &Path) -> Result<(), String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "pagopa-conformance-fdr-{}-{}.xml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, xml).expect("write temp file");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is required for these tests ({e}): apt-get install libxml2-utils")
        });
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn assert_valid(xml: &[u8], schema: &Path) {
    if let Err(e) = xmllint(xml, schema) {
        panic!(
            "not valid against {}:\n{e}\n{}",
            schema.display(),
            String::from_utf8_lossy(&xml[..xml.len().min(4000)])
        );
    }
}

fn date(s: &str) -> Date {
    Date::parse(s).expect("date")
}

fn t<const A: usize, const B: usize>(s: &str) -> Text<A, B> {
    Text::new(s).expect("text")
}

fn payment(i: u64, cents: u64, outcome: OutcomeCode) -> Payment {
    Payment {
        iuv: Iuv::parse(&format!("{:017}", 1_000_000_000_000_000 + i)).expect("iuv"),
        iur: t(&format!("{i:032x}")),
        transfer_index: Some(u8::try_from(i % 5 + 1).expect("1..=5")),
        amount: Amount::from_cents(cents).expect("amount"),
        outcome,
        outcome_date: date("2024-05-20"),
    }
}

fn header_for(payments: &[Payment]) -> FlowHeader {
    let d = date("2024-05-21");
    FlowHeader {
        flow_id: FlowId::new(d, "60000000001", "S2024052101").expect("flow id"),
        flow_date_time: DateTime::parse("2024-05-21T18:30:00").expect("date-time"),
        settlement_ref: t("SEPA-TRN-0001"),
        settlement_date: d,
        sender: Sender {
            id_type: IdentifierType::LegalPerson,
            code: t("60000000001"),
            name: Some(t("PSP di prova SpA")),
        },
        settlement_bank_bic: Some(t("BCITITMM")),
        receiver: Receiver {
            code: t("77777777777"),
            name: Some(t("Comune di Prova")),
        },
        payment_count: payments.len() as u64,
        total: Amount::checked_sum(payments.iter().map(|p| p.amount)).expect("total"),
    }
}

fn encode(payments: &[Payment], v: SchemaVersion) -> Vec<u8> {
    fdr::encode(&header_for(payments), payments, v).expect("encode")
}

/// Encode, validate against `v`'s XSD and decode back to the same values.
fn check(header: &FlowHeader, payments: &[Payment], v: SchemaVersion) -> Vec<u8> {
    let xml = fdr::encode(header, payments, v).expect("encode");
    assert_valid(&xml, &xsd(v));
    let (h, p) = fdr::decode(&xml).expect("decode");
    assert_eq!(&h, header);
    assert_eq!(p, payments);
    xml
}

#[test]
fn one_payment_is_valid_for_both_versions() {
    let p = [payment(1, 1234, OutcomeCode::Executed)];
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        check(&header_for(&p), &p, v);
    }
}

#[test]
fn every_outcome_code_of_each_version_validates() {
    use OutcomeCode::*;
    for (v, codes) in [
        (
            SchemaVersion::V1_0_4,
            [Executed, Revoked, NoRpt, Executed, Revoked],
        ),
        (
            SchemaVersion::V1_0_5,
            [Executed, StandIn, StandInNoRpt, NoRpt, Executed],
        ),
    ] {
        let p: Vec<_> = (0..5u64)
            .map(|i| payment(i, 100 + i, codes[i as usize]))
            .collect();
        check(&header_for(&p), &p, v);
    }
}

#[test]
fn a_stand_in_code_is_1_0_5_only() {
    let p = [
        payment(1, 500, OutcomeCode::Executed),
        payment(2, 700, OutcomeCode::StandIn),
    ];
    let xml = check(&header_for(&p), &p, SchemaVersion::V1_0_5);
    let e = xmllint(&xml, &xsd(SchemaVersion::V1_0_4)).expect_err("1_0_4 has no code 4");
    assert!(e.contains("codiceEsitoSingoloPagamento"), "{e}");
    match fdr::encode(&header_for(&p), &p, SchemaVersion::V1_0_4) {
        Err(FdrError::OutcomeNotAllowed {
            outcome: OutcomeCode::StandIn,
            version: SchemaVersion::V1_0_4,
            payment: 2,
        }) => {}
        other => panic!("{other:?}"),
    }
    // And the other way round: 3 (revoked) was dropped in 1_0_5.
    let r = [payment(1, 500, OutcomeCode::Revoked)];
    let xml = check(&header_for(&r), &r, SchemaVersion::V1_0_4);
    assert!(xmllint(&xml, &xsd(SchemaVersion::V1_0_5)).is_err());
    assert_eq!(
        fdr::encode(&header_for(&r), &r, SchemaVersion::V1_0_5)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("FDR_OUTCOME_NOT_ALLOWED")
    );
}

#[test]
fn maximum_lengths_validate() {
    let d = date("2024-12-31");
    let suffix = "Z".repeat(35 - 10 - 11 - 1);
    let p = [Payment {
        iuv: Iuv::parse(&"9".repeat(35)).expect("iuv"),
        iur: t(&"é".repeat(35)),
        transfer_index: Some(5),
        amount: Amount::MAX,
        outcome: OutcomeCode::NoRpt,
        outcome_date: d,
    }];
    let h = FlowHeader {
        flow_id: FlowId::new(d, "60000000001", &suffix).expect("35 characters"),
        flow_date_time: DateTime::parse("2024-12-31T23:59:59.999999").expect("dt"),
        settlement_ref: t(&"R".repeat(35)),
        settlement_date: d,
        sender: Sender {
            id_type: IdentifierType::Bic,
            code: t(&"C".repeat(35)),
            name: Some(t(&"à".repeat(70))),
        },
        settlement_bank_bic: Some(t(&"B".repeat(35))),
        receiver: Receiver {
            code: t(&"7".repeat(35)),
            name: Some(t(&"ù".repeat(140))),
        },
        payment_count: 1,
        total: Amount::MAX,
    };
    assert_eq!(h.flow_id.as_str().len(), 35);
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        check(&h, &p, v);
    }
    // One character more is refused at construction, before any XML exists.
    assert!(Text::<3, 70>::new(&"à".repeat(71)).is_err());
    assert!(FlowId::new(d, "60000000001", &format!("{suffix}Z")).is_err());
}

#[test]
fn accents_and_xml_specials_in_names_validate_and_round_trip() {
    let p = [payment(1, 4200, OutcomeCode::Executed)];
    let mut h = header_for(&p);
    h.sender.name = Some(t(r#"Banca "Sì" & <Figli> l'Ente"#));
    h.receiver.name = Some(t(
        "Comune di Forlì-Cesena & Città <metropolitana> \"ç\" 'è' €",
    ));
    h.settlement_ref = t("TRN <&>\"'");
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        let xml = check(&h, &p, v);
        let s = String::from_utf8(xml).expect("UTF-8");
        assert!(s.contains("Forlì-Cesena &amp; Città &lt;metropolitana&gt;"));
    }
}

#[test]
fn a_thousand_payments_validate() {
    let p: Vec<_> = (0..1000u64)
        .map(|i| payment(i, 1 + i * 37 % 100_000, OutcomeCode::Executed))
        .collect();
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        check(&header_for(&p), &p, v);
    }
}

/// How to produce (and read back) a large flow without holding it: stream both ways. The
/// totals must be known before writing; here they are computed from the generator.
#[test]
fn a_hundred_thousand_payments_stream_through() {
    const N: u64 = 100_000;
    let cents = |i: u64| 1 + i % 50_000;
    let mut header = header_for(&[payment(0, 1, OutcomeCode::Executed)]);
    header.payment_count = N;
    header.total = Amount::from_cents((0..N).map(cents).sum()).expect("total");
    let mut w = Writer::new(Vec::new(), &header, SchemaVersion::V1_0_5).expect("header");
    for i in 0..N {
        w.write_payment(&payment(i, cents(i), OutcomeCode::Executed))
            .expect("payment");
    }
    let xml = w.finish().expect("totals agree");
    let mut r = Reader::new(&xml[..]).expect("header");
    assert_eq!(r.header(), &header);
    let mut n = 0;
    while let Some(p) = r.next_payment().expect("payment") {
        assert_eq!(p.amount.cents(), cents(n));
        n += 1;
    }
    assert_eq!(n, N);
}

#[test]
fn the_official_example_decodes_and_re_encodes() {
    let xml = read_spec("examples/FlussoRiversamento.example.xml");
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        assert_valid(&xml, &xsd(v));
    }
    let (h, p) = fdr::decode(&xml).expect("decode");
    assert_eq!(h.flow_id.as_str(), "2021-11-21ABI00000-AABB648200001295");
    assert_eq!(h.flow_id.date(), date("2021-11-21"));
    assert_eq!(h.flow_id.suffix_for("ABI00000"), Some("AABB648200001295"));
    assert_eq!(h.flow_date_time.to_string(), "2021-11-22T00:37:32");
    assert_eq!(h.settlement_ref.as_str(), "Bank transfer SEPA-00000-AABB0");
    assert_eq!(h.settlement_date, date("2021-11-21"));
    assert_eq!(h.sender.id_type, IdentifierType::Bic);
    assert_eq!(h.sender.code.as_str(), "ABI00000");
    assert_eq!(
        h.sender.name.as_ref().map(|n| n.as_str()),
        Some("BANCO DI XXXXXXXX SPA")
    );
    assert_eq!(h.settlement_bank_bic, None);
    assert_eq!(h.receiver.code.as_str(), "77777777777");
    assert_eq!(h.payment_count, 1);
    assert_eq!(h.total.cents(), 123_456);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].iuv.as_str(), "12210209926737900");
    assert_eq!(p[0].iur.as_str(), "2130101502302932577");
    assert_eq!(p[0].transfer_index, Some(1));
    assert_eq!(p[0].amount.cents(), 123_456);
    assert_eq!(p[0].outcome, OutcomeCode::Executed);
    assert_eq!(p[0].outcome_date, date("2021-11-21"));
    for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
        check(&h, &p, v);
    }
}

fn psp() -> PspIdentity {
    PspIdentity {
        id_psp: t("60000000001"),
        id_broker_psp: t("60000000001"),
        id_channel: t("60000000001_01"),
        password: Password::new("s3gr3t0!x").expect("password"),
    }
}

#[test]
fn the_official_request_example_parses_and_re_encodes_valid() {
    let soap_xsd = spec("soap.xsd");
    let xml =
        String::from_utf8(read_spec("examples/nodoInviaFlussoRendicontazione.xml")).expect("UTF-8");
    let req = NodoInviaFlussoRendicontazione::decode(&xml).expect("decode");
    assert_eq!(req.id_psp.as_str(), "60000000001");
    assert_eq!(req.id_channel.as_str(), "15376371009_04");
    assert_eq!(req.id_domain.as_str(), "15376371009");
    assert_eq!(req.password.expose(), "PLACEHOLDER");
    assert_eq!(req.flow_id, "2024-05-2160000000001-17163317305");
    assert_eq!(req.flow_id().expect("flow id").date(), date("2024-05-21"));
    assert_eq!(req.flow_date_time.to_string(), "2024-05-21T01:00:59");
    let debug = format!("{req:?}");
    assert!(!debug.contains("PLACEHOLDER"), "{debug}");
    // The carried flow still holds template placeholders (`${utils.stringGen(14)}`) as IUV:
    // the header reads, the first payment is a typed error.
    let mut flow = req.flow_reader().expect("flow header");
    assert_eq!(flow.header().flow_id.as_str(), req.flow_id);
    assert_eq!(flow.header().total.cents(), 1000);
    match flow.next_payment() {
        Err(FdrError::InvalidField {
            element: "identificativoUnivocoVersamento",
            payment: Some(1),
            reason: FieldError::Iuv(_),
        }) => {}
        other => panic!("{other:?}"),
    }
    let again = req.encode();
    assert_valid(again.as_bytes(), &soap_xsd);
    assert_eq!(
        NodoInviaFlussoRendicontazione::decode(&again).expect("decode again"),
        req
    );
}

#[test]
fn an_encoded_request_validates_and_carries_the_flow() {
    let p: Vec<_> = (0..5u64)
        .map(|i| payment(i, 250 * (i + 1), OutcomeCode::Executed))
        .collect();
    let header = header_for(&p);
    let flow = fdr::encode(&header, &p, SchemaVersion::V1_0_4).expect("flow");
    let req = NodoInviaFlussoRendicontazione::new(&psp(), &header, flow.clone());
    assert_eq!(req.id_domain, header.receiver.code);
    assert_eq!(req.flow_id().expect("id"), header.flow_id);
    let xml = req.encode();
    assert_valid(xml.as_bytes(), &spec("soap.xsd"));
    assert!(!format!("{req:?}").contains("s3gr3t0"));
    let back = NodoInviaFlussoRendicontazione::decode(&xml).expect("decode");
    assert_eq!(back, req);
    assert_eq!(back.flow_xml.as_bytes(), &flow[..]);
    let mut reader = back.flow_reader().expect("flow");
    assert_eq!(reader.header(), &header);
    let decoded: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("payments");
    assert_eq!(decoded, p);
}

#[test]
fn responses_validate_and_round_trip() {
    let soap_xsd = spec("soap.xsd");
    let ok = NodoInviaFlussoRendicontazioneRisposta::ok();
    let xml = ok.encode();
    assert_valid(xml.as_bytes(), &soap_xsd);
    assert_eq!(
        NodoInviaFlussoRendicontazioneRisposta::decode(&xml).expect("ok"),
        ok
    );
    let ko = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body><ns2:nodoInviaFlussoRendicontazioneRisposta xmlns:ns2="http://ws.pagamenti.telematici.gov/">
        <fault><faultCode>PPT_FLUSSO_DUPLICATO</faultCode><faultString>Flusso duplicato</faultString>
          <id>NodoDeiPagamentiSPC</id><description>flusso già presente</description><serial>1</serial></fault>
        <esito>KO</esito>
      </ns2:nodoInviaFlussoRendicontazioneRisposta></soap:Body></soap:Envelope>"#;
    assert_valid(ko.as_bytes(), &soap_xsd);
    let res = NodoInviaFlussoRendicontazioneRisposta::decode(ko).expect("ko");
    let fault = res.result.as_ref().expect_err("KO");
    assert_eq!(fault.fault_code.as_str(), "PPT_FLUSSO_DUPLICATO");
    assert_eq!(fault.description.as_deref(), Some("flusso già presente"));
    let again = res.encode();
    assert_valid(again.as_bytes(), &soap_xsd);
    assert_eq!(
        NodoInviaFlussoRendicontazioneRisposta::decode(&again).expect("again"),
        res
    );
    let no_fault = ko.replace(
        &ko[ko.find("<fault>").expect("fault")..ko.find("<esito>").expect("esito")],
        "",
    );
    assert_eq!(
        NodoInviaFlussoRendicontazioneRisposta::decode(&no_fault).map_err(|e| e.code()),
        Err("SOAP_MISSING_ELEMENT")
    );
    assert_eq!(
        NodoInviaFlussoRendicontazioneRisposta::decode(&xml.replace("OK", "MAYBE"))
            .map_err(|e| e.code()),
        Err("SOAP_INVALID_VALUE")
    );
}

/// Replace the first `from` in an encoded flow; the result must still parse as XML.
fn mutate(xml: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(xml.to_vec()).expect("UTF-8");
    assert!(s.contains(from), "{from} not in document");
    s.replacen(from, to, 1).into_bytes()
}

#[test]
fn inconsistent_or_broken_flows_are_rejected() {
    let p: Vec<_> = (0..3u64)
        .map(|i| payment(i, 1000, OutcomeCode::Executed))
        .collect();
    let xml = encode(&p, SchemaVersion::V1_0_4);
    let code = |doc: &[u8]| fdr::decode(doc).map(|_| ()).map_err(|e| e.code());
    assert_eq!(code(&xml), Ok(()));
    let cases = [
        (
            "<numeroTotalePagamenti>3<",
            "<numeroTotalePagamenti>4<",
            "FDR_COUNT_MISMATCH",
        ),
        (
            "<importoTotalePagamenti>30.00<",
            "<importoTotalePagamenti>30.01<",
            "FDR_TOTAL_MISMATCH",
        ),
        (
            "<codiceEsitoSingoloPagamento>0<",
            "<codiceEsitoSingoloPagamento>5<",
            "FDR_INVALID_FIELD",
        ),
        (
            "<dataEsitoSingoloPagamento>2024-05-20<",
            "<dataEsitoSingoloPagamento>2024-05-32<",
            "FDR_INVALID_FIELD",
        ),
        (
            "<dataRegolamento>2024-05-21<",
            "<dataRegolamento>21/05/2024<",
            "FDR_INVALID_FIELD",
        ),
    ];
    for (from, to, want) in cases {
        let bad = mutate(&xml, from, to);
        // The schema-level mistakes are caught by xmllint too; the totals only by us.
        assert_eq!(code(&bad), Err(want), "{to}");
    }
    for cut in [xml.len() / 3, xml.len() - 25, xml.len() - 3] {
        assert_eq!(code(&xml[..cut]), Err("FDR_TRUNCATED"), "cut at {cut}");
    }
}
