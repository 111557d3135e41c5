//! The devices' daily cash closings.
//!
//! A closing is checked against the payments in the store and kept with the answer given, in
//! the same transaction as the read, so the answer matches one state of the store. A resend of
//! the same closing (a lost answer) gets the stored answer, even if payments arrived since; a
//! closing with other data for the same day becomes a new revision, and every revision is kept.

use channel_api::{Closing, ClosingRequest};
use pagopa::Date;
use rusqlite::{OptionalExtension, params};

use super::payments::{COLUMNS, from_row};
use super::{PaymentRecord, Store, StoreError, col};

/// What recording a closing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosingRecorded {
    /// A new revision was computed and stored.
    New(Closing),
    /// The same closing was already recorded: its stored answer.
    Resent(Closing),
}

impl ClosingRecorded {
    /// The answer, new or stored.
    pub fn closing(&self) -> &Closing {
        match self {
            ClosingRecorded::New(c) | ClosingRecorded::Resent(c) => c,
        }
    }
}

/// How far before the closed day a payment may have been recorded and still be paid that day:
/// none, but a device's clock may be off; offline payments are recorded after they are paid.
const EARLY_MARGIN_MS: i64 = 2 * 86_400_000;

fn parse_closing(value: String) -> Result<Closing, StoreError> {
    col::parse("closings.response_json", value, |s| {
        serde_json::from_str::<Closing>(s)
    })
}

impl Store {
    /// Record `request` from `device_id` for its day. `compute` gets the next revision number
    /// and the device's payments recorded from shortly before the day on (the caller picks
    /// those paid that day), and returns the answer to store.
    pub fn record_closing(
        &self,
        device_id: u64,
        request: &ClosingRequest,
        compute: impl FnOnce(u32, &[PaymentRecord]) -> Closing,
    ) -> Result<ClosingRecorded, StoreError> {
        let request_json = serde_json::to_string(request)
            .map_err(|e| StoreError::Task(format!("closing request: {e}")))?;
        let day = request.day.to_string();
        let device = i64::try_from(device_id)
            .map_err(|_| StoreError::DeviceNotFound(device_id.to_string()))?;
        let since = request
            .day
            .days_since_epoch()
            .saturating_mul(86_400_000)
            .saturating_sub(EARLY_MARGIN_MS);
        self.write(|c| {
            let last: Option<(u32, String, String)> = c
                .prepare_cached(
                    "SELECT revision, request_json, response_json FROM closings
                     WHERE device_id = ?1 AND day = ?2 ORDER BY revision DESC LIMIT 1",
                )?
                .query_row(params![device, day], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let revision = match last {
                Some((_, req, resp)) if req == request_json => {
                    return parse_closing(resp).map(ClosingRecorded::Resent);
                }
                Some((rev, _, _)) => rev.saturating_add(1),
                None => 1,
            };
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM payments
                 WHERE device_id = ?1 AND created_at >= ?2 AND outcome_json IS NOT NULL
                 ORDER BY seq"
            ))?;
            let mut rows = st.query(params![device, since])?;
            let mut payments = Vec::new();
            while let Some(r) = rows.next()? {
                payments.push(from_row(r)?);
            }
            let closing = compute(revision, &payments);
            let response_json = serde_json::to_string(&closing)
                .map_err(|e| StoreError::Task(format!("closing answer: {e}")))?;
            c.prepare_cached(
                "INSERT INTO closings
                     (device_id, day, revision, request_json, response_json, verdict, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                device,
                day,
                revision,
                request_json,
                response_json,
                closing.verdict.as_str(),
                closing.recorded_at.unix_millis(),
            ])?;
            Ok(ClosingRecorded::New(closing))
        })
    }

    /// The closings of `device_id` for `day`, oldest revision first.
    pub fn closings(&self, device_id: u64, day: Date) -> Result<Vec<Closing>, StoreError> {
        let device = i64::try_from(device_id)
            .map_err(|_| StoreError::DeviceNotFound(device_id.to_string()))?;
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT response_json FROM closings WHERE device_id = ?1 AND day = ?2
                 ORDER BY revision",
            )?;
            let mut rows = st.query(params![device, day.to_string()])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(parse_closing(r.get(0)?)?);
            }
            Ok(out)
        })
    }
}
