//! How staff resolved an exception: a device of the payment's comune reports it, so the
//! operators' work list and the adapter's states say what the counter did (a refund in cash, a
//! write-off) instead of leaving the payment open forever.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use channel_api::{ErrorCode, ResolutionRequest, ResolutionResponse};
use tracing::info;

use super::handlers::visible;
use super::{ApiError, AppState, Body};
use crate::auth::AuthenticatedDevice;
use crate::store::ResolutionRecorded;

/// Refuse notes that are too long or missing, and refunds of nothing or of more than was paid.
fn check(req: &ResolutionRequest, paid_cents: u64) -> Result<(), ApiError> {
    let max = ResolutionRequest::MAX_NOTE;
    if req.note().is_some_and(|n| n.chars().count() > max) {
        return Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            format!("note: at most {max} characters"),
        ));
    }
    match req {
        ResolutionRequest::Other { note } if note.trim().is_empty() => Err(ApiError::detail(
            ErrorCode::InvalidRequest,
            "note: required for an other resolution",
        )),
        ResolutionRequest::Refunded { amount, .. }
            if amount.is_zero() || amount.cents() > paid_cents =>
        {
            Err(ApiError::detail(
                ErrorCode::InvalidRequest,
                format!("amount: 1 to {paid_cents} cents (what was paid)"),
            ))
        }
        _ => Ok(()),
    }
}

/// `POST /v1/payments/{id}/resolution`
pub(super) async fn resolve(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Path(id): Path<String>,
    Body(req): Body<ResolutionRequest>,
) -> Result<Json<ResolutionResponse>, ApiError> {
    let rec = visible(&state, &auth, &id).await?;
    check(&req, rec.amount.cents().saturating_add(rec.fee.cents()))?;
    let now = state.clock.now();
    let kind = req.kind();
    let pid = rec.id.clone();
    let recorded = state
        .store
        .call(move |s| s.resolve_payment(pid.as_str(), &req, now))
        .await?;
    match recorded {
        ResolutionRecorded::Recorded(rec, resolution) => {
            info!(payment = %rec.id, device = auth.device.id, resolution = kind, state = %rec.state, "exception resolved");
            Ok(Json(ResolutionResponse {
                payment: rec.to_api(),
                resolution,
            }))
        }
        ResolutionRecorded::AlreadyResolved(rec, resolution) => Ok(Json(ResolutionResponse {
            payment: rec.to_api(),
            resolution,
        })),
        ResolutionRecorded::Conflict(first) => Err(ApiError::detail(
            ErrorCode::ResolutionConflict,
            format!("already resolved as {}", first.resolution.kind()),
        )),
        ResolutionRecorded::WrongState(rec) => Err(ApiError::detail(
            ErrorCode::InvalidState,
            format!("the payment is {}: no {kind} resolution", rec.state),
        )),
        ResolutionRecorded::NotFound => Err(ApiError::detail(ErrorCode::PaymentNotFound, id)),
    }
}
