//! Requests and responses of the device API, version 1.
//!
//! These are the only shapes a kiosk or counter and the adapter exchange. Money is always integer
//! euro cents; pagoPA identifiers are the `pagopa` domain types, so a value that made it into one
//! of these structs is already well-formed. Fields are added, never renamed or removed, within a
//! version: unknown fields are ignored on reading, so an older device can talk to a newer adapter.

use std::fmt;

use pagopa::soap::PaymentToken;
use pagopa::{Amount, CreditorFiscalCode, Date, NoticeNumber};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{ErrorBody, Timestamp};

/// Why an identifier chosen by a device or the adapter is malformed. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    /// Wrong length or a character outside `[A-Za-z0-9_-]`.
    Malformed {
        /// What kind of identifier.
        what: &'static str,
        /// The allowed lengths.
        min: usize,
        /// The allowed lengths.
        max: usize,
    },
}

impl IdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Malformed { .. } => "ID_MALFORMED",
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Malformed { what, min, max } => write!(
                f,
                "invalid {what}: expected {min} to {max} characters among A-Z a-z 0-9 _ -"
            ),
        }
    }
}

impl std::error::Error for IdError {}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Shortest accepted length.
            pub const MIN_LEN: usize = $min;
            /// Longest accepted length.
            pub const MAX_LEN: usize = $max;

            /// Parse: `MIN_LEN..=MAX_LEN` characters among `A-Z a-z 0-9 _ -`.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let ok = (Self::MIN_LEN..=Self::MAX_LEN).contains(&s.len())
                    && s
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if ok {
                    Ok($name(s.to_owned()))
                } else {
                    Err(IdError::Malformed { what: $what, min: $min, max: $max })
                }
            }

            /// The identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::wire::parse_str(d, $what, Self::parse)
            }
        }
    };
}

token_id! {
    /// The adapter's identifier of a payment (opaque, chosen by the adapter).
    PaymentId, "payment id", 8, 64
}

token_id! {
    /// The device's idempotency key for an operation that must not happen twice (opening a
    /// payment, forwarding an offline payment). The device generates one per logical operation
    /// (a UUID fits) and stores it before sending, so that a resend after a lost answer is
    /// recognised. Keys are scoped to the device.
    ClientKey, "client key", 8, 64
}

/// The kind of station a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// An unattended self-service kiosk.
    Kiosk,
    /// A staffed counter.
    Counter,
}

impl DeviceKind {
    /// Every kind.
    pub const ALL: [DeviceKind; 2] = [DeviceKind::Kiosk, DeviceKind::Counter];

    /// The name on the wire, on the command line and on disk: `kiosk`, `counter`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Counter => "counter",
        }
    }

    /// Parse `kiosk` or `counter`.
    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the citizen chooses to pay; the fee depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tender {
    /// A payment card on the station's terminal.
    Card,
    /// Cash at a counter (or a kiosk with a cash acceptor).
    Cash,
}

impl Tender {
    /// Every tender.
    pub const ALL: [Tender; 2] = [Tender::Card, Tender::Cash];

    /// The name on the wire and on disk: `card`, `cash`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tender::Card => "card",
            Tender::Cash => "cash",
        }
    }

    /// Parse `card` or `cash`.
    pub fn parse(s: &str) -> Option<Tender> {
        Tender::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a payment stands. These names are part of the contract and are also the adapter's
/// on-disk values: they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentState {
    /// The activation was recorded and sent (or is being resent); no answer yet.
    Activating,
    /// The Nodo refused the activation; no money may be taken. See `error`.
    ActivationFailed,
    /// The notice is locked for this payment until `token_expires_at`: take the money, then
    /// report the outcome.
    Active,
    /// The device reported the outcome; the adapter is delivering it to the Nodo.
    OutcomePending,
    /// The Nodo accepted an OK outcome: the notice is paid.
    Confirmed,
    /// The Nodo accepted a KO outcome: nothing was paid.
    Cancelled,
    /// The OK outcome arrived after the session expired and the Nodo accepted it late
    /// (`PPT_TOKEN_SCADUTO`): paid, but an exception for the operators to reconcile.
    LateAccepted,
    /// The money was taken but the notice had been paid by someone else meanwhile
    /// (`PPT_PAGAMENTO_DUPLICATO`): the citizen must be refunded.
    RefundDue,
    /// The refund was made and recorded by an operator.
    Refunded,
    /// The Nodo's answer makes no sense for this payment (unknown token, idempotency error):
    /// an operator must look at it.
    NeedsAttention,
    /// Money taken while the adapter was unreachable, queued to be forwarded to the Nodo.
    OfflineQueued,
}

impl PaymentState {
    /// Every state.
    pub const ALL: [PaymentState; 11] = [
        PaymentState::Activating,
        PaymentState::ActivationFailed,
        PaymentState::Active,
        PaymentState::OutcomePending,
        PaymentState::Confirmed,
        PaymentState::Cancelled,
        PaymentState::LateAccepted,
        PaymentState::RefundDue,
        PaymentState::Refunded,
        PaymentState::NeedsAttention,
        PaymentState::OfflineQueued,
    ];

    /// The name on the wire and on disk, e.g. `refund_due`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Activating => "activating",
            PaymentState::ActivationFailed => "activation_failed",
            PaymentState::Active => "active",
            PaymentState::OutcomePending => "outcome_pending",
            PaymentState::Confirmed => "confirmed",
            PaymentState::Cancelled => "cancelled",
            PaymentState::LateAccepted => "late_accepted",
            PaymentState::RefundDue => "refund_due",
            PaymentState::Refunded => "refunded",
            PaymentState::NeedsAttention => "needs_attention",
            PaymentState::OfflineQueued => "offline_queued",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<PaymentState> {
        PaymentState::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the payment is an exception someone must act on (refund, reconcile, inspect).
    pub fn is_exception(self) -> bool {
        matches!(
            self,
            PaymentState::LateAccepted | PaymentState::RefundDue | PaymentState::NeedsAttention
        )
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /v1/verify`: what is due on a notice. No side effect; safe to repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    /// The 18-digit notice number (codice avviso).
    #[serde(with = "crate::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's 11-digit fiscal code.
    #[serde(with = "crate::wire::fiscal_code")]
    pub creditor_fiscal_code: CreditorFiscalCode,
}

/// The fee for one tender, as the citizen sees it before paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeQuote {
    /// The tender.
    pub tender: Tender,
    /// The fee in cents.
    #[serde(with = "crate::wire::cents")]
    pub fee: Amount,
    /// Amount due plus fee, in cents.
    #[serde(with = "crate::wire::cents")]
    pub total: Amount,
}

/// The answer to a verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResponse {
    /// The notice number.
    #[serde(with = "crate::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    #[serde(with = "crate::wire::fiscal_code")]
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The creditor's name (the comune, an agency…).
    #[serde(default)]
    pub creditor_name: Option<String>,
    /// The creditor's office.
    #[serde(default)]
    pub office_name: Option<String>,
    /// What the payment is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The amount due now, in cents (may differ from the one printed on the notice).
    #[serde(with = "crate::wire::cents")]
    pub amount: Amount,
    /// The due date, if any.
    #[serde(with = "crate::wire::date::option", default)]
    pub due_date: Option<Date>,
    /// The fee and total for each tender this station accepts.
    pub fees: Vec<FeeQuote>,
    /// The Nodo answered for a creditor that is down (Stand-In): the amount is the last known.
    #[serde(default)]
    pub standin: bool,
}

/// `POST /v1/payments`: open a payment (activate the notice) for the amount the citizen saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateRequest {
    /// The device's idempotency key for this payment: resending the same request with the same
    /// key returns the same payment.
    pub client_key: ClientKey,
    /// The notice number.
    #[serde(with = "crate::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    #[serde(with = "crate::wire::fiscal_code")]
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount due from the verify, in cents.
    #[serde(with = "crate::wire::cents")]
    pub amount: Amount,
    /// How the citizen will pay.
    pub tender: Tender,
}

/// How the money was actually taken, in an OK outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidWith {
    /// Cash.
    Cash,
    /// A credit or prepaid card (international circuits).
    CreditCard,
    /// A PagoBANCOMAT debit card.
    Pagobancomat,
    /// Another card circuit.
    OtherCard,
}

impl PaidWith {
    /// The tender this belongs to (which fee applies).
    pub fn tender(self) -> Tender {
        match self {
            PaidWith::Cash => Tender::Cash,
            PaidWith::CreditCard | PaidWith::Pagobancomat | PaidWith::OtherCard => Tender::Card,
        }
    }

    /// The name on the wire and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            PaidWith::Cash => "cash",
            PaidWith::CreditCard => "credit_card",
            PaidWith::Pagobancomat => "pagobancomat",
            PaidWith::OtherCard => "other_card",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<PaidWith> {
        [
            PaidWith::Cash,
            PaidWith::CreditCard,
            PaidWith::Pagobancomat,
            PaidWith::OtherCard,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// What the card terminal printed about a card payment. There is no field for a card number:
/// only its masked tail may travel (invariant: no card number is stored).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TerminalRefs {
    /// The terminal's identifier.
    pub terminal_id: String,
    /// The authorization code.
    #[serde(default)]
    pub auth_code: Option<String>,
    /// The terminal's operation number (STAN or similar).
    #[serde(default)]
    pub operation_id: Option<String>,
    /// The card as the terminal masks it, e.g. `************1234`: at most the last four digits
    /// in clear (see [`TerminalRefs::masked_pan_is_safe`]).
    #[serde(default)]
    pub masked_pan: Option<String>,
    /// The card circuit as the terminal names it (`VISA`, `PAGOBANCOMAT`…).
    #[serde(default)]
    pub circuit: Option<String>,
}

impl TerminalRefs {
    /// Whether `masked_pan` (if any) shows at most four digits, so that it cannot be a card
    /// number. The adapter refuses anything else.
    pub fn masked_pan_is_safe(&self) -> bool {
        self.masked_pan.as_deref().is_none_or(|p| {
            p.len() <= 32
                && p.bytes().filter(u8::is_ascii_digit).count() <= 4
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'X' | b'x' | b' ' | b'-'))
        })
    }
}

/// Why the money was not taken, in a KO outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KoReason {
    /// The card was declined.
    Declined,
    /// The citizen gave up.
    CancelledByCitizen,
    /// The citizen or the terminal took too long.
    Timeout,
    /// A device failed (terminal, cash acceptor, printer before payment).
    DeviceFault,
    /// Anything else.
    Other,
}

impl KoReason {
    /// The name on the wire and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            KoReason::Declined => "declined",
            KoReason::CancelledByCitizen => "cancelled_by_citizen",
            KoReason::Timeout => "timeout",
            KoReason::DeviceFault => "device_fault",
            KoReason::Other => "other",
        }
    }
}

/// `POST /v1/payments/{id}/outcome`: how the payment went on the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome")]
pub enum OutcomeRequest {
    /// The money was taken.
    #[serde(rename = "OK")]
    Ok {
        /// How.
        paid_with: PaidWith,
        /// The fee actually charged, in cents; must match the fee schedule.
        #[serde(with = "crate::wire::cents")]
        fee: Amount,
        /// When the money was taken (the device's clock).
        paid_at: Timestamp,
        /// The card terminal's references (card payments).
        #[serde(default)]
        terminal: Option<TerminalRefs>,
        /// The station's receipt number.
        #[serde(default)]
        receipt_number: Option<String>,
    },
    /// The money was not taken.
    #[serde(rename = "KO")]
    Ko {
        /// Why.
        reason: KoReason,
    },
}

/// What the device reported, as kept on the payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedOutcome {
    /// The report itself.
    #[serde(flatten)]
    pub report: OutcomeRequest,
    /// When the adapter recorded it.
    pub reported_at: Timestamp,
}

/// A payment as the adapter knows it (`GET /v1/payments/{id}` and the answer to every
/// operation on a payment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The adapter's identifier.
    pub id: PaymentId,
    /// Where it stands.
    pub state: PaymentState,
    /// The device's key that opened it.
    pub client_key: ClientKey,
    /// The notice number.
    #[serde(with = "crate::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    #[serde(with = "crate::wire::fiscal_code")]
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount due, in cents.
    #[serde(with = "crate::wire::cents")]
    pub amount: Amount,
    /// The fee, in cents.
    #[serde(with = "crate::wire::cents")]
    pub fee: Amount,
    /// Amount plus fee, in cents: what the citizen pays.
    #[serde(with = "crate::wire::cents")]
    pub total: Amount,
    /// The tender chosen at activation.
    pub tender: Tender,
    /// The creditor's name, once known.
    #[serde(default)]
    pub creditor_name: Option<String>,
    /// What the payment is for, once known.
    #[serde(default)]
    pub description: Option<String>,
    /// The IUV (creditorReferenceId), once activated.
    #[serde(default)]
    pub iuv: Option<String>,
    /// The Nodo's payment token, once activated (printed on the receipt).
    #[serde(with = "crate::wire::payment_token::option", default)]
    pub payment_token: Option<PaymentToken>,
    /// Until when the notice is locked for this payment.
    #[serde(default)]
    pub token_expires_at: Option<Timestamp>,
    /// The outcome the device reported, if any.
    #[serde(default)]
    pub outcome: Option<ReportedOutcome>,
    /// Why the payment failed or became an exception, when it did.
    #[serde(default)]
    pub error: Option<ErrorBody>,
    /// Taken offline and forwarded later.
    #[serde(default)]
    pub offline: bool,
    /// When the adapter first recorded it.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// `GET /v1/payments`: payments of the device's comune, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentList {
    /// The payments.
    pub payments: Vec<Payment>,
}

/// One payment taken while the adapter was unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflinePayment {
    /// The device's key for forwarding this payment exactly once.
    pub client_key: ClientKey,
    /// The notice number.
    #[serde(with = "crate::wire::notice_number")]
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    #[serde(with = "crate::wire::fiscal_code")]
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount taken for the notice (the one printed on it), in cents.
    #[serde(with = "crate::wire::cents")]
    pub amount: Amount,
    /// The fee taken, in cents.
    #[serde(with = "crate::wire::cents")]
    pub fee: Amount,
    /// How.
    pub paid_with: PaidWith,
    /// When (the device's clock).
    pub paid_at: Timestamp,
    /// The provisional receipt's number.
    pub receipt_number: String,
    /// The card terminal's references (card payments).
    #[serde(default)]
    pub terminal: Option<TerminalRefs>,
}

/// `POST /v1/offline-batches`: payments taken offline, in the order they were taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineBatchRequest {
    /// At most [`OfflineBatchRequest::MAX_PAYMENTS`].
    pub payments: Vec<OfflinePayment>,
}

impl OfflineBatchRequest {
    /// The largest batch accepted.
    pub const MAX_PAYMENTS: usize = 100;
}

/// What became of one payment of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineItemResult {
    /// The device's key.
    pub client_key: ClientKey,
    /// The payment, when it was queued now or had been before (a resend).
    #[serde(default)]
    pub payment: Option<Payment>,
    /// Why it was not queued.
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// The answer to a batch: one result per payment, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineBatchResponse {
    /// The results.
    pub results: Vec<OfflineItemResult>,
}

/// `POST /v1/heartbeat`: the device is alive; it learns the server time and who it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// The agent's version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// The device's clock.
    #[serde(default)]
    pub device_time: Option<Timestamp>,
    /// Offline payments and outcomes waiting in the device's outbox.
    #[serde(default)]
    pub queued: Option<u32>,
    /// The state of the device's peripherals and journal, for the fleet view.
    #[serde(default)]
    pub health: Option<crate::fleet::DeviceHealth>,
}

/// Who the device is, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The adapter's identifier of the device.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: DeviceKind,
    /// The fiscal code of its comune.
    #[serde(with = "crate::wire::fiscal_code")]
    pub comune: CreditorFiscalCode,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// The adapter's clock.
    pub server_time: Timestamp,
    /// `device_time − server_time` in milliseconds, when the device sent its time (network
    /// delay included).
    #[serde(default)]
    pub clock_skew_ms: Option<i64>,
    /// The device, as registered.
    pub device: DeviceInfo,
    /// The API version (`v1`).
    pub api_version: String,
    /// The version of the configuration the adapter holds for the device
    /// ([`crate::fleet::DeviceConfig`]); when it differs from the one applied, the device pulls
    /// `GET /v1/device/config`. 0: nothing published.
    #[serde(default)]
    pub config_version: u64,
}

impl OfflineItemResult {
    /// A payment that was not queued.
    pub fn failed(client_key: ClientKey, error: ErrorBody) -> Self {
        OfflineItemResult {
            client_key,
            payment: None,
            error: Some(error),
        }
    }
}

/// The count and the sum of the payments taken with one tender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TenderTotal {
    /// How many payments.
    pub count: u32,
    /// Their totals (amount plus fee), in cents.
    #[serde(with = "crate::wire::cents")]
    pub cents: Amount,
}

/// The day's totals per tender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClosingTotals {
    /// Cash.
    pub cash: TenderTotal,
    /// Card.
    pub card: TenderTotal,
}

/// One payment the device counts in its day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingItem {
    /// The device's key of the payment (the one that opened it or queued it offline).
    pub client_key: ClientKey,
    /// How it was paid.
    pub tender: Tender,
    /// What the citizen paid (amount plus fee), in cents.
    #[serde(with = "crate::wire::cents")]
    pub total: Amount,
}

/// `POST /v1/closings`: the device's daily cash closing, for the adapter to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingRequest {
    /// The Italian calendar day closed.
    #[serde(with = "crate::wire::date")]
    pub day: Date,
    /// The device's totals per tender.
    pub totals: ClosingTotals,
    /// The cash the drawer should hold, in cents.
    #[serde(with = "crate::wire::cents")]
    pub expected_cash: Amount,
    /// The cash the staff counted, in cents.
    #[serde(with = "crate::wire::cents")]
    pub counted_cash: Amount,
    /// The payments the device counts, at most [`ClosingRequest::MAX_ITEMS`].
    pub payments: Vec<ClosingItem>,
}

impl ClosingRequest {
    /// The most payments one closing may list.
    pub const MAX_ITEMS: usize = 10_000;
}

/// Whether the adapter's record of the day matches the device's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosingVerdict {
    /// Same payments, same amounts, same totals.
    Agree,
    /// Something differs: see the differences.
    Mismatch,
}

impl ClosingVerdict {
    /// The name on the wire and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosingVerdict::Agree => "agree",
            ClosingVerdict::Mismatch => "mismatch",
        }
    }
}

/// A payment both sides count with different tender or total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingAmountDifference {
    /// The payment.
    pub client_key: ClientKey,
    /// The device's tender.
    pub device_tender: Tender,
    /// The device's total, in cents.
    #[serde(with = "crate::wire::cents")]
    pub device_total: Amount,
    /// The adapter's tender.
    pub adapter_tender: Tender,
    /// The adapter's total, in cents.
    #[serde(with = "crate::wire::cents")]
    pub adapter_total: Amount,
}

/// The adapter's answer to a closing (also an entry of `GET /v1/closings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    /// The day.
    #[serde(with = "crate::wire::date")]
    pub day: Date,
    /// 1 for the first closing of the day, then one more for each closing with other data.
    pub revision: u32,
    /// The device's totals, as sent.
    pub device_totals: ClosingTotals,
    /// The cash the drawer should hold, as sent, in cents.
    #[serde(with = "crate::wire::cents")]
    pub expected_cash: Amount,
    /// The cash counted, as sent, in cents.
    #[serde(with = "crate::wire::cents")]
    pub counted_cash: Amount,
    /// The adapter's totals for the device and day.
    pub adapter_totals: ClosingTotals,
    /// The verdict.
    pub verdict: ClosingVerdict,
    /// Payments the device counts that the adapter does not.
    #[serde(default)]
    pub missing_at_adapter: Vec<ClientKey>,
    /// Payments the adapter counts that the device does not.
    #[serde(default)]
    pub missing_at_device: Vec<ClientKey>,
    /// Payments both count, differently.
    #[serde(default)]
    pub amount_differences: Vec<ClosingAmountDifference>,
    /// When the adapter recorded this revision.
    pub recorded_at: Timestamp,
}

/// `GET /v1/closings?day=`: the device's closings of a day, oldest revision first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingList {
    /// The revisions.
    pub closings: Vec<Closing>,
}

/// `POST /v1/payments/{id}/resolution`: how the staff resolved a payment in an exception state
/// (`late_accepted`, `refund_due`, `needs_attention`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "resolution", rename_all = "snake_case")]
pub enum ResolutionRequest {
    /// The citizen got the money back; only for `refund_due`, which becomes `refunded`.
    Refunded {
        /// How the money was given back.
        tender: Tender,
        /// How much, in cents: at least 1, at most what was paid (amount plus fee).
        #[serde(with = "crate::wire::cents")]
        amount: Amount,
        /// Staff's note, at most [`ResolutionRequest::MAX_NOTE`] characters.
        #[serde(default)]
        note: Option<String>,
    },
    /// Nothing more will be done (e.g. the creditor refunds the citizen itself).
    WrittenOff {
        /// Staff's note, at most [`ResolutionRequest::MAX_NOTE`] characters.
        #[serde(default)]
        note: Option<String>,
    },
    /// Resolved otherwise, as the note says.
    Other {
        /// What was done, 1 to [`ResolutionRequest::MAX_NOTE`] characters.
        note: String,
    },
}

impl ResolutionRequest {
    /// The longest note, in characters.
    pub const MAX_NOTE: usize = 200;

    /// The resolution's name on the wire and on disk (`refunded`, `written_off`, `other`).
    pub fn kind(&self) -> &'static str {
        match self {
            ResolutionRequest::Refunded { .. } => "refunded",
            ResolutionRequest::WrittenOff { .. } => "written_off",
            ResolutionRequest::Other { .. } => "other",
        }
    }

    /// The staff's note, if any.
    pub fn note(&self) -> Option<&str> {
        match self {
            ResolutionRequest::Refunded { note, .. } | ResolutionRequest::WrittenOff { note } => {
                note.as_deref()
            }
            ResolutionRequest::Other { note } => Some(note),
        }
    }
}

/// A recorded resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentResolution {
    /// What the staff did.
    #[serde(flatten)]
    pub resolution: ResolutionRequest,
    /// When the adapter recorded it.
    pub resolved_at: Timestamp,
}

/// The answer to a resolution: the payment as it now is, and the resolution recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionResponse {
    /// The payment (`refunded` after a refund; otherwise its exception state, now resolved).
    pub payment: Payment,
    /// The resolution, as first recorded.
    pub resolution: PaymentResolution,
}
