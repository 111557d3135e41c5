//! Start-up recovery: what to do about Nodo calls the previous run left open.
//!
//! A journal row without an end means the process stopped between "about to send" and "answer
//! recorded": the request may or may not have reached the Nodo. Recovery reads only the
//! journal and the payments, and:
//! - closes each open row as `no_answer` (detail "interrupted"), so the journal tells the
//!   truth and the next attempt gets a row of its own;
//! - for an activation of a device's payment still `activating` and still within the token's
//!   lifetime, sends the same activation again with the same key in the background: the Nodo
//!   replays its answer if the first one got through, so the payment reaches `active` (with
//!   the same token) or `activation_failed`, whether or not the device comes back;
//! - leaves outcomes and offline activations to the outbox worker, whose entries are still due:
//!   it resends the same body with the same key;
//! - ignores verifies (no side effect).

use channel_api::PaymentState;
use pagopa::fault::{Action, Primitive};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{AppState, send_activation};
use crate::store::{CallResult, FinishedCall, StoreError};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Journal rows that were open, now closed as interrupted.
    pub interrupted_calls: usize,
    /// Activations being resent in the background (payment ids).
    pub resent_activations: Vec<String>,
}

/// The journal's `detail` for a call cut short by a stop.
pub const INTERRUPTED: &str = "interrupted: the adapter stopped before the answer";

/// Close the open calls and resend interrupted activations (see the module documentation).
/// The resends run as background tasks on the current runtime.
pub async fn recover(state: &AppState) -> Result<Recovered, StoreError> {
    let now = state.clock.now();
    let lifetime = i64::from(state.config.nodo.token_lifetime.as_millis());
    let open = state.store.call(|s| s.open_calls()).await?;
    let mut recovered = Recovered {
        interrupted_calls: open.len(),
        ..Recovered::default()
    };
    let mut activations = Vec::new();
    for call in open {
        let finished = FinishedCall {
            result: CallResult::NoAnswer,
            fault_code: None,
            http_status: None,
            action: Action::ResendSame.code(),
            response_xml: None,
            detail: Some(INTERRUPTED.to_owned()),
        };
        let id = call.id;
        state
            .store
            .call(move |s| s.finish_call(id, &finished, now))
            .await?;
        let activation = matches!(
            call.primitive,
            Primitive::ActivatePaymentNotice | Primitive::ActivatePaymentNoticeV2
        );
        if let (true, Some(payment)) = (activation, call.payment_id)
            && !activations.contains(&payment)
        {
            activations.push(payment);
        }
    }
    for payment in activations {
        let p = payment.clone();
        let Some(rec) = state.store.call(move |s| s.payment(&p)).await? else {
            continue;
        };
        if rec.state != PaymentState::Activating || rec.offline {
            continue;
        }
        if rec.created_at.add_millis(lifetime) <= now {
            // Any session it opened has expired: a resend would open a new one for nobody.
            continue;
        }
        let device = rec.device_id;
        let Some(d) = state.store.call(move |s| s.device(device)).await? else {
            warn!(payment = %rec.id, device, "interrupted activation of an unknown device");
            continue;
        };
        let st = state.clone();
        let span = info_span!("recovery", payment = %rec.id);
        tokio::spawn(
            async move {
                match send_activation(&st, d.kind, rec).await {
                    Ok(rec) => info!(state = %rec.state, "interrupted activation resent"),
                    Err(e) => warn!(code = %e.code, detail = e.detail.as_deref(),
                        "interrupted activation resent without success"),
                }
            }
            .instrument(span),
        );
        recovered.resent_activations.push(payment);
    }
    if recovered.interrupted_calls > 0 {
        info!(
            interrupted = recovered.interrupted_calls,
            activations = recovered.resent_activations.len(),
            "recovered Nodo calls left open by the previous run"
        );
    }
    Ok(recovered)
}
