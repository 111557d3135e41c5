//! The ECR17 dialogue with one terminal, as a pure state machine.
//!
//! [`Session`] owns the frame decoder and the command in flight. The caller feeds it the bytes it
//! reads ([`Session::feed`]), calls [`Session::poll`] when [`Session::deadline`] passes, tells it
//! when the connection dropped ([`Session::connection_lost`]), and carries out the [`Output`]s
//! in order: write bytes, show progress, print ticket lines, record completions.
//!
//! # Link level (ecr17.md §3)
//!
//! A command frame is sent and an ACK awaited; on NAK or ACK timeout the *identical* frame is
//! sent again, up to `max_retransmissions` times (default 3, i.e. 4 sends, as the community
//! clients read "repeat up to three times"). A progress frame, a ticket or the result itself
//! also count as acceptance, since some terminals send the result without or before the ACK.
//! Incoming frames with a bad LRC, non-ASCII bytes or an invalid message are NAKed so the
//! terminal retransmits; valid ones are ACKed.
//!
//! # Money safety (ecr17.md §10)
//!
//! The only resend is that link-level retransmission on the same connection. Beyond it:
//! - An idempotent command (`s`, `E`, `G`, `T`) that gets no ACK or no result ends in
//!   [`Completion::Failed`]; the caller may simply send it again.
//! - A command that moves money or resets totals (`P`, `X`, `S`, `C`) ends in
//!   [`Completion::Unknown`] and the session enters recovery: every such command is refused
//!   ([`SessionError::RecoveryRequired`]) until a `G` (send last result) resolves the lost
//!   operation ([`Resolution`]) or an operator explicitly abandons the recovery. A payment can
//!   therefore not be charged twice through this session. The one exception is a command that
//!   the terminal refused with a NAK at every send: it was never accepted, and ends in
//!   [`Completion::NotAccepted`].
//!
//! Resolution follows §10.3: the session records the last STAN it saw before sending the lost
//! command. A `G` result with that same STAN means the operation never completed; a newer STAN
//! with `00` means approved (for `X`, only if the host amount equals the requested amount), with
//! `01` declined. Without a known STAN nothing can be concluded: send a `G` at start-up so the
//! session learns it. Since `G` returns whatever the terminal saved last, a "never completed"
//! conclusion is only drawn once the result timeout has elapsed since the lost command was sent:
//! before that the terminal may still be processing it.
//!
//! Durability is the caller's job: persist the attempt before writing the command frame, and
//! persist each [`Output::Completed`] before carrying out the ACK [`Output::Write`] that follows
//! it. [`Session::pending_recovery`] and [`Session::restore_recovery`] let the recovery state
//! survive a restart.

use std::time::{Duration, Instant};

use super::frame::{FrameDecoder, FrameError, Inbound, LrcConfig, encode_frame};
use super::message::{
    CashRegisterId, Cents, Command, MessageError, Reply, ResultKind, Stan, TerminalId, Ticket,
    TransactionOutcome, TransactionResult,
};

/// Settings of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Terminal ID to send; [`TerminalId::WILDCARD`] until learnt (the session adopts the ID of
    /// the first status reply).
    pub terminal_id: TerminalId,
    /// Cash-register ID to send.
    pub cash_register: CashRegisterId,
    /// LRC conventions.
    pub lrc: LrcConfig,
    /// Wait for the ACK of a command before retransmitting. Default 2 s (the crate's value; the
    /// Setefi client waits 30 s). Nexi publishes no timeouts.
    pub ack_timeout: Duration,
    /// Retransmissions after the first send. Default 3.
    pub max_retransmissions: u8,
    /// Wait for the result once the command is accepted. Default 120 s: PIN entry and host
    /// round-trips are slow, and expiry makes a payment's outcome unknown.
    pub result_timeout: Duration,
    /// After a payment or reversal result, keep the command open this long for the terminal's
    /// receipt (`S` frames), when `E1` was sent before it. Ends early at the ticket-end code.
    /// Default 3 s.
    pub receipt_drain: Duration,
    /// Longest application message accepted.
    pub max_message: usize,
}

impl SessionConfig {
    /// Defaults for the given IDs.
    pub fn new(terminal_id: TerminalId, cash_register: CashRegisterId) -> SessionConfig {
        SessionConfig {
            terminal_id,
            cash_register,
            lrc: LrcConfig::default(),
            ack_timeout: Duration::from_secs(2),
            max_retransmissions: 3,
            result_timeout: Duration::from_secs(120),
            receipt_drain: Duration::from_secs(3),
            max_message: super::frame::DEFAULT_MAX_MESSAGE,
        }
    }
}

/// Something for the caller to do or record, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes to the terminal.
    Write(Vec<u8>),
    /// A progress text for the display ("INSERIRE CARTA" and the like).
    Progress(String),
    /// A receipt part for the ECR to print; assemble with
    /// [`TicketAssembler`](super::message::TicketAssembler).
    Ticket(Ticket),
    /// The command in flight ended.
    Completed(Completion),
    /// A `G` reply resolved (or failed to resolve) the pending recovery.
    Recovery(Resolution),
    /// A valid message that answers no command in flight (e.g. a result retransmitted after a
    /// lost ACK, or arriving after the session gave up). Acknowledged, reported, otherwise
    /// ignored: it never resolves a recovery on its own.
    Unsolicited(Reply),
    /// An invalid frame or message; NAKed when the protocol asks for it.
    Discarded(InboundError),
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The terminal's reply.
    Replied(Reply),
    /// ACK-only command (`E`) accepted.
    Acknowledged,
    /// Every send was refused with a NAK (invalid or unsupported command): nothing happened.
    NotAccepted,
    /// An idempotent command got no answer; it may be sent again.
    Failed {
        /// What was missing.
        reason: LinkFailure,
    },
    /// A payment, reversal or close session whose outcome is unknown. The session is now in
    /// recovery: send [`Command::LastResult`].
    Unknown {
        /// The lost operation.
        operation: Operation,
        /// What was missing.
        reason: LinkFailure,
    },
}

/// What a command was missing when it gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFailure {
    /// No ACK after all sends (at least one timed out).
    NoAck,
    /// Accepted, but no result within the result timeout.
    NoResult,
    /// The connection dropped.
    ConnectionLost,
}

/// A non-idempotent operation whose outcome may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A payment.
    Payment {
        /// Requested amount.
        amount: Cents,
        /// `X` rather than `P`.
        extended: bool,
    },
    /// A reversal.
    Reversal {
        /// STAN it was to reverse.
        stan: Option<Stan>,
    },
    /// A close session.
    CloseSession,
}

impl Operation {
    /// The operation a command performs, if it moves money or resets totals.
    pub(crate) fn of(command: &Command) -> Option<Operation> {
        match command {
            Command::Payment(p) => Some(Operation::Payment {
                amount: p.amount(),
                extended: p.is_extended(),
            }),
            Command::Reversal { stan } => Some(Operation::Reversal { stan: *stan }),
            Command::CloseSession => Some(Operation::CloseSession),
            Command::Status
            | Command::EnableEcrPrint(_)
            | Command::LastResult
            | Command::Totals => None,
        }
    }
}

/// A lost operation awaiting resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRecovery {
    /// The operation.
    pub operation: Operation,
    /// The last STAN the session knew before sending it.
    pub previous_stan: Option<Stan>,
    /// Before this instant the terminal may still be processing the operation, so a `G` reply
    /// with the previous STAN proves nothing. When restoring after a restart, use the restart
    /// time plus the result timeout.
    pub resolvable_after: Instant,
}

/// What a `G` reply says about the pending operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// It was approved. Recovery is over.
    Approved(Box<TransactionResult>),
    /// It was declined (or the card was not present): nothing was charged. Recovery is over.
    Declined(Box<TransactionResult>),
    /// The terminal's last result predates it: it never completed. Recovery is over.
    NotPerformed,
    /// Nothing can be concluded; recovery stays pending.
    Indeterminate(Indeterminate),
}

/// Why a `G` reply did not resolve the pending operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indeterminate {
    /// The STAN before the operation is not known.
    NoBaseline,
    /// The last result has the old STAN, but the terminal may still be processing: ask again
    /// after [`PendingRecovery::resolvable_after`].
    TooEarly,
    /// The last result is of another kind of operation.
    KindMismatch,
    /// Approved, but for a different amount than requested.
    AmountMismatch {
        /// Requested.
        requested: Cents,
        /// Reported by the host.
        reported: Cents,
    },
    /// A result code that is neither approval nor decline (`09` or unrecognised).
    UnclearResult,
    /// The reply is not a transaction result.
    NotATransaction,
    /// A close session is not reported by `G`: compare totals (`T`) and decide.
    CloseSession,
}

/// Why an incoming frame or message was discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboundError {
    /// A malformed frame.
    #[error(transparent)]
    Frame(FrameError),
    /// A frame whose message cannot be parsed.
    #[error(transparent)]
    Message(MessageError),
    /// A message for another terminal ID.
    #[error("message from terminal {received}, expected {expected}")]
    WrongTerminal {
        /// Our terminal ID.
        expected: TerminalId,
        /// The ID in the message.
        received: TerminalId,
    },
}

impl InboundError {
    /// Stable machine-readable code (that of the inner error, or `ECR17_WRONG_TERMINAL`).
    pub fn code(&self) -> &'static str {
        match self {
            InboundError::Frame(e) => e.code(),
            InboundError::Message(e) => e.code(),
            InboundError::WrongTerminal { .. } => "ECR17_WRONG_TERMINAL",
        }
    }
}

/// Why a command cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Another command is in flight (one outstanding command per terminal).
    #[error("a command is already in flight")]
    Busy,
    /// A previous operation's outcome is unknown: only `s`, `E`, `G` and `T` are allowed until it
    /// is resolved.
    #[error("the outcome of a previous operation is unknown: recover it with G first")]
    RecoveryRequired,
    /// The command could not be framed.
    #[error(transparent)]
    Frame(FrameError),
}

impl SessionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Busy => "ECR17_BUSY",
            SessionError::RecoveryRequired => "ECR17_RECOVERY_REQUIRED",
            SessionError::Frame(e) => e.code(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitAck { deadline: Instant },
    AwaitResult { deadline: Instant },
    Draining { deadline: Instant },
}

#[derive(Debug, Clone)]
struct Exchange {
    command: Command,
    frame: Vec<u8>,
    sends: u8,
    naks: u8,
    phase: Phase,
    sent_at: Instant,
    previous_stan: Option<Stan>,
}

/// The dialogue with one terminal. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    decoder: FrameDecoder,
    exchange: Option<Exchange>,
    recovery: Option<PendingRecovery>,
    last_stan: Option<Stan>,
    receipts_to_ecr: bool,
}

impl Session {
    /// A session with no command in flight and no known STAN.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            decoder: FrameDecoder::with_max_message(config.lrc.frame, config.max_message),
            config,
            exchange: None,
            recovery: None,
            last_stan: None,
            receipts_to_ecr: false,
        }
    }

    /// The terminal ID in use (learnt from a status reply if configured as the wildcard).
    pub fn terminal_id(&self) -> TerminalId {
        self.config.terminal_id
    }

    /// The last STAN seen in a transaction result.
    pub fn last_stan(&self) -> Option<Stan> {
        self.last_stan
    }

    /// Restores the last known STAN (e.g. from the journal after a restart).
    pub fn set_last_stan(&mut self, stan: Option<Stan>) {
        self.last_stan = stan;
    }

    /// The lost operation awaiting resolution, if any.
    pub fn pending_recovery(&self) -> Option<&PendingRecovery> {
        self.recovery.as_ref()
    }

    /// Restores a pending recovery from the journal after a restart.
    pub fn restore_recovery(&mut self, recovery: PendingRecovery) {
        self.recovery = Some(recovery);
    }

    /// Gives up resolving the pending operation: an explicit operator decision (e.g. after
    /// checking with the acquirer or comparing totals), never an automatic one. Returns what was
    /// pending.
    pub fn abandon_recovery(&mut self) -> Option<PendingRecovery> {
        self.recovery.take()
    }

    /// Whether a new command can be started (none in flight).
    pub fn is_idle(&self) -> bool {
        self.exchange.is_none()
    }

    /// When [`poll`](Self::poll) must next be called.
    pub fn deadline(&self) -> Option<Instant> {
        self.exchange.as_ref().map(|ex| match ex.phase {
            Phase::AwaitAck { deadline }
            | Phase::AwaitResult { deadline }
            | Phase::Draining { deadline } => deadline,
        })
    }

    /// Starts a command: returns the frame to write.
    pub fn begin(&mut self, now: Instant, command: Command) -> Result<Vec<Output>, SessionError> {
        if self.exchange.is_some() {
            return Err(SessionError::Busy);
        }
        if !command.is_idempotent() && self.recovery.is_some() {
            return Err(SessionError::RecoveryRequired);
        }
        let message = command.encode(&self.config.terminal_id, &self.config.cash_register);
        let frame = encode_frame(self.config.lrc.frame, &message).map_err(SessionError::Frame)?;
        let out = vec![Output::Write(frame.clone())];
        self.exchange = Some(Exchange {
            command,
            frame,
            sends: 1,
            naks: 0,
            phase: Phase::AwaitAck {
                deadline: now + self.config.ack_timeout,
            },
            sent_at: now,
            previous_stan: self.last_stan,
        });
        Ok(out)
    }

    /// Feeds bytes read at `now`. Frames are handled before timers, so an answer that arrives
    /// together with an expired deadline still counts.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        for item in self.decoder.feed(bytes) {
            match item {
                Ok(inbound) => self.on_inbound(now, inbound, &mut out),
                Err(e) => {
                    if e.requires_nak() {
                        out.push(Output::Write(self.config.lrc.nak().to_vec()));
                    }
                    out.push(Output::Discarded(InboundError::Frame(e)));
                }
            }
        }
        self.check_timers(now, &mut out);
        out
    }

    /// Handles expired timers: retransmission, giving up, end of the receipt drain.
    pub fn poll(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        self.check_timers(now, &mut out);
        out
    }

    /// The connection dropped: partial frames are forgotten and the command in flight ends (its
    /// frame is never sent again on a new connection).
    pub fn connection_lost(&mut self) -> Vec<Output> {
        self.decoder.reset();
        let mut out = Vec::new();
        match self.exchange.as_ref().map(|ex| ex.phase) {
            Some(Phase::AwaitAck { .. } | Phase::AwaitResult { .. }) => {
                self.give_up(LinkFailure::ConnectionLost, &mut out);
            }
            Some(Phase::Draining { .. }) => self.exchange = None,
            None => {}
        }
        out
    }

    fn check_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        match ex.phase {
            Phase::AwaitAck { deadline } if now >= deadline => {
                if ex.sends <= self.config.max_retransmissions {
                    self.retransmit(now, out);
                } else {
                    self.give_up(LinkFailure::NoAck, out);
                }
            }
            Phase::AwaitResult { deadline } if now >= deadline => {
                self.give_up(LinkFailure::NoResult, out);
            }
            Phase::Draining { deadline } if now >= deadline => self.exchange = None,
            _ => {}
        }
    }

    fn retransmit(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(ex) = self.exchange.as_mut() {
            ex.sends += 1;
            ex.phase = Phase::AwaitAck {
                deadline: now + self.config.ack_timeout,
            };
            out.push(Output::Write(ex.frame.clone()));
        }
    }

    fn give_up(&mut self, reason: LinkFailure, out: &mut Vec<Output>) {
        let Some(ex) = self.exchange.take() else {
            return;
        };
        let completion = if ex.naks == ex.sends {
            Completion::NotAccepted
        } else if let Some(operation) = Operation::of(&ex.command) {
            self.recovery = Some(PendingRecovery {
                operation,
                previous_stan: ex.previous_stan,
                resolvable_after: ex.sent_at + self.config.result_timeout,
            });
            Completion::Unknown { operation, reason }
        } else {
            Completion::Failed { reason }
        };
        out.push(Output::Completed(completion));
    }

    fn awaiting_ack(&self) -> bool {
        matches!(
            self.exchange.as_ref().map(|ex| ex.phase),
            Some(Phase::AwaitAck { .. })
        )
    }

    /// The terminal evidently accepted the command.
    fn accepted(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        if let Command::EnableEcrPrint(on) = ex.command {
            self.receipts_to_ecr = on;
            self.exchange = None;
            out.push(Output::Completed(Completion::Acknowledged));
            return;
        }
        ex.phase = Phase::AwaitResult {
            deadline: now + self.config.result_timeout,
        };
    }

    fn on_inbound(&mut self, now: Instant, inbound: Inbound, out: &mut Vec<Output>) {
        match inbound {
            Inbound::Ack { .. } => {
                if self.awaiting_ack() {
                    self.accepted(now, out);
                }
            }
            Inbound::Nak { .. } => {
                if !self.awaiting_ack() {
                    return;
                }
                let Some(ex) = self.exchange.as_mut() else {
                    return;
                };
                ex.naks += 1;
                if ex.sends <= self.config.max_retransmissions {
                    self.retransmit(now, out);
                } else {
                    self.give_up(LinkFailure::NoAck, out);
                }
            }
            Inbound::Progress(text) => {
                if self.awaiting_ack() {
                    self.accepted(now, out);
                }
                out.push(Output::Progress(text));
            }
            Inbound::Message(message) => self.on_message(now, &message, out),
        }
    }

    fn on_message(&mut self, now: Instant, message: &[u8], out: &mut Vec<Output>) {
        let ack = Output::Write(self.config.lrc.ack().to_vec());
        let nak = Output::Write(self.config.lrc.nak().to_vec());
        let reply = match Reply::parse(message) {
            Ok(reply) => reply,
            Err(e) => {
                out.push(nak);
                out.push(Output::Discarded(InboundError::Message(e)));
                return;
            }
        };
        let received = *reply.terminal_id();
        let expected = self.config.terminal_id;
        if expected != TerminalId::WILDCARD
            && received != expected
            && received != TerminalId::WILDCARD
        {
            out.push(nak);
            out.push(Output::Discarded(InboundError::WrongTerminal {
                expected,
                received,
            }));
            return;
        }
        if let Reply::Transaction(r) = &reply {
            self.last_stan = Some(r.stan);
        }
        if let Reply::Ticket(ticket) = reply {
            if self.awaiting_ack() {
                self.accepted(now, out);
            }
            let draining = matches!(
                self.exchange.as_ref().map(|ex| ex.phase),
                Some(Phase::Draining { .. })
            );
            if draining && ticket.ends_receipt() {
                self.exchange = None;
            }
            out.push(Output::Ticket(ticket));
            out.push(ack);
            return;
        }
        let answers = self.exchange.as_ref().is_some_and(|ex| {
            !matches!(ex.phase, Phase::Draining { .. }) && answers(&ex.command, &reply)
        });
        let ex = match self.exchange.take() {
            Some(ex) if answers => ex,
            other => {
                self.exchange = other;
                out.push(Output::Unsolicited(reply));
                out.push(ack);
                return;
            }
        };
        if let Reply::Status(s) = &reply
            && self.config.terminal_id == TerminalId::WILDCARD
        {
            self.config.terminal_id = s.terminal_id;
        }
        let resolution = match (&ex.command, self.recovery) {
            (Command::LastResult, Some(pending)) => Some(resolve(&pending, &reply, now)),
            _ => None,
        };
        if matches!(
            resolution,
            Some(Resolution::Approved(_) | Resolution::Declined(_) | Resolution::NotPerformed)
        ) {
            self.recovery = None;
        }
        out.push(Output::Completed(Completion::Replied(reply)));
        if let Some(resolution) = resolution {
            out.push(Output::Recovery(resolution));
        }
        out.push(ack);
        if matches!(ex.command, Command::Payment(_) | Command::Reversal { .. }) {
            if self.receipts_to_ecr && !self.config.receipt_drain.is_zero() {
                self.exchange = Some(Exchange {
                    phase: Phase::Draining {
                        deadline: now + self.config.receipt_drain,
                    },
                    ..ex
                });
            }
            // The terminal reverts to printing itself after every procedure.
            self.receipts_to_ecr = false;
        }
    }
}

/// Whether `reply` is the result of `command`.
fn answers(command: &Command, reply: &Reply) -> bool {
    match (command, reply) {
        (Command::Status, Reply::Status(_))
        | (Command::CloseSession, Reply::CloseSession(_))
        | (Command::Totals, Reply::Totals(_))
        | (Command::LastResult, Reply::Transaction(_)) => true,
        (Command::LastResult, Reply::Other { code, .. }) => {
            matches!(code, b'e' | b'i' | b'c' | b'v')
        }
        (Command::Payment(p), Reply::Transaction(r)) => {
            if p.is_extended() {
                r.kind == ResultKind::ExtendedPayment
            } else {
                matches!(r.kind, ResultKind::Payment | ResultKind::PaymentDcc)
            }
        }
        (Command::Reversal { .. }, Reply::Transaction(r)) => r.kind == ResultKind::Reversal,
        _ => false,
    }
}

/// ecr17.md §10.3, applied to the reply to a `G`.
fn resolve(pending: &PendingRecovery, reply: &Reply, now: Instant) -> Resolution {
    let Reply::Transaction(r) = reply else {
        return Resolution::Indeterminate(Indeterminate::NotATransaction);
    };
    let kinds: &[ResultKind] = match pending.operation {
        Operation::CloseSession => return Resolution::Indeterminate(Indeterminate::CloseSession),
        Operation::Payment { extended: true, .. } => &[ResultKind::ExtendedPayment],
        Operation::Payment {
            extended: false, ..
        } => &[ResultKind::Payment, ResultKind::PaymentDcc],
        Operation::Reversal { .. } => &[ResultKind::Reversal],
    };
    let Some(previous) = pending.previous_stan else {
        return Resolution::Indeterminate(Indeterminate::NoBaseline);
    };
    if r.stan == previous {
        return if now >= pending.resolvable_after {
            Resolution::NotPerformed
        } else {
            Resolution::Indeterminate(Indeterminate::TooEarly)
        };
    }
    if !kinds.contains(&r.kind) {
        return Resolution::Indeterminate(Indeterminate::KindMismatch);
    }
    match &r.outcome {
        TransactionOutcome::Approved(_) => match (pending.operation, r.amount) {
            (Operation::Payment { amount, .. }, Some(reported)) if reported != amount => {
                Resolution::Indeterminate(Indeterminate::AmountMismatch {
                    requested: amount,
                    reported,
                })
            }
            _ => Resolution::Approved(r.clone()),
        },
        TransactionOutcome::Declined { .. } | TransactionOutcome::CardNotPresent => {
            Resolution::Declined(r.clone())
        }
        TransactionOutcome::UnknownHostTag | TransactionOutcome::Unrecognised { .. } => {
            Resolution::Indeterminate(Indeterminate::UnclearResult)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecr17::frame::LrcMode;
    use crate::ecr17::message::PaymentRequest;

    const ACK: [u8; 3] = [0x06, 0x03, 0x7A];
    const NAK: [u8; 3] = [0x15, 0x03, 0x69];

    fn tid() -> TerminalId {
        TerminalId::parse("12345678").expect("valid")
    }

    fn session() -> Session {
        Session::new(SessionConfig::new(
            tid(),
            CashRegisterId::parse("1").expect("valid"),
        ))
    }

    fn frame(message: &[u8]) -> Vec<u8> {
        encode_frame(LrcMode::Stx, message).expect("ASCII")
    }

    fn payment(cents: u64) -> Command {
        Command::Payment(PaymentRequest::new(cents).expect("valid"))
    }

    /// An `E` result: `extra` is appended after the 71-byte common layout.
    fn result(code: &str, stan: &str, extra: &str) -> Vec<u8> {
        let body = match code {
            "00" => "000545454******5454CLI1234561501015",
            _ => "CARTA RIFIUTATA         00000000000",
        };
        format!("123456780E{code}{body}21234567    {stan}000017{extra}").into_bytes()
    }

    fn writes(out: &[Output]) -> Vec<Vec<u8>> {
        out.iter()
            .filter_map(|o| match o {
                Output::Write(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    fn completion(out: &[Output]) -> Option<&Completion> {
        out.iter().find_map(|o| match o {
            Output::Completed(c) => Some(c),
            _ => None,
        })
    }

    fn resolution(out: &[Output]) -> Option<&Resolution> {
        out.iter().find_map(|o| match o {
            Output::Recovery(r) => Some(r),
            _ => None,
        })
    }

    /// A payment lost after acceptance: returns the session in recovery.
    fn lost_payment(t0: Instant, command: Command) -> Session {
        let mut s = session();
        s.set_last_stan(Some(Stan::parse("41").expect("valid")));
        s.begin(t0, command).expect("starts");
        assert!(s.feed(t0, &ACK).is_empty());
        let out = s.poll(t0 + Duration::from_secs(121));
        assert!(matches!(
            completion(&out),
            Some(Completion::Unknown {
                reason: LinkFailure::NoResult,
                ..
            })
        ));
        s
    }

    #[test]
    fn approved_payment_with_progress() {
        let t0 = Instant::now();
        let mut s = session();
        let out = s.begin(t0, payment(1234)).expect("starts");
        let sent = writes(&out);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].len(), 170);
        assert_eq!(sent[0][169], 0x23, "stx-mode LRC of the worked example");
        assert!(s.feed(t0, &ACK).is_empty());
        let mut progress = vec![0x01];
        progress.extend_from_slice(b"INSERIRE CARTA      ");
        progress.push(0x04);
        assert_eq!(
            s.feed(t0, &progress),
            vec![Output::Progress("INSERIRE CARTA      ".into())]
        );
        let out = s.feed(
            t0 + Duration::from_secs(30),
            &frame(&result("00", "000042", "")),
        );
        assert_eq!(out.len(), 2);
        let Some(Completion::Replied(Reply::Transaction(r))) = completion(&out) else {
            panic!("transaction result expected: {out:?}");
        };
        assert!(r.is_approved());
        assert_eq!(
            out[1],
            Output::Write(ACK.to_vec()),
            "ACK comes after the completion"
        );
        assert!(s.is_idle());
        assert_eq!(
            s.last_stan().map(|s| s.to_string()).as_deref(),
            Some("000042")
        );
        assert!(s.pending_recovery().is_none());
    }

    #[test]
    fn result_without_ack_counts_as_acceptance() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, payment(1234)).expect("starts");
        let out = s.feed(t0, &frame(&result("01", "000043", "")));
        assert!(matches!(
            completion(&out),
            Some(Completion::Replied(Reply::Transaction(r))) if !r.is_approved()
        ));
    }

    #[test]
    fn nak_retransmits_the_identical_frame_then_not_accepted() {
        let t0 = Instant::now();
        let mut s = session();
        let first = writes(&s.begin(t0, payment(1234)).expect("starts"));
        for _ in 0..3 {
            let out = s.feed(t0, &NAK);
            assert_eq!(writes(&out), first, "same bytes again");
        }
        let out = s.feed(t0, &NAK);
        assert_eq!(completion(&out), Some(&Completion::NotAccepted));
        assert!(writes(&out).is_empty());
        assert!(s.pending_recovery().is_none());
        assert!(
            s.begin(t0, payment(1234)).is_ok(),
            "nothing happened: may pay"
        );
    }

    #[test]
    fn ack_timeouts_retransmit_then_payment_is_unknown_and_blocked() {
        let t0 = Instant::now();
        let mut s = session();
        let first = writes(&s.begin(t0, payment(1234)).expect("starts"));
        let mut t = t0;
        for _ in 0..3 {
            assert!(s.poll(t + Duration::from_millis(1999)).is_empty());
            t += Duration::from_secs(2);
            assert_eq!(writes(&s.poll(t)), first);
        }
        // A NAK among timeouts does not make it "not accepted".
        let out = s.poll(t + Duration::from_secs(2));
        assert_eq!(
            completion(&out),
            Some(&Completion::Unknown {
                operation: Operation::Payment {
                    amount: Cents(1234),
                    extended: false
                },
                reason: LinkFailure::NoAck
            })
        );
        assert_eq!(
            s.begin(t, payment(1234)),
            Err(SessionError::RecoveryRequired)
        );
        assert_eq!(
            s.begin(t, Command::Reversal { stan: None })
                .map_err(|e| e.code()),
            Err("ECR17_RECOVERY_REQUIRED")
        );
        assert_eq!(
            s.begin(t, Command::CloseSession),
            Err(SessionError::RecoveryRequired)
        );
        assert!(s.begin(t, Command::Status).is_ok(), "status is harmless");
        assert_eq!(s.begin(t, Command::LastResult), Err(SessionError::Busy));
    }

    #[test]
    fn mixed_nak_and_timeout_is_unknown() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, payment(500)).expect("starts");
        s.poll(t0 + Duration::from_secs(2));
        for _ in 0..3 {
            s.feed(t0 + Duration::from_secs(2), &NAK);
        }
        assert!(s.pending_recovery().is_some());
    }

    #[test]
    fn recovery_not_performed_only_after_the_result_timeout() {
        let t0 = Instant::now();
        let mut s = lost_payment(t0, payment(1234));
        let old = frame(&result("00", "000041", ""));

        let t1 = t0 + Duration::from_secs(119);
        s.begin(t1, Command::LastResult).expect("G allowed");
        let out = s.feed(t1, &old);
        assert_eq!(
            resolution(&out),
            Some(&Resolution::Indeterminate(Indeterminate::TooEarly))
        );
        assert!(s.pending_recovery().is_some());

        let t2 = t0 + Duration::from_secs(121);
        s.begin(t2, Command::LastResult).expect("G allowed");
        let out = s.feed(t2, &old);
        assert_eq!(resolution(&out), Some(&Resolution::NotPerformed));
        assert!(s.pending_recovery().is_none());
        assert!(s.begin(t2, payment(1234)).is_ok());
    }

    #[test]
    fn recovery_approved_with_newer_stan() {
        let t0 = Instant::now();
        let mut s = lost_payment(t0, payment(1234));
        s.begin(t0, Command::LastResult).expect("G allowed");
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert!(
            matches!(resolution(&out), Some(Resolution::Approved(r)) if r.stan.as_str() == "000042")
        );
        assert!(s.pending_recovery().is_none());

        let mut s = lost_payment(t0, payment(1234));
        s.begin(t0, Command::LastResult).expect("G allowed");
        let out = s.feed(t0, &frame(&result("01", "000042", "")));
        assert!(matches!(resolution(&out), Some(Resolution::Declined(_))));
        assert!(s.pending_recovery().is_none());
    }

    #[test]
    fn recovery_checks_the_host_amount_of_x_results() {
        let t0 = Instant::now();
        let extended = Command::Payment(PaymentRequest::new(1234).expect("valid").extended(true));
        let mut s = lost_payment(t0, extended);
        s.begin(t0, Command::LastResult).expect("G allowed");
        let wrong = result("00", "000042", "000000099990000000000");
        let out = s.feed(t0, &frame(&wrong));
        assert_eq!(
            resolution(&out),
            Some(&Resolution::Indeterminate(Indeterminate::AmountMismatch {
                requested: Cents(1234),
                reported: Cents(9999)
            }))
        );
        assert!(s.pending_recovery().is_some());
        // A plain P result is another kind of operation.
        s.begin(t0, Command::LastResult).expect("G allowed");
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert_eq!(
            resolution(&out),
            Some(&Resolution::Indeterminate(Indeterminate::KindMismatch))
        );
        s.begin(t0, Command::LastResult).expect("G allowed");
        let right = result("00", "000042", "000000012340000000000");
        let out = s.feed(t0, &frame(&right));
        assert!(matches!(resolution(&out), Some(Resolution::Approved(_))));
    }

    #[test]
    fn recovery_without_baseline_needs_an_operator() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, payment(100)).expect("starts");
        s.feed(t0, &ACK);
        s.connection_lost();
        let pending = *s.pending_recovery().expect("pending");
        assert_eq!(pending.previous_stan, None);
        s.begin(t0, Command::LastResult).expect("G allowed");
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert_eq!(
            resolution(&out),
            Some(&Resolution::Indeterminate(Indeterminate::NoBaseline))
        );
        assert_eq!(
            s.begin(t0, payment(100)),
            Err(SessionError::RecoveryRequired)
        );
        assert_eq!(s.abandon_recovery(), Some(pending));
        assert!(s.begin(t0, payment(100)).is_ok());
    }

    #[test]
    fn recovery_survives_a_restart() {
        let t0 = Instant::now();
        let lost = lost_payment(t0, payment(1234));
        let pending = *lost.pending_recovery().expect("pending");
        let mut restarted = session();
        restarted.restore_recovery(pending);
        assert_eq!(
            restarted.begin(t0, payment(1234)),
            Err(SessionError::RecoveryRequired)
        );
    }

    #[test]
    fn idempotent_commands_fail_and_may_be_retried() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, Command::Totals).expect("starts");
        s.feed(t0, &ACK);
        let out = s.connection_lost();
        assert_eq!(
            completion(&out),
            Some(&Completion::Failed {
                reason: LinkFailure::ConnectionLost
            })
        );
        assert!(s.pending_recovery().is_none());
        // No status reply at all (terminal not configured for ECR): a failure, after 4 sends.
        s.begin(t0, Command::Status).expect("starts");
        let mut sends = 1;
        let mut t = t0;
        loop {
            t += Duration::from_secs(2);
            let out = s.poll(t);
            sends += writes(&out).len();
            if let Some(c) = completion(&out) {
                assert_eq!(
                    c,
                    &Completion::Failed {
                        reason: LinkFailure::NoAck
                    }
                );
                break;
            }
        }
        assert_eq!(sends, 4);
    }

    #[test]
    fn close_session_lost_is_unknown_and_not_resolved_by_g() {
        let t0 = Instant::now();
        let mut s = session();
        s.set_last_stan(Some(Stan::parse("41").expect("valid")));
        s.begin(t0, Command::CloseSession).expect("starts");
        s.feed(t0, &ACK);
        let out = s.connection_lost();
        assert!(matches!(
            completion(&out),
            Some(Completion::Unknown {
                operation: Operation::CloseSession,
                ..
            })
        ));
        s.begin(t0, Command::LastResult).expect("G allowed");
        let out = s.feed(t0, &frame(&result("00", "000041", "")));
        assert_eq!(
            resolution(&out),
            Some(&Resolution::Indeterminate(Indeterminate::CloseSession))
        );
    }

    #[test]
    fn bad_frames_are_naked_and_the_retransmission_accepted() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, payment(1234)).expect("starts");
        s.feed(t0, &ACK);
        let mut corrupted = frame(&result("00", "000042", ""));
        let last = corrupted.len() - 1;
        corrupted[last] ^= 0x01;
        let out = s.feed(t0, &corrupted);
        assert_eq!(out[0], Output::Write(NAK.to_vec()));
        assert!(matches!(&out[1], Output::Discarded(e) if e.code() == "ECR17_BAD_LRC"));
        // An unparseable message is NAKed too.
        let out = s.feed(t0, &frame(b"123456780E00short"));
        assert_eq!(out[0], Output::Write(NAK.to_vec()));
        assert!(matches!(&out[1], Output::Discarded(e) if e.code() == "ECR17_UNEXPECTED_LENGTH"));
        // And one from another terminal.
        let mut other = result("00", "000042", "");
        other[0] = b'9';
        let out = s.feed(t0, &frame(&other));
        assert_eq!(out[0], Output::Write(NAK.to_vec()));
        assert!(matches!(&out[1], Output::Discarded(e) if e.code() == "ECR17_WRONG_TERMINAL"));
        // The terminal retransmits, split across reads.
        let good = frame(&result("00", "000042", ""));
        assert!(s.feed(t0, &good[..30]).is_empty());
        let out = s.feed(t0, &good[30..]);
        assert!(matches!(completion(&out), Some(Completion::Replied(_))));
    }

    #[test]
    fn receipt_frames_before_and_after_the_result() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, Command::EnableEcrPrint(true)).expect("starts");
        let out = s.feed(t0, &ACK);
        assert_eq!(completion(&out), Some(&Completion::Acknowledged));
        s.begin(t0, payment(1234)).expect("starts");
        s.feed(t0, &ACK);
        let out = s.feed(t0, &frame(b"123456780SNEXI}"));
        assert!(matches!(&out[0], Output::Ticket(t) if t.text == b"NEXI}"));
        assert_eq!(out[1], Output::Write(ACK.to_vec()));
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert!(matches!(completion(&out), Some(Completion::Replied(_))));
        assert!(!s.is_idle(), "draining the receipt");
        assert_eq!(s.begin(t0, Command::Status), Err(SessionError::Busy));
        let out = s.feed(t0, &frame(b"123456780SIMPORTO}}}}}}\x1b"));
        assert!(matches!(&out[0], Output::Ticket(t) if t.ends_receipt()));
        assert!(s.is_idle(), "ticket end closes the drain");

        // Without E1 there is no drain; stray tickets are still acknowledged.
        s.begin(t0, payment(1234)).expect("starts");
        s.feed(t0, &frame(&result("00", "000043", "")));
        assert!(s.is_idle());
        let out = s.feed(t0, &frame(b"123456780Slate}"));
        assert!(matches!(&out[0], Output::Ticket(_)));
        assert_eq!(out[1], Output::Write(ACK.to_vec()));
    }

    #[test]
    fn drain_ends_at_its_deadline() {
        let t0 = Instant::now();
        let mut s = session();
        s.begin(t0, Command::EnableEcrPrint(true)).expect("starts");
        s.feed(t0, &ACK);
        s.begin(t0, payment(1234)).expect("starts");
        s.feed(t0, &frame(&result("00", "000042", "")));
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(3)));
        s.poll(t0 + Duration::from_secs(3));
        assert!(s.is_idle());
    }

    #[test]
    fn unsolicited_results_are_acked_and_do_not_resolve() {
        let t0 = Instant::now();
        let mut s = lost_payment(t0, payment(1234));
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert!(matches!(
            &out[0],
            Output::Unsolicited(Reply::Transaction(_))
        ));
        assert_eq!(out[1], Output::Write(ACK.to_vec()));
        assert!(s.pending_recovery().is_some());
        // A result of the wrong kind while a command waits is unsolicited too.
        s.begin(t0, Command::Totals).expect("starts");
        let out = s.feed(t0, &frame(&result("00", "000042", "")));
        assert!(matches!(&out[0], Output::Unsolicited(_)));
        assert!(!s.is_idle());
    }

    #[test]
    fn terminal_id_is_learnt_from_status() {
        let t0 = Instant::now();
        let mut s = Session::new(SessionConfig::new(
            TerminalId::WILDCARD,
            CashRegisterId::parse("1").expect("valid"),
        ));
        let out = s.begin(t0, Command::Status).expect("starts");
        assert_eq!(writes(&out)[0][1..11], *b"000000000s");
        let status =
            frame(concat!("123456780s", "0000000000", "2511251430", "2", "REL0001A").as_bytes());
        let out = s.feed(t0, &status);
        assert!(matches!(
            completion(&out),
            Some(Completion::Replied(Reply::Status(_)))
        ));
        assert_eq!(s.terminal_id(), tid());
        let out = s.begin(t0, Command::Totals).expect("starts");
        assert_eq!(writes(&out)[0][1..9], *b"12345678");
    }

    #[test]
    fn uniform_crate_convention_is_configurable() {
        let t0 = Instant::now();
        let mut config = SessionConfig::new(tid(), CashRegisterId::parse("1").expect("valid"));
        config.lrc = LrcConfig::uniform(LrcMode::Std);
        let mut s = Session::new(config);
        let out = s.begin(t0, payment(1234)).expect("starts");
        assert_eq!(writes(&out)[0][169], 0x22);
        let message = result("00", "000042", "");
        let out = s.feed(t0, &encode_frame(LrcMode::Std, &message).expect("ASCII"));
        assert_eq!(out.last(), Some(&Output::Write(vec![0x06, 0x03, 0x79])));
    }
}
