//! The admin API (`/admin/v1`, user bearer tokens) and the fleet page (`/admin/`).
//!
//! Administrators manage (enrollment codes, revocation, configuration) and operators read,
//! each within the comuni they serve. Scope is enforced here, on every request, not in the
//! page: a comune outside the user's scope answers FORBIDDEN, and a listing without a comune
//! filter covers only the user's comuni. These types are the adapter's own, not part of the
//! device contract.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use channel_api::fleet::{CredentialKind, DeviceHealth, DeviceSettings};
use channel_api::{DeviceKind, ErrorCode, PaymentList, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode, Date};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{ApiError, AppState, Body};
use crate::auth;
use crate::enroll::{self, CodeRequest};
use crate::fleet::{self, FleetStatus, PublishError};
use crate::store::fleet::{ConfigScope, Role, UserRecord};
use crate::store::{DeviceRecord, PaymentRecord};

/// Where the admin API lives.
pub const PREFIX: &str = "/admin/v1";

/// `GET /admin/v1/me`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The user's id.
    pub id: u64,
    /// The user's name.
    pub name: String,
    /// `admin` or `operator`.
    pub role: String,
    /// The comuni served (fiscal codes); `null`: all.
    pub comuni: Option<Vec<String>>,
}

/// One device in the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetDevice {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its comune.
    #[serde(with = "channel_api::wire::fiscal_code")]
    pub comune: CreditorFiscalCode,
    /// The comune's name, when known.
    pub comune_name: Option<String>,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// Where it stands.
    pub location: String,
    /// Its host name.
    pub hostname: Option<String>,
    /// How it authenticates.
    pub credential: CredentialKind,
    /// When it enrolled.
    pub enrolled_at: Option<Timestamp>,
    /// Its last request of any kind.
    pub last_contact: Option<Timestamp>,
    /// Its agent version.
    pub agent_version: Option<String>,
    /// What its last heartbeat reported.
    pub health: Option<DeviceHealth>,
    /// The status derived from the above.
    pub status: FleetStatus,
    /// Why (stable words: `paper_out`, `printer_offline`, `no_heartbeat`…).
    pub reasons: Vec<String>,
    /// The configuration version it applied.
    pub config_version_applied: Option<u64>,
    /// The configuration version it should have.
    pub config_version_current: u64,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// `GET /admin/v1/fleet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    /// When the view was computed.
    pub at: Timestamp,
    /// Seconds without heartbeat after which a device is silent.
    pub silent_after_s: u64,
    /// The devices.
    pub devices: Vec<FleetDevice>,
}

/// `POST /admin/v1/enrollment-codes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCode {
    /// The comune's fiscal code.
    pub comune: String,
    /// Where the device will stand.
    pub location: String,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// Lifetime in seconds (default: `enrollment.code_ttl`).
    #[serde(default)]
    pub ttl_s: Option<u64>,
}

/// A code just created (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeIssued {
    /// `XXXX-XXXX-XXXX`.
    pub code: String,
    /// The comune.
    #[serde(with = "channel_api::wire::fiscal_code")]
    pub comune: CreditorFiscalCode,
    /// The location.
    pub location: String,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The SHA-256 fingerprint of the adapter's certificate, when TLS is configured.
    pub certificate_fingerprint: Option<String>,
}

/// `PUT /admin/v1/device-config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// The comune (required: also for a single device, which must belong to it).
    pub comune: String,
    /// One device instead of the whole comune.
    #[serde(default)]
    pub device_id: Option<u64>,
    /// The settings.
    pub settings: DeviceSettings,
}

/// The answer to a publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The new version.
    pub version: u64,
}

#[derive(Debug, Deserialize)]
struct ScopeQuery {
    comune: Option<String>,
    day: Option<String>,
}

/// An authenticated user, put into the request by the admin authentication layer.
#[derive(Debug, Clone)]
struct User(UserRecord);

impl User {
    fn admin(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::detail(
                ErrorCode::Forbidden,
                "operators have read-only access",
            ))
        }
    }

    fn serves(&self, comune: &CreditorFiscalCode) -> Result<(), ApiError> {
        if self.0.serves(comune) {
            Ok(())
        } else {
            Err(ApiError::detail(
                ErrorCode::Forbidden,
                format!("comune {comune} is outside this user's scope"),
            ))
        }
    }

    /// The comuni a request covers: the one asked for (in scope), else all the user serves.
    fn comuni(&self, asked: Option<&str>) -> Result<Option<Vec<CreditorFiscalCode>>, ApiError> {
        match asked.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => {
                let cf = parse_comune(s)?;
                self.serves(&cf)?;
                Ok(Some(vec![cf]))
            }
            None => Ok(self.0.comuni.clone()),
        }
    }
}

fn parse_comune(s: &str) -> Result<CreditorFiscalCode, ApiError> {
    CreditorFiscalCode::parse(s.trim(), CheckMode::Lenient)
        .map_err(|e| ApiError::detail(ErrorCode::InvalidRequest, format!("comune: {e}")))
}

/// The admin authentication layer: a valid, unrevoked user token or a 401.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let presented = match req.headers().get(header::AUTHORIZATION) {
        None => Err(ErrorCode::MissingCredential),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(auth::parse_user_header)
            .ok_or(ErrorCode::InvalidCredential),
    };
    let user = match presented {
        Err(code) => Err(code),
        Ok(p) => {
            let id = p.device_id;
            match state.store.call(move |s| s.user(id)).await {
                Err(e) => return ApiError::from(e).into_response(),
                Ok(u) => crate::users::check(&p, u).ok_or(ErrorCode::InvalidCredential),
            }
        }
    };
    match user {
        Ok(u) => {
            req.extensions_mut().insert(User(u));
            next.run(req).await
        }
        Err(code) => {
            state.metrics.auth_failure(code.as_str());
            ApiError::new(code).into_response()
        }
    }
}

async fn me(Extension(user): Extension<User>) -> Json<Me> {
    Json(Me {
        id: user.0.id,
        name: user.0.name.clone(),
        role: user.0.role.as_str().to_owned(),
        comuni: user
            .0
            .comuni
            .as_ref()
            .map(|cs| cs.iter().map(|c| c.as_str().to_owned()).collect()),
    })
}

fn query(q: Result<Query<ScopeQuery>, QueryRejection>) -> Result<ScopeQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|r| ApiError::detail(ErrorCode::InvalidRequest, r.body_text()))
}

fn fleet_device(
    d: DeviceRecord,
    now: Timestamp,
    silent_after: Duration,
    current: u64,
) -> FleetDevice {
    let (status, reasons) = fleet::status(&d, now, silent_after, current);
    FleetDevice {
        id: d.id,
        comune_name: fleet::comune_name(&d.comune),
        comune: d.comune,
        kind: d.kind,
        location: d.location,
        hostname: d.hostname,
        credential: d.credential,
        enrolled_at: d.enrolled_at,
        last_contact: d.last_seen_at.max(d.last_heartbeat_at),
        agent_version: d.agent_version,
        health: d.health,
        status,
        reasons: reasons.into_iter().map(str::to_owned).collect(),
        config_version_applied: d.applied_config_version,
        config_version_current: current,
        revoked_at: d.revoked_at,
        name: d.name,
    }
}

async fn fleet_view(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    q: Result<Query<ScopeQuery>, QueryRejection>,
) -> Result<Json<FleetView>, ApiError> {
    let q = query(q)?;
    let comuni = user.comuni(q.comune.as_deref())?;
    let now = state.clock.now();
    let silent_after = state.config.fleet.silent_after;
    // Listings are scans: on the read pool, so that they hold up no payment.
    let devices = state
        .store
        .read_call(move |s| {
            let mut out = Vec::new();
            for d in s.devices_of(comuni.as_deref())? {
                let current = fleet::config_version(s, &d)?;
                out.push(fleet_device(d, now, silent_after, current));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(FleetView {
        at: now,
        silent_after_s: silent_after.as_secs(),
        devices,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> Result<Json<FleetDevice>, ApiError> {
    user.admin()?;
    let not_found = || ApiError::detail(ErrorCode::NotFound, format!("device {id}"));
    let device_id: u64 = id.parse().map_err(|_| not_found())?;
    let device = state
        .store
        .call(move |s| s.device(device_id))
        .await?
        .ok_or_else(not_found)?;
    user.serves(&device.comune)?;
    let now = state.clock.now();
    let rec = state
        .store
        .call(move |s| s.revoke_device(&device_id.to_string(), now))
        .await?;
    info!(
        device = device_id,
        user = user.0.id,
        "device revoked by an administrator"
    );
    let current = {
        let rec = rec.clone();
        state
            .store
            .call(move |s| fleet::config_version(s, &rec))
            .await?
    };
    Ok(Json(fleet_device(
        rec,
        now,
        state.config.fleet.silent_after,
        current,
    )))
}

async fn new_code(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(req): Body<NewCode>,
) -> Result<Json<CodeIssued>, ApiError> {
    user.admin()?;
    user.serves(&parse_comune(&req.comune)?)?;
    let ttl = req
        .ttl_s
        .map_or(state.config.enrollment.code_ttl, Duration::from_secs);
    let now = state.clock.now();
    let by = user.0.name.clone();
    let rng = std::sync::Arc::clone(&state.random);
    let issued = state
        .store
        .call(move |s| {
            Ok(enroll::create_code(
                s,
                rng.as_ref(),
                &CodeRequest {
                    comune: &req.comune,
                    location: &req.location,
                    kind: req.kind,
                    ttl,
                    created_by: &by,
                },
                now,
            ))
        })
        .await?
        .map_err(|e| match e {
            enroll::CodeError::Store(e) => ApiError::from(e),
            enroll::CodeError::Random(e) => ApiError::from(e),
            other => ApiError::detail(ErrorCode::InvalidRequest, other.to_string()),
        })?;
    info!(
        code = issued.code.id,
        comune = %issued.comune,
        user = user.0.id,
        "enrollment code created"
    );
    Ok(Json(CodeIssued {
        code: issued.code.display(),
        comune: issued.comune,
        location: issued.location,
        kind: issued.kind,
        expires_at: issued.expires_at,
        certificate_fingerprint: state
            .config
            .tls
            .as_ref()
            .and_then(|t| enroll::certificate_fingerprint(&t.cert_path).ok()),
    }))
}

async fn publish_config(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(req): Body<PublishConfig>,
) -> Result<Json<Published>, ApiError> {
    user.admin()?;
    let comune = parse_comune(&req.comune)?;
    user.serves(&comune)?;
    let scope = match req.device_id {
        None => ConfigScope::Comune(comune),
        Some(id) => {
            let device = state.store.call(move |s| s.device(id)).await?;
            match device {
                Some(d) if d.comune == comune => ConfigScope::Device(id),
                _ => {
                    return Err(ApiError::detail(
                        ErrorCode::NotFound,
                        format!("device {id} of comune {comune}"),
                    ));
                }
            }
        }
    };
    let now = state.clock.now();
    let by = user.0.name.clone();
    let version = state
        .store
        .call(move |s| Ok(fleet::publish(s, scope, &req.settings, &by, now)))
        .await?
        .map_err(|e| match e {
            PublishError::Store(e) => ApiError::from(e),
            other => ApiError::detail(ErrorCode::InvalidRequest, other.to_string()),
        })?;
    info!(version, user = user.0.id, "device configuration published");
    Ok(Json(Published { version }))
}

/// The most payments one listing returns.
const PAYMENTS_LIMIT: u32 = 500;

async fn payments(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    q: Result<Query<ScopeQuery>, QueryRejection>,
) -> Result<Json<PaymentList>, ApiError> {
    let q = query(q)?;
    let day = q
        .day
        .as_deref()
        .map(Date::parse)
        .transpose()
        .map_err(|e| ApiError::detail(ErrorCode::InvalidRequest, format!("day: {e}")))?;
    let comuni = match user.comuni(q.comune.as_deref())? {
        Some(c) => c,
        // All comuni: every comune that has a device.
        None => {
            let mut cs: Vec<CreditorFiscalCode> = state
                .store
                .read_call(|s| s.list_devices())
                .await?
                .into_iter()
                .map(|d| d.comune)
                .collect();
            cs.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            cs.dedup();
            cs
        }
    };
    let records = state
        .store
        .read_call(move |s| {
            let mut all: Vec<PaymentRecord> = Vec::new();
            for c in &comuni {
                all.extend(s.list_payments(c, None, PAYMENTS_LIMIT)?);
            }
            Ok(all)
        })
        .await?;
    let on_day = |r: &PaymentRecord| {
        day.is_none_or(|d| Date::rome_from_unix_millis(r.created_at.unix_millis()).ok() == Some(d))
    };
    Ok(Json(PaymentList {
        payments: records
            .iter()
            .filter(|r| on_day(r))
            .map(PaymentRecord::to_api)
            .collect(),
    }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../assets/fleet.html"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/fleet.js"),
    )
}

async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/fleet.css"),
    )
}

async fn to_page() -> Response {
    axum::response::Redirect::permanent("/admin/").into_response()
}

/// The admin API and the fleet page.
pub fn router(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route("/admin/v1/me", get(me))
        .route("/admin/v1/fleet", get(fleet_view))
        .route("/admin/v1/devices/{id}/revoke", post(revoke))
        .route("/admin/v1/enrollment-codes", post(new_code))
        .route("/admin/v1/device-config", put(publish_config))
        .route("/admin/v1/payments", get(payments))
        .route_layer(middleware::from_fn_with_state(state, authenticate));
    Router::new()
        .merge(api)
        .route("/admin", get(to_page))
        .route("/admin/", get(page))
        .route("/admin/fleet.js", get(script))
        .route("/admin/fleet.css", get(style))
}
