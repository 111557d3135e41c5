//! The daily cash closing: the device's count of its day, checked against the store.
//!
//! The adapter counts a payment for a device and day when the device reported an OK outcome for
//! it (money was taken) and the Italian calendar day of the reported `paid_at` is that day,
//! whatever the Nodo made of it afterwards: `outcome_pending`, `confirmed`, `late_accepted`,
//! `refund_due`, `refunded`, `needs_attention` and `offline_queued` all hold money the citizen
//! handed over that day (a refund is a later, separate movement). A KO outcome (`cancelled`)
//! took no money; payments that never got an outcome took none either.

use std::collections::BTreeMap;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use channel_api::{
    ClientKey, Closing, ClosingAmountDifference, ClosingItem, ClosingList, ClosingRequest,
    ClosingTotals, ClosingVerdict, ErrorCode, OutcomeRequest, PaymentState, Tender, TenderTotal,
    Timestamp,
};
use pagopa::{Amount, Date};
use serde::Deserialize;
use tracing::info;

use super::{ApiError, AppState, Body};
use crate::auth::AuthenticatedDevice;
use crate::store::{ClosingRecorded, PaymentRecord};

/// What the adapter counts of `rec` on `day`: its tender and total, if money was taken then.
fn counted_on(rec: &PaymentRecord, day: Date) -> Option<(Tender, Amount)> {
    if rec.state == PaymentState::Cancelled {
        return None;
    }
    let OutcomeRequest::Ok {
        paid_with, paid_at, ..
    } = &rec.outcome.as_ref()?.report
    else {
        return None;
    };
    let paid_day = Date::rome_from_unix_millis(paid_at.unix_millis()).ok()?;
    if paid_day != day {
        return None;
    }
    // Amount and fee are each at most Amount::MAX / 2 in practice; saturate rather than drop.
    let total = rec.amount.checked_add(rec.fee).unwrap_or(Amount::MAX);
    Some((paid_with.tender(), total))
}

fn add(totals: &mut ClosingTotals, tender: Tender, total: Amount) -> Result<(), ()> {
    let t = match tender {
        Tender::Cash => &mut totals.cash,
        Tender::Card => &mut totals.card,
    };
    t.count = t.count.checked_add(1).ok_or(())?;
    t.cents = t.cents.checked_add(total).map_err(|_| ())?;
    Ok(())
}

/// The adapter's answer to `request` given the device's payments in the store.
fn compare(
    request: &ClosingRequest,
    payments: &[PaymentRecord],
    revision: u32,
    now: Timestamp,
) -> Closing {
    let mut adapter_totals = ClosingTotals::default();
    let mut adapter: BTreeMap<&ClientKey, (Tender, Amount)> = BTreeMap::new();
    for rec in payments {
        if let Some((tender, total)) = counted_on(rec, request.day) {
            // A store's day cannot reach Amount::MAX; if it did, the totals saturate.
            if add(&mut adapter_totals, tender, total).is_err() {
                adapter_totals = saturated(adapter_totals, tender);
            }
            adapter.insert(&rec.client_key, (tender, total));
        }
    }
    let mut missing_at_adapter = Vec::new();
    let mut amount_differences = Vec::new();
    for item in &request.payments {
        match adapter.remove(&item.client_key) {
            None => missing_at_adapter.push(item.client_key.clone()),
            Some((tender, total)) if tender != item.tender || total != item.total => {
                amount_differences.push(ClosingAmountDifference {
                    client_key: item.client_key.clone(),
                    device_tender: item.tender,
                    device_total: item.total,
                    adapter_tender: tender,
                    adapter_total: total,
                });
            }
            Some(_) => {}
        }
    }
    let missing_at_device: Vec<ClientKey> = adapter.into_keys().cloned().collect();
    let agree = missing_at_adapter.is_empty()
        && missing_at_device.is_empty()
        && amount_differences.is_empty()
        && request.totals == adapter_totals;
    Closing {
        day: request.day,
        revision,
        device_totals: request.totals,
        expected_cash: request.expected_cash,
        counted_cash: request.counted_cash,
        adapter_totals,
        verdict: if agree {
            ClosingVerdict::Agree
        } else {
            ClosingVerdict::Mismatch
        },
        missing_at_adapter,
        missing_at_device,
        amount_differences,
        recorded_at: now,
    }
}

fn saturated(mut totals: ClosingTotals, tender: Tender) -> ClosingTotals {
    let full = TenderTotal {
        count: u32::MAX,
        cents: Amount::MAX,
    };
    match tender {
        Tender::Cash => totals.cash = full,
        Tender::Card => totals.card = full,
    }
    totals
}

/// Refuse a closing that lists a payment twice or is too large.
fn check(request: &ClosingRequest) -> Result<(), ApiError> {
    if request.payments.len() > ClosingRequest::MAX_ITEMS {
        return Err(ApiError::detail(
            ErrorCode::ClosingTooLarge,
            format!(
                "{} payments, at most {}",
                request.payments.len(),
                ClosingRequest::MAX_ITEMS
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for ClosingItem { client_key, .. } in &request.payments {
        if !seen.insert(client_key) {
            return Err(ApiError::detail(
                ErrorCode::InvalidRequest,
                format!("payments: {client_key} listed twice"),
            ));
        }
    }
    Ok(())
}

/// `POST /v1/closings`
pub(super) async fn submit_closing(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(request): Body<ClosingRequest>,
) -> Result<Json<Closing>, ApiError> {
    check(&request)?;
    let now = state.clock.now();
    let device = auth.device.id;
    let recorded = state
        .store
        .call(move |s| {
            s.record_closing(device, &request, |revision, payments| {
                compare(&request, payments, revision, now)
            })
        })
        .await?;
    let resent = matches!(recorded, ClosingRecorded::Resent(_));
    let closing = match recorded {
        ClosingRecorded::New(c) | ClosingRecorded::Resent(c) => c,
    };
    info!(
        device,
        day = %closing.day,
        revision = closing.revision,
        verdict = closing.verdict.as_str(),
        resent,
        "cash closing"
    );
    Ok(Json(closing))
}

/// The query of `GET /v1/closings`.
#[derive(Debug, Deserialize)]
pub(super) struct ClosingsQuery {
    day: String,
}

/// `GET /v1/closings?day=YYYY-MM-DD`
pub(super) async fn list_closings(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    query: Result<Query<ClosingsQuery>, QueryRejection>,
) -> Result<Json<ClosingList>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::detail(ErrorCode::InvalidRequest, r.body_text()))?;
    let day = Date::parse(&q.day)
        .map_err(|e| ApiError::detail(ErrorCode::InvalidRequest, format!("day: {e}")))?;
    let device = auth.device.id;
    let closings = state.store.call(move |s| s.closings(device, day)).await?;
    Ok(Json(ClosingList { closings }))
}
