//! The payment flow as a pure state machine: events in, effects out.
//!
//! One [`Flow`] is one attempt to pay one notice, from the scan to the receipt and, for the
//! few that need it, until the adapter has the final word (an outcome delivered late, an offline
//! payment forwarded, an exception resolved by staff). It reads no clock, opens no socket and
//! touches no device: every input is an [`Event`] carrying what happened (an adapter's answer,
//! a terminal's result, the citizen's button, a timer tick with the current time), and every
//! output is an [`Effect`] for the composition root to carry out, whose result comes back as the
//! next event.
//!
//! Because the machine is deterministic, the journal records the events and the effects'
//! intents, and a flow is rebuilt after a crash by feeding the same events again
//! ([`Flow::replay`]); the `Restarted` event then makes it say what to do about whatever was
//! in flight. Decisions that depend on the world outside the flow (whether offline
//! cash is allowed right now, which fee applies offline) are made by the caller and travel
//! inside the event, so a replay reaches the same state whatever changed since.
//!
//! Money rules enforced here:
//! - a card payment whose result is unknown is never sent again: the terminal is asked for its
//!   last result until it says approved, declined or not performed;
//! - once money is taken, the flow cannot be cancelled: it ends with an OK outcome and a receipt;
//! - every activated payment gets exactly one outcome, OK or KO, including when the citizen
//!   walks away (timeout) or cancels while the activation is in flight;
//! - cards are never taken offline.

use channel_api::{
    ActivateRequest, ClientKey, ErrorBody, ErrorCode, FeeQuote, KoReason, OfflineItemResult,
    OfflinePayment, OutcomeRequest, PaidWith, Payment, PaymentId, PaymentState, Tender,
    TerminalRefs, Timestamp, VerifyRequest, VerifyResponse,
};
use pagopa::{Amount, CreditorFiscalCode, NoticeNumber};
use serde::{Deserialize, Serialize};

use crate::config::Mode;

/// The identifier of a flow: also the receipt number and the root of its idempotency keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    id: String,
    activation: ClientKey,
    offline: ClientKey,
}

impl FlowId {
    /// Parse 6 to 40 characters among `A-Z 0-9 -`.
    pub fn parse(s: &str) -> Option<FlowId> {
        let ok = (6..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return None;
        }
        Some(FlowId {
            id: s.to_owned(),
            activation: ClientKey::parse(&format!("act-{s}")).ok()?,
            offline: ClientKey::parse(&format!("off-{s}")).ok()?,
        })
    }

    /// A new identifier from 8 random bytes and the station's day: `YYMMDD-XXXXXXXXXXXX`.
    pub fn generate(day: pagopa::Date, random: [u8; 8]) -> Option<FlowId> {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut bits = u64::from_be_bytes(random);
        let mut tail = String::with_capacity(12);
        for _ in 0..12 {
            tail.push(char::from(ALPHABET[(bits & 31) as usize]));
            bits >>= 5;
        }
        FlowId::parse(&format!(
            "{:02}{:02}{:02}-{tail}",
            day.year() % 100,
            day.month(),
            day.day()
        ))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The idempotency key of this flow's activation.
    pub fn activation_key(&self) -> ClientKey {
        self.activation.clone()
    }

    /// The idempotency key of this flow's offline forwarding.
    pub fn offline_key(&self) -> ClientKey {
        self.offline.clone()
    }
}

impl Serialize for FlowId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

impl<'de> Deserialize<'de> for FlowId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FlowId::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid flow id"))
    }
}

impl std::fmt::Display for FlowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// The notice being paid, as scanned or typed. Personal data of a Data Matrix (debtor's fiscal
/// code and name) is deliberately absent: the flow never needs it, so it is never journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRef {
    /// The notice number.
    #[serde(with = "channel_api::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    #[serde(with = "channel_api::wire::fiscal_code")]
    pub fiscal_code: CreditorFiscalCode,
    /// The amount printed in the code (QR, Data Matrix), if any.
    #[serde(with = "channel_api::wire::cents::option", default)]
    pub printed_amount: Option<Amount>,
    /// `qr`, `datamatrix` or `manual`.
    pub format: String,
}

impl NoticeRef {
    /// From a decoded scan.
    pub fn from_scan(n: &pagopa::scan::ScannedNotice) -> NoticeRef {
        NoticeRef {
            notice_number: n.notice_number,
            fiscal_code: n.fiscal_code,
            printed_amount: n.amount,
            format: n.format.as_str().to_owned(),
        }
    }
}

/// Why the adapter gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// No answer (connection refused, timeout, garbage): the request may or may not have
    /// reached it.
    Unreachable {
        /// For operators.
        detail: String,
    },
    /// An answer: the adapter refused, with a catalogue error.
    Refused {
        /// The error.
        error: ErrorBody,
    },
}

/// Whether cash may be taken offline for this notice, as decided by the caller when the adapter
/// could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum OfflineDecision {
    /// Allowed: this is the fee to charge.
    Allowed {
        /// The cash fee from the configured schedule.
        #[serde(with = "channel_api::wire::cents")]
        fee: Amount,
    },
    /// Not allowed: why (a [`FlowError`] code such as `OFFLINE_LIMIT_PAYMENT`).
    Refused {
        /// The code.
        code: String,
    },
}

/// The card as the terminal reported it: references only, never the card number
/// (invariant 6). The masked number is re-masked here to at most four clear digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRefs {
    /// The terminal's ID.
    pub terminal_id: String,
    /// The transaction's sequence number.
    pub stan: String,
    /// The terminal's online operation number.
    pub online_id: String,
    /// The card's last digits, masked (`************1234`).
    pub masked_pan: String,
    /// The authorization code.
    pub auth_code: Option<String>,
    /// The circuit, where known.
    pub circuit: Option<String>,
}

impl CardRefs {
    /// Keep at most the last four digits of whatever the terminal sent.
    pub fn mask_pan(pan: &str) -> String {
        let digits: Vec<char> = pan.chars().filter(char::is_ascii_digit).collect();
        let keep = digits.len().min(4);
        let tail: String = digits[digits.len() - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(12))
    }

    /// How the money was taken, for the outcome (the fee does not depend on it).
    pub fn paid_with(&self) -> PaidWith {
        match self
            .circuit
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some(c) if c.contains("BANCOMAT") => PaidWith::Pagobancomat,
            Some(c)
                if [
                    "VISA",
                    "MASTERCARD",
                    "MAESTRO",
                    "AMEX",
                    "AMERICAN",
                    "DINERS",
                    "JCB",
                ]
                .iter()
                .any(|n| c.contains(n)) =>
            {
                PaidWith::CreditCard
            }
            Some(_) => PaidWith::OtherCard,
            None => PaidWith::CreditCard,
        }
    }

    fn terminal_refs(&self) -> TerminalRefs {
        TerminalRefs {
            terminal_id: self.terminal_id.clone(),
            auth_code: self.auth_code.clone(),
            operation_id: Some(format!("{}/{}", self.stan, self.online_id)),
            masked_pan: Some(self.masked_pan.clone()),
            circuit: self.circuit.clone(),
        }
    }
}

/// How a card payment ended, as far as the terminal says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CardResult {
    /// Approved: the money moved.
    Approved {
        /// The references.
        card: CardRefs,
    },
    /// Declined: nothing moved.
    Declined {
        /// The terminal's text.
        reason: String,
    },
    /// The answer was lost: nothing may be charged again until resolved.
    Unknown {
        /// Why.
        reason: String,
    },
    /// The terminal could not start the payment: nothing moved.
    Failed {
        /// The driver's error code.
        code: String,
    },
}

/// What the terminal's last result says about a payment whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum LastResult {
    /// It was approved.
    Approved {
        /// The references.
        card: CardRefs,
    },
    /// It was declined.
    Declined {
        /// The terminal's text.
        reason: String,
    },
    /// It never happened.
    NotPerformed,
    /// Still unknown (or the terminal did not answer): ask again later.
    Unresolved {
        /// Why.
        reason: String,
    },
}

/// How a print job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PrintResult {
    /// Confirmed printed.
    Printed,
    /// Failed.
    Failed {
        /// The driver's error code.
        code: String,
        /// Whether part of it may be on paper (a reprint must say it is a copy).
        maybe_printed: bool,
    },
}

/// An input to a flow. Each is journaled before the flow sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A notice was scanned or typed: a flow starts.
    Started {
        /// The new flow's id.
        flow: FlowId,
        /// Kiosk or counter.
        mode: Mode,
        /// The notice.
        notice: NoticeRef,
        /// The clerk, at a counter.
        operator: Option<String>,
    },
    /// The adapter answered the verify, or could not be reached.
    Verified {
        /// The answer.
        result: Result<VerifyResponse, Failure>,
        /// When unreachable: whether cash may be taken offline.
        offline: Option<OfflineDecision>,
    },
    /// The citizen accepted amount and fee (and, at a counter, chose the tender).
    Confirmed {
        /// The tender, if chosen now.
        tender: Option<Tender>,
    },
    /// The adapter answered the activation, or could not be reached.
    Activated {
        /// The answer.
        result: Result<Payment, Failure>,
    },
    /// The citizen or clerk chose how to pay.
    Pay {
        /// Card or cash.
        tender: Tender,
        /// Cash handed over (cash only).
        #[serde(with = "channel_api::wire::cents::option", default)]
        tendered: Option<Amount>,
        /// The clerk.
        operator: Option<String>,
    },
    /// The terminal's result.
    Card {
        /// The result.
        result: CardResult,
    },
    /// The terminal's last result, asked after an unknown one.
    LastResult {
        /// The result.
        result: LastResult,
    },
    /// The drawer was pulsed (or could not be).
    Drawer {
        /// The driver's error code if it failed (staff then open it with the key).
        error: Option<String>,
    },
    /// The adapter answered the outcome, or could not be reached.
    Outcome {
        /// The answer.
        result: Result<Payment, Failure>,
    },
    /// The adapter answered the offline forwarding of this flow's payment.
    Forwarded {
        /// The item's result.
        result: OfflineItemResult,
    },
    /// The adapter's current view of the payment (polled until it is final).
    AdapterState {
        /// The answer.
        result: Result<Payment, Failure>,
    },
    /// The printer's answer.
    Printed {
        /// The result.
        result: PrintResult,
    },
    /// A copy was requested by staff.
    Reprint {
        /// The clerk.
        operator: Option<String>,
    },
    /// The citizen pressed cancel.
    Cancel,
    /// A clerk voided the payment before its outcome.
    Void {
        /// The clerk.
        operator: String,
    },
    /// The citizen asked for more time.
    MoreTime,
    /// The citizen is done (back to the start screen).
    Done,
    /// Staff recorded what they did about an exception.
    Resolve {
        /// What was done (`refunded`, `reconciled`…).
        action: String,
        /// The clerk.
        operator: String,
    },
    /// Time passed.
    Tick,
    /// The agent restarted with this flow unfinished; see `Flow::resume`.
    Restarted {
        /// The intent of a print in flight was journaled: the job may have reached the paper.
        print_journaled: bool,
    },
}

impl Event {
    /// A short name for the journal's `kind` column and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Started { .. } => "started",
            Event::Verified { .. } => "verified",
            Event::Confirmed { .. } => "confirmed",
            Event::Activated { .. } => "activated",
            Event::Pay { .. } => "pay",
            Event::Card { .. } => "card",
            Event::LastResult { .. } => "last_result",
            Event::Drawer { .. } => "drawer",
            Event::Outcome { .. } => "outcome",
            Event::Forwarded { .. } => "forwarded",
            Event::AdapterState { .. } => "adapter_state",
            Event::Printed { .. } => "printed",
            Event::Reprint { .. } => "reprint",
            Event::Cancel => "cancel",
            Event::Void { .. } => "void",
            Event::MoreTime => "more_time",
            Event::Done => "done",
            Event::Resolve { .. } => "resolve",
            Event::Tick => "tick",
            Event::Restarted { .. } => "restarted",
        }
    }
}

/// A side effect for the composition root. Each is journaled (as an intent) before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Ask the adapter what is due.
    Verify {
        /// The request.
        request: VerifyRequest,
    },
    /// Open the payment (same key on every resend).
    Activate {
        /// The request.
        request: ActivateRequest,
    },
    /// Charge the card. Never repeated: an unknown answer is followed by [`Effect::LastResult`].
    Charge {
        /// Amount plus fee.
        #[serde(with = "channel_api::wire::cents")]
        amount: Amount,
    },
    /// Ask the terminal how the last payment ended.
    LastResult {
        /// The amount that was being charged.
        #[serde(with = "channel_api::wire::cents")]
        amount: Amount,
    },
    /// Pulse the cash drawer.
    OpenDrawer,
    /// Report the outcome (the same body on every resend).
    SendOutcome {
        /// The payment.
        payment: PaymentId,
        /// The report.
        request: OutcomeRequest,
    },
    /// Ask the adapter how the payment stands.
    Poll {
        /// The payment.
        payment: PaymentId,
    },
    /// Print the receipt of this flow.
    Print {
        /// A copy (a reprint, or a print after one that may have reached the paper).
        copy: bool,
    },
}

impl Effect {
    /// A short name for the journal's `kind` column and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::Verify { .. } => "verify",
            Effect::Activate { .. } => "activate",
            Effect::Charge { .. } => "charge",
            Effect::LastResult { .. } => "last_result",
            Effect::OpenDrawer => "open_drawer",
            Effect::SendOutcome { .. } => "send_outcome",
            Effect::Poll { .. } => "poll",
            Effect::Print { .. } => "print",
        }
    }
}

/// Where the flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for the verify.
    Verifying,
    /// Showing creditor, amount, fee, total.
    Confirm,
    /// Waiting for the activation.
    Activating,
    /// Payment open: waiting for the tender.
    Tender,
    /// The terminal is charging.
    Charging,
    /// The terminal's answer was lost: asking for its last result.
    CardUnknown,
    /// Cash taken: drawer open, change to give.
    Cash,
    /// Reporting the outcome.
    Completing,
    /// Printing the receipt.
    Printing,
    /// Finished with a receipt.
    Done,
    /// Stopped before any money was taken, with an error to show.
    Failed,
    /// Cancelled (by the citizen, a clerk or a timeout); nothing was charged.
    Cancelled,
    /// Off the screen. Background work may remain (outcome delivery, sync, exception).
    Closed,
}

impl Stage {
    /// The screen the UI shows (see `UI_API.md`).
    pub fn screen(self) -> &'static str {
        match self {
            Stage::Verifying => "verifying",
            Stage::Confirm => "confirm",
            Stage::Activating => "activating",
            Stage::Tender => "tender",
            Stage::Charging | Stage::CardUnknown => "card",
            Stage::Cash => "cash",
            Stage::Completing => "completing",
            Stage::Printing => "printing",
            Stage::Done => "done",
            Stage::Failed => "error",
            Stage::Cancelled => "cancelled",
            Stage::Closed => "idle",
        }
    }
}

/// An error to show, with a stable code. Adapter errors keep the catalogue's code and messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowError {
    /// Stable code (`CARD_DECLINED`, `NOTICE_ALREADY_PAID`…).
    pub code: String,
    /// Italian message.
    pub message_it: String,
    /// English message.
    pub message_en: String,
    /// Whether trying again may help.
    pub retryable: bool,
}

/// The agent's own error codes with their messages (adapter errors come from `channel-api`).
pub const LOCAL_ERRORS: &[(&str, &str, &str, bool)] = &[
    (
        "ADAPTER_UNREACHABLE",
        "Servizio di pagamento non raggiungibile. Riprovare più tardi.",
        "The payment service cannot be reached. Please try again later.",
        true,
    ),
    (
        "OFFLINE_NOT_ALLOWED",
        "Servizio non raggiungibile: pagamento non possibile ora.",
        "Service unreachable: payment not possible now.",
        true,
    ),
    (
        "OFFLINE_NO_AMOUNT",
        "Servizio non raggiungibile: senza importo stampato l'avviso non si può pagare ora.",
        "Service unreachable: a notice without a printed amount cannot be paid now.",
        true,
    ),
    (
        "OFFLINE_LIMIT_PAYMENT",
        "Importo oltre il limite dei pagamenti senza collegamento.",
        "Amount above the limit for payments while disconnected.",
        false,
    ),
    (
        "OFFLINE_LIMIT_OUTSTANDING",
        "Raggiunto il totale massimo di pagamenti senza collegamento.",
        "The maximum total of payments while disconnected has been reached.",
        true,
    ),
    (
        "OFFLINE_LIMIT_AGE",
        "Pagamenti senza collegamento in attesa da troppo tempo: sincronizzare prima.",
        "Payments taken while disconnected are waiting too long: synchronise first.",
        true,
    ),
    (
        "CARD_OFFLINE",
        "Le carte non sono accettate senza collegamento.",
        "Cards are not accepted while disconnected.",
        false,
    ),
    (
        "CARD_DECLINED",
        "Pagamento con carta rifiutato. Riprovare o annullare.",
        "The card payment was declined. Try again or cancel.",
        true,
    ),
    (
        "CARD_NOT_PERFORMED",
        "Il pagamento con carta non è avvenuto: nessun addebito. Riprovare o annullare.",
        "The card payment did not take place: nothing was charged. Try again or cancel.",
        true,
    ),
    (
        "TERMINAL_UNAVAILABLE",
        "Terminale carte non disponibile.",
        "The card terminal is not available.",
        true,
    ),
    (
        "TERMINAL_UNRESOLVED",
        "Esito del pagamento con carta in verifica. Non ripetere il pagamento.",
        "The card payment's result is being checked. Do not pay again.",
        true,
    ),
    (
        "TENDER_NOT_ACCEPTED",
        "Metodo di pagamento non disponibile su questa postazione.",
        "This payment method is not available at this station.",
        false,
    ),
    (
        "TENDERED_TOO_LOW",
        "L'importo consegnato è inferiore al totale.",
        "The cash handed over is less than the total.",
        true,
    ),
    (
        "FEE_UNKNOWN",
        "Commissione non disponibile per questo metodo di pagamento.",
        "No fee is available for this payment method.",
        false,
    ),
    (
        "AMOUNT_CHANGED",
        "L'importo è cambiato durante il pagamento. Ricominciare.",
        "The amount changed during the payment. Please start again.",
        false,
    ),
    (
        "PRINT_FAILED",
        "Ricevuta non stampata: chiedere una copia al personale. Il pagamento è riuscito.",
        "The receipt could not be printed: ask the staff for a copy. The payment succeeded.",
        true,
    ),
    (
        "SCAN_UNREADABLE",
        "Codice non leggibile. Riprovare o inserire i dati a mano.",
        "The code cannot be read. Try again or type the data.",
        true,
    ),
    (
        "NOT_ALLOWED_NOW",
        "Operazione non possibile in questo momento.",
        "This operation is not possible now.",
        false,
    ),
    (
        "BUSY",
        "Un pagamento è già in corso.",
        "A payment is already in progress.",
        false,
    ),
    (
        "LOGIN_REQUIRED",
        "Accesso dell'operatore necessario.",
        "An operator must log in.",
        false,
    ),
    (
        "JOURNAL_FAILED",
        "Postazione fuori servizio. Rivolgersi al personale.",
        "This station is out of service. Please ask the staff.",
        false,
    ),
    (
        "OUTCOME_REFUSED",
        "Pagamento incassato ma non registrato: il personale è stato avvisato.",
        "Payment taken but not recorded: the staff have been notified.",
        false,
    ),
];

impl FlowError {
    /// A local error by code; an unknown code gets a generic message.
    pub fn local(code: &str) -> FlowError {
        let (it, en, retryable) = LOCAL_ERRORS.iter().find(|(c, ..)| *c == code).map_or(
            ("Operazione non riuscita.", "The operation failed.", false),
            |(_, it, en, r)| (*it, *en, *r),
        );
        FlowError {
            code: code.to_owned(),
            message_it: it.to_owned(),
            message_en: en.to_owned(),
            retryable,
        }
    }

    /// An adapter error.
    pub fn adapter(body: &ErrorBody) -> FlowError {
        FlowError {
            code: body.code.as_str().to_owned(),
            message_it: body.message_it.clone(),
            message_en: body.message_en.clone(),
            retryable: body.retryable,
        }
    }

    /// From a failed adapter call.
    pub fn from_failure(f: &Failure) -> FlowError {
        match f {
            Failure::Unreachable { .. } => FlowError::local("ADAPTER_UNREACHABLE"),
            Failure::Refused { error } => FlowError::adapter(error),
        }
    }
}

/// A refused event: the action is not allowed now (HTTP 409 for the UI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.code)]
pub struct Refusal(pub FlowError);

impl Refusal {
    fn new(code: &str) -> Refusal {
        Refusal(FlowError::local(code))
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.0.code
    }
}

/// What was charged and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The tender.
    pub tender: Tender,
    /// The amount due.
    #[serde(with = "channel_api::wire::cents")]
    pub amount: Amount,
    /// The fee.
    #[serde(with = "channel_api::wire::cents")]
    pub fee: Amount,
    /// Amount plus fee.
    #[serde(with = "channel_api::wire::cents")]
    pub total: Amount,
}

/// Money actually taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// How.
    pub paid_with: PaidWith,
    /// When (the station's clock).
    pub paid_at: Timestamp,
    /// Card references.
    pub card: Option<CardRefs>,
    /// Cash handed over.
    #[serde(with = "channel_api::wire::cents::option", default)]
    pub tendered: Option<Amount>,
    /// Change given.
    #[serde(with = "channel_api::wire::cents::option", default)]
    pub change: Option<Amount>,
    /// The clerk who took it.
    pub operator: Option<String>,
}

/// Where the outcome report stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutcomeState {
    /// Being sent, or to resend (no application answer yet).
    Pending {
        /// Attempts so far.
        attempts: u32,
    },
    /// The adapter accepted it.
    Accepted,
    /// The adapter refused it (an application answer: no resend).
    Refused {
        /// The error.
        error: ErrorBody,
    },
}

/// Something staff must act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// The code (`DUPLICATE_PAYMENT`, `NOTICE_ALREADY_PAID`, `OUTCOME_REFUSED`…).
    pub code: String,
    /// What to do: `refund` (give the money back) or `check` (reconcile with the adapter).
    pub action: String,
    /// For staff.
    pub detail: String,
    /// When it was raised.
    pub since: Timestamp,
    /// What staff did, when resolved.
    pub resolution: Option<Resolution>,
}

/// How an exception was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What was done.
    pub action: String,
    /// Who.
    pub operator: String,
    /// When.
    pub at: Timestamp,
}

/// The receipt's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReceiptState {
    /// Confirmed prints (original and copies).
    pub printed: u32,
    /// Whether a job may have reached the paper (so the next print is a copy).
    pub maybe_printed: bool,
    /// The last failure's code.
    pub last_error: Option<String>,
}

/// The static settings the flow obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Kiosk or counter.
    pub mode: Mode,
    /// Screen timeout, ms.
    pub screen_ms: i64,
    /// Final screen timeout, ms.
    pub done_ms: i64,
    /// Interval between questions about an unknown card result, ms.
    pub last_result_retry_ms: i64,
    /// First interval between outcome resends and adapter polls, ms (doubles up to 5 min).
    pub retry_ms: i64,
    /// A card terminal is installed.
    pub card: bool,
    /// A cash drawer is installed.
    pub drawer: bool,
}

/// One payment attempt. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Its id (and receipt number).
    pub id: FlowId,
    /// Kiosk or counter.
    pub mode: Mode,
    /// When it started.
    pub started_at: Timestamp,
    /// The clerk who started it.
    pub operator: Option<String>,
    /// The notice.
    pub notice: NoticeRef,
    /// Where it stands.
    pub stage: Stage,
    /// Taken without the adapter (cash against the printed amount).
    pub offline: bool,
    /// The fee for offline cash.
    #[serde(with = "channel_api::wire::cents::option", default)]
    pub offline_fee: Option<Amount>,
    /// The verify's answer.
    pub verified: Option<VerifyResponse>,
    /// The tender chosen at confirmation.
    pub tender: Option<Tender>,
    /// The payment as the adapter last described it.
    pub payment: Option<Payment>,
    /// The activation was sent and no payment came back: the sync worker must find out.
    pub activation_unresolved: bool,
    /// What is being (or was) charged.
    pub charge: Option<Charge>,
    /// Money taken.
    pub money: Option<Money>,
    /// The outcome decided (OK or KO).
    pub outcome: Option<OutcomeRequest>,
    /// Its delivery.
    pub outcome_state: Option<OutcomeState>,
    /// The offline forwarding's result.
    pub forwarded: bool,
    /// The receipt.
    pub receipt: ReceiptState,
    /// Something for staff.
    pub exception: Option<Exception>,
    /// The error on screen.
    pub error: Option<FlowError>,
    /// When the current screen times out.
    pub deadline: Option<Timestamp>,
    /// When to retry background work (outcome, poll, last result).
    pub retry_at: Option<Timestamp>,
    /// Background retries so far (for the back-off).
    pub retries: u32,
    /// The citizen left (cancel while activating, restart): an activation that arrives gets a
    /// KO outcome.
    pub abandoned: Option<KoReason>,
    /// A clerk voided it.
    pub voided_by: Option<String>,
    /// Last time anything happened.
    pub updated_at: Timestamp,
}

const MAX_BACKOFF_MS: i64 = 300_000;

impl Flow {
    /// Start a flow from its [`Event::Started`]. Returns `None` for any other event.
    pub fn start(event: &Event, now: Timestamp, policy: &Policy) -> Option<(Flow, Vec<Effect>)> {
        let Event::Started {
            flow,
            mode,
            notice,
            operator,
        } = event
        else {
            return None;
        };
        let f = Flow {
            id: flow.clone(),
            mode: *mode,
            started_at: now,
            operator: operator.clone(),
            notice: notice.clone(),
            stage: Stage::Verifying,
            offline: false,
            offline_fee: None,
            verified: None,
            tender: None,
            payment: None,
            activation_unresolved: false,
            charge: None,
            money: None,
            outcome: None,
            outcome_state: None,
            forwarded: false,
            receipt: ReceiptState::default(),
            exception: None,
            error: None,
            deadline: Some(now.add_millis(policy.screen_ms)),
            retry_at: None,
            retries: 0,
            abandoned: None,
            voided_by: None,
            updated_at: now,
        };
        let effect = Effect::Verify {
            request: VerifyRequest {
                notice_number: notice.notice_number,
                creditor_fiscal_code: notice.fiscal_code,
            },
        };
        Some((f, vec![effect]))
    }

    /// Rebuild a flow from its journaled events, in order. Effects are not returned: what was
    /// in flight is for `Flow::resume`.
    pub fn replay<'a>(
        events: impl IntoIterator<Item = (&'a Event, Timestamp)>,
        policy: &Policy,
    ) -> Option<Flow> {
        let mut it = events.into_iter();
        let (first, at) = it.next()?;
        let (mut flow, _) = Flow::start(first, at, policy)?;
        for (event, at) in it {
            // A journaled event was accepted when it happened; the same machine accepts it
            // again. A refusal here would mean a newer agent reads an older journal: skip it.
            let _ = flow.handle(event, at, policy);
        }
        Some(flow)
    }

    /// Whether money was taken (so the flow can only end with an OK outcome and a receipt).
    pub fn money_taken(&self) -> bool {
        self.money.is_some()
    }

    /// Whether an activated payment still needs its outcome decided.
    fn activated_without_outcome(&self) -> bool {
        self.payment
            .as_ref()
            .is_some_and(|p| p.state == PaymentState::Active)
            && self.outcome.is_none()
    }

    /// Whether the flow still occupies the screen.
    pub fn on_screen(&self) -> bool {
        self.stage != Stage::Closed
    }

    /// Whether the flow needs nothing more, from anyone.
    pub fn settled(&self) -> bool {
        self.stage == Stage::Closed
            && self.retry_at.is_none()
            && !self.outcome_pending()
            && !self.activation_unresolved
            && self
                .exception
                .as_ref()
                .is_none_or(|e| e.resolution.is_some())
            && !self.awaiting_forward()
    }

    /// Offline cash not yet accepted by the adapter (the sync worker's queue).
    pub fn awaiting_forward(&self) -> bool {
        self.offline && self.money.is_some() && !self.forwarded && self.voided_by.is_none()
    }

    /// The amounts on screen: (amount, fee, total) for the chosen or default tender.
    pub fn amounts(&self) -> Option<(Amount, Amount, Amount)> {
        if let Some(c) = &self.charge {
            return Some((c.amount, c.fee, c.total));
        }
        let tender = self.tender.unwrap_or(self.default_tender());
        self.quote(tender).map(|c| (c.amount, c.fee, c.total))
    }

    fn default_tender(&self) -> Tender {
        if self.offline || self.mode == Mode::Counter {
            Tender::Cash
        } else {
            Tender::Card
        }
    }

    /// The amount, fee and total for `tender` from what is known now.
    fn quote(&self, tender: Tender) -> Option<Charge> {
        if self.offline {
            let amount = self.notice.printed_amount?;
            let fee = self.offline_fee?;
            return (tender == Tender::Cash).then_some(Charge {
                tender,
                amount,
                fee,
                total: amount.checked_add(fee).ok()?,
            });
        }
        if let Some(p) = &self.payment
            && p.tender == tender
        {
            return Some(Charge {
                tender,
                amount: p.amount,
                fee: p.fee,
                total: p.total,
            });
        }
        let v = self.verified.as_ref()?;
        let q: &FeeQuote = v.fees.iter().find(|q| q.tender == tender)?;
        // A quote is for the verified amount: useless if the activation changed it.
        if self.payment.as_ref().is_some_and(|p| p.amount != v.amount) {
            return None;
        }
        Some(Charge {
            tender,
            amount: v.amount,
            fee: q.fee,
            total: q.total,
        })
    }

    fn show(&mut self, stage: Stage, now: Timestamp, timeout_ms: i64) {
        self.stage = stage;
        self.deadline = Some(now.add_millis(timeout_ms));
    }

    fn ko(&mut self, reason: KoReason, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        let Some(p) = &self.payment else {
            return Vec::new();
        };
        let request = OutcomeRequest::Ko { reason };
        self.outcome = Some(request.clone());
        self.outcome_state = Some(OutcomeState::Pending { attempts: 1 });
        self.stage = if self.on_screen() {
            Stage::Completing
        } else {
            Stage::Closed
        };
        self.deadline = self.on_screen().then(|| now.add_millis(policy.screen_ms));
        vec![Effect::SendOutcome {
            payment: p.id.clone(),
            request,
        }]
    }

    fn ok_outcome(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        let (Some(p), Some(m), Some(c)) = (&self.payment, &self.money, &self.charge) else {
            return Vec::new();
        };
        let payment = p.id.clone();
        let request = OutcomeRequest::Ok {
            paid_with: m.paid_with,
            fee: c.fee,
            paid_at: m.paid_at,
            terminal: m.card.as_ref().map(CardRefs::terminal_refs),
            receipt_number: Some(self.id.as_str().to_owned()),
        };
        self.outcome = Some(request.clone());
        self.outcome_state = Some(OutcomeState::Pending { attempts: 1 });
        self.show(Stage::Completing, now, policy.screen_ms);
        vec![Effect::SendOutcome { payment, request }]
    }

    fn print(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        self.show(Stage::Printing, now, policy.screen_ms);
        vec![Effect::Print {
            copy: self.receipt.printed > 0 || self.receipt.maybe_printed,
        }]
    }

    fn backoff(&mut self, now: Timestamp, policy: &Policy) {
        let shift = self.retries.min(8);
        let wait = (policy.retry_ms << shift).min(MAX_BACKOFF_MS);
        self.retries += 1;
        self.retry_at = Some(now.add_millis(wait));
    }

    fn raise(&mut self, code: &str, action: &str, detail: String, now: Timestamp) {
        if self.exception.is_none() {
            self.exception = Some(Exception {
                code: code.to_owned(),
                action: action.to_owned(),
                detail,
                since: now,
                resolution: None,
            });
        }
    }

    /// Whether the adapter's state of the payment is final for this station.
    fn adapter_final(&self) -> bool {
        self.payment.as_ref().is_some_and(|p| {
            !matches!(
                p.state,
                PaymentState::Activating
                    | PaymentState::OutcomePending
                    | PaymentState::OfflineQueued
            )
        })
    }

    /// Record the adapter's view of the payment, raising an exception for the states that need
    /// staff, and keep polling until it is final.
    fn learn(&mut self, p: Payment, now: Timestamp, policy: &Policy) {
        match p.state {
            PaymentState::RefundDue => self.raise(
                "DUPLICATE_PAYMENT",
                "refund",
                p.error
                    .as_ref()
                    .map_or_else(String::new, |e| e.code.to_string()),
                now,
            ),
            PaymentState::LateAccepted => self.raise("LATE_OUTCOME", "check", String::new(), now),
            PaymentState::NeedsAttention => self.raise(
                "NEEDS_ATTENTION",
                if self.money_taken() {
                    "refund"
                } else {
                    "check"
                },
                p.error
                    .as_ref()
                    .map_or_else(String::new, |e| e.code.to_string()),
                now,
            ),
            // An offline payment the Nodo refused (already paid, expired, amount changed):
            // the cash must go back.
            PaymentState::ActivationFailed | PaymentState::Cancelled if self.money_taken() => {
                let code = p
                    .error
                    .as_ref()
                    .map_or("PAYMENT_REJECTED", |e| e.code.as_str());
                self.raise(code, "refund", String::new(), now);
            }
            _ => {}
        }
        self.payment = Some(p);
        if self.adapter_final() {
            self.retry_at = None;
            self.retries = 0;
        } else if self.retry_at.is_none() {
            self.backoff(now, policy);
        }
    }

    /// Feed one event. `Err` means the action is not allowed now; the flow is unchanged only
    /// if the caller discards it (the core works on a copy).
    pub fn handle(
        &mut self,
        event: &Event,
        now: Timestamp,
        policy: &Policy,
    ) -> Result<Vec<Effect>, Refusal> {
        self.updated_at = now;
        let not_now = || Err(Refusal::new("NOT_ALLOWED_NOW"));
        let effects = match event {
            Event::Started { .. } => return Err(Refusal::new("BUSY")),
            Event::Verified { result, offline } => {
                if self.stage != Stage::Verifying {
                    // Cancelled while verifying: the answer has nothing left to do.
                    return Ok(Vec::new());
                }
                match (result, offline) {
                    (Ok(v), _) => {
                        self.verified = Some(v.clone());
                        self.error = None;
                        self.show(Stage::Confirm, now, policy.screen_ms);
                    }
                    (Err(Failure::Unreachable { .. }), Some(OfflineDecision::Allowed { fee })) => {
                        self.offline = true;
                        self.offline_fee = Some(*fee);
                        self.show(Stage::Confirm, now, policy.screen_ms);
                    }
                    (Err(Failure::Unreachable { .. }), Some(OfflineDecision::Refused { code })) => {
                        self.error = Some(FlowError::local(code));
                        self.show(Stage::Failed, now, policy.done_ms);
                    }
                    (Err(f), _) => {
                        self.error = Some(FlowError::from_failure(f));
                        self.show(Stage::Failed, now, policy.done_ms);
                    }
                }
                Vec::new()
            }
            Event::Confirmed { tender } => {
                let retry_activation = self.stage == Stage::Failed
                    && self.activation_unresolved
                    && self.payment.is_none();
                if self.stage != Stage::Confirm && !retry_activation {
                    return not_now();
                }
                let tender = tender.or(self.tender).unwrap_or(self.default_tender());
                if self.mode == Mode::Kiosk && tender != Tender::Card
                    || tender == Tender::Card && !policy.card
                {
                    return Err(Refusal::new("TENDER_NOT_ACCEPTED"));
                }
                if self.offline {
                    if tender == Tender::Card {
                        return Err(Refusal::new("CARD_OFFLINE"));
                    }
                    self.tender = Some(tender);
                    self.show(Stage::Tender, now, policy.screen_ms);
                    return Ok(Vec::new());
                }
                let Some(v) = &self.verified else {
                    return not_now();
                };
                if !v.fees.iter().any(|q| q.tender == tender) {
                    return Err(Refusal::new("TENDER_NOT_ACCEPTED"));
                }
                // A resend after a lost answer must be the identical request.
                let tender = if retry_activation {
                    self.tender.unwrap_or(tender)
                } else {
                    tender
                };
                let request = ActivateRequest {
                    client_key: self.id.activation_key(),
                    notice_number: self.notice.notice_number,
                    creditor_fiscal_code: self.notice.fiscal_code,
                    amount: v.amount,
                    tender,
                };
                self.tender = Some(tender);
                self.error = None;
                self.activation_unresolved = true;
                self.show(Stage::Activating, now, policy.screen_ms);
                vec![Effect::Activate { request }]
            }
            Event::Activated { result } => self.activated(result, now, policy),
            Event::Pay {
                tender,
                tendered,
                operator,
            } => {
                if self.stage != Stage::Tender {
                    return not_now();
                }
                if self.mode == Mode::Kiosk && *tender == Tender::Cash
                    || *tender == Tender::Card && !policy.card
                {
                    return Err(Refusal::new("TENDER_NOT_ACCEPTED"));
                }
                if self.offline && *tender == Tender::Card {
                    return Err(Refusal::new("CARD_OFFLINE"));
                }
                let Some(charge) = self.quote(*tender) else {
                    return Err(Refusal::new("FEE_UNKNOWN"));
                };
                match tender {
                    Tender::Card => {
                        self.charge = Some(charge.clone());
                        self.error = None;
                        self.stage = Stage::Charging;
                        // The terminal has its own timeouts; the screen waits for its answer.
                        self.deadline = None;
                        vec![Effect::Charge {
                            amount: charge.total,
                        }]
                    }
                    Tender::Cash => {
                        let Some(tendered) = tendered.filter(|t| *t >= charge.total) else {
                            return Err(Refusal::new("TENDERED_TOO_LOW"));
                        };
                        let change = tendered.checked_sub(charge.total).unwrap_or(Amount::ZERO);
                        self.money = Some(Money {
                            paid_with: PaidWith::Cash,
                            paid_at: now,
                            card: None,
                            tendered: Some(tendered),
                            change: Some(change),
                            operator: operator.clone().or_else(|| self.operator.clone()),
                        });
                        self.charge = Some(charge);
                        self.error = None;
                        self.show(Stage::Cash, now, policy.screen_ms);
                        if policy.drawer {
                            vec![Effect::OpenDrawer]
                        } else {
                            self.after_cash(now, policy)
                        }
                    }
                }
            }
            Event::Card { result } => {
                if self.stage != Stage::Charging {
                    return Ok(Vec::new());
                }
                match result {
                    CardResult::Approved { card } => self.card_approved(card, now, policy),
                    CardResult::Declined { .. } => {
                        self.charge = None;
                        self.error = Some(FlowError::local("CARD_DECLINED"));
                        self.show(Stage::Tender, now, policy.screen_ms);
                        Vec::new()
                    }
                    CardResult::Failed { .. } => {
                        self.charge = None;
                        self.error = Some(FlowError::local("TERMINAL_UNAVAILABLE"));
                        self.show(Stage::Tender, now, policy.screen_ms);
                        Vec::new()
                    }
                    CardResult::Unknown { .. } => {
                        self.stage = Stage::CardUnknown;
                        self.deadline = None;
                        let amount = self.charge.as_ref().map_or(Amount::ZERO, |c| c.total);
                        vec![Effect::LastResult { amount }]
                    }
                }
            }
            Event::LastResult { result } => {
                if self.stage != Stage::CardUnknown {
                    return Ok(Vec::new());
                }
                match result {
                    LastResult::Approved { card } => {
                        self.retry_at = None;
                        self.card_approved(card, now, policy)
                    }
                    LastResult::Declined { .. } | LastResult::NotPerformed => {
                        self.retry_at = None;
                        self.charge = None;
                        // A payment the terminal never ran (the answer was lost before it
                        // began, or the agent restarted first) was not declined: say so.
                        let code = if matches!(result, LastResult::NotPerformed) {
                            "CARD_NOT_PERFORMED"
                        } else {
                            "CARD_DECLINED"
                        };
                        self.error = Some(FlowError::local(code));
                        self.show(Stage::Tender, now, policy.screen_ms);
                        Vec::new()
                    }
                    LastResult::Unresolved { .. } => {
                        // Never decide by default: the money may have moved. Ask again later;
                        // staff see the flow on the card screen with this error.
                        self.error = Some(FlowError::local("TERMINAL_UNRESOLVED"));
                        self.retry_at = Some(now.add_millis(policy.last_result_retry_ms));
                        Vec::new()
                    }
                }
            }
            Event::Drawer { .. } => {
                if self.stage != Stage::Cash {
                    return Ok(Vec::new());
                }
                self.after_cash(now, policy)
            }
            Event::Outcome { result } => self.outcome_answered(result, now, policy),
            Event::Forwarded { result } => {
                if !self.awaiting_forward() {
                    return Ok(Vec::new());
                }
                match (&result.payment, &result.error) {
                    (Some(p), _) => {
                        self.forwarded = true;
                        self.learn(p.clone(), now, policy);
                    }
                    (None, Some(e)) if e.retryable => {}
                    (None, Some(e)) => {
                        // Refused for good (a conflict the adapter saw at once): the cash goes
                        // back to the citizen.
                        self.forwarded = true;
                        self.raise(
                            e.code.as_str(),
                            "refund",
                            e.detail.clone().unwrap_or_default(),
                            now,
                        );
                    }
                    (None, None) => {}
                }
                Vec::new()
            }
            Event::AdapterState { result } => {
                match result {
                    Ok(p) => self.learn(p.clone(), now, policy),
                    Err(Failure::Unreachable { .. }) => self.backoff(now, policy),
                    Err(Failure::Refused { error }) => {
                        // The adapter no longer shows it: nothing more to learn by polling.
                        self.retry_at = None;
                        if self.money_taken() {
                            self.raise(error.code.as_str(), "check", String::new(), now);
                        }
                    }
                }
                Vec::new()
            }
            Event::Printed { result } => {
                match result {
                    PrintResult::Printed => {
                        self.receipt.printed += 1;
                        self.receipt.last_error = None;
                    }
                    PrintResult::Failed {
                        code,
                        maybe_printed,
                    } => {
                        self.receipt.maybe_printed |= maybe_printed;
                        self.receipt.last_error = Some(code.clone());
                    }
                }
                if self.stage == Stage::Printing {
                    self.error = self
                        .receipt
                        .last_error
                        .as_ref()
                        .map(|_| FlowError::local("PRINT_FAILED"));
                    self.show(Stage::Done, now, policy.done_ms);
                }
                Vec::new()
            }
            Event::Reprint { .. } => {
                if !self.money_taken() || self.stage == Stage::Printing {
                    return not_now();
                }
                // A copy only if a print may have reached the paper: a citizen whose receipt
                // never printed (paper out before the job) gets the original.
                vec![Effect::Print {
                    copy: self.receipt.printed > 0 || self.receipt.maybe_printed,
                }]
            }
            Event::Cancel => self.cancel(KoReason::CancelledByCitizen, now, policy)?,
            Event::Void { operator } => {
                if self.mode != Mode::Counter {
                    return not_now();
                }
                if self.stage == Stage::Cash && self.outcome.is_none() {
                    // The clerk hands the cash back before the outcome went out.
                    self.money = None;
                    self.voided_by = Some(operator.clone());
                    if self.offline {
                        self.show(Stage::Cancelled, now, policy.done_ms);
                        return Ok(Vec::new());
                    }
                    return Ok(self.ko(KoReason::Other, now, policy));
                }
                let effects = self.cancel(KoReason::Other, now, policy)?;
                self.voided_by = Some(operator.clone());
                effects
            }
            Event::MoreTime => {
                if !matches!(self.stage, Stage::Confirm | Stage::Tender) {
                    return not_now();
                }
                self.deadline = Some(now.add_millis(policy.screen_ms));
                Vec::new()
            }
            Event::Done => {
                if !matches!(self.stage, Stage::Done | Stage::Failed | Stage::Cancelled) {
                    return not_now();
                }
                self.close()
            }
            Event::Resolve { action, operator } => {
                match &mut self.exception {
                    Some(e) if e.resolution.is_none() => {
                        e.resolution = Some(Resolution {
                            action: action.clone(),
                            operator: operator.clone(),
                            at: now,
                        });
                    }
                    _ => return not_now(),
                }
                Vec::new()
            }
            Event::Tick => self.tick(now, policy),
            Event::Restarted { print_journaled } => {
                if *print_journaled {
                    self.receipt.maybe_printed = true;
                }
                self.resume(now, policy)
            }
        };
        Ok(effects)
    }

    fn close(&mut self) -> Vec<Effect> {
        self.stage = Stage::Closed;
        self.deadline = None;
        if !self.offline
            && self.payment.is_some()
            && !self.adapter_final()
            && self.retry_at.is_none()
        {
            // Keep polling in the background until the adapter's state is final.
            self.retry_at = Some(self.updated_at);
        }
        Vec::new()
    }

    fn activated(
        &mut self,
        result: &Result<Payment, Failure>,
        now: Timestamp,
        policy: &Policy,
    ) -> Vec<Effect> {
        if self.payment.is_some() {
            return Vec::new();
        }
        match result {
            Ok(p) => {
                self.activation_unresolved = false;
                let active = p.state == PaymentState::Active;
                self.payment = Some(p.clone());
                if !active {
                    self.error = p
                        .error
                        .as_ref()
                        .map(FlowError::adapter)
                        .or_else(|| Some(FlowError::local("NOT_ALLOWED_NOW")));
                    if self.on_screen() && self.abandoned.is_none() {
                        self.show(Stage::Failed, now, policy.done_ms);
                    }
                    return Vec::new();
                }
                if let Some(reason) = self.abandoned {
                    return self.ko(reason, now, policy);
                }
                let amount_changed = self.verified.as_ref().is_some_and(|v| v.amount != p.amount);
                if amount_changed && self.quote(self.tender.unwrap_or(p.tender)).is_none() {
                    self.error = Some(FlowError::local("AMOUNT_CHANGED"));
                    return self.ko(KoReason::Other, now, policy);
                }
                self.error = None;
                self.show(Stage::Tender, now, policy.screen_ms);
                Vec::new()
            }
            Err(f) => {
                // An application refusal means no token exists; no answer means one may.
                let unknown = match f {
                    Failure::Unreachable { .. } => true,
                    Failure::Refused { error } => error.code == ErrorCode::NodoUnavailable,
                };
                self.activation_unresolved = unknown;
                if !self.on_screen() || self.abandoned.is_some() {
                    if unknown {
                        self.backoff(now, policy);
                    }
                    return Vec::new();
                }
                self.error = Some(FlowError::from_failure(f));
                self.show(Stage::Failed, now, policy.done_ms);
                Vec::new()
            }
        }
    }

    fn card_approved(&mut self, card: &CardRefs, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        let mut card = card.clone();
        card.masked_pan = CardRefs::mask_pan(&card.masked_pan);
        self.money = Some(Money {
            paid_with: card.paid_with(),
            paid_at: now,
            card: Some(card),
            tendered: None,
            change: None,
            operator: self.operator.clone(),
        });
        self.error = None;
        self.ok_outcome(now, policy)
    }

    fn after_cash(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        if self.offline {
            // Queued for the sync worker by its state (money taken, not forwarded): print the
            // provisional receipt.
            return self.print(now, policy);
        }
        self.ok_outcome(now, policy)
    }

    fn outcome_answered(
        &mut self,
        result: &Result<Payment, Failure>,
        now: Timestamp,
        policy: &Policy,
    ) -> Vec<Effect> {
        if !matches!(self.outcome_state, Some(OutcomeState::Pending { .. })) {
            return Vec::new();
        }
        let ok = matches!(self.outcome, Some(OutcomeRequest::Ok { .. }));
        match result {
            Ok(p) => {
                self.outcome_state = Some(OutcomeState::Accepted);
                self.retry_at = None;
                self.retries = 0;
                self.learn(p.clone(), now, policy);
            }
            Err(Failure::Refused { error }) if !error.retryable => {
                // An application answer ends the retries (invariant 3).
                self.outcome_state = Some(OutcomeState::Refused {
                    error: error.clone(),
                });
                self.retry_at = None;
                if ok {
                    self.raise("OUTCOME_REFUSED", "refund", error.code.to_string(), now);
                }
            }
            // No answer, or the adapter's own transient failure: the same body again later.
            Err(_) => {
                let attempts = match self.outcome_state {
                    Some(OutcomeState::Pending { attempts }) => attempts,
                    _ => 1,
                };
                self.outcome_state = Some(OutcomeState::Pending { attempts });
                self.backoff(now, policy);
            }
        }
        if self.stage != Stage::Completing {
            return Vec::new();
        }
        if ok {
            // The receipt does not wait for a late outcome: it is resent in the background.
            self.print(now, policy)
        } else {
            self.show(
                if self.voided_by.is_some() || self.abandoned.is_some() || self.error.is_none() {
                    Stage::Cancelled
                } else {
                    Stage::Failed
                },
                now,
                policy.done_ms,
            );
            Vec::new()
        }
    }

    fn cancel(
        &mut self,
        reason: KoReason,
        now: Timestamp,
        policy: &Policy,
    ) -> Result<Vec<Effect>, Refusal> {
        match self.stage {
            Stage::Verifying | Stage::Confirm => {
                self.show(Stage::Cancelled, now, policy.done_ms);
                Ok(Vec::new())
            }
            Stage::Activating => {
                // The answer is still coming: if it opens a payment, it gets a KO outcome.
                self.abandoned = Some(reason);
                self.show(Stage::Cancelled, now, policy.done_ms);
                Ok(Vec::new())
            }
            Stage::Tender | Stage::Failed if self.activated_without_outcome() => {
                self.error = None;
                Ok(self.ko(reason, now, policy))
            }
            Stage::Tender | Stage::Failed => {
                self.show(Stage::Cancelled, now, policy.done_ms);
                Ok(Vec::new())
            }
            Stage::Done | Stage::Cancelled => Ok(self.close()),
            // Money is moving or taken: the terminal's own cancel key, or the OK path.
            _ => Err(Refusal::new("NOT_ALLOWED_NOW")),
        }
    }

    fn tick(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.deadline.is_some_and(|d| now >= d) {
            match self.stage {
                Stage::Verifying | Stage::Confirm | Stage::Activating => {
                    if self.stage == Stage::Activating {
                        self.abandoned = Some(KoReason::Timeout);
                    }
                    self.stage = Stage::Cancelled;
                    effects.extend(self.close());
                }
                Stage::Tender | Stage::Failed if self.activated_without_outcome() => {
                    // The citizen walked away after activation: nothing was charged; the
                    // payment gets its KO outcome.
                    effects.extend(self.ko(KoReason::Timeout, now, policy));
                    self.stage = Stage::Cancelled;
                    self.deadline = Some(now.add_millis(policy.done_ms));
                }
                Stage::Tender | Stage::Failed | Stage::Done | Stage::Cancelled => {
                    effects.extend(self.close());
                }
                // Waiting on a device or the adapter: their own timeouts answer.
                _ => self.deadline = None,
            }
        }
        if self.retry_at.is_some_and(|r| now >= r) {
            self.retry_at = None;
            effects.extend(self.background(now, policy));
        }
        effects
    }

    /// Work left after the screen: resend the outcome, find out an unresolved activation,
    /// poll the adapter, ask the terminal again.
    fn background(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        if self.stage == Stage::CardUnknown {
            let amount = self.charge.as_ref().map_or(Amount::ZERO, |c| c.total);
            return vec![Effect::LastResult { amount }];
        }
        if let (Some(OutcomeState::Pending { attempts }), Some(request), Some(p)) =
            (&self.outcome_state, &self.outcome, &self.payment)
        {
            let effect = Effect::SendOutcome {
                payment: p.id.clone(),
                request: request.clone(),
            };
            self.outcome_state = Some(OutcomeState::Pending {
                attempts: attempts + 1,
            });
            return vec![effect];
        }
        if self.activation_unresolved && self.payment.is_none() {
            if self.abandoned.is_none() {
                self.abandoned = Some(KoReason::Other);
            }
            let (Some(amount), Some(tender)) =
                (self.verified.as_ref().map(|v| v.amount), self.tender)
            else {
                return Vec::new();
            };
            self.backoff(now, policy);
            return vec![Effect::Activate {
                request: ActivateRequest {
                    client_key: self.id.activation_key(),
                    notice_number: self.notice.notice_number,
                    creditor_fiscal_code: self.notice.fiscal_code,
                    amount,
                    tender,
                },
            }];
        }
        if let Some(p) = &self.payment
            && !self.adapter_final()
        {
            return vec![Effect::Poll {
                payment: p.id.clone(),
            }];
        }
        Vec::new()
    }

    /// After a restart, with this flow unfinished: what to do about what was in flight. The
    /// citizen is gone, so nothing waits for a button: open payments get a KO outcome, money
    /// taken gets its OK outcome and receipt, an unknown card result is asked to the terminal.
    fn resume(&mut self, now: Timestamp, policy: &Policy) -> Vec<Effect> {
        match self.stage {
            Stage::Verifying | Stage::Confirm => {
                self.stage = Stage::Closed;
                self.deadline = None;
                Vec::new()
            }
            Stage::Activating => {
                // Find out whether the activation opened a payment; if so, KO it.
                self.abandoned = Some(KoReason::DeviceFault);
                self.stage = Stage::Closed;
                self.deadline = None;
                self.retry_at = Some(now);
                Vec::new()
            }
            Stage::Tender | Stage::Failed | Stage::Cancelled | Stage::Done
                if self.activated_without_outcome() =>
            {
                self.stage = Stage::Closed;
                self.deadline = None;
                self.ko(KoReason::DeviceFault, now, policy)
            }
            Stage::Charging | Stage::CardUnknown => {
                // Never charge again: ask the terminal what became of it.
                self.stage = Stage::CardUnknown;
                self.deadline = None;
                let amount = self.charge.as_ref().map_or(Amount::ZERO, |c| c.total);
                vec![Effect::LastResult { amount }]
            }
            Stage::Cash => {
                // The cash is in the drawer: do not pulse it again, go on with the outcome.
                self.after_cash(now, policy)
            }
            Stage::Completing => {
                // Resend the same outcome; the receipt follows its answer.
                let Some(request) = self.outcome.clone() else {
                    return Vec::new();
                };
                let Some(p) = &self.payment else {
                    return Vec::new();
                };
                vec![Effect::SendOutcome {
                    payment: p.id.clone(),
                    request,
                }]
            }
            Stage::Printing => {
                // The job may have reached the paper: what follows says it is a copy. The
                // caller knows whether the intent was journaled and corrects `maybe_printed`.
                self.print(now, policy)
            }
            Stage::Tender | Stage::Failed | Stage::Cancelled | Stage::Done => {
                self.stage = Stage::Closed;
                self.deadline = None;
                self.resend_pending_outcome(now)
            }
            Stage::Closed => self.resend_pending_outcome(now),
        }
    }

    /// An outcome that was in flight when the power went, with no retry planned (a KO sent
    /// after the screen moved on, or from a previous recovery): the same body goes again at
    /// once, from the background (found by the crash tests, `tests/crash.rs`).
    fn resend_pending_outcome(&mut self, now: Timestamp) -> Vec<Effect> {
        if self.outcome_pending() && self.retry_at.is_none() {
            self.retry_at = Some(now);
        }
        Vec::new()
    }

    /// Whether an outcome was sent and not answered yet.
    pub fn outcome_pending(&self) -> bool {
        matches!(self.outcome_state, Some(OutcomeState::Pending { .. }))
    }

    /// The payment as forwarded offline.
    pub fn offline_payment(&self) -> Option<OfflinePayment> {
        let (m, c) = (self.money.as_ref()?, self.charge.as_ref()?);
        Some(OfflinePayment {
            client_key: self.id.offline_key(),
            notice_number: self.notice.notice_number,
            creditor_fiscal_code: self.notice.fiscal_code,
            amount: c.amount,
            fee: c.fee,
            paid_with: m.paid_with,
            paid_at: m.paid_at,
            receipt_number: self.id.as_str().to_owned(),
            terminal: m.card.as_ref().map(CardRefs::terminal_refs),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
