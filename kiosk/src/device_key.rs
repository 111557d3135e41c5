//! The device's own Ed25519 key: made on the device at enrollment, it signs every request to
//! the adapter (see `channel_api::fleet`), and never leaves the device.
//!
//! A bearer secret copied off a stolen disk works from anywhere; a signature also proves the
//! request is fresh (the adapter bounds the instant signed), and the adapter only ever holds
//! the public half, so a leak of its database leaks no credential.
//!
//! The key file is PKCS#8 in PEM (`-----BEGIN PRIVATE KEY-----`), the form `openssl pkey`
//! reads, written atomically with mode 0600; a key file readable by anyone but its owner is
//! refused, as ssh does.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

/// The PEM label of a PKCS#8 private key.
const PEM_LABEL: &str = "PRIVATE KEY";

/// Why a key cannot be made, read or written. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The system's random source failed.
    #[error("cannot generate a key: no randomness from the system")]
    Random,
    /// The file cannot be read.
    #[error("device key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file can be read by others than its owner.
    #[error(
        "device key {path}: readable by others (mode {mode:o}); run `chmod 600 {path}` or enroll again"
    )]
    Permissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a PEM PKCS#8 Ed25519 key.
    #[error("device key{}: {reason}", path.as_deref().map(|p| format!(" {p}")).unwrap_or_default())]
    Invalid {
        /// The file, when it came from one.
        path: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The file cannot be written.
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
}

impl KeyError {
    /// Stable machine-readable code: `KEY_RANDOM`, `KEY_READ`, `KEY_PERMISSIONS`,
    /// `KEY_INVALID`, or the write error's.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Random => "KEY_RANDOM",
            KeyError::Read { .. } => "KEY_READ",
            KeyError::Permissions { .. } => "KEY_PERMISSIONS",
            KeyError::Invalid { .. } => "KEY_INVALID",
            KeyError::Write(e) => e.code(),
        }
    }
}

/// The device's key pair.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The public half only.
        f.debug_struct("DeviceKey")
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl DeviceKey {
    /// A new key from the system's random source.
    pub fn generate() -> Result<DeviceKey, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Random)?;
        DeviceKey::from_pkcs8(doc.as_ref())
    }

    /// A key from its PKCS#8 DER bytes.
    pub fn from_pkcs8(der: &[u8]) -> Result<DeviceKey, KeyError> {
        // v2 documents carry the public key, checked against the private one; v1 (what
        // `openssl genpkey -algorithm ed25519` writes) does not.
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
            .map_err(|e| KeyError::Invalid {
                path: None,
                reason: format!("not a PKCS#8 Ed25519 key ({e})"),
            })?;
        Ok(DeviceKey {
            pair,
            pkcs8: der.to_vec(),
        })
    }

    /// A key from PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(text: &str) -> Result<DeviceKey, KeyError> {
        let invalid = |reason: &str| KeyError::Invalid {
            path: None,
            reason: reason.to_owned(),
        };
        let begin = format!("-----BEGIN {PEM_LABEL}-----");
        let end = format!("-----END {PEM_LABEL}-----");
        let start = text
            .find(&begin)
            .ok_or_else(|| invalid("no \"BEGIN PRIVATE KEY\" block"))?;
        let rest = &text[start + begin.len()..];
        let stop = rest
            .find(&end)
            .ok_or_else(|| invalid("the PEM block is not closed"))?;
        let b64: String = rest[..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = STANDARD
            .decode(b64)
            .map_err(|_| invalid("the PEM block is not base64"))?;
        DeviceKey::from_pkcs8(&der)
    }

    /// Read the key file at `path`, refusing one that others may read.
    pub fn load(path: &Path) -> Result<DeviceKey, KeyError> {
        use std::os::unix::fs::PermissionsExt as _;
        let shown = path.display().to_string();
        let read = |source| KeyError::Read {
            path: shown.clone(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(read)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: shown,
                mode: mode & 0o777,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        DeviceKey::from_pem(&text).map_err(|e| match e {
            KeyError::Invalid { reason, .. } => KeyError::Invalid {
                path: Some(shown),
                reason,
            },
            other => other,
        })
    }

    /// Write the key to `path` (PEM, mode 0600, atomically).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        crate::fsutil::write_atomic(path, self.to_pem().as_bytes(), 0o600)?;
        Ok(())
    }

    /// The key as PEM text.
    pub fn to_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.pkcs8);
        let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
        out
    }

    /// The public key as the adapter expects it: 32 bytes, base64url without padding.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// The signature of `message`, base64url without padding.
    pub fn sign(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.sign(message).as_ref())
    }

    /// The `Authorization` header value of a request: `Signature <device>.<ms>.<signature>`
    /// over [`channel_api::fleet::signing_input`].
    pub fn authorization(
        &self,
        device_id: u64,
        method: &str,
        path_and_query: &str,
        unix_ms: i64,
        body: &[u8],
    ) -> String {
        let message = channel_api::fleet::signing_input(method, path_and_query, unix_ms, body);
        format!(
            "{} {device_id}.{unix_ms}.{}",
            channel_api::fleet::SIGNATURE_SCHEME,
            self.sign(&message)
        )
    }
}

/// Whether `signature` (base64url, no padding) is `public_key`'s (same form) over `message`.
/// For checks on the device (`provision status`) and tests; the adapter has its own.
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> bool {
    let (Ok(key), Ok(sig)) = (
        URL_SAFE_NO_PAD.decode(public_key),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, key)
        .verify(message, &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_the_public_key_and_only_over_its_message() {
        let key = DeviceKey::generate().expect("key");
        let public = key.public_key();
        assert_eq!(URL_SAFE_NO_PAD.decode(&public).expect("b64").len(), 32);
        let m = channel_api::fleet::signing_input("POST", "/v1/verify", 1_700_000_000_000, b"{}");
        let sig = key.sign(&m);
        // ring's own verifier, independent of `verify`.
        let raw_sig = URL_SAFE_NO_PAD.decode(&sig).expect("b64");
        let raw_key = URL_SAFE_NO_PAD.decode(&public).expect("b64");
        UnparsedPublicKey::new(&ED25519, &raw_key)
            .verify(&m, &raw_sig)
            .expect("verifies");
        assert!(verify(&public, &m, &sig));
        let other =
            channel_api::fleet::signing_input("POST", "/v1/verify", 1_700_000_000_001, b"{}");
        assert!(!verify(&public, &other, &sig), "another instant");
        let stranger = DeviceKey::generate().expect("key");
        assert!(!verify(&stranger.public_key(), &m, &sig), "another key");
        assert!(!verify("not base64!", &m, &sig));
    }

    #[test]
    fn the_authorization_header_carries_device_instant_and_signature() {
        let key = DeviceKey::generate().expect("key");
        let h = key.authorization(42, "GET", "/v1/device", 1_700_000_000_123, b"");
        let rest = h.strip_prefix("Signature ").expect("scheme");
        let mut parts = rest.splitn(3, '.');
        assert_eq!(parts.next(), Some("42"));
        assert_eq!(parts.next(), Some("1700000000123"));
        let sig = parts.next().expect("signature");
        let m = channel_api::fleet::signing_input("GET", "/v1/device", 1_700_000_000_123, b"");
        assert!(verify(&key.public_key(), &m, sig));
    }

    #[test]
    fn a_saved_key_loads_back_the_same_and_open_permissions_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("kiosk-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("device.key");
        let key = DeviceKey::generate().expect("key");
        key.save(&path).expect("save");
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        let back = DeviceKey::load(&path).expect("load");
        assert_eq!(back.public_key(), key.public_key());
        assert!(!format!("{back:?}").contains(&STANDARD.encode(&key.pkcs8)));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(
            DeviceKey::load(&path).expect_err("open").code(),
            "KEY_PERMISSIONS"
        );
        crate::fsutil::write_atomic(
            &path,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            0o600,
        )
        .expect("write");
        let e = DeviceKey::load(&path).expect_err("garbage");
        assert_eq!(e.code(), "KEY_INVALID");
        assert!(e.to_string().contains("device.key"), "{e}");
        assert_eq!(
            DeviceKey::load(&dir.join("absent"))
                .expect_err("absent")
                .code(),
            "KEY_READ"
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
