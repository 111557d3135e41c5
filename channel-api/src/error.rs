//! The error catalogue: every error the adapter can answer, with a stable code, its HTTP status,
//! whether trying again can help, and a message in Italian and in English fit for a citizen's
//! screen.
//!
//! The catalogue lives in the contract, not in the adapter, so that a device can show the right
//! words even for an answer that lost its body, and so that both sides agree on what is worth a
//! retry. Codes are never renamed or reused: a device in the field may be several versions
//! behind. Technical detail for operators travels separately ([`ErrorBody::detail`]) and is never
//! shown to the citizen.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Italian, the default.
    #[default]
    It,
    /// English.
    En,
}

macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $code:literal, $status:literal, retry: $retry:literal,
            it: $it:literal,
            en: $en:literal;
    )*) => {
        /// A stable error code of the device API. See the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this version of the contract does not know, sent by a newer adapter.
            /// The body's messages are still right to show.
            Unrecognized,
        }

        impl ErrorCode {
            /// Every code the adapter may send (without [`ErrorCode::Unrecognized`]).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it travels: `NOTICE_ALREADY_PAID`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Unrecognized => "UNRECOGNIZED",
                }
            }

            /// Parse a code; unknown text gives [`ErrorCode::Unrecognized`].
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($code => ErrorCode::$variant,)*
                    _ => ErrorCode::Unrecognized,
                }
            }

            /// The HTTP status the adapter answers with.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                    ErrorCode::Unrecognized => 500,
                }
            }

            /// Whether the same request may succeed later (the device may offer "try again").
            pub fn retryable(self) -> bool {
                match self {
                    $(ErrorCode::$variant => $retry,)*
                    ErrorCode::Unrecognized => false,
                }
            }

            /// The message for the citizen in `lang`.
            pub fn message(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (ErrorCode::$variant, Lang::It) => $it,
                        (ErrorCode::$variant, Lang::En) => $en,
                    )*
                    (ErrorCode::Unrecognized, Lang::It) => "Operazione non riuscita. Rivolgersi al personale.",
                    (ErrorCode::Unrecognized, Lang::En) => "The operation failed. Please ask the staff.",
                }
            }
        }
    };
}

catalogue! {
    /// No credential in the request.
    MissingCredential = "MISSING_CREDENTIAL", 401, retry: false,
        it: "Postazione non abilitata ai pagamenti. Rivolgersi al personale.",
        en: "This station is not enabled for payments. Please ask the staff.";
    /// A credential that matches no device.
    InvalidCredential = "INVALID_CREDENTIAL", 401, retry: false,
        it: "Postazione non riconosciuta dal servizio di pagamento. Rivolgersi al personale.",
        en: "This station is not recognised by the payment service. Please ask the staff.";
    /// The device's credential was revoked.
    DeviceRevoked = "DEVICE_REVOKED", 401, retry: false,
        it: "Postazione disattivata. Rivolgersi al personale.",
        en: "This station has been disabled. Please ask the staff.";
    /// The request is malformed (JSON, field formats).
    InvalidRequest = "INVALID_REQUEST", 400, retry: false,
        it: "Richiesta non valida. Riprovare o rivolgersi al personale.",
        en: "Invalid request. Please try again or ask the staff.";
    /// The notice number or the creditor's fiscal code fails its check digit.
    InvalidNotice = "INVALID_NOTICE", 400, retry: false,
        it: "Codice avviso o codice fiscale dell'ente non validi. Controllare i dati dell'avviso.",
        en: "Invalid notice number or creditor fiscal code. Please check the notice.";
    /// No such route.
    NotFound = "NOT_FOUND", 404, retry: false,
        it: "Servizio non trovato.",
        en: "Service not found.";
    /// The route exists but not with this HTTP method.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405, retry: false,
        it: "Operazione non prevista dal servizio.",
        en: "This operation is not offered by the service.";
    /// No such payment visible to this device.
    PaymentNotFound = "PAYMENT_NOT_FOUND", 404, retry: false,
        it: "Pagamento non trovato.",
        en: "Payment not found.";
    /// A client key already used for a different request.
    ClientKeyReused = "CLIENT_KEY_REUSED", 409, retry: false,
        it: "Operazione già richiesta con dati diversi. Ricominciare il pagamento.",
        en: "This operation was already requested with different data. Please start the payment again.";
    /// The payment is not in a state that allows the operation.
    InvalidState = "INVALID_STATE", 409, retry: false,
        it: "Operazione non possibile in questo momento del pagamento.",
        en: "This operation is not possible at this point of the payment.";
    /// A different outcome was already reported for the payment.
    OutcomeConflict = "OUTCOME_CONFLICT", 409, retry: false,
        it: "L'esito di questo pagamento è già stato registrato.",
        en: "The outcome of this payment has already been recorded.";
    /// The fee reported is not the one of the schedule.
    FeeMismatch = "FEE_MISMATCH", 422, retry: false,
        it: "Commissione diversa dalla tariffa prevista. Rivolgersi al personale.",
        en: "The fee differs from the tariff. Please ask the staff.";
    /// The payment method is not accepted at this kind of station.
    TenderNotAccepted = "TENDER_NOT_ACCEPTED", 422, retry: false,
        it: "Metodo di pagamento non disponibile su questa postazione.",
        en: "This payment method is not available at this station.";
    /// The amount differs from the one due now.
    AmountMismatch = "AMOUNT_MISMATCH", 409, retry: false,
        it: "L'importo dovuto è cambiato. Verificare di nuovo l'avviso.",
        en: "The amount due has changed. Please check the notice again.";
    /// Too many payments in one offline batch.
    BatchTooLarge = "BATCH_TOO_LARGE", 413, retry: false,
        it: "Troppi pagamenti in un solo invio. Inviarli in più parti.",
        en: "Too many payments in one submission. Please send them in parts.";
    /// The notice is already paid.
    NoticeAlreadyPaid = "NOTICE_ALREADY_PAID", 409, retry: false,
        it: "Questo avviso risulta già pagato.",
        en: "This notice has already been paid.";
    /// The creditor does not know the notice.
    NoticeUnknown = "NOTICE_UNKNOWN", 404, retry: false,
        it: "L'ente creditore non riconosce questo avviso. Controllare i dati dell'avviso.",
        en: "The creditor does not recognise this notice. Please check the notice.";
    /// The notice has expired.
    NoticeExpired = "NOTICE_EXPIRED", 410, retry: false,
        it: "Avviso scaduto: non è più pagabile. Rivolgersi all'ente creditore.",
        en: "This notice has expired and can no longer be paid. Please contact the creditor.";
    /// The creditor cancelled the notice.
    NoticeCancelled = "NOTICE_CANCELLED", 410, retry: false,
        it: "Avviso annullato dall'ente creditore.",
        en: "The creditor has cancelled this notice.";
    /// Someone else is paying the notice right now.
    PaymentInProgress = "PAYMENT_IN_PROGRESS", 409, retry: true,
        it: "Il pagamento di questo avviso è già in corso altrove. Riprovare tra qualche minuto.",
        en: "A payment for this notice is already in progress elsewhere. Please try again in a few minutes.";
    /// The creditor's system did not answer the Nodo.
    CreditorUnavailable = "CREDITOR_UNAVAILABLE", 503, retry: true,
        it: "L'ente creditore non è raggiungibile in questo momento. Riprovare più tardi.",
        en: "The creditor cannot be reached at the moment. Please try again later.";
    /// The creditor is not enabled on pagoPA (or not for this notice).
    CreditorNotEnabled = "CREDITOR_NOT_ENABLED", 422, retry: false,
        it: "L'ente creditore non accetta pagamenti pagoPA per questo avviso.",
        en: "The creditor does not accept pagoPA payments for this notice.";
    /// The pagoPA Nodo did not answer or is overloaded.
    NodoUnavailable = "NODO_UNAVAILABLE", 503, retry: true,
        it: "Il circuito pagoPA non risponde. Riprovare più tardi.",
        en: "The pagoPA network is not responding. Please try again later.";
    /// The payment session expired before the payment completed.
    TokenExpired = "TOKEN_EXPIRED", 409, retry: false,
        it: "Il tempo per completare il pagamento è scaduto. Ricominciare il pagamento.",
        en: "The time to complete the payment has run out. Please start again.";
    /// Our channel's configuration at the Nodo is wrong (credentials, disabled channel).
    ServiceMisconfigured = "SERVICE_MISCONFIGURED", 503, retry: true,
        it: "Servizio di pagamento temporaneamente non disponibile. Il personale è stato avvisato.",
        en: "The payment service is temporarily unavailable. The staff have been notified.";
    /// The Nodo refused the payment for another reason.
    PaymentRejected = "PAYMENT_REJECTED", 422, retry: false,
        it: "Pagamento rifiutato dal circuito pagoPA. Rivolgersi al personale.",
        en: "The payment was refused by the pagoPA network. Please ask the staff.";
    /// The outcome arrived after the session expired and was accepted late: no action for the
    /// citizen, the operators reconcile it.
    LateOutcome = "LATE_OUTCOME", 409, retry: false,
        it: "Pagamento registrato in ritardo: la ricevuta arriverà più tardi.",
        en: "The payment was recorded late: the receipt will follow.";
    /// The notice was paid twice: this payment must be refunded.
    DuplicatePayment = "DUPLICATE_PAYMENT", 409, retry: false,
        it: "Avviso già pagato altrove: questo pagamento sarà rimborsato.",
        en: "The notice was already paid elsewhere: this payment will be refunded.";
    /// A closing lists too many payments.
    ClosingTooLarge = "CLOSING_TOO_LARGE", 413, retry: false,
        it: "Chiusura di cassa con troppi pagamenti. Rivolgersi all'assistenza.",
        en: "The cash closing lists too many payments. Please contact support.";
    /// A different resolution was already recorded for the payment.
    ResolutionConflict = "RESOLUTION_CONFLICT", 409, retry: false,
        it: "Per questo pagamento è già stata registrata una soluzione diversa.",
        en: "A different resolution has already been recorded for this payment.";
    /// A signed request whose signature does not verify with the device's key.
    SignatureInvalid = "SIGNATURE_INVALID", 401, retry: false,
        it: "Postazione non riconosciuta dal servizio di pagamento. Rivolgersi al personale.",
        en: "This station is not recognised by the payment service. Please ask the staff.";
    /// A signed request whose instant is too far from the adapter's clock.
    ClockSkew = "CLOCK_SKEW", 401, retry: true,
        it: "L'orologio della postazione non è corretto. Rivolgersi al personale.",
        en: "This station's clock is wrong. Please ask the staff.";
    /// An enrollment code that matches no code issued.
    EnrollmentCodeInvalid = "ENROLLMENT_CODE_INVALID", 401, retry: false,
        it: "Codice di attivazione errato. Controllare il codice e riprovare.",
        en: "Wrong activation code. Please check the code and try again.";
    /// An enrollment code past its expiry.
    EnrollmentCodeExpired = "ENROLLMENT_CODE_EXPIRED", 410, retry: false,
        it: "Codice di attivazione scaduto. Chiederne uno nuovo all'amministratore.",
        en: "The activation code has expired. Please ask the administrator for a new one.";
    /// An enrollment code already used, or burnt by too many wrong attempts.
    EnrollmentCodeUsed = "ENROLLMENT_CODE_USED", 410, retry: false,
        it: "Codice di attivazione già usato o bloccato. Chiederne uno nuovo all'amministratore.",
        en: "The activation code was already used or is blocked. Please ask the administrator for a new one.";
    /// Too many failed attempts from this address: wait before trying again.
    TooManyAttempts = "TOO_MANY_ATTEMPTS", 429, retry: true,
        it: "Troppi tentativi non riusciti. Attendere qualche minuto e riprovare.",
        en: "Too many failed attempts. Please wait a few minutes and try again.";
    /// The caller may not act on this comune or resource.
    Forbidden = "FORBIDDEN", 403, retry: false,
        it: "Operazione non consentita per questa utenza.",
        en: "This account is not allowed to do this.";
    /// Something failed inside the adapter.
    InternalError = "INTERNAL_ERROR", 500, retry: true,
        it: "Errore interno del servizio di pagamento. Riprovare più tardi.",
        en: "Internal error of the payment service. Please try again later.";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::wire::parse_str(d, "an error code", |s| {
            Ok::<_, std::convert::Infallible>(ErrorCode::parse(s))
        })
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// The message for the citizen, in Italian.
    pub message_it: String,
    /// The message for the citizen, in English.
    pub message_en: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// For operators and logs, never for the citizen's screen: what exactly went wrong
    /// (a field name, the Nodo's fault code…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ErrorBody {
    /// The body for `code`, with the catalogue's messages.
    pub fn new(code: ErrorCode) -> ErrorBody {
        ErrorBody {
            code,
            message_it: code.message(Lang::It).to_owned(),
            message_en: code.message(Lang::En).to_owned(),
            retryable: code.retryable(),
            detail: None,
        }
    }

    /// The same body with operator detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ErrorBody {
        self.detail = Some(detail.into());
        self
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::It => &self.message_it,
            Lang::En => &self.message_en,
        }
    }
}

impl From<ErrorCode> for ErrorBody {
    fn from(code: ErrorCode) -> Self {
        ErrorBody::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_has_distinct_italian_and_english_messages() {
        for &code in ErrorCode::ALL {
            let it = code.message(Lang::It);
            let en = code.message(Lang::En);
            assert!(it.len() > 10 && en.len() > 10, "{code}");
            assert_ne!(it, en, "{code}");
            assert!(
                it.ends_with('.') && en.ends_with('.'),
                "{code}: full sentences"
            );
        }
    }

    #[test]
    fn codes_are_unique_screaming_snake_and_parse_back() {
        let mut seen = HashSet::new();
        for &code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(
                s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{s}"
            );
            assert_eq!(ErrorCode::parse(s), code);
        }
        assert_eq!(ErrorCode::parse("FROM_THE_FUTURE"), ErrorCode::Unrecognized);
    }

    #[test]
    fn statuses_are_errors_and_retry_matches_the_meaning() {
        for &code in ErrorCode::ALL {
            assert!((400..600).contains(&code.http_status()), "{code}");
        }
        assert!(ErrorCode::CreditorUnavailable.retryable());
        assert!(ErrorCode::PaymentInProgress.retryable());
        assert!(!ErrorCode::NoticeAlreadyPaid.retryable());
        assert_eq!(ErrorCode::MissingCredential.http_status(), 401);
        assert_eq!(ErrorCode::DeviceRevoked.http_status(), 401);
    }

    #[test]
    fn body_round_trips_and_unknown_codes_still_parse() {
        let body =
            ErrorBody::new(ErrorCode::NoticeAlreadyPaid).with_detail("PPT_PAGAMENTO_DUPLICATO");
        let json = serde_json::to_string(&body).expect("serializes");
        assert!(json.starts_with(r#"{"code":"NOTICE_ALREADY_PAID","message_it":"Questo avviso"#));
        assert_eq!(
            serde_json::from_str::<ErrorBody>(&json).expect("parses"),
            body
        );
        let newer =
            r#"{"code":"SOMETHING_NEW","message_it":"x","message_en":"y","retryable":true}"#;
        let parsed: ErrorBody = serde_json::from_str(newer).expect("parses");
        assert_eq!(parsed.code, ErrorCode::Unrecognized);
        assert_eq!(parsed.message(Lang::En), "y");
    }
}
