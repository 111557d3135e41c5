//! The adapter's certificate, captured and pinned at enrollment.
//!
//! A device in a small comune has nobody to check certificates for it, so trust is settled once,
//! by the technician, at enrollment: `provision` opens a TLS connection, records the chain the
//! adapter presents and either verifies it against a CA file the technician brought (`--ca`) or
//! trusts it on first use, checked against the fingerprint the administrator read out
//! (`--fingerprint`) when there is one. The top certificate of the chain (or the CA file) is
//! then written next to the kiosk's configuration and becomes the agent's `adapter.ca_file`.
//!
//! The agent then trusts a certificate identical to the pinned one, or one that chains to it
//! with the ordinary WebPKI rules; a presented chain is checked here with the same rules before
//! its top is kept, so a pin the agent would refuse is never written.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpStream;

/// Why the adapter's certificate cannot be pinned. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// No TCP connection or TLS handshake.
    #[error("the adapter at {address} cannot be reached: {reason}")]
    Unreachable {
        /// host:port.
        address: String,
        /// Why.
        reason: String,
    },
    /// The presented certificate is not the one the administrator gave.
    #[error(
        "certificate mismatch: the adapter presents {presented}, but the expected fingerprint is {expected}"
    )]
    Mismatch {
        /// The fingerprint given with `--fingerprint`.
        expected: String,
        /// The fingerprint of the adapter's certificate.
        presented: String,
    },
    /// With `--ca`: the chain does not verify against that CA.
    #[error("the adapter's certificate is not trusted by {ca}: {reason}")]
    Untrusted {
        /// The CA file.
        ca: String,
        /// Why.
        reason: String,
    },
    /// The presented chain does not verify against its own top certificate.
    #[error(
        "the adapter's certificate chain does not hold together ({reason}): pass the adapter's CA with --ca FILE"
    )]
    IncompleteChain {
        /// Why the chain does not verify.
        reason: String,
    },
    /// The CA file cannot be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `--fingerprint` is not 16 to 64 hex digits.
    #[error("fingerprint {0:?}: expected 16 to 64 hex digits of a SHA-256 (colons allowed)")]
    BadFingerprint(String),
    /// A host name rustls does not accept.
    #[error("the adapter's host {0:?} is not a valid server name")]
    ServerName(String),
}

impl PinError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PinError::Unreachable { .. } => "ADAPTER_UNREACHABLE",
            PinError::Mismatch { .. } => "CERTIFICATE_MISMATCH",
            PinError::Untrusted { .. } => "CERTIFICATE_UNTRUSTED",
            PinError::IncompleteChain { .. } => "CERTIFICATE_CHAIN_INCOMPLETE",
            PinError::CaFile { .. } => "CA_FILE",
            PinError::BadFingerprint(_) => "FINGERPRINT_INVALID",
            PinError::ServerName(_) => "ADAPTER_URL",
        }
    }
}

/// The SHA-256 of a certificate (DER) as uppercase hex pairs separated by colons, the way
/// `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = Sha256::digest(cert);
    let mut out = String::with_capacity(95);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// A fingerprint as typed by a technician: hex digits, colons and spaces ignored, at least 16
/// digits (a prefix is enough to tell certificates apart, and quicker to read out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFingerprint(String);

impl ExpectedFingerprint {
    /// Parse what was typed.
    pub fn parse(text: &str) -> Result<ExpectedFingerprint, PinError> {
        let hex: String = text
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !(16..=64).contains(&hex.len()) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PinError::BadFingerprint(text.to_owned()));
        }
        Ok(ExpectedFingerprint(hex))
    }

    /// Whether `cert` has this fingerprint (or one starting with it).
    pub fn matches(&self, cert: &[u8]) -> bool {
        fingerprint(cert).replace(':', "").starts_with(&self.0)
    }
}

impl std::fmt::Display for ExpectedFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<&str> = self
            .0
            .as_bytes()
            .chunks(2)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        write!(f, "{}", pairs.join(":"))
    }
}

/// Records the chain the server presents; verifies it only when a CA was given.
#[derive(Debug)]
struct Recorder {
    ca: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        match &self.ca {
            Some(ca) => {
                ca.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            // Trust on first use: the caller decides from the recorded chain.
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What to trust.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// A CA file: the chain must verify against it.
    pub ca_file: Option<std::path::PathBuf>,
    /// The fingerprint the administrator gave: some certificate of the chain must have it.
    pub fingerprint: Option<ExpectedFingerprint>,
}

/// The pin: what the agent will trust from now on.
#[derive(Debug, Clone)]
pub struct Pin {
    /// The certificates to write to `adapter-ca.pem` (the top of the chain, or the CA file).
    pub certs: Vec<CertificateDer<'static>>,
    /// The fingerprint of the adapter's own certificate (the one the administrator sees).
    pub adapter_fingerprint: String,
    /// The fingerprint of the pinned certificate.
    pub pinned_fingerprint: String,
}

impl Pin {
    /// The pinned certificates as PEM text.
    pub fn pem(&self) -> String {
        use base64::Engine as _;
        let mut out = String::new();
        for cert in &self.certs {
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                out.push_str(&String::from_utf8_lossy(line));
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, PinError> {
    let err = |reason: String| PinError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    kiosk::adapter::read_pem_certificates(path).map_err(err)
}

fn webpki(roots: &[CertificateDer<'static>]) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut store = RootCertStore::empty();
    for cert in roots {
        store.add(cert.clone()).map_err(|e| e.to_string())?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| e.to_string())
}

/// Connects to `host:port`, captures the chain the adapter presents, and decides what to pin.
pub async fn capture(
    host: &str,
    port: u16,
    trust: &Trust,
    timeout: Duration,
) -> Result<Pin, PinError> {
    let ca_certs = trust.ca_file.as_deref().map(read_ca).transpose()?;
    let ca = match (&ca_certs, &trust.ca_file) {
        (Some(certs), Some(path)) => Some(webpki(certs).map_err(|reason| PinError::CaFile {
            path: path.display().to_string(),
            reason,
        })?),
        _ => None,
    };
    let recorder = Arc::new(Recorder {
        ca,
        provider: provider(),
        chain: Mutex::new(Vec::new()),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PinError::Unreachable {
            address: format!("{host}:{port}"),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&recorder) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    let name =
        ServerName::try_from(host.to_owned()).map_err(|_| PinError::ServerName(host.into()))?;
    let address = format!("{host}:{port}");
    let unreachable = |reason: String| PinError::Unreachable {
        address: address.clone(),
        reason,
    };
    let handshake = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| e.to_string()))
    };
    let result = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| unreachable(format!("no TLS handshake within {timeout:?}")))??;
    let chain = recorder
        .chain
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let Some(leaf) = chain.first() else {
        return Err(unreachable(match result {
            Err(e) => format!("TLS: {e}"),
            Ok(_) => "no certificate presented".into(),
        }));
    };
    if let Err(reason) = result {
        return Err(match &trust.ca_file {
            Some(ca) if !chain.is_empty() => PinError::Untrusted {
                ca: ca.display().to_string(),
                reason,
            },
            _ => unreachable(format!("TLS: {reason}")),
        });
    }
    let adapter_fingerprint = fingerprint(leaf);
    if let Some(expected) = &trust.fingerprint
        && !chain.iter().any(|c| expected.matches(c))
    {
        return Err(PinError::Mismatch {
            expected: expected.to_string(),
            presented: adapter_fingerprint,
        });
    }
    let certs = match ca_certs {
        Some(certs) => certs,
        None => {
            // Trust on first use: pin the top of the chain. The agent trusts a certificate
            // identical to the pinned one, or one that chains to it; check the latter now.
            let top = chain.last().unwrap_or(leaf).clone();
            if chain.len() > 1 {
                let verifier = webpki(std::slice::from_ref(&top))
                    .map_err(|reason| PinError::IncompleteChain { reason })?;
                verifier
                    .verify_server_cert(leaf, &chain[1..], &name, &[], UnixTime::now())
                    .map_err(|e| PinError::IncompleteChain {
                        reason: e.to_string(),
                    })?;
            }
            vec![top]
        }
    };
    let pinned_fingerprint = certs.first().map(|c| fingerprint(c)).unwrap_or_default();
    Ok(Pin {
        certs,
        adapter_fingerprint,
        pinned_fingerprint,
    })
}

/// The fingerprint of the first certificate in a PEM file (for `provision status`).
pub fn file_fingerprint(path: &Path) -> Result<String, PinError> {
    let certs = read_ca(path)?;
    Ok(certs.first().map(|c| fingerprint(c)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_typed_with_or_without_colons_and_may_be_a_prefix() {
        let cert = b"not really a certificate";
        let full = fingerprint(cert);
        assert_eq!(full.len(), 95);
        let bare = full.replace(':', "");
        for typed in [
            full.clone(),
            bare.to_lowercase(),
            bare[..16].to_owned(),
            full[..23].to_owned(),
        ] {
            let e = ExpectedFingerprint::parse(&typed).expect("valid");
            assert!(e.matches(cert), "{typed}");
        }
        let other = ExpectedFingerprint::parse(&"0".repeat(64)).expect("valid");
        assert!(!other.matches(cert));
        for bad in [
            "",
            "abc",
            &"g".repeat(20),
            &"0".repeat(65),
            "0123456789abcde",
        ] {
            assert_eq!(
                ExpectedFingerprint::parse(bad).map_err(|e| e.code()),
                Err("FINGERPRINT_INVALID"),
                "{bad}"
            );
        }
        assert_eq!(
            ExpectedFingerprint::parse("ab:cd:ef:01:23:45:67:89")
                .expect("valid")
                .to_string(),
            "AB:CD:EF:01:23:45:67:89"
        );
    }
}
