//! The operator commands on devices: register one (printing its credential once), list them,
//! revoke one. `main` parses the command line and prints; the work is here, testable.

use channel_api::{DeviceKind, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode};

use crate::ambient::{Random, RandomError};
use crate::auth;
use crate::store::{DeviceRecord, NewDevice, Store, StoreError};

/// Why a device command failed. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The name is empty, too long or has control characters.
    #[error("invalid device name: 1 to 100 printable characters")]
    InvalidName,
    /// The comune's fiscal code is malformed or fails its check digit.
    #[error("invalid comune fiscal code: {0}")]
    InvalidComune(#[from] pagopa::FiscalCodeError),
    /// The store failed (name taken, device not found, database error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for the credential.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl DeviceError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::InvalidName => "DEVICE_INVALID_NAME",
            DeviceError::InvalidComune(_) => "DEVICE_INVALID_COMUNE",
            DeviceError::Store(e) => e.code(),
            DeviceError::Random(e) => e.code(),
        }
    }
}

/// A registered device and its credential, which is shown now and never again.
#[derive(Debug)]
pub struct Added {
    /// The device.
    pub device: DeviceRecord,
    /// `Authorization: Bearer <credential>`.
    pub credential: String,
}

/// Register a device. Comuni have real fiscal codes, so the check digit is enforced.
pub fn add(
    store: &Store,
    name: &str,
    comune: &str,
    kind: DeviceKind,
    rng: &dyn Random,
    now: Timestamp,
) -> Result<Added, DeviceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DeviceError::InvalidName);
    }
    let comune = CreditorFiscalCode::parse(comune.trim(), CheckMode::Strict)?;
    let secret = auth::issue(rng)?;
    let new = NewDevice {
        name: name.to_owned(),
        comune,
        kind,
    };
    let id = store.add_device(&new, &secret.salt, &secret.hash, now)?;
    let device = store
        .device(id)?
        .ok_or_else(|| StoreError::DeviceNotFound(id.to_string()))?;
    Ok(Added {
        credential: secret.credential(id),
        device,
    })
}

/// Every device.
pub fn list(store: &Store) -> Result<Vec<DeviceRecord>, DeviceError> {
    Ok(store.list_devices()?)
}

/// Revoke a device by id or name; its credential stops working at once.
pub fn revoke(
    store: &Store,
    id_or_name: &str,
    now: Timestamp,
) -> Result<DeviceRecord, DeviceError> {
    Ok(store.revoke_device(id_or_name.trim(), now)?)
}
