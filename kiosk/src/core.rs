//! The executor: the one place where the flow's decisions meet the journal, the adapter and the
//! devices.
//!
//! It runs on a dedicated thread that owns the [`Journal`] and the [`Ledger`], so SQLite's
//! blocking writes (each one fsynced) never stall the async runtime, and there is exactly one
//! writer. Everything else talks to it through [`Input`]s on a channel. For every input it:
//!
//! 1. lets the flow handle the event on a *copy* (a refused action changes nothing and is not
//!    journaled; a tick that changes nothing is not journaled either);
//! 2. journals the event, then adopts the new state;
//! 3. for each effect, journals its intent (with the terminal's marker for a charge, the exact
//!    printer bytes for a print), and only then starts it on the runtime;
//! 4. turns the effect's result into the next event, which comes back as an input.
//!
//! A failed journal write stops there: the state is not adopted and no effect runs (the agent
//! shows "out of service"). That is the "durable before effect" invariant, enforced in one
//! place.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use channel_api::{OfflineItemResult, Payment, Tender, Timestamp, VerifyResponse};
use pagopa::Amount;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::adapter::AdapterClient;
use crate::clock::{Clock, local_day};
use crate::config::{Config, Mode};
use crate::devices::{SharedPrinter, SharedTerminal};
use crate::flow::{
    CardResult, Effect, Event, Failure, Flow, FlowError, FlowId, LastResult, NoticeRef,
    OfflineDecision, Policy, PrintResult, Refusal, Stage,
};
use crate::journal::{Journal, JournalError};
use crate::ledger::Ledger;
use crate::receipt;
use crate::record::Record;

/// What a person did on a screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Accept amount and fee.
    Confirm {
        /// The tender, at a counter.
        tender: Option<Tender>,
    },
    /// Pay.
    Pay {
        /// Card or cash.
        tender: Tender,
        /// Cash handed over.
        tendered: Option<Amount>,
    },
    /// Cancel.
    Cancel,
    /// More time.
    MoreTime,
    /// Back to the start screen.
    Done,
    /// A clerk voids the payment on screen.
    Void,
    /// A clerk asks for a copy of a receipt.
    Reprint(FlowId),
    /// A clerk records what was done about an exception.
    Resolve(FlowId, String),
}

/// An effect's result.
#[derive(Debug, Clone)]
pub enum Output {
    /// Verify.
    Verified(Result<VerifyResponse, Failure>),
    /// Activate.
    Activated(Result<Payment, Failure>),
    /// The terminal's marker is known: the charge can be journaled and started.
    ChargeReady {
        /// The amount.
        amount: Amount,
        /// The marker.
        marker: Option<String>,
    },
    /// Charge.
    Card(CardResult),
    /// Last result.
    LastResult(LastResult),
    /// Drawer.
    Drawer(Option<String>),
    /// Outcome.
    Outcome(Result<Payment, Failure>),
    /// Poll.
    Polled(Result<Payment, Failure>),
    /// Print.
    Printed(PrintResult),
}

/// A closure run on the executor's thread with the core in hand (queries, audit records).
pub type Job = Box<dyn FnOnce(&mut Core) + Send>;

/// Run `f` on the executor (the one owner of the flows and the journal) and wait for its
/// answer; `None` if the executor has stopped.
pub(crate) async fn ask<T: Send + 'static>(
    tx: &mpsc::Sender<Input>,
    f: impl FnOnce(&mut Core) -> T + Send + 'static,
) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    tx.send(Input::Job(Box::new(move |core| {
        let _ = reply.send(f(core));
    })))
    .ok()?;
    answer.await.ok()
}

/// An input to the executor.
pub enum Input {
    /// A scanned (or pasted) label.
    Scan {
        /// The raw text.
        payload: String,
        /// The clerk (counter).
        operator: Option<String>,
        /// Where to answer, if someone waits.
        reply: Option<oneshot::Sender<Result<FlowView, FlowError>>>,
    },
    /// A notice typed by hand.
    Manual {
        /// The notice number as typed.
        notice: String,
        /// The creditor's fiscal code as typed.
        fiscal_code: String,
        /// The clerk.
        operator: Option<String>,
        /// Where to answer.
        reply: oneshot::Sender<Result<FlowView, FlowError>>,
    },
    /// A button.
    Action {
        /// What.
        action: Action,
        /// The clerk.
        operator: Option<String>,
        /// Where to answer.
        reply: oneshot::Sender<Result<FlowView, FlowError>>,
    },
    /// An effect finished.
    Result {
        /// The flow.
        flow: FlowId,
        /// What it produced.
        output: Output,
    },
    /// The adapter answered an offline batch item.
    Forwarded {
        /// The flow.
        flow: FlowId,
        /// The item's result.
        result: OfflineItemResult,
    },
    /// The terminal's progress text.
    Progress(String),
    /// Whether the adapter answers.
    Online(bool, Timestamp),
    /// Run a closure on the core.
    Job(Job),
    /// Stop.
    Shutdown,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Scan { .. } => f.write_str("Scan"),
            Input::Manual { .. } => f.write_str("Manual"),
            Input::Action { action, .. } => write!(f, "Action({action:?})"),
            Input::Result { flow, .. } => write!(f, "Result({flow})"),
            Input::Forwarded { flow, .. } => write!(f, "Forwarded({flow})"),
            Input::Progress(_) => f.write_str("Progress"),
            Input::Online(o, _) => write!(f, "Online({o})"),
            Input::Job(_) => f.write_str("Job"),
            Input::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// The notice as shown on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    /// 18 digits.
    pub notice_number: String,
    /// 11 digits.
    pub fiscal_code: String,
    /// The creditor.
    pub creditor_name: Option<String>,
    /// What for.
    pub description: Option<String>,
    /// Amount due, cents.
    pub amount_cents: Option<u64>,
    /// Fee for the chosen (or default) tender, cents.
    pub fee_cents: Option<u64>,
    /// Total, cents.
    pub total_cents: Option<u64>,
    /// Due date.
    pub due_date: Option<String>,
}

/// A fee per tender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeView {
    /// The tender.
    pub tender: Tender,
    /// Fee, cents.
    pub fee_cents: u64,
    /// Total, cents.
    pub total_cents: u64,
}

/// Terminal progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressView {
    /// `TERMINAL`.
    pub code: String,
    /// As the terminal sent it.
    pub text: String,
}

/// The logged-in clerk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorView {
    /// Login.
    pub id: String,
    /// Name.
    pub name: String,
}

/// What the screen shows: see `UI_API.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowView {
    /// `kiosk` or `counter`.
    pub mode: Mode,
    /// The screen.
    pub screen: String,
    /// The flow (receipt number).
    pub flow_id: Option<String>,
    /// The notice.
    pub notice: Option<NoticeView>,
    /// Milliseconds before the screen times out.
    pub deadline_ms_left: Option<i64>,
    /// Terminal progress.
    pub progress: Option<ProgressView>,
    /// An error to show.
    pub error: Option<FlowError>,
    /// The receipt to preview, once printing started.
    pub receipt_id: Option<String>,
    /// The adapter cannot be reached.
    pub offline: bool,
    /// The clerk.
    pub operator: Option<OperatorView>,
    /// Languages.
    pub languages: Vec<String>,
    /// How the fee is shown on the confirmation screen (additive).
    pub fee_display: channel_api::fleet::FeeDisplay,
    /// The tender chosen (additive).
    pub tender: Option<Tender>,
    /// Tenders that may be chosen now (additive).
    pub methods: Vec<Tender>,
    /// Fee and total per tender (additive).
    pub fees: Vec<FeeView>,
    /// Cash handed over, cents (additive).
    pub tendered_cents: Option<u64>,
    /// Change to give, cents (additive).
    pub change_cents: Option<u64>,
    /// This payment is being taken offline (additive).
    pub offline_payment: bool,
    /// The drawer did not open: the clerk opens it with the key (additive).
    pub drawer_error: Option<String>,
    /// The agent cannot take payments (journal failure) (additive).
    pub out_of_service: Option<String>,
}

/// The executor's state. See the module documentation.
pub struct Core {
    pub(crate) config: Arc<Config>,
    pub(crate) policy: Policy,
    pub(crate) journal: Journal,
    pub(crate) ledger: Ledger,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) adapter: AdapterClient,
    pub(crate) terminal: Option<SharedTerminal>,
    pub(crate) printer: Option<SharedPrinter>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) tx: mpsc::Sender<Input>,
    view: watch::Sender<FlowView>,
    progress: Option<String>,
    transient: Option<(FlowError, Timestamp)>,
    drawer_error: Option<(FlowId, String)>,
    pub(crate) online: bool,
    pub(crate) last_contact: Option<Timestamp>,
    pub(crate) operator: Option<OperatorView>,
    pub(crate) errors: VecDeque<(Timestamp, String)>,
    pub(crate) journal_check: Result<crate::journal::Verified, String>,
    out_of_service: Option<String>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("flows", &self.ledger.len())
            .field("online", &self.online)
            .finish()
    }
}

const RECENT_ERRORS: usize = 20;

/// The policy the flows obey, from the configuration.
pub fn policy_of(config: &Config, card: bool, drawer: bool) -> Policy {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    Policy {
        mode: config.mode,
        screen_ms: ms(config.timeouts.screen),
        done_ms: ms(config.timeouts.done),
        last_result_retry_ms: ms(config.timeouts.last_result_retry),
        retry_ms: ms(config.timeouts.last_result_retry).clamp(100, 10_000),
        card,
        drawer,
    }
}

fn random_bytes() -> [u8; 8] {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: the clock's nanoseconds still make a collision unlikely, and a
        // flow id is not a secret.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = n.to_be_bytes();
    }
    b
}

/// The parts the executor is built from.
pub struct Parts {
    /// Configuration.
    pub config: Arc<Config>,
    /// The journal, opened.
    pub journal: Journal,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The adapter's client.
    pub adapter: AdapterClient,
    /// The terminal, if any.
    pub terminal: Option<SharedTerminal>,
    /// The printer, if any.
    pub printer: Option<SharedPrinter>,
    /// Whether a drawer is wired.
    pub drawer: bool,
    /// The runtime effects run on.
    pub runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("config", &self.config)
            .field("terminal", &self.terminal.is_some())
            .field("printer", &self.printer.is_some())
            .field("drawer", &self.drawer)
            .finish()
    }
}

impl Core {
    /// Rebuild from the journal and resume interrupted flows. Returns the core and the channel
    /// its inputs arrive on.
    pub fn recover(
        parts: Parts,
        tx: mpsc::Sender<Input>,
        view: watch::Sender<FlowView>,
    ) -> Result<Core, JournalError> {
        let policy = policy_of(
            &parts.config,
            parts.terminal.is_some(),
            parts.drawer && parts.printer.is_some(),
        );
        let journal_check = parts.journal.verify().map_err(|e| e.to_string());
        if let Err(e) = &journal_check {
            tracing::error!(error = %e, "the journal's chain is broken: payments go on, staff must look");
        }
        let stored = crate::record::read_all(&parts.journal.entries()?)?;
        let ledger = Ledger::load(&stored, &policy);
        let mut core = Core {
            config: parts.config,
            policy,
            journal: parts.journal,
            ledger,
            clock: parts.clock,
            adapter: parts.adapter,
            terminal: parts.terminal,
            printer: parts.printer,
            runtime: parts.runtime,
            tx,
            view,
            progress: None,
            transient: None,
            drawer_error: None,
            online: true,
            last_contact: None,
            operator: None,
            errors: VecDeque::new(),
            journal_check,
            out_of_service: None,
        };
        let resume = core.ledger.recovery();
        if !resume.is_empty() {
            tracing::warn!(
                flows = resume.len(),
                "resuming flows interrupted by a restart"
            );
        }
        for (flow, event) in resume {
            if let Err(e) = core.dispatch(&flow, event) {
                tracing::error!(flow = %flow, code = %e.code, "could not resume a flow");
            }
        }
        core.publish();
        Ok(core)
    }

    /// The executor's loop: until [`Input::Shutdown`] or every sender is gone.
    pub fn run(mut self, rx: mpsc::Receiver<Input>) {
        loop {
            let now = self.clock.now();
            let wait = self
                .ledger
                .next_due()
                .map_or(250, |d| d.millis_since(now).clamp(0, 250));
            match rx.recv_timeout(Duration::from_millis(u64::try_from(wait).unwrap_or(250))) {
                Ok(Input::Shutdown) => break,
                Ok(input) => self.input(input),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            self.tick();
            self.publish();
        }
        tracing::info!("executor stopped");
    }

    pub(crate) fn note_error(&mut self, text: String) {
        tracing::warn!("{text}");
        if self.errors.len() == RECENT_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back((self.clock.now(), text));
    }

    /// Append a record. On failure the agent goes out of service.
    pub(crate) fn write(&mut self, record: &Record) -> Result<u64, FlowError> {
        let now = self.clock.now();
        self.write_at(record, now)
    }

    /// Append a record stamped `now`: an event carries the instant the flow handled it, so that
    /// a replay rebuilds the very same state (an OK outcome resent after a crash must be the
    /// same body, `paid_at` included, or the adapter sees a conflict).
    fn write_at(&mut self, record: &Record, now: Timestamp) -> Result<u64, FlowError> {
        let body = record.body().map_err(|e| {
            tracing::error!(error = %e, "a record cannot be encoded");
            FlowError::local("JOURNAL_FAILED")
        })?;
        match self.journal.append(now, &record.kind(), &body) {
            Ok(seq) => Ok(seq),
            Err(e) => {
                let text = format!("journal write failed ({}): {e}", e.code());
                tracing::error!("{text}");
                self.out_of_service = Some(e.code().to_owned());
                self.note_error(text);
                Err(FlowError::local("JOURNAL_FAILED"))
            }
        }
    }

    /// Feed an event to a flow: on a copy, journal, adopt, run the effects.
    pub(crate) fn dispatch(&mut self, flow_id: &FlowId, event: Event) -> Result<(), FlowError> {
        let now = self.clock.now();
        let (next, effects) = match self.ledger.flow(flow_id) {
            Some(current) => {
                let mut copy = current.clone();
                let effects = copy
                    .handle(&event, now, &self.policy)
                    .map_err(|Refusal(e)| e)?;
                let mut unchanged = copy.clone();
                unchanged.updated_at = current.updated_at;
                if effects.is_empty() && &unchanged == current {
                    return Ok(());
                }
                (copy, effects)
            }
            None => Flow::start(&event, now, &self.policy)
                .ok_or_else(|| FlowError::local("NOT_ALLOWED_NOW"))?,
        };
        let record = Record::event(flow_id.clone(), event);
        self.write_at(&record, now)?;
        crate::failpoint::journaled(&record);
        if let Some(p) = &next.payment {
            tracing::info!(flow = %flow_id, stage = ?next.stage, payment = %p.id, "flow");
        } else {
            tracing::info!(flow = %flow_id, stage = ?next.stage, "flow");
        }
        self.ledger.put(next);
        for effect in effects {
            self.execute(flow_id, effect);
        }
        Ok(())
    }

    fn send_back(
        &self,
        flow: FlowId,
        fut: impl std::future::Future<Output = Output> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        self.runtime.spawn(async move {
            let output = fut.await;
            let _ = tx.send(Input::Result { flow, output });
        });
    }

    fn execute(&mut self, flow: &FlowId, effect: Effect) {
        // A charge needs the terminal's marker in its intent: ask first, journal when known.
        if let Effect::Charge { amount } = effect {
            let Some(t) = self.terminal.clone() else {
                self.send_back(flow.clone(), async {
                    Output::Card(CardResult::Failed {
                        code: "TERMINAL_ABSENT".into(),
                    })
                });
                return;
            };
            self.send_back(flow.clone(), async move {
                let marker = t.lock().await.marker().await;
                Output::ChargeReady { amount, marker }
            });
            return;
        }
        let document = match &effect {
            Effect::Print { copy } => self.document(flow, *copy),
            _ => None,
        };
        let encoded = document
            .as_ref()
            .map(|(_, bytes)| base64::engine::general_purpose::STANDARD.encode(bytes));
        let marker = match &effect {
            Effect::LastResult { .. } => self.ledger.marker(flow).map(str::to_owned),
            _ => None,
        };
        if self
            .write(&Record::Intent {
                flow: flow.clone(),
                effect: effect.clone(),
                marker: None,
                document: encoded,
            })
            .is_err()
        {
            return;
        }
        self.ledger.note_intent(
            flow,
            &effect,
            None,
            document.as_ref().map(|(_, b)| b.as_slice()),
        );
        crate::failpoint::reached(crate::failpoint::Step::Intent, effect.name());
        let adapter = self.adapter.clone();
        match effect {
            Effect::Verify { request } => {
                self.send_back(flow.clone(), async move {
                    Output::Verified(adapter.verify(&request).await)
                });
            }
            Effect::Activate { request } => {
                self.send_back(flow.clone(), async move {
                    Output::Activated(adapter.activate(&request).await)
                });
            }
            Effect::SendOutcome { payment, request } => {
                self.send_back(flow.clone(), async move {
                    Output::Outcome(adapter.outcome(&payment, &request).await)
                });
            }
            Effect::Poll { payment } => {
                self.send_back(flow.clone(), async move {
                    Output::Polled(adapter.payment(&payment).await)
                });
            }
            Effect::LastResult { amount } => {
                let t = self.terminal.clone();
                self.send_back(flow.clone(), async move {
                    match t {
                        Some(t) => {
                            Output::LastResult(t.lock().await.last_result(amount, marker).await)
                        }
                        None => Output::LastResult(LastResult::Unresolved {
                            reason: "TERMINAL_ABSENT".into(),
                        }),
                    }
                });
            }
            Effect::OpenDrawer => {
                let p = self.printer.clone();
                self.send_back(flow.clone(), async move {
                    match p {
                        Some(p) => Output::Drawer(p.lock().await.open_drawer().await),
                        None => Output::Drawer(Some("PRINTER_ABSENT".into())),
                    }
                });
            }
            Effect::Print { .. } => {
                let p = self.printer.clone();
                let receipt = document.map(|(r, _)| r);
                self.send_back(flow.clone(), async move {
                    match (p, receipt) {
                        (Some(p), Some(r)) => Output::Printed(p.lock().await.print(r).await),
                        (None, _) => Output::Printed(PrintResult::Failed {
                            code: "PRINTER_ABSENT".into(),
                            maybe_printed: false,
                        }),
                        (_, None) => Output::Printed(PrintResult::Failed {
                            code: "RECEIPT_UNAVAILABLE".into(),
                            maybe_printed: false,
                        }),
                    }
                });
            }
            Effect::Charge { .. } => {}
        }
    }

    /// The receipt document of a flow and its bytes.
    fn document(&self, flow: &FlowId, copy: bool) -> Option<(drivers::escpos::Receipt, Vec<u8>)> {
        let f = self.ledger.flow(flow)?;
        let r = receipt::payment_receipt(f, &self.config, copy)?;
        let profile = drivers::escpos::PrinterProfile {
            paper: self.config.receipt.width,
            ..Default::default()
        };
        let bytes = r.encode(&profile).ok()?;
        Some((r, bytes))
    }

    fn charge_ready(&mut self, flow: &FlowId, amount: Amount, marker: Option<String>) {
        let effect = Effect::Charge { amount };
        if self
            .write(&Record::Intent {
                flow: flow.clone(),
                effect: effect.clone(),
                marker: marker.clone(),
                document: None,
            })
            .is_err()
        {
            return;
        }
        self.ledger
            .note_intent(flow, &effect, marker.as_deref(), None);
        crate::failpoint::reached(crate::failpoint::Step::Intent, effect.name());
        let t = self.terminal.clone();
        self.send_back(flow.clone(), async move {
            match t {
                Some(t) => Output::Card(t.lock().await.charge(amount).await),
                None => Output::Card(CardResult::Failed {
                    code: "TERMINAL_ABSENT".into(),
                }),
            }
        });
    }

    fn contact(&mut self, ok: bool) {
        let now = self.clock.now();
        if ok {
            self.last_contact = Some(now);
        }
        if self.online != ok {
            tracing::info!(online = ok, "adapter reachability changed");
        }
        self.online = ok;
    }

    fn reached<T>(&mut self, r: &Result<T, Failure>) {
        self.contact(!matches!(r, Err(Failure::Unreachable { .. })));
    }

    /// Whether cash may be taken offline for this flow now.
    pub(crate) fn offline_decision(&self, flow: &Flow) -> OfflineDecision {
        let refuse = |code: &str| OfflineDecision::Refused { code: code.into() };
        let o = &self.config.offline;
        if !o.enabled || !self.config.accepts(Tender::Cash) {
            return refuse("OFFLINE_NOT_ALLOWED");
        }
        let Some(amount) = flow.notice.printed_amount else {
            return refuse("OFFLINE_NO_AMOUNT");
        };
        if amount > o.max_payment {
            return refuse("OFFLINE_LIMIT_PAYMENT");
        }
        let fee = o.fee(amount);
        let (outstanding, oldest) = self.ledger.outstanding();
        let after = amount
            .checked_add(fee)
            .and_then(|t| t.checked_add(outstanding))
            .unwrap_or(Amount::MAX);
        if after > o.max_outstanding {
            return refuse("OFFLINE_LIMIT_OUTSTANDING");
        }
        let max_age = i64::try_from(o.max_age.as_millis()).unwrap_or(i64::MAX);
        if oldest.is_some_and(|t| self.clock.now().millis_since(t) > max_age) {
            return refuse("OFFLINE_LIMIT_AGE");
        }
        OfflineDecision::Allowed { fee }
    }

    fn result(&mut self, flow: FlowId, output: Output) {
        crate::failpoint::effect_done(&output);
        let event = match output {
            Output::ChargeReady { amount, marker } => {
                return self.charge_ready(&flow, amount, marker);
            }
            Output::Verified(result) => {
                self.reached(&result);
                let offline = match (&result, self.ledger.flow(&flow)) {
                    (Err(Failure::Unreachable { .. }), Some(f)) => Some(self.offline_decision(f)),
                    _ => None,
                };
                Event::Verified { result, offline }
            }
            Output::Activated(result) => {
                self.reached(&result);
                Event::Activated { result }
            }
            Output::Card(result) => {
                self.progress = None;
                Event::Card { result }
            }
            Output::LastResult(result) => Event::LastResult { result },
            Output::Drawer(error) => {
                if let Some(e) = &error {
                    self.note_error(format!("drawer: {e}"));
                    self.drawer_error = Some((flow.clone(), e.clone()));
                }
                Event::Drawer { error }
            }
            Output::Outcome(result) => {
                self.reached(&result);
                Event::Outcome { result }
            }
            Output::Polled(result) => {
                self.reached(&result);
                Event::AdapterState { result }
            }
            Output::Printed(result) => {
                if let PrintResult::Failed { code, .. } = &result {
                    self.note_error(format!("printer: {code}"));
                }
                Event::Printed { result }
            }
        };
        if let Err(e) = self.dispatch(&flow, event) {
            self.note_error(format!("flow {flow}: {}", e.code));
        }
    }

    fn start(
        &mut self,
        notice: NoticeRef,
        operator: Option<String>,
    ) -> Result<FlowView, FlowError> {
        if self.out_of_service.is_some() {
            return Err(FlowError::local("JOURNAL_FAILED"));
        }
        if self.ledger.current().is_some() {
            return Err(FlowError::local("BUSY"));
        }
        let now = self.clock.now();
        let flow = local_day(now)
            .and_then(|day| FlowId::generate(day, random_bytes()))
            .ok_or_else(|| FlowError::local("NOT_ALLOWED_NOW"))?;
        self.transient = None;
        self.progress = None;
        self.dispatch(
            &flow.clone(),
            Event::Started {
                flow,
                mode: self.config.mode,
                notice,
                operator,
            },
        )?;
        Ok(self.view())
    }

    fn scan_failed(&mut self, code: &str, it: String, en: String) -> FlowError {
        let e = FlowError {
            code: code.to_owned(),
            message_it: it,
            message_en: en,
            retryable: true,
        };
        if self.ledger.current().is_none() {
            self.transient = Some((e.clone(), self.clock.now().add_millis(self.policy.done_ms)));
        }
        e
    }

    fn operator_for(&self, explicit: Option<String>) -> Result<Option<String>, FlowError> {
        let op = explicit.or_else(|| self.operator.as_ref().map(|o| o.id.clone()));
        if self.config.mode == Mode::Counter && op.is_none() {
            return Err(FlowError::local("LOGIN_REQUIRED"));
        }
        Ok(op)
    }

    fn input(&mut self, input: Input) {
        match input {
            Input::Scan {
                payload,
                operator,
                reply,
            } => {
                let r = self.operator_for(operator).and_then(|op| {
                    match pagopa::scan::decode(&payload, self.config.check_mode) {
                        Ok(n) => self.start(NoticeRef::from_scan(&n), op),
                        Err(e) => Err(self.scan_failed(
                            "SCAN_UNREADABLE",
                            e.citizen_message(),
                            e.citizen_message_en(),
                        )),
                    }
                });
                if let Err(e) = &r {
                    tracing::info!(code = %e.code, "scan refused");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(r);
                }
            }
            Input::Manual {
                notice,
                fiscal_code,
                operator,
                reply,
            } => {
                let r = self.operator_for(operator).and_then(|op| {
                    match pagopa::scan::manual(&notice, &fiscal_code, self.config.check_mode) {
                        Ok(n) => self.start(NoticeRef::from_scan(&n), op),
                        Err(e) => Err(FlowError {
                            code: e.code().to_owned(),
                            message_it: e.citizen_message(),
                            message_en: e.citizen_message_en(),
                            retryable: true,
                        }),
                    }
                });
                let _ = reply.send(r);
            }
            Input::Action {
                action,
                operator,
                reply,
            } => {
                let r = self.action(action, operator).map(|()| self.view());
                let _ = reply.send(r);
            }
            Input::Result { flow, output } => self.result(flow, output),
            Input::Forwarded { flow, result } => {
                if let Err(e) = self.dispatch(&flow, Event::Forwarded { result }) {
                    self.note_error(format!("flow {flow}: {}", e.code));
                }
            }
            Input::Progress(text) => self.progress = Some(text),
            Input::Online(ok, _) => self.contact(ok),
            Input::Job(job) => job(self),
            Input::Shutdown => {}
        }
    }

    fn action(&mut self, action: Action, operator: Option<String>) -> Result<(), FlowError> {
        let staff =
            |op: &Option<String>| op.clone().ok_or_else(|| FlowError::local("LOGIN_REQUIRED"));
        let current = || -> Result<FlowId, FlowError> { Err(FlowError::local("NOT_ALLOWED_NOW")) };
        let (flow, event) = match action {
            Action::Reprint(flow) => (
                flow,
                Event::Reprint {
                    operator: operator.clone(),
                },
            ),
            Action::Resolve(flow, what) => (
                flow,
                Event::Resolve {
                    action: what,
                    operator: staff(&operator)?,
                },
            ),
            other => {
                let Some(flow) = self.ledger.current().map(|f| f.id.clone()) else {
                    if matches!(other, Action::Done | Action::Cancel) && self.transient.is_some() {
                        self.transient = None;
                        return Ok(());
                    }
                    return current().map(|_| ());
                };
                let op = if self.config.mode == Mode::Counter {
                    operator
                        .clone()
                        .or_else(|| self.operator.as_ref().map(|o| o.id.clone()))
                } else {
                    None
                };
                let event = match other {
                    Action::Confirm { tender } => Event::Confirmed { tender },
                    Action::Pay { tender, tendered } => Event::Pay {
                        tender,
                        tendered,
                        operator: op,
                    },
                    Action::Cancel => Event::Cancel,
                    Action::MoreTime => Event::MoreTime,
                    Action::Done => Event::Done,
                    Action::Void => Event::Void {
                        operator: staff(&op)?,
                    },
                    Action::Reprint(_) | Action::Resolve(..) => return current().map(|_| ()),
                };
                (flow, event)
            }
        };
        if self.ledger.flow(&flow).is_none() {
            return Err(FlowError::local("NOT_ALLOWED_NOW"));
        }
        self.dispatch(&flow, event)
    }

    fn tick(&mut self) {
        let now = self.clock.now();
        if self
            .transient
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            self.transient = None;
        }
        for flow in self.ledger.due(now) {
            if let Err(e) = self.dispatch(&flow, Event::Tick) {
                self.note_error(format!("flow {flow}: {}", e.code));
            }
        }
    }

    /// The view of the screen now.
    pub fn view(&self) -> FlowView {
        let now = self.clock.now();
        let mut v = FlowView {
            mode: self.config.mode,
            screen: "idle".into(),
            flow_id: None,
            notice: None,
            deadline_ms_left: None,
            progress: None,
            error: None,
            receipt_id: None,
            offline: !self.online,
            operator: self.operator.clone(),
            languages: self.config.languages.clone(),
            fee_display: self.config.fee_display,
            tender: None,
            methods: Vec::new(),
            fees: Vec::new(),
            tendered_cents: None,
            change_cents: None,
            offline_payment: false,
            drawer_error: None,
            out_of_service: self.out_of_service.clone(),
        };
        let Some(f) = self.ledger.current() else {
            if let Some((e, until)) = &self.transient {
                v.screen = "error".into();
                v.error = Some(e.clone());
                v.deadline_ms_left = Some(until.millis_since(now).max(0));
            }
            return v;
        };
        v.screen = f.stage.screen().into();
        v.flow_id = Some(f.id.as_str().to_owned());
        let amounts = f.amounts();
        let verified = f.verified.as_ref();
        let payment = f.payment.as_ref();
        v.notice = Some(NoticeView {
            notice_number: f.notice.notice_number.as_str().to_owned(),
            fiscal_code: f.notice.fiscal_code.as_str().to_owned(),
            creditor_name: payment
                .and_then(|p| p.creditor_name.clone())
                .or_else(|| verified.and_then(|v| v.creditor_name.clone())),
            description: payment
                .and_then(|p| p.description.clone())
                .or_else(|| verified.and_then(|v| v.description.clone())),
            amount_cents: amounts.map(|a| a.0.cents()),
            fee_cents: amounts.map(|a| a.1.cents()),
            total_cents: amounts.map(|a| a.2.cents()),
            due_date: verified.and_then(|v| v.due_date).map(|d| d.to_string()),
        });
        v.deadline_ms_left = f.deadline.map(|d| d.millis_since(now).max(0));
        if matches!(f.stage, Stage::Charging | Stage::CardUnknown) {
            v.progress = self.progress.as_ref().map(|t| ProgressView {
                code: "TERMINAL".into(),
                text: t.clone(),
            });
        }
        v.error = f.error.clone();
        if f.receipt.printed > 0
            || matches!(f.stage, Stage::Printing | Stage::Done) && f.money_taken()
        {
            v.receipt_id = Some(f.id.as_str().to_owned());
        }
        v.tender = f.charge.as_ref().map(|c| c.tender).or(f.tender);
        let tenders: Vec<Tender> = Tender::ALL
            .into_iter()
            .filter(|t| self.config.accepts(*t))
            .filter(|t| !f.offline || *t == Tender::Cash)
            .filter(|t| self.config.mode == Mode::Counter || *t == Tender::Card)
            .collect();
        if matches!(f.stage, Stage::Confirm | Stage::Tender) {
            v.methods = tenders.clone();
        }
        if f.offline {
            if let Some((a, fee, total)) = amounts {
                let _ = a;
                v.fees.push(FeeView {
                    tender: Tender::Cash,
                    fee_cents: fee.cents(),
                    total_cents: total.cents(),
                });
            }
        } else if let Some(vr) = verified {
            v.fees = vr
                .fees
                .iter()
                .filter(|q| tenders.contains(&q.tender))
                .map(|q| FeeView {
                    tender: q.tender,
                    fee_cents: q.fee.cents(),
                    total_cents: q.total.cents(),
                })
                .collect();
        }
        if let Some(m) = &f.money {
            v.tendered_cents = m.tendered.map(Amount::cents);
            v.change_cents = m.change.map(Amount::cents);
        }
        v.offline_payment = f.offline;
        v.drawer_error = self
            .drawer_error
            .as_ref()
            .filter(|(id, _)| *id == f.id)
            .map(|(_, e)| e.clone());
        v
    }

    fn publish(&self) {
        let v = self.view();
        self.view.send_if_modified(|old| {
            // The countdown alone is not a change worth an event: clients count down locally.
            let mut a = old.clone();
            a.deadline_ms_left = None;
            let mut b = v.clone();
            b.deadline_ms_left = None;
            let changed = a != b;
            *old = v;
            changed
        });
    }

    /// The ledger (queries).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
