//! The Nodo requests for a stored payment.
//!
//! Every send of an activation or an outcome (the first, a device repeating its key, crash
//! recovery, each outbox attempt) builds the request here from the stored payment and the
//! configuration alone, so the same payment and key always give the same body: the Nodo
//! replays its answer only for an identical request, and answers `PPT_ERRORE_IDEMPOTENZA` to a
//! known key with other content. Nothing here reads the clock.

use channel_api::{DeviceKind, OutcomeRequest, PaidWith, Tender, Timestamp};
use pagopa::Date;
use pagopa::soap::{
    ActivatePaymentNoticeRequest, ActivatePaymentNoticeV2Request, BoundedVec, FeePaymentMethod,
    IdempotencyKey, Outcome, OutcomeDetails, OutcomeDetailsV2, PaymentChannel, PaymentMethod,
    QrCode, SendPaymentOutcomeRequest, SendPaymentOutcomeV2Request, TouchPoint,
};

use crate::ambient::{Random, random_alnum};
use crate::config::{Config, Primitives};
use crate::nodo::{ActivateCall, Activated, OutcomeCall};
use crate::store::{ActivatedInfo, PaymentRecord};

/// Why a request cannot be built from a stored payment. The codes are stable; each means the
/// stored payment is not in the state its request needs (a bug or a manual edit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No activation idempotency key on the payment.
    #[error("payment {0} has no activation key")]
    NoActivationKey(String),
    /// No payment token: the payment was never activated.
    #[error("payment {0} has no payment token")]
    NoToken(String),
    /// An OK outcome without the device's report of how the money was taken.
    #[error("payment {0} has no OK report from its device")]
    NoReport(String),
    /// The payment date is outside the calendar the Nodo accepts.
    #[error("payment {0}: payment date out of range")]
    Date(String),
    /// No idempotency key could be made (the random source failed).
    #[error("cannot make an idempotency key: {0}")]
    Key(String),
}

impl CallError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::NoActivationKey(_) => "CALL_NO_ACTIVATION_KEY",
            CallError::NoToken(_) => "CALL_NO_TOKEN",
            CallError::NoReport(_) => "CALL_NO_REPORT",
            CallError::Date(_) => "CALL_DATE",
            CallError::Key(_) => "CALL_KEY",
        }
    }
}

/// A fresh Nodo idempotency key: `<PSP fiscal code>_<10 random [A-Za-z0-9]>`, as the SANP
/// best practice asks. One per logical operation, persisted before it is first sent.
pub fn new_idempotency_key(
    config: &Config,
    random: &dyn Random,
) -> Result<IdempotencyKey, CallError> {
    let suffix = random_alnum(random, 10).map_err(|e| CallError::Key(e.to_string()))?;
    // The prefix was validated with the configuration.
    IdempotencyKey::new(&config.psp.fiscal_code, &suffix).map_err(|e| CallError::Key(e.to_string()))
}

/// The activation of `rec` from a station of kind `kind`.
pub fn activate_call(
    config: &Config,
    kind: DeviceKind,
    rec: &PaymentRecord,
) -> Result<ActivateCall, CallError> {
    let key = rec
        .activate_key
        .clone()
        .ok_or_else(|| CallError::NoActivationKey(rec.id.to_string()))?;
    let base = ActivatePaymentNoticeRequest {
        psp: config.psp.identity.clone(),
        idempotency_key: Some(key),
        qr_code: QrCode {
            fiscal_code: rec.creditor_fiscal_code,
            notice_number: rec.notice_number,
        },
        expiration_time: Some(config.nodo.token_lifetime),
        amount: rec.amount,
        due_date: None,
        payment_note: None,
    };
    Ok(match config.nodo.primitives {
        Primitives::V1 => ActivateCall::V1(base),
        Primitives::V2 => ActivateCall::V2(ActivatePaymentNoticeV2Request {
            base,
            payment_method: Some(match rec.tender {
                Tender::Card => FeePaymentMethod::Cp,
                Tender::Cash => FeePaymentMethod::Po,
            }),
            // A kiosk is an unattended terminal; a counter is the PSP's own desk.
            touch_point: Some(match kind {
                DeviceKind::Kiosk => TouchPoint::Atm,
                DeviceKind::Counter => TouchPoint::Psp,
            }),
        }),
    })
}

/// `sendPaymentOutcome[V2]` for `rec`: OK with the details of the device's report, or KO.
pub fn outcome_call(
    config: &Config,
    kind: DeviceKind,
    rec: &PaymentRecord,
    ok: bool,
    key: &IdempotencyKey,
) -> Result<OutcomeCall, CallError> {
    let token = rec
        .payment_token
        .clone()
        .ok_or_else(|| CallError::NoToken(rec.id.to_string()))?;
    let details = if ok {
        let Some(OutcomeRequest::Ok {
            paid_with, paid_at, ..
        }) = rec.outcome.as_ref().map(|o| &o.report)
        else {
            return Err(CallError::NoReport(rec.id.to_string()));
        };
        let application_date =
            rome_date(*paid_at).ok_or_else(|| CallError::Date(rec.id.to_string()))?;
        // The PSP credits the creditor by the end of the next day (SACI: D+1).
        let transfer_date = application_date
            .add_days(1)
            .map_err(|_| CallError::Date(rec.id.to_string()))?;
        Some((*paid_with, application_date, transfer_date))
    } else {
        None
    };
    let method = |p: PaidWith| match p {
        PaidWith::Cash => PaymentMethod::Cash,
        PaidWith::CreditCard => PaymentMethod::CreditCard,
        PaidWith::Pagobancomat => PaymentMethod::Bancomat,
        PaidWith::OtherCard => PaymentMethod::Other,
    };
    let channel = match kind {
        DeviceKind::Kiosk => PaymentChannel::Atm,
        DeviceKind::Counter => PaymentChannel::FrontOffice,
    };
    let outcome = if ok { Outcome::Ok } else { Outcome::Ko };
    Ok(match config.nodo.primitives {
        Primitives::V1 => OutcomeCall::V1(SendPaymentOutcomeRequest {
            psp: config.psp.identity.clone(),
            idempotency_key: Some(key.clone()),
            payment_token: token,
            outcome,
            details: details.map(|(paid_with, application, transfer)| OutcomeDetails {
                payment_method: method(paid_with),
                payment_channel: Some(channel),
                fee: rec.fee,
                payer: None,
                application_date: application,
                transfer_date: transfer,
            }),
        }),
        Primitives::V2 => OutcomeCall::V2(SendPaymentOutcomeV2Request {
            psp: config.psp.identity.clone(),
            idempotency_key: Some(key.clone()),
            payment_tokens: BoundedVec::one(token),
            outcome,
            details: details.map(|(paid_with, application, transfer)| OutcomeDetailsV2 {
                payment_method: method(paid_with),
                payment_channel: Some(channel),
                fee: rec.fee,
                primary_ci_incurred_fee: None,
                id_bundle: None,
                id_ci_bundle: None,
                payer: None,
                application_date: application,
                transfer_date: transfer,
                digital_stamps: None,
            }),
        }),
    })
}

/// What the store keeps of a successful activation sent at `sent_at`. The token's lifetime
/// runs from when the Nodo received the request: counting from just before sending errs on the
/// safe side.
pub fn activated_info(config: &Config, a: &Activated, sent_at: Timestamp) -> ActivatedInfo {
    ActivatedInfo {
        payment_token: a.payment_token().clone(),
        token_expires_at: sent_at.add_millis(i64::from(config.nodo.token_lifetime.as_millis())),
        amount: a.total_amount(),
        iuv: a.iuv().as_str().to_owned(),
        creditor_name: a.company_name().map(str::to_owned),
        description: a.description().map(str::to_owned),
    }
}

/// The calendar day in Italy (Europe/Rome: UTC+1, UTC+2 in summer time) of instant `t`: the
/// PSP's accounting day (`applicationDate`) is an Italian day, not a UTC one.
pub fn rome_date(t: Timestamp) -> Option<Date> {
    Date::rome_from_unix_millis(t.unix_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("timestamp")
    }

    fn day(t: &str) -> String {
        rome_date(at(t)).expect("in range").to_string()
    }

    #[test]
    fn rome_days_follow_cet_and_cest() {
        // Winter, UTC+1: 23:30 UTC is already the next day in Rome.
        assert_eq!(day("2025-01-15T22:59:59Z"), "2025-01-15");
        assert_eq!(day("2025-01-15T23:00:00Z"), "2025-01-16");
        // Summer, UTC+2.
        assert_eq!(day("2025-07-01T21:59:59Z"), "2025-07-01");
        assert_eq!(day("2025-07-01T22:00:00Z"), "2025-07-02");
        // 2025: CEST from Sunday 30 March 01:00 UTC to Sunday 26 October 01:00 UTC.
        assert_eq!(day("2025-03-30T00:59:59Z"), "2025-03-30");
        assert_eq!(
            rome_date(at("2025-03-30T00:59:59Z")),
            rome_date(at("2025-03-29T23:00:00Z"))
        );
        assert_eq!(day("2025-03-29T22:59:59Z"), "2025-03-29");
        assert_eq!(day("2025-10-25T21:59:59Z"), "2025-10-25");
        assert_eq!(day("2025-10-25T22:00:00Z"), "2025-10-26");
        // New Year's Eve in Rome starts at 23:00 UTC.
        assert_eq!(day("2025-12-31T23:00:00Z"), "2026-01-01");
    }
}
