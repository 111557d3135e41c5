//! The adapter's API served on 127.0.0.1 over a fresh store, with a clock the test moves and an
//! optional Nodo client: the set-up of the device-API tests that need no Nodo simulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use channel_adapter::ambient::{Clock, OsRandom};
use channel_adapter::api::{self, AppState};
use channel_adapter::config::Config;
use channel_adapter::devices;
use channel_adapter::nodo::NodoClient;
use channel_adapter::server::{Bound, load_tls};
use channel_adapter::store::Store;
use channel_api::{DeviceKind, Timestamp};
use tokio::sync::oneshot;

use super::{TempDir, config_toml, fixtures, tls_toml};

/// A clock the test moves.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl TestClock {
    /// Move forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// The running API and what the test reaches into.
pub struct Harness {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub clock: Arc<TestClock>,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl Harness {
    /// Serve the API from a store under a new temporary directory named after `name`, at
    /// 2025-03-01T09:30:00Z; with `nodo`, the Nodo routes too.
    pub async fn start(name: &str, nodo: Option<Arc<dyn NodoClient>>) -> Harness {
        Harness::start_with(name, nodo, 1_740_821_400_000, "", false).await
    }

    /// [`Harness::start`] with the clock at `now_ms`, `extra` appended to the configuration,
    /// and with `tls` serving the test certificate.
    pub async fn start_with(
        name: &str,
        nodo: Option<Arc<dyn NodoClient>>,
        now_ms: i64,
        extra: &str,
        tls: bool,
    ) -> Harness {
        let dir = TempDir::new(name);
        let store_path = dir.join("adapter.db");
        let mut toml = config_toml("127.0.0.1:0", &store_path);
        if tls {
            toml.push_str(&tls_toml());
        }
        toml.push_str(extra);
        let config = Config::from_toml(&toml, Vec::new()).expect("config");
        let store = Arc::new(Store::open(&store_path).expect("store"));
        let clock = Arc::new(TestClock(AtomicI64::new(now_ms)));
        let state = channel_adapter::app_state(
            Arc::new(config),
            Arc::clone(&store),
            clock.clone(),
            Arc::new(OsRandom),
            nodo,
        );
        let tls = tls.then(|| {
            load_tls(
                &fixtures().join("server.pem"),
                &fixtures().join("server.key"),
            )
            .expect("test certificate")
        });
        let bound = Bound::bind("127.0.0.1:0".parse().expect("addr"), tls)
            .await
            .expect("bind");
        let addr = bound.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(bound.serve(api::router(state.clone()), async {
            let _ = rx.await;
        }));
        Harness {
            addr,
            store,
            clock,
            state,
            stop: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Register a device; its bearer credential.
    pub fn device(&self, name: &str, comune: &str, kind: DeviceKind) -> String {
        devices::add(&self.store, name, comune, kind, &OsRandom, self.clock.now())
            .expect("device")
            .credential
    }

    /// Stop the server and check it ended cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("server ran cleanly");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
