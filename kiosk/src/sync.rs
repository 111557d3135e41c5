//! The sync worker: heartbeats, and the offline queue forwarded to the adapter.
//!
//! Every interval (and at once when woken) it sends a heartbeat; the answer, or its absence,
//! is the agent's online state. When the adapter answers, queued offline payments go to it in
//! the order they were taken, in batches of at most [`channel_api::OfflineBatchRequest::MAX_PAYMENTS`].
//! The batch is journaled before it is sent; each item's key (`off-<flow>`) makes a resend after
//! a lost answer harmless, so each payment is forwarded exactly once. An item refused for good
//! becomes an exception in the flow (see [`crate::flow`]); one refused for a transient reason
//! stops the batch there, to keep the order.
//!
//! The heartbeat carries the station's health (printer, terminal, scanner, queue, journal head,
//! recent errors) for the fleet view; its answer names the version of the configuration the
//! adapter manages for the station, and when that is not the one applied the worker pulls it,
//! checks it against the local configuration and applies it between payments
//! ([`crate::settings`]).

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use channel_api::fleet::{DeviceConfig, DeviceHealth, PrinterHealth};
use channel_api::{HeartbeatRequest, OfflineBatchRequest, OfflinePayment};
use tokio::sync::{Notify, watch};

use crate::adapter::AdapterClient;
use crate::clock::Clock;
use crate::core::{Input, ask};
use crate::devices::{SharedPrinter, StatusBoard};
use crate::flow::{Failure, FlowId};
use crate::record::Record;
use crate::settings::Settings;

/// How many recent errors a heartbeat carries.
const HEALTH_ERRORS: usize = 5;

/// What the sync worker looks after besides the queue: the managed settings and the devices
/// whose health the heartbeat reports.
pub struct Fleet {
    /// The managed settings.
    pub settings: Arc<Settings>,
    /// The printer, asked for its status before each heartbeat.
    pub printer: Option<SharedPrinter>,
    /// The devices' states.
    pub status: StatusBoard,
    last_printer: std::sync::Mutex<Option<PrinterHealth>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("settings", &self.settings)
            .field("printer", &self.printer.is_some())
            .finish()
    }
}

impl Fleet {
    /// The sync worker's view of the station.
    pub fn new(
        settings: Arc<Settings>,
        printer: Option<SharedPrinter>,
        status: StatusBoard,
    ) -> Fleet {
        Fleet {
            settings,
            printer,
            status,
            last_printer: std::sync::Mutex::new(None),
        }
    }

    async fn printer_health(&self) -> Option<PrinterHealth> {
        let p = self.printer.as_ref()?;
        let last = || {
            self.last_printer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        // A printer busy with a receipt is not kept waiting for a status query: its last
        // known state goes instead.
        let fresh = match p.try_lock() {
            Ok(mut printer) => printer.health().await,
            Err(_) => return *last(),
        };
        *last() = fresh;
        fresh
    }
}

/// The station's health now.
pub async fn health(tx: &mpsc::Sender<Input>, fleet: &Fleet) -> DeviceHealth {
    let printer = fleet.printer_health().await;
    let (queue, head, errors) = ask(tx, |core| {
        (
            core.ledger().offline_queue().len(),
            core.journal.head(),
            core.errors
                .iter()
                .rev()
                .take(HEALTH_ERRORS)
                .map(|(at, text)| format!("{at} {text}"))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap_or_default();
    DeviceHealth {
        printer,
        terminal_reachable: fleet.status.connected("terminal"),
        scanner_present: fleet.status.connected("scanner"),
        queue_depth: u32::try_from(queue).unwrap_or(u32::MAX),
        journal_head: Some(head).filter(|h| !h.is_empty()),
        config_version: Some(fleet.settings.version()),
        recent_errors: errors,
    }
}

/// One round: heartbeat (with the station's health), the managed configuration if it
/// changed, then the queue. Returns whether the adapter answered.
pub async fn round(
    adapter: &AdapterClient,
    tx: &mpsc::Sender<Input>,
    clock: &dyn Clock,
    fleet: &Fleet,
) -> bool {
    let health = health(tx, fleet).await;
    let hb = adapter
        .heartbeat(&HeartbeatRequest {
            agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            device_time: Some(clock.now()),
            queued: Some(health.queue_depth),
            health: Some(health),
        })
        .await;
    let online = !matches!(hb, Err(Failure::Unreachable { .. }));
    let _ = tx.send(Input::Online(online, clock.now()));
    match &hb {
        Ok(answer) => {
            fleet.settings.note_credential(None);
            if fleet.settings.wants(answer.config_version) {
                pull_config(adapter, tx, fleet).await;
            }
        }
        Err(Failure::Refused { error }) => {
            // Revoked, bad signature, wrong clock: nothing works until a technician comes, so
            // the status page says why (once, not every round).
            let code = error.code.as_str().to_owned();
            if fleet
                .settings
                .note_credential(Some((clock.now(), code.clone())))
            {
                let _ = ask(tx, move |core| {
                    core.note_error(format!("adapter refused the station: {code}"));
                })
                .await;
            }
        }
        Err(Failure::Unreachable { .. }) => {}
    }
    if !online {
        return false;
    }
    if !forward_offline(adapter, tx, clock).await {
        return false;
    }
    resend_closings(adapter, tx).await && report_resolutions(adapter, tx).await
}

/// Pull the managed configuration, check it, and apply it if no payment is on screen (else the
/// next round tries again).
async fn pull_config(adapter: &AdapterClient, tx: &mpsc::Sender<Input>, fleet: &Fleet) {
    let managed: DeviceConfig = match adapter.device_config().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = ?e, "managed configuration not pulled: next round");
            return;
        }
    };
    if !fleet.settings.wants(managed.version) {
        return;
    }
    let effective = match fleet.settings.prepare(&managed) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            let text = format!("managed configuration {} refused: {e}", managed.version);
            let _ = ask(tx, move |core| core.note_error(text)).await;
            return;
        }
    };
    let paper = effective.receipt.width;
    let settings = Arc::clone(&fleet.settings);
    let version = managed.version;
    let applied = ask(tx, move |core| {
        if core.ledger().current().is_some() {
            return false;
        }
        let record = Record::SettingsApplied {
            version: managed.version,
            settings: managed.settings.clone(),
        };
        if core.write(&record).is_err() {
            return false;
        }
        if let Err(e) = settings.persist(&managed) {
            // In force now; after a restart the previous one applies until the next pull.
            core.note_error(format!("managed configuration not kept on disk: {e}"));
        }
        core.policy = crate::core::policy_of(&effective, core.policy.card, core.policy.drawer);
        core.config = Arc::clone(&effective);
        settings.adopt(managed, effective);
        true
    })
    .await
    .unwrap_or(false);
    if applied {
        tracing::info!(version, "managed configuration applied");
        if let Some(p) = &fleet.printer {
            p.lock().await.set_paper(paper);
        }
    }
}

/// Tell the adapter how staff resolved exceptions, journaling each answer so a resolution is
/// reported once. Returns whether the adapter answered.
pub async fn report_resolutions(adapter: &AdapterClient, tx: &mpsc::Sender<Input>) -> bool {
    let pending = ask(tx, |core| core.ledger().unreported_resolutions())
        .await
        .unwrap_or_default();
    for (flow, payment, request) in pending {
        let error = match adapter.resolution(&payment, &request).await {
            Ok(_) => None,
            Err(crate::flow::Failure::Unreachable { detail }) => {
                tracing::info!(%detail, "resolution not answered: will resend");
                return false;
            }
            Err(crate::flow::Failure::Refused { error }) => {
                tracing::warn!(code = %error.code, payment = %payment, "resolution refused by the adapter");
                Some(error.code.as_str().to_owned())
            }
        };
        let _ = ask(tx, move |core| {
            let r = Record::ResolutionReported { flow, error };
            if core.write(&r).is_ok() {
                let now = core.now();
                core.ledger.apply(&r, now, &core.policy);
            }
        })
        .await;
    }
    true
}

/// Send again the closings the adapter did not answer (the latest of each day whose verdict is
/// `unavailable`), journaling its verdict as a new closing record. Returns whether the adapter
/// answered.
async fn resend_closings(adapter: &AdapterClient, tx: &mpsc::Sender<Input>) -> bool {
    let pending = ask(tx, |core| {
        let mut latest: std::collections::BTreeMap<String, crate::record::ClosingRecord> =
            std::collections::BTreeMap::new();
        for c in core.ledger().closings() {
            latest.insert(c.day.clone(), c.clone());
        }
        latest
            .into_values()
            .filter(|c| c.adapter == "unavailable")
            .filter_map(|c| {
                let day = pagopa::Date::parse(&c.day).ok()?;
                let counted = pagopa::Amount::from_cents(c.counted_cents).ok()?;
                let ledger = core.ledger();
                Some((
                    c.operator,
                    day,
                    counted,
                    ledger.totals(day),
                    ledger.closing_request(day, counted),
                ))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for (operator, day, counted, totals, request) in pending {
        match adapter.closing(&request).await {
            Ok(answer) => {
                let record =
                    crate::api::closing_record(day, &operator, counted, &totals, Ok(answer));
                let _ = ask(tx, move |core| {
                    let r = Record::Closing(record);
                    if core.write(&r).is_ok() {
                        let now = core.now();
                        core.ledger.apply(&r, now, &core.policy);
                    }
                })
                .await;
            }
            Err(crate::flow::Failure::Unreachable { detail }) => {
                tracing::info!(%detail, "closing not answered: will resend");
                return false;
            }
            Err(crate::flow::Failure::Refused { error }) => {
                // Not worth retrying every round: staff can close the day again.
                tracing::warn!(code = %error.code, day = %day, "closing refused by the adapter");
            }
        }
    }
    true
}

/// Forward the offline queue in batches. Returns whether the adapter answered.
async fn forward_offline(
    adapter: &AdapterClient,
    tx: &mpsc::Sender<Input>,
    clock: &dyn Clock,
) -> bool {
    loop {
        // Take the batch and journal it in one step on the executor.
        let batch: Option<Vec<(FlowId, OfflinePayment)>> = ask(tx, |core| {
            let items: Vec<(FlowId, OfflinePayment)> = core
                .ledger()
                .offline_queue()
                .into_iter()
                .take(OfflineBatchRequest::MAX_PAYMENTS)
                .filter_map(|f| f.offline_payment().map(|p| (f.id.clone(), p)))
                .collect();
            if items.is_empty() {
                return Some(items);
            }
            let record = Record::SyncBatch {
                flows: items.iter().map(|(f, _)| f.clone()).collect(),
            };
            core.write(&record).ok()?;
            crate::failpoint::reached(crate::failpoint::Step::Intent, "sync_batch");
            let now = core.now();
            core.ledger.note_sync(now);
            Some(items)
        })
        .await
        .flatten();
        let Some(batch) = batch.filter(|b| !b.is_empty()) else {
            return true;
        };
        let request = OfflineBatchRequest {
            payments: batch.iter().map(|(_, p)| p.clone()).collect(),
        };
        match adapter.offline_batch(&request).await {
            Ok(response) => {
                crate::failpoint::reached(crate::failpoint::Step::EffectDone, "sync_batch");
                let mut stop = false;
                for (flow, payment) in &batch {
                    let Some(result) = response
                        .results
                        .iter()
                        .find(|r| r.client_key == payment.client_key)
                    else {
                        stop = true;
                        continue;
                    };
                    if result.payment.is_none() && result.error.as_ref().is_none_or(|e| e.retryable)
                    {
                        stop = true;
                    }
                    let _ = tx.send(Input::Forwarded {
                        flow: flow.clone(),
                        result: result.clone(),
                    });
                }
                if stop {
                    return true;
                }
                // Let the executor apply the results before the next batch is taken.
                let _ = ask(tx, |_| ()).await;
            }
            Err(crate::flow::Failure::Unreachable { detail }) => {
                tracing::info!(%detail, "offline batch not answered: will resend the same");
                let _ = tx.send(Input::Online(false, clock.now()));
                return false;
            }
            Err(crate::flow::Failure::Refused { error }) => {
                tracing::warn!(code = %error.code, "offline batch refused as a whole");
                return true;
            }
        }
    }
}

/// Run until `stop` turns true.
pub async fn run(
    adapter: AdapterClient,
    tx: mpsc::Sender<Input>,
    clock: Arc<dyn Clock>,
    fleet: Fleet,
    interval: Duration,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        round(&adapter, &tx, clock.as_ref(), &fleet).await;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = wake.notified() => {}
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}
