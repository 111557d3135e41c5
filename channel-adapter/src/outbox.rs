//! The outbox worker: delivers every outcome the Nodo is owed, and forwards payments taken
//! offline, until the Nodo gives an application-level answer, across restarts.
//!
//! What it reads is only the store: a row in `outcome_outbox` is an obligation (an outcome for
//! a token, or an offline payment to activate and then close), and it stays until the Nodo has
//! answered for it. So a restart needs no special step: whatever was due is due again, and an
//! attempt cut short by a crash (journaled, no answer) is simply made again with the same body
//! and the same idempotency key, which the Nodo answers by replaying its first answer.
//!
//! Order and parallelism: each device's entries are delivered one at a time in the order the
//! device gave them (an offline batch reaches the Nodo in order, and a later entry never
//! overtakes one waiting out a back-off); different devices proceed in parallel, up to
//! `outbox.concurrency`.
//!
//! Retries follow `pagopa::fault`'s classification of each answer ([`Action`]):
//! - `ResendSame` (no answer, 5xx, unreadable): same body, same key, SANP back-off;
//! - `RetryLater` (`PPT_SYSTEM_ERROR`, `PPT_SUPERAMENTOSOGLIA`…): the Nodo did not take the
//!   outcome; a new attempt with a *new* key (the old one would replay the refusal), back-off;
//! - `Misconfigured` (our credentials, key, URL): kept and retried on the same schedule, logged
//!   as an error: it needs operations, and the outcome is still owed once they fix it;
//! - `Done` (OK, or `PPT_ESITO_GIA_ACQUISITO`): `confirmed` (or `cancelled` for a KO);
//! - `AcceptedLate` (`PPT_TOKEN_SCADUTO`): `late_accepted`, reported with FdR code 9;
//! - `LateKo`: `cancelled`;
//! - `Refund` (`PPT_PAGAMENTO_DUPLICATO`): `refund_due`;
//! - `Alert` (unknown token, idempotency error, a request we cannot build): the entry is
//!   parked and the payment is `needs_attention`; no blind retry until an operator resets it.
//!
//! The SANP back-off is `slot × (2^k − 1)` after attempt `k`, for `outbox.max_attempts`
//! attempts; then every `outbox.retry_interval`, reported as overdue, because an outcome must
//! be delivered eventually (exactly one per token) and giving up would leave a citizen's
//! payment without a receipt. `channel-adapter outbox list|reset` inspects and resets counters.
//!
//! An offline payment first needs an activation: a refusal for good (already paid, expired,
//! unknown notice, another amount due) makes it `refund_due`, visible to operators, never a
//! silent drop; a transient one is retried like an outcome.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channel_api::{ErrorCode, PaymentState, Timestamp};
use pagopa::fault::Action;
use pagopa::soap::{IdempotencyKey, SoapError};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::{Instrument, error, info, info_span, warn};

use crate::api::{AppState, error_code_for};
use crate::calls::{CallError, activate_call, activated_info, new_idempotency_key, outcome_call};
use crate::config::OutboxConfig;
use crate::nodo::{Gateway, NodoError, Reply};
use crate::store::{OutboxHead, PaymentRecord, StoreError, Tx};

/// How often the queue is looked at when nothing wakes the worker (an operator's reset from
/// another process, a back-off ending).
const IDLE_POLL: Duration = Duration::from_secs(2);

/// How long a device's queue rests after its delivery failed inside the adapter (the store).
const COOLDOWN: Duration = Duration::from_secs(1);

/// Why one delivery stopped short. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request could not be built.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl DeliveryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::Store(e) => e.code(),
            DeliveryError::Call(e) => e.code(),
        }
    }
}

/// Wakes the worker: a device's queue got an entry, or everything should be looked at again
/// (an operator's reset). Signals coalesce.
#[derive(Debug, Default)]
pub struct Signal {
    devices: Mutex<HashSet<u64>>,
    all: AtomicBool,
    notify: Notify,
}

impl Signal {
    /// `device`'s queue got an entry.
    pub fn device(&self, device: u64) {
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(device);
        self.notify.notify_one();
    }

    /// Look at every queue.
    pub fn all(&self) {
        self.all.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// What was signalled since the last call: everything, and which devices.
    fn take(&self) -> (bool, Vec<u64>) {
        let all = self.all.swap(false, Ordering::AcqRel);
        let devices = std::mem::take(
            &mut *self
                .devices
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        (all, devices.into_iter().collect())
    }
}

/// Run the worker until `shutdown` completes, then wait for the deliveries in flight (each
/// ends within its deadline) and return. Without a Nodo gateway it returns at once.
///
/// The worker keeps, in memory, which devices have a delivery in flight and when the others'
/// first entries are due; it reads the store for one device at a time (after a delivery, a
/// signal, a back-off ending), and reads every queue's head only at start, on
/// [`Signal::all`] and every two seconds (which also catches changes made by another
/// process, such as `channel-adapter outbox reset`). So its cost per delivery does not grow
/// with the backlog.
pub async fn run(state: AppState, shutdown: impl Future<Output = ()>) {
    let Some(gateway) = state.gateway.clone() else {
        warn!("no Nodo client: the outbox worker does not run");
        return;
    };
    let concurrency = state.config.outbox.concurrency;
    let mut tasks: JoinSet<Result<u64, u64>> = JoinSet::new();
    let mut devices_of: HashMap<tokio::task::Id, u64> = HashMap::new();
    let mut busy: HashSet<u64> = HashSet::new();
    // Devices whose first entry is not due yet (back-off, or rest after a failure), and when.
    let mut waiting: HashMap<u64, Timestamp> = HashMap::new();
    // Devices whose first entry must be read again.
    let mut check: HashSet<u64> = HashSet::new();
    let mut last_full: Option<Instant> = None;
    tokio::pin!(shutdown);
    info!(concurrency, "outbox worker started");
    loop {
        let now = state.clock.now();
        let (all, signalled) = state.outbox_wakeup.take();
        check.extend(signalled);
        waiting.retain(|device, due| {
            if *due <= now {
                check.insert(*device);
                false
            } else {
                true
            }
        });
        let full = all || last_full.is_none_or(|t| t.elapsed() >= IDLE_POLL);
        let read = if full {
            last_full = Some(Instant::now());
            waiting.clear();
            check.clear();
            state
                .store
                // Every queue: off the store thread, which would hold up every other call.
                .read_call(|s| Ok(s.outbox_heads()?.into_iter().map(|h| (h, None)).collect()))
                .await
        } else if busy.len() < concurrency && check.iter().any(|d| !busy.contains(d)) {
            let devices: Vec<u64> = check
                .iter()
                .copied()
                .filter(|d| !busy.contains(d))
                .collect();
            check.retain(|d| busy.contains(d));
            state
                .store
                .call(move |s| {
                    // The payment of a head due now comes in the same trip: its delivery
                    // starts at once.
                    let mut heads = Vec::with_capacity(devices.len());
                    for d in devices {
                        if let Some(h) = s.outbox_head(d)? {
                            let rec = if h.next_attempt_at <= now {
                                s.payment(h.payment_id.as_str())?
                            } else {
                                None
                            };
                            heads.push((h, rec));
                        }
                    }
                    Ok(heads)
                })
                .await
        } else {
            Ok(Vec::new())
        };
        match read {
            Ok(heads) => {
                for (head, rec) in heads {
                    let device = head.device_id;
                    if busy.contains(&device) {
                        // Read again when its delivery ends.
                        continue;
                    }
                    if head.next_attempt_at > now {
                        waiting.insert(device, head.next_attempt_at);
                        continue;
                    }
                    if busy.len() >= concurrency {
                        check.insert(device);
                        continue;
                    }
                    busy.insert(device);
                    let st = state.clone();
                    let gw = gateway.clone();
                    let span = info_span!("outbox", payment = %head.payment_id, device);
                    let id = tasks
                        .spawn(
                            async move {
                                if let Err(e) = deliver(&st, &gw, head, rec).await {
                                    error!(code = e.code(), error = %e, "delivery failed in the adapter");
                                    return Err(device);
                                }
                                Ok(device)
                            }
                            .instrument(span),
                        )
                        .id();
                    devices_of.insert(id, device);
                }
            }
            Err(e) => {
                error!(code = e.code(), error = %e, "cannot read the outbox");
                last_full = None;
            }
        }
        let until_poll =
            IDLE_POLL.saturating_sub(last_full.map_or(Duration::ZERO, |t| t.elapsed()));
        let until_due = waiting.values().min().map(|due| {
            Duration::from_millis(u64::try_from(due.millis_since(now).max(0)).unwrap_or(0))
        });
        let wait = until_due.map_or(until_poll, |d| d.min(until_poll));
        // Pending checks with a free slot: go round at once. A device with a delivery in
        // flight waits in `check` for its end (a wake-up of its own): going round for it would
        // spin on empty reads of the store.
        let wait = if busy.len() < concurrency && check.iter().any(|d| !busy.contains(d)) {
            Duration::ZERO
        } else {
            wait
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = state.outbox_wakeup.notify.notified() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, failed) = match done {
                    Ok((id, Ok(_))) => (id, false),
                    Ok((id, Err(_))) => (id, true),
                    Err(e) => {
                        error!(error = %e, "an outbox delivery task panicked");
                        (e.id(), true)
                    }
                };
                if let Some(device) = devices_of.remove(&id) {
                    busy.remove(&device);
                    if failed {
                        let rest = i64::try_from(COOLDOWN.as_millis()).unwrap_or(i64::MAX);
                        waiting.insert(device, state.clock.now().add_millis(rest));
                    } else {
                        check.insert(device);
                    }
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
    info!(in_flight = tasks.len(), "outbox worker stopping");
    while tasks.join_next().await.is_some() {}
    info!("outbox worker stopped");
}

/// Whether the Nodo itself answered (an application fault, possibly inside a SOAP Fault): the
/// key then carries that answer, and a new attempt needs a new key.
fn answered<T>(reply: &Reply<T>) -> bool {
    match reply {
        Reply::Ok(_) | Reply::Ko { .. } => true,
        Reply::Failed {
            error:
                NodoError::BadAnswer {
                    error: SoapError::Fault(f),
                    ..
                },
            ..
        } => f.detail.is_some(),
        Reply::Failed { .. } => false,
    }
}

/// What an answer did to an entry, decided and written in the journal's transaction, then
/// logged and counted.
#[derive(Debug)]
enum Step {
    /// The offline payment is activated: now send its outcome (`ok`).
    Activated(Box<PaymentRecord>, bool),
    /// Settled: the payment is now in this state.
    Settled(PaymentState),
    /// Another attempt at the back-off's next time.
    Retry {
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        wait: Duration,
    },
    /// Handed to an operator.
    Parked,
}

/// One attempt on one device's first entry.
async fn deliver(
    state: &AppState,
    gateway: &Gateway,
    head: OutboxHead,
    rec: Option<PaymentRecord>,
) -> Result<(), DeliveryError> {
    let rec = match rec {
        Some(r) => r,
        None => {
            let id = head.payment_id.clone();
            state
                .store
                .call(move |s| s.payment(id.as_str()))
                .await?
                .ok_or_else(|| StoreError::PaymentNotFound(head.payment_id.to_string()))?
        }
    };
    match rec.state {
        PaymentState::OfflineQueued => {
            let Some((rec, ok)) = activate_offline(state, gateway, &head, rec).await? else {
                return Ok(());
            };
            // The activation's key lives as long as the token: close the session now.
            send_outcome(state, gateway, &head, rec, ok).await
        }
        PaymentState::OutcomePending => {
            let ok = head.ok;
            send_outcome(state, gateway, &head, rec, ok).await
        }
        other => {
            // An entry whose payment was settled some other way: a bug or a manual edit.
            park(
                state,
                &rec,
                &format!("outbox entry for a payment in state {other}"),
            )
            .await
        }
    }
}

/// Hand the entry to an operator, outside a Nodo call (the request could not be built).
async fn park(state: &AppState, rec: &PaymentRecord, why: &str) -> Result<(), DeliveryError> {
    let id = rec.id.clone();
    let why = why.to_owned();
    let now = state.clock.now();
    state
        .store
        .call(move |s| s.outbox_park(id.as_str(), &why, Action::Alert.code(), now))
        .await?;
    report(state, Action::Alert, "request not built", &Step::Parked);
    Ok(())
}

/// One attempt's answer, as the hooks in the journal's transaction see it.
struct Attempt<'a> {
    id: &'a str,
    number: u32,
    summary: String,
    action: Action,
    now: Timestamp,
}

impl Attempt<'_> {
    /// Schedule the next attempt (with `new_key` for the entry if given).
    fn retry(
        &self,
        tx: &Tx<'_>,
        outbox: OutboxConfig,
        new_key: Option<&IdempotencyKey>,
    ) -> Result<Step, StoreError> {
        let wait = outbox.backoff(self.number);
        let next = self
            .now
            .add_millis(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        tx.outbox_retry(self.id, next, new_key, &self.summary, self.action.code())?;
        Ok(Step::Retry {
            attempt: self.number,
            wait,
        })
    }

    /// Hand the entry to an operator.
    fn park(&self, tx: &Tx<'_>) -> Result<Step, StoreError> {
        tx.outbox_park(self.id, &self.summary, self.action.code(), self.now)?;
        Ok(Step::Parked)
    }
}

/// Log and count what an attempt did.
fn report(state: &AppState, action: Action, summary: &str, step: &Step) {
    state.metrics.outbox_result(action.code());
    match step {
        Step::Activated(_, ok) => info!(ok, "offline payment activated"),
        Step::Settled(to @ (PaymentState::Confirmed | PaymentState::Cancelled)) => {
            info!(state = %to, answer = summary, "outcome delivered");
        }
        Step::Settled(to) => warn!(state = %to, answer = summary,
            "settled: the payment is an exception for operators (refund, late, or refused offline)"),
        Step::Retry { attempt, wait } if state.config.outbox.overdue(*attempt) => {
            warn!(
                attempt,
                ?wait,
                reason = summary,
                action = action.code(),
                "outbox entry overdue: SANP back-off used up, retrying at the capped interval"
            );
        }
        Step::Retry { attempt, wait } => {
            info!(
                attempt,
                ?wait,
                reason = summary,
                action = action.code(),
                "will retry"
            );
        }
        Step::Parked => error!(
            reason = summary,
            action = action.code(),
            "the Nodo's answer needs an operator: payment set to needs_attention, no automatic retry"
        ),
    }
    if action == Action::Misconfigured {
        error!(
            reason = summary,
            "our channel is misconfigured at the Nodo: page operations; the entry stays queued"
        );
    }
}

/// Activate an offline payment. `Some((payment, ok))` when it is now `outcome_pending` (with
/// `ok` false if the Nodo wants another amount: the session is then closed with a KO).
async fn activate_offline(
    state: &AppState,
    gateway: &Gateway,
    head: &OutboxHead,
    mut rec: PaymentRecord,
) -> Result<Option<(PaymentRecord, bool)>, DeliveryError> {
    // A first attempt needs a key, persisted (below, before the request leaves) with the
    // journal's row; a retry after an answer got a fresh one when it was scheduled.
    let new_key = match rec.activate_key {
        Some(_) => None,
        None => {
            let key = new_idempotency_key(&state.config, state.random.as_ref())?;
            rec.activate_key = Some(key.clone());
            Some(key)
        }
    };
    let call = match activate_call(&state.config, head.kind, &rec) {
        Ok(c) => c,
        Err(e) => {
            park(state, &rec, &e.to_string()).await?;
            return Ok(None);
        }
    };
    // Used only if the answer calls for a new attempt with a new key.
    let fresh = new_idempotency_key(&state.config, state.random.as_ref())?;
    let config = Arc::clone(&state.config);
    let sent_at = state.clock.now();
    let (id, id2) = (rec.id.clone(), rec.id.clone());
    let amount = rec.amount;
    let (reply, step) = gateway
        .activate_with(
            Some(rec.id.as_str()),
            &call,
            move |tx| {
                if let Some(key) = &new_key {
                    tx.offline_activation_key(id.as_str(), key, sent_at)?;
                }
                tx.outbox_attempt(id.as_str(), sent_at)
            },
            move |tx, reply, number, now| {
                let id = id2.as_str();
                let action = reply.action();
                let at = Attempt {
                    id,
                    number,
                    summary: reply.summary(),
                    action,
                    now,
                };
                let retry = |key: Option<&IdempotencyKey>| {
                    if let Some(k) = key {
                        tx.offline_activation_key(id, k, now)?;
                    }
                    at.retry(tx, config.outbox, None)
                };
                match reply {
                    Reply::Ok(activated) => {
                        let info = activated_info(&config, activated, sent_at);
                        let mismatch = (info.amount != amount).then(|| {
                            format!(
                                "the Nodo activated {} but {} was taken offline",
                                info.amount, amount
                            )
                        });
                        let after = tx.offline_activated(
                            id,
                            &info,
                            mismatch.as_deref().map(|m| (ErrorCode::AmountMismatch, m)),
                            now,
                        )?;
                        let ok = after.error.is_none();
                        Ok(Step::Activated(Box::new(after), ok))
                    }
                    _ => match action {
                        Action::AlreadyPaid | Action::Permanent(_) => {
                            let code = error_code_for(action);
                            tx.offline_rejected(id, code, &at.summary, action.code(), now)?;
                            Ok(Step::Settled(PaymentState::RefundDue))
                        }
                        // A new activation attempt needs a new key, persisted before it is sent.
                        Action::InProgressElsewhere | Action::RetryLater(_) => retry(Some(&fresh)),
                        Action::ResendSame => retry(None),
                        Action::Misconfigured => retry(answered(reply).then_some(&fresh)),
                        Action::Alert
                        | Action::Done
                        | Action::AcceptedLate
                        | Action::LateKo
                        | Action::Refund => at.park(tx),
                    },
                }
            },
        )
        .await?;
    report(state, reply.action(), &reply.summary(), &step);
    match step {
        Step::Activated(after, ok) if after.state == PaymentState::OutcomePending => {
            Ok(Some((*after, ok)))
        }
        _ => Ok(None),
    }
}

/// Send the outcome (`ok`) of `rec` with the entry's key and act on the answer.
async fn send_outcome(
    state: &AppState,
    gateway: &Gateway,
    head: &OutboxHead,
    rec: PaymentRecord,
    ok: bool,
) -> Result<(), DeliveryError> {
    let call = match outcome_call(&state.config, head.kind, &rec, ok, &head.idempotency_key) {
        Ok(c) => c,
        Err(e) => return park(state, &rec, &e.to_string()).await,
    };
    // Used only if the answer calls for a new attempt with a new key.
    let fresh = new_idempotency_key(&state.config, state.random.as_ref())?;
    let outbox = state.config.outbox;
    let started = state.clock.now();
    let (id, id2) = (rec.id.clone(), rec.id.clone());
    // A KO of money taken offline (another amount was due, or the session expired) still
    // leaves the citizen to be refunded.
    let closed_without_payment = if rec.offline {
        PaymentState::RefundDue
    } else {
        PaymentState::Cancelled
    };
    let (reply, step) = gateway
        .send_outcome_with(
            Some(rec.id.as_str()),
            &call,
            move |tx| tx.outbox_attempt(id.as_str(), started),
            move |tx, reply, number, now| {
                let id = id2.as_str();
                let action = reply.action();
                let at = Attempt {
                    id,
                    number,
                    summary: reply.summary(),
                    action,
                    now,
                };
                let settle = |to: PaymentState, code: Option<ErrorCode>| {
                    let error = code.map(|c| (c, at.summary.as_str()));
                    tx.resolve_outcome(id, to, error, action.code(), now)?;
                    Ok(Step::Settled(to))
                };
                let retry = |key: Option<&IdempotencyKey>| at.retry(tx, outbox, key);
                match action {
                    Action::Done if ok => settle(PaymentState::Confirmed, None),
                    Action::Done | Action::LateKo => settle(closed_without_payment, None),
                    Action::AcceptedLate => {
                        settle(PaymentState::LateAccepted, Some(ErrorCode::LateOutcome))
                    }
                    Action::Refund => {
                        settle(PaymentState::RefundDue, Some(ErrorCode::DuplicatePayment))
                    }
                    Action::ResendSame => retry(None),
                    Action::RetryLater(_) => retry(Some(&fresh)),
                    Action::Misconfigured => retry(answered(reply).then_some(&fresh)),
                    Action::Alert
                    | Action::InProgressElsewhere
                    | Action::Permanent(_)
                    | Action::AlreadyPaid => at.park(tx),
                }
            },
        )
        .await?;
    report(state, reply.action(), &reply.summary(), &step);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanp_backoff_then_the_capped_interval() {
        let c = OutboxConfig {
            max_attempts: 5,
            slot: Duration::from_secs(10),
            retry_interval: Duration::from_secs(300),
            concurrency: 1,
        };
        let waits: Vec<u64> = (1..=7).map(|k| c.backoff(k).as_secs()).collect();
        // slot × (2^k − 1) for k = 1..4, capped at the interval; from the 5th attempt on, the
        // interval.
        assert_eq!(waits, [10, 30, 70, 150, 300, 300, 300]);
        assert!(!c.overdue(4));
        assert!(c.overdue(5));
        assert_eq!(c.backoff(0), Duration::ZERO);
        let big = OutboxConfig {
            max_attempts: 5,
            slot: Duration::from_secs(600),
            retry_interval: Duration::from_secs(60),
            concurrency: 1,
        };
        assert_eq!(big.backoff(3), Duration::from_secs(60), "capped");
    }
}
