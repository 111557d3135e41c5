//! The device-management routes of `/v1`: enrollment with a one-time code (unauthenticated:
//! the code is the credential), the device's own record and configuration, key rotation and
//! unenrollment (both signed with the current key).

use axum::Extension;
use axum::Json;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, Request, State};
use channel_api::ErrorCode;
use channel_api::fleet::{
    CredentialChanged, DeviceConfig, DeviceStatus, EnrollRequest, EnrollResponse,
    RotateCredentialRequest,
};
use tracing::info;

use super::{ApiError, AppState, Body};
use crate::auth::{AuthenticatedDevice, parse_public_key};
use crate::enroll::{self, EnrollError};
use crate::fleet;

/// `POST /v1/enroll`
pub(super) async fn enroll(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<EnrollResponse>, ApiError> {
    let addr = req
        .extensions()
        .get::<ConnectInfo<crate::server::ClientAddr>>()
        .map(|c| c.0.0.ip());
    let now = state.clock.now();
    if !state.enroll_limiter.allowed(addr, now) {
        state
            .metrics
            .auth_failure(ErrorCode::TooManyAttempts.as_str());
        return Err(ApiError::new(ErrorCode::TooManyAttempts));
    }
    let Body(body) = Body::<EnrollRequest>::from_request(req, &()).await?;
    let max_attempts = state.config.enrollment.max_attempts;
    let result = state
        .store
        .call(move |s| {
            Ok(enroll::redeem(
                s,
                &body.code,
                &body.public_key,
                body.hostname.as_deref(),
                body.agent_version.as_deref(),
                max_attempts,
                now,
            ))
        })
        .await?;
    let device = match result {
        Ok(d) => d,
        Err(EnrollError::Store(e)) => return Err(e.into()),
        Err(e) => {
            if !matches!(e, EnrollError::BadKey) {
                state.enroll_limiter.failed(addr, now);
            }
            state.metrics.auth_failure(e.code());
            return Err(ApiError::detail(e.error_code(), e.to_string()));
        }
    };
    info!(
        device = device.id,
        name = %device.name,
        comune = %device.comune,
        "device enrolled"
    );
    let config = config_of(&state, &device).await?;
    Ok(Json(EnrollResponse {
        device: device.info(),
        location: device.location.clone(),
        comune_name: fleet::comune_name(&device.comune),
        config,
        server_time: now,
    }))
}

async fn config_of(
    state: &AppState,
    device: &crate::store::DeviceRecord,
) -> Result<DeviceConfig, ApiError> {
    let device = device.clone();
    Ok(state
        .store
        .call(move |s| fleet::effective_config(s, &device))
        .await?)
}

/// `GET /v1/device`
pub(super) async fn status(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
) -> Result<Json<DeviceStatus>, ApiError> {
    let d = auth.device;
    let config_version = {
        let d = d.clone();
        state
            .store
            .call(move |s| fleet::config_version(s, &d))
            .await?
    };
    Ok(Json(DeviceStatus {
        device: d.info(),
        location: d.location.clone(),
        credential: d.credential,
        enrolled_at: d.enrolled_at,
        config_version,
        last_heartbeat: d.last_heartbeat_at,
    }))
}

/// `GET /v1/device/config`
pub(super) async fn config(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
) -> Result<Json<DeviceConfig>, ApiError> {
    Ok(Json(config_of(&state, &auth.device).await?))
}

/// `PUT /v1/device/credential`
pub(super) async fn rotate(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
    Body(req): Body<RotateCredentialRequest>,
) -> Result<Json<CredentialChanged>, ApiError> {
    let key = parse_public_key(&req.public_key).ok_or_else(|| {
        ApiError::detail(
            ErrorCode::InvalidRequest,
            "public_key: expected 32 bytes in base64url",
        )
    })?;
    let id = auth.device.id;
    let done = state
        .store
        .call(move |s| s.rotate_public_key(id, &key))
        .await?;
    if !done {
        // A bearer device has no key to rotate.
        return Err(ApiError::detail(
            ErrorCode::Forbidden,
            "only an enrolled device (key pair) can rotate its key",
        ));
    }
    info!(device = id, "device key rotated");
    Ok(Json(CredentialChanged {
        device_id: id,
        at: state.clock.now(),
    }))
}

/// `POST /v1/device/unenroll`
pub(super) async fn unenroll(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthenticatedDevice>,
) -> Result<Json<CredentialChanged>, ApiError> {
    let now = state.clock.now();
    let id = auth.device.id;
    let rec = state
        .store
        .call(move |s| s.revoke_device(&id.to_string(), now))
        .await?;
    info!(device = id, "device unenrolled itself");
    Ok(Json(CredentialChanged {
        device_id: id,
        at: rec.revoked_at.unwrap_or(now),
    }))
}
