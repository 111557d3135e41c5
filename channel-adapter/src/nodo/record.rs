//! A [`NodoClient`] that keeps every raw exchange, for `collaudo` (pagoPA's certification wants
//! each SOAP request and response as sent and received) and for tests that inspect the wire.

use std::sync::{Arc, Mutex};

use pagopa::fault::Primitive;

use super::{HttpReply, NodoClient, NodoFuture};

/// One request and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Order of sending, from 1.
    pub seq: u64,
    /// The primitive (the `SOAPAction`).
    pub primitive: Primitive,
    /// The envelope exactly as sent (with the channel password).
    pub request: String,
    /// The reply, or why there was none (the error's text; "abandoned" when the caller
    /// stopped waiting first, e.g. at its deadline).
    pub reply: Result<HttpReply, String>,
}

#[derive(Debug, Default)]
struct Log {
    next: u64,
    exchanges: Vec<Exchange>,
}

/// Records the exchanges of the client it wraps.
#[derive(Debug, Clone)]
pub struct RecordingClient {
    inner: Arc<dyn NodoClient>,
    log: Arc<Mutex<Log>>,
}

impl RecordingClient {
    /// Record what goes through `inner`.
    pub fn new(inner: Arc<dyn NodoClient>) -> RecordingClient {
        RecordingClient {
            inner,
            log: Arc::new(Mutex::new(Log::default())),
        }
    }

    /// The exchanges recorded since the last call, oldest first.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut self.lock().exchanges)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl NodoClient for RecordingClient {
    fn post<'a>(&'a self, primitive: Primitive, envelope: &'a str) -> NodoFuture<'a, HttpReply> {
        // Logged before sending, so a request whose caller gives up still appears.
        let seq = {
            let mut log = self.lock();
            log.next += 1;
            let seq = log.next;
            log.exchanges.push(Exchange {
                seq,
                primitive,
                request: envelope.to_owned(),
                reply: Err("abandoned".to_owned()),
            });
            seq
        };
        Box::pin(async move {
            let reply = self.inner.post(primitive, envelope).await;
            if let Some(e) = self.lock().exchanges.iter_mut().find(|e| e.seq == seq) {
                e.reply = match &reply {
                    Ok(r) => Ok(r.clone()),
                    Err(e) => Err(e.to_string()),
                };
            }
            reply
        })
    }
}
