//! # kiosk
//!
//! The device agent of a pagoPA kiosk (self-service, cards) or counter (staffed, cash and
//! cards): it drives the scanner, receipt printer, cash drawer and card terminal, talks to the
//! channel adapter through the `channel-api` contract, and serves the local web UIs.
//!
//! A power cut at any moment must never lose or double a payment. That rests on three pieces:
//! - [`flow`]: the payment flow as a pure state machine (events in, effects out, time injected);
//! - [`journal`]: a hash-chained SQLite log written before every side effect and after its
//!   result, and the only thing read at start-up ([`ledger`], recovery);
//! - [`core`]: the executor that enforces "journal first, then act", on one thread.
//!
//! Around them: [`adapter`] (HTTP client), [`devices`] (driver supervision and demo
//! simulators), [`sync`] (heartbeat, managed settings and offline queue), [`api`] (local JSON
//! API + SSE), [`auth`] (staff PINs), [`receipt`] (documents), [`config`], [`settings`] (the
//! adapter's managed settings over the local ones), [`device_key`] (the enrolled device's
//! signing key), [`fsutil`] (atomic file writes), [`clock`], [`record`], [`ui`].
//!
//! [`Agent`] is the composition root, usable in-process (tests, the demo):
//!
//! ```no_run
//! # async fn demo(config: kiosk::config::Config) -> Result<(), kiosk::StartError> {
//! let agent = kiosk::Agent::start(config).await?;
//! println!("UI at http://{}", agent.addr());
//! agent.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod adapter;
pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod core;
pub mod device_key;
pub mod devices;
pub mod failpoint;
pub mod flow;
pub mod fsutil;
pub mod journal;
pub mod ledger;
pub mod receipt;
pub mod record;
pub mod settings;
pub mod sync;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::core::{FlowView, Input};
use crate::devices::{DeviceSet, Note, Printer, Sims, Terminal};

/// Why the agent could not start. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The journal cannot be opened or read.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// A device cannot be set up.
    #[error(transparent)]
    Devices(#[from] devices::DeviceError),
    /// The adapter's client cannot be built.
    #[error(transparent)]
    Adapter(#[from] adapter::ClientError),
    /// The local API cannot listen.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The executor thread cannot start.
    #[error("cannot start the executor thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl StartError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::Journal(e) => e.code(),
            StartError::Devices(e) => e.code(),
            StartError::Adapter(e) => e.code(),
            StartError::Bind { .. } => "AGENT_BIND",
            StartError::Thread(_) => "AGENT_THREAD",
        }
    }
}

/// The composition root: configuration plus optional replacements for tests.
pub struct Agent {
    config: Config,
    clock: Arc<dyn Clock>,
    terminal: Option<Box<dyn Terminal>>,
    printer: Option<Box<dyn Printer>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.config)
            .finish()
    }
}

/// A running agent.
pub struct AgentHandle {
    addr: SocketAddr,
    tx: mpsc::Sender<Input>,
    view: watch::Receiver<FlowView>,
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    core: Option<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    devices: DeviceSet,
    sims: Arc<Sims>,
}

impl std::fmt::Debug for AgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Agent {
    /// Start an agent with the system clock and the configured devices.
    pub async fn start(config: Config) -> Result<AgentHandle, StartError> {
        Agent::builder(config).run().await
    }

    /// An agent to customise before [`Agent::run`].
    pub fn builder(config: Config) -> Agent {
        Agent {
            config,
            clock: Arc::new(SystemClock),
            terminal: None,
            printer: None,
        }
    }

    /// Use this clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Agent {
        self.clock = clock;
        self
    }

    /// Use this terminal instead of the configured one.
    pub fn terminal(mut self, t: Box<dyn Terminal>) -> Agent {
        self.terminal = Some(t);
        self
    }

    /// Use this printer instead of the configured one.
    pub fn printer(mut self, p: Box<dyn Printer>) -> Agent {
        self.printer = Some(p);
        self
    }

    /// Wire everything and start: journal and recovery, devices, executor, sync worker, local
    /// API.
    pub async fn run(self) -> Result<AgentHandle, StartError> {
        // The local file, overlaid by the adapter's managed settings kept from the last run.
        let settings = Arc::new(settings::Settings::start(Arc::new(self.config)));
        let config = settings.effective();
        let journal = journal::Journal::open(&config.journal_path)?;
        let adapter =
            adapter::AdapterClient::new(&config.adapter)?.with_clock(Arc::clone(&self.clock));
        let (tx, rx) = mpsc::channel::<Input>();
        let sink_tx = tx.clone();
        let notes: devices::NoteSink = Arc::new(move |n| {
            let _ = sink_tx.send(match n {
                Note::Scan(payload) => Input::Scan {
                    payload,
                    operator: None,
                    reply: None,
                },
                Note::Progress(text) => Input::Progress(text),
            });
        });
        let mut devices = DeviceSet::start(&config, notes, Arc::clone(&self.clock)).await?;
        if let Some(t) = self.terminal {
            devices.terminal = Some(Arc::new(tokio::sync::Mutex::new(t)));
        }
        if let Some(p) = self.printer {
            devices.printer = Some(Arc::new(tokio::sync::Mutex::new(p)));
        }
        let sims = Arc::new(std::mem::take(&mut devices.sims));
        let (view_tx, view_rx) = watch::channel(FlowView {
            mode: config.mode,
            screen: "idle".into(),
            flow_id: None,
            notice: None,
            deadline_ms_left: None,
            progress: None,
            error: None,
            receipt_id: None,
            offline: false,
            operator: None,
            languages: config.languages.clone(),
            fee_display: config.fee_display,
            tender: None,
            methods: Vec::new(),
            fees: Vec::new(),
            tendered_cents: None,
            change_cents: None,
            offline_payment: false,
            drawer_error: None,
            out_of_service: None,
        });
        let core = core::Core::recover(
            core::Parts {
                config: Arc::clone(&config),
                journal,
                clock: Arc::clone(&self.clock),
                adapter: adapter.clone(),
                terminal: devices.terminal.clone(),
                printer: devices.printer.clone(),
                drawer: devices.drawer,
                runtime: tokio::runtime::Handle::current(),
            },
            tx.clone(),
            view_tx,
        )?;
        let core_thread = std::thread::Builder::new()
            .name("kiosk-executor".into())
            .spawn(move || core.run(rx))
            .map_err(StartError::Thread)?;

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let (stop, stop_rx) = watch::channel(false);
        let api = Arc::new(api::Api {
            config: Arc::clone(&config),
            tx: tx.clone(),
            view: view_rx.clone(),
            sessions: auth::Sessions::default(),
            adapter: adapter.clone(),
            printer: devices.printer.clone(),
            sims: Arc::clone(&sims),
            status: devices.status.clone(),
            clock: Arc::clone(&self.clock),
            settings: Arc::clone(&settings),
        });
        let app = api::router(api);
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "local API server failed");
            }
        });
        let wake = Arc::new(Notify::new());
        let fleet = sync::Fleet::new(settings, devices.printer.clone(), devices.status.clone());
        let sync = tokio::spawn(sync::run(
            adapter,
            tx.clone(),
            Arc::clone(&self.clock),
            fleet,
            config.adapter.sync_interval,
            Arc::clone(&wake),
            stop_rx,
        ));
        tracing::info!(%addr, mode = %config.mode, name = %config.name, "agent started");
        Ok(AgentHandle {
            addr,
            tx,
            view: view_rx,
            stop,
            wake,
            core: Some(core_thread),
            tasks: vec![server, sync],
            devices,
            sims,
        })
    }
}

impl AgentHandle {
    /// Where the local API and UIs listen.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The screen now.
    pub fn view(&self) -> FlowView {
        self.view.borrow().clone()
    }

    /// The demo simulators (devices configured as `sim`).
    pub fn sims(&self) -> &Sims {
        &self.sims
    }

    /// Run a sync round now (heartbeat and offline queue).
    pub fn sync_now(&self) {
        self.wake.notify_one();
    }

    /// Stop: the API stops accepting, the sync worker and the executor stop, devices are
    /// released. Effects in flight are abandoned; the journal knows them and the next start
    /// resumes them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = self.tx.send(Input::Shutdown);
        for t in self.tasks.drain(..) {
            // Open event streams would hold a graceful shutdown forever: give it a moment.
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(core) = self.core.take() {
            let _ = tokio::task::spawn_blocking(move || core.join()).await;
        }
        self.devices.stop();
        tracing::info!("agent stopped");
    }
}
