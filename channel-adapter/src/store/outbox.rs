//! The outbox worker's side of the store: what is due, per device and in arrival order; the
//! bookkeeping of each attempt; and the state changes an answer from the Nodo makes, each in one
//! transaction with its outbox row so a crash never separates them.
//!
//! An outbox row exists for every payment whose money was taken (an online payment once the
//! device reported its outcome, an offline one from the moment it is queued) and stays until
//! the Nodo has given an application-level answer (`delivered_at`), or an answer a human must
//! look at (`parked_at`, payment `needs_attention`).

use channel_api::{DeviceKind, ErrorCode, PaymentId, PaymentState, Timestamp};
use pagopa::soap::IdempotencyKey;
use rusqlite::{OptionalExtension, params};

use super::payments::{get_existing, set_activated};
use super::{ActivatedInfo, PaymentRecord, Store, StoreError, Tx, col};

/// The next entry of one device's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxHead {
    /// The payment.
    pub payment_id: PaymentId,
    /// Its device.
    pub device_id: u64,
    /// What the device is (a kiosk or a counter: it shows in the requests).
    pub kind: DeviceKind,
    /// The outcome to deliver: OK, or KO.
    pub ok: bool,
    /// The key of the outcome.
    pub idempotency_key: IdempotencyKey,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
}

/// An undelivered entry as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The payment.
    pub payment_id: PaymentId,
    /// Its state.
    pub state: PaymentState,
    /// The device's name.
    pub device: String,
    /// The notice.
    pub notice_number: String,
    /// OK or KO.
    pub ok: bool,
    /// The key of the outcome.
    pub idempotency_key: String,
    /// Attempts so far (operators may reset it).
    pub attempts: u32,
    /// When queued.
    pub created_at: Timestamp,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
    /// When the last attempt started.
    pub last_attempt_at: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The classification of the last answer.
    pub last_action: Option<String>,
    /// Set when waiting for an operator.
    pub parked_at: Option<Timestamp>,
}

/// Counts for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Entries waiting for delivery (not parked).
    pub pending: u64,
    /// Of those, the ones past the SANP back-off (retried at the capped interval).
    pub overdue: u64,
    /// Entries waiting for an operator.
    pub parked: u64,
    /// When the oldest pending entry was queued.
    pub oldest_pending_at: Option<Timestamp>,
}

fn ok_flag(s: String) -> Result<bool, StoreError> {
    col::parse("outcome_outbox.outcome", s, |s| match s {
        "OK" => Ok(true),
        "KO" => Ok(false),
        _ => Err(()),
    })
}

fn u32_col(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

const HEAD_COLUMNS: &str = "o.payment_id, o.device_id, d.kind, o.outcome, o.idempotency_key, o.attempts, o.next_attempt_at";

fn head_from_row(r: &rusqlite::Row<'_>) -> Result<OutboxHead, StoreError> {
    let device_id: i64 = r.get(1)?;
    Ok(OutboxHead {
        payment_id: col::parse("outcome_outbox.payment_id", r.get(0)?, PaymentId::parse)?,
        device_id: u64::try_from(device_id).map_err(|_| StoreError::Corrupt {
            what: "outcome_outbox.device_id",
            value: device_id.to_string(),
        })?,
        kind: col::parse("devices.kind", r.get(2)?, |s| {
            DeviceKind::parse(s).ok_or(())
        })?,
        ok: ok_flag(r.get(3)?)?,
        idempotency_key: col::parse(
            "outcome_outbox.idempotency_key",
            r.get(4)?,
            IdempotencyKey::parse,
        )?,
        attempts: u32_col(r.get(5)?),
        next_attempt_at: Timestamp::from_unix_millis(r.get(6)?),
    })
}

impl Store {
    /// The first undelivered, unparked entry of each device, oldest device queue first. A
    /// device's later entries wait behind its first: offline payments and outcomes reach the
    /// Nodo in the order the device gave them.
    pub fn outbox_heads(&self) -> Result<Vec<OutboxHead>, StoreError> {
        self.read(|c| {
            // SQLite takes the bare columns from the row that gives min(seq); the queue index
            // holds only pending entries.
            let mut st = c.prepare_cached(&format!(
                "SELECT {HEAD_COLUMNS}, min(o.seq) AS first
                 FROM outcome_outbox o INDEXED BY outcome_outbox_queue
                 JOIN devices d ON d.id = o.device_id
                 WHERE o.delivered_at IS NULL AND o.parked_at IS NULL
                 GROUP BY o.device_id
                 ORDER BY first"
            ))?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(head_from_row(r)?);
            }
            Ok(out)
        })
    }

    /// The first undelivered, unparked entry of `device`'s queue.
    pub fn outbox_head(&self, device: u64) -> Result<Option<OutboxHead>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {HEAD_COLUMNS}
                 FROM outcome_outbox o INDEXED BY outcome_outbox_queue
                 JOIN devices d ON d.id = o.device_id
                 WHERE o.device_id = ?1 AND o.delivered_at IS NULL AND o.parked_at IS NULL
                 ORDER BY o.seq LIMIT 1"
            ))?;
            let mut rows = st.query([device as i64])?;
            rows.next()?.map(head_from_row).transpose()
        })
    }

    /// An attempt on `id`'s entry starts: count it. Returns the attempt's number (from 1).
    pub fn outbox_attempt(&self, id: &str, now: Timestamp) -> Result<u32, StoreError> {
        self.write(|c| Tx { c }.outbox_attempt(id, now))
    }

    /// The attempt failed: try again at `next`, with `new_key` as the outcome's key if given
    /// (after an application answer, which the old key would only replay).
    pub fn outbox_retry(
        &self,
        id: &str,
        next: Timestamp,
        new_key: Option<&IdempotencyKey>,
        error: &str,
        action: &str,
    ) -> Result<(), StoreError> {
        self.write(|c| Tx { c }.outbox_retry(id, next, new_key, error, action))
    }

    /// An answer a human must look at: the payment becomes `needs_attention` and its entry
    /// waits for an operator. Returns the payment as it is now.
    pub fn outbox_park(
        &self,
        id: &str,
        error: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|c| Tx { c }.outbox_park(id, error, action, now))
    }

    /// Close an `outcome_pending` payment with the Nodo's verdict (`confirmed`, `cancelled`,
    /// `late_accepted`, `refund_due`) and mark its entry delivered, in one transaction. Returns
    /// the payment and whether this call moved it.
    pub fn resolve_outcome(
        &self,
        id: &str,
        to: PaymentState,
        error: Option<(ErrorCode, &str)>,
        action: &str,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.write(|c| Tx { c }.resolve_outcome(id, to, error, action, now))
    }

    /// Give an offline payment the activation key of its next attempt (persisted before the
    /// request leaves, like every key).
    pub fn offline_activation_key(
        &self,
        id: &str,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|c| Tx { c }.offline_activation_key(id, key, now))
    }

    /// An offline payment was activated: it becomes `outcome_pending` with its token. With
    /// `mismatch`, the Nodo activated another amount than the one taken: the outcome becomes KO
    /// (the session must be released) and the payment will end `refund_due` for that reason.
    pub fn offline_activated(
        &self,
        id: &str,
        info: &ActivatedInfo,
        mismatch: Option<(ErrorCode, &str)>,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|c| Tx { c }.offline_activated(id, info, mismatch, now))
    }

    /// The Nodo refused to activate an offline payment for good (already paid, expired,
    /// unknown…): the money taken must go back to the citizen. The payment becomes
    /// `refund_due` with the reason; no outcome is owed (there is no session).
    pub fn offline_rejected(
        &self,
        id: &str,
        code: ErrorCode,
        detail: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(|c| Tx { c }.offline_rejected(id, code, detail, action, now))
    }

    /// Every undelivered entry, parked ones included, oldest first.
    pub fn outbox_list(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT o.payment_id, p.state, d.name, p.notice_number, o.outcome,
                        o.idempotency_key, o.attempts, o.created_at, o.next_attempt_at,
                        o.last_attempt_at, o.last_error, o.last_action, o.parked_at
                 FROM outcome_outbox o
                 JOIN payments p ON p.id = o.payment_id
                 JOIN devices d ON d.id = p.device_id
                 WHERE o.delivered_at IS NULL
                 ORDER BY o.seq",
            )?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            let ts = |v: Option<i64>| v.map(Timestamp::from_unix_millis);
            while let Some(r) = rows.next()? {
                out.push(OutboxRecord {
                    payment_id: col::parse(
                        "outcome_outbox.payment_id",
                        r.get(0)?,
                        PaymentId::parse,
                    )?,
                    state: col::parse("payments.state", r.get(1)?, |s| {
                        PaymentState::parse(s).ok_or(())
                    })?,
                    device: r.get(2)?,
                    notice_number: r.get(3)?,
                    ok: ok_flag(r.get(4)?)?,
                    idempotency_key: r.get(5)?,
                    attempts: u32_col(r.get(6)?),
                    created_at: Timestamp::from_unix_millis(r.get(7)?),
                    next_attempt_at: Timestamp::from_unix_millis(r.get(8)?),
                    last_attempt_at: ts(r.get(9)?),
                    last_error: r.get(10)?,
                    last_action: r.get(11)?,
                    parked_at: ts(r.get(12)?),
                });
            }
            Ok(out)
        })
    }

    /// Operator reset of one entry (`Some(id)`) or of all undelivered ones: attempt counter to
    /// zero, due now, unparked (a `needs_attention` payment goes back to waiting for its
    /// outcome, or for its activation if it never had one). Returns how many entries changed.
    pub fn outbox_reset(&self, id: Option<&str>, now: Timestamp) -> Result<usize, StoreError> {
        self.write_synced(|c| {
            // Atomic: every write runs in its own savepoint (see `Store::commit`).
            let tx = &*c;
            let n = tx
                .prepare_cached(
                    "UPDATE outcome_outbox SET attempts = 0, next_attempt_at = ?2, parked_at = NULL
                 WHERE delivered_at IS NULL AND (?1 IS NULL OR payment_id = ?1)",
                )?
                .execute(params![id, now.unix_millis()])?;
            tx.prepare_cached(
                "UPDATE payments SET
                     state = CASE WHEN payment_token IS NULL THEN 'offline_queued'
                                  ELSE 'outcome_pending' END,
                     error_code = NULL, error_detail = NULL, updated_at = ?2
                 WHERE state = 'needs_attention' AND (?1 IS NULL OR id = ?1)
                   AND id IN (SELECT payment_id FROM outcome_outbox WHERE delivered_at IS NULL)",
            )?
            .execute(params![id, now.unix_millis()])?;
            Ok(n)
        })
    }

    /// Counts for the metrics; an entry is overdue from `max_attempts` attempts on.
    pub fn outbox_stats(&self, max_attempts: u32) -> Result<OutboxStats, StoreError> {
        self.read(|c| {
            let (pending, overdue, parked, oldest) = c
                .prepare_cached(
                    "SELECT count(*) FILTER (WHERE parked_at IS NULL),
                        count(*) FILTER (WHERE parked_at IS NULL AND attempts >= ?1),
                        count(*) FILTER (WHERE parked_at IS NOT NULL),
                        min(created_at) FILTER (WHERE parked_at IS NULL)
                 FROM outcome_outbox WHERE delivered_at IS NULL",
                )?
                .query_row(params![i64::from(max_attempts)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok(OutboxStats {
                pending: n(pending),
                overdue: n(overdue),
                parked: n(parked),
                oldest_pending_at: oldest.map(Timestamp::from_unix_millis),
            })
        })
    }
}

impl Tx<'_> {
    /// An attempt on `id`'s entry starts: count it. Returns the attempt's number (from 1).
    pub fn outbox_attempt(&self, id: &str, now: Timestamp) -> Result<u32, StoreError> {
        {
            let c = self.c;
            {
                let n: Option<i64> = c
                    .query_row(
                        "UPDATE outcome_outbox SET attempts = attempts + 1, last_attempt_at = ?2
                     WHERE payment_id = ?1 AND delivered_at IS NULL
                     RETURNING attempts",
                        params![id, now.unix_millis()],
                        |r| r.get(0),
                    )
                    .optional()?;
                n.map(u32_col)
                    .ok_or_else(|| StoreError::PaymentNotFound(id.to_owned()))
            }
        }
    }

    /// The attempt failed: try again at `next`, with `new_key` as the outcome's key if given
    /// (after an application answer, which the old key would only replay).
    pub fn outbox_retry(
        &self,
        id: &str,
        next: Timestamp,
        new_key: Option<&IdempotencyKey>,
        error: &str,
        action: &str,
    ) -> Result<(), StoreError> {
        {
            let c = self.c;
            {
                c.prepare_cached("UPDATE outcome_outbox SET next_attempt_at = ?2, last_error = ?3, last_action = ?4,
                        idempotency_key = coalesce(?5, idempotency_key)
                 WHERE payment_id = ?1 AND delivered_at IS NULL")?.execute(params![
                    id,
                    next.unix_millis(),
                    error,
                    action,
                    new_key.map(IdempotencyKey::as_str)
                ],
            )?;
                Ok(())
            }
        }
    }

    /// An answer a human must look at: the payment becomes `needs_attention` and its entry
    /// waits for an operator. Returns the payment as it is now.
    pub fn outbox_park(
        &self,
        id: &str,
        error: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        {
            let tx = self.c;
            {
                tx.prepare_cached("UPDATE payments SET state = ?2, error_code = ?3, error_detail = ?4, updated_at = ?5
                 WHERE id = ?1 AND state IN ('outcome_pending', 'offline_queued')")?.execute(params![
                    id,
                    PaymentState::NeedsAttention.as_str(),
                    ErrorCode::InternalError.as_str(),
                    error,
                    now.unix_millis()
                ],
            )?;
                tx.prepare_cached(
                    "UPDATE outcome_outbox SET parked_at = ?2, last_error = ?3, last_action = ?4
                 WHERE payment_id = ?1 AND delivered_at IS NULL",
                )?
                .execute(params![id, now.unix_millis(), error, action])?;
                let after = get_existing(tx, id)?;
                Ok(after)
            }
        }
    }

    /// Close an `outcome_pending` payment with the Nodo's verdict (`confirmed`, `cancelled`,
    /// `late_accepted`, `refund_due`) and mark its entry delivered, in one transaction. Returns
    /// the payment and whether this call moved it.
    pub fn resolve_outcome(
        &self,
        id: &str,
        to: PaymentState,
        error: Option<(ErrorCode, &str)>,
        action: &str,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        let (code, detail) = match error {
            Some((c, d)) => (Some(c.as_str()), Some(d)),
            None => (None, None),
        };
        {
            let tx = self.c;
            {
                let moved = tx
                    .prepare_cached(
                        "UPDATE payments SET state = ?2, updated_at = ?3,
                        error_code = coalesce(?4, error_code),
                        error_detail = coalesce(?5, error_detail)
                 WHERE id = ?1 AND state = 'outcome_pending'",
                    )?
                    .execute(params![id, to.as_str(), now.unix_millis(), code, detail])?
                    == 1;
                if moved {
                    tx.prepare_cached(
                        "UPDATE outcome_outbox SET delivered_at = ?2, last_action = ?3
                     WHERE payment_id = ?1 AND delivered_at IS NULL",
                    )?
                    .execute(params![id, now.unix_millis(), action])?;
                }
                let after = get_existing(tx, id)?;
                Ok((after, moved))
            }
        }
    }

    /// Give an offline payment the activation key of its next attempt (persisted before the
    /// request leaves, like every key).
    pub fn offline_activation_key(
        &self,
        id: &str,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        {
            let tx = self.c;
            {
                tx.prepare_cached(
                    "UPDATE payments SET activate_key = ?2, updated_at = ?3
                 WHERE id = ?1 AND state = 'offline_queued'",
                )?
                .execute(params![id, key.as_str(), now.unix_millis()])?;
                let after = get_existing(tx, id)?;
                Ok(after)
            }
        }
    }

    /// An offline payment was activated: it becomes `outcome_pending` with its token. With
    /// `mismatch`, the Nodo activated another amount than the one taken: the outcome becomes KO
    /// (the session must be released) and the payment will end `refund_due` for that reason.
    pub fn offline_activated(
        &self,
        id: &str,
        info: &ActivatedInfo,
        mismatch: Option<(ErrorCode, &str)>,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        {
            let tx = self.c;
            {
                let moved = set_activated(
                    tx,
                    id,
                    PaymentState::OfflineQueued,
                    PaymentState::OutcomePending,
                    info,
                    now,
                )?;
                if moved {
                    // The outcome starts its own attempt count.
                    tx.prepare_cached(
                        "UPDATE outcome_outbox SET attempts = 0 WHERE payment_id = ?1",
                    )?
                    .execute(params![id])?;
                }
                if moved && let Some((code, detail)) = mismatch {
                    tx.prepare_cached(
                        "UPDATE payments SET error_code = ?2, error_detail = ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, code.as_str(), detail])?;
                    tx.prepare_cached(
                        "UPDATE outcome_outbox SET outcome = 'KO' WHERE payment_id = ?1",
                    )?
                    .execute(params![id])?;
                }
                let after = get_existing(tx, id)?;
                Ok(after)
            }
        }
    }

    /// The Nodo refused to activate an offline payment for good (already paid, expired,
    /// unknown…): the money taken must go back to the citizen. The payment becomes
    /// `refund_due` with the reason; no outcome is owed (there is no session).
    pub fn offline_rejected(
        &self,
        id: &str,
        code: ErrorCode,
        detail: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<PaymentRecord, StoreError> {
        {
            let tx = self.c;
            {
                let moved = tx.prepare_cached("UPDATE payments SET state = ?2, error_code = ?3, error_detail = ?4, updated_at = ?5
                 WHERE id = ?1 AND state = 'offline_queued'")?.execute(params![
                    id,
                    PaymentState::RefundDue.as_str(),
                    code.as_str(),
                    detail,
                    now.unix_millis()
                ],
            )? == 1;
                if moved {
                    tx.prepare_cached("UPDATE outcome_outbox SET delivered_at = ?2, last_action = ?3, last_error = ?4
                     WHERE payment_id = ?1 AND delivered_at IS NULL")?.execute(params![id, now.unix_millis(), action, detail],
                )?;
                }
                let after = get_existing(tx, id)?;
                Ok(after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests_support::temp_store;
    use crate::store::{NewDevice, NewOfflinePayment, NewPayment, OutcomeRecorded};
    use channel_api::{ClientKey, OutcomeRequest, PaidWith, ReportedOutcome, Tender};
    use pagopa::soap::PaymentToken;
    use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    fn cf(s: &str) -> CreditorFiscalCode {
        CreditorFiscalCode::parse(s, CheckMode::Lenient).expect("cf")
    }

    fn device(store: &Store, name: &str, kind: DeviceKind) -> u64 {
        store
            .add_device(
                &NewDevice {
                    name: name.into(),
                    comune: cf("02438750586"),
                    kind,
                },
                &[0; 16],
                &[0; 32],
                t(0),
            )
            .expect("device")
    }

    fn key(suffix: &str) -> IdempotencyKey {
        IdempotencyKey::new("01234567890", suffix).expect("key")
    }

    fn report() -> ReportedOutcome {
        ReportedOutcome {
            report: OutcomeRequest::Ok {
                paid_with: PaidWith::Cash,
                fee: Amount::from_cents(100).expect("fee"),
                paid_at: t(5),
                terminal: None,
                receipt_number: Some("R".into()),
            },
            reported_at: t(5),
        }
    }

    fn offline(store: &Store, dev: u64, n: u32) -> PaymentId {
        let id = PaymentId::parse(&format!("off{n:014}")).expect("id");
        store
            .insert_offline_payment(
                &NewOfflinePayment {
                    id: id.clone(),
                    device_id: dev,
                    comune: cf("02438750586"),
                    client_key: ClientKey::parse(&format!("offline-{n:04}")).expect("ck"),
                    notice_number: NoticeNumber::parse(
                        &format!("3020100000000{n:05}"),
                        CheckMode::Lenient,
                    )
                    .expect("notice"),
                    creditor_fiscal_code: cf("77777777777"),
                    amount: Amount::from_cents(10_000).expect("amount"),
                    fee: Amount::from_cents(100).expect("fee"),
                    tender: Tender::Cash,
                    outcome: report(),
                },
                &key(&format!("OFFLINE{n:03}")),
                t(i64::from(n)),
            )
            .expect("insert");
        id
    }

    fn online(store: &Store, dev: u64, n: u32) -> PaymentId {
        let id = PaymentId::parse(&format!("onl{n:014}")).expect("id");
        store
            .insert_payment(
                &NewPayment {
                    id: id.clone(),
                    device_id: dev,
                    comune: cf("02438750586"),
                    client_key: ClientKey::parse(&format!("online-{n:04}")).expect("ck"),
                    notice_number: NoticeNumber::parse(
                        &format!("3020100000001{n:05}"),
                        CheckMode::Lenient,
                    )
                    .expect("notice"),
                    creditor_fiscal_code: cf("77777777777"),
                    amount: Amount::from_cents(10_000).expect("amount"),
                    fee: Amount::from_cents(100).expect("fee"),
                    tender: Tender::Cash,
                    activate_key: key(&format!("ACTIVATE{n:02}")),
                },
                t(100),
            )
            .expect("insert");
        store
            .mark_active(id.as_str(), &info(n), t(101))
            .expect("active");
        let recorded = store
            .record_outcome(
                id.as_str(),
                &report(),
                Amount::from_cents(100).expect("fee"),
                &key(&format!("OUTCOME{n:03}")),
                t(102),
            )
            .expect("record");
        assert!(matches!(recorded, OutcomeRecorded::Recorded(_)));
        id
    }

    fn info(n: u32) -> ActivatedInfo {
        ActivatedInfo {
            payment_token: PaymentToken::new(&format!("token{n:027}")).expect("token"),
            token_expires_at: t(600_000),
            amount: Amount::from_cents(10_000).expect("amount"),
            iuv: "02010000000000001".into(),
            creditor_name: None,
            description: None,
        }
    }

    #[test]
    fn one_head_per_device_in_arrival_order() {
        let store = temp_store("outbox-heads");
        let k1 = device(&store, "k1", DeviceKind::Kiosk);
        let c1 = device(&store, "c1", DeviceKind::Counter);
        let a = offline(&store, c1, 1);
        let b = offline(&store, c1, 2);
        let x = online(&store, k1, 3);
        let heads = store.outbox_heads().expect("heads");
        assert_eq!(heads.len(), 2);
        assert_eq!(
            heads[0].payment_id, a,
            "the counter's first offline payment"
        );
        assert_eq!(heads[0].kind, DeviceKind::Counter);
        assert!(heads[0].ok);
        assert_eq!(heads[1].payment_id, x);
        assert_eq!(heads[1].kind, DeviceKind::Kiosk);

        // b stays behind a until a is settled, whatever their schedules.
        store
            .offline_rejected(
                a.as_str(),
                ErrorCode::NoticeAlreadyPaid,
                "PPT_PAGAMENTO_DUPLICATO",
                "ALREADY_PAID",
                t(10),
            )
            .expect("reject");
        let heads = store.outbox_heads().expect("heads");
        assert_eq!(heads[0].payment_id, b);
        let rec = store.payment(a.as_str()).expect("read").expect("a");
        assert_eq!(rec.state, PaymentState::RefundDue);
        assert_eq!(rec.error.map(|e| e.0), Some(ErrorCode::NoticeAlreadyPaid));
    }

    #[test]
    fn attempts_retries_parking_and_reset() {
        let store = temp_store("outbox-attempts");
        let k1 = device(&store, "k1", DeviceKind::Kiosk);
        let x = online(&store, k1, 1);
        assert_eq!(store.outbox_attempt(x.as_str(), t(200)).expect("1"), 1);
        store
            .outbox_retry(x.as_str(), t(10_200), None, "no answer", "RESEND_SAME")
            .expect("retry");
        assert_eq!(store.outbox_attempt(x.as_str(), t(10_200)).expect("2"), 2);
        let fresh = key("NEWKEY0001");
        store
            .outbox_retry(
                x.as_str(),
                t(40_200),
                Some(&fresh),
                "PPT_SYSTEM_ERROR",
                "RETRY_LATER",
            )
            .expect("retry");
        let head = &store.outbox_heads().expect("heads")[0];
        assert_eq!(head.attempts, 2);
        assert_eq!(head.next_attempt_at, t(40_200));
        assert_eq!(head.idempotency_key, fresh);
        let stats = store.outbox_stats(2).expect("stats");
        assert_eq!((stats.pending, stats.overdue, stats.parked), (1, 1, 0));

        let rec = store
            .outbox_park(x.as_str(), "PPT_TOKEN_SCONOSCIUTO", "ALERT", t(50_000))
            .expect("park");
        assert_eq!(rec.state, PaymentState::NeedsAttention);
        assert!(store.outbox_heads().expect("heads").is_empty());
        let listed = store.outbox_list().expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].parked_at, Some(t(50_000)));
        assert_eq!(listed[0].last_action.as_deref(), Some("ALERT"));

        assert_eq!(
            store
                .outbox_reset(Some(x.as_str()), t(60_000))
                .expect("reset"),
            1
        );
        let rec = store.payment(x.as_str()).expect("read").expect("x");
        assert_eq!(rec.state, PaymentState::OutcomePending);
        let head = &store.outbox_heads().expect("heads")[0];
        assert_eq!((head.attempts, head.next_attempt_at), (0, t(60_000)));

        let (rec, moved) = store
            .resolve_outcome(x.as_str(), PaymentState::Confirmed, None, "DONE", t(61_000))
            .expect("resolve");
        assert!(moved);
        assert_eq!(rec.state, PaymentState::Confirmed);
        assert!(store.outbox_list().expect("list").is_empty());
        let (_, again) = store
            .resolve_outcome(x.as_str(), PaymentState::Cancelled, None, "DONE", t(62_000))
            .expect("resolve");
        assert!(!again, "a resolved payment stays resolved");
    }

    #[test]
    fn offline_activation_with_another_amount_turns_the_outcome_ko() {
        let store = temp_store("outbox-mismatch");
        let c1 = device(&store, "c1", DeviceKind::Counter);
        let a = offline(&store, c1, 1);
        let rec = store
            .offline_activation_key(a.as_str(), &key("ACTIVATE01"), t(1))
            .expect("key");
        assert_eq!(rec.activate_key, Some(key("ACTIVATE01")));
        let mut other = info(1);
        other.amount = Amount::from_cents(12_000).expect("amount");
        let rec = store
            .offline_activated(
                a.as_str(),
                &other,
                Some((ErrorCode::AmountMismatch, "120.00 due, 100.00 taken")),
                t(2),
            )
            .expect("activated");
        assert_eq!(rec.state, PaymentState::OutcomePending);
        assert_eq!(rec.amount.cents(), 10_000, "the amount taken is kept");
        assert!(rec.payment_token.is_some());
        assert_eq!(rec.error.map(|e| e.0), Some(ErrorCode::AmountMismatch));
        assert!(!store.outbox_heads().expect("heads")[0].ok);
    }
}
