//! ECR17 ("Protocollo 17"): the protocol between a cash register (ECR) and a Nexi
//! "Traditional POS" card terminal.
//!
//! Card terminals approve a payment and then drop the connection; answers get lost; frames
//! arrive split across TCP reads. This codec makes those cases explicit and keeps one rule
//! above all: **a payment command is never replayed as a new operation**. After the link-level
//! retries, or when the answer is lost, a payment's outcome is *unknown* and must be recovered
//! by asking the terminal for its last result.
//!
//! Layers, all pure (no I/O, time passed in):
//! - [`frame`]: `STX message ETX LRC` framing with the four LRC conventions (base 0x7F), ACK/NAK,
//!   progress frames, and a stream decoder robust to noise and partial input.
//! - [`message`]: request builders (status, payment `P`/`X`, reversal, last result, close
//!   session, totals, enable ECR printing) and reply parsers with typed outcomes; receipt
//!   (`S`) assembly. Only masked card numbers are ever stored.
//! - [`session`]: the dialogue with one terminal: retransmission on NAK/timeout, result wait,
//!   receipt frames, and the recovery guard that refuses new money-moving commands while an
//!   outcome is unknown.
//!
//! Reference: `shared/reference/ecr17.md`. Facts tagged there as community or derived (LRC
//! variant, retransmission count, timeouts, PAN mask, `DDDHHMM`) are configurable or documented
//! at the item that depends on them.

pub mod frame;
pub mod message;
pub mod session;

pub use frame::{FrameDecoder, FrameError, Inbound, LrcConfig, LrcMode, encode_frame};
pub use message::{
    Approval, CardType, CashRegisterId, Cents, Command, EntryMode, MaskedPan, MessageError,
    PaymentRequest, PaymentType, Reply, ResultCode, ResultKind, Stan, TerminalId, Ticket,
    TicketAssembler, TransactionOutcome, TransactionResult,
};
pub use session::{
    Completion, InboundError, LinkFailure, Operation, Output, PendingRecovery, Resolution, Session,
    SessionConfig, SessionError,
};
