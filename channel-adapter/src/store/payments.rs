//! Payments, their states, and the outcome outbox.
//!
//! Each state change is one conditional `UPDATE … WHERE state = <expected>`, so two concurrent
//! requests about the same payment cannot both move it: the loser sees the row as it now is and
//! answers from that. The device's outcome and its outbox row are written in one transaction:
//! once the device has been told "recorded", the outcome will be delivered.

use channel_api::{
    ClientKey, ErrorBody, ErrorCode, OutcomeRequest, Payment, PaymentId, PaymentResolution,
    PaymentState, ReportedOutcome, ResolutionRequest, Tender, Timestamp,
};
use pagopa::soap::{IdempotencyKey, PaymentToken};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};
use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, Tx, col};

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// Arrival order.
    pub seq: i64,
    /// The public identifier.
    pub id: PaymentId,
    /// The device that opened it.
    pub device_id: u64,
    /// That device's comune (who may see the payment).
    pub comune: CreditorFiscalCode,
    /// The device's idempotency key.
    pub client_key: ClientKey,
    /// Where it stands.
    pub state: PaymentState,
    /// The notice.
    pub notice_number: NoticeNumber,
    /// The creditor.
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount due.
    pub amount: Amount,
    /// Our fee.
    pub fee: Amount,
    /// The tender.
    pub tender: Tender,
    /// Taken offline.
    pub offline: bool,
    /// The Nodo idempotency key of the current activation attempt.
    pub activate_key: Option<IdempotencyKey>,
    /// The Nodo's token.
    pub payment_token: Option<PaymentToken>,
    /// Token expiry.
    pub token_expires_at: Option<Timestamp>,
    /// IUV.
    pub iuv: Option<String>,
    /// The creditor's name.
    pub creditor_name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// What the device reported.
    pub outcome: Option<ReportedOutcome>,
    /// Failure or exception reason.
    pub error: Option<(ErrorCode, Option<String>)>,
    /// First recorded.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl PaymentRecord {
    /// The payment as the API shows it.
    pub fn to_api(&self) -> Payment {
        Payment {
            id: self.id.clone(),
            state: self.state,
            client_key: self.client_key.clone(),
            notice_number: self.notice_number,
            creditor_fiscal_code: self.creditor_fiscal_code,
            amount: self.amount,
            fee: self.fee,
            // Stored amounts were checked on the way in; a sum over the maximum cannot have
            // been quoted, but saturate rather than fail a read.
            total: self.amount.checked_add(self.fee).unwrap_or(Amount::MAX),
            tender: self.tender,
            creditor_name: self.creditor_name.clone(),
            description: self.description.clone(),
            iuv: self.iuv.clone(),
            payment_token: self.payment_token.clone(),
            token_expires_at: self.token_expires_at,
            outcome: self.outcome.clone(),
            error: self.error.as_ref().map(|(code, detail)| {
                let body = ErrorBody::new(*code);
                match detail {
                    Some(d) => body.with_detail(d.clone()),
                    None => body,
                }
            }),
            offline: self.offline,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether a new activation request carries the same notice, amount and tender as this
    /// payment (a resend), as opposed to a different request reusing the client key.
    pub fn same_request(&self, p: &NewPayment) -> bool {
        self.notice_number == p.notice_number
            && self.creditor_fiscal_code == p.creditor_fiscal_code
            && self.amount == p.amount
            && self.tender == p.tender
            && !self.offline
    }
}

/// A payment about to be activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Its new identifier.
    pub id: PaymentId,
    /// The device.
    pub device_id: u64,
    /// The device's comune.
    pub comune: CreditorFiscalCode,
    /// The device's key.
    pub client_key: ClientKey,
    /// The notice.
    pub notice_number: NoticeNumber,
    /// The creditor.
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount due.
    pub amount: Amount,
    /// Our fee.
    pub fee: Amount,
    /// The tender.
    pub tender: Tender,
    /// The Nodo idempotency key for the activation.
    pub activate_key: IdempotencyKey,
}

/// A payment taken offline, to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOfflinePayment {
    /// Its new identifier.
    pub id: PaymentId,
    /// The device.
    pub device_id: u64,
    /// The device's comune.
    pub comune: CreditorFiscalCode,
    /// The device's key.
    pub client_key: ClientKey,
    /// The notice.
    pub notice_number: NoticeNumber,
    /// The creditor.
    pub creditor_fiscal_code: CreditorFiscalCode,
    /// The amount taken for the notice.
    pub amount: Amount,
    /// The fee taken.
    pub fee: Amount,
    /// The tender the money was taken with.
    pub tender: Tender,
    /// The OK report (how and when the money was taken).
    pub outcome: ReportedOutcome,
}

/// The result of inserting a payment under a client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentInsert {
    /// A new payment.
    Created(PaymentRecord),
    /// The device already used this key: the payment it opened.
    Existing(PaymentRecord),
}

/// What the Nodo told us on a successful activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivatedInfo {
    /// The session token.
    pub payment_token: PaymentToken,
    /// When the session ends (now + the lifetime we asked for).
    pub token_expires_at: Timestamp,
    /// The amount due per the Nodo (`totalAmount`).
    pub amount: Amount,
    /// The IUV.
    pub iuv: String,
    /// The creditor's name.
    pub creditor_name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
}

/// The result of recording a device's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeRecorded {
    /// Recorded now, with its outbox entry.
    Recorded(PaymentRecord),
    /// An outcome was already recorded (compare it to decide between resend and conflict).
    AlreadyReported(PaymentRecord),
    /// The payment is in a state that takes no outcome.
    WrongState(PaymentRecord),
}

/// The exception states (`PaymentState::is_exception`), as SQL; pinned by a test.
const EXCEPTION_STATES: &str = "state IN ('late_accepted', 'refund_due', 'needs_attention')";

pub(super) const COLUMNS: &str = "seq, id, device_id, comune, client_key, state, notice_number, \
    creditor_fiscal_code, amount_cents, fee_cents, tender, offline, activate_key, payment_token, \
    token_expires_at, iuv, creditor_name, description, outcome_json, error_code, error_detail, \
    created_at, updated_at";

pub(super) fn from_row(r: &Row<'_>) -> Result<PaymentRecord, StoreError> {
    let lenient_cf = |s: &str| CreditorFiscalCode::parse(s, CheckMode::Lenient);
    let device_id: i64 = r.get(2)?;
    Ok(PaymentRecord {
        seq: r.get(0)?,
        id: col::parse("payments.id", r.get(1)?, PaymentId::parse)?,
        device_id: u64::try_from(device_id).map_err(|_| StoreError::Corrupt {
            what: "payments.device_id",
            value: device_id.to_string(),
        })?,
        comune: col::parse("payments.comune", r.get(3)?, lenient_cf)?,
        client_key: col::parse("payments.client_key", r.get(4)?, ClientKey::parse)?,
        state: col::parse("payments.state", r.get(5)?, |s| {
            PaymentState::parse(s).ok_or(())
        })?,
        notice_number: col::parse("payments.notice_number", r.get(6)?, |s| {
            NoticeNumber::parse(s, CheckMode::Lenient)
        })?,
        creditor_fiscal_code: col::parse("payments.creditor_fiscal_code", r.get(7)?, lenient_cf)?,
        amount: col::amount("payments.amount_cents", r.get(8)?)?,
        fee: col::amount("payments.fee_cents", r.get(9)?)?,
        tender: col::parse("payments.tender", r.get(10)?, |s| {
            Tender::parse(s).ok_or(())
        })?,
        offline: r.get::<_, i64>(11)? != 0,
        activate_key: col::parse_opt("payments.activate_key", r.get(12)?, IdempotencyKey::parse)?,
        payment_token: col::parse_opt("payments.payment_token", r.get(13)?, PaymentToken::new)?,
        token_expires_at: r
            .get::<_, Option<i64>>(14)?
            .map(Timestamp::from_unix_millis),
        iuv: r.get(15)?,
        creditor_name: r.get(16)?,
        description: r.get(17)?,
        outcome: col::parse_opt("payments.outcome_json", r.get(18)?, |s| {
            serde_json::from_str::<ReportedOutcome>(s)
        })?,
        error: col::parse_opt(
            "payments.error_code",
            r.get(19)?,
            |s| match ErrorCode::parse(s) {
                ErrorCode::Unrecognized => Err(()),
                code => Ok(code),
            },
        )?
        .map(|code| r.get::<_, Option<String>>(20).map(|d| (code, d)))
        .transpose()?,
        created_at: Timestamp::from_unix_millis(r.get(21)?),
        updated_at: Timestamp::from_unix_millis(r.get(22)?),
    })
}

fn get(tx: &rusqlite::Connection, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
    tx.prepare_cached(&format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"))?
        .query_row([id], |r| Ok(from_row(r)))
        .optional()?
        .transpose()
}

pub(super) fn get_existing(
    tx: &rusqlite::Connection,
    id: &str,
) -> Result<PaymentRecord, StoreError> {
    get(tx, id)?.ok_or_else(|| StoreError::PaymentNotFound(id.to_owned()))
}

fn by_client_key(
    tx: &rusqlite::Connection,
    device_id: u64,
    key: &ClientKey,
) -> Result<Option<PaymentRecord>, StoreError> {
    tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM payments WHERE device_id = ?1 AND client_key = ?2"
    ))?
    .query_row(params![device_id as i64, key.as_str()], |r| Ok(from_row(r)))
    .optional()?
    .transpose()
}

fn outcome_json(o: &ReportedOutcome) -> Result<String, StoreError> {
    serde_json::to_string(o).map_err(|e| StoreError::Corrupt {
        what: "payments.outcome_json",
        value: e.to_string(),
    })
}

/// Move `id` from `from` to `to` with what the Nodo's activation returned. The amount is the
/// Nodo's `totalAmount` for an online payment (the device charges it), but stays the amount
/// taken for an offline one. Returns whether the row moved.
pub(super) fn set_activated(
    tx: &rusqlite::Connection,
    id: &str,
    from: PaymentState,
    to: PaymentState,
    info: &ActivatedInfo,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let amount = (from != PaymentState::OfflineQueued).then(|| col::cents(info.amount));
    let n = tx
        .prepare_cached(
            "UPDATE payments SET state = ?3, updated_at = ?4, payment_token = ?5,
                token_expires_at = ?6, amount_cents = coalesce(?7, amount_cents), iuv = ?8,
                creditor_name = ?9, description = ?10, error_code = NULL, error_detail = NULL
         WHERE id = ?1 AND state = ?2",
        )?
        .execute(params![
            id,
            from.as_str(),
            to.as_str(),
            now.unix_millis(),
            info.payment_token.as_str(),
            info.token_expires_at.unix_millis(),
            amount,
            info.iuv,
            info.creditor_name,
            info.description
        ])?;
    Ok(n == 1)
}

impl Store {
    /// Insert a payment in state `activating`, unless the device already used the client key.
    pub fn insert_payment(
        &self,
        p: &NewPayment,
        now: Timestamp,
    ) -> Result<PaymentInsert, StoreError> {
        self.write(|c| {
            // Atomic: every write runs in its own savepoint (see `Store::commit`).
            let tx = &*c;
            if let Some(existing) = by_client_key(tx, p.device_id, &p.client_key)? {
                return Ok(PaymentInsert::Existing(existing));
            }
            tx.prepare_cached(
                "INSERT INTO payments (id, device_id, comune, client_key, state, notice_number,
                     creditor_fiscal_code, amount_cents, fee_cents, tender, activate_key,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
            )?
            .execute(params![
                p.id.as_str(),
                p.device_id as i64,
                p.comune.as_str(),
                p.client_key.as_str(),
                PaymentState::Activating.as_str(),
                p.notice_number.as_str(),
                p.creditor_fiscal_code.as_str(),
                col::cents(p.amount),
                col::cents(p.fee),
                p.tender.as_str(),
                p.activate_key.as_str(),
                now.unix_millis()
            ])?;
            let created = get_existing(tx, p.id.as_str())?;
            Ok(PaymentInsert::Created(created))
        })
    }

    /// Queue a payment taken offline (state `offline_queued`) with its OK outcome in the
    /// outbox under `outbox_key`, unless the device already used the client key.
    pub fn insert_offline_payment(
        &self,
        p: &NewOfflinePayment,
        outbox_key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<PaymentInsert, StoreError> {
        let json = outcome_json(&p.outcome)?;
        self.write_synced(|c| {
            // Atomic: every write runs in its own savepoint (see `Store::commit`).
            let tx = &*c;
            if let Some(existing) = by_client_key(tx, p.device_id, &p.client_key)? {
                return Ok(PaymentInsert::Existing(existing));
            }
            tx.prepare_cached(
                "INSERT INTO payments (id, device_id, comune, client_key, state, notice_number,
                     creditor_fiscal_code, amount_cents, fee_cents, tender, offline, outcome_json,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?12)",
            )?
            .execute(params![
                p.id.as_str(),
                p.device_id as i64,
                p.comune.as_str(),
                p.client_key.as_str(),
                PaymentState::OfflineQueued.as_str(),
                p.notice_number.as_str(),
                p.creditor_fiscal_code.as_str(),
                col::cents(p.amount),
                col::cents(p.fee),
                p.tender.as_str(),
                json,
                now.unix_millis()
            ])?;
            tx.prepare_cached(
                "INSERT INTO outcome_outbox (payment_id, outcome, idempotency_key, created_at,
                     next_attempt_at, device_id, seq)
                 SELECT id, 'OK', ?2, ?3, ?3, device_id, seq FROM payments WHERE id = ?1",
            )?
            .execute(params![
                p.id.as_str(),
                outbox_key.as_str(),
                now.unix_millis()
            ])?;
            let created = get_existing(tx, p.id.as_str())?;
            Ok(PaymentInsert::Created(created))
        })
    }

    /// One payment.
    pub fn payment(&self, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        self.read(|c| get(c, id))
    }

    /// A comune's payments, newest first, optionally in one state.
    pub fn list_payments(
        &self,
        comune: &CreditorFiscalCode,
        state: Option<PaymentState>,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM payments
                 WHERE comune = ?1 AND (?2 IS NULL OR state = ?2)
                 ORDER BY seq DESC LIMIT ?3"
            ))?;
            let mut rows = st.query(params![
                comune.as_str(),
                state.map(PaymentState::as_str),
                i64::from(limit)
            ])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(from_row(r)?);
            }
            Ok(out)
        })
    }

    /// Payments in an exception state (late outcome, refund due, needs attention) that staff
    /// have not resolved yet, of every comune, oldest first: the operators' work list.
    pub fn exceptions(&self) -> Result<Vec<PaymentRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM payments WHERE {EXCEPTION_STATES} AND resolution_json IS NULL \
                 ORDER BY seq"
            ))?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(from_row(r)?);
            }
            Ok(out)
        })
    }

    /// How many payments are in each state (states with none are omitted).
    pub fn count_by_state(&self) -> Result<Vec<(PaymentState, u64)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare("SELECT state, count(*) FROM payments GROUP BY state")?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let state = col::parse("payments.state", r.get(0)?, |s| {
                    PaymentState::parse(s).ok_or(())
                })?;
                out.push((state, r.get::<_, i64>(1)?.max(0) as u64));
            }
            Ok(out)
        })
    }

    /// Move `id` from `from` to `to`, setting the extra columns in `set` (SQL fragment with
    /// parameters from ?4). Returns the row as it is afterwards, and whether this call moved it.
    fn transition(
        &self,
        id: &str,
        from: &[PaymentState],
        to: PaymentState,
        set: &str,
        extra: &[&dyn rusqlite::ToSql],
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.write(|c| Tx { c }.transition(id, from, to, set, extra, now))
    }

    /// `activating` → `active`, with what the Nodo returned. Returns the payment and whether
    /// this call moved it.
    pub fn mark_active(
        &self,
        id: &str,
        info: &ActivatedInfo,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.write(|c| Tx { c }.mark_active(id, info, now))
    }

    /// `activating` → `activation_failed`, with the reason.
    pub fn mark_activation_failed(
        &self,
        id: &str,
        code: ErrorCode,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.write(|c| Tx { c }.mark_activation_failed(id, code, detail, now))
    }

    /// `activation_failed` → `activating` with a fresh Nodo key: a new attempt after a
    /// transient refusal (the old key would only replay the refusal).
    pub fn restart_activation(
        &self,
        id: &str,
        activate_key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.transition(
            id,
            &[PaymentState::ActivationFailed],
            PaymentState::Activating,
            ", activate_key = ?4, error_code = NULL, error_detail = NULL",
            &[&activate_key.as_str()],
            now,
        )
    }

    /// Record the device's outcome for an `active` payment and queue it for the Nodo, in one
    /// transaction. An OK report also fixes the tender and fee actually used.
    pub fn record_outcome(
        &self,
        id: &str,
        outcome: &ReportedOutcome,
        fee: Amount,
        outbox_key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<OutcomeRecorded, StoreError> {
        let json = outcome_json(outcome)?;
        let (ok, tender) = match &outcome.report {
            OutcomeRequest::Ok { paid_with, .. } => (true, Some(paid_with.tender())),
            OutcomeRequest::Ko { .. } => (false, None),
        };
        self.write_synced(|c| {
            // Atomic: every write runs in its own savepoint (see `Store::commit`).
            let tx = &*c;
            let current = get_existing(tx, id)?;
            if current.outcome.is_some() {
                return Ok(OutcomeRecorded::AlreadyReported(current));
            }
            if current.state != PaymentState::Active {
                return Ok(OutcomeRecorded::WrongState(current));
            }
            tx.prepare_cached("UPDATE payments SET state = ?2, outcome_json = ?3, updated_at = ?4,
                     tender = coalesce(?5, tender), fee_cents = CASE WHEN ?6 THEN ?7 ELSE fee_cents END
                 WHERE id = ?1")?.execute(params![
                    id,
                    PaymentState::OutcomePending.as_str(),
                    json,
                    now.unix_millis(),
                    tender.map(Tender::as_str),
                    ok,
                    col::cents(fee)
                ],
            )?;
            tx.prepare_cached(
                "INSERT INTO outcome_outbox (payment_id, outcome, idempotency_key, created_at,
                     next_attempt_at, device_id, seq)
                 SELECT id, ?2, ?3, ?4, ?4, device_id, seq FROM payments WHERE id = ?1",
            )?
            .execute(params![
                id,
                if ok { "OK" } else { "KO" },
                outbox_key.as_str(),
                now.unix_millis()
            ])?;
            let after = get_existing(tx, id)?;
            Ok(OutcomeRecorded::Recorded(after))
        })
    }
}

/// What recording a resolution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolutionRecorded {
    /// Recorded now.
    Recorded(PaymentRecord, PaymentResolution),
    /// The same resolution was recorded before: the payment and the first record.
    AlreadyResolved(PaymentRecord, PaymentResolution),
    /// A different resolution was recorded before.
    Conflict(PaymentResolution),
    /// The payment is not in a state this resolution applies to.
    WrongState(PaymentRecord),
    /// No such payment.
    NotFound,
}

impl Store {
    /// Record how staff resolved payment `id`: a refund moves `refund_due` to `refunded`; the
    /// other resolutions apply to any exception state and leave the state alone. Either way the
    /// payment leaves [`Store::exceptions`].
    pub fn resolve_payment(
        &self,
        id: &str,
        resolution: &ResolutionRequest,
        now: Timestamp,
    ) -> Result<ResolutionRecorded, StoreError> {
        self.write(|c| {
            let Some(rec) = get(c, id)? else {
                return Ok(ResolutionRecorded::NotFound);
            };
            let stored: Option<String> = c
                .prepare_cached("SELECT resolution_json FROM payments WHERE id = ?1")?
                .query_row([id], |r| r.get(0))?;
            if let Some(json) = stored {
                let first = col::parse("payments.resolution_json", json, |s| {
                    serde_json::from_str::<PaymentResolution>(s)
                })?;
                return Ok(if first.resolution == *resolution {
                    ResolutionRecorded::AlreadyResolved(rec, first)
                } else {
                    ResolutionRecorded::Conflict(first)
                });
            }
            let allowed = match resolution {
                ResolutionRequest::Refunded { .. } => rec.state == PaymentState::RefundDue,
                _ => rec.state.is_exception(),
            };
            if !allowed {
                return Ok(ResolutionRecorded::WrongState(rec));
            }
            let record = PaymentResolution {
                resolution: resolution.clone(),
                resolved_at: now,
            };
            let json = serde_json::to_string(&record)
                .map_err(|e| StoreError::Task(format!("resolution: {e}")))?;
            let now_ms = now.unix_millis();
            let to = match resolution {
                ResolutionRequest::Refunded { .. } => PaymentState::Refunded,
                _ => rec.state,
            };
            let (after, _) = Tx { c }.transition(
                id,
                &[rec.state],
                to,
                ", resolution_json = ?4, resolved_at = ?5",
                &[&json, &now_ms],
                now,
            )?;
            Ok(ResolutionRecorded::Recorded(after, record))
        })
    }
}

impl Tx<'_> {
    /// `activating` → `activation_failed`, with the reason.
    pub fn mark_activation_failed(
        &self,
        id: &str,
        code: ErrorCode,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        self.transition(
            id,
            &[PaymentState::Activating],
            PaymentState::ActivationFailed,
            ", error_code = ?4, error_detail = ?5",
            &[&code.as_str(), &detail],
            now,
        )
    }

    /// `activating` → `active`, with what the Nodo returned. Returns the payment and whether
    /// this call moved it.
    pub fn mark_active(
        &self,
        id: &str,
        info: &ActivatedInfo,
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        {
            let tx = self.c;
            {
                let moved = set_activated(
                    tx,
                    id,
                    PaymentState::Activating,
                    PaymentState::Active,
                    info,
                    now,
                )?;
                let after = get_existing(tx, id)?;
                Ok((after, moved))
            }
        }
    }

    /// Move `id` from `from` to `to`, setting the extra columns in `set` (SQL fragment with
    /// parameters from ?4). Returns the row as it is afterwards, and whether this call moved it.
    fn transition(
        &self,
        id: &str,
        from: &[PaymentState],
        to: PaymentState,
        set: &str,
        extra: &[&dyn rusqlite::ToSql],
        now: Timestamp,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        {
            let tx = self.c;
            {
                let current = get_existing(tx, id)?;
                if !from.contains(&current.state) {
                    return Ok((current, false));
                }
                let sql =
                    format!("UPDATE payments SET state = ?2, updated_at = ?3{set} WHERE id = ?1");
                let to_str = to.as_str();
                let now_ms = now.unix_millis();
                let mut args: Vec<&dyn rusqlite::ToSql> = vec![&id, &to_str, &now_ms];
                args.extend_from_slice(extra);
                tx.execute(&sql, args.as_slice())?;
                let after = get_existing(tx, id)?;
                Ok((after, true))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewDevice;
    use crate::store::tests_support::temp_store;
    use channel_api::{DeviceKind, KoReason, PaidWith};

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    fn comune() -> CreditorFiscalCode {
        CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid")
    }

    fn setup(name: &str) -> (Store, u64) {
        let store = temp_store(name);
        let dev = store
            .add_device(
                &NewDevice {
                    name: "k1".into(),
                    comune: comune(),
                    kind: DeviceKind::Kiosk,
                },
                &[0; 16],
                &[0; 32],
                t(0),
            )
            .expect("device");
        (store, dev)
    }

    fn new_payment(device_id: u64, id: &str, key: &str) -> NewPayment {
        NewPayment {
            id: PaymentId::parse(id).expect("id"),
            device_id,
            comune: comune(),
            client_key: ClientKey::parse(key).expect("key"),
            notice_number: NoticeNumber::parse("300715700000000032", CheckMode::Strict).expect("n"),
            creditor_fiscal_code: CreditorFiscalCode::parse("00085240950", CheckMode::Strict)
                .expect("cf"),
            amount: Amount::from_cents(15000).expect("amount"),
            fee: Amount::from_cents(120).expect("fee"),
            tender: Tender::Card,
            activate_key: IdempotencyKey::new("01234567890", "AAAAAAAAAA").expect("key"),
        }
    }

    fn activated() -> ActivatedInfo {
        ActivatedInfo {
            payment_token: PaymentToken::new("c110729d258c4ab1b765fe902aae41d6").expect("token"),
            token_expires_at: t(600_000),
            amount: Amount::from_cents(15000).expect("amount"),
            iuv: "00715700000000032".into(),
            creditor_name: Some("Comune".into()),
            description: None,
        }
    }

    fn ok_report() -> ReportedOutcome {
        ReportedOutcome {
            report: OutcomeRequest::Ok {
                paid_with: PaidWith::Pagobancomat,
                fee: Amount::from_cents(120).expect("fee"),
                paid_at: t(5_000),
                terminal: None,
                receipt_number: Some("R-1".into()),
            },
            reported_at: t(5_100),
        }
    }

    #[test]
    fn state_values_on_disk_are_the_contract_names() {
        // The CHECK constraint in 0001_initial.sql lists exactly these.
        let sql = include_str!("migrations/0001_initial.sql");
        for s in PaymentState::ALL {
            assert!(sql.contains(&format!("'{}'", s.as_str())), "{s}");
        }
        assert_eq!(PaymentState::RefundDue.as_str(), "refund_due");
        assert_eq!(PaymentState::OfflineQueued.as_str(), "offline_queued");
        // Tenders and kinds are stored by name too.
        assert_eq!(Tender::Card.as_str(), "card");
        assert_eq!(Tender::Cash.as_str(), "cash");
        assert_eq!(DeviceKind::Kiosk.as_str(), "kiosk");
        assert_eq!(DeviceKind::Counter.as_str(), "counter");
        assert!(sql.contains("tender IN ('card', 'cash')"));
        assert!(sql.contains("kind IN ('kiosk', 'counter')"));
    }

    #[test]
    fn the_exceptions_query_lists_the_exception_states() {
        let listed: Vec<PaymentState> = PaymentState::ALL
            .into_iter()
            .filter(|s| EXCEPTION_STATES.contains(&format!("'{}'", s.as_str())))
            .collect();
        let expected: Vec<PaymentState> = PaymentState::ALL
            .into_iter()
            .filter(|s| s.is_exception())
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn client_key_makes_insert_idempotent() {
        let (store, dev) = setup("pay-insert");
        let p = new_payment(dev, "pay00000000000001", "client-key-1");
        let PaymentInsert::Created(rec) = store.insert_payment(&p, t(1)).expect("insert") else {
            panic!("expected a new payment");
        };
        assert_eq!(rec.state, PaymentState::Activating);
        assert_eq!(rec.to_api().total.cents(), 15120);
        let again = new_payment(dev, "pay00000000000002", "client-key-1");
        match store.insert_payment(&again, t(2)).expect("insert") {
            PaymentInsert::Existing(e) => {
                assert_eq!(e.id, rec.id);
                assert!(e.same_request(&again));
            }
            other => panic!("expected the existing payment, got {other:?}"),
        }
    }

    #[test]
    fn activation_then_outcome_then_resolution() {
        let (store, dev) = setup("pay-flow");
        let p = new_payment(dev, "pay00000000000001", "client-key-1");
        store.insert_payment(&p, t(1)).expect("insert");
        let id = p.id.as_str();
        let (rec, moved) = store.mark_active(id, &activated(), t(2)).expect("active");
        assert!(moved);
        assert_eq!(rec.state, PaymentState::Active);
        assert_eq!(rec.iuv.as_deref(), Some("00715700000000032"));
        let (_, moved_twice) = store.mark_active(id, &activated(), t(3)).expect("again");
        assert!(
            !moved_twice,
            "a second activation answer does not move it again"
        );

        let key = IdempotencyKey::new("01234567890", "BBBBBBBBBB").expect("key");
        let fee = Amount::from_cents(120).expect("fee");
        let OutcomeRecorded::Recorded(rec) = store
            .record_outcome(id, &ok_report(), fee, &key, t(6))
            .expect("record")
        else {
            panic!("expected recorded");
        };
        assert_eq!(rec.state, PaymentState::OutcomePending);
        assert_eq!(rec.outcome, Some(ok_report()));
        let due = store.outbox_heads().expect("due");
        assert_eq!(due.len(), 1);
        assert!(due[0].ok);
        assert_eq!(due[0].idempotency_key, key);
        assert_eq!(due[0].next_attempt_at, t(6));
        assert!(matches!(
            store
                .record_outcome(id, &ok_report(), fee, &key, t(7))
                .expect("again"),
            OutcomeRecorded::AlreadyReported(_)
        ));

        let (rec, moved) = store
            .resolve_outcome(
                id,
                PaymentState::RefundDue,
                Some((ErrorCode::DuplicatePayment, "PPT_PAGAMENTO_DUPLICATO")),
                "REFUND",
                t(8),
            )
            .expect("resolve");
        assert!(moved);
        assert_eq!(rec.state, PaymentState::RefundDue);
        assert_eq!(
            rec.error.as_ref().map(|e| e.0),
            Some(ErrorCode::DuplicatePayment)
        );
        assert!(store.outbox_heads().expect("due").is_empty());
        let exceptions = store
            .list_payments(&comune(), Some(PaymentState::RefundDue), 10)
            .expect("list");
        assert_eq!(exceptions.len(), 1);
        assert_eq!(
            store.count_by_state().expect("count"),
            vec![(PaymentState::RefundDue, 1)]
        );
    }

    #[test]
    fn outcome_needs_an_active_payment() {
        let (store, dev) = setup("pay-wrong-state");
        let p = new_payment(dev, "pay00000000000001", "client-key-1");
        store.insert_payment(&p, t(1)).expect("insert");
        let key = IdempotencyKey::new("01234567890", "BBBBBBBBBB").expect("key");
        let ko = ReportedOutcome {
            report: OutcomeRequest::Ko {
                reason: KoReason::Declined,
            },
            reported_at: t(2),
        };
        assert!(matches!(
            store
                .record_outcome(p.id.as_str(), &ko, Amount::ZERO, &key, t(2))
                .expect("record"),
            OutcomeRecorded::WrongState(_)
        ));
        assert!(store.outbox_heads().expect("due").is_empty());
    }

    #[test]
    fn failed_activation_can_restart_with_a_new_key() {
        let (store, dev) = setup("pay-restart");
        let p = new_payment(dev, "pay00000000000001", "client-key-1");
        store.insert_payment(&p, t(1)).expect("insert");
        let (rec, _) = store
            .mark_activation_failed(
                p.id.as_str(),
                ErrorCode::CreditorUnavailable,
                Some("PPT_STAZIONE_INT_PA_TIMEOUT"),
                t(2),
            )
            .expect("fail");
        assert_eq!(rec.state, PaymentState::ActivationFailed);
        let key = IdempotencyKey::new("01234567890", "CCCCCCCCCC").expect("key");
        let (rec, moved) = store
            .restart_activation(p.id.as_str(), &key, t(3))
            .expect("restart");
        assert!(moved);
        assert_eq!(rec.state, PaymentState::Activating);
        assert_eq!(rec.activate_key, Some(key));
        assert_eq!(rec.error, None);
    }

    #[test]
    fn offline_payments_queue_once() {
        let (store, dev) = setup("pay-offline");
        let offline_key = IdempotencyKey::new("01234567890", "OFFLINE001").expect("key");
        let off = NewOfflinePayment {
            id: PaymentId::parse("pay00000000000009").expect("id"),
            device_id: dev,
            comune: comune(),
            client_key: ClientKey::parse("offline-key-1").expect("key"),
            notice_number: NoticeNumber::parse("300715700000000032", CheckMode::Strict).expect("n"),
            creditor_fiscal_code: CreditorFiscalCode::parse("00085240950", CheckMode::Strict)
                .expect("cf"),
            amount: Amount::from_cents(1000).expect("amount"),
            fee: Amount::from_cents(150).expect("fee"),
            tender: Tender::Card,
            outcome: ok_report(),
        };
        let PaymentInsert::Created(rec) = store
            .insert_offline_payment(&off, &offline_key, t(1))
            .expect("insert")
        else {
            panic!("expected new");
        };
        assert_eq!(rec.state, PaymentState::OfflineQueued);
        assert!(rec.offline);
        assert_eq!(rec.tender, Tender::Card);
        let mut again = off.clone();
        again.id = PaymentId::parse("pay00000000000010").expect("id");
        assert!(matches!(
            store
                .insert_offline_payment(&again, &offline_key, t(2))
                .expect("insert"),
            PaymentInsert::Existing(e) if e.id == off.id
        ));
    }
}
