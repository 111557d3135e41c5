//! The device API over HTTP: routing, authentication, errors, metrics; the admin API and the
//! fleet page under `/admin` ([`admin`]).
//!
//! Every route under `/v1` except the OpenAPI document and enrollment requires a registered
//! device's credential — a bearer secret, or a request signed with the device's key, whose body
//! is then buffered to check the signature; the authentication layer puts the
//! [`AuthenticatedDevice`] into the request for the handlers. Errors always answer with the catalogue's JSON body ([`channel_api::ErrorBody`])
//! and its HTTP status, including malformed JSON and unknown routes, so a device never has to
//! interpret a bare status.
//!
//! The routes that need the Nodo (verify, activate) are mounted only when the adapter has a
//! [`crate::nodo::Gateway`]: without one they do not exist, rather than pretend.

pub mod admin;
mod closings;
mod device;
mod handlers;
mod resolutions;

pub use handlers::error_code_for;
pub(crate) use handlers::send_activation;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use channel_api::{ErrorBody, ErrorCode, paths};
use serde::de::DeserializeOwned;

use crate::ambient::{Clock, Random};
use crate::auth::{self, AuthError, AuthenticatedDevice};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::nodo::Gateway;
use crate::store::{Store, StoreError};

/// The path of the Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";

/// Everything a request handler may use.
#[derive(Debug)]
pub struct Shared {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness (identifiers, idempotency keys).
    pub random: Arc<dyn Random>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The Nodo, when a client is configured.
    pub gateway: Option<Gateway>,
    /// Tells the outbox worker which device's queue got an entry, so it sends it at once.
    pub outbox_wakeup: Arc<crate::outbox::Signal>,
    /// Failed enrollments per client address.
    pub enroll_limiter: crate::enroll::Limiter,
}

/// The handlers' state.
pub type AppState = Arc<Shared>;

/// An error answer: a catalogue code plus operator detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The code (which gives status and messages).
    pub code: ErrorCode,
    /// For operators and logs.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with no detail.
    pub fn new(code: ErrorCode) -> ApiError {
        ApiError { code, detail: None }
    }

    /// An error with operator detail.
    pub fn detail(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: Some(detail.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(code = e.code(), error = %e, "store failure");
        ApiError::detail(ErrorCode::InternalError, e.code())
    }
}

impl From<crate::ambient::RandomError> for ApiError {
    fn from(e: crate::ambient::RandomError) -> Self {
        tracing::error!(error = %e, "random source failure");
        ApiError::detail(ErrorCode::InternalError, e.code())
    }
}

/// The response for `body` with the status of its code.
pub fn error_response(body: ErrorBody) -> Response {
    let status =
        StatusCode::from_u16(body.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(&body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"channel-adapter\", Signature"),
        );
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code.http_status() >= 500 {
            tracing::warn!(code = %self.code, detail = self.detail.as_deref(), "request failed");
        } else {
            tracing::info!(code = %self.code, detail = self.detail.as_deref(), "request refused");
        }
        let mut body = ErrorBody::new(self.code);
        body.detail = self.detail;
        error_response(body)
    }
}

/// A JSON request body whose rejection is an [`ErrorCode::InvalidRequest`] answer.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Body(v))
            .map_err(|rejection| ApiError::detail(ErrorCode::InvalidRequest, rejection.body_text()))
    }
}

/// The largest request body: axum's default limit for JSON, applied here too to signed bodies,
/// which are buffered before any extractor runs.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// The authentication layer: a valid, unrevoked device credential (bearer secret or signed
/// request) or a 401.
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let header_value = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().ok().map(str::to_owned));
    let (req, result) = match header_value {
        None => (req, Err(AuthError::Missing)),
        Some(None) => (req, Err(AuthError::Invalid)),
        Some(Some(v)) if v.starts_with(channel_api::fleet::SIGNATURE_SCHEME) => {
            match auth::parse_signature_header(&v) {
                None => (req, Err(AuthError::SignatureInvalid)),
                Some(p) => match check_signed(&state, p, req).await {
                    Ok(pair) => pair,
                    Err(response) => return response,
                },
            }
        }
        Some(Some(v)) => match auth::parse_header(&v) {
            None => (req, Err(AuthError::Invalid)),
            Some(p) => {
                let id = p.device_id;
                match state.store.device_for_request(id).await {
                    Err(e) => return ApiError::from(e).into_response(),
                    Ok(device) => {
                        let checked = auth::check(&p, device.as_ref())
                            .and_then(|()| device.ok_or(AuthError::Invalid));
                        (req, checked)
                    }
                }
            }
        },
    };
    let mut req = req;
    match result {
        Ok(device) => {
            let at = state.clock.now();
            req.extensions_mut()
                .insert(AuthenticatedDevice { device, at });
            next.run(req).await
        }
        Err(e) => {
            state.metrics.auth_failure(e.code());
            ApiError::new(e.error_code()).into_response()
        }
    }
}

/// Buffer the body of a signed request and check its signature; the request comes back with
/// the same body for the handlers.
async fn check_signed(
    state: &AppState,
    p: auth::SignedPresented,
    req: Request,
) -> Result<(Request, Result<crate::store::DeviceRecord, AuthError>), Response> {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return Err(ApiError::detail(
                ErrorCode::InvalidRequest,
                format!("body larger than {MAX_BODY_BYTES} bytes, or unreadable"),
            )
            .into_response());
        }
    };
    let id = p.device_id;
    let device = state
        .store
        .device_for_request(id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let checked = auth::check_signature(
        &p,
        device.as_ref(),
        parts.method.as_str(),
        &path_and_query,
        &bytes,
        state.clock.now(),
    )
    .and_then(|()| device.ok_or(AuthError::SignatureInvalid));
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        checked,
    ))
}

/// Count and time every routed request by its route template.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.http_request(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn method_label(m: &axum::http::Method) -> &'static str {
    match *m {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

async fn not_found(State(state): State<AppState>, req: Request) -> ApiError {
    state.metrics.http_request(
        "unmatched",
        method_label(req.method()),
        404,
        std::time::Duration::ZERO,
    );
    ApiError::detail(
        ErrorCode::NotFound,
        format!("{} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::detail(
        ErrorCode::MethodNotAllowed,
        format!("{} {}", req.method(), req.uri().path()),
    )
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        channel_api::OPENAPI_JSON,
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let max_attempts = state.config.outbox.max_attempts;
    let now = state.clock.now();
    let silent_after = state.config.fleet.silent_after;
    // Scans: on the read pool, so that a scrape holds up no payment.
    let read = state
        .store
        .read_call(move |s| {
            Ok((
                s.count_by_state()?,
                s.outbox_stats(max_attempts)?,
                crate::fleet::status_counts(s, now, silent_after)?,
            ))
        })
        .await;
    let (counts, outbox, devices) = match read {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(&crate::metrics::Snapshot {
            payments: &counts,
            outbox: &outbox,
            now,
            store: state.store.write_counts(),
        }) + &crate::fleet::render_gauges(&devices),
    )
        .into_response()
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let mut payments = get(handlers::list_payments);
    let mut device = Router::new()
        .route(paths::HEARTBEAT, post(handlers::heartbeat))
        .route(paths::PAYMENT, get(handlers::get_payment))
        .route(paths::OUTCOME, post(handlers::report_outcome))
        .route(paths::OFFLINE_BATCHES, post(handlers::submit_offline_batch))
        .route(paths::RESOLUTION, post(resolutions::resolve))
        .route(
            paths::CLOSINGS,
            post(closings::submit_closing).get(closings::list_closings),
        )
        .route(paths::DEVICE, get(device::status))
        .route(paths::DEVICE_CONFIG, get(device::config))
        .route(paths::DEVICE_CREDENTIAL, put(device::rotate))
        .route(paths::UNENROLL, post(device::unenroll));
    if state.gateway.is_some() {
        payments = payments.post(handlers::activate);
        device = device.route(paths::VERIFY, post(handlers::verify));
    }
    let device = device
        .route(paths::PAYMENTS, payments)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(device)
        .merge(admin::router(state.clone()))
        .route(paths::ENROLL, post(device::enroll))
        .route(paths::OPENAPI, get(openapi))
        .route(METRICS_PATH, get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
}
