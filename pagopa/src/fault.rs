//! What the caller must do after each answer the Nodo can give.
//!
//! The Nodo reports failures as fault codes (`PPT_*` from the Nodo itself, `PAA_*` from the
//! creditor, passed through in `originalFaultCode`), and the right reaction depends on the code
//! *and* on the primitive: `PPT_PAGAMENTO_DUPLICATO` before the payment means "already paid, do
//! not take the money", after it means "refund the citizen". [`classify`] turns a fault into an
//! [`Action`]; [`classify_transport`] and [`classify_soap_error`] do the same for answers that
//! never arrived or could not be read. The table follows the SANP "Gestione degli errori"
//! pages and the best-practice page on late outcomes (see `shared/reference/pagopa.md` §2.5, §3).

use crate::soap::{SoapError, SoapFault, SoapFaultCode};

/// A Nodo primitive the PSP calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// verifyPaymentNotice: read what is due (no side effect).
    VerifyPaymentNotice,
    /// activatePaymentNotice: lock the notice, open a payment session.
    ActivatePaymentNotice,
    /// activatePaymentNoticeV2
    ActivatePaymentNoticeV2,
    /// sendPaymentOutcome: close the session with OK or KO.
    SendPaymentOutcome,
    /// sendPaymentOutcomeV2
    SendPaymentOutcomeV2,
}

impl Primitive {
    /// All five, in flow order.
    pub const ALL: [Primitive; 5] = [
        Primitive::VerifyPaymentNotice,
        Primitive::ActivatePaymentNotice,
        Primitive::ActivatePaymentNoticeV2,
        Primitive::SendPaymentOutcome,
        Primitive::SendPaymentOutcomeV2,
    ];

    /// The HTTP `SOAPAction` (the operation name).
    pub fn soap_action(self) -> &'static str {
        match self {
            Primitive::VerifyPaymentNotice => "verifyPaymentNotice",
            Primitive::ActivatePaymentNotice => "activatePaymentNotice",
            Primitive::ActivatePaymentNoticeV2 => "activatePaymentNoticeV2",
            Primitive::SendPaymentOutcome => "sendPaymentOutcome",
            Primitive::SendPaymentOutcomeV2 => "sendPaymentOutcomeV2",
        }
    }

    /// The request's body element.
    pub fn request_element(self) -> &'static str {
        match self {
            Primitive::VerifyPaymentNotice => "verifyPaymentNoticeReq",
            Primitive::ActivatePaymentNotice => "activatePaymentNoticeReq",
            Primitive::ActivatePaymentNoticeV2 => "activatePaymentNoticeV2Request",
            Primitive::SendPaymentOutcome => "sendPaymentOutcomeReq",
            Primitive::SendPaymentOutcomeV2 => "sendPaymentOutcomeV2Request",
        }
    }

    /// The response's body element.
    pub fn response_element(self) -> &'static str {
        match self {
            Primitive::VerifyPaymentNotice => "verifyPaymentNoticeRes",
            Primitive::ActivatePaymentNotice => "activatePaymentNoticeRes",
            Primitive::ActivatePaymentNoticeV2 => "activatePaymentNoticeV2Response",
            Primitive::SendPaymentOutcome => "sendPaymentOutcomeRes",
            Primitive::SendPaymentOutcomeV2 => "sendPaymentOutcomeV2Response",
        }
    }

    /// sendPaymentOutcome or its V2: the money has (or has not) been taken already.
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            Primitive::SendPaymentOutcome | Primitive::SendPaymentOutcomeV2
        )
    }

    /// The primitive for a `SOAPAction` value (quotes around it are accepted).
    pub fn from_soap_action(action: &str) -> Option<Primitive> {
        let a = action.trim().trim_matches('"');
        Primitive::ALL.into_iter().find(|p| p.soap_action() == a)
    }
}

macro_rules! fault_codes {
    ($( $(#[$meta:meta])* $variant:ident = $text:literal, )+) => {
        /// A fault code: `<issuer>_<code>`, issuer `PPT` (the Nodo) or `PAA` (the creditor).
        /// Unknown codes are kept verbatim in [`FaultCode::Other`], since the documented lists
        /// lag behind what the platform sends.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum FaultCode {
            $( $(#[$meta])* $variant, )+
            /// A code this crate does not know.
            Other(String),
        }

        impl FaultCode {
            /// Every known code.
            pub const KNOWN: &'static [FaultCode] = &[$(FaultCode::$variant),+];

            /// The code as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( FaultCode::$variant => $text, )+
                    FaultCode::Other(s) => s,
                }
            }

            /// Read a code; never fails (unknown codes become [`FaultCode::Other`]).
            pub fn parse(s: &str) -> FaultCode {
                match s {
                    $( $text => FaultCode::$variant, )+
                    other => FaultCode::Other(other.to_owned()),
                }
            }
        }
    };
}

fault_codes! {
    /// The request breaks the XSD beyond what the schema allows.
    PptSintassiExtraxsd = "PPT_SINTASSI_EXTRAXSD",
    /// The request breaks the XSD.
    PptSintassiXsd = "PPT_SINTASSI_XSD",
    /// The request is well-formed but semantically wrong.
    PptSemantica = "PPT_SEMANTICA",
    /// Our idPSP is unknown.
    PptPspSconosciuto = "PPT_PSP_SCONOSCIUTO",
    /// Our idPSP is disabled.
    PptPspDisabilitato = "PPT_PSP_DISABILITATO",
    /// Our idBrokerPSP is unknown.
    PptIntermediarioPspSconosciuto = "PPT_INTERMEDIARIO_PSP_SCONOSCIUTO",
    /// Our idBrokerPSP is disabled.
    PptIntermediarioPspDisabilitato = "PPT_INTERMEDIARIO_PSP_DISABILITATO",
    /// Our idChannel is unknown.
    PptCanaleSconosciuto = "PPT_CANALE_SCONOSCIUTO",
    /// Our idChannel is disabled.
    PptCanaleDisabilitato = "PPT_CANALE_DISABILITATO",
    /// Wrong channel password.
    PptAutenticazione = "PPT_AUTENTICAZIONE",
    /// The channel may not call this primitive or act for this PSP.
    PptAutorizzazione = "PPT_AUTORIZZAZIONE",
    /// The HTTP SOAPAction does not match the body.
    PptSoapactionErrata = "PPT_SOAPACTION_ERRATA",
    /// The PSP's coding for this kind of notice is not configured.
    PptCodificaPspSconosciuta = "PPT_CODIFICA_PSP_SCONOSCIUTA",
    /// The creditor (EC) is unknown to pagoPA.
    PptDominioSconosciuto = "PPT_DOMINIO_SCONOSCIUTO",
    /// The creditor is disabled.
    PptDominioDisabilitato = "PPT_DOMINIO_DISABILITATO",
    /// The creditor's broker is unknown.
    PptIntermediarioPaSconosciuto = "PPT_INTERMEDIARIO_PA_SCONOSCIUTO",
    /// The creditor's broker is disabled.
    PptIntermediarioPaDisabilitato = "PPT_INTERMEDIARIO_PA_DISABILITATO",
    /// The creditor's station is unknown.
    PptStazioneIntPaSconosciuta = "PPT_STAZIONE_INT_PA_SCONOSCIUTA",
    /// The creditor's station is disabled.
    PptStazioneIntPaDisabilitata = "PPT_STAZIONE_INT_PA_DISABILITATA",
    /// The creditor's station could not be reached.
    PptStazioneIntPaIrraggiungibile = "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
    /// The creditor's station does not offer the service now.
    PptStazioneIntPaServizioNonattivo = "PPT_STAZIONE_INT_PA_SERVIZIO_NONATTIVO",
    /// The creditor's station did not answer in time.
    PptStazioneIntPaTimeout = "PPT_STAZIONE_INT_PA_TIMEOUT",
    /// The creditor's station answered with an invalid message.
    PptStazioneIntPaErroreResponse = "PPT_STAZIONE_INT_PA_ERRORE_RESPONSE",
    /// The creditor returned an IBAN not registered on pagoPA.
    PptIbanNonCensito = "PPT_IBAN_NON_CENSITO",
    /// The creditor refused: its code is in `originalFaultCode`.
    PptErroreEmessoDaPaa = "PPT_ERRORE_EMESSO_DA_PAA",
    /// Another payment session holds the notice.
    PptPagamentoInCorso = "PPT_PAGAMENTO_IN_CORSO",
    /// The notice is already paid (before the payment), or was paid by someone else while our
    /// token was expired (after it).
    PptPagamentoDuplicato = "PPT_PAGAMENTO_DUPLICATO",
    /// An activation of this notice is being processed.
    PptAttivazioneInCorso = "PPT_ATTIVAZIONE_IN_CORSO",
    /// The idempotency key was reused with different parameters.
    PptErroreIdempotenza = "PPT_ERRORE_IDEMPOTENZA",
    /// OK outcome after the token expired: accepted anyway.
    PptTokenScaduto = "PPT_TOKEN_SCADUTO",
    /// KO outcome after the token expired.
    PptTokenScadutoKo = "PPT_TOKEN_SCADUTO_KO",
    /// The payment token is unknown.
    PptTokenSconosciuto = "PPT_TOKEN_SCONOSCIUTO",
    /// The payment is unknown (sendPaymentOutcomeV2).
    PptPagamentoSconosciuto = "PPT_PAGAMENTO_SCONOSCIUTO",
    /// An outcome for this token was already recorded.
    PptEsitoGiaAcquisito = "PPT_ESITO_GIA_ACQUISITO",
    /// The Nodo failed internally.
    PptSystemError = "PPT_SYSTEM_ERROR",
    /// A platform threshold is temporarily exceeded.
    PptSuperamentosoglia = "PPT_SUPERAMENTOSOGLIA",
    /// Creditor: the notice is unknown.
    PaaPagamentoSconosciuto = "PAA_PAGAMENTO_SCONOSCIUTO",
    /// Creditor: the notice has expired.
    PaaPagamentoScaduto = "PAA_PAGAMENTO_SCADUTO",
    /// Creditor: the notice was cancelled.
    PaaPagamentoAnnullato = "PAA_PAGAMENTO_ANNULLATO",
    /// Creditor: the notice is already paid.
    PaaPagamentoDuplicato = "PAA_PAGAMENTO_DUPLICATO",
    /// Creditor: a payment of the notice is in progress.
    PaaPagamentoInCorso = "PAA_PAGAMENTO_IN_CORSO",
    /// Creditor: the amount is not the one due.
    PaaAttivaRptImportoNonValido = "PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO",
    /// Creditor: the request names another creditor.
    PaaIdDominioErrato = "PAA_ID_DOMINIO_ERRATO",
    /// Creditor: the request names another broker.
    PaaIdIntermediarioErrato = "PAA_ID_INTERMEDIARIO_ERRATO",
    /// Creditor: the request names another station.
    PaaStazioneIntErrata = "PAA_STAZIONE_INT_ERRATA",
    /// Creditor: the request is semantically wrong.
    PaaSemantica = "PAA_SEMANTICA",
    /// Creditor: the request breaks the XSD.
    PaaSintassiXsd = "PAA_SINTASSI_XSD",
    /// Creditor: the request breaks the XSD beyond what it allows.
    PaaSintassiExtraxsd = "PAA_SINTASSI_EXTRAXSD",
    /// Creditor: internal failure.
    PaaSystemError = "PAA_SYSTEM_ERROR",
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::soap::codec::Leaf for FaultCode {
    fn from_text(s: &str) -> Result<Self, crate::soap::ValueError> {
        Ok(FaultCode::parse(s))
    }
    fn write_text(&self, out: &mut String) {
        crate::soap::codec::write_any_text(out, self.as_str());
    }
}

crate::soap::codec::composite! {
    /// The application fault of a KO answer (`ctFaultBean`). Log every field verbatim: the
    /// documentation drifts from what the platform sends.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Fault {
        /// `faultCode`
        pub fault_code: FaultCode => "faultCode",
        /// `faultString`: short text.
        pub fault_string: String => "faultString",
        /// `id`: who raised it (e.g. `NodoDeiPagamentiSPC`, or the creditor's id).
        pub id: String => "id",
        /// `description`: details.
        pub description: Option<String> => "description",
        /// `serial`
        pub serial: Option<i32> => "serial",
        /// `originalFaultCode`: the creditor's code, under `PPT_ERRORE_EMESSO_DA_PAA`.
        pub original_fault_code: Option<FaultCode> => "originalFaultCode",
        /// `originalFaultString`
        pub original_fault_string: Option<String> => "originalFaultString",
        /// `originalDescription`
        pub original_description: Option<String> => "originalDescription",
    }
}

impl Fault {
    /// A fault with only the mandatory fields.
    pub fn new(code: FaultCode, fault_string: impl Into<String>, id: impl Into<String>) -> Self {
        Fault {
            fault_code: code,
            fault_string: fault_string.into(),
            id: id.into(),
            description: None,
            serial: None,
            original_fault_code: None,
            original_fault_string: None,
            original_description: None,
        }
    }
}

/// Why a payment cannot go ahead, in terms a citizen-facing message can be chosen from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureReason {
    /// The creditor does not know this notice.
    NoticeUnknown,
    /// The notice has expired.
    NoticeExpired,
    /// The notice was cancelled by the creditor.
    NoticeAnnulled,
    /// The notice is already paid.
    AlreadyPaid,
    /// The amount is not the one due.
    AmountMismatch,
    /// Another payment of this notice is in progress (elsewhere, or a moment ago here).
    PaymentInProgress,
    /// The creditor (fiscal code) is not on pagoPA.
    CreditorUnknown,
    /// The creditor is on pagoPA but not enabled to take this payment.
    CreditorNotEnabled,
    /// The creditor's system cannot be reached now.
    CreditorUnreachable,
    /// The creditor's system answered with an error.
    CreditorError,
    /// pagoPA is unavailable or overloaded now (or our channel is out of service).
    ServiceUnavailable,
    /// The Nodo rejected the request as invalid.
    RequestRejected,
    /// An error the table does not know.
    Other,
}

impl FailureReason {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::NoticeUnknown => "NOTICE_UNKNOWN",
            FailureReason::NoticeExpired => "NOTICE_EXPIRED",
            FailureReason::NoticeAnnulled => "NOTICE_ANNULLED",
            FailureReason::AlreadyPaid => "ALREADY_PAID",
            FailureReason::AmountMismatch => "AMOUNT_MISMATCH",
            FailureReason::PaymentInProgress => "PAYMENT_IN_PROGRESS",
            FailureReason::CreditorUnknown => "CREDITOR_UNKNOWN",
            FailureReason::CreditorNotEnabled => "CREDITOR_NOT_ENABLED",
            FailureReason::CreditorUnreachable => "CREDITOR_UNREACHABLE",
            FailureReason::CreditorError => "CREDITOR_ERROR",
            FailureReason::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            FailureReason::RequestRejected => "REQUEST_REJECTED",
            FailureReason::Other => "OTHER",
        }
    }
}

/// What the caller must do next. Deliberately exhaustive: a new kind of reaction should
/// break callers' `match`es rather than fall into a default arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing more: the request succeeded, or (sendPaymentOutcome, `PPT_ESITO_GIA_ACQUISITO`)
    /// an earlier send of the same outcome already got through.
    Done,
    /// No usable answer: the request may or may not have been processed. Resend the
    /// *identical* body with the *same* idempotency key, with exponential back-off and a
    /// bounded number of attempts; the Nodo replays its original answer if it had one.
    ResendSame,
    /// A transient failure answered by the Nodo: make a *new* attempt later, with a fresh
    /// idempotency key (the old key would replay this same answer). For verify, simply
    /// repeat. Before the payment, the reason says what to tell the citizen if they give up;
    /// after it (an outcome still owed), keep the outcome queued until it is acknowledged.
    RetryLater(FailureReason),
    /// Another payment session holds the notice; it frees up at most 30 minutes later
    /// (the token lifetime). Do not take money; tell the citizen to try again later.
    InProgressElsewhere,
    /// Permanent: do not retry and do not take money; show the reason.
    Permanent(FailureReason),
    /// The notice is already paid: do not take money; tell the citizen.
    AlreadyPaid,
    /// Our own configuration is wrong (unknown or disabled PSP, broker or channel, bad
    /// password or subscription key, wrong URL or SOAPAction): stop the channel and page
    /// operations. An outcome still owed stays queued until the configuration is fixed.
    Misconfigured,
    /// Late OK outcome (`PPT_TOKEN_SCADUTO`): accepted, and the Nodo still delivers the
    /// receipt; report the payment in the rendicontazione with code 9.
    AcceptedLate,
    /// Late KO outcome (`PPT_TOKEN_SCADUTO_KO`): nothing to do, the session is closed.
    LateKo,
    /// Someone else paid the notice while our token was expired
    /// (`PPT_PAGAMENTO_DUPLICATO` on an outcome): refund the citizen; if a refund is
    /// impossible, report the payment with code 9 (8 if handled in Stand-In).
    Refund,
    /// Something that should never happen (our bug, or our state and the Nodo's disagree):
    /// stop automatic retries and alert operations. If money was taken, the outcome is not
    /// known to be recorded.
    Alert,
}

impl Action {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Action::Done => "DONE",
            Action::ResendSame => "RESEND_SAME",
            Action::RetryLater(_) => "RETRY_LATER",
            Action::InProgressElsewhere => "IN_PROGRESS_ELSEWHERE",
            Action::Permanent(_) => "PERMANENT",
            Action::AlreadyPaid => "ALREADY_PAID",
            Action::Misconfigured => "MISCONFIGURED",
            Action::AcceptedLate => "ACCEPTED_LATE",
            Action::LateKo => "LATE_KO",
            Action::Refund => "REFUND",
            Action::Alert => "ALERT",
        }
    }

    /// What to tell a citizen if the attempt ends here (before the payment); `None` when
    /// there is nothing to explain.
    pub fn reason(self) -> Option<FailureReason> {
        match self {
            Action::RetryLater(r) | Action::Permanent(r) => Some(r),
            Action::AlreadyPaid => Some(FailureReason::AlreadyPaid),
            Action::InProgressElsewhere => Some(FailureReason::PaymentInProgress),
            Action::Misconfigured | Action::Alert | Action::ResendSame => {
                Some(FailureReason::ServiceUnavailable)
            }
            Action::Done | Action::AcceptedLate | Action::LateKo | Action::Refund => None,
        }
    }

    /// True when an automatic retry is in order (same body, or a new attempt).
    pub fn is_retryable(self) -> bool {
        matches!(self, Action::ResendSame | Action::RetryLater(_))
    }
}

/// What to do after a KO answer with `fault` to a request of `primitive`.
pub fn classify(primitive: Primitive, fault: &Fault) -> Action {
    if primitive.is_outcome() {
        classify_outcome(&fault.fault_code)
    } else {
        classify_before_payment(&fault.fault_code, fault.original_fault_code.as_ref())
    }
}

/// verifyPaymentNotice and activatePaymentNotice[V2]: no money has been taken yet.
fn classify_before_payment(code: &FaultCode, original: Option<&FaultCode>) -> Action {
    use FailureReason as R;
    use FaultCode as C;
    match code {
        C::PptSintassiExtraxsd | C::PptSintassiXsd | C::PptSemantica => {
            Action::Permanent(R::RequestRejected)
        }
        C::PptPspSconosciuto
        | C::PptPspDisabilitato
        | C::PptIntermediarioPspSconosciuto
        | C::PptIntermediarioPspDisabilitato
        | C::PptCanaleSconosciuto
        | C::PptCanaleDisabilitato
        | C::PptAutenticazione
        | C::PptAutorizzazione
        | C::PptSoapactionErrata
        | C::PptCodificaPspSconosciuta => Action::Misconfigured,
        C::PptDominioSconosciuto => Action::Permanent(R::CreditorUnknown),
        C::PptDominioDisabilitato
        | C::PptIntermediarioPaSconosciuto
        | C::PptIntermediarioPaDisabilitato
        | C::PptStazioneIntPaSconosciuta
        | C::PptStazioneIntPaDisabilitata => Action::Permanent(R::CreditorNotEnabled),
        C::PptStazioneIntPaIrraggiungibile
        | C::PptStazioneIntPaServizioNonattivo
        | C::PptStazioneIntPaTimeout => Action::RetryLater(R::CreditorUnreachable),
        C::PptStazioneIntPaErroreResponse => Action::RetryLater(R::CreditorError),
        C::PptIbanNonCensito => Action::Permanent(R::CreditorError),
        C::PptErroreEmessoDaPaa => classify_creditor(original),
        C::PptPagamentoInCorso => Action::InProgressElsewhere,
        C::PptPagamentoDuplicato => Action::AlreadyPaid,
        C::PptAttivazioneInCorso => Action::RetryLater(R::PaymentInProgress),
        C::PptSystemError | C::PptSuperamentosoglia => Action::RetryLater(R::ServiceUnavailable),
        C::PptErroreIdempotenza => Action::Alert,
        C::PptPagamentoSconosciuto => Action::Permanent(R::NoticeUnknown),
        // A creditor code without the PPT wrapper: read it as the creditor's answer.
        C::PaaPagamentoSconosciuto
        | C::PaaPagamentoScaduto
        | C::PaaPagamentoAnnullato
        | C::PaaPagamentoDuplicato
        | C::PaaPagamentoInCorso
        | C::PaaAttivaRptImportoNonValido
        | C::PaaIdDominioErrato
        | C::PaaIdIntermediarioErrato
        | C::PaaStazioneIntErrata
        | C::PaaSemantica
        | C::PaaSintassiXsd
        | C::PaaSintassiExtraxsd
        | C::PaaSystemError => classify_creditor(Some(code)),
        C::Other(s) if s.starts_with("PAA_") => classify_creditor(Some(code)),
        // Outcome-only codes and unknown codes: the KO means nothing happened.
        C::PptTokenScaduto
        | C::PptTokenScadutoKo
        | C::PptTokenSconosciuto
        | C::PptEsitoGiaAcquisito
        | C::Other(_) => Action::Permanent(R::Other),
    }
}

/// `PPT_ERRORE_EMESSO_DA_PAA`: the creditor's own code decides.
fn classify_creditor(original: Option<&FaultCode>) -> Action {
    use FailureReason as R;
    use FaultCode as C;
    match original {
        Some(C::PaaPagamentoSconosciuto) => Action::Permanent(R::NoticeUnknown),
        Some(C::PaaPagamentoScaduto) => Action::Permanent(R::NoticeExpired),
        Some(C::PaaPagamentoAnnullato) => Action::Permanent(R::NoticeAnnulled),
        Some(C::PaaPagamentoDuplicato) => Action::AlreadyPaid,
        Some(C::PaaPagamentoInCorso) => Action::InProgressElsewhere,
        Some(C::PaaAttivaRptImportoNonValido) => Action::Permanent(R::AmountMismatch),
        Some(C::PaaSystemError) => Action::RetryLater(R::CreditorError),
        Some(C::PaaIdDominioErrato | C::PaaIdIntermediarioErrato | C::PaaStazioneIntErrata) => {
            Action::Permanent(R::CreditorNotEnabled)
        }
        _ => Action::Permanent(R::CreditorError),
    }
}

/// sendPaymentOutcome[V2]: the money has been taken (OK) or the session is being released (KO).
fn classify_outcome(code: &FaultCode) -> Action {
    use FaultCode as C;
    match code {
        C::PptEsitoGiaAcquisito => Action::Done,
        C::PptTokenScaduto => Action::AcceptedLate,
        C::PptTokenScadutoKo => Action::LateKo,
        C::PptPagamentoDuplicato => Action::Refund,
        C::PptSystemError | C::PptSuperamentosoglia => {
            Action::RetryLater(FailureReason::ServiceUnavailable)
        }
        C::PptPspSconosciuto
        | C::PptPspDisabilitato
        | C::PptIntermediarioPspSconosciuto
        | C::PptIntermediarioPspDisabilitato
        | C::PptCanaleSconosciuto
        | C::PptCanaleDisabilitato
        | C::PptAutenticazione
        | C::PptAutorizzazione
        | C::PptSoapactionErrata => Action::Misconfigured,
        // Our outcome was malformed or refers to a session the Nodo does not know, or the
        // creditor was disabled mid-payment: a human has to look.
        _ => Action::Alert,
    }
}

/// A call that produced no readable SOAP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportFailure {
    /// Connection refused or reset, TLS failure, timeout: no answer at all.
    NoAnswer,
    /// An HTTP status without a SOAP body we could read.
    HttpStatus(u16),
}

/// What to do when a call to `primitive` failed below SOAP.
///
/// No answer, 5xx, 408 and 429 mean the request may or may not have been processed: resend
/// the same body (the idempotency key makes it safe). 401/403 (subscription key), 404/405
/// (wrong URL) and 3xx are our configuration; other 4xx mean we sent something broken.
pub fn classify_transport(_primitive: Primitive, failure: TransportFailure) -> Action {
    match failure {
        TransportFailure::NoAnswer => Action::ResendSame,
        TransportFailure::HttpStatus(s) => match s {
            401 | 403 | 404 | 405 | 300..=399 => Action::Misconfigured,
            408 | 429 | 500..=599 => Action::ResendSame,
            400..=499 => Action::Alert,
            // A 1xx/2xx without a readable body: as if there were no answer.
            _ => Action::ResendSame,
        },
    }
}

/// What to do with a SOAP Fault answer. An application fault bean in `detail` is classified
/// as such; otherwise `Client` means our request was refused as malformed, and `Server` (or
/// anything else) a failure on the Nodo's side that the same request may overcome.
pub fn classify_soap_fault(primitive: Primitive, fault: &SoapFault) -> Action {
    if let Some(f) = &fault.detail {
        return classify(primitive, f);
    }
    match fault.code {
        SoapFaultCode::Client | SoapFaultCode::VersionMismatch | SoapFaultCode::MustUnderstand => {
            Action::Alert
        }
        SoapFaultCode::Server => Action::ResendSame,
    }
}

/// What to do when the answer could not be decoded. A SOAP Fault is classified by
/// [`classify_soap_fault`]; anything else unreadable (an HTML page from a proxy, a truncated
/// body, a message that breaks the schema) counts as no answer: resend the same request.
pub fn classify_soap_error(primitive: Primitive, error: &SoapError) -> Action {
    match error {
        SoapError::Fault(f) => classify_soap_fault(primitive, f),
        _ => Action::ResendSame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureReason as R;
    use Primitive as P;

    const BEFORE: [Primitive; 3] = [
        P::VerifyPaymentNotice,
        P::ActivatePaymentNotice,
        P::ActivatePaymentNoticeV2,
    ];
    const AFTER: [Primitive; 2] = [P::SendPaymentOutcome, P::SendPaymentOutcomeV2];

    fn fault(code: &str) -> Fault {
        Fault::new(FaultCode::parse(code), "x", "NodoDeiPagamentiSPC")
    }

    fn paa(original: Option<&str>) -> Fault {
        let mut f = fault("PPT_ERRORE_EMESSO_DA_PAA");
        f.original_fault_code = original.map(FaultCode::parse);
        f
    }

    fn check(primitives: &[Primitive], code: &str, expected: Action) {
        for p in primitives {
            assert_eq!(classify(*p, &fault(code)), expected, "{code} on {p:?}");
        }
    }

    #[test]
    fn codes_parse_and_print_verbatim() {
        for c in FaultCode::KNOWN {
            assert_eq!(&FaultCode::parse(c.as_str()), c);
            assert!(c.as_str().starts_with("PPT_") || c.as_str().starts_with("PAA_"));
        }
        let other = FaultCode::parse("PPT_NUOVO_CODICE");
        assert_eq!(other, FaultCode::Other("PPT_NUOVO_CODICE".into()));
        assert_eq!(other.to_string(), "PPT_NUOVO_CODICE");
    }

    #[test]
    fn primitives_know_their_wire_names() {
        for p in Primitive::ALL {
            assert_eq!(Primitive::from_soap_action(p.soap_action()), Some(p));
            assert_eq!(
                Primitive::from_soap_action(&format!("\"{}\"", p.soap_action())),
                Some(p)
            );
            assert!(p.request_element().starts_with(p.soap_action()));
            assert!(p.response_element().starts_with(p.soap_action()));
        }
        assert_eq!(Primitive::from_soap_action("nodoInviaRPT"), None);
        assert_eq!(
            P::ActivatePaymentNoticeV2.request_element(),
            "activatePaymentNoticeV2Request"
        );
    }

    // Reference §3, row by row, for verify and activate[V2].

    #[test]
    fn syntax_and_semantics_before_payment_are_permanent() {
        for code in ["PPT_SINTASSI_EXTRAXSD", "PPT_SINTASSI_XSD", "PPT_SEMANTICA"] {
            check(&BEFORE, code, Action::Permanent(R::RequestRejected));
        }
    }

    #[test]
    fn our_configuration_errors_page_operations_everywhere() {
        for code in [
            "PPT_PSP_SCONOSCIUTO",
            "PPT_PSP_DISABILITATO",
            "PPT_INTERMEDIARIO_PSP_SCONOSCIUTO",
            "PPT_INTERMEDIARIO_PSP_DISABILITATO",
            "PPT_CANALE_SCONOSCIUTO",
            "PPT_CANALE_DISABILITATO",
            "PPT_AUTENTICAZIONE",
            "PPT_AUTORIZZAZIONE",
            "PPT_SOAPACTION_ERRATA",
        ] {
            check(&Primitive::ALL, code, Action::Misconfigured);
        }
        check(
            &BEFORE,
            "PPT_CODIFICA_PSP_SCONOSCIUTA",
            Action::Misconfigured,
        );
    }

    #[test]
    fn creditor_configuration_before_payment() {
        check(
            &BEFORE,
            "PPT_DOMINIO_SCONOSCIUTO",
            Action::Permanent(R::CreditorUnknown),
        );
        for code in [
            "PPT_DOMINIO_DISABILITATO",
            "PPT_INTERMEDIARIO_PA_SCONOSCIUTO",
            "PPT_INTERMEDIARIO_PA_DISABILITATO",
            "PPT_STAZIONE_INT_PA_SCONOSCIUTA",
            "PPT_STAZIONE_INT_PA_DISABILITATA",
        ] {
            check(&BEFORE, code, Action::Permanent(R::CreditorNotEnabled));
        }
    }

    #[test]
    fn concurrency_codes_before_payment() {
        check(
            &BEFORE,
            "PPT_PAGAMENTO_IN_CORSO",
            Action::InProgressElsewhere,
        );
        check(&BEFORE, "PPT_PAGAMENTO_DUPLICATO", Action::AlreadyPaid);
        check(
            &BEFORE[1..],
            "PPT_ATTIVAZIONE_IN_CORSO",
            Action::RetryLater(R::PaymentInProgress),
        );
        check(&BEFORE[1..], "PPT_ERRORE_IDEMPOTENZA", Action::Alert);
    }

    #[test]
    fn creditor_station_trouble_is_transient() {
        for code in [
            "PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            "PPT_STAZIONE_INT_PA_SERVIZIO_NONATTIVO",
            "PPT_STAZIONE_INT_PA_TIMEOUT",
        ] {
            check(&BEFORE, code, Action::RetryLater(R::CreditorUnreachable));
        }
        check(
            &BEFORE,
            "PPT_STAZIONE_INT_PA_ERRORE_RESPONSE",
            Action::RetryLater(R::CreditorError),
        );
        check(
            &BEFORE[1..],
            "PPT_IBAN_NON_CENSITO",
            Action::Permanent(R::CreditorError),
        );
    }

    #[test]
    fn platform_trouble_is_transient_everywhere() {
        for code in ["PPT_SYSTEM_ERROR", "PPT_SUPERAMENTOSOGLIA"] {
            check(
                &Primitive::ALL,
                code,
                Action::RetryLater(R::ServiceUnavailable),
            );
        }
    }

    #[test]
    fn creditor_codes_decide_under_errore_emesso_da_paa() {
        let cases = [
            (
                Some("PAA_PAGAMENTO_SCONOSCIUTO"),
                Action::Permanent(R::NoticeUnknown),
            ),
            (
                Some("PAA_PAGAMENTO_SCADUTO"),
                Action::Permanent(R::NoticeExpired),
            ),
            (
                Some("PAA_PAGAMENTO_ANNULLATO"),
                Action::Permanent(R::NoticeAnnulled),
            ),
            (Some("PAA_PAGAMENTO_DUPLICATO"), Action::AlreadyPaid),
            (Some("PAA_PAGAMENTO_IN_CORSO"), Action::InProgressElsewhere),
            (
                Some("PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO"),
                Action::Permanent(R::AmountMismatch),
            ),
            (
                Some("PAA_SYSTEM_ERROR"),
                Action::RetryLater(R::CreditorError),
            ),
            (
                Some("PAA_ID_DOMINIO_ERRATO"),
                Action::Permanent(R::CreditorNotEnabled),
            ),
            (
                Some("PAA_ID_INTERMEDIARIO_ERRATO"),
                Action::Permanent(R::CreditorNotEnabled),
            ),
            (
                Some("PAA_STAZIONE_INT_ERRATA"),
                Action::Permanent(R::CreditorNotEnabled),
            ),
            (Some("PAA_SEMANTICA"), Action::Permanent(R::CreditorError)),
            (
                Some("PAA_SINTASSI_XSD"),
                Action::Permanent(R::CreditorError),
            ),
            (
                Some("PAA_SINTASSI_EXTRAXSD"),
                Action::Permanent(R::CreditorError),
            ),
            (
                Some("PAA_NUOVO_CODICE"),
                Action::Permanent(R::CreditorError),
            ),
            (None, Action::Permanent(R::CreditorError)),
        ];
        for p in BEFORE {
            for (original, expected) in cases {
                assert_eq!(
                    classify(p, &paa(original)),
                    expected,
                    "{original:?} on {p:?}"
                );
                if let Some(code) = original {
                    // A bare creditor code reads the same as the wrapped one.
                    assert_eq!(classify(p, &fault(code)), expected, "bare {code} on {p:?}");
                }
            }
        }
    }

    #[test]
    fn unknown_and_out_of_place_codes_before_payment() {
        for code in [
            "PPT_TOKEN_SCADUTO",
            "PPT_TOKEN_SCADUTO_KO",
            "PPT_TOKEN_SCONOSCIUTO",
            "PPT_ESITO_GIA_ACQUISITO",
            "PPT_QUALCOSA_DI_NUOVO",
            "",
        ] {
            check(&BEFORE, code, Action::Permanent(R::Other));
        }
        check(
            &BEFORE,
            "PPT_PAGAMENTO_SCONOSCIUTO",
            Action::Permanent(R::NoticeUnknown),
        );
    }

    // Reference §2.5 and §3 for sendPaymentOutcome[V2].

    #[test]
    fn late_outcomes_follow_the_best_practice_table() {
        check(&AFTER, "PPT_TOKEN_SCADUTO", Action::AcceptedLate);
        check(&AFTER, "PPT_TOKEN_SCADUTO_KO", Action::LateKo);
        check(&AFTER, "PPT_PAGAMENTO_DUPLICATO", Action::Refund);
        check(&AFTER, "PPT_ESITO_GIA_ACQUISITO", Action::Done);
    }

    #[test]
    fn outcome_bugs_alert() {
        for code in [
            "PPT_TOKEN_SCONOSCIUTO",
            "PPT_ERRORE_IDEMPOTENZA",
            "PPT_PAGAMENTO_SCONOSCIUTO",
            "PPT_SINTASSI_EXTRAXSD",
            "PPT_SINTASSI_XSD",
            "PPT_SEMANTICA",
            "PPT_DOMINIO_DISABILITATO",
            "PPT_INTERMEDIARIO_PA_DISABILITATO",
            "PPT_STAZIONE_INT_PA_DISABILITATA",
            "PPT_ERRORE_EMESSO_DA_PAA",
            "PPT_PAGAMENTO_IN_CORSO",
            "PPT_QUALCOSA_DI_NUOVO",
        ] {
            check(&AFTER, code, Action::Alert);
        }
    }

    #[test]
    fn every_known_code_has_a_deliberate_action() {
        // Not a fallback: each known code on each primitive lands on a documented variant,
        // and before the payment nothing ever says "refund" or "accepted late".
        for p in Primitive::ALL {
            for c in FaultCode::KNOWN {
                let a = classify(p, &Fault::new(c.clone(), "", ""));
                if p.is_outcome() {
                    assert!(
                        !matches!(a, Action::Permanent(_) | Action::AlreadyPaid),
                        "{c} {p:?}"
                    );
                } else {
                    assert!(
                        !matches!(
                            a,
                            Action::Refund | Action::AcceptedLate | Action::LateKo | Action::Done
                        ),
                        "{c} {p:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn transport_failures() {
        for p in Primitive::ALL {
            assert_eq!(
                classify_transport(p, TransportFailure::NoAnswer),
                Action::ResendSame
            );
            for s in [500, 502, 503, 504, 408, 429, 200] {
                assert_eq!(
                    classify_transport(p, TransportFailure::HttpStatus(s)),
                    Action::ResendSame,
                    "{s}"
                );
            }
            for s in [401, 403, 404, 405, 301] {
                assert_eq!(
                    classify_transport(p, TransportFailure::HttpStatus(s)),
                    Action::Misconfigured,
                    "{s}"
                );
            }
            assert_eq!(
                classify_transport(p, TransportFailure::HttpStatus(400)),
                Action::Alert
            );
        }
    }

    #[test]
    fn soap_faults_and_unreadable_answers() {
        let p = P::ActivatePaymentNotice;
        let server = SoapFault::new(SoapFaultCode::Server, "boom");
        assert_eq!(classify_soap_fault(p, &server), Action::ResendSame);
        let client = SoapFault::new(SoapFaultCode::Client, "bad");
        assert_eq!(classify_soap_fault(p, &client), Action::Alert);
        let mut with_bean = server.clone();
        with_bean.detail = Some(fault("PPT_AUTENTICAZIONE"));
        assert_eq!(classify_soap_fault(p, &with_bean), Action::Misconfigured);
        assert_eq!(
            classify_soap_error(p, &SoapError::Fault(Box::new(client))),
            Action::Alert
        );
        assert_eq!(
            classify_soap_error(p, &SoapError::NoBody),
            Action::ResendSame
        );
    }

    #[test]
    fn actions_explain_themselves() {
        assert_eq!(Action::AlreadyPaid.reason(), Some(R::AlreadyPaid));
        assert_eq!(
            Action::InProgressElsewhere.reason(),
            Some(R::PaymentInProgress)
        );
        assert_eq!(
            Action::Permanent(R::NoticeExpired).reason(),
            Some(R::NoticeExpired)
        );
        assert_eq!(Action::Refund.reason(), None);
        assert!(Action::ResendSame.is_retryable());
        assert!(Action::RetryLater(R::CreditorError).is_retryable());
        assert!(!Action::Alert.is_retryable());
        assert_eq!(Action::AcceptedLate.code(), "ACCEPTED_LATE");
        assert_eq!(R::AmountMismatch.code(), "AMOUNT_MISMATCH");
    }
}
