//! Device supervision: the agent's view of the scanner, printer, drawer and card terminal.
//!
//! The `drivers` crate offers one async trait per device kind, generic and not object-safe.
//! The agent needs less and needs it in the flow's terms, behind objects it can swap for fakes
//! in tests: [`Terminal`] speaks [`CardResult`] and [`LastResult`], [`Printer`] speaks
//! [`PrintResult`], and the scanner is a task that hands decoded labels to a callback. The
//! implementations over the real drivers live here too, as does the demo mode's wiring of the
//! drivers' simulators (real protocol over loopback TCP and a pseudo-terminal, so the demo
//! exercises the same code as the field).
//!
//! What the terminal driver needs to resolve a lost payment after a restart (the last STAN
//! before the payment) is the "marker" the agent journals with every charge intent, and hands
//! back here when it asks for the last result.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_api::Timestamp;
use channel_api::fleet::{PaperLevel, PrinterHealth};
use drivers::devices::drawer::CashDrawer as _;
use drivers::devices::printer::{
    EscPosPrinter, JobStage, PrinterConfig, PrinterEvent, ReceiptPrinter as _,
};
use drivers::devices::scanner::{Scanner as _, ScannerEvent, ScannerPortConfig, SerialScanner};
use drivers::devices::terminal::{
    CardOutcome, CardTerminal as _, Ecr17Config, Ecr17Terminal, Recovery, TerminalEvent,
};
use drivers::ecr17::{
    CashRegisterId, Cents, Operation, PendingRecovery, SessionConfig, Stan, TerminalId,
};
use drivers::escpos::{PaperState, PaperWidth, PrinterProfile, Receipt};
use drivers::transport::Endpoint;
use pagopa::Amount;
use serde::Serialize;

use crate::config::{Config, DeviceEndpoint};
use crate::flow::{CardRefs, CardResult, LastResult, PrintResult};

/// The future a device object returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A card terminal, in the flow's terms.
pub trait Terminal: Send {
    /// The terminal's last transaction number, learnt first if unknown: journaled with the
    /// charge intent.
    fn marker(&mut self) -> BoxFuture<'_, Option<String>>;

    /// Charge `amount`. Called once per payment; never again after an unknown result.
    fn charge(&mut self, amount: Amount) -> BoxFuture<'_, CardResult>;

    /// What became of the payment of `amount` charged after `marker`.
    fn last_result(&mut self, amount: Amount, marker: Option<String>) -> BoxFuture<'_, LastResult>;
}

/// A receipt printer with the cash drawer wired to it.
pub trait Printer: Send {
    /// The paper and code page the documents are encoded for.
    fn profile(&self) -> PrinterProfile;

    /// Print a document.
    fn print(&mut self, receipt: Receipt) -> BoxFuture<'_, PrintResult>;

    /// Pulse the drawer; the error code if it failed.
    fn open_drawer(&mut self) -> BoxFuture<'_, Option<String>>;

    /// Ask the printer how it is, for the heartbeat; `None` if this printer cannot tell.
    fn health(&mut self) -> BoxFuture<'_, Option<PrinterHealth>> {
        Box::pin(async { None })
    }

    /// Print on `paper` from now on (a managed setting changed).
    fn set_paper(&mut self, paper: PaperWidth) {
        let _ = paper;
    }
}

/// Why the devices cannot be set up. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// An endpoint or ID in the configuration is invalid.
    #[error("device configuration: {0}")]
    Config(String),
    /// A simulator could not start.
    #[error("device simulator: {0}")]
    Simulator(#[source] std::io::Error),
}

impl DeviceError {
    /// Stable machine-readable code: `DEVICE_CONFIG`, `DEVICE_SIMULATOR`.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Config(_) => "DEVICE_CONFIG",
            DeviceError::Simulator(_) => "DEVICE_SIMULATOR",
        }
    }
}

/// The state of one device, for the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    /// `scanner`, `printer`, `terminal`.
    pub kind: String,
    /// Where it is.
    pub endpoint: String,
    /// `connected`, `disconnected`, `unavailable`, `unknown`.
    pub state: String,
    /// The last error's code.
    pub last_error: Option<String>,
    /// The last text the device sent (terminal progress, printer status).
    pub detail: Option<String>,
    /// When the state last changed.
    pub since: Option<Timestamp>,
}

/// The devices' states, shared with the status page.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<Mutex<BTreeMap<String, DeviceStatus>>>);

impl StatusBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DeviceStatus>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Register a device.
    pub fn register(&self, kind: &str, endpoint: &str) {
        self.lock().insert(
            kind.to_owned(),
            DeviceStatus {
                kind: kind.to_owned(),
                endpoint: endpoint.to_owned(),
                state: "unknown".into(),
                last_error: None,
                detail: None,
                since: None,
            },
        );
    }

    /// Update a device's state.
    pub fn set(&self, kind: &str, state: &str, error: Option<&str>, at: Timestamp) {
        if let Some(s) = self.lock().get_mut(kind) {
            if s.state != state {
                s.since = Some(at);
            }
            s.state = state.to_owned();
            if error.is_some() {
                s.last_error = error.map(str::to_owned);
            }
        }
    }

    /// Note a device's latest text.
    pub fn detail(&self, kind: &str, detail: String) {
        if let Some(s) = self.lock().get_mut(kind) {
            s.detail = Some(detail);
        }
    }

    /// Every device.
    pub fn snapshot(&self) -> Vec<DeviceStatus> {
        self.lock().values().cloned().collect()
    }

    /// Whether the device of `kind` was last seen connected: `None` if there is no such
    /// device, or it has not been used since the agent started.
    pub fn connected(&self, kind: &str) -> Option<bool> {
        match self.lock().get(kind)?.state.as_str() {
            "connected" => Some(true),
            "disconnected" | "unavailable" => Some(false),
            _ => None,
        }
    }
}

/// What the devices tell the agent on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The scanner read a label (AIM identifier stripped, as the driver delivers it).
    Scan(String),
    /// The terminal's text for the customer display.
    Progress(String),
}

/// Where device notes go.
pub type NoteSink = Arc<dyn Fn(Note) + Send + Sync>;

/// A terminal over the ECR17 driver.
#[derive(Debug)]
pub struct Ecr17 {
    driver: Ecr17Terminal,
    extended: bool,
    result_timeout: Duration,
}

impl Ecr17 {
    /// Wrap a driver.
    pub fn new(driver: Ecr17Terminal, extended: bool, result_timeout: Duration) -> Ecr17 {
        Ecr17 {
            driver,
            extended,
            result_timeout,
        }
    }
}

fn card_refs(a: &drivers::devices::terminal::CardApproval) -> CardRefs {
    CardRefs {
        terminal_id: a.reference.terminal_id.clone(),
        stan: a.reference.stan.clone(),
        online_id: a.reference.online_id.clone(),
        masked_pan: CardRefs::mask_pan(&a.masked_pan),
        auth_code: a.auth_code.clone(),
        circuit: None,
    }
}

impl Terminal for Ecr17 {
    fn marker(&mut self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            if self.driver.session().last_stan().is_none() {
                // Learn it now, so that a lost answer can be resolved even after a restart.
                let _ = self.driver.last_result().await;
            }
            self.driver.session().last_stan().map(|s| s.to_string())
        })
    }

    fn charge(&mut self, amount: Amount) -> BoxFuture<'_, CardResult> {
        Box::pin(async move {
            match self.driver.pay(amount.cents()).await {
                Ok(CardOutcome::Approved(a)) => CardResult::Approved {
                    card: card_refs(&a),
                },
                Ok(CardOutcome::Declined { reason, .. }) => CardResult::Declined { reason },
                Ok(CardOutcome::Unknown { reason }) => CardResult::Unknown {
                    reason: format!("{reason:?}"),
                },
                Err(e) => CardResult::Failed {
                    code: e.code().to_owned(),
                },
            }
        })
    }

    fn last_result(&mut self, amount: Amount, marker: Option<String>) -> BoxFuture<'_, LastResult> {
        Box::pin(async move {
            if self.driver.session().pending_recovery().is_none() {
                // After a restart the driver knows nothing: give it back what the journal
                // knows. The terminal may still be busy with it for the result timeout.
                let previous = marker.as_deref().and_then(|m| Stan::parse(m).ok());
                let resolvable_after = tokio::time::Instant::now().into_std() + self.result_timeout;
                self.driver.restore(
                    previous,
                    Some(PendingRecovery {
                        operation: Operation::Payment {
                            amount: Cents(amount.cents()),
                            extended: self.extended,
                        },
                        previous_stan: previous,
                        resolvable_after,
                    }),
                );
            }
            match self.driver.last_result().await {
                Ok(r) => match r.recovery {
                    Some(Recovery::Approved(a)) => LastResult::Approved {
                        card: card_refs(&a),
                    },
                    Some(Recovery::Declined { reason }) => LastResult::Declined { reason },
                    Some(Recovery::NotPerformed) => LastResult::NotPerformed,
                    Some(Recovery::Unresolved { reason }) => LastResult::Unresolved { reason },
                    None => LastResult::Unresolved {
                        reason: "the terminal reported nothing about the payment".into(),
                    },
                },
                Err(e) => LastResult::Unresolved {
                    reason: e.code().to_owned(),
                },
            }
        })
    }
}

/// A printer over the ESC/POS driver.
#[derive(Debug)]
pub struct EscPos {
    driver: EscPosPrinter,
    status: StatusBoard,
    clock: Arc<dyn crate::clock::Clock>,
    watcher: tokio::task::JoinHandle<()>,
}

/// Reflect the printer's events on the status board, until the driver is dropped.
fn watch_printer(
    driver: &EscPosPrinter,
    status: StatusBoard,
    clock: Arc<dyn crate::clock::Clock>,
) -> tokio::task::JoinHandle<()> {
    let mut events = driver.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(PrinterEvent::Connected { .. }) => {
                    status.set("printer", "connected", None, clock.now())
                }
                Ok(PrinterEvent::Disconnected { code, .. }) => {
                    status.set("printer", "disconnected", Some(code), clock.now());
                }
                Ok(PrinterEvent::JobFailed { code, .. }) => {
                    status.set("printer", "connected", Some(code), clock.now())
                }
                Ok(PrinterEvent::Status(s)) => status.detail("printer", format!("{s:?}")),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

impl EscPos {
    /// Drive the printer configured by `config`, its events reflected on `status`.
    pub fn new(
        config: PrinterConfig,
        status: StatusBoard,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> EscPos {
        let driver = EscPosPrinter::new(config);
        let watcher = watch_printer(&driver, status.clone(), Arc::clone(&clock));
        EscPos {
            driver,
            status,
            clock,
            watcher,
        }
    }
}

impl Drop for EscPos {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The printer's state in the fleet's terms.
pub fn printer_health(s: &drivers::escpos::PrinterStatus) -> PrinterHealth {
    PrinterHealth {
        online: true,
        paper: match s.paper {
            PaperState::Ok => PaperLevel::Ok,
            PaperState::NearEnd => PaperLevel::Low,
            PaperState::End => PaperLevel::Out,
        },
        cover_open: s.cover_open,
    }
}

impl Printer for EscPos {
    fn profile(&self) -> PrinterProfile {
        self.driver.config().profile
    }

    fn health(&mut self) -> BoxFuture<'_, Option<PrinterHealth>> {
        Box::pin(async move {
            Some(match self.driver.status().await {
                Ok(s) => printer_health(&s),
                // No answer: what it last said about paper and cover, but offline.
                Err(_) => PrinterHealth {
                    online: false,
                    ..self.driver.last_status().map_or(
                        PrinterHealth {
                            online: false,
                            paper: PaperLevel::Ok,
                            cover_open: false,
                        },
                        |s| printer_health(&s),
                    )
                },
            })
        })
    }

    fn set_paper(&mut self, paper: PaperWidth) {
        if self.driver.config().profile.paper == paper {
            return;
        }
        // The driver's profile is fixed at construction: a new driver on the same endpoint
        // (it connects on its first job; nothing is lost, the agent prints between payments).
        let mut config = self.driver.config().clone();
        config.profile.paper = paper;
        *self = EscPos::new(config, self.status.clone(), Arc::clone(&self.clock));
    }

    fn print(&mut self, receipt: Receipt) -> BoxFuture<'_, PrintResult> {
        Box::pin(async move {
            match self.driver.print(&receipt).await {
                Ok(_) => PrintResult::Printed,
                Err(e) => PrintResult::Failed {
                    code: e.code().to_owned(),
                    maybe_printed: e.stage() == JobStage::Sent,
                },
            }
        })
    }

    fn open_drawer(&mut self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.driver.open().await.err().map(|e| e.code().to_owned()) })
    }
}

/// A shared terminal.
pub type SharedTerminal = Arc<tokio::sync::Mutex<Box<dyn Terminal>>>;
/// A shared printer.
pub type SharedPrinter = Arc<tokio::sync::Mutex<Box<dyn Printer>>>;

/// The simulators behind the demo mode's devices.
#[derive(Debug, Default)]
pub struct Sims {
    /// The card terminal.
    pub terminal: Option<drivers::sim::terminal::TerminalSim>,
    /// The printer.
    pub printer: Option<drivers::sim::printer::PrinterSim>,
    /// The scanner (written by `POST /sim/scan`).
    pub scanner: Option<tokio::sync::Mutex<drivers::sim::scanner::ScannerSim>>,
}

/// The devices, started.
pub struct DeviceSet {
    /// The card terminal.
    pub terminal: Option<SharedTerminal>,
    /// The printer.
    pub printer: Option<SharedPrinter>,
    /// Whether a drawer is wired to the printer.
    pub drawer: bool,
    /// Their states.
    pub status: StatusBoard,
    /// Demo simulators.
    pub sims: Sims,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for DeviceSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSet")
            .field("terminal", &self.terminal.is_some())
            .field("printer", &self.printer.is_some())
            .field("drawer", &self.drawer)
            .field("sims", &self.sims)
            .finish()
    }
}

impl DeviceSet {
    /// No devices (tests plug fakes in afterwards).
    pub fn empty() -> DeviceSet {
        DeviceSet {
            terminal: None,
            printer: None,
            drawer: false,
            status: StatusBoard::default(),
            sims: Sims::default(),
            tasks: Vec::new(),
        }
    }

    /// Stop the supervision tasks.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(p) = &self.sims.printer {
            p.unplug();
        }
        if let Some(t) = &self.sims.terminal {
            t.stop();
        }
    }

    /// Start the configured devices (and their simulators in demo mode).
    pub async fn start(
        config: &Config,
        notes: NoteSink,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<DeviceSet, DeviceError> {
        let mut set = DeviceSet::empty();
        set.drawer = config.devices.drawer;
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));

        // Card terminal.
        let terminal_endpoint = match &config.devices.terminal {
            DeviceEndpoint::None => None,
            DeviceEndpoint::Real(s) => Some(s.clone()),
            DeviceEndpoint::Sim => {
                let sim_config = drivers::sim::terminal::TerminalSimConfig {
                    terminal_id: config
                        .devices
                        .terminal_id
                        .clone()
                        .replace("00000000", "12345678"),
                    ..Default::default()
                };
                let sim = drivers::sim::terminal::TerminalSim::tcp(loopback, sim_config)
                    .await
                    .map_err(DeviceError::Simulator)?;
                let e = sim.endpoint();
                set.sims.terminal = Some(sim);
                Some(e)
            }
        };
        if let Some(endpoint) = terminal_endpoint {
            let ep = Endpoint::parse(&endpoint).map_err(|e| DeviceError::Config(e.to_string()))?;
            let tid = TerminalId::parse(&config.devices.terminal_id)
                .map_err(|e| DeviceError::Config(e.to_string()))?;
            let cr = CashRegisterId::parse(&config.devices.cash_register)
                .map_err(|e| DeviceError::Config(e.to_string()))?;
            let mut session = SessionConfig::new(tid, cr);
            session.result_timeout = config.timeouts.card_result;
            let ecr = Ecr17Config::new(ep, session);
            let extended = ecr.extended_payments;
            let driver = Ecr17Terminal::new(ecr);
            let mut events = driver.subscribe();
            set.status.register("terminal", &endpoint);
            let status = set.status.clone();
            let sink = Arc::clone(&notes);
            let clk = Arc::clone(&clock);
            set.tasks.push(tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(TerminalEvent::Progress(text)) => {
                            status.detail("terminal", text.clone());
                            sink(Note::Progress(text));
                        }
                        Ok(TerminalEvent::Connected { .. }) => {
                            status.set("terminal", "connected", None, clk.now())
                        }
                        Ok(TerminalEvent::Disconnected { code, .. }) => {
                            status.set("terminal", "disconnected", Some(code), clk.now());
                        }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            }));
            let t: Box<dyn Terminal> =
                Box::new(Ecr17::new(driver, extended, config.timeouts.card_result));
            set.terminal = Some(Arc::new(tokio::sync::Mutex::new(t)));
        }

        // Printer (and drawer).
        let printer_endpoint = match &config.devices.printer {
            DeviceEndpoint::None => None,
            DeviceEndpoint::Real(s) => Some(s.clone()),
            DeviceEndpoint::Sim => {
                let sim = drivers::sim::printer::PrinterSim::tcp(loopback, Default::default())
                    .await
                    .map_err(DeviceError::Simulator)?;
                let e = sim.endpoint();
                set.sims.printer = Some(sim);
                Some(e)
            }
        };
        if let Some(endpoint) = printer_endpoint {
            let ep = Endpoint::parse(&endpoint).map_err(|e| DeviceError::Config(e.to_string()))?;
            let mut pc = PrinterConfig::new(ep);
            pc.drawer.sensor = false;
            pc.profile.paper = config.receipt.width;
            set.status.register("printer", &endpoint);
            let p: Box<dyn Printer> =
                Box::new(EscPos::new(pc, set.status.clone(), Arc::clone(&clock)));
            set.printer = Some(Arc::new(tokio::sync::Mutex::new(p)));
        }

        // Scanner.
        let scanner_endpoint = match &config.devices.scanner {
            DeviceEndpoint::None => None,
            DeviceEndpoint::Real(s) => Some(s.clone()),
            DeviceEndpoint::Sim => {
                let sim = drivers::sim::scanner::ScannerSim::new(
                    None,
                    drivers::sim::scanner::ScannerSimConfig {
                        baud: None,
                        ..Default::default()
                    },
                )
                .map_err(DeviceError::Simulator)?;
                let path = sim
                    .device_path()
                    .map(|p| p.display().to_string())
                    .ok_or_else(|| {
                        DeviceError::Config("scanner simulator without a device".into())
                    })?;
                set.sims.scanner = Some(tokio::sync::Mutex::new(sim));
                Some(path)
            }
        };
        if let Some(endpoint) = scanner_endpoint {
            let ep = Endpoint::parse(&endpoint).map_err(|e| DeviceError::Config(e.to_string()))?;
            let mut scanner = SerialScanner::new(ScannerPortConfig::new(ep));
            set.status.register("scanner", &endpoint);
            let status = set.status.clone();
            let sink = Arc::clone(&notes);
            let clk = Arc::clone(&clock);
            set.tasks.push(tokio::spawn(async move {
                loop {
                    match scanner.next_event().await {
                        ScannerEvent::Code { text, .. } => sink(Note::Scan(text)),
                        ScannerEvent::Rejected(e) => {
                            status.set("scanner", "connected", Some(e.code()), clk.now())
                        }
                        ScannerEvent::Connected => {
                            status.set("scanner", "connected", None, clk.now())
                        }
                        ScannerEvent::Disconnected(e) => {
                            status.set("scanner", "disconnected", Some(e.code()), clk.now());
                        }
                        ScannerEvent::Unavailable(e) => {
                            status.set("scanner", "unavailable", Some(e.code()), clk.now());
                        }
                        _ => {}
                    }
                }
            }));
        }
        Ok(set)
    }
}
