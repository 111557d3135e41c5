//! The HTTP face of the simulator: the Nodo's `nodeForPsp` SOAP endpoint and a JSON admin API,
//! on axum.
//!
//! One mutex guards the whole state (Nodo, fault plan, dice, clock offset); a request holds it
//! only to decide its faults and run the state machine, never while sleeping or encoding, so
//! the hot path is decode → lock → handle → unlock → encode.
//!
//! The SOAP endpoint checks, in the order APIM and the Nodo do: the subscription key (HTTP 401
//! as APIM answers), the XML (`PPT_SINTASSI_EXTRAXSD`), the SOAPAction (`PPT_SOAPACTION_ERRATA`),
//! then the primitive's own rules.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pagopa::fault::{FaultCode, Primitive};
use pagopa::soap::pa::PaSendRtV2Request;
use pagopa::soap::{self, Message, SoapFault, SoapFaultCode};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::catalogue::CatalogueError;
use crate::clock::{Millis, rome_date, rome_datetime, wall_clock};
use crate::config::{Config, ConfigError};
use crate::faults::FaultPlan;
use crate::ids::{Rng, SeededTokens};
use crate::nodo::{Nodo, NodoError, ReceiptRecord, ko, nodo_fault};

/// The path of the SOAP endpoint (`/` and the UAT path `/nodo-auth/node-for-psp/v1` work too).
pub const SOAP_PATH: &str = "/nodo/node-for-psp/v1";

/// Why the simulator could not start. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A configuration value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The catalogue could not be loaded or generated.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The Nodo could not be built from the catalogue and settings.
    #[error(transparent)]
    Nodo(#[from] NodoError),
    /// The listening socket could not be opened.
    #[error("impossibile ascoltare su {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl StartError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::Config(e) => e.code(),
            StartError::Catalogue(e) => e.code(),
            StartError::Nodo(e) => e.code(),
            StartError::Bind { .. } => "START_BIND",
        }
    }
}

/// Everything behind the mutex.
#[derive(Debug)]
struct Inner {
    nodo: Nodo,
    faults: FaultPlan,
    initial_faults: FaultPlan,
    rng: Rng,
    clock_offset_ms: Millis,
}

impl Inner {
    fn now(&self) -> Millis {
        wall_clock().saturating_add(self.clock_offset_ms)
    }
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    subscription_keys: Vec<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters to a simulator; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime stops; call
/// [`Simulator::shutdown`] to stop it.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Simulator {
    /// Load the catalogue, build the Nodo, bind `config.listen` and serve in the background.
    pub async fn start(config: Config) -> Result<Simulator, StartError> {
        config.validate()?;
        let settings = config.settings()?;
        let seed = config.seed.unwrap_or_else(clock_seed);
        let catalogue = match (&config.catalogue_data, &config.catalogue) {
            (Some(c), _) => c.clone(),
            (None, Some(path)) => crate::catalogue::Catalogue::load(path)?,
            (None, None) => {
                let reference = match config.reference_date()? {
                    Some(d) => d,
                    None => rome_date(wall_clock()).ok_or_else(|| ConfigError::Invalid {
                        field: "demo_reference_date".to_owned(),
                        reason: "data odierna non rappresentabile".to_owned(),
                    })?,
                };
                crate::demo::catalogue(seed, reference)?
            }
        };
        let nodo = Nodo::new(settings, catalogue, Box::new(SeededTokens::new(seed)))?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                nodo,
                faults: config.faults.clone(),
                initial_faults: config.faults.clone(),
                rng: Rng::new(seed ^ 0x6661_756c_7473),
                clock_offset_ms: 0,
            }),
            subscription_keys: config.subscription_keys.clone(),
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let app = router(Arc::clone(&shared), config.max_body_bytes);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, seed, "nodo-sim in ascolto");
        Ok(Simulator {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the SOAP endpoint, e.g. `http://127.0.0.1:40123/nodo/node-for-psp/v1`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{SOAP_PATH}", self.addr)
    }

    /// Move simulated time forward by `ms` (what `POST /admin/clock/advance` does).
    pub fn advance_clock(&self, ms: Millis) {
        let mut g = self.shared.lock();
        g.clock_offset_ms = g.clock_offset_ms.saturating_add(ms);
    }

    /// Replace the fault plan (what `PUT /admin/faults` does).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.shared.lock().faults = plan;
    }

    /// The receipts produced so far, the most recent `max_receipts` of them (what
    /// `GET /admin/receipts` lists).
    pub fn receipts(&self) -> Vec<ReceiptRecord> {
        self.shared.lock().nodo.receipts().iter().cloned().collect()
    }

    /// How many receipts were produced since the start or the last reset, dropped ones
    /// included.
    pub fn receipts_produced(&self) -> u64 {
        self.shared.lock().nodo.receipts_produced()
    }

    /// Back to the initial state (what `POST /admin/reset` does).
    pub fn reset(&self) {
        reset(&mut self.shared.lock());
    }

    /// Stop accepting connections, finish the requests in flight, and wait for the server.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// A seed that differs between runs: the low bits of the clock's nanoseconds (the truncation
/// is the point) mixed with the process id.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32))
        .unwrap_or(1)
}

fn reset(inner: &mut Inner) {
    inner.nodo.reset();
    inner.faults = inner.initial_faults.clone();
    inner.clock_offset_ms = 0;
}

fn router(shared: Arc<Shared>, max_body: usize) -> Router {
    Router::new()
        .route("/", post(soap_endpoint))
        .route(SOAP_PATH, post(soap_endpoint))
        .route("/nodo-auth/node-for-psp/v1", post(soap_endpoint))
        .route("/health", get(|| async { "ok" }))
        .route("/admin/receipts", get(admin_receipts))
        .route(
            "/admin/faults",
            get(admin_get_faults)
                .put(admin_put_faults)
                .delete(admin_delete_faults),
        )
        .route("/admin/reset", post(admin_reset))
        .route("/admin/notices", get(admin_notices))
        .route("/admin/scenarios", get(admin_scenarios))
        .route("/admin/clock", get(admin_clock))
        .route("/admin/clock/advance", post(admin_clock_advance))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// SOAP

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// APIM's answer to a missing or wrong subscription key.
fn unauthorized(missing: bool) -> Response {
    let message = if missing {
        "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
    } else {
        "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
    };
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({ "statusCode": 401, "message": message })),
    )
        .into_response()
}

fn check_key(shared: &Shared, headers: &HeaderMap, query: Option<&str>) -> Option<Response> {
    if shared.subscription_keys.is_empty() {
        return None;
    }
    let given = headers
        .get("ocp-apim-subscription-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(query, "subscription-key"));
    match given {
        None => Some(unauthorized(true)),
        Some(k) if shared.subscription_keys.iter().any(|s| s == k) => None,
        Some(_) => Some(unauthorized(false)),
    }
}

/// A request that could not be read: KO `PPT_SINTASSI_EXTRAXSD` in the response element of the
/// SOAPAction, or a SOAP Fault carrying the same fault bean when the action is unknown too.
fn syntax_error(action: Option<Primitive>, detail: &str) -> Response {
    let fault = nodo_fault(FaultCode::PptSintassiExtraxsd, detail);
    match action {
        Some(p) => xml(StatusCode::OK, ko(p, fault).encode()),
        None => {
            let mut f = SoapFault::new(SoapFaultCode::Client, "PPT_SINTASSI_EXTRAXSD");
            f.detail = Some(fault);
            xml(StatusCode::INTERNAL_SERVER_ERROR, f.encode())
        }
    }
}

/// A response body that fails at once: hyper closes the connection without a complete answer,
/// which is what a client sees when the Nodo's answer is lost.
#[derive(Debug)]
struct Dropped;

impl http_body::Body for Dropped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "risposta scartata (drop_after_commit)",
        ))))
    }
}

async fn soap_endpoint(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = check_key(&shared, &headers, uri.query()) {
        return refused;
    }
    let action_text = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(uri.query(), "soapAction"));
    let action = action_text.and_then(Primitive::from_soap_action);
    let Ok(text) = std::str::from_utf8(&body) else {
        return syntax_error(action, "il corpo della richiesta non e' UTF-8");
    };
    let request = match soap::decode_request(text) {
        Ok(r) => r,
        Err(e) => return syntax_error(action, &format!("{} ({})", e, e.code())),
    };
    let primitive = request.primitive();
    if action != Some(primitive) {
        let fault = nodo_fault(
            FaultCode::PptSoapactionErrata,
            format!(
                "SOAPAction {:?} non corrisponde a {}",
                action_text.unwrap_or(""),
                primitive.request_element()
            ),
        );
        return xml(StatusCode::OK, ko(primitive, fault).encode());
    }
    let (decision, reply) = {
        let mut guard = shared.lock();
        let inner = &mut *guard;
        let decision = inner.faults.decide(primitive, &mut inner.rng);
        let reply = if decision.http_5xx.is_none() {
            let now = inner.now();
            Some(inner.nodo.handle(&request, now))
        } else {
            None
        };
        (decision, reply)
    };
    let wait = decision
        .latency_ms
        .saturating_add(reply.as_ref().map_or(0, |r| r.delay_ms));
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    // No reply means the fault plan chose a 5xx: the request was not processed.
    let Some(reply) = reply else {
        let status = decision
            .http_5xx
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        tracing::info!(
            primitive = primitive.soap_action(),
            status = status.as_u16(),
            "guasto iniettato: HTTP 5xx"
        );
        return (status, "Service temporarily unavailable (nodo-sim)").into_response();
    };
    if decision.drop_after_commit {
        tracing::info!(
            primitive = primitive.soap_action(),
            "guasto iniettato: risposta scartata dopo il commit"
        );
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(Body::new(Dropped))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        let outcome = reply
            .response
            .fault()
            .map_or("OK", |f| f.fault_code.as_str());
        tracing::debug!(primitive = primitive.soap_action(), outcome, "risposta");
    }
    xml(StatusCode::OK, reply.response.encode())
}

// ---------------------------------------------------------------------------------------------
// Admin API

fn bad_request(code: &str, message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "code": code, "message": message.to_string() })),
    )
        .into_response()
}

#[derive(Debug, Serialize)]
struct StationJson {
    id_pa: String,
    id_broker_pa: String,
    id_station: String,
}

#[derive(Debug, Serialize)]
struct TransferJson {
    id_transfer: u8,
    amount: String,
    fiscal_code_pa: String,
    iban: Option<String>,
    remittance_information: String,
    transfer_category: String,
}

#[derive(Debug, Serialize)]
struct ReceiptJson {
    seq: u64,
    produced_at: Option<String>,
    late: bool,
    fdr_code: u8,
    receipt_id: String,
    notice_number: String,
    fiscal_code: String,
    creditor_reference_id: String,
    payment_amount: String,
    description: String,
    company_name: String,
    id_psp: String,
    id_channel: String,
    payment_method: Option<String>,
    fee: Option<String>,
    payment_date_time: Option<String>,
    application_date: Option<String>,
    transfer_date: Option<String>,
    station: StationJson,
    transfers: Vec<TransferJson>,
    /// The paSendRTV2 request the Nodo would send the station.
    pa_send_rt_v2: String,
}

fn receipt_json(r: &ReceiptRecord) -> ReceiptJson {
    let rc = &r.receipt;
    ReceiptJson {
        seq: r.seq,
        produced_at: rome_datetime(r.at).map(|d| d.to_string()),
        late: r.late,
        fdr_code: r.fdr_code(),
        receipt_id: rc.receipt_id.to_string(),
        notice_number: rc.notice_number.to_string(),
        fiscal_code: rc.fiscal_code.to_string(),
        creditor_reference_id: rc.creditor_reference_id.to_string(),
        payment_amount: rc.payment_amount.to_string(),
        description: rc.description.to_string(),
        company_name: rc.company_name.to_string(),
        id_psp: rc.id_psp.to_string(),
        id_channel: rc.id_channel.to_string(),
        payment_method: rc.payment_method.as_ref().map(ToString::to_string),
        fee: rc.fee.map(|f| f.to_string()),
        payment_date_time: rc.payment_date_time.map(|d| d.to_string()),
        application_date: rc.application_date.map(|d| d.to_string()),
        transfer_date: rc.transfer_date.map(|d| d.to_string()),
        station: StationJson {
            id_pa: r.station.id_pa.to_string(),
            id_broker_pa: r.station.id_broker_pa.to_string(),
            id_station: r.station.id_station.to_string(),
        },
        transfers: rc
            .transfers
            .iter()
            .map(|t| TransferJson {
                id_transfer: t.id_transfer.get(),
                amount: t.amount.get().to_string(),
                fiscal_code_pa: t.fiscal_code_pa.to_string(),
                iban: match &t.destination {
                    soap::pa::ReceiptDestination::Iban(i) => Some(i.to_string()),
                    _ => None,
                },
                remittance_information: t.remittance_information.to_string(),
                transfer_category: t.transfer_category.to_string(),
            })
            .collect(),
        pa_send_rt_v2: PaSendRtV2Request {
            station: r.station.clone(),
            receipt: rc.clone(),
        }
        .encode(),
    }
}

#[derive(Debug, Deserialize)]
struct ReceiptsQuery {
    /// Only receipts with `seq` greater than this.
    since: Option<u64>,
}

async fn admin_receipts(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ReceiptsQuery>,
) -> Response {
    let since = q.since.unwrap_or(0);
    let records: Vec<ReceiptRecord> = {
        let g = shared.lock();
        let kept = g.nodo.receipts();
        // `seq` counts from 1 without gaps; the oldest kept one has `produced - kept + 1`.
        let dropped = g.nodo.receipts_produced().saturating_sub(kept.len() as u64);
        let from = usize::try_from(since.saturating_sub(dropped))
            .unwrap_or(usize::MAX)
            .min(kept.len());
        kept.range(from..).cloned().collect()
    };
    axum::Json(records.iter().map(receipt_json).collect::<Vec<_>>()).into_response()
}

async fn admin_get_faults(State(shared): State<Arc<Shared>>) -> Response {
    let plan = shared.lock().faults.clone();
    axum::Json(plan).into_response()
}

async fn admin_put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultPlan>(&body) {
        Ok(plan) => {
            tracing::info!(?plan, "piano dei guasti aggiornato");
            shared.lock().faults = plan.clone();
            axum::Json(plan).into_response()
        }
        Err(e) => bad_request("ADMIN_BAD_FAULTS", e),
    }
}

async fn admin_delete_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().faults = FaultPlan::none();
    axum::Json(FaultPlan::none()).into_response()
}

async fn admin_reset(State(shared): State<Arc<Shared>>) -> Response {
    reset(&mut shared.lock());
    axum::Json(serde_json::json!({ "reset": true })).into_response()
}

#[derive(Debug, Deserialize)]
struct NoticesQuery {
    state: Option<String>,
    creditor: Option<String>,
    service: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

#[derive(Debug, Serialize)]
struct NoticeJson {
    fiscal_code: String,
    company_name: String,
    notice_number: String,
    notice_number_grouped: String,
    iuv: String,
    service: Option<String>,
    description: String,
    office_name: Option<String>,
    amount: String,
    amount_cents: u64,
    due_date: String,
    state: &'static str,
    transfers: usize,
    /// The payload of the notice's QR code (`PAGOPA|002|...`).
    qr_code: String,
}

async fn admin_notices(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<NoticesQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(100);
    let g = shared.lock();
    let now = g.now();
    let list: Vec<NoticeJson> = g
        .nodo
        .notices(now)
        .filter(|v| q.state.as_deref().is_none_or(|s| s == v.state.as_str()))
        .filter(|v| {
            q.creditor
                .as_deref()
                .is_none_or(|c| c == v.entry.creditor.as_str())
        })
        .filter(|v| {
            q.service.as_deref().is_none_or(|s| {
                v.entry
                    .notice
                    .service
                    .as_ref()
                    .is_some_and(|x| x.as_str().eq_ignore_ascii_case(s))
            })
        })
        .skip(q.offset.unwrap_or(0))
        .take(limit)
        .map(|v| {
            let n = &v.entry.notice;
            let amount = n.amount();
            NoticeJson {
                fiscal_code: v.entry.creditor.to_string(),
                company_name: v.creditor.company_name.to_string(),
                notice_number: v.entry.notice_number.to_string(),
                notice_number_grouped: v.entry.notice_number.grouped(),
                iuv: v.entry.notice_number.iuv().to_string(),
                service: n.service.as_ref().map(ToString::to_string),
                description: n.description.to_string(),
                office_name: n
                    .office_name
                    .as_ref()
                    .or(v.creditor.office_name.as_ref())
                    .map(ToString::to_string),
                amount: amount.to_string(),
                amount_cents: amount.cents(),
                due_date: n.due_date.to_string(),
                state: v.state.as_str(),
                transfers: n.transfers.len(),
                qr_code: format!(
                    "PAGOPA|002|{}|{}|{}",
                    v.entry.notice_number,
                    v.entry.creditor,
                    amount.cents()
                ),
            }
        })
        .collect();
    drop(g);
    axum::Json(list).into_response()
}

#[derive(Debug, Serialize)]
struct ScenarioJson {
    fiscal_code: String,
    notice_number: String,
    description: &'static str,
    /// The amount due, for payable scenarios.
    amount: Option<String>,
    /// The QR payload (amount 0 when the scenario has none).
    qr_code: String,
}

async fn admin_scenarios(State(shared): State<Arc<Shared>>) -> Response {
    let g = shared.lock();
    let s = g.nodo.scenarios();
    let fc = s.creditor();
    let list: Vec<ScenarioJson> = s
        .examples(1)
        .into_iter()
        .map(|(nn, description)| {
            let amount = match s.lookup(&nn) {
                crate::scenario::Scenario::Payable(n) => Some(n.amount()),
                _ => None,
            };
            ScenarioJson {
                fiscal_code: fc.to_string(),
                notice_number: nn.to_string(),
                description,
                amount: amount.map(|a| a.to_string()),
                qr_code: format!(
                    "PAGOPA|002|{nn}|{fc}|{}",
                    amount.map_or(0, pagopa::Amount::cents)
                ),
            }
        })
        .collect();
    drop(g);
    axum::Json(list).into_response()
}

#[derive(Debug, Serialize)]
struct ClockJson {
    now_ms: Millis,
    now: Option<String>,
    offset_ms: Millis,
}

fn clock_json(inner: &Inner) -> ClockJson {
    let now = inner.now();
    ClockJson {
        now_ms: now,
        now: rome_datetime(now).map(|d| d.to_string()),
        offset_ms: inner.clock_offset_ms,
    }
}

async fn admin_clock(State(shared): State<Arc<Shared>>) -> Response {
    let j = clock_json(&shared.lock());
    axum::Json(j).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    ms: Millis,
}

async fn admin_clock_advance(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(a) => {
            let mut g = shared.lock();
            g.clock_offset_ms = g.clock_offset_ms.saturating_add(a.ms);
            let j = clock_json(&g);
            drop(g);
            axum::Json(j).into_response()
        }
        Err(e) => bad_request("ADMIN_BAD_CLOCK", e),
    }
}
