//! Talking to the Nodo: the [`NodoClient`] transport seam, and the [`Gateway`] that journals,
//! times, decodes and classifies every call.
//!
//! [`NodoClient`] moves bytes: it POSTs one SOAP envelope with the primitive's `SOAPAction`
//! and returns the HTTP status and body exactly as received ([`HttpReply`]), or
//! [`NodoError::NoAnswer`] when nothing came back. It knows nothing of payments, of the store
//! or of SOAP decoding. [`http::HttpNodoClient`] is the real one; tests and `collaudo` wrap or
//! replace it ([`record::RecordingClient`] keeps every raw exchange).
//!
//! [`Gateway`] wraps a client with what must surround every call: the journal row written
//! *before* the request leaves and completed *after* (invariant "durable before effect"), a
//! deadline, metrics, decoding of the raw answer, and the classification of the result into a
//! [`pagopa::fault::Action`]. Handlers, the outbox worker and the operator commands only ever
//! call the gateway.
//!
//! The journal keeps the request as sent, with the channel password masked, and the answer's
//! body as received (not re-encoded), with its HTTP status. A verify, which has no effect at
//! the Nodo, is journaled in one row after its answer; every other call before and after.

pub mod http;
pub mod record;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pagopa::fault::{self, Action, Fault, Primitive, TransportFailure};
use pagopa::soap::{
    ActivatePaymentNoticeRequest, ActivatePaymentNoticeResponse, ActivatePaymentNoticeV2Request,
    ActivatePaymentNoticeV2Response, ActivatedPayment, ActivatedPaymentV2, IdempotencyKey, Message,
    SendPaymentOutcomeRequest, SendPaymentOutcomeResponse, SendPaymentOutcomeV2Request,
    SendPaymentOutcomeV2Response, SoapError, VerifiedNotice, VerifyPaymentNoticeRequest,
    VerifyPaymentNoticeResponse,
};

use channel_api::Timestamp;

use crate::ambient::Clock;
use crate::metrics::Metrics;
use crate::store::{CallResult, FinishedCall, Store, StoreError, Tx};

/// Why a call produced no application answer. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodoError {
    /// No answer at all: connection refused or reset, TLS failure, DNS, a truncated reply.
    #[error("no answer from the Nodo: {0}")]
    NoAnswer(String),
    /// No answer within the deadline.
    #[error("no answer from the Nodo within {0:?}")]
    Timeout(Duration),
    /// An HTTP status without a readable SOAP body.
    #[error("HTTP status {status} from the Nodo")]
    HttpStatus {
        /// The status.
        status: u16,
        /// The body, if any (for the journal).
        body: Option<String>,
    },
    /// A body that is not the expected reply (not XML, wrong message, SOAP Fault).
    #[error("unreadable answer from the Nodo: {error}")]
    BadAnswer {
        /// Why it could not be read.
        #[source]
        error: SoapError,
        /// The body as received (for the journal).
        body: String,
    },
}

impl NodoError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            NodoError::NoAnswer(_) => "NODO_NO_ANSWER",
            NodoError::Timeout(_) => "NODO_TIMEOUT",
            NodoError::HttpStatus { .. } => "NODO_HTTP_STATUS",
            NodoError::BadAnswer { .. } => "NODO_BAD_ANSWER",
        }
    }

    /// What to do about it, per `pagopa`'s classification.
    pub fn action(&self, primitive: Primitive) -> Action {
        match self {
            NodoError::NoAnswer(_) | NodoError::Timeout(_) => {
                fault::classify_transport(primitive, TransportFailure::NoAnswer)
            }
            NodoError::HttpStatus { status, .. } => {
                fault::classify_transport(primitive, TransportFailure::HttpStatus(*status))
            }
            NodoError::BadAnswer { error, .. } => fault::classify_soap_error(primitive, error),
        }
    }
}

/// What came back over HTTP, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// The future a [`NodoClient`] returns.
pub type NodoFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, NodoError>> + Send + 'a>>;

/// Delivers SOAP envelopes to the Nodo. Implementations must be safe to call concurrently,
/// must report any HTTP status as a reply (only a missing answer is an error), and must not
/// retry on their own: retry policy belongs to the caller, who journals each attempt.
pub trait NodoClient: Send + Sync + fmt::Debug {
    /// POST `envelope` as `primitive` (which gives the `SOAPAction`).
    fn post<'a>(&'a self, primitive: Primitive, envelope: &'a str) -> NodoFuture<'a, HttpReply>;
}

/// An activation, in the generation of primitives our channel uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivateCall {
    /// activatePaymentNotice
    V1(ActivatePaymentNoticeRequest),
    /// activatePaymentNoticeV2
    V2(ActivatePaymentNoticeV2Request),
}

/// An outcome, in the generation of primitives our channel uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeCall {
    /// sendPaymentOutcome
    V1(SendPaymentOutcomeRequest),
    /// sendPaymentOutcomeV2
    V2(SendPaymentOutcomeV2Request),
}

/// The activation content common to V1 and V2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activated {
    /// From a V1 answer.
    V1(ActivatedPayment),
    /// From a V2 answer.
    V2(Box<ActivatedPaymentV2>),
}

impl Activated {
    /// `totalAmount`.
    pub fn total_amount(&self) -> pagopa::Amount {
        match self {
            Activated::V1(a) => a.total_amount,
            Activated::V2(a) => a.total_amount,
        }
    }
    /// `paymentToken`.
    pub fn payment_token(&self) -> &pagopa::soap::PaymentToken {
        match self {
            Activated::V1(a) => &a.payment_token,
            Activated::V2(a) => &a.payment_token,
        }
    }
    /// `creditorReferenceId` (IUV).
    pub fn iuv(&self) -> &pagopa::Iuv {
        match self {
            Activated::V1(a) => &a.creditor_reference_id,
            Activated::V2(a) => &a.creditor_reference_id,
        }
    }
    /// `companyName`.
    pub fn company_name(&self) -> Option<&str> {
        match self {
            Activated::V1(a) => a.company_name.as_ref().map(|t| t.as_str()),
            Activated::V2(a) => a.company_name.as_ref().map(|t| t.as_str()),
        }
    }
    /// `paymentDescription`.
    pub fn description(&self) -> Option<&str> {
        match self {
            Activated::V1(a) => a.payment_description.as_ref().map(|t| t.as_str()),
            Activated::V2(a) => a.payment_description.as_ref().map(|t| t.as_str()),
        }
    }
}

impl ActivateCall {
    /// The primitive.
    pub fn primitive(&self) -> Primitive {
        match self {
            ActivateCall::V1(_) => Primitive::ActivatePaymentNotice,
            ActivateCall::V2(_) => Primitive::ActivatePaymentNoticeV2,
        }
    }
    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        match self {
            ActivateCall::V1(r) => r.encode(),
            ActivateCall::V2(r) => r.encode(),
        }
    }
    /// The idempotency key.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        match self {
            ActivateCall::V1(r) => r.idempotency_key.as_ref(),
            ActivateCall::V2(r) => r.base.idempotency_key.as_ref(),
        }
    }
}

impl OutcomeCall {
    /// The primitive.
    pub fn primitive(&self) -> Primitive {
        match self {
            OutcomeCall::V1(_) => Primitive::SendPaymentOutcome,
            OutcomeCall::V2(_) => Primitive::SendPaymentOutcomeV2,
        }
    }
    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        match self {
            OutcomeCall::V1(r) => r.encode(),
            OutcomeCall::V2(r) => r.encode(),
        }
    }
    /// The idempotency key.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        match self {
            OutcomeCall::V1(r) => r.idempotency_key.as_ref(),
            OutcomeCall::V2(r) => r.idempotency_key.as_ref(),
        }
    }
}

/// What replaces the channel password in journaled and saved requests: eight characters, so a
/// masked envelope still satisfies `stPassword` (8..15) and validates against the schema.
pub const PASSWORD_MASK: &str = "********";

/// Replace the content of every `<password>` element with [`PASSWORD_MASK`], so that journaled
/// and saved requests never hold the channel password.
pub fn redact_password(xml: &str) -> String {
    const OPEN: &str = "<password>";
    const CLOSE: &str = "</password>";
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find(OPEN) {
        let after = start + OPEN.len();
        let Some(len) = rest[after..].find(CLOSE) else {
            break;
        };
        out.push_str(&rest[..after]);
        out.push_str(PASSWORD_MASK);
        rest = &rest[after + len..];
    }
    out.push_str(rest);
    out
}

/// How a journaled call ended, with what to do next.
#[derive(Debug)]
pub enum Reply<T> {
    /// Outcome OK, with its content.
    Ok(T),
    /// Outcome KO.
    Ko {
        /// The Nodo's fault.
        fault: Fault,
        /// What to do.
        action: Action,
    },
    /// No application answer.
    Failed {
        /// Why.
        error: NodoError,
        /// What to do.
        action: Action,
    },
}

impl<T> Reply<T> {
    /// The classification's action (`Done` for an OK).
    pub fn action(&self) -> Action {
        match self {
            Reply::Ok(_) => Action::Done,
            Reply::Ko { action, .. } | Reply::Failed { action, .. } => *action,
        }
    }

    /// A short description for operators: `OK`, the fault code, or the transport error.
    pub fn summary(&self) -> String {
        match self {
            Reply::Ok(_) => "OK".to_owned(),
            Reply::Ko { fault, .. } => match &fault.original_fault_code {
                Some(o) => format!("{} ({})", fault.fault_code, o),
                None => fault.fault_code.to_string(),
            },
            Reply::Failed { error, .. } => error.to_string(),
        }
    }
}

/// The per-primitive deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// verifyPaymentNotice.
    pub verify: Duration,
    /// `activatePaymentNotice[V2]`.
    pub activate: Duration,
    /// `sendPaymentOutcome[V2]`.
    pub outcome: Duration,
}

/// An application answer: the content of an OK, or the fault of a KO.
#[derive(Debug)]
pub(crate) enum Answer<T> {
    /// `outcome` OK.
    Ok(T),
    /// `outcome` KO.
    Ko(Fault),
}

impl<T> From<Result<T, Fault>> for Answer<T> {
    fn from(r: Result<T, Fault>) -> Self {
        match r {
            Ok(t) => Answer::Ok(t),
            Err(f) => Answer::Ko(f),
        }
    }
}

/// Read an HTTP reply as the answer to a request: `decode` reads the expected response
/// element. A SOAP Fault is an unreadable answer whatever the status (SOAP 1.1 sends faults with
/// 500); a readable answer counts whatever the status; anything else is a bad answer on a 2xx
/// and a bare HTTP status otherwise.
pub(crate) fn interpret<T>(
    reply: &HttpReply,
    decode: impl FnOnce(&str) -> Result<Answer<T>, SoapError>,
) -> Result<Answer<T>, NodoError> {
    let status = reply.status;
    let lossy = || String::from_utf8_lossy(&reply.body).into_owned();
    let Ok(text) = std::str::from_utf8(&reply.body) else {
        return Err(NodoError::HttpStatus {
            status,
            body: Some(lossy()),
        });
    };
    match decode(text) {
        Ok(answer) => Ok(answer),
        Err(error @ SoapError::Fault(_)) => Err(NodoError::BadAnswer {
            error,
            body: text.to_owned(),
        }),
        Err(error) if (200..300).contains(&status) => Err(NodoError::BadAnswer {
            error,
            body: text.to_owned(),
        }),
        Err(_) => Err(NodoError::HttpStatus {
            status,
            body: (!text.is_empty()).then(|| text.to_owned()),
        }),
    }
}

fn decode_verify(xml: &str) -> Result<Answer<VerifiedNotice>, SoapError> {
    VerifyPaymentNoticeResponse::decode(xml).map(|r| r.result.into())
}

fn decode_activate_v1(xml: &str) -> Result<Answer<Activated>, SoapError> {
    ActivatePaymentNoticeResponse::decode(xml).map(|r| match r.result {
        Ok(a) => Answer::Ok(Activated::V1(a)),
        Err(f) => Answer::Ko(f),
    })
}

fn decode_activate_v2(xml: &str) -> Result<Answer<Activated>, SoapError> {
    ActivatePaymentNoticeV2Response::decode(xml).map(|r| match r.result {
        Ok(a) => Answer::Ok(Activated::V2(Box::new(a))),
        Err(f) => Answer::Ko(f),
    })
}

fn decode_outcome_v1(xml: &str) -> Result<Answer<()>, SoapError> {
    SendPaymentOutcomeResponse::decode(xml).map(|r| r.result.into())
}

fn decode_outcome_v2(xml: &str) -> Result<Answer<()>, SoapError> {
    SendPaymentOutcomeV2Response::decode(xml).map(|r| r.result.into())
}

/// A [`NodoClient`] with journaling, deadlines, metrics and classification.
#[derive(Debug, Clone)]
pub struct Gateway {
    client: Arc<dyn NodoClient>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    deadlines: Deadlines,
}

impl Gateway {
    /// A gateway over `client`.
    pub fn new(
        client: Arc<dyn NodoClient>,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        deadlines: Deadlines,
    ) -> Gateway {
        Gateway {
            client,
            store,
            clock,
            metrics,
            deadlines,
        }
    }

    /// verifyPaymentNotice, journaled without a payment.
    pub async fn verify(
        &self,
        request: &VerifyPaymentNoticeRequest,
    ) -> Result<Reply<VerifiedNotice>, StoreError> {
        self.journaled(
            None,
            Primitive::VerifyPaymentNotice,
            request.encode(),
            None,
            self.deadlines.verify,
            decode_verify,
            |_| Ok(()),
            |_, _, (), _| Ok(()),
        )
        .await
        .map(|(reply, ())| reply)
    }

    /// `activatePaymentNotice[V2]` for payment `payment_id` (`None` only for `collaudo`).
    pub async fn activate(
        &self,
        payment_id: Option<&str>,
        request: &ActivateCall,
    ) -> Result<Reply<Activated>, StoreError> {
        self.activate_with(payment_id, request, |_| Ok(()), |_, _, (), _| Ok(()))
            .await
            .map(|(reply, ())| reply)
    }

    /// [`Gateway::activate`], with `before` made in the same transaction as the journal's row
    /// written before sending, and `after` (given the answer) in the same transaction as its
    /// completion: a state change and the journal entry that justifies it can never be
    /// separated, and cost one commit.
    pub async fn activate_with<B, R>(
        &self,
        payment_id: Option<&str>,
        request: &ActivateCall,
        before: impl FnOnce(&Tx<'_>) -> Result<B, StoreError> + Send + 'static,
        after: impl FnOnce(&Tx<'_>, &Reply<Activated>, B, Timestamp) -> Result<R, StoreError>
        + Send
        + 'static,
    ) -> Result<(Reply<Activated>, R), StoreError>
    where
        B: Send + 'static,
        R: Send + 'static,
    {
        let decode = match request {
            ActivateCall::V1(_) => decode_activate_v1,
            ActivateCall::V2(_) => decode_activate_v2,
        };
        self.journaled(
            payment_id,
            request.primitive(),
            request.encode(),
            request.idempotency_key().cloned(),
            self.deadlines.activate,
            decode,
            before,
            after,
        )
        .await
    }

    /// `sendPaymentOutcome[V2]` for payment `payment_id` (`None` only for `collaudo`).
    pub async fn send_outcome(
        &self,
        payment_id: Option<&str>,
        request: &OutcomeCall,
    ) -> Result<Reply<()>, StoreError> {
        self.send_outcome_with(payment_id, request, |_| Ok(()), |_, _, (), _| Ok(()))
            .await
            .map(|(reply, ())| reply)
    }

    /// [`Gateway::send_outcome`] with writes in the journal's transactions, as
    /// [`Gateway::activate_with`].
    pub async fn send_outcome_with<B, R>(
        &self,
        payment_id: Option<&str>,
        request: &OutcomeCall,
        before: impl FnOnce(&Tx<'_>) -> Result<B, StoreError> + Send + 'static,
        after: impl FnOnce(&Tx<'_>, &Reply<()>, B, Timestamp) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<(Reply<()>, R), StoreError>
    where
        B: Send + 'static,
        R: Send + 'static,
    {
        let decode = match request {
            OutcomeCall::V1(_) => decode_outcome_v1,
            OutcomeCall::V2(_) => decode_outcome_v2,
        };
        self.journaled(
            payment_id,
            request.primitive(),
            request.encode(),
            request.idempotency_key().cloned(),
            self.deadlines.outcome,
            decode,
            before,
            after,
        )
        .await
    }

    /// Journal (with `before`), send within `deadline`, journal the result (with `after`),
    /// classify.
    #[allow(clippy::too_many_arguments)]
    async fn journaled<T, B, R>(
        &self,
        payment_id: Option<&str>,
        primitive: Primitive,
        request_xml: String,
        key: Option<IdempotencyKey>,
        deadline: Duration,
        decode: fn(&str) -> Result<Answer<T>, SoapError>,
        before: impl FnOnce(&Tx<'_>) -> Result<B, StoreError> + Send + 'static,
        after: impl FnOnce(&Tx<'_>, &Reply<T>, B, Timestamp) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<(Reply<T>, R), StoreError>
    where
        T: Send + 'static,
        B: Send + 'static,
        R: Send + 'static,
    {
        let redacted = redact_password(&request_xml);
        let started = self.clock.now();
        if primitive == Primitive::VerifyPaymentNotice {
            // No effect at the Nodo: one row, written after the answer.
            let (reply, finished) = self
                .exchange(primitive, &request_xml, deadline, decode)
                .await;
            let now = self.clock.now();
            return self
                .store
                .call(move |s| {
                    s.write_tx(false, |tx| {
                        let b = before(tx)?;
                        tx.record_call(primitive, &redacted, started, &finished, now)?;
                        after(tx, &reply, b, now)
                    })
                    .map(|r| (reply, r))
                })
                .await;
        }
        // An effect: the row is on the disk before the request leaves, completed after.
        let payment = payment_id.map(str::to_owned);
        let (id, b) = self
            .store
            .call(move |s| {
                s.write_tx(true, |tx| {
                    let b = before(tx)?;
                    let id = tx.begin_call(
                        payment.as_deref(),
                        primitive,
                        &redacted,
                        key.as_ref(),
                        started,
                    )?;
                    Ok((id, b))
                })
            })
            .await?;
        let (reply, finished) = self
            .exchange(primitive, &request_xml, deadline, decode)
            .await;
        let now = self.clock.now();
        self.store
            .call(move |s| {
                s.write_tx(false, |tx| {
                    tx.finish_call(id, &finished, now)?;
                    after(tx, &reply, b, now)
                })
                .map(|r| (reply, r))
            })
            .await
    }

    /// Send within `deadline`, read the answer, classify it; what the journal records of it.
    async fn exchange<T>(
        &self,
        primitive: Primitive,
        request_xml: &str,
        deadline: Duration,
        decode: fn(&str) -> Result<Answer<T>, SoapError>,
    ) -> (Reply<T>, FinishedCall) {
        let timer = Instant::now();
        let sent =
            match tokio::time::timeout(deadline, self.client.post(primitive, request_xml)).await {
                Ok(sent) => sent,
                Err(_) => Err(NodoError::Timeout(deadline)),
            };
        let took = timer.elapsed();
        let http_status = sent.as_ref().ok().map(|r| r.status);
        let answer = sent.and_then(|reply| {
            interpret(&reply, decode).map(|a| (a, String::from_utf8_lossy(&reply.body).into()))
        });
        let (reply, finished) = match answer {
            Ok((Answer::Ok(content), xml)) => (
                Reply::Ok(content),
                FinishedCall {
                    result: CallResult::Ok,
                    fault_code: None,
                    http_status,
                    action: Action::Done.code(),
                    response_xml: Some(xml),
                    detail: None,
                },
            ),
            Ok((Answer::Ko(fault), xml)) => {
                let action = fault::classify(primitive, &fault);
                let finished = FinishedCall {
                    result: CallResult::Ko,
                    fault_code: Some(fault.fault_code.as_str().to_owned()),
                    http_status,
                    action: action.code(),
                    response_xml: Some(xml),
                    detail: fault
                        .original_fault_code
                        .as_ref()
                        .map(|c| format!("originalFaultCode {}", c.as_str())),
                };
                (Reply::Ko { fault, action }, finished)
            }
            Err(error) => {
                let action = error.action(primitive);
                let (result, body, fault_code) = match &error {
                    NodoError::NoAnswer(_) | NodoError::Timeout(_) => {
                        (CallResult::NoAnswer, None, None)
                    }
                    NodoError::HttpStatus { body, .. } => {
                        (CallResult::HttpStatus, body.clone(), None)
                    }
                    NodoError::BadAnswer { error, body } => {
                        let code = match error {
                            SoapError::Fault(f) => {
                                f.detail.as_ref().map(|d| d.fault_code.as_str().to_owned())
                            }
                            _ => None,
                        };
                        (CallResult::BadAnswer, Some(body.clone()), code)
                    }
                };
                let finished = FinishedCall {
                    result,
                    fault_code,
                    http_status,
                    action: action.code(),
                    response_xml: body,
                    detail: Some(error.to_string()),
                };
                (Reply::Failed { error, action }, finished)
            }
        };
        self.metrics
            .nodo_call(primitive.soap_action(), finished.result.as_str(), took);
        (reply, finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagopa::soap::{FaultCode, SoapFault, SoapFaultCode};

    #[test]
    fn password_is_redacted_everywhere() {
        let xml =
            "<a><idPSP>X</idPSP><password>s3cr&amp;t!</password><b/><password>two</password></a>";
        assert_eq!(
            redact_password(xml),
            "<a><idPSP>X</idPSP><password>********</password><b/><password>********</password></a>"
        );
        assert_eq!(redact_password("<password>unclosed"), "<password>unclosed");
        assert_eq!(redact_password("none"), "none");
    }

    #[test]
    fn transport_errors_classify_as_pagopa_says() {
        let p = Primitive::ActivatePaymentNotice;
        assert_eq!(
            NodoError::Timeout(Duration::from_secs(1)).action(p),
            Action::ResendSame
        );
        assert_eq!(
            NodoError::NoAnswer("reset".into()).action(p),
            Action::ResendSame
        );
        assert_eq!(
            NodoError::HttpStatus {
                status: 401,
                body: None
            }
            .action(p),
            Action::Misconfigured
        );
        assert_eq!(
            NodoError::HttpStatus {
                status: 503,
                body: None
            }
            .action(p),
            Action::ResendSame
        );
    }

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn raw_replies_are_read_by_status_and_content() {
        let ok = SendPaymentOutcomeResponse::ok(()).encode();
        assert!(matches!(
            interpret(&reply(200, &ok), decode_outcome_v1),
            Ok(Answer::Ok(()))
        ));

        let ko = SendPaymentOutcomeResponse::ko(Fault::new(
            FaultCode::PptTokenScaduto,
            "x",
            "NodoDeiPagamentiSPC",
        ))
        .encode();
        match interpret(&reply(200, &ko), decode_outcome_v1) {
            Ok(Answer::Ko(f)) => assert_eq!(f.fault_code, FaultCode::PptTokenScaduto),
            other => panic!("expected a KO, got {other:?}"),
        }

        // A SOAP Fault with HTTP 500: classified from the fault.
        let mut sf = SoapFault::new(SoapFaultCode::Server, "boom");
        let fault_xml = sf.encode();
        let e = interpret(&reply(500, &fault_xml), decode_outcome_v1).expect_err("fault");
        assert_eq!(e.code(), "NODO_BAD_ANSWER");
        assert_eq!(e.action(Primitive::SendPaymentOutcome), Action::ResendSame);
        sf.code = SoapFaultCode::Client;
        let e = interpret(&reply(500, &sf.encode()), decode_outcome_v1).expect_err("fault");
        assert_eq!(e.action(Primitive::SendPaymentOutcome), Action::Alert);

        // APIM's 401 JSON: a status, our configuration.
        let e = interpret(&reply(401, "{\"statusCode\":401}"), decode_verify).expect_err("401");
        assert!(matches!(e, NodoError::HttpStatus { status: 401, .. }));
        assert_eq!(
            e.action(Primitive::VerifyPaymentNotice),
            Action::Misconfigured
        );

        // A 200 with an HTML page from a proxy: unreadable, resend.
        let e = interpret(&reply(200, "<html>proxy</html>"), decode_verify).expect_err("html");
        assert_eq!(e.code(), "NODO_BAD_ANSWER");
        assert_eq!(e.action(Primitive::VerifyPaymentNotice), Action::ResendSame);

        // The wrong message: unreadable.
        let e = interpret(&reply(200, &ok), decode_verify).expect_err("wrong body");
        assert_eq!(e.code(), "NODO_BAD_ANSWER");

        // Not UTF-8.
        let raw = HttpReply {
            status: 200,
            body: Bytes::from_static(&[0xff, 0xfe]),
        };
        let e = interpret(&raw, decode_verify).expect_err("binary");
        assert!(matches!(e, NodoError::HttpStatus { status: 200, .. }));
    }
}
