//! Benchmarks of the pure core, each against a baseline measured in the same run.
//!
//! `cargo bench -p pagopa` prints one table. Every figure is the median of several timed rounds.
//!
//! - FdR decode of a 100,000-payment FlussoRiversamento, in MB/s, against `xmllint --stream
//!   --noout` on the same file (goal: faster than xmllint). xmllint's figure includes its process
//!   start and file read, which on a ~30 MB file are a small part of its time; the start-up cost
//!   is measured separately (`xmllint --version`) and reported.
//! - Encode + decode of an activatePaymentNoticeV2 request/response pair per second on one core
//!   (goal ≥ 200,000/s), against the baseline of merely tokenizing the same two envelopes with
//!   quick-xml (the floor any XML-based codec pays).
//! - Scan decodes per second for a QR code, a Poste Data Matrix and a manual entry, against the
//!   baseline of splitting the QR payload on `|`.
//!
//! Set `BENCH_QUICK=1` for a fast smoke run (fewer rounds, smaller inputs).

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pagopa::CheckMode;
use pagopa::scan;

/// Inputs for the benchmarks, built with the crate's own public API.
mod fixtures {
    use pagopa::fdr::{
        self, FlowHeader, IdentifierType, OutcomeCode, Payment, Receiver, SchemaVersion, Sender,
        Text, Writer,
    };
    use pagopa::remittance::FlowId;
    use pagopa::soap::{self, ActivatePaymentNoticeV2Request, ActivatePaymentNoticeV2Response};
    use pagopa::{Amount, Date, DateTime, Iuv};

    /// A Data Matrix codeline with every field filled (256 characters).
    pub const DATA_MATRIX: &str = "codfase=NBPA;183007157000000000321200001630209310000000000138961P100085240950BSCMTT83A12L719RMARIO ROSSI                             TARI 2026 RATA UNICA                                                                                          A";

    fn t<const A: usize, const B: usize>(s: &str) -> Text<A, B> {
        Text::new(s).expect("text")
    }

    /// A realistic flow of `n` payments: 17-digit IUVs, 32-hex IURs as for modello 3, amounts
    /// from 0.01 to 500.00 €, outcome 0, as a PSP sends to one comune for one settlement day.
    pub fn large_flow(n: usize) -> Vec<u8> {
        let day = Date::parse("2026-11-26").expect("date");
        let cents = |i: u64| 1 + (i * 7919) % 50_000;
        let count = n as u64;
        let header = FlowHeader {
            flow_id: FlowId::new(day, "60000000001", "S2026112601").expect("flow id"),
            flow_date_time: DateTime::parse("2026-11-26T18:30:00").expect("date-time"),
            settlement_ref: t("SEPA-TRN-0000000001"),
            settlement_date: day,
            sender: Sender {
                id_type: IdentifierType::LegalPerson,
                code: t("60000000001"),
                name: Some(t("PSP di prova SpA")),
            },
            settlement_bank_bic: Some(t("BCITITMM")),
            receiver: Receiver {
                code: t("02438750586"),
                name: Some(t("Roma Capitale")),
            },
            payment_count: count,
            total: Amount::from_cents((0..count).map(cents).sum()).expect("total"),
        };
        let mut w = Writer::new(Vec::with_capacity(n * 480), &header, SchemaVersion::V1_0_5)
            .expect("header");
        for i in 0..count {
            w.write_payment(&Payment {
                iuv: Iuv::parse(&format!("{:017}", 1_000_000_000_000_000 + i)).expect("iuv"),
                iur: t(&format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
                transfer_index: Some(u8::try_from(i % 5 + 1).expect("1..=5")),
                amount: Amount::from_cents(cents(i)).expect("amount"),
                outcome: OutcomeCode::Executed,
                outcome_date: day,
            })
            .expect("payment");
        }
        w.finish().expect("totals agree")
    }

    fn example(name: &str) -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/specs/pagopa/examples/"
        );
        std::fs::read_to_string(format!("{path}{name}")).expect("official example next to the repo")
    }

    /// The official activatePaymentNoticeV2 example pair (two transfers, metadata, fees).
    pub fn activate_v2_pair() -> (
        ActivatePaymentNoticeV2Request,
        ActivatePaymentNoticeV2Response,
    ) {
        let req = soap::decode(&example("activatePaymentNoticeV2.request.xml")).expect("request");
        let res = soap::decode(&example("activatePaymentNoticeV2.response.xml")).expect("response");
        (req, res)
    }

    pub fn encode_req(m: &ActivatePaymentNoticeV2Request) -> String {
        soap::encode(m)
    }

    pub fn encode_res(m: &ActivatePaymentNoticeV2Response) -> String {
        soap::encode(m)
    }

    pub fn decode_req(xml: &str) -> ActivatePaymentNoticeV2Request {
        soap::decode(xml).expect("decode request")
    }

    pub fn decode_res(xml: &str) -> ActivatePaymentNoticeV2Response {
        soap::decode(xml).expect("decode response")
    }

    /// The baseline: walk every quick-xml event of a document and do nothing with it.
    pub fn tokenize(xml: &str) -> usize {
        let mut r = quick_xml::Reader::from_str(xml);
        let mut n = 0;
        loop {
            match r.read_event().expect("well-formed") {
                quick_xml::events::Event::Eof => return n,
                _ => n += 1,
            }
        }
    }

    /// Decode a whole flow, touching every payment; returns the number of payments.
    pub fn decode_flow(xml: &[u8]) -> usize {
        let mut r = fdr::Reader::new(xml).expect("header");
        let mut n = 0;
        while let Some(p) = r.next_payment().expect("payment") {
            std::hint::black_box(&p);
            n += 1;
        }
        n
    }
}

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

/// Median wall time of `rounds` runs of `f`.
fn median_time(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Operations per second of `op`, from the median of rounds of `n` iterations.
fn rate(n: u64, rounds: usize, mut op: impl FnMut()) -> f64 {
    let t = median_time(rounds, || {
        for _ in 0..n {
            op();
        }
    });
    n as f64 / t.as_secs_f64()
}

fn row(what: &str, value: String, baseline: &str, base_value: String) {
    println!("| {what} | {value} | {baseline} | {base_value} |");
}

fn bench_fdr() {
    let payments = if quick() { 10_000 } else { 100_000 };
    let flow = fixtures::large_flow(payments);
    let mb = flow.len() as f64 / 1e6;
    let dir = std::env::temp_dir().join(format!("pagopa-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("flow.xml");
    std::fs::write(&path, &flow).expect("write flow");

    let rounds = if quick() { 3 } else { 7 };
    let ours = median_time(rounds, || {
        let n = fixtures::decode_flow(black_box(&flow));
        assert_eq!(n, payments);
    });
    let xmllint = |args: &[&str]| {
        median_time(rounds, || {
            let st = Command::new("xmllint")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("xmllint (apt-get install libxml2-utils)");
            assert!(st.success(), "xmllint failed");
        })
    };
    let path_s = path.to_str().expect("utf-8 temp path");
    let theirs = xmllint(&["--stream", "--noout", path_s]);
    let startup = xmllint(&["--version"]);
    let _ = std::fs::remove_dir_all(&dir);

    let ours_mbs = mb / ours.as_secs_f64();
    let theirs_mbs = mb / theirs.as_secs_f64();
    let theirs_net = mb / (theirs.saturating_sub(startup)).as_secs_f64();
    row(
        &format!("FdR decode, {payments} payments ({mb:.1} MB)"),
        format!("{ours_mbs:.0} MB/s ({:.1} ms)", ours.as_secs_f64() * 1e3),
        "`xmllint --stream --noout`",
        format!(
            "{theirs_mbs:.0} MB/s ({:.1} ms; {theirs_net:.0} MB/s without its {:.1} ms start-up) → ours ×{:.1}",
            theirs.as_secs_f64() * 1e3,
            startup.as_secs_f64() * 1e3,
            ours_mbs / theirs_mbs
        ),
    );
}

fn bench_soap() {
    let (req, res) = fixtures::activate_v2_pair();
    let req_xml = fixtures::encode_req(&req);
    let res_xml = fixtures::encode_res(&res);
    let n = if quick() { 2_000 } else { 50_000 };
    let rounds = if quick() { 3 } else { 5 };
    let pairs = rate(n, rounds, || {
        let a = fixtures::encode_req(black_box(&req));
        let b = fixtures::encode_res(black_box(&res));
        black_box(fixtures::decode_req(&a));
        black_box(fixtures::decode_res(&b));
    });
    let tokenize = rate(n, rounds, || {
        black_box(fixtures::tokenize(black_box(&req_xml)));
        black_box(fixtures::tokenize(black_box(&res_xml)));
    });
    row(
        &format!(
            "activatePaymentNoticeV2 encode+decode, request {} B + response {} B",
            req_xml.len(),
            res_xml.len()
        ),
        format!("{pairs:.0} pairs/s"),
        "quick-xml tokenize only, same two envelopes",
        format!(
            "{tokenize:.0} pairs/s (codec costs ×{:.1})",
            tokenize / pairs
        ),
    );
}

fn bench_scan() {
    let qr = "]Q1PAGOPA|002|300715700000000032|00085240950|1500\r\n";
    let dm = fixtures::DATA_MATRIX;
    let n = if quick() { 20_000 } else { 1_000_000 };
    let rounds = if quick() { 3 } else { 5 };
    let split = rate(n, rounds, || {
        black_box(black_box(qr).split('|').count());
    });
    for (what, f) in [
        (
            "scan decode, QR code",
            Box::new(|| {
                black_box(scan::decode(black_box(qr), CheckMode::Strict).is_ok());
            }) as Box<dyn Fn()>,
        ),
        (
            "scan decode, Poste Data Matrix",
            Box::new(|| {
                black_box(scan::decode(black_box(dm), CheckMode::Strict).is_ok());
            }),
        ),
        (
            "manual entry",
            Box::new(|| {
                black_box(
                    scan::manual(
                        black_box("3007 1570 0000 0000 32"),
                        black_box("00085240950"),
                        CheckMode::Strict,
                    )
                    .is_ok(),
                );
            }),
        ),
    ] {
        let r = rate(n, rounds, &*f);
        row(
            what,
            format!("{:.2} M/s", r / 1e6),
            "`str::split('|')` of the QR payload",
            format!("{:.2} M/s", split / 1e6),
        );
    }
}

fn main() {
    println!("| benchmark | result | baseline (same run) | baseline result |");
    println!("| --- | --- | --- | --- |");
    // BENCH_ONLY=scan|soap|fdr runs one group (e.g. under a profiler).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    if run("scan") {
        bench_scan();
    }
    if run("soap") {
        bench_soap();
    }
    if run("fdr") {
        bench_fdr();
    }
}
