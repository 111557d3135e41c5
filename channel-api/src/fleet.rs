//! Device management: enrollment with a one-time code, key-pair credentials and request
//! signatures, the configuration the adapter manages for each device, and the health a device
//! reports with its heartbeat.
//!
//! These shapes exist so that a technician can enroll a device with nothing but a code, and so
//! that the fleet can be kept healthy and trusted from the adapter: a broken printer shows up
//! in the fleet view, a setting changes without a visit, a stolen device is locked out.
//!
//! ## Credentials
//!
//! An enrolled device holds an Ed25519 key pair generated on the device; the adapter only ever
//! sees the public key. Every request carries
//! `Authorization: Signature <device id>.<unix millis>.<signature>`, the signature (base64url,
//! no padding) being over [`signing_input`]: the method, the path and query, the same instant and
//! the body. The adapter refuses an instant more than [`MAX_CLOCK_SKEW_MS`] away from its own
//! clock, so a captured request cannot be replayed later; within the window the API's own
//! idempotency keys make a replay harmless, and TLS keeps requests from being captured at all.
//!
//! Devices registered by hand (`channel-adapter device add`) keep their bearer credential
//! (`Authorization: Bearer …`); both resolve to the same device record.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::types::DeviceInfo;

/// The authorization scheme of signed requests.
pub const SIGNATURE_SCHEME: &str = "Signature";

/// The version tag at the start of every signed message; a new signing format gets a new tag.
pub const SIGNATURE_CONTEXT: &[u8] = b"channel-api-sig-v1\n";

/// How far the instant of a signed request may be from the adapter's clock, either way.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The bytes a device signs for one request: the context tag, then the method, the path with
/// its query, the instant in unix milliseconds, each followed by a newline, then the body.
///
/// `path_and_query` is what the request line carries (`/v1/payments?day=2026-11-27`), without
/// scheme or host, so a proxy that rewrites the host does not break signatures.
pub fn signing_input(method: &str, path_and_query: &str, unix_ms: i64, body: &[u8]) -> Vec<u8> {
    let ms = unix_ms.to_string();
    let mut m = Vec::with_capacity(
        SIGNATURE_CONTEXT.len() + method.len() + path_and_query.len() + ms.len() + 3 + body.len(),
    );
    m.extend_from_slice(SIGNATURE_CONTEXT);
    for part in [method.as_bytes(), path_and_query.as_bytes(), ms.as_bytes()] {
        m.extend_from_slice(part);
        m.push(b'\n');
    }
    m.extend_from_slice(body);
    m
}

/// The receipt widths a station can print, in characters per line: 32 on 58 mm paper, 48 on
/// 80 mm paper (the standard fonts of ESC/POS printers).
pub const PRINTER_WIDTHS: [u8; 2] = [32, 48];

/// `POST /v1/enroll` (no credential: the code is the credential): a device asks to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code the administrator gave the technician, as typed (case, spaces and
    /// dashes do not matter).
    pub code: String,
    /// The device's Ed25519 public key: 32 bytes, base64url without padding.
    pub public_key: String,
    /// The machine's host name, shown in the fleet view.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The agent's version.
    #[serde(default)]
    pub agent_version: Option<String>,
}

/// The answer to an enrollment: who the device now is, and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The device, as registered (its id goes into every signature).
    pub device: DeviceInfo,
    /// Where it stands (the office, e.g. `Ufficio tributi, piano terra`).
    pub location: String,
    /// The name of its comune, when the adapter knows it.
    #[serde(default)]
    pub comune_name: Option<String>,
    /// The configuration to apply now.
    pub config: DeviceConfig,
    /// The adapter's clock, so the technician sees a wrong device clock at once.
    pub server_time: Timestamp,
}

/// `GET /v1/device`: the device as the adapter sees it (for `provision status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// The device.
    pub device: DeviceInfo,
    /// Where it stands.
    pub location: String,
    /// How it authenticates.
    pub credential: CredentialKind,
    /// When it enrolled (absent for devices registered by hand).
    #[serde(default)]
    pub enrolled_at: Option<Timestamp>,
    /// The version of the configuration the adapter holds for it.
    pub config_version: u64,
    /// Its last heartbeat before this request.
    #[serde(default)]
    pub last_heartbeat: Option<Timestamp>,
}

/// How a device authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A bearer secret issued by `channel-adapter device add`.
    Secret,
    /// An Ed25519 key pair generated on the device at enrollment.
    KeyPair,
}

/// `PUT /v1/device/credential`, signed with the current key: replace it with a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateCredentialRequest {
    /// The new Ed25519 public key: 32 bytes, base64url without padding.
    pub public_key: String,
}

/// The answer to a rotation, to unenrollment (`POST /v1/device/unenroll`, signed): done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialChanged {
    /// The device.
    pub device_id: u64,
    /// When the change took effect; requests signed with the old key are refused from then on.
    pub at: Timestamp,
}

/// `GET /v1/device/config`: the configuration the adapter manages for this device.
///
/// The version grows whenever an administrator publishes a new configuration for the device
/// or its comune; the heartbeat answer carries the current version, so a device pulls only
/// when it changed and applies it without restarting.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// The version (0: nothing published yet; the device keeps its local settings).
    pub version: u64,
    /// The settings.
    pub settings: DeviceSettings,
}

/// The settings an administrator may manage remotely. Every field is optional: an absent
/// field leaves the device's local value in force.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSettings {
    /// How the fee is shown before the citizen confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_display: Option<FeeDisplay>,
    /// The languages offered, the first being the default (`it`, `en`, `de`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<String>>,
    /// Cash taken while the adapter is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineLimits>,
    /// Characters per line of the receipt printer: one of [`PRINTER_WIDTHS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer_width: Option<u8>,
    /// Seconds a screen waits for the citizen before it asks for more time or gives up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_timeout_s: Option<u32>,
    /// Seconds the final screen stays before the kiosk returns to its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_timeout_s: Option<u32>,
}

/// How the fee is presented on the confirmation screen. Either way it is shown before paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeDisplay {
    /// Amount, fee and total on three lines.
    Itemized,
    /// The total first and large, with "of which fee" beneath.
    TotalFirst,
}

/// Limits on cash taken offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineLimits {
    /// Whether offline cash is allowed at all.
    pub enabled: bool,
    /// The largest single payment, in cents.
    #[serde(with = "crate::wire::cents")]
    pub max_payment_cents: pagopa::Amount,
    /// The most money waiting to be forwarded, in cents.
    #[serde(with = "crate::wire::cents")]
    pub max_outstanding_cents: pagopa::Amount,
    /// The oldest a queued payment may be, in seconds, before the device stops taking more.
    pub max_age_s: u32,
}

/// What a device reports about itself with each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceHealth {
    /// The receipt printer (absent: the station has none).
    #[serde(default)]
    pub printer: Option<PrinterHealth>,
    /// Whether the card terminal answers (absent: the station has none).
    #[serde(default)]
    pub terminal_reachable: Option<bool>,
    /// Whether the scanner is connected (absent: the station has none).
    #[serde(default)]
    pub scanner_present: Option<bool>,
    /// Journal entries not yet forwarded (offline payments, outcomes, reports).
    pub queue_depth: u32,
    /// The hash at the head of the device's journal (hex), so a rolled-back or replaced
    /// journal shows up.
    #[serde(default)]
    pub journal_head: Option<String>,
    /// The version of the configuration the device has applied.
    #[serde(default)]
    pub config_version: Option<u64>,
    /// Problems worth a technician's visit, newest first, at most a handful.
    #[serde(default)]
    pub recent_errors: Vec<String>,
}

/// The printer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterHealth {
    /// Whether it answers at all.
    pub online: bool,
    /// Paper left.
    pub paper: PaperLevel,
    /// Whether the cover is open.
    pub cover_open: bool,
}

/// Paper left in the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperLevel {
    /// Enough.
    Ok,
    /// The near-end sensor tripped: replace the roll soon.
    Low,
    /// Out: the station cannot print receipts.
    Out,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_input_separates_every_part() {
        let m = signing_input("POST", "/v1/verify", 1_700_000_000_123, b"{}");
        assert_eq!(
            m,
            b"channel-api-sig-v1\nPOST\n/v1/verify\n1700000000123\n{}".to_vec()
        );
        // Moving a byte from the path into the method changes the message.
        assert_ne!(
            signing_input("POSTx", "/v1", 1, b""),
            signing_input("POST", "x/v1", 1, b"")
        );
    }
}
