//! The journal of Nodo calls: written before a request leaves, completed when its fate is known.
//!
//! This is the "durable before effect" rule for the Nodo: if the process dies mid-call, the open
//! row tells recovery which request may or may not have reached the Nodo, with its exact body
//! and idempotency key, so it can be resent identically. The channel password is never stored:
//! callers pass the request with it redacted ([`crate::nodo::redact_password`]).

use channel_api::Timestamp;
use pagopa::fault::Primitive;
use pagopa::soap::IdempotencyKey;
use rusqlite::{Row, params};

use super::{Store, StoreError, Tx, col};

/// A journal entry's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub i64);

/// How a call ended. The on-disk values are pinned by tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallResult {
    /// An application answer with outcome OK.
    Ok,
    /// An application answer with outcome KO (a fault bean).
    Ko,
    /// No answer: timeout, refused or reset connection, TLS failure.
    NoAnswer,
    /// An HTTP status without a readable SOAP body.
    HttpStatus,
    /// An answer that is not a valid reply (not XML, wrong message, SOAP Fault).
    BadAnswer,
}

impl CallResult {
    /// Every result.
    pub const ALL: [CallResult; 5] = [
        CallResult::Ok,
        CallResult::Ko,
        CallResult::NoAnswer,
        CallResult::HttpStatus,
        CallResult::BadAnswer,
    ];

    /// The on-disk value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Ok => "ok",
            CallResult::Ko => "ko",
            CallResult::NoAnswer => "no_answer",
            CallResult::HttpStatus => "http_status",
            CallResult::BadAnswer => "bad_answer",
        }
    }

    /// Parse an on-disk value.
    pub fn parse(s: &str) -> Option<CallResult> {
        CallResult::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What is known once a call is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedCall {
    /// How it ended.
    pub result: CallResult,
    /// The Nodo's `faultCode` on KO (or in a SOAP Fault's detail).
    pub fault_code: Option<String>,
    /// The HTTP status, when one was received.
    pub http_status: Option<u16>,
    /// What the classification says to do (`pagopa::fault::Action::code`).
    pub action: &'static str,
    /// The answer's body, when there was one.
    pub response_xml: Option<String>,
    /// A transport error's description, for operators.
    pub detail: Option<String>,
}

/// A journal entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Its identifier.
    pub id: CallId,
    /// The payment, if the call was about one (not for a verify).
    pub payment_id: Option<String>,
    /// The primitive.
    pub primitive: Primitive,
    /// The idempotency key sent.
    pub idempotency_key: Option<String>,
    /// The request body, password redacted.
    pub request_xml: String,
    /// When it was journaled (just before sending).
    pub started_at: Timestamp,
    /// When its fate was recorded; `None` while open.
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub result: Option<CallResult>,
    /// The fault code on KO.
    pub fault_code: Option<String>,
    /// The HTTP status.
    pub http_status: Option<u16>,
    /// The classification's action code.
    pub action: Option<String>,
    /// The answer.
    pub response_xml: Option<String>,
    /// Transport detail.
    pub detail: Option<String>,
}

const COLUMNS: &str = "id, payment_id, primitive, idempotency_key, request_xml, started_at, \
                       finished_at, result, fault_code, http_status, action, response_xml, detail";

fn from_row(r: &Row<'_>) -> Result<CallRecord, StoreError> {
    Ok(CallRecord {
        id: CallId(r.get(0)?),
        payment_id: r.get(1)?,
        primitive: col::parse("nodo_calls.primitive", r.get(2)?, |s| {
            Primitive::from_soap_action(s).ok_or(())
        })?,
        idempotency_key: r.get(3)?,
        request_xml: r.get(4)?,
        started_at: Timestamp::from_unix_millis(r.get(5)?),
        finished_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix_millis),
        result: col::parse_opt("nodo_calls.result", r.get(7)?, |s| {
            CallResult::parse(s).ok_or(())
        })?,
        fault_code: r.get(8)?,
        http_status: r
            .get::<_, Option<i64>>(9)?
            .and_then(|s| u16::try_from(s).ok()),
        action: r.get(10)?,
        response_xml: r.get(11)?,
        detail: r.get(12)?,
    })
}

impl Store {
    /// Journal a call about to be made. Call this, and let it succeed, before sending. A call
    /// with an effect (activation, outcome) returns once the row is on the disk; a verify
    /// (no effect) only once it is committed.
    pub fn begin_call(
        &self,
        payment_id: Option<&str>,
        primitive: Primitive,
        request_xml: &str,
        idempotency_key: Option<&IdempotencyKey>,
        now: Timestamp,
    ) -> Result<CallId, StoreError> {
        let begin = |c: &mut rusqlite::Connection| {
            Tx { c }.begin_call(payment_id, primitive, request_xml, idempotency_key, now)
        };
        if primitive == Primitive::VerifyPaymentNotice {
            self.write(begin)
        } else {
            self.write_synced(begin)
        }
    }

    /// Journal a whole call after the fact, in one write: for a call without an effect (a
    /// verify), whose row protects nothing before it is sent.
    pub fn record_call(
        &self,
        primitive: Primitive,
        request_xml: &str,
        started: Timestamp,
        call: &FinishedCall,
        now: Timestamp,
    ) -> Result<CallId, StoreError> {
        self.write(|c| Tx { c }.record_call(primitive, request_xml, started, call, now))
    }

    /// Record how an open call ended. A call is finished once only.
    pub fn finish_call(
        &self,
        id: CallId,
        call: &FinishedCall,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|c| Tx { c }.finish_call(id, call, now))
    }

    fn calls_where(&self, filter: &str, arg: Option<&str>) -> Result<Vec<CallRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM nodo_calls WHERE {filter} ORDER BY id"
            ))?;
            let mut rows = match arg {
                Some(a) => st.query([a])?,
                None => st.query([])?,
            };
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(from_row(r)?);
            }
            Ok(out)
        })
    }

    /// Calls journaled but never finished: the process stopped mid-call.
    pub fn open_calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        self.calls_where("finished_at IS NULL", None)
    }

    /// Every call about a payment, oldest first.
    pub fn calls_for_payment(&self, payment_id: &str) -> Result<Vec<CallRecord>, StoreError> {
        self.calls_where("payment_id = ?1", Some(payment_id))
    }

    /// Calls not tied to a payment (verifies), oldest first.
    pub fn calls_without_payment(&self) -> Result<Vec<CallRecord>, StoreError> {
        self.calls_where("payment_id IS NULL", None)
    }
}

impl Tx<'_> {
    /// Journal a call about to be made (see [`Store::begin_call`]).
    pub fn begin_call(
        &self,
        payment_id: Option<&str>,
        primitive: Primitive,
        request_xml: &str,
        idempotency_key: Option<&IdempotencyKey>,
        now: Timestamp,
    ) -> Result<CallId, StoreError> {
        self.c
            .prepare_cached(
                "INSERT INTO nodo_calls (payment_id, primitive, idempotency_key, request_xml,
                     started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                payment_id,
                primitive.soap_action(),
                idempotency_key.map(IdempotencyKey::as_str),
                request_xml,
                now.unix_millis()
            ])?;
        Ok(CallId(self.c.last_insert_rowid()))
    }

    /// Record how an open call ended. A call is finished once only.
    pub fn finish_call(
        &self,
        id: CallId,
        call: &FinishedCall,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        {
            let c = self.c;
            {
                let n = c
                    .prepare_cached(
                        "UPDATE nodo_calls SET finished_at = ?2, result = ?3, fault_code = ?4,
                        http_status = ?5, action = ?6, response_xml = ?7, detail = ?8
                 WHERE id = ?1 AND finished_at IS NULL",
                    )?
                    .execute(params![
                        id.0,
                        now.unix_millis(),
                        call.result.as_str(),
                        call.fault_code,
                        call.http_status,
                        call.action,
                        call.response_xml,
                        call.detail
                    ])?;
                if n == 0 {
                    return Err(StoreError::CallNotOpen(id.0));
                }
                Ok(())
            }
        }
    }

    /// Journal a whole call after the fact, in one write: for a call without an effect (a
    /// verify), whose row protects nothing before it is sent.
    pub fn record_call(
        &self,
        primitive: Primitive,
        request_xml: &str,
        started: Timestamp,
        call: &FinishedCall,
        now: Timestamp,
    ) -> Result<CallId, StoreError> {
        {
            let c = self.c;
            {
                c.prepare_cached(
                    "INSERT INTO nodo_calls (payment_id, primitive, request_xml, started_at,
                     finished_at, result, fault_code, http_status, action, response_xml, detail)
                 VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    primitive.soap_action(),
                    request_xml,
                    started.unix_millis(),
                    now.unix_millis(),
                    call.result.as_str(),
                    call.fault_code,
                    call.http_status,
                    call.action,
                    call.response_xml,
                    call.detail
                ])?;
                Ok(CallId(c.last_insert_rowid()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests_support::temp_store;

    #[test]
    fn result_values_are_pinned() {
        let pinned = [
            (CallResult::Ok, "ok"),
            (CallResult::Ko, "ko"),
            (CallResult::NoAnswer, "no_answer"),
            (CallResult::HttpStatus, "http_status"),
            (CallResult::BadAnswer, "bad_answer"),
        ];
        assert_eq!(pinned.len(), CallResult::ALL.len());
        for (r, s) in pinned {
            assert_eq!(r.as_str(), s);
            assert_eq!(CallResult::parse(s), Some(r));
        }
    }

    #[test]
    fn a_call_is_open_until_finished_once() {
        let store = temp_store("journal");
        let key = IdempotencyKey::new("01234567890", "AbCdEfGhIj").expect("key");
        let id = store
            .begin_call(
                None,
                Primitive::VerifyPaymentNotice,
                "<xml/>",
                Some(&key),
                Timestamp::from_unix_millis(10),
            )
            .expect("begin");
        let open = store.open_calls().expect("open");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, id);
        assert_eq!(open[0].primitive, Primitive::VerifyPaymentNotice);
        assert_eq!(
            open[0].idempotency_key.as_deref(),
            Some("01234567890_AbCdEfGhIj")
        );
        assert_eq!(open[0].result, None);

        let done = FinishedCall {
            result: CallResult::Ko,
            fault_code: Some("PPT_PAGAMENTO_DUPLICATO".into()),
            http_status: Some(200),
            action: "ALREADY_PAID",
            response_xml: Some("<res/>".into()),
            detail: None,
        };
        store
            .finish_call(id, &done, Timestamp::from_unix_millis(20))
            .expect("finish");
        assert!(store.open_calls().expect("open").is_empty());
        let all = store.calls_without_payment().expect("all");
        assert_eq!(all[0].result, Some(CallResult::Ko));
        assert_eq!(all[0].finished_at, Some(Timestamp::from_unix_millis(20)));
        assert_eq!(
            all[0].fault_code.as_deref(),
            Some("PPT_PAGAMENTO_DUPLICATO")
        );
        assert_eq!(
            store
                .finish_call(id, &done, Timestamp::from_unix_millis(30))
                .expect_err("twice")
                .code(),
            "STORE_CALL_NOT_OPEN"
        );
    }
}
