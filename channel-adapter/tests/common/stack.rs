//! The adapter and nodo-sim in one process, talking over real loopback HTTP: the simulator
//! listens on 127.0.0.1, the adapter's real [`HttpNodoClient`] calls it (optionally through a
//! [`Proxy`] the test can take down), the device API listens on 127.0.0.1 and the outbox worker
//! runs. Every request the adapter sends is kept by a [`RecordingClient`] so tests can validate
//! them against the schema.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::api::{self, AppState};
use channel_adapter::config::Config;
use channel_adapter::nodo::NodoClient;
use channel_adapter::nodo::http::HttpNodoClient;
use channel_adapter::nodo::record::RecordingClient;
use channel_adapter::server::Bound;
use channel_adapter::store::Store;
use channel_adapter::{devices, outbox};
use channel_api::DeviceKind;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::proxy::Proxy;
use super::{Response, TempDir, call};

/// The comune of the test devices.
pub const ROMA: &str = "02438750586";
/// nodo-sim's scenario creditor.
pub const TEST_EC: &str = "77777777777";

/// A scenario notice of nodo-sim: `302<scenario><13 digits of n>` (01 = payable, 100.00).
pub fn notice(scenario: u8, n: u64) -> String {
    format!("302{scenario:02}{:013}", n % 10_000_000_000_000)
}

/// A payable notice of exactly `cents` (nodo-sim's "any amount" scenario 07).
pub fn notice_of(cents: u64, n: u64) -> String {
    format!("30207{cents:08}{:05}", n % 100_000)
}

/// What differs between tests.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The SANP back-off slot.
    pub slot_ms: u64,
    /// The capped interval after the back-off.
    pub retry_interval_ms: u64,
    /// Attempts on the back-off schedule.
    pub max_attempts: u32,
    /// `nodo.outcome_timeout_secs` (2..).
    pub outcome_timeout_secs: u64,
    /// The creditor "timeout" scenario's wait.
    pub station_timeout_ms: u64,
    /// Put a proxy the test can take down between the adapter and the simulator.
    pub via_proxy: bool,
    /// `v1` or `v2`.
    pub primitives: &'static str,
    /// The channel password the adapter sends (the simulator expects `pwdpwdpwd`).
    pub password: &'static str,
    /// The subscription key the adapter sends (the simulator expects `nodo-sim-key`).
    pub subscription_key: &'static str,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            slot_ms: 50,
            retry_interval_ms: 300,
            max_attempts: 5,
            outcome_timeout_secs: 2,
            station_timeout_ms: 100,
            via_proxy: false,
            primitives: "v2",
            password: "pwdpwdpwd",
            subscription_key: "nodo-sim-key",
        }
    }
}

/// A configuration for the adapter on `listen` with the store at `store`, calling `nodo_url`
/// as nodo-sim's demo channel.
pub fn stack_config_toml(
    listen: &str,
    store: &std::path::Path,
    nodo_url: &str,
    o: &StackOptions,
) -> String {
    format!(
        r#"
listen = "{listen}"
store_path = "{}"
check_digits = "lenient"

[psp]
id_psp = "70000000001"
id_broker_psp = "70000000001"
id_channel = "70000000001_01"
password = "{}"
subscription_key = "{}"
fiscal_code = "70000000001"

[nodo]
url = "{nodo_url}"
primitives = "{}"
outcome_timeout_secs = {}
token_lifetime_secs = 600

[outbox]
max_attempts = {}
slot_ms = {}
retry_interval_ms = {}

[fees.kiosk]
card = 120

[fees.counter]
card = 100
cash = 100
"#,
        store.display(),
        o.password,
        o.subscription_key,
        o.primitives,
        o.outcome_timeout_secs,
        o.max_attempts,
        o.slot_ms,
        o.retry_interval_ms,
    )
}

/// nodo-sim configured for the tests: loopback, fixed seed, short station timeout.
pub fn sim_config(o: &StackOptions, seed: u64) -> nodo_sim::Config {
    nodo_sim::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        seed: Some(seed),
        station_timeout_ms: o.station_timeout_ms,
        ..nodo_sim::Config::default()
    }
}

/// The running pair.
pub struct Stack {
    /// The simulator.
    pub sim: nodo_sim::Simulator,
    /// The proxy in between, when asked for.
    pub proxy: Option<Proxy>,
    /// The device API.
    pub addr: SocketAddr,
    /// The handlers' state.
    pub state: AppState,
    /// The store.
    pub store: Arc<Store>,
    /// Every exchange with the Nodo.
    pub recorder: RecordingClient,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    worker: JoinHandle<()>,
    _dir: TempDir,
}

async fn wait_for_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

impl Stack {
    /// Start the simulator, the adapter and its outbox worker.
    pub async fn start(name: &str, o: StackOptions) -> Stack {
        let sim = nodo_sim::Simulator::start(sim_config(&o, 42))
            .await
            .expect("nodo-sim starts");
        let proxy = if o.via_proxy {
            Some(Proxy::start(sim.addr()).await)
        } else {
            None
        };
        let nodo_addr = proxy.as_ref().map_or(sim.addr(), |p| p.addr());
        let nodo_url = format!("http://{nodo_addr}{}", nodo_sim::SOAP_PATH);
        let dir = TempDir::new(name);
        let store_path = dir.join("adapter.db");
        let config = Config::from_toml(
            &stack_config_toml("127.0.0.1:0", &store_path, &nodo_url, &o),
            Vec::new(),
        )
        .expect("config");
        let store = Arc::new(Store::open(&store_path).expect("store"));
        let http = HttpNodoClient::from_config(&config).expect("client");
        let recorder = RecordingClient::new(Arc::new(http));
        let state = channel_adapter::app_state(
            Arc::new(config),
            Arc::clone(&store),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            Some(Arc::new(recorder.clone()) as Arc<dyn NodoClient>),
        );
        let (stop, stopping) = watch::channel(false);
        let worker = tokio::spawn(outbox::run(state.clone(), wait_for_stop(stopping.clone())));
        let bound = Bound::bind("127.0.0.1:0".parse().expect("addr"), None)
            .await
            .expect("bind");
        let addr = bound.local_addr().expect("addr");
        let server = tokio::spawn(bound.serve(api::router(state.clone()), wait_for_stop(stopping)));
        Stack {
            sim,
            proxy,
            addr,
            state,
            store,
            recorder,
            stop,
            server,
            worker,
            _dir: dir,
        }
    }

    /// Register a device and return its credential.
    pub fn device(&self, name: &str, kind: DeviceKind) -> String {
        devices::add(&self.store, name, ROMA, kind, &OsRandom, SystemClock.now())
            .expect("device")
            .credential
    }

    /// `POST /v1/verify`.
    pub async fn verify(&self, cred: &str, notice: &str) -> Response {
        let body = json!({"notice_number": notice, "creditor_fiscal_code": TEST_EC}).to_string();
        call(self.addr, cred, "POST", "/v1/verify", Some(&body)).await
    }

    /// `POST /v1/payments`.
    pub async fn activate(
        &self,
        cred: &str,
        client_key: &str,
        notice: &str,
        cents: u64,
        tender: &str,
    ) -> Response {
        let body = json!({"client_key": client_key, "notice_number": notice,
            "creditor_fiscal_code": TEST_EC, "amount": cents, "tender": tender})
        .to_string();
        call(self.addr, cred, "POST", "/v1/payments", Some(&body)).await
    }

    /// `POST /v1/payments/{id}/outcome` with an OK paid in cash (fee 100) or by card.
    pub async fn outcome_ok(&self, cred: &str, id: &str, paid_with: &str, fee: u64) -> Response {
        let body = json!({"outcome": "OK", "paid_with": paid_with, "fee": fee,
            "paid_at": "2025-03-01T09:31:00Z", "receipt_number": format!("R-{id}")})
        .to_string();
        call(
            self.addr,
            cred,
            "POST",
            &format!("/v1/payments/{id}/outcome"),
            Some(&body),
        )
        .await
    }

    /// `POST /v1/payments/{id}/outcome` with a KO.
    pub async fn outcome_ko(&self, cred: &str, id: &str) -> Response {
        let body = json!({"outcome": "KO", "reason": "declined"}).to_string();
        call(
            self.addr,
            cred,
            "POST",
            &format!("/v1/payments/{id}/outcome"),
            Some(&body),
        )
        .await
    }

    /// `GET /v1/payments/{id}`.
    pub async fn payment(&self, cred: &str, id: &str) -> Value {
        let r = call(self.addr, cred, "GET", &format!("/v1/payments/{id}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Poll the payment until it is in `state`, or fail after `within`.
    pub async fn wait_for_state(
        &self,
        cred: &str,
        id: &str,
        state: &str,
        within: Duration,
    ) -> Value {
        let until = Instant::now() + within;
        loop {
            let p = self.payment(cred, id).await;
            if p["state"] == state {
                return p;
            }
            assert!(
                Instant::now() < until,
                "payment {id} still {} after {within:?}, expected {state}: {p}",
                p["state"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Poll until the outbox has nothing left to deliver (parked entries aside).
    pub async fn wait_outbox_empty(&self, within: Duration) {
        let until = Instant::now() + within;
        loop {
            let stats = self.store.outbox_stats(5).expect("stats");
            if stats.pending == 0 {
                return;
            }
            assert!(
                Instant::now() < until,
                "outbox still has {} pending after {within:?}",
                stats.pending
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Receipts the simulator produced for `token`.
    pub fn receipts_for(&self, token: &str) -> usize {
        self.sim
            .receipts()
            .iter()
            .filter(|r| r.receipt.receipt_id.as_str() == token)
            .count()
    }

    /// Every request sent so far, as (name, envelope).
    pub fn sent_requests(&self) -> Vec<(String, String)> {
        self.recorder
            .take()
            .into_iter()
            .map(|x| {
                (
                    format!("{}-{}", x.seq, x.primitive.soap_action()),
                    x.request,
                )
            })
            .collect()
    }

    /// Stop the adapter and the simulator.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.server
            .await
            .expect("join")
            .expect("server stopped cleanly");
        self.worker.await.expect("worker stopped cleanly");
        if let Some(p) = self.proxy {
            p.down().await;
        }
        self.sim.shutdown().await.expect("simulator stops");
    }
}

/// An active payment: activate `notice` (100.00 scenario) and return the payment.
pub async fn active(stack: &Stack, cred: &str, key: &str, notice: &str, cents: u64) -> Value {
    let r = stack.activate(cred, key, notice, cents, "cash").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json();
    assert_eq!(p["state"], "active");
    p
}
