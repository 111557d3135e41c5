//! nodo-sim over real loopback HTTP: every scenario and fault class the simulator offers, driven
//! the way a PSP channel drives the Nodo, and every SOAP document it sends validated against the
//! official XSDs with xmllint (one xmllint call per test).
//!
//! The HTTP client is a few lines over `tokio::net::TcpStream` (`Connection: close`, read to
//! EOF), as in the channel adapter's tests: no second HTTP client stack in the build.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nodo_sim::{Catalogue, Config, Simulator};
use pagopa::fault::Primitive;
use pagopa::soap::{
    self, ActivatePaymentNoticeRequest, ActivatePaymentNoticeV2Request, BoundedVec, ExpirationTime,
    IdempotencyKey, Message, NodoResponse, Outcome, OutcomeDetails, OutcomeDetailsV2, Password,
    PaymentChannel, PaymentMethod, PaymentToken, PspIdentity, QrCode, SendPaymentOutcomeRequest,
    SendPaymentOutcomeV2Request, Text35, VerifyPaymentNoticeRequest,
};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CATALOGUE: &str = r#"
[[creditors]]
fiscal_code = "02438750586"
company_name = "Roma Capitale"
office_name = "Dipartimento Risorse Economiche"

[[creditors]]
fiscal_code = "80034390585"
company_name = "Citta' metropolitana di Roma Capitale"

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
service = "MENSA"
description = "Mensa scolastica ottobre"
due_date = "2025-09-30"
debtor = { id = "RSSMRA80A01H501U", name = "Mario Rossi" }
transfers = [{ iban = "IT60X0542811101000000123456", amount = "45.00", remittance = "Mensa", category = "0105108TS" }]
"#;

const ROMA: &str = "02438750586";
const TARI: &str = "301000000000012373";
const MENSA: &str = "302000000000000111";
const TEST_EC: &str = "77777777777";
const KEY: &str = "test-subscription-key";
const MIN: u64 = 60_000;

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client.

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// Why no complete answer arrived.
#[derive(Debug)]
struct Lost(String);

fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?.trim(), 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, Lost> {
    let lost = |e: &dyn std::fmt::Display| Lost(e.to_string());
    let mut s = TcpStream::connect(addr).await.map_err(|e| lost(&e))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.map_err(|e| lost(&e))?;
    s.write_all(body).await.map_err(|e| lost(&e))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| lost(&e))?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Lost(format!("no complete head ({} bytes)", buf.len())))?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Lost(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw = &buf[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        decode_chunked(raw).ok_or_else(|| Lost("truncated chunked body".to_owned()))?
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len.parse().map_err(|e| lost(&e))?;
        if raw.len() < len {
            return Err(Lost(format!("body {} of {len} bytes", raw.len())));
        }
        raw[..len].to_vec()
    } else {
        raw.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).map_err(|e| lost(&e))?,
    })
}

// ---------------------------------------------------------------------------------------------
// A PSP-side client of the simulator that keeps every SOAP document it receives.

struct Psp {
    sim: Simulator,
    documents: Mutex<Vec<String>>,
}

impl Psp {
    async fn start(config: Config) -> Psp {
        Psp {
            sim: Simulator::start(config).await.expect("simulator starts"),
            documents: Mutex::new(Vec::new()),
        }
    }

    fn keep(&self, xml: &str) {
        self.documents.lock().expect("lock").push(xml.to_owned());
    }

    /// POST a SOAP body with the given headers; keeps the answer if it is XML.
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<HttpResponse, Lost> {
        let r = http(self.sim.addr(), "POST", path, headers, body.as_bytes()).await?;
        if r.header("content-type")
            .is_some_and(|c| c.starts_with("text/xml"))
        {
            self.keep(&r.body);
        }
        Ok(r)
    }

    /// A well-formed call: right path, SOAPAction and subscription key.
    async fn call<R: soap::Request>(&self, request: &R) -> Result<NodoResponse, Lost> {
        let action = R::PRIMITIVE.soap_action();
        let r = self
            .post(
                nodo_sim::SOAP_PATH,
                &[
                    ("Content-Type", "text/xml; charset=utf-8"),
                    ("SOAPAction", action),
                    ("Ocp-Apim-Subscription-Key", KEY),
                ],
                &request.encode(),
            )
            .await?;
        assert_eq!(r.status, 200, "{action}: {}", r.body);
        Ok(soap::decode_response(&r.body, R::PRIMITIVE).expect("a readable answer"))
    }

    async fn admin(&self, method: &str, path: &str, body: &str) -> HttpResponse {
        http(
            self.sim.addr(),
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await
        .expect("admin answer")
    }

    /// Validate every kept document with one xmllint call, then stop the simulator.
    async fn finish(self) {
        let docs = std::mem::take(&mut *self.documents.lock().expect("lock"));
        assert!(!docs.is_empty(), "nothing to validate");
        xmllint_all(&docs);
        self.sim.shutdown().await.expect("clean shutdown");
    }
}

fn specs() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/pagopa"
    ))
    .to_path_buf()
}

fn xmllint_all(docs: &[String]) {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nodo-sim-loopback-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let files: Vec<PathBuf> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let f = dir.join(format!("doc{i:03}.xml"));
            std::fs::write(&f, d).expect("write document");
            f
        })
        .collect();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(specs().join("soap.xsd"))
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is required for these tests ({e}): apt-get install libxml2-utils")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "schema validation failed:\n{stderr}");
    assert_eq!(stderr.matches(" validates").count(), docs.len(), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Requests.

fn config() -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        seed: Some(7),
        subscription_keys: vec![KEY.to_owned()],
        catalogue_data: Some(Catalogue::from_toml(CATALOGUE, "test").expect("catalogue")),
        station_timeout_ms: 300,
        ..Config::default()
    }
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

fn cents(c: u64) -> Amount {
    Amount::from_cents(c).expect("amount")
}

fn key(suffix: &str) -> IdempotencyKey {
    IdempotencyKey::new("70000000001", suffix).expect("key")
}

fn verify(fc: &str, notice: &str) -> VerifyPaymentNoticeRequest {
    VerifyPaymentNoticeRequest {
        psp: psp(),
        qr_code: qr(fc, notice),
    }
}

fn activate(
    fc: &str,
    notice: &str,
    amount: u64,
    k: &str,
    ms: Option<u32>,
) -> ActivatePaymentNoticeRequest {
    ActivatePaymentNoticeRequest {
        psp: psp(),
        idempotency_key: Some(key(k)),
        qr_code: qr(fc, notice),
        expiration_time: ms.map(|ms| ExpirationTime::from_millis(ms).expect("ms")),
        amount: cents(amount),
        due_date: None,
        payment_note: None,
    }
}

fn details() -> OutcomeDetails {
    OutcomeDetails {
        payment_method: PaymentMethod::Cash,
        payment_channel: Some(PaymentChannel::FrontOffice),
        fee: cents(100),
        payer: None,
        application_date: Date::new(2025, 6, 15).expect("date"),
        transfer_date: Date::new(2025, 6, 16).expect("date"),
    }
}

fn outcome(token: &str, ok: bool, k: &str) -> SendPaymentOutcomeRequest {
    SendPaymentOutcomeRequest {
        psp: psp(),
        idempotency_key: Some(key(k)),
        payment_token: PaymentToken::new(token).expect("token"),
        outcome: if ok { Outcome::Ok } else { Outcome::Ko },
        details: ok.then(details),
    }
}

fn fault(r: &NodoResponse) -> Option<String> {
    r.fault().map(|f| f.fault_code.as_str().to_owned())
}

fn original(r: &NodoResponse) -> Option<String> {
    r.fault()
        .and_then(|f| f.original_fault_code.as_ref())
        .map(|c| c.as_str().to_owned())
}

fn token(r: &NodoResponse) -> String {
    match r {
        NodoResponse::ActivatePaymentNotice(a) => {
            a.result.as_ref().map(|p| p.payment_token.to_string())
        }
        NodoResponse::ActivatePaymentNoticeV2(a) => {
            a.result.as_ref().map(|p| p.payment_token.to_string())
        }
        other => panic!("not an activation: {other:?}"),
    }
    .unwrap_or_else(|f| panic!("activation refused: {f:?}"))
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn the_receipt_listing_keeps_the_most_recent() {
    let p = Psp::start(Config {
        max_receipts: 2,
        ..config()
    })
    .await;
    for (i, notice) in [
        "302000000000000021",
        "302000000000000022",
        "302000000000000023",
    ]
    .into_iter()
    .enumerate()
    {
        let a = p
            .call(&activate(
                "77777777777",
                notice,
                12_000,
                &format!("aaaaaaaa{i}1"),
                None,
            ))
            .await
            .expect("answer");
        let o = p
            .call(&outcome(&token(&a), true, &format!("oooooooo{i}1")))
            .await
            .expect("answer");
        assert_eq!(fault(&o), None);
    }
    let seqs = |v: serde_json::Value| -> Vec<u64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|r| r["seq"].as_u64().expect("seq"))
            .collect()
    };
    assert_eq!(
        seqs(p.admin("GET", "/admin/receipts", "").await.json()),
        [2, 3]
    );
    // A poller that had seen only the first gets what is left; one that had seen the second,
    // the third.
    assert_eq!(
        seqs(p.admin("GET", "/admin/receipts?since=1", "").await.json()),
        [2, 3]
    );
    assert_eq!(
        seqs(p.admin("GET", "/admin/receipts?since=2", "").await.json()),
        [3]
    );
    assert!(seqs(p.admin("GET", "/admin/receipts?since=3", "").await.json()).is_empty());
    assert_eq!(p.sim.receipts_produced(), 3);
}

#[tokio::test]
async fn v1_payment_end_to_end_with_receipt() {
    let p = Psp::start(config()).await;
    let v = p.call(&verify(ROMA, TARI)).await.expect("answer");
    assert_eq!(fault(&v), None);
    let a = p
        .call(&activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None))
        .await
        .expect("answer");
    let t = token(&a);
    assert_eq!(t.len(), 32);
    let o = p
        .call(&outcome(&t, true, "ooooooooo1"))
        .await
        .expect("answer");
    assert_eq!(fault(&o), None);
    assert_eq!(
        fault(&p.call(&verify(ROMA, TARI)).await.expect("answer")).as_deref(),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );

    let receipts = p.admin("GET", "/admin/receipts", "").await.json();
    let list = receipts.as_array().expect("array");
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r["receipt_id"], t.as_str());
    assert_eq!(r["payment_amount"], "199.50");
    assert_eq!(r["fdr_code"], 0);
    assert_eq!(r["late"], false);
    assert_eq!(r["station"]["id_pa"], ROMA);
    assert_eq!(r["transfers"][1]["fiscal_code_pa"], "80034390585");
    let xml = r["pa_send_rt_v2"].as_str().expect("receipt XML");
    let sent: soap::pa::PaSendRtV2Request = soap::decode(xml).expect("paSendRTV2 decodes");
    assert_eq!(sent.receipt.receipt_id.as_str(), t);
    p.keep(xml);
    assert_eq!(
        p.admin("GET", "/admin/receipts?since=1", "").await.json(),
        serde_json::json!([])
    );

    let paid = p.admin("GET", "/admin/notices?state=paid", "").await.json();
    assert_eq!(paid[0]["notice_number"], TARI);
    p.finish().await;
}

#[tokio::test]
async fn v2_activation_and_outcome_with_two_tokens() {
    let p = Psp::start(config()).await;
    let activate_v2 = |notice: &str, amount: u64, k: &str| ActivatePaymentNoticeV2Request {
        base: activate(ROMA, notice, amount, k, Some(600_000)),
        payment_method: Some(soap::FeePaymentMethod::Po),
        touch_point: Some(soap::TouchPoint::Atm),
    };
    let a = p
        .call(&activate_v2(TARI, 19_950, "aaaaaaaaa1"))
        .await
        .expect("answer");
    let b = p
        .call(&activate_v2(MENSA, 4_500, "aaaaaaaaa2"))
        .await
        .expect("answer");
    let (ta, tb) = (token(&a), token(&b));
    let req = SendPaymentOutcomeV2Request {
        psp: psp(),
        idempotency_key: Some(key("ooooooooo1")),
        payment_tokens: BoundedVec::new(vec![
            PaymentToken::new(&ta).expect("token"),
            PaymentToken::new(&tb).expect("token"),
        ])
        .expect("two tokens"),
        outcome: Outcome::Ok,
        details: Some(OutcomeDetailsV2 {
            payment_method: PaymentMethod::CreditCard,
            payment_channel: Some(PaymentChannel::Atm),
            fee: cents(200),
            primary_ci_incurred_fee: None,
            id_bundle: None,
            id_ci_bundle: None,
            payer: None,
            application_date: Date::new(2025, 6, 15).expect("date"),
            transfer_date: Date::new(2025, 6, 16).expect("date"),
            digital_stamps: None,
        }),
    };
    let o = p.call(&req).await.expect("answer");
    assert!(matches!(o, NodoResponse::SendPaymentOutcomeV2(_)));
    assert_eq!(fault(&o), None);
    let receipts = p.admin("GET", "/admin/receipts", "").await.json();
    let ids: Vec<&str> = receipts
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["receipt_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [ta.as_str(), tb.as_str()]);
    assert_eq!(receipts[0]["fee"], "2.00");
    assert_eq!(receipts[1]["fee"], "0.00");
    for r in receipts.as_array().expect("array") {
        p.keep(r["pa_send_rt_v2"].as_str().expect("xml"));
    }
    p.finish().await;
}

#[tokio::test]
async fn idempotency_both_ways_and_in_progress() {
    let p = Psp::start(config()).await;
    let req = activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None);
    let first = p.call(&req).await.expect("answer");
    assert_eq!(
        p.call(&req).await.expect("answer"),
        first,
        "same key and body: same answer"
    );
    let other_body = activate(ROMA, MENSA, 4_500, "aaaaaaaaa1", None);
    assert_eq!(
        fault(&p.call(&other_body).await.expect("answer")).as_deref(),
        Some("PPT_ERRORE_IDEMPOTENZA")
    );
    let other_key = activate(ROMA, TARI, 19_950, "bbbbbbbbb1", None);
    assert_eq!(
        fault(&p.call(&other_key).await.expect("answer")).as_deref(),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    assert_eq!(
        fault(&p.call(&verify(ROMA, TARI)).await.expect("answer")).as_deref(),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    let amount = activate(ROMA, MENSA, 4_000, "ccccccccc1", None);
    let r = p.call(&amount).await.expect("answer");
    assert_eq!(fault(&r).as_deref(), Some("PPT_ERRORE_EMESSO_DA_PAA"));
    assert_eq!(
        original(&r).as_deref(),
        Some("PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO")
    );

    let t = token(&first);
    let out = outcome(&t, true, "ooooooooo1");
    let ok = p.call(&out).await.expect("answer");
    assert_eq!(p.call(&out).await.expect("answer"), ok, "outcome replayed");
    let changed = outcome(&t, false, "ooooooooo1");
    assert_eq!(
        fault(&p.call(&changed).await.expect("answer")).as_deref(),
        Some("PPT_ERRORE_IDEMPOTENZA")
    );
    let new_key = outcome(&t, true, "ooooooooo2");
    assert_eq!(
        fault(&p.call(&new_key).await.expect("answer")).as_deref(),
        Some("PPT_ESITO_GIA_ACQUISITO")
    );
    assert_eq!(
        fault(&p.call(&other_key).await.expect("answer")).as_deref(),
        Some("PPT_PAGAMENTO_DUPLICATO")
    );
    let unknown = outcome("0123456789abcdef0123456789abcdef", true, "ooooooooo3");
    assert_eq!(
        fault(&p.call(&unknown).await.expect("answer")).as_deref(),
        Some("PPT_TOKEN_SCONOSCIUTO")
    );
    assert_eq!(p.sim.receipts().len(), 1);
    p.finish().await;
}

#[tokio::test]
async fn late_outcomes_after_the_clock_moves() {
    let p = Psp::start(config()).await;
    // OK after expiry: accepted with PPT_TOKEN_SCADUTO, receipt flagged for FdR code 9.
    let t = token(
        &p.call(&activate(ROMA, TARI, 19_950, "aaaaaaaaa1", Some(60_000)))
            .await
            .expect("answer"),
    );
    let clock = p
        .admin("POST", "/admin/clock/advance", r#"{"ms": 120000}"#)
        .await;
    assert_eq!(clock.status, 200);
    assert_eq!(clock.json()["offset_ms"], 120_000);
    let r = p
        .call(&outcome(&t, true, "ooooooooo1"))
        .await
        .expect("answer");
    assert_eq!(fault(&r).as_deref(), Some("PPT_TOKEN_SCADUTO"));
    let receipts = p.admin("GET", "/admin/receipts", "").await.json();
    assert_eq!(receipts[0]["late"], true);
    assert_eq!(receipts[0]["fdr_code"], 9);

    // KO after expiry.
    let t = token(
        &p.call(&activate(ROMA, MENSA, 4_500, "aaaaaaaaa2", Some(60_000)))
            .await
            .expect("answer"),
    );
    p.sim.advance_clock(2 * MIN);
    let r = p
        .call(&outcome(&t, false, "ooooooooo2"))
        .await
        .expect("answer");
    assert_eq!(fault(&r).as_deref(), Some("PPT_TOKEN_SCADUTO_KO"));

    // OK after expiry, but someone else paid meanwhile: refund.
    let a = token(
        &p.call(&activate(ROMA, MENSA, 4_500, "aaaaaaaaa3", Some(60_000)))
            .await
            .expect("answer"),
    );
    p.sim.advance_clock(2 * MIN);
    let b = token(
        &p.call(&activate(ROMA, MENSA, 4_500, "aaaaaaaaa4", None))
            .await
            .expect("answer"),
    );
    assert_eq!(
        fault(
            &p.call(&outcome(&b, true, "ooooooooo3"))
                .await
                .expect("answer")
        ),
        None
    );
    let r = p
        .call(&outcome(&a, true, "ooooooooo4"))
        .await
        .expect("answer");
    assert_eq!(fault(&r).as_deref(), Some("PPT_PAGAMENTO_DUPLICATO"));
    p.finish().await;
}

#[tokio::test]
async fn subscription_key_and_caller_identity_are_checked() {
    let p = Psp::start(config()).await;
    let body = verify(ROMA, TARI).encode();
    let action = ("SOAPAction", "verifyPaymentNotice");
    let r = p.post("/", &[action], &body).await.expect("answer");
    assert_eq!(r.status, 401);
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing subscription key"))
    );
    let r = p
        .post(
            "/",
            &[action, ("Ocp-Apim-Subscription-Key", "wrong")],
            &body,
        )
        .await
        .expect("answer");
    assert_eq!(r.status, 401);
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid subscription key"))
    );
    let r = p
        .post(&format!("/?subscription-key={KEY}"), &[action], &body)
        .await
        .expect("answer");
    assert_eq!(
        r.status, 200,
        "the key may travel in the query, as APIM allows"
    );

    let mut bad = verify(ROMA, TARI);
    bad.psp.password = Password::new("wrongpass").expect("password");
    assert_eq!(
        fault(&p.call(&bad).await.expect("answer")).as_deref(),
        Some("PPT_AUTENTICAZIONE")
    );
    let mut bad = verify(ROMA, TARI);
    bad.psp.id_psp = Text35::new("99999999999").expect("psp");
    assert_eq!(
        fault(&p.call(&bad).await.expect("answer")).as_deref(),
        Some("PPT_PSP_SCONOSCIUTO")
    );
    let mut bad = verify(ROMA, TARI);
    bad.psp.id_broker_psp = Text35::new("99999999999").expect("broker");
    assert_eq!(
        fault(&p.call(&bad).await.expect("answer")).as_deref(),
        Some("PPT_INTERMEDIARIO_PSP_SCONOSCIUTO")
    );
    let mut bad = verify(ROMA, TARI);
    bad.psp.id_channel = Text35::new("70000000001_99").expect("channel");
    assert_eq!(
        fault(&p.call(&bad).await.expect("answer")).as_deref(),
        Some("PPT_CANALE_SCONOSCIUTO")
    );
    p.finish().await;
}

#[tokio::test]
async fn malformed_requests_and_wrong_soap_actions() {
    let p = Psp::start(config()).await;
    let auth = ("Ocp-Apim-Subscription-Key", KEY);
    let body = verify(ROMA, TARI).encode();

    // Wrong SOAPAction for the body.
    let r = p
        .post(
            nodo_sim::SOAP_PATH,
            &[auth, ("SOAPAction", "activatePaymentNotice")],
            &body,
        )
        .await
        .expect("answer");
    let res =
        soap::decode_response(&r.body, Primitive::VerifyPaymentNotice).expect("verify response");
    assert_eq!(fault(&res).as_deref(), Some("PPT_SOAPACTION_ERRATA"));
    // No SOAPAction at all.
    let r = p
        .post(nodo_sim::SOAP_PATH, &[auth], &body)
        .await
        .expect("answer");
    let res =
        soap::decode_response(&r.body, Primitive::VerifyPaymentNotice).expect("verify response");
    assert_eq!(fault(&res).as_deref(), Some("PPT_SOAPACTION_ERRATA"));
    // The action in the query string, as on the APIM URL; quotes in the header; other paths.
    let r = p
        .post(
            &format!("{}?soapAction=verifyPaymentNotice", nodo_sim::SOAP_PATH),
            &[auth],
            &body,
        )
        .await
        .expect("answer");
    assert_eq!(
        fault(&soap::decode_response(&r.body, Primitive::VerifyPaymentNotice).expect("ok")),
        None
    );
    for path in ["/", "/nodo-auth/node-for-psp/v1"] {
        let r = p
            .post(
                path,
                &[auth, ("SOAPAction", "\"verifyPaymentNotice\"")],
                &body,
            )
            .await
            .expect("answer");
        assert_eq!(
            fault(&soap::decode_response(&r.body, Primitive::VerifyPaymentNotice).expect("ok")),
            None
        );
    }

    // Not XML, with a known action: KO in that action's response.
    let action = ("SOAPAction", "activatePaymentNotice");
    let r = p
        .post("/", &[auth, action], "<html>oops")
        .await
        .expect("answer");
    assert_eq!(r.status, 200);
    let res = soap::decode_response(&r.body, Primitive::ActivatePaymentNotice)
        .expect("activate response");
    assert_eq!(fault(&res).as_deref(), Some("PPT_SINTASSI_EXTRAXSD"));
    // A schema violation (amount without decimals).
    let broken = activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None)
        .encode()
        .replace("<amount>199.50</amount>", "<amount>199.5</amount>");
    let r = p.post("/", &[auth, action], &broken).await.expect("answer");
    let res = soap::decode_response(&r.body, Primitive::ActivatePaymentNotice)
        .expect("activate response");
    assert_eq!(fault(&res).as_deref(), Some("PPT_SINTASSI_EXTRAXSD"));
    // Not UTF-8.
    let r = http(
        p.sim.addr(),
        "POST",
        "/",
        &[auth, action],
        &[0xff, 0xfe, 0x00],
    )
    .await
    .expect("answer");
    p.keep(&r.body);
    let res = soap::decode_response(&r.body, Primitive::ActivatePaymentNotice)
        .expect("activate response");
    assert_eq!(fault(&res).as_deref(), Some("PPT_SINTASSI_EXTRAXSD"));
    // Garbage and no usable action: a SOAP Fault with the fault bean in its detail.
    let r = p
        .post("/", &[auth, ("SOAPAction", "nonsense")], "garbage")
        .await
        .expect("answer");
    assert_eq!(r.status, 500);
    let f = soap::SoapFault::decode(&r.body).expect("a SOAP Fault");
    assert_eq!(f.code, soap::SoapFaultCode::Client);
    assert_eq!(
        f.detail
            .map(|d| d.fault_code.as_str().to_owned())
            .as_deref(),
        Some("PPT_SINTASSI_EXTRAXSD")
    );
    p.finish().await;
}

#[tokio::test]
async fn creditor_scenarios() {
    let p = Psp::start(config()).await;
    let cases = [
        (
            "302970000000000001",
            "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            None,
        ),
        (
            "302990000000000001",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_SCADUTO"),
        ),
        (
            "302960000000000001",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_ANNULLATO"),
        ),
        (
            "302950000000000001",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_DUPLICATO"),
        ),
        (
            "302420000000000001",
            "PPT_ERRORE_EMESSO_DA_PAA",
            Some("PAA_PAGAMENTO_SCONOSCIUTO"),
        ),
    ];
    for (notice, code, orig) in cases {
        let v = p.call(&verify(TEST_EC, notice)).await.expect("answer");
        assert_eq!(fault(&v).as_deref(), Some(code), "verify {notice}");
        assert_eq!(original(&v).as_deref(), orig);
        let a = p
            .call(&activate(TEST_EC, notice, 10_000, "aaaaaaaaa1", None))
            .await
            .expect("answer");
        assert_eq!(fault(&a).as_deref(), Some(code), "activate {notice}");
    }
    let started = Instant::now();
    let v = p
        .call(&verify(TEST_EC, "302980000000000001"))
        .await
        .expect("answer");
    assert_eq!(fault(&v).as_deref(), Some("PPT_STAZIONE_INT_PA_TIMEOUT"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited the station timeout"
    );
    let v = p.call(&verify("01199250158", TARI)).await.expect("answer");
    assert_eq!(fault(&v).as_deref(), Some("PPT_DOMINIO_SCONOSCIUTO"));

    // A payable scenario, then the "any amount" one.
    let a = p
        .call(&activate(
            TEST_EC,
            "302040000000000001",
            12_000,
            "aaaaaaaaa2",
            None,
        ))
        .await
        .expect("answer");
    let NodoResponse::ActivatePaymentNotice(res) = &a else {
        panic!("{a:?}")
    };
    assert_eq!(res.result.as_ref().map(|r| r.transfers.len()).ok(), Some(3));
    let any = p
        .call(&verify(TEST_EC, "302070000987600001"))
        .await
        .expect("answer");
    let NodoResponse::VerifyPaymentNotice(res) = &any else {
        panic!("{any:?}")
    };
    assert_eq!(
        res.result
            .as_ref()
            .map(|r| r.payment_options[0].amount.get())
            .ok(),
        Some(cents(9_876))
    );

    let listed = p.admin("GET", "/admin/scenarios", "").await.json();
    let list = listed.as_array().expect("array");
    assert!(list.len() >= 10);
    for s in list {
        let n = s["notice_number"].as_str().expect("number");
        assert!(NoticeNumber::parse(n, CheckMode::Strict).is_ok(), "{n}");
    }
    assert_eq!(list[0]["amount"], "120.00");
    assert!(
        list[0]["qr_code"]
            .as_str()
            .is_some_and(|q| q.ends_with("|12000"))
    );
    p.finish().await;
}

#[tokio::test]
async fn injected_latency_and_http_5xx() {
    let mut c = config();
    // Faults from the configuration: every verify is slow.
    c.faults =
        serde_json::from_str(r#"{"verifyPaymentNotice": {"latency_ms": 250}}"#).expect("plan");
    let p = Psp::start(c).await;
    let started = Instant::now();
    assert_eq!(
        fault(&p.call(&verify(ROMA, TARI)).await.expect("answer")),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    let faults = p.admin("GET", "/admin/faults", "").await.json();
    assert_eq!(faults["verifyPaymentNotice"]["latency_ms"], 250);

    // At runtime: the next activation meets a 502 from the gateway, and nothing is committed.
    let put = p
        .admin(
            "PUT",
            "/admin/faults",
            r#"{"activatePaymentNotice": {"http_5xx": {"count": 1}, "http_status": 502}}"#,
        )
        .await;
    assert_eq!(put.status, 200);
    let req = activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None);
    let r = p
        .post(
            "/",
            &[
                ("SOAPAction", "activatePaymentNotice"),
                ("Ocp-Apim-Subscription-Key", KEY),
            ],
            &req.encode(),
        )
        .await
        .expect("an HTTP answer");
    assert_eq!(r.status, 502);
    assert_eq!(
        fault(&p.call(&verify(ROMA, TARI)).await.expect("answer")),
        None,
        "not locked"
    );
    let now = p.admin("GET", "/admin/faults", "").await.json();
    assert!(
        now.get("verifyPaymentNotice").is_none(),
        "the runtime plan replaced the configured one: {now}"
    );
    assert_eq!(
        fault(&p.call(&req).await.expect("answer")),
        None,
        "the retry goes through"
    );

    let bad = p
        .admin(
            "PUT",
            "/admin/faults",
            r#"{"activatePaymentNotice": {"http_status": 200}}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "ADMIN_BAD_FAULTS");
    assert_eq!(
        p.admin("DELETE", "/admin/faults", "").await.json(),
        serde_json::json!({})
    );
    // Reset restores the configured plan.
    p.admin("POST", "/admin/reset", "").await;
    assert_eq!(
        p.admin("GET", "/admin/faults", "").await.json()["verifyPaymentNotice"]["latency_ms"],
        250
    );
    p.finish().await;
}

#[tokio::test]
async fn answers_dropped_after_commit_are_recovered_by_idempotency() {
    let p = Psp::start(config()).await;
    let put = p
        .admin(
            "PUT",
            "/admin/faults",
            r#"{"activatePaymentNotice": {"drop_after_commit": {"count": 1}},
                "sendPaymentOutcome": {"drop_after_commit": {"count": 1}}}"#,
        )
        .await;
    assert_eq!(put.status, 200);
    let req = activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None);
    match p.call(&req).await {
        Err(Lost(why)) => println!("first activation answer lost: {why}"),
        Ok(r) => panic!("the first answer should be lost: {r:?}"),
    }
    // The activation was committed: the notice is locked...
    assert_eq!(
        fault(&p.call(&verify(ROMA, TARI)).await.expect("answer")).as_deref(),
        Some("PPT_PAGAMENTO_IN_CORSO")
    );
    // ...and the retry with the same key gets the original answer.
    let t = token(&p.call(&req).await.expect("answer"));
    let out = outcome(&t, true, "ooooooooo1");
    assert!(
        p.call(&out).await.is_err(),
        "the outcome's answer is lost too"
    );
    assert_eq!(p.sim.receipts().len(), 1, "but the outcome was committed");
    assert_eq!(
        fault(&p.call(&out).await.expect("answer")),
        None,
        "the retry gets the original OK"
    );
    assert_eq!(p.sim.receipts().len(), 1, "and produces no second receipt");
    p.finish().await;
}

#[tokio::test]
async fn admin_listing_reset_and_clock() {
    let p = Psp::start(config()).await;
    let all = p.admin("GET", "/admin/notices", "").await.json();
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert_eq!(all[0]["amount"], "199.50");
    assert_eq!(all[0]["state"], "open");
    assert_eq!(all[0]["qr_code"], format!("PAGOPA|002|{TARI}|{ROMA}|19950"));
    let mensa = p
        .admin("GET", "/admin/notices?service=mensa", "")
        .await
        .json();
    assert_eq!(mensa[0]["notice_number"], MENSA);
    let t = token(
        &p.call(&activate(ROMA, TARI, 19_950, "aaaaaaaaa1", None))
            .await
            .expect("answer"),
    );
    let busy = p
        .admin("GET", "/admin/notices?state=in_progress", "")
        .await
        .json();
    assert_eq!(busy[0]["notice_number"], TARI);
    p.call(&outcome(&t, true, "ooooooooo1"))
        .await
        .expect("answer");
    assert_eq!(p.sim.receipts().len(), 1);

    let clock = p.admin("GET", "/admin/clock", "").await.json();
    assert_eq!(clock["offset_ms"], 0);
    let bad = p
        .admin("POST", "/admin/clock/advance", r#"{"seconds": 1}"#)
        .await;
    assert_eq!(bad.status, 400);
    p.admin("POST", "/admin/clock/advance", r#"{"ms": 5000}"#)
        .await;
    let reset = p.admin("POST", "/admin/reset", "").await;
    assert_eq!(reset.status, 200);
    assert!(p.sim.receipts().is_empty());
    assert_eq!(
        p.admin("GET", "/admin/clock", "").await.json()["offset_ms"],
        0
    );
    assert_eq!(
        p.admin("GET", "/admin/notices?state=open", "")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(p.admin("GET", "/health", "").await.body, "ok");
    p.finish().await;
}

#[tokio::test]
async fn the_demo_catalogue_offers_payable_notices() {
    let mut c = config();
    c.catalogue_data = None;
    c.demo_reference_date = Some("2025-03-01".to_owned());
    let p = Psp::start(c).await;
    let open = p
        .admin("GET", "/admin/notices?state=open&service=IMU&limit=3", "")
        .await
        .json();
    let list = open.as_array().expect("array");
    assert_eq!(list.len(), 3);
    for (i, n) in list.iter().enumerate() {
        let fc = n["fiscal_code"].as_str().expect("fc");
        let nn = n["notice_number"].as_str().expect("notice");
        let amount = n["amount_cents"].as_u64().expect("cents");
        let v = p.call(&verify(fc, nn)).await.expect("answer");
        assert_eq!(fault(&v), None, "{n}");
        let a = p
            .call(&activate(fc, nn, amount, &format!("demo00000{i}"), None))
            .await
            .expect("answer");
        let o = p
            .call(&outcome(&token(&a), true, &format!("outc00000{i}")))
            .await
            .expect("answer");
        assert_eq!(fault(&o), None);
    }
    for r in p
        .admin("GET", "/admin/receipts", "")
        .await
        .json()
        .as_array()
        .expect("array")
    {
        p.keep(r["pa_send_rt_v2"].as_str().expect("xml"));
    }
    p.finish().await;
}
