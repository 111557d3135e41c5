//! The device API's handlers: heartbeat, verify, activate, read and list payments, report an
//! outcome, submit offline payments.
//!
//! Each payment operation runs inside a tracing span named `payment` carrying the payment id
//! and notice number, so every log line about a payment can be found by either. None of the data
//! handled here is personal (notice numbers and creditor fiscal codes identify debts and public
//! bodies); payer data never enters the device API.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use channel_api::{
    API_VERSION, ActivateRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    OfflineBatchRequest, OfflineBatchResponse, OfflineItemResult, OfflinePayment, OutcomeRequest,
    Payment, PaymentId, PaymentList, PaymentState, ReportedOutcome, TerminalRefs, VerifyRequest,
    VerifyResponse,
};
use channel_api::{DeviceKind, ErrorBody, Tender};
use pagopa::fault::{Action, FailureReason};
use pagopa::soap::{IdempotencyKey, QrCode, VerifyPaymentNoticeRequest};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};
use serde::Deserialize;
use tracing::{Instrument, info, info_span, warn};

use super::{ApiError, AppState, Body};
use crate::ambient::ordered_id;
use crate::auth::AuthenticatedDevice;
use crate::calls::{activate_call, activated_info};
use crate::config::Config;
use crate::fees::FeeError;
use crate::nodo::Reply;
use crate::store::{NewOfflinePayment, NewPayment, OutcomeRecorded, PaymentInsert, PaymentRecord};

/// What the citizen should be told for a classified Nodo answer, before any money is taken.
pub fn error_code_for(action: Action) -> ErrorCode {
    match action {
        Action::AlreadyPaid => ErrorCode::NoticeAlreadyPaid,
        Action::InProgressElsewhere => ErrorCode::PaymentInProgress,
        Action::Misconfigured => ErrorCode::ServiceMisconfigured,
        Action::ResendSame => ErrorCode::NodoUnavailable,
        Action::RetryLater(r) | Action::Permanent(r) => match r {
            FailureReason::NoticeUnknown => ErrorCode::NoticeUnknown,
            FailureReason::NoticeExpired => ErrorCode::NoticeExpired,
            FailureReason::NoticeAnnulled => ErrorCode::NoticeCancelled,
            FailureReason::AlreadyPaid => ErrorCode::NoticeAlreadyPaid,
            FailureReason::AmountMismatch => ErrorCode::AmountMismatch,
            FailureReason::PaymentInProgress => ErrorCode::PaymentInProgress,
            FailureReason::CreditorUnknown | FailureReason::CreditorNotEnabled => {
                ErrorCode::CreditorNotEnabled
            }
            FailureReason::CreditorUnreachable => ErrorCode::CreditorUnavailable,
            FailureReason::CreditorError if action.is_retryable() => ErrorCode::CreditorUnavailable,
            FailureReason::ServiceUnavailable => ErrorCode::NodoUnavailable,
            _ => ErrorCode::PaymentRejected,
        },
        // Alert, and the outcome-only actions, which cannot answer a verify or an activate.
        _ => ErrorCode::InternalError,
    }
}

/// Refuse wrong check digits unless the adapter runs against pagoPA's test environment.
fn check_digits(
    state: &AppState,
    notice: &NoticeNumber,
    creditor: &CreditorFiscalCode,
) -> Result<(), ApiError> {
    if state.config.check_mode == CheckMode::Lenient {
        return Ok(());
    }
    if notice.check_digit_valid() == Some(false) {
        return Err(ApiError::detail(
            ErrorCode::InvalidNotice,
            "notice_number: wrong check digits",
        ));
    }
    if !creditor.check_digit_valid() {
        return Err(ApiError::detail(
            ErrorCode::InvalidNotice,
            "creditor_fiscal_code: wrong check digit",
        ));
    }
    Ok(())
}

fn fee_error(e: FeeError) -> ApiError {
    match e {
        FeeError::TenderNotAccepted { .. } => {
            ApiError::detail(ErrorCode::TenderNotAccepted, e.to_string())
        }
        _ => ApiError::detail(ErrorCode::InvalidRequest, e.to_string()),
    }
}

/// The longest text a device may put in a free-text reference field.
const MAX_REF_LEN: usize = 64;

fn check_refs(terminal: Option<&TerminalRefs>, receipt: Option<&str>) -> Result<(), ApiError> {
    if let Some(t) = terminal {
        if !t.masked_pan_is_safe() {
            return Err(ApiError::detail(
                ErrorCode::InvalidRequest,
                "terminal.masked_pan: at most four digits may be in clear",
            ));
        }
        let fields = [
            Some(t.terminal_id.as_str()),
            t.auth_code.as_deref(),
            t.operation_id.as_deref(),
            t.circuit.as_deref(),
        ];
        if t.terminal_id.is_empty() || fields.into_iter().flatten().any(|f| f.len() > MAX_REF_LEN) {
            return Err(ApiError::detail(
                ErrorCode::InvalidRequest,
                format!("terminal: terminal_id required, each field at most {MAX_REF_LEN} bytes"),
            ));
        }
    }
    if receipt.is_some_and(|r| r.is_empty() || r.len() > MAX_REF_LEN) {
        return Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            format!("receipt_number: 1 to {MAX_REF_LEN} bytes"),
        ));
    }
    Ok(())
}

fn new_idempotency_key(state: &AppState) -> Result<IdempotencyKey, ApiError> {
    crate::calls::new_idempotency_key(&state.config, state.random.as_ref())
        .map_err(|e| ApiError::detail(ErrorCode::InternalError, e.to_string()))
}

fn new_payment_id(state: &AppState) -> Result<PaymentId, ApiError> {
    let hex = ordered_id(state.clock.now(), state.random.as_ref())?;
    PaymentId::parse(&hex)
        .map_err(|e| ApiError::detail(ErrorCode::InternalError, format!("payment id: {e}")))
}

fn payment_span(rec: &PaymentRecord) -> tracing::Span {
    info_span!(
        "payment",
        id = %rec.id,
        notice = %rec.notice_number,
        device = rec.device_id
    )
}

/// `POST /v1/heartbeat`
pub(super) async fn heartbeat(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(req): Body<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let now = state.clock.now();
    let id = auth.device.id;
    info!(
        device = id,
        agent_version = req.agent_version.as_deref(),
        queued = req.queued,
        "heartbeat"
    );
    let device = auth.device.clone();
    let agent_version = req.agent_version.clone();
    let health = req.health.clone();
    // Health and last contact for the fleet view; the answer carries the configuration
    // version so the device pulls a new one without restarting.
    let config_version = state
        .store
        .call(move |s| {
            s.record_heartbeat(id, now, agent_version.as_deref(), health.as_ref())?;
            crate::fleet::config_version(s, &device)
        })
        .await?;
    Ok(Json(HeartbeatResponse {
        server_time: now,
        clock_skew_ms: req.device_time.map(|t| t.millis_since(now)),
        device: auth.device.info(),
        api_version: API_VERSION.to_owned(),
        config_version,
    }))
}

/// The payment `id` if the device's comune may see it.
pub(super) async fn visible(
    state: &AppState,
    auth: &AuthenticatedDevice,
    id: &str,
) -> Result<PaymentRecord, ApiError> {
    let not_found = || ApiError::detail(ErrorCode::PaymentNotFound, id.to_owned());
    let id = PaymentId::parse(id).map_err(|_| not_found())?;
    let rec = state
        .store
        .call(move |s| s.payment(id.as_str()))
        .await?
        .ok_or_else(not_found)?;
    // Another comune's payment is reported as absent: its existence is not ours to reveal.
    if rec.comune != auth.device.comune {
        return Err(not_found());
    }
    Ok(rec)
}

/// `GET /v1/payments/{id}`
pub(super) async fn get_payment(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Path(id): Path<String>,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(visible(&state, &auth, &id).await?.to_api()))
}

/// The query of `GET /v1/payments`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/payments`
pub(super) async fn list_payments(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<PaymentList>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::detail(ErrorCode::InvalidRequest, r.body_text()))?;
    let filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(PaymentState::parse(s).ok_or_else(|| {
            ApiError::detail(
                ErrorCode::InvalidRequest,
                format!("state: unknown state {s:?}"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            "limit: 1 to 500",
        ));
    }
    let comune = auth.device.comune;
    let records = state
        .store
        // A scan: off the store thread, which would wait for it with every other call.
        .read_call(move |s| s.list_payments(&comune, filter, limit))
        .await?;
    Ok(Json(PaymentList {
        payments: records.iter().map(PaymentRecord::to_api).collect(),
    }))
}

fn gateway(state: &AppState) -> Result<&crate::nodo::Gateway, ApiError> {
    // The Nodo routes are mounted only with a gateway; this is a wiring bug otherwise.
    state
        .gateway
        .as_ref()
        .ok_or_else(|| ApiError::detail(ErrorCode::InternalError, "no Nodo client"))
}

/// `POST /v1/verify`
pub(super) async fn verify(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(req): Body<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    check_digits(&state, &req.notice_number, &req.creditor_fiscal_code)?;
    let request = VerifyPaymentNoticeRequest {
        psp: state.config.psp.identity.clone(),
        qr_code: QrCode {
            fiscal_code: req.creditor_fiscal_code,
            notice_number: req.notice_number,
        },
    };
    let span = info_span!("verify", notice = %req.notice_number, device = auth.device.id);
    let reply = gateway(&state)?.verify(&request).instrument(span).await?;
    match reply {
        Reply::Ok(v) => {
            let option = v.payment_options.first().ok_or_else(|| {
                ApiError::detail(
                    ErrorCode::PaymentRejected,
                    "verify answer without paymentList",
                )
            })?;
            let amount = option.amount.get();
            Ok(Json(VerifyResponse {
                notice_number: req.notice_number,
                creditor_fiscal_code: v.fiscal_code_pa.unwrap_or(req.creditor_fiscal_code),
                creditor_name: v.company_name.map(|t| t.as_str().to_owned()),
                office_name: v.office_name.map(|t| t.as_str().to_owned()),
                description: v.payment_description.map(|t| t.as_str().to_owned()),
                amount,
                due_date: option.due_date,
                fees: state.config.fees.quotes(auth.device.kind, amount),
                standin: v.standin.unwrap_or(false),
            }))
        }
        Reply::Ko { fault, action } => Err(ApiError::detail(
            error_code_for(action),
            fault_detail(&fault),
        )),
        Reply::Failed { error, action } => {
            Err(ApiError::detail(error_code_for(action), error.to_string()))
        }
    }
}

fn fault_detail(fault: &pagopa::fault::Fault) -> String {
    match &fault.original_fault_code {
        Some(orig) => format!("{} ({})", fault.fault_code.as_str(), orig.as_str()),
        None => fault.fault_code.as_str().to_owned(),
    }
}

/// `POST /v1/payments`
pub(super) async fn activate(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(req): Body<ActivateRequest>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    check_digits(&state, &req.notice_number, &req.creditor_fiscal_code)?;
    if req.amount.is_zero() {
        return Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            "amount: must be at least 1 cent",
        ));
    }
    let quote = state
        .config
        .fees
        .quote(auth.device.kind, req.tender, req.amount)
        .map_err(fee_error)?;
    let new = NewPayment {
        id: new_payment_id(&state)?,
        device_id: auth.device.id,
        comune: auth.device.comune,
        client_key: req.client_key.clone(),
        notice_number: req.notice_number,
        creditor_fiscal_code: req.creditor_fiscal_code,
        amount: req.amount,
        fee: quote.fee,
        tender: req.tender,
        activate_key: new_idempotency_key(&state)?,
    };
    let now = state.clock.now();
    let insert = {
        let new = new.clone();
        state
            .store
            .call(move |s| s.insert_payment(&new, now))
            .await?
    };
    let kind = auth.device.kind;
    match insert {
        PaymentInsert::Created(rec) => {
            let span = payment_span(&rec);
            let rec = send_activation(&state, kind, rec).instrument(span).await?;
            Ok((StatusCode::CREATED, Json(rec.to_api())))
        }
        PaymentInsert::Existing(rec) if !rec.same_request(&new) => Err(ApiError::detail(
            ErrorCode::ClientKeyReused,
            format!(
                "client_key already opened payment {} with other data",
                rec.id
            ),
        )),
        PaymentInsert::Existing(rec) => {
            let span = payment_span(&rec);
            let rec = resume_activation(&state, kind, rec)
                .instrument(span)
                .await?;
            Ok((StatusCode::OK, Json(rec.to_api())))
        }
    }
}

/// A resend of an activation: finish what the first request left.
async fn resume_activation(
    state: &AppState,
    kind: DeviceKind,
    rec: PaymentRecord,
) -> Result<PaymentRecord, ApiError> {
    match (rec.state, &rec.error) {
        // No answer last time: the same request with the same key; the Nodo replays its answer
        // if the first one got through.
        (PaymentState::Activating, _) => {
            info!("resending the activation with the same idempotency key");
            send_activation(state, kind, rec).await
        }
        // A transient refusal: a new attempt needs a new key (the old one replays the refusal).
        (PaymentState::ActivationFailed, Some((code, _))) if code.retryable() => {
            let key = new_idempotency_key(state)?;
            let now = state.clock.now();
            let id = rec.id.clone();
            let (rec, moved) = state
                .store
                .call(move |s| s.restart_activation(id.as_str(), &key, now))
                .await?;
            if moved {
                info!("new activation attempt after a transient refusal");
                send_activation(state, kind, rec).await
            } else {
                Ok(rec)
            }
        }
        (PaymentState::ActivationFailed, Some((code, detail))) => Err(ApiError {
            code: *code,
            detail: detail.clone(),
        }),
        _ => Ok(rec),
    }
}

/// Send the activation of `rec` (state `activating`) and record the answer. Also used by crash
/// recovery to finish an activation whose answer was lost.
pub(crate) async fn send_activation(
    state: &AppState,
    kind: DeviceKind,
    rec: PaymentRecord,
) -> Result<PaymentRecord, ApiError> {
    let call = activate_call(&state.config, kind, &rec)
        .map_err(|e| ApiError::detail(ErrorCode::InternalError, e.to_string()))?;
    // The token's lifetime runs from when the Nodo received the request: counting from just
    // before sending errs on the safe side.
    let sent_at = state.clock.now();
    let id = rec.id.clone();
    let config = Arc::clone(&state.config);
    // The payment's new state is written with the journal's record of the answer.
    let (reply, after) = gateway(state)?
        .activate_with(
            Some(rec.id.as_str()),
            &call,
            |_| Ok(()),
            move |tx, reply, (), now| {
                let failed = |code: ErrorCode, detail: String| {
                    tx.mark_activation_failed(id.as_str(), code, Some(&detail), now)
                        .map(|(rec, _)| Some((rec, code, detail)))
                };
                match reply {
                    Reply::Ok(activated) => {
                        let info = activated_info(&config, activated, sent_at);
                        let (rec, _) = tx.mark_active(id.as_str(), &info, now)?;
                        Ok(Some((rec, ErrorCode::InternalError, String::new())))
                    }
                    Reply::Ko { fault, action } => {
                        failed(error_code_for(*action), fault_detail(fault))
                    }
                    Reply::Failed {
                        action: Action::ResendSame,
                        ..
                    } => Ok(None),
                    Reply::Failed { error, action } => {
                        failed(error_code_for(*action), error.to_string())
                    }
                }
            },
        )
        .await?;
    match (reply, after) {
        (Reply::Ok(activated), Some((rec, _, _))) => {
            if activated.total_amount() != rec.amount {
                warn!(
                    asked = rec.amount.cents(),
                    total = activated.total_amount().cents(),
                    "the Nodo activated a different amount: the device must charge the new total"
                );
            }
            info!(token_expires_at = ?rec.token_expires_at, "payment active");
            Ok(rec)
        }
        (Reply::Ko { fault, action }, Some((_, code, detail))) => {
            info!(
                fault = fault.fault_code.as_str(),
                action = action.code(),
                "activation refused"
            );
            Err(ApiError::detail(code, detail))
        }
        (Reply::Failed { error, action }, None) => {
            warn!(error = %error, action = action.code(), "no answer to the activation: the device may resend");
            Err(ApiError::detail(
                ErrorCode::NodoUnavailable,
                error.to_string(),
            ))
        }
        (Reply::Failed { error, action }, Some((_, code, detail))) => {
            warn!(error = %error, action = action.code(), "activation failed");
            Err(ApiError::detail(code, detail))
        }
        // The hook answers Some for every answer but a missing one.
        (_, _) => Err(ApiError::detail(
            ErrorCode::InternalError,
            "activation answer not recorded",
        )),
    }
}

/// The fee the schedule sets for `paid_with` on this payment, compared to the one reported.
fn check_fee(
    config: &Config,
    kind: DeviceKind,
    tender: Tender,
    amount: Amount,
    reported: Amount,
) -> Result<(), ApiError> {
    let quote = config.fees.quote(kind, tender, amount).map_err(fee_error)?;
    if quote.fee != reported {
        return Err(ApiError::detail(
            ErrorCode::FeeMismatch,
            format!(
                "fee: the schedule says {} cents for {tender}, reported {}",
                quote.fee.cents(),
                reported.cents()
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/payments/{id}/outcome`
pub(super) async fn report_outcome(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Path(id): Path<String>,
    Body(req): Body<OutcomeRequest>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    let pid = PaymentId::parse(&id)
        .map_err(|_| ApiError::detail(ErrorCode::PaymentNotFound, id.clone()))?;
    let not_found = move || ApiError::detail(ErrorCode::PaymentNotFound, id.clone());
    if let OutcomeRequest::Ok {
        terminal,
        receipt_number,
        ..
    } = &req
    {
        check_refs(terminal.as_ref(), receipt_number.as_deref())?;
    }
    let key = new_idempotency_key(&state)?;
    let now = state.clock.now();
    let reported = ReportedOutcome {
        report: req.clone(),
        reported_at: now,
    };
    let config = Arc::clone(&state.config);
    let device = auth.device.clone();
    // One trip to the store: read the payment, check it may take this outcome, record it.
    let recorded = state
        .store
        .call(move |s| {
            let Some(rec) = s.payment(pid.as_str())? else {
                return Ok(Err(not_found()));
            };
            // Another comune's payment is reported as absent: its existence is not ours to
            // reveal.
            if rec.comune != device.comune {
                return Ok(Err(not_found()));
            }
            if rec.device_id != device.id {
                return Ok(Err(ApiError::detail(
                    ErrorCode::InvalidState,
                    "the payment was opened by another device",
                )));
            }
            let fee = match &reported.report {
                OutcomeRequest::Ok { paid_with, fee, .. } => {
                    let checked =
                        check_fee(&config, device.kind, paid_with.tender(), rec.amount, *fee);
                    if let Err(e) = checked {
                        return Ok(Err(e));
                    }
                    *fee
                }
                OutcomeRequest::Ko { .. } => rec.fee,
            };
            s.record_outcome(rec.id.as_str(), &reported, fee, &key, now)
                .map(Ok)
        })
        .await??;
    match recorded {
        OutcomeRecorded::Recorded(rec) => {
            state.outbox_wakeup.device(auth.device.id);
            let ok = matches!(req, OutcomeRequest::Ok { .. });
            info!(parent: &payment_span(&rec), ok, "outcome recorded and queued for the Nodo");
            Ok((StatusCode::ACCEPTED, Json(rec.to_api())))
        }
        OutcomeRecorded::AlreadyReported(rec)
            if rec.outcome.as_ref().is_some_and(|o| o.report == req) =>
        {
            Ok((StatusCode::ACCEPTED, Json(rec.to_api())))
        }
        OutcomeRecorded::AlreadyReported(_) => Err(ApiError::detail(
            ErrorCode::OutcomeConflict,
            "a different outcome was already recorded",
        )),
        OutcomeRecorded::WrongState(rec) => Err(ApiError::detail(
            ErrorCode::InvalidState,
            format!("the payment is {}", rec.state),
        )),
    }
}

/// `POST /v1/offline-batches`
pub(super) async fn submit_offline_batch(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(req): Body<OfflineBatchRequest>,
) -> Result<Json<OfflineBatchResponse>, ApiError> {
    if req.payments.len() > OfflineBatchRequest::MAX_PAYMENTS {
        return Err(ApiError::detail(
            ErrorCode::BatchTooLarge,
            format!(
                "{} payments, at most {}",
                req.payments.len(),
                OfflineBatchRequest::MAX_PAYMENTS
            ),
        ));
    }
    let mut results = Vec::with_capacity(req.payments.len());
    for p in req.payments {
        let key = p.client_key.clone();
        let result = match queue_offline(&state, &auth, p).await {
            Ok(payment) => OfflineItemResult {
                client_key: key,
                payment: Some(payment),
                error: None,
            },
            Err(e) => {
                let mut body = ErrorBody::new(e.code);
                body.detail = e.detail;
                OfflineItemResult::failed(key, body)
            }
        };
        results.push(result);
    }
    Ok(Json(OfflineBatchResponse { results }))
}

async fn queue_offline(
    state: &AppState,
    auth: &AuthenticatedDevice,
    p: OfflinePayment,
) -> Result<Payment, ApiError> {
    check_digits(state, &p.notice_number, &p.creditor_fiscal_code)?;
    if p.amount.is_zero() {
        return Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            "amount: must be at least 1 cent",
        ));
    }
    check_refs(p.terminal.as_ref(), Some(&p.receipt_number))?;
    check_fee(
        &state.config,
        auth.device.kind,
        p.paid_with.tender(),
        p.amount,
        p.fee,
    )?;
    let now = state.clock.now();
    let new = NewOfflinePayment {
        id: new_payment_id(state)?,
        device_id: auth.device.id,
        comune: auth.device.comune,
        client_key: p.client_key.clone(),
        notice_number: p.notice_number,
        creditor_fiscal_code: p.creditor_fiscal_code,
        amount: p.amount,
        fee: p.fee,
        tender: p.paid_with.tender(),
        outcome: ReportedOutcome {
            report: OutcomeRequest::Ok {
                paid_with: p.paid_with,
                fee: p.fee,
                paid_at: p.paid_at,
                terminal: p.terminal.clone(),
                receipt_number: Some(p.receipt_number.clone()),
            },
            reported_at: now,
        },
    };
    let outbox_key = new_idempotency_key(state)?;
    let inserted = {
        let new = new.clone();
        state
            .store
            .call(move |s| s.insert_offline_payment(&new, &outbox_key, now))
            .await?
    };
    match inserted {
        PaymentInsert::Created(rec) => {
            state.outbox_wakeup.device(auth.device.id);
            info!(parent: &payment_span(&rec), "offline payment queued");
            Ok(rec.to_api())
        }
        PaymentInsert::Existing(rec)
            if rec.offline
                && rec.notice_number == new.notice_number
                && rec.creditor_fiscal_code == new.creditor_fiscal_code
                && rec.amount == new.amount =>
        {
            Ok(rec.to_api())
        }
        PaymentInsert::Existing(rec) => Err(ApiError::detail(
            ErrorCode::ClientKeyReused,
            format!("client_key already used for payment {}", rec.id),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagopa::fault::{Fault, FaultCode, Primitive, classify};

    fn code_for(primitive: Primitive, fault: &str, original: Option<&str>) -> ErrorCode {
        let mut f = Fault::new(FaultCode::parse(fault), "x", "NodoDeiPagamentiSPC");
        f.original_fault_code = original.map(FaultCode::parse);
        error_code_for(classify(primitive, &f))
    }

    #[test]
    fn nodo_faults_become_citizen_messages() {
        let v = Primitive::VerifyPaymentNotice;
        let a = Primitive::ActivatePaymentNoticeV2;
        assert_eq!(
            code_for(v, "PPT_PAGAMENTO_DUPLICATO", None),
            ErrorCode::NoticeAlreadyPaid
        );
        assert_eq!(
            code_for(
                v,
                "PPT_ERRORE_EMESSO_DA_PAA",
                Some("PAA_PAGAMENTO_DUPLICATO")
            ),
            ErrorCode::NoticeAlreadyPaid
        );
        assert_eq!(
            code_for(v, "PPT_ERRORE_EMESSO_DA_PAA", Some("PAA_PAGAMENTO_SCADUTO")),
            ErrorCode::NoticeExpired
        );
        assert_eq!(
            code_for(
                v,
                "PPT_ERRORE_EMESSO_DA_PAA",
                Some("PAA_PAGAMENTO_SCONOSCIUTO")
            ),
            ErrorCode::NoticeUnknown
        );
        assert_eq!(
            code_for(
                v,
                "PPT_ERRORE_EMESSO_DA_PAA",
                Some("PAA_PAGAMENTO_ANNULLATO")
            ),
            ErrorCode::NoticeCancelled
        );
        assert_eq!(
            code_for(a, "PPT_PAGAMENTO_IN_CORSO", None),
            ErrorCode::PaymentInProgress
        );
        assert_eq!(
            code_for(a, "PPT_STAZIONE_INT_PA_TIMEOUT", None),
            ErrorCode::CreditorUnavailable
        );
        assert_eq!(
            code_for(a, "PPT_AUTENTICAZIONE", None),
            ErrorCode::ServiceMisconfigured
        );
        assert_eq!(
            code_for(a, "PPT_SYSTEM_ERROR", None),
            ErrorCode::NodoUnavailable
        );
        assert_eq!(
            code_for(a, "PPT_DOMINIO_SCONOSCIUTO", None),
            ErrorCode::CreditorNotEnabled
        );
        assert_eq!(
            code_for(
                a,
                "PPT_ERRORE_EMESSO_DA_PAA",
                Some("PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO")
            ),
            ErrorCode::AmountMismatch
        );
        assert_eq!(
            error_code_for(Action::ResendSame),
            ErrorCode::NodoUnavailable
        );
        assert_eq!(error_code_for(Action::Alert), ErrorCode::InternalError);
    }

    #[test]
    fn retryable_citizen_codes_are_the_transient_ones() {
        // A retryable stored code lets a resend with the same client key start a new attempt.
        for code in [
            ErrorCode::CreditorUnavailable,
            ErrorCode::PaymentInProgress,
            ErrorCode::NodoUnavailable,
        ] {
            assert!(code.retryable(), "{code}");
        }
        for code in [
            ErrorCode::NoticeAlreadyPaid,
            ErrorCode::NoticeExpired,
            ErrorCode::NoticeUnknown,
            ErrorCode::CreditorNotEnabled,
        ] {
            assert!(!code.retryable(), "{code}");
        }
    }
}
