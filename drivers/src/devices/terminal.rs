//! The card terminal driver: the [`CardTerminal`] trait and its ECR17 implementation.
//!
//! The trait speaks of payments, reversals, last results and totals in protocol-neutral types
//! ([`CardOutcome`], [`CardReference`]), so that a ZVT or nexo driver can implement it later;
//! [`Ecr17Terminal`] drives the pure [`Session`] over a TCP or serial link.
//!
//! # Money safety
//!
//! A payment whose answer was lost (connection dropped, no result within the timeout, no
//! acknowledgement) returns [`CardOutcome::Unknown`]. The driver **never sends the payment
//! again**: the session is then in recovery and refuses every payment, reversal or close session
//! ([`TerminalError::RecoveryRequired`]) until the caller asks for the last result
//! ([`CardTerminal::last_result`]) and it resolves the lost operation ([`Recovery`]). Only the
//! link-level retransmission of the identical frame on the same connection, before the terminal
//! acknowledged it, happens inside the session (ecr17.md §3, §10.1).
//!
//! To make that resolution possible, the driver learns the terminal's last STAN (with a `G`)
//! before the first payment of its life, so that a later `G` can tell "approved" (a newer STAN)
//! from "never performed" (the same STAN). A result the protocol leaves unclear (`09`, an unknown
//! code) is treated the same way: unknown, and payments blocked until an operator decides
//! ([`Ecr17Terminal::abandon_recovery`]).
//!
//! Cancelling an operation's future midway (a caller's timeout) is itself a lost answer: the next
//! operation first closes the link and, for a payment, leaves the session in recovery.
//!
//! Durability is the caller's: persist the attempt before calling [`CardTerminal::pay`], persist
//! the outcome when it returns, and restore [`Ecr17Terminal::restore`] after a restart.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::broadcast;

use super::{EVENT_CAPACITY, now};
use crate::ecr17::message::TerminalState;
use crate::ecr17::{
    Command, Completion, LinkFailure, MessageError, Operation, Output, PaymentRequest,
    PendingRecovery, Reply, Resolution, Session, SessionConfig, SessionError, Stan,
    TicketAssembler, TransactionOutcome, TransactionResult,
};
use crate::transport::{Connection, Endpoint, Liveness, ReconnectPolicy, TransportError};

/// A card payment terminal.
pub trait CardTerminal {
    /// Asks the terminal for its state (also proves the link works).
    fn status(&mut self) -> impl Future<Output = Result<TerminalInfo, TerminalError>> + Send;

    /// Charges `amount_cents`. [`CardOutcome::Unknown`] must be resolved with
    /// [`last_result`](Self::last_result) before anything else moves money.
    fn pay(
        &mut self,
        amount_cents: u64,
    ) -> impl Future<Output = Result<CardOutcome, TerminalError>> + Send;

    /// Reverses the last transaction, only if it is the one referenced (the card is needed
    /// again).
    fn reverse_last(
        &mut self,
        reference: &CardReference,
    ) -> impl Future<Output = Result<CardOutcome, TerminalError>> + Send;

    /// The terminal's last saved result, and what it says about an operation whose outcome was
    /// unknown.
    fn last_result(&mut self) -> impl Future<Output = Result<LastResult, TerminalError>> + Send;

    /// End of day: closes the session and resets the terminal's totals. Not idempotent: after an
    /// unknown outcome, compare [`totals`](Self::totals) rather than closing again.
    fn close_session(
        &mut self,
    ) -> impl Future<Output = Result<SessionClosure, TerminalError>> + Send;

    /// The terminal's running total in cents.
    fn totals(&mut self) -> impl Future<Output = Result<u64, TerminalError>> + Send;
}

/// The terminal's answer to a status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalInfo {
    /// Its ID.
    pub terminal_id: String,
    /// Whether it says it is operative.
    pub ready: bool,
    /// Its state as reported (vendor-dependent wording).
    pub state: String,
    /// Its clock, as sent.
    pub clock: String,
    /// Software releases.
    pub software: Vec<String>,
}

/// What identifies a card transaction at the terminal: enough to reverse it or to match a
/// recovered result. No card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReference {
    /// Terminal ID.
    pub terminal_id: String,
    /// Transaction sequence number.
    pub stan: String,
    /// The terminal's online operation number.
    pub online_id: String,
}

/// An approved transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardApproval {
    /// Its reference.
    pub reference: CardReference,
    /// The card number as masked by the terminal.
    pub masked_pan: String,
    /// The host's authorisation code (none for reversals).
    pub auth_code: Option<String>,
    /// The amount the host authorised, where the protocol reports it (ECR17 `X`).
    pub host_amount_cents: Option<u64>,
    /// The terminal's receipt lines, when it sends them to the register.
    pub receipt: Vec<String>,
}

/// How a payment or reversal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutcome {
    /// Approved: money moved.
    Approved(CardApproval),
    /// Declined, failed or card not present: no money moved.
    Declined {
        /// The terminal's description.
        reason: String,
        /// Its reference, when the terminal gave one.
        reference: Option<CardReference>,
    },
    /// Not known: resolve with [`CardTerminal::last_result`]. Never retry the payment.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
}

/// Why an outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// The terminal never acknowledged the command (it may still have received it).
    NoAcknowledgement,
    /// Acknowledged, then no result within the result timeout.
    NoResult,
    /// The connection dropped before the result.
    ConnectionLost,
    /// A result code the protocol does not define as approved or declined.
    UnclearResult(String),
}

impl From<LinkFailure> for UnknownReason {
    fn from(f: LinkFailure) -> UnknownReason {
        match f {
            LinkFailure::NoAck => UnknownReason::NoAcknowledgement,
            LinkFailure::NoResult => UnknownReason::NoResult,
            LinkFailure::ConnectionLost => UnknownReason::ConnectionLost,
        }
    }
}

/// The last saved result, and the resolution of a pending unknown operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResult {
    /// The terminal's last saved transaction result.
    pub last: Option<CardOutcome>,
    /// What it says about the pending operation; `None` when nothing was pending.
    pub recovery: Option<Recovery>,
}

/// What became of an operation whose outcome was unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// It was approved: the money moved. Recovery is over.
    Approved(CardApproval),
    /// It was declined: nothing moved. Recovery is over.
    Declined {
        /// The terminal's description.
        reason: String,
    },
    /// It never completed: nothing moved. Recovery is over.
    NotPerformed,
    /// Still unknown (too early, or the terminal's answer proves nothing): ask again later, or
    /// let an operator decide. Payments stay blocked.
    Unresolved {
        /// Why, for the operator.
        reason: String,
    },
}

/// How an end-of-day close ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionClosure {
    /// Closed; the totals were reset.
    Closed {
        /// The terminal's total, cents.
        terminal_total_cents: u64,
        /// The host's total, cents.
        host_total_cents: u64,
    },
    /// The terminal or host refused.
    Refused {
        /// The description.
        reason: String,
    },
    /// The answer was lost: check with [`CardTerminal::totals`], never close again blindly.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
}

/// Why a terminal operation failed. None of these moved money.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TerminalError {
    /// The terminal cannot be reached; nothing was sent.
    #[error("card terminal unavailable: {0}")]
    Unavailable(#[source] TransportError),
    /// A previous operation's outcome is unknown: call `last_result` first.
    #[error("a previous operation's outcome is unknown: ask the terminal for its last result")]
    RecoveryRequired,
    /// The terminal refused the command at every send (NAK): nothing happened.
    #[error("the terminal refused the command")]
    NotAccepted,
    /// A harmless command (status, totals, last result) got no answer; it may be retried.
    #[error("no answer from the terminal ({reason:?})")]
    NoAnswer {
        /// What was missing.
        reason: UnknownReason,
    },
    /// The request itself is invalid (amount out of range, bad reference).
    #[error("invalid request: {0}")]
    InvalidRequest(#[source] MessageError),
    /// The terminal refused a totals request.
    #[error("the terminal refused: {reason}")]
    Refused {
        /// Its description.
        reason: String,
    },
    /// A reply that does not answer the command.
    #[error("unexpected reply from the terminal: {0}")]
    Unexpected(String),
}

impl TerminalError {
    /// Stable machine-readable code: `TERMINAL_UNAVAILABLE`, `TERMINAL_RECOVERY_REQUIRED`,
    /// `TERMINAL_NOT_ACCEPTED`, `TERMINAL_NO_ANSWER`, `TERMINAL_INVALID_REQUEST`,
    /// `TERMINAL_REFUSED`, `TERMINAL_UNEXPECTED_REPLY`.
    pub fn code(&self) -> &'static str {
        match self {
            TerminalError::Unavailable(_) => "TERMINAL_UNAVAILABLE",
            TerminalError::RecoveryRequired => "TERMINAL_RECOVERY_REQUIRED",
            TerminalError::NotAccepted => "TERMINAL_NOT_ACCEPTED",
            TerminalError::NoAnswer { .. } => "TERMINAL_NO_ANSWER",
            TerminalError::InvalidRequest(_) => "TERMINAL_INVALID_REQUEST",
            TerminalError::Refused { .. } => "TERMINAL_REFUSED",
            TerminalError::Unexpected(_) => "TERMINAL_UNEXPECTED_REPLY",
        }
    }
}

/// What the terminal driver reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminalEvent {
    /// A link was opened.
    Connected {
        /// The address.
        endpoint: String,
    },
    /// The link was lost.
    Disconnected {
        /// The address.
        endpoint: String,
        /// The transport error's code.
        code: &'static str,
    },
    /// A progress text for the customer display ("INSERIRE CARTA").
    Progress(String),
    /// A frame was refused (bad LRC, bad message); the terminal was asked to resend.
    Discarded {
        /// The error code.
        code: &'static str,
    },
    /// A valid message that answered nothing in flight (acknowledged, otherwise ignored).
    Unsolicited,
}

/// Settings of an [`Ecr17Terminal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecr17Config {
    /// Where the terminal is: usually `tcp://ip:port` (port configured by the acquirer, often
    /// 10000).
    pub endpoint: Endpoint,
    /// IDs, LRC convention and timeouts of the dialogue.
    pub session: SessionConfig,
    /// Pay with `X` (the result carries the host's amount, checked on recovery) rather than
    /// `P`. Default on.
    pub extended_payments: bool,
    /// Ask the terminal to send its receipt lines (`E1` before each payment).
    pub receipt_to_ecr: bool,
    /// Close a TCP connection after every command and open a fresh one for the next. Nexi
    /// terminals close their socket between transactions (ecr17.md §1): a command written on
    /// a kept socket just as the terminal closes it would be lost, and a lost payment is an
    /// unknown outcome. Default on; no effect on serial links.
    pub connection_per_command: bool,
    /// How long an operation keeps trying to (re)connect. Default 5 s.
    pub connect_wait: Duration,
    /// Back-off between connection attempts.
    pub reconnect: ReconnectPolicy,
}

impl Ecr17Config {
    /// Defaults for a terminal at `endpoint` with the session settings given.
    pub fn new(endpoint: Endpoint, session: SessionConfig) -> Ecr17Config {
        Ecr17Config {
            endpoint,
            session,
            extended_payments: true,
            receipt_to_ecr: false,
            connection_per_command: true,
            connect_wait: Duration::from_secs(5),
            reconnect: ReconnectPolicy::default(),
        }
    }
}

/// An ECR17 card terminal.
#[derive(Debug)]
pub struct Ecr17Terminal {
    config: Ecr17Config,
    session: Session,
    conn: Connection,
    events: broadcast::Sender<TerminalEvent>,
    buf: Vec<u8>,
}

/// What one command produced.
#[derive(Debug, Default)]
struct Exchange {
    completion: Option<Completion>,
    resolution: Option<Resolution>,
    tickets: TicketAssembler,
}

impl Ecr17Terminal {
    /// A driver; nothing is opened until the first operation.
    pub fn new(config: Ecr17Config) -> Ecr17Terminal {
        Ecr17Terminal {
            session: Session::new(config.session.clone()),
            conn: Connection::new(config.endpoint.clone(), config.reconnect),
            config,
            events: broadcast::channel(EVENT_CAPACITY).0,
            buf: vec![0; 1024],
        }
    }

    /// Status events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TerminalEvent> {
        self.events.subscribe()
    }

    /// The dialogue state: last STAN and pending recovery, to journal.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Restores the journalled state after a restart: the last STAN known and an operation
    /// still unresolved.
    pub fn restore(&mut self, last_stan: Option<Stan>, recovery: Option<PendingRecovery>) {
        self.session.set_last_stan(last_stan);
        if let Some(recovery) = recovery {
            self.session.restore_recovery(recovery);
        }
    }

    /// Gives up resolving an unknown operation: an operator's decision after checking with the
    /// acquirer, never an automatic one.
    pub fn abandon_recovery(&mut self) -> Option<PendingRecovery> {
        self.session.abandon_recovery()
    }

    fn emit(&self, event: TerminalEvent) {
        let _ = self.events.send(event);
    }

    fn lost(&mut self, error: &TransportError) {
        self.conn.lost();
        self.emit(TerminalEvent::Disconnected {
            endpoint: self.config.endpoint.to_string(),
            code: error.code(),
        });
    }

    /// Makes sure a live link is open: terminals close their socket between transactions, so a
    /// kept one is probed (without writing) and replaced if dead.
    async fn ready_link(&mut self) -> Result<(), TerminalError> {
        if let Some(link) = self.conn.link_mut() {
            match link.probe() {
                Liveness::Idle => return Ok(()),
                Liveness::Data(bytes) => {
                    // A late frame (e.g. a result retransmitted after a lost ACK): the session
                    // acknowledges it and reports it as unsolicited.
                    let out = self.session.feed(now(), &bytes);
                    self.apply(out, &mut Exchange::default()).await;
                    if self.conn.is_connected() {
                        return Ok(());
                    }
                }
                Liveness::Closed => {
                    let error = link.closed();
                    self.lost(&error);
                }
            }
        }
        self.session.connection_lost();
        let connected = self
            .conn
            .connect(self.config.connect_wait)
            .await
            .map_err(TerminalError::Unavailable)?;
        if connected {
            self.emit(TerminalEvent::Connected {
                endpoint: self.config.endpoint.to_string(),
            });
        }
        Ok(())
    }

    /// Carries out the session's outputs in order.
    async fn apply(&mut self, outputs: Vec<Output>, ex: &mut Exchange) {
        for output in outputs {
            match output {
                Output::Write(bytes) => {
                    let Some(link) = self.conn.link_mut() else {
                        continue;
                    };
                    let written = match link.write_all(&bytes).await {
                        Ok(()) => link.flush().await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = written {
                        let error = link.error(e);
                        self.lost(&error);
                    }
                }
                Output::Progress(text) => self.emit(TerminalEvent::Progress(text)),
                Output::Ticket(ticket) => ex.tickets.push(&ticket),
                Output::Completed(completion) => ex.completion = Some(completion),
                Output::Recovery(resolution) => ex.resolution = Some(resolution),
                Output::Unsolicited(_) => self.emit(TerminalEvent::Unsolicited),
                Output::Discarded(e) => self.emit(TerminalEvent::Discarded { code: e.code() }),
            }
        }
    }

    /// Runs one command to its end (result, receipt drain, or giving up).
    async fn run(&mut self, command: Command) -> Result<Exchange, TerminalError> {
        if !self.session.is_idle() {
            // A previous operation's future was dropped midway: its answer is lost.
            if let Some(link) = self.conn.link_mut() {
                let error = link.closed();
                self.lost(&error);
            }
            self.session.connection_lost();
        }
        self.ready_link().await?;
        let outputs = self.session.begin(now(), command).map_err(|e| match e {
            SessionError::RecoveryRequired => TerminalError::RecoveryRequired,
            other => TerminalError::Unexpected(other.to_string()),
        })?;
        let mut ex = Exchange::default();
        self.apply(outputs, &mut ex).await;
        while !self.session.is_idle() {
            let out = match self.conn.link_mut() {
                None => self.session.connection_lost(),
                Some(link) => {
                    let deadline = self.session.deadline();
                    let read = tokio::select! {
                        read = link.read(&mut self.buf) => Some(read),
                        () = sleep_until(deadline) => None,
                    };
                    match read {
                        None => self.session.poll(now()),
                        Some(Ok(0)) => {
                            let error = link.closed();
                            self.lost(&error);
                            self.session.connection_lost()
                        }
                        Some(Ok(n)) => self.session.feed(now(), &self.buf[..n]),
                        Some(Err(e)) => {
                            let error = link.error(e);
                            self.lost(&error);
                            self.session.connection_lost()
                        }
                    }
                }
            };
            self.apply(out, &mut ex).await;
        }
        if self.config.connection_per_command
            && matches!(self.config.endpoint, Endpoint::Tcp { .. })
        {
            self.conn.close();
        }
        Ok(ex)
    }

    /// A payment or reversal, with the mapping of its completion.
    async fn financial(&mut self, command: Command) -> Result<CardOutcome, TerminalError> {
        if self.session.pending_recovery().is_some() {
            return Err(TerminalError::RecoveryRequired);
        }
        if self.session.last_stan().is_none() {
            // Learn the baseline STAN, or a lost answer could never be resolved (§10.3). A
            // terminal with nothing saved may not answer: pay anyway; a lost answer would then
            // need an operator, but nothing is ever charged twice.
            match self.last_result().await {
                Ok(_)
                | Err(
                    TerminalError::NoAnswer { .. }
                    | TerminalError::NotAccepted
                    | TerminalError::Unexpected(_),
                ) => {}
                Err(e) => return Err(e),
            }
        }
        if self.config.receipt_to_ecr {
            let ex = self.run(Command::EnableEcrPrint(true)).await?;
            expect_ack(ex.completion)?;
        }
        let previous_stan = self.session.last_stan();
        let operation = Operation::of(&command);
        let ex = self.run(command).await?;
        let receipt = ticket_lines(ex.tickets);
        match ex.completion {
            Some(Completion::Replied(Reply::Transaction(r))) => {
                let outcome = card_outcome(&r, receipt);
                if let (CardOutcome::Unknown { .. }, Some(operation)) = (&outcome, operation) {
                    // An unclear code: as good as unknown, so block until someone decides.
                    self.session.restore_recovery(PendingRecovery {
                        operation,
                        previous_stan,
                        resolvable_after: now(),
                    });
                }
                Ok(outcome)
            }
            Some(Completion::Unknown { reason, .. }) => Ok(CardOutcome::Unknown {
                reason: reason.into(),
            }),
            Some(Completion::NotAccepted) => Err(TerminalError::NotAccepted),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(completion: Option<Completion>) -> TerminalError {
    TerminalError::Unexpected(format!("{completion:?}"))
}

/// An idempotent command's completion that is not a reply.
fn idempotent_failure(completion: Option<Completion>) -> TerminalError {
    match completion {
        Some(Completion::Failed { reason }) => TerminalError::NoAnswer {
            reason: reason.into(),
        },
        Some(Completion::NotAccepted) => TerminalError::NotAccepted,
        other => unexpected(other),
    }
}

fn expect_ack(completion: Option<Completion>) -> Result<(), TerminalError> {
    match completion {
        Some(Completion::Acknowledged) => Ok(()),
        other => Err(idempotent_failure(other)),
    }
}

/// The receipt's text lines; the empty lines that end every receipt (paper feed) are dropped.
fn ticket_lines(tickets: TicketAssembler) -> Vec<String> {
    let mut lines: Vec<String> = tickets.finish().into_iter().map(|line| line.text).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

fn reference(r: &TransactionResult) -> CardReference {
    CardReference {
        terminal_id: r.terminal_id.to_string(),
        stan: r.stan.to_string(),
        online_id: r.online_id.clone(),
    }
}

fn card_outcome(r: &TransactionResult, receipt: Vec<String>) -> CardOutcome {
    match &r.outcome {
        TransactionOutcome::Approved(a) => CardOutcome::Approved(CardApproval {
            reference: reference(r),
            masked_pan: a.pan.to_string(),
            auth_code: a.auth_code.clone(),
            host_amount_cents: r.amount.map(|c| c.0),
            receipt,
        }),
        TransactionOutcome::Declined { reason } => CardOutcome::Declined {
            reason: reason.clone(),
            reference: Some(reference(r)),
        },
        TransactionOutcome::CardNotPresent => CardOutcome::Declined {
            reason: "card not present".into(),
            reference: Some(reference(r)),
        },
        TransactionOutcome::UnknownHostTag => CardOutcome::Unknown {
            reason: UnknownReason::UnclearResult("09".into()),
        },
        TransactionOutcome::Unrecognised { code } => CardOutcome::Unknown {
            reason: UnknownReason::UnclearResult(code.clone()),
        },
    }
}

fn recovery(resolution: Resolution) -> Recovery {
    match resolution {
        Resolution::Approved(r) => match card_outcome(&r, Vec::new()) {
            CardOutcome::Approved(a) => Recovery::Approved(a),
            other => Recovery::Unresolved {
                reason: format!("{other:?}"),
            },
        },
        Resolution::Declined(r) => Recovery::Declined {
            reason: match &r.outcome {
                TransactionOutcome::Declined { reason } => reason.clone(),
                _ => "card not present".into(),
            },
        },
        Resolution::NotPerformed => Recovery::NotPerformed,
        Resolution::Indeterminate(why) => Recovery::Unresolved {
            reason: format!("{why:?}"),
        },
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

impl CardTerminal for Ecr17Terminal {
    async fn status(&mut self) -> Result<TerminalInfo, TerminalError> {
        let ex = self.run(Command::Status).await?;
        match ex.completion {
            Some(Completion::Replied(Reply::Status(s))) => Ok(TerminalInfo {
                terminal_id: s.terminal_id.to_string(),
                ready: s.state == TerminalState::Operative,
                state: format!("{:?}", s.state),
                clock: s.date_time,
                software: s.software,
            }),
            other => Err(idempotent_failure(other)),
        }
    }

    async fn pay(&mut self, amount_cents: u64) -> Result<CardOutcome, TerminalError> {
        let request = PaymentRequest::new(amount_cents)
            .map_err(TerminalError::InvalidRequest)?
            .extended(self.config.extended_payments);
        self.financial(Command::Payment(request)).await
    }

    async fn reverse_last(
        &mut self,
        reference: &CardReference,
    ) -> Result<CardOutcome, TerminalError> {
        let stan = Stan::parse(&reference.stan).map_err(TerminalError::InvalidRequest)?;
        self.financial(Command::Reversal { stan: Some(stan) }).await
    }

    async fn last_result(&mut self) -> Result<LastResult, TerminalError> {
        let ex = self.run(Command::LastResult).await?;
        let recovery = ex.resolution.map(recovery);
        match ex.completion {
            Some(Completion::Replied(Reply::Transaction(r))) => Ok(LastResult {
                last: Some(card_outcome(&r, Vec::new())),
                recovery,
            }),
            Some(Completion::Replied(_)) => Ok(LastResult {
                last: None,
                recovery,
            }),
            other => Err(idempotent_failure(other)),
        }
    }

    async fn close_session(&mut self) -> Result<SessionClosure, TerminalError> {
        if self.session.pending_recovery().is_some() {
            return Err(TerminalError::RecoveryRequired);
        }
        let ex = self.run(Command::CloseSession).await?;
        match ex.completion {
            Some(Completion::Replied(Reply::CloseSession(c))) => Ok(match c.totals {
                Some((terminal, host)) => SessionClosure::Closed {
                    terminal_total_cents: terminal.0,
                    host_total_cents: host.0,
                },
                None => SessionClosure::Refused {
                    reason: c.description.unwrap_or_default(),
                },
            }),
            Some(Completion::Unknown { reason, .. }) => Ok(SessionClosure::Unknown {
                reason: reason.into(),
            }),
            Some(Completion::NotAccepted) => Err(TerminalError::NotAccepted),
            other => Err(unexpected(other)),
        }
    }

    async fn totals(&mut self) -> Result<u64, TerminalError> {
        let ex = self.run(Command::Totals).await?;
        match ex.completion {
            Some(Completion::Replied(Reply::Totals(t))) => match t.total {
                Some(total) => Ok(total.0),
                None => Err(TerminalError::Refused {
                    reason: format!("result {:?}", t.result),
                }),
            },
            other => Err(idempotent_failure(other)),
        }
    }
}
