//! What can stop `enroll`, `status`, `rotate-credential` and `unenroll`, with a stable code, an
//! exit status a script can branch on, and what the technician should do about it.
//!
//! A technician in a comune office reads the last line and acts on it; a provisioning script
//! branches on the exit status. Both must stay stable, so they live here in one table (the
//! README's troubleshooting table mirrors it).

use std::path::PathBuf;
use std::process::ExitCode;

use channel_api::ErrorCode;
use kiosk::flow::Failure;

/// Exit statuses of the device-management commands.
pub mod exit {
    // 0: done, every check passed.
    /// Done (enrolled, rotated…), but a check after it failed: see the ✗ lines.
    pub const CHECKS_FAILED: u8 = 1;
    /// Wrong command line (clap's own status).
    pub const USAGE: u8 = 2;
    /// The adapter cannot be reached: network, address, firewall.
    pub const UNREACHABLE: u8 = 3;
    /// The enrollment code is wrong, expired or already used.
    pub const CODE_REFUSED: u8 = 4;
    /// Too many failed attempts: wait before trying again.
    pub const TOO_MANY_ATTEMPTS: u8 = 5;
    /// The adapter's certificate is not the expected one, or cannot be trusted.
    pub const CERTIFICATE: u8 = 6;
    /// Something on this device says no: configuration present or absent, payments queued.
    pub const LOCAL_STATE: u8 = 7;
    /// The adapter refuses this device: revoked, unknown key, wrong clock.
    pub const DEVICE_REFUSED: u8 = 8;
    /// Anything else (files, configuration that cannot be read).
    pub const OTHER: u8 = 9;
}

/// Why a device-management command stopped. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// Capturing or pinning the adapter's certificate.
    #[error(transparent)]
    Pin(#[from] crate::pin::PinError),
    /// No answer from the adapter.
    #[error("the adapter cannot be reached: {detail}")]
    Unreachable {
        /// What failed.
        detail: String,
    },
    /// The adapter's answer is a refusal.
    #[error("the adapter refuses ({}): {message}{}", code.as_str(), detail.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default())]
    Refused {
        /// The catalogue code.
        code: ErrorCode,
        /// Its English text.
        message: String,
        /// The adapter's detail, for the technician.
        detail: Option<String>,
    },
    /// The URL is not `https://…` (or `http://` on loopback).
    #[error(
        "adapter URL {0:?}: expected https://host[:port], or http:// on loopback only (demo and tests)"
    )]
    Url(String),
    /// An enrolled configuration is there already.
    #[error(
        "{} already holds an enrolled device ({device}): run `provision unenroll` first, or pass --force to replace it",
        path.display()
    )]
    ConfigExists {
        /// The configuration.
        path: PathBuf,
        /// The device it belongs to (`id 12`, or `a device registered by hand`).
        device: String,
    },
    /// No enrolled device in the configuration.
    #[error("{} holds no enrolled device: run `provision enroll` first", path.display())]
    NotEnrolled {
        /// The configuration.
        path: PathBuf,
    },
    /// The kiosk's journal still holds money or outcomes the adapter has not received.
    #[error(
        "the journal still holds {offline} offline payment(s) and {pending} payment(s) with something owed to the adapter: start the agent until its queue is empty, or pass --force (they would never reach the adapter from this device)"
    )]
    QueueNotEmpty {
        /// Offline payments not yet forwarded.
        offline: usize,
        /// Flows still needing something (outcomes, resolutions).
        pending: usize,
    },
    /// The technician did not confirm.
    #[error("not confirmed: pass --yes to unenroll this device")]
    NotConfirmed,
    /// Details the configuration needs and nothing provided.
    #[error("{0}")]
    Missing(String),
    /// The kiosk configuration cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] kiosk::config::ConfigError),
    /// The device key.
    #[error(transparent)]
    Key(#[from] kiosk::device_key::KeyError),
    /// A file that cannot be written atomically.
    #[error(transparent)]
    Write(#[from] kiosk::fsutil::WriteError),
    /// A file or directory that cannot be read, created or removed.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The journal cannot be read.
    #[error(transparent)]
    Journal(#[from] kiosk::journal::JournalError),
    /// The adapter's client cannot be built.
    #[error(transparent)]
    Client(#[from] kiosk::adapter::ClientError),
    /// A rotation left two keys, and the adapter accepts neither.
    #[error(
        "the adapter accepts neither {} nor {}: the device must be enrolled again",
        old.display(),
        new.display()
    )]
    NoKeyAccepted {
        /// The current key file.
        old: PathBuf,
        /// The key of the interrupted rotation.
        new: PathBuf,
    },
}

impl From<Failure> for ProvisionError {
    fn from(f: Failure) -> ProvisionError {
        match f {
            Failure::Unreachable { detail } => ProvisionError::Unreachable { detail },
            Failure::Refused { error } => ProvisionError::Refused {
                code: error.code,
                message: error.message_en,
                detail: error.detail,
            },
        }
    }
}

impl ProvisionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProvisionError::Pin(e) => e.code(),
            ProvisionError::Unreachable { .. } => "ADAPTER_UNREACHABLE",
            ProvisionError::Refused { code, .. } => code.as_str(),
            ProvisionError::Url(_) => "ADAPTER_URL",
            ProvisionError::ConfigExists { .. } => "CONFIG_EXISTS",
            ProvisionError::NotEnrolled { .. } => "NOT_ENROLLED",
            ProvisionError::QueueNotEmpty { .. } => "QUEUE_NOT_EMPTY",
            ProvisionError::NotConfirmed => "NOT_CONFIRMED",
            ProvisionError::Missing(_) => "DETAILS_MISSING",
            ProvisionError::Config(e) => e.code(),
            ProvisionError::Key(e) => e.code(),
            ProvisionError::Write(e) => e.code(),
            ProvisionError::File { .. } => "FILE_IO",
            ProvisionError::Journal(e) => e.code(),
            ProvisionError::Client(e) => e.code(),
            ProvisionError::NoKeyAccepted { .. } => "NO_KEY_ACCEPTED",
        }
    }

    /// The exit status (see [`exit`]).
    pub fn exit_status(&self) -> u8 {
        use crate::pin::PinError;
        match self {
            ProvisionError::Pin(PinError::Unreachable { .. })
            | ProvisionError::Unreachable { .. } => exit::UNREACHABLE,
            ProvisionError::Pin(
                PinError::Mismatch { .. }
                | PinError::Untrusted { .. }
                | PinError::IncompleteChain { .. },
            ) => exit::CERTIFICATE,
            ProvisionError::Pin(PinError::BadFingerprint(_) | PinError::ServerName(_))
            | ProvisionError::Url(_)
            | ProvisionError::Missing(_) => exit::USAGE,
            ProvisionError::Refused { code, .. } => match code {
                ErrorCode::EnrollmentCodeInvalid
                | ErrorCode::EnrollmentCodeExpired
                | ErrorCode::EnrollmentCodeUsed => exit::CODE_REFUSED,
                ErrorCode::TooManyAttempts => exit::TOO_MANY_ATTEMPTS,
                _ => exit::DEVICE_REFUSED,
            },
            ProvisionError::NoKeyAccepted { .. } => exit::DEVICE_REFUSED,
            ProvisionError::ConfigExists { .. }
            | ProvisionError::NotEnrolled { .. }
            | ProvisionError::QueueNotEmpty { .. }
            | ProvisionError::NotConfirmed => exit::LOCAL_STATE,
            _ => exit::OTHER,
        }
    }

    /// What the technician should do, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        use crate::pin::PinError;
        Some(match self {
            ProvisionError::Pin(PinError::Unreachable { .. })
            | ProvisionError::Unreachable { .. } => {
                "check the network cable or Wi-Fi, the adapter's address and port, and that the firewall lets this device out on that port"
            }
            ProvisionError::Pin(PinError::Mismatch { .. }) => {
                "do not go on: check the fingerprint with the administrator; a different certificate may mean someone is in between"
            }
            ProvisionError::Pin(PinError::Untrusted { .. }) => {
                "check that --ca is the adapter's CA and the URL's host name is the one in its certificate"
            }
            ProvisionError::Refused { code, .. } => match code {
                ErrorCode::EnrollmentCodeInvalid => {
                    "check the code (12 characters, XXXX-XXXX-XXXX) and type it again"
                }
                ErrorCode::EnrollmentCodeExpired | ErrorCode::EnrollmentCodeUsed => {
                    "ask the administrator for a new code: `channel-adapter device enroll-code`"
                }
                ErrorCode::TooManyAttempts => "wait a few minutes, then try again",
                ErrorCode::DeviceRevoked => {
                    "this device was revoked: ask the administrator for a new code and enroll again (`provision enroll --force`)"
                }
                ErrorCode::SignatureInvalid | ErrorCode::InvalidCredential => {
                    "the adapter does not know this device's key: enroll it again"
                }
                ErrorCode::ClockSkew => "set the device's clock (NTP) and try again",
                _ => return None,
            },
            ProvisionError::Key(kiosk::device_key::KeyError::Permissions { .. }) => {
                "the key must be readable by its owner only: `chmod 600` it, or enroll again"
            }
            _ => return None,
        })
    }

    /// Prints the error for a technician and gives the exit status.
    pub fn report(&self) -> ExitCode {
        eprintln!("✗ {}: {self}", self.code());
        if let Some(hint) = self.hint() {
            eprintln!("  → {hint}");
        }
        ExitCode::from(self.exit_status())
    }
}
