//! Shared test harness: the real channel adapter (in-process, SQLite, its own SOAP client) in
//! front of the real Nodo simulator (in-process HTTP server), a switch that makes the adapter
//! unreachable, an adapter without a Nodo (plain or TLS) for the fleet tests, agent
//! configurations, a small HTTP/1.1 client for the agent's local API, and the steps of a
//! payment through that API (login, scan, confirm, pay by card or cash) and a deadline poll,
//! so that each test file says only what it checks.
//! Everything between the agent, the adapter and the Nodo is real HTTP on loopback.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use channel_adapter::ambient::{Clock as _, OsRandom, SystemClock};
use channel_adapter::nodo::NodoClient;
use channel_api::DeviceKind;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kiosk-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A payable notice of the demo catalogue.
#[derive(Debug, Clone)]
pub struct SampleNotice {
    pub notice_number: String,
    pub fiscal_code: String,
    pub amount_cents: u64,
}

impl SampleNotice {
    pub fn qr(&self) -> String {
        format!(
            "PAGOPA|002|{}|{}|{}",
            self.notice_number, self.fiscal_code, self.amount_cents
        )
    }
}

/// The adapter, the Nodo, and the switch.
pub struct Backend {
    pub addr: SocketAddr,
    pub kiosk_credential: String,
    pub counter_credential: String,
    pub down: Arc<AtomicBool>,
    pub notices: Vec<SampleNotice>,
    pub store: Arc<channel_adapter::store::Store>,
    pub nodo: nodo_sim::Simulator,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl Backend {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Make the adapter unreachable (a 503 without the catalogue's body, as a proxy would) or
    /// reachable again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

const ADAPTER_TOML: &str = r#"
listen = "127.0.0.1:0"
store_path = "STORE"
check_digits = "lenient"

[psp]
id_psp = "70000000001"
id_broker_psp = "70000000001"
id_channel = "70000000001_01"
password = "pwdpwdpwd"
subscription_key = "nodo-sim-key"
fiscal_code = "70000000001"

[nodo]
url = "NODO_URL"
primitives = "v2"
token_lifetime_secs = 600

[fees.kiosk]
card = 120

[fees.counter]
card = 100
cash = [{ up_to_cents = 5000, fee_cents = 100 }, { fee_cents = 150 }]
"#;

/// The adapter's test configuration: its store at `store`, the Nodo at `nodo_url`.
pub fn adapter_config(store: &Path, nodo_url: &str) -> channel_adapter::config::Config {
    let text = ADAPTER_TOML
        .replace("STORE", &store.display().to_string())
        .replace("NODO_URL", nodo_url);
    channel_adapter::config::Config::from_toml(&text, Vec::<(String, String)>::new())
        .expect("adapter config")
}

/// The adapter's test certificate material.
pub fn adapter_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../channel-adapter/tests/fixtures")
        .join(name)
}

/// An adapter without a Nodo (enrollment, device and admin routes only) on a free loopback
/// port, its store in `dir`; with `tls`, it serves HTTPS with its test certificate for
/// `localhost`, signed by its test CA. Where it listens, its store, and its task.
pub async fn adapter_without_nodo(
    dir: &TempDir,
    tls: bool,
) -> (
    SocketAddr,
    Arc<channel_adapter::store::Store>,
    tokio::task::JoinHandle<()>,
) {
    let store_path = dir.join("adapter.db");
    let config = adapter_config(&store_path, "http://127.0.0.1:9/nodo");
    let store = Arc::new(channel_adapter::store::Store::open(&store_path).expect("store"));
    let state = channel_adapter::app_state(
        Arc::new(config),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        None,
    );
    let tls = tls.then(|| {
        channel_adapter::server::load_tls(
            &adapter_fixture("server.pem"),
            &adapter_fixture("server.key"),
        )
        .expect("test certificate")
    });
    let bound = channel_adapter::server::Bound::bind("127.0.0.1:0".parse().expect("addr"), tls)
        .await
        .expect("bind");
    let addr = bound.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = bound
            .serve(channel_adapter::api::router(state), std::future::pending())
            .await;
    });
    (addr, store, task)
}

/// Start the Nodo simulator and the adapter on free loopback ports.
pub async fn backend() -> Backend {
    backend_with(20, 5000, false).await
}

/// [`backend`] offering up to `count` open notices of less than `below_cents` each; with
/// `outbox`, the adapter's outbox worker also runs, so outcomes and offline payments reach the
/// Nodo and payments end in a final state.
pub async fn backend_with(count: usize, below_cents: u64, outbox: bool) -> Backend {
    let today = pagopa::Date::from_days_since_epoch((now_ms() / 86_400_000) as i64).expect("today");
    let catalogue = nodo_sim::demo::catalogue(7, today).expect("catalogue");
    let notices: Vec<SampleNotice> = catalogue
        .notices()
        .iter()
        .filter(|n| n.notice.status == nodo_sim::catalogue::NoticeStatus::Open)
        .filter(|n| n.notice.amount().cents() < below_cents)
        .take(count)
        .map(|n| SampleNotice {
            notice_number: n.notice_number.as_str().to_owned(),
            fiscal_code: n.creditor.as_str().to_owned(),
            amount_cents: n.notice.amount().cents(),
        })
        .collect();
    assert!(notices.len() >= 5, "the demo catalogue has open notices");
    let sim_config = nodo_sim::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        seed: Some(7),
        catalogue_data: Some(catalogue),
        ..nodo_sim::Config::default()
    };
    let nodo = nodo_sim::Simulator::start(sim_config)
        .await
        .expect("nodo-sim starts");

    let dir = TempDir::new("adapter");
    let store_path = dir.join("adapter.db");
    let config = Arc::new(adapter_config(&store_path, &nodo.endpoint()));
    let store = Arc::new(channel_adapter::store::Store::open(&store_path).expect("store"));
    let now = SystemClock.now();
    let kiosk = channel_adapter::devices::add(
        &store,
        "test-kiosk",
        "00085240950",
        DeviceKind::Kiosk,
        &OsRandom,
        now,
    )
    .expect("kiosk device");
    let counter = channel_adapter::devices::add(
        &store,
        "test-counter",
        "00085240950",
        DeviceKind::Counter,
        &OsRandom,
        now,
    )
    .expect("counter device");
    let client: Arc<dyn NodoClient> = Arc::new(
        channel_adapter::nodo::http::HttpNodoClient::from_config(&config).expect("nodo client"),
    );
    let state = channel_adapter::app_state(
        config,
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Some(client),
    );
    let down = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&down);
    let worker = state.clone();
    let app = channel_adapter::api::router(state).layer(middleware::from_fn(
        move |req: Request, next: Next| {
            let switch = Arc::clone(&switch);
            async move {
                if switch.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "upstream down")
                        .into_response();
                }
                next.run(req).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let serve = async {
            let _ = axum::serve(listener, app).await;
        };
        if outbox {
            let pending = std::future::pending::<()>();
            tokio::join!(serve, channel_adapter::outbox::run(worker, pending));
        } else {
            serve.await;
        }
    });
    Backend {
        addr,
        kiosk_credential: kiosk.credential,
        counter_credential: counter.credential,
        down,
        notices,
        store,
        nodo,
        task,
        _dir: dir,
    }
}

/// A PIN hash made once (Argon2 is slow in debug builds).
pub fn pin_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| kiosk::auth::hash_pin("2468").expect("hash"))
}

/// An agent configuration with simulated devices.
pub fn agent_toml(mode: &str, url: &str, credential: &str, journal: &Path) -> String {
    format!(
        r#"
mode = "{mode}"
name = "test-{mode}"
listen = "127.0.0.1:0"
journal_path = "{journal}"
check_digits = "lenient"
location = "Via del Tritone 142, Roma"

[adapter]
url = "{url}"
credential = "{credential}"
timeout_ms = 5000
connect_timeout_ms = 1000
sync_interval_ms = 200

[comune]
fiscal_code = "00085240950"
name = "Comune di Test"

[receipt]
psp_name = "Intermediario di test"
psp_fiscal_code = "70000000001"

[timeouts]
screen_secs = 30
done_secs = 5
last_result_retry_ms = 200
card_result_secs = 5

[offline]
max_payment_cents = 20000
max_outstanding_cents = 50000
cash_fee = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]

[devices]
scanner = "sim"
printer = "sim"
terminal = "sim"

[[operators]]
id = "mrossi"
name = "Mario Rossi"
pin_hash = "{pin}"

[demo]
samples = [{{ label = "TARI", payload = "PAGOPA|002|300715700000000032|00085240950|1500" }}]
"#,
        journal = journal.display(),
        pin = pin_hash(),
    )
}

/// The kinds of the entries of the journal at `path`, in order.
pub fn journal_kinds(path: &Path) -> Vec<String> {
    let journal = kiosk::journal::Journal::open(path).expect("journal");
    let entries = journal.entries().expect("entries");
    entries.into_iter().map(|e| e.kind).collect()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request (`Connection: close`), optional session token and JSON body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    match body {
        Some(b) => req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => req.push_str("Content-Length: 0\r\n\r\n"),
    }
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(&rest) } else { rest };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
    out
}

/// Poll `GET /api/state` until `pred` holds (or fail after `secs`).
pub async fn wait_for(
    addr: SocketAddr,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let state = async || http(addr, "GET", "/api/state", None, None).await.json();
    poll_until(secs, what, state, pred).await
}

/// Wait for a screen.
pub async fn screen(addr: SocketAddr, name: &str) -> Value {
    wait_for(addr, 15, name, |v| v["screen"] == name).await
}

/// Poll `probe` until it gives `Ok` (or fail after `secs` with its last `Err`, the state seen).
pub async fn poll<T>(
    secs: u64,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let last = match probe().await {
            Ok(v) => return v,
            Err(last) => last,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `probe` until `pred` holds for what it gives (or fail after `secs`, showing the last).
pub async fn poll_until<T: std::fmt::Debug>(
    secs: u64,
    what: &str,
    mut probe: impl AsyncFnMut() -> T,
    pred: impl Fn(&T) -> bool,
) -> T {
    poll(secs, what, async || {
        let v = probe().await;
        if pred(&v) {
            Ok(v)
        } else {
            Err(format!("{v:?}"))
        }
    })
    .await
}

/// `POST /api/login` as `operator` with `pin`.
pub async fn login_as(addr: SocketAddr, operator: &str, pin: &str) -> Answer {
    let body = serde_json::json!({ "operator": operator, "pin": pin }).to_string();
    http(addr, "POST", "/api/login", None, Some(&body)).await
}

/// The session token of a successful login's answer.
pub fn session_token(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["token"].as_str().expect("token").to_owned()
}

/// Log the configured clerk in; the session token.
pub async fn login(addr: SocketAddr) -> String {
    session_token(&login_as(addr, "mrossi", "2468").await)
}

/// `POST` a JSON body (or none) and expect a 200.
async fn post_ok(addr: SocketAddr, path: &str, token: Option<&str>, body: Option<Value>) {
    let body = body.map(|b| b.to_string());
    let a = http(addr, "POST", path, token, body.as_deref()).await;
    assert_eq!(
        a.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&a.body)
    );
}

/// Scan `payload` through the agent's API; the state on the confirmation screen.
pub async fn scan(addr: SocketAddr, token: Option<&str>, payload: &str) -> Value {
    let body = serde_json::json!({ "payload": payload });
    post_ok(addr, "/api/scan", token, Some(body)).await;
    screen(addr, "confirm").await
}

/// Confirm the amounts (a counter names the `method`); the state on the tender screen.
pub async fn confirm(addr: SocketAddr, token: Option<&str>, method: Option<&str>) -> Value {
    let body = method.map(|m| serde_json::json!({ "method": m }));
    post_ok(addr, "/api/confirm", token, body).await;
    screen(addr, "tender").await
}

/// On the tender screen, ask for a card payment (its end is the caller's to wait for).
pub async fn tap_card(addr: SocketAddr) {
    post_ok(
        addr,
        "/api/pay",
        None,
        Some(serde_json::json!({ "method": "card" })),
    )
    .await;
}

/// Pay the notice `payload` by card at a kiosk; the state on the receipt screen.
pub async fn pay_by_card(addr: SocketAddr, payload: &str) -> Value {
    scan(addr, None, payload).await;
    confirm(addr, None, None).await;
    tap_card(addr).await;
    screen(addr, "done").await
}

/// On the tender screen, hand over `tendered_cents` in cash; the state on the receipt screen.
pub async fn pay_cash(addr: SocketAddr, token: Option<&str>, tendered_cents: u64) -> Value {
    let body = serde_json::json!({ "method": "cash", "tendered_cents": tendered_cents });
    post_ok(addr, "/api/pay", token, Some(body)).await;
    screen(addr, "done").await
}

/// Key a notice in by hand at a counter; the state on the confirmation screen.
pub async fn manual(addr: SocketAddr, token: Option<&str>, notice: &SampleNotice) -> Value {
    let body = serde_json::json!({
        "notice_number": notice.notice_number,
        "fiscal_code": notice.fiscal_code,
    });
    post_ok(addr, "/api/manual", token, Some(body)).await;
    screen(addr, "confirm").await
}

/// Wait until the agent is online with an empty offline queue; with `agent`, nudge its sync
/// worker at each look.
pub async fn queue_drained(
    addr: SocketAddr,
    token: Option<&str>,
    secs: u64,
    agent: Option<&kiosk::AgentHandle>,
) {
    poll(secs, "the offline queue drained", async || {
        let o = http(addr, "GET", "/api/offline", token, None).await.json();
        if o["queue"].as_array().is_some_and(Vec::is_empty) && o["online"] == true {
            return Ok(());
        }
        if let Some(agent) = agent {
            agent.sync_now();
        }
        let left = o["queue"].as_array().map_or(0, Vec::len);
        Err(format!("{left} left: {o}"))
    })
    .await;
}

/// The adapter's record of the payment the agent activated for `flow` (its list's entry), if
/// any: asked with `credential`.
pub async fn adapter_payment_of(backend: &Backend, credential: &str, flow: &str) -> Option<Value> {
    let list = http(
        backend.addr,
        "GET",
        "/v1/payments?limit=500",
        Some(credential),
        None,
    )
    .await
    .json();
    let key = format!("act-{flow}");
    list["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .find(|p| p["client_key"] == key.as_str())
        .cloned()
}

/// The agent's preview of the receipt of `flow`.
pub async fn receipt_preview(addr: SocketAddr, flow: &str) -> Value {
    let path = format!("/api/receipt/{flow}/preview");
    http(addr, "GET", &path, None, None).await.json()
}

/// Close the day at a counter with `counted_cents` in the drawer; the agent's answer.
pub async fn close_day(addr: SocketAddr, token: Option<&str>, counted_cents: u64) -> Value {
    let body = serde_json::json!({ "counted_cents": counted_cents }).to_string();
    let c = http(addr, "POST", "/api/closing", token, Some(&body)).await;
    assert_eq!(c.status, 200, "{}", String::from_utf8_lossy(&c.body));
    c.json()
}

/// The staff's view of the offline queue (`GET /api/offline`) and the flows queued, in order.
pub async fn offline_view(addr: SocketAddr, token: Option<&str>) -> (Value, Vec<String>) {
    let o = http(addr, "GET", "/api/offline", token, None).await.json();
    let queue = o["queue"]
        .as_array()
        .expect("queue")
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    (o, queue)
}
