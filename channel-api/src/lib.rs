//! # channel-api
//!
//! The contract between the payment stations (kiosks and counters) and the channel adapter, the
//! server that is our PSP channel towards the pagoPA Nodo. Both sides depend on this crate and on
//! nothing of each other, so the contract cannot drift silently: a change here is a change of
//! the API, reviewed as such.
//!
//! - [`types`]: the JSON requests and responses of version 1 (`/v1/...`).
//! - [`error`]: the error catalogue, stable codes with Italian and English messages.
//! - [`wire`]: how `pagopa` domain types travel in JSON (amounts as integer cents).
//! - [`time`]: instants as RFC 3339 text.
//! - [`fleet`]: enrollment, key-pair credentials and signed requests, managed settings, health.
//! - [`OPENAPI_JSON`]: the OpenAPI 3.1 document the adapter serves at [`paths::OPENAPI`].
//!
//! Every request except the OpenAPI document and enrollment carries the device's credential:
//! `Authorization: Bearer <credential>` for devices registered by hand, or a signature made with
//! the device's own key for enrolled devices (see [`fleet`]).

pub mod error;
pub mod fleet;
pub mod time;
pub mod types;
pub mod wire;

pub use error::{ErrorBody, ErrorCode, Lang};
pub use time::{Timestamp, TimestampError};
pub use types::*;

/// The version segment of every path.
pub const API_VERSION: &str = "v1";

/// The OpenAPI 3.1 document of this version of the contract (JSON).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The paths of the API, in axum's syntax (`{id}` is a path parameter).
pub mod paths {
    /// `GET`: the OpenAPI document (no credential needed).
    pub const OPENAPI: &str = "/v1/openapi.json";
    /// `POST`: the device is alive.
    pub const HEARTBEAT: &str = "/v1/heartbeat";
    /// `POST`: what is due on a notice.
    pub const VERIFY: &str = "/v1/verify";
    /// `POST`: open a payment; `GET`: list the comune's payments.
    pub const PAYMENTS: &str = "/v1/payments";
    /// `GET`: one payment.
    pub const PAYMENT: &str = "/v1/payments/{id}";
    /// `POST`: report how the payment went.
    pub const OUTCOME: &str = "/v1/payments/{id}/outcome";
    /// `POST`: how the staff resolved a payment in an exception state.
    pub const RESOLUTION: &str = "/v1/payments/{id}/resolution";
    /// `POST`: payments taken offline.
    pub const OFFLINE_BATCHES: &str = "/v1/offline-batches";
    /// `POST`: the device's daily closing; `GET`: its closings of a day.
    pub const CLOSINGS: &str = "/v1/closings";
    /// `POST` (no credential; the one-time code is the credential): enroll a device.
    pub const ENROLL: &str = "/v1/enroll";
    /// `GET`: the device as the adapter sees it.
    pub const DEVICE: &str = "/v1/device";
    /// `GET`: the configuration the adapter manages for the device.
    pub const DEVICE_CONFIG: &str = "/v1/device/config";
    /// `PUT`: replace the device's public key (signed with the current key).
    pub const DEVICE_CREDENTIAL: &str = "/v1/device/credential";
    /// `POST`: the device leaves the fleet; its credential stops working at once.
    pub const UNENROLL: &str = "/v1/device/unenroll";

    /// Every path of the device API (all under `/v1`).
    pub const ALL: [&str; 14] = [
        OPENAPI,
        HEARTBEAT,
        VERIFY,
        PAYMENTS,
        PAYMENT,
        OUTCOME,
        OFFLINE_BATCHES,
        CLOSINGS,
        RESOLUTION,
        ENROLL,
        DEVICE,
        DEVICE_CONFIG,
        DEVICE_CREDENTIAL,
        UNENROLL,
    ];
}

/// The HTTP header that carries the credential, and its scheme.
pub mod auth {
    /// The header.
    pub const HEADER: &str = "authorization";
    /// The scheme, followed by one space and the credential.
    pub const SCHEME: &str = "Bearer";
    /// The scheme of signed requests: see [`crate::fleet`].
    pub const SIGNATURE_SCHEME: &str = crate::fleet::SIGNATURE_SCHEME;
}
