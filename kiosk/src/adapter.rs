//! The channel adapter's client: the `channel-api` contract over HTTP/1.1, with the device
//! credential, deadlines, and a clear line between "no answer" and "an answer that says no".
//!
//! That line is what the flow's money rules rest on: [`Failure::Unreachable`] means the request
//! may or may not have arrived (resend the same request, or go offline), [`Failure::Refused`]
//! is the adapter's considered answer with a catalogue code (no resend). Anything that is not a
//! well-formed answer (a proxy's HTML page, a truncated body, a timeout) is "no answer".
//!
//! Every request carries the station's credential: a bearer secret for stations registered by
//! hand, or, for enrolled stations, a signature made with the device's own key over the method,
//! path, instant and body (`channel_api::fleet`), the instant read from the injected clock.
//! The path signed is the API path (`/v1/...`) without the URL's prefix: a reverse proxy
//! mounting the adapter under a prefix strips it before the adapter sees the request.
//!
//! With `adapter.ca_file` set, the certificate pinned at enrollment (the adapter's own, or its
//! CA) is the only one trusted; a handshake with another certificate is reported as such, not
//! as a generic network failure, though for the money rules it is still "no answer".
//!
//! One connection per request, over hyper's HTTP/1.1 client connection (already in the build
//! through axum) and rustls on the `ring` provider for `https`. A kiosk makes a handful of
//! requests per payment; a pool would save nothing worth its failure modes (half-closed idle
//! sockets behind NATs).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use channel_api::fleet::{
    CredentialChanged, DeviceConfig, DeviceStatus, EnrollRequest, EnrollResponse,
    RotateCredentialRequest,
};
use channel_api::{
    ActivateRequest, Closing, ClosingRequest, ErrorBody, HeartbeatRequest, HeartbeatResponse,
    OfflineBatchRequest, OfflineBatchResponse, OutcomeRequest, Payment, PaymentId, PaymentList,
    ResolutionRequest, ResolutionResponse, VerifyRequest, VerifyResponse, paths,
};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

use crate::clock::{Clock, SystemClock};
use crate::config::{AdapterConfig, DeviceCredential};
use crate::device_key::{DeviceKey, KeyError};
use crate::flow::Failure;

/// Largest answer read.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Why the client cannot be built. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `http(s)://host[:port][/prefix]`.
    #[error("adapter URL {0:?} is not http(s)://host[:port][/path]")]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("adapter CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The device key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl ClientError {
    /// Stable machine-readable code: `ADAPTER_URL`, `ADAPTER_CA_FILE`, `ADAPTER_TLS`, or the
    /// key's (`KEY_READ`, `KEY_PERMISSIONS`, `KEY_INVALID`…).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Url(_) => "ADAPTER_URL",
            ClientError::CaFile { .. } => "ADAPTER_CA_FILE",
            ClientError::Tls(_) => "ADAPTER_TLS",
            ClientError::Key(e) => e.code(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    prefix: String,
}

fn parse_url(url: &str) -> Option<Target> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if tail.is_empty() => default_port,
            None => return None,
        };
        (h.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default_port),
        }
    };
    if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
        return None;
    }
    Some(Target {
        tls,
        host,
        port,
        prefix: prefix.to_owned(),
    })
}

/// The detail of the failure of a handshake with a certificate other than the pinned one.
pub const PINNED_CERTIFICATE_MISMATCH: &str = "adapter certificate does not match the pinned one";

/// Whether `failure` is a TLS handshake refused because the adapter showed a certificate other
/// than the one pinned at enrollment (a different server, or the adapter's certificate was
/// replaced: enroll again or install the new certificate).
pub fn is_certificate_mismatch(failure: &Failure) -> bool {
    matches!(failure, Failure::Unreachable { detail } if detail.starts_with(PINNED_CERTIFICATE_MISMATCH))
}

#[derive(Clone)]
enum Auth {
    None,
    Bearer(Arc<str>),
    Key { device_id: u64, key: Arc<KeySource> },
}

/// Which version of a file: its inode and modification time.
type FileStamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.modified().ok()))
}

/// The device key, read again when its file is replaced: `provision rotate-credential` renames
/// a new key over it while the agent runs, and from then on the adapter refuses the old one.
/// A stat per request is the whole cost.
struct KeySource {
    path: Option<std::path::PathBuf>,
    current: std::sync::Mutex<(Option<FileStamp>, Arc<DeviceKey>)>,
}

impl KeySource {
    fn file(path: &std::path::Path) -> Result<KeySource, KeyError> {
        let before = stamp(path);
        let key = DeviceKey::load(path)?;
        Ok(KeySource {
            path: Some(path.to_owned()),
            current: std::sync::Mutex::new((before, Arc::new(key))),
        })
    }

    fn fixed(key: DeviceKey) -> KeySource {
        KeySource {
            path: None,
            current: std::sync::Mutex::new((None, Arc::new(key))),
        }
    }

    fn key(&self) -> Arc<DeviceKey> {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.path {
            let now = stamp(path);
            if now.is_some() && now != current.0 {
                // Marked as seen either way: a broken file is reported once, not per request.
                current.0 = now;
                match DeviceKey::load(path) {
                    Ok(key) => {
                        tracing::info!(public_key = %key.public_key(), "device key file replaced: signing with the new key");
                        current.1 = Arc::new(key);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "device key file replaced by an unusable one: signing with the previous key");
                    }
                }
            }
        }
        Arc::clone(&current.1)
    }
}

/// The adapter's client. Cheap to clone.
#[derive(Clone)]
pub struct AdapterClient {
    target: Target,
    auth: Auth,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    connect_timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    pinned: bool,
}

impl std::fmt::Debug for AdapterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none".to_owned(),
            Auth::Bearer(_) => "bearer ***".to_owned(),
            Auth::Key { device_id, .. } => format!("signed by device {device_id}"),
        };
        f.debug_struct("AdapterClient")
            .field("target", &self.target)
            .field("auth", &auth)
            .field("pinned", &self.pinned)
            .finish()
    }
}

/// Trusts exactly the pinned certificates: a presented certificate identical to one of them
/// (the adapter's own, self-signed or not), or one that chains to one of them (a CA).
///
/// An identical certificate is trusted whatever its name and dates, as ssh trusts a known host
/// key: the pin says more than either, and a kiosk in a small comune must not stop taking
/// payments the day a certificate it was explicitly given expires. The handshake signature is still
/// checked, so only the holder of the pinned certificate's key gets through.
#[derive(Debug)]
struct Pinned {
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    chain: Arc<rustls::client::WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        self.chain
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificates of a PEM file (a pinned adapter certificate or CA); an error says why
/// there are none.
pub fn read_pem_certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_rustls::TlsConnector, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let tls_config = match ca_file {
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Some(path) => {
            let err = |reason: String| ClientError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let certs = read_pem_certificates(path).map_err(err)?;
            // Only what was pinned: the public web roots are deliberately left out.
            let mut roots = rustls::RootCertStore::empty();
            for c in &certs {
                roots.add(c.clone()).map_err(|e| err(e.to_string()))?;
            }
            let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    certs,
                    chain,
                    provider,
                }))
                .with_no_client_auth()
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(tls_config)))
}

fn unreachable(detail: impl Into<String>) -> Failure {
    Failure::Unreachable {
        detail: detail.into(),
    }
}

impl AdapterClient {
    /// A client for the configured adapter, reading the device key if the station is
    /// enrolled. Signatures take their instant from the system clock until
    /// [`AdapterClient::with_clock`].
    pub fn new(config: &AdapterConfig) -> Result<AdapterClient, ClientError> {
        let target = parse_url(&config.url).ok_or_else(|| ClientError::Url(config.url.clone()))?;
        let tls = if target.tls {
            Some(tls_connector(config.ca_file.as_deref())?)
        } else {
            None
        };
        let auth = match &config.credential {
            DeviceCredential::Secret(s) => Auth::Bearer(Arc::from(s.as_str())),
            DeviceCredential::Key {
                device_id,
                key_file,
            } => Auth::Key {
                device_id: *device_id,
                key: Arc::new(KeySource::file(key_file)?),
            },
            DeviceCredential::None => Auth::None,
        };
        Ok(AdapterClient {
            target,
            auth,
            clock: Arc::new(SystemClock),
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            pinned: tls.is_some() && config.ca_file.is_some(),
            tls,
        })
    }

    /// A client without credential, for enrollment: `url` and the certificate to pin, if any.
    pub fn for_enrollment(
        url: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<AdapterClient, ClientError> {
        AdapterClient::new(&AdapterConfig {
            url: url.trim().trim_end_matches('/').to_owned(),
            credential: DeviceCredential::None,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            ca_file: ca_file.map(std::path::Path::to_owned),
            sync_interval: Duration::from_secs(30),
        })
    }

    /// The same client, its signatures dated by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AdapterClient {
        self.clock = clock;
        self
    }

    /// The same client, signing as `device_id` with `key` (after enrollment or a rotation).
    pub fn signed_by(mut self, device_id: u64, key: DeviceKey) -> AdapterClient {
        self.auth = Auth::Key {
            device_id,
            key: Arc::new(KeySource::fixed(key)),
        };
        self
    }

    async fn send_on<S>(
        &self,
        stream: S,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), Failure>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(format!("HTTP handshake: {e}")))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(format!("request: {e}")))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok((status, body))
        }
        .await;
        driver.abort();
        result
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        authenticate: bool,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let t = &self.target;
        let host_header = if t.host.contains(':') {
            format!("[{}]:{}", t.host, t.port)
        } else {
            format!("{}:{}", t.host, t.port)
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", t.prefix))
            .header(header::HOST, host_header);
        let authorization = match (&self.auth, authenticate) {
            (Auth::Bearer(c), true) => Some(format!("{} {c}", channel_api::auth::SCHEME)),
            (Auth::Key { device_id, key }, true) => Some(key.key().authorization(
                *device_id,
                method.as_str(),
                path,
                self.clock.now().unix_millis(),
                body.as_deref().unwrap_or_default(),
            )),
            (Auth::None, _) | (_, false) => None,
        };
        if let Some(a) = authorization {
            builder = builder.header(header::AUTHORIZATION, a);
        }
        builder = builder.header(header::ACCEPT, "application/json").header(
            header::USER_AGENT,
            concat!("kiosk/", env!("CARGO_PKG_VERSION")),
        );
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| unreachable(format!("building the request: {e}")))?;
        let connect = async {
            let tcp = TcpStream::connect((t.host.as_str(), t.port))
                .await
                .map_err(|e| unreachable(format!("connect {}:{}: {e}", t.host, t.port)))?;
            let _ = tcp.set_nodelay(true);
            Ok::<_, Failure>(tcp)
        };
        let tcp = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| unreachable("connect timeout"))??;
        let work = async {
            match &self.tls {
                Some(tls) => {
                    let name = ServerName::try_from(t.host.clone())
                        .map_err(|e| unreachable(format!("server name: {e}")))?;
                    let stream = tokio::time::timeout(self.connect_timeout, tls.connect(name, tcp))
                        .await
                        .map_err(|_| unreachable("TLS handshake timeout"))?
                        .map_err(|e| self.tls_failure(&e))?;
                    self.send_on(stream, request).await
                }
                None => self.send_on(tcp, request).await,
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
    }

    /// A failed handshake: a certificate other than the pinned one is named as such.
    fn tls_failure(&self, e: &std::io::Error) -> Failure {
        let rustls_error = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls_error {
            Some(rustls::Error::InvalidCertificate(why)) if self.pinned => {
                unreachable(format!("{PINNED_CERTIFICATE_MISMATCH} ({why:?})"))
            }
            Some(rustls::Error::InvalidCertificate(why)) => {
                unreachable(format!("adapter certificate not trusted ({why:?})"))
            }
            _ => unreachable(format!("TLS: {e}")),
        }
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp, Failure> {
        self.call_as(method, path, body, true).await
    }

    async fn call_as<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
        authenticate: bool,
    ) -> Result<Resp, Failure> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| unreachable(format!("encoding the request: {e}")))?;
        let (status, bytes) = self.exchange(method, path, body, authenticate).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| unreachable(format!("unreadable answer ({status}): {e}")));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(error) => Err(Failure::Refused { error }),
            // A status without the catalogue's body came from something in between.
            Err(_) => Err(unreachable(format!("HTTP {status} without an error body"))),
        }
    }

    /// `POST /v1/verify`.
    pub async fn verify(&self, req: &VerifyRequest) -> Result<VerifyResponse, Failure> {
        self.call(Method::POST, paths::VERIFY, Some(req)).await
    }

    /// `POST /v1/payments` (idempotent by `client_key`).
    pub async fn activate(&self, req: &ActivateRequest) -> Result<Payment, Failure> {
        self.call(Method::POST, paths::PAYMENTS, Some(req)).await
    }

    /// `POST /v1/payments/{id}/outcome` (the same body is accepted again).
    pub async fn outcome(&self, id: &PaymentId, req: &OutcomeRequest) -> Result<Payment, Failure> {
        let path = paths::OUTCOME.replace("{id}", id.as_str());
        self.call(Method::POST, &path, Some(req)).await
    }

    /// `GET /v1/payments/{id}`.
    pub async fn payment(&self, id: &PaymentId) -> Result<Payment, Failure> {
        let path = paths::PAYMENT.replace("{id}", id.as_str());
        self.call::<(), _>(Method::GET, &path, None).await
    }

    /// `GET /v1/payments?limit=500`: the comune's latest payments.
    pub async fn payments(&self) -> Result<PaymentList, Failure> {
        let path = format!("{}?limit=500", paths::PAYMENTS);
        self.call::<(), _>(Method::GET, &path, None).await
    }

    /// `POST /v1/offline-batches`.
    pub async fn offline_batch(
        &self,
        req: &OfflineBatchRequest,
    ) -> Result<OfflineBatchResponse, Failure> {
        self.call(Method::POST, paths::OFFLINE_BATCHES, Some(req))
            .await
    }

    /// `POST /v1/closings`: the day's closing, checked by the adapter (the same body again gets
    /// the same answer).
    pub async fn closing(&self, req: &ClosingRequest) -> Result<Closing, Failure> {
        self.call(Method::POST, paths::CLOSINGS, Some(req)).await
    }

    /// `POST /v1/payments/{id}/resolution`: how staff resolved an exception (idempotent).
    pub async fn resolution(
        &self,
        id: &PaymentId,
        req: &ResolutionRequest,
    ) -> Result<ResolutionResponse, Failure> {
        let path = paths::RESOLUTION.replace("{id}", id.as_str());
        self.call(Method::POST, &path, Some(req)).await
    }

    /// `POST /v1/heartbeat`.
    pub async fn heartbeat(&self, req: &HeartbeatRequest) -> Result<HeartbeatResponse, Failure> {
        self.call(Method::POST, paths::HEARTBEAT, Some(req)).await
    }

    /// `POST /v1/enroll`, without credential (the one-time code is the credential). Refusals
    /// keep their code: `ENROLLMENT_CODE_INVALID`, `ENROLLMENT_CODE_EXPIRED`,
    /// `ENROLLMENT_CODE_USED`, `TOO_MANY_ATTEMPTS`.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, Failure> {
        self.call_as(Method::POST, paths::ENROLL, Some(req), false)
            .await
    }

    /// `GET /v1/device`: the device as the adapter sees it.
    pub async fn device_status(&self) -> Result<DeviceStatus, Failure> {
        self.call::<(), _>(Method::GET, paths::DEVICE, None).await
    }

    /// `GET /v1/device/config`: the configuration the adapter manages for this device.
    pub async fn device_config(&self) -> Result<DeviceConfig, Failure> {
        self.call::<(), _>(Method::GET, paths::DEVICE_CONFIG, None)
            .await
    }

    /// `PUT /v1/device/credential`, signed with the current key: from the answer on, only
    /// `req.public_key`'s signatures are accepted (use [`AdapterClient::signed_by`]).
    pub async fn rotate_credential(
        &self,
        req: &RotateCredentialRequest,
    ) -> Result<CredentialChanged, Failure> {
        self.call(Method::PUT, paths::DEVICE_CREDENTIAL, Some(req))
            .await
    }

    /// `POST /v1/device/unenroll`: the device leaves the fleet; its credential stops working.
    pub async fn unenroll(&self) -> Result<CredentialChanged, Failure> {
        self.call::<(), _>(Method::POST, paths::UNENROLL, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_scheme_host_port_and_prefix() {
        assert_eq!(
            parse_url("https://adapter.example/api/"),
            Some(Target {
                tls: true,
                host: "adapter.example".into(),
                port: 443,
                prefix: "/api".into()
            })
        );
        assert_eq!(
            parse_url("http://127.0.0.1:8088"),
            Some(Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8088,
                prefix: String::new()
            })
        );
        assert_eq!(
            parse_url("http://[::1]:80").map(|t| (t.host, t.port)),
            Some(("::1".into(), 80))
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://user@host",
            "http://host:port",
            "http://[::1",
        ] {
            assert_eq!(parse_url(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn no_listener_is_unreachable_not_refused() {
        let config = AdapterConfig {
            url: "http://127.0.0.1:9".into(),
            credential: DeviceCredential::Secret("x".into()),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            ca_file: None,
            sync_interval: Duration::from_secs(30),
        };
        let c = AdapterClient::new(&config).expect("client");
        let n = pagopa::NoticeNumber::parse("300715700000000032", pagopa::CheckMode::Strict)
            .expect("n");
        let f = pagopa::CreditorFiscalCode::parse("00085240950", pagopa::CheckMode::Strict)
            .expect("cf");
        let r = c
            .verify(&VerifyRequest {
                notice_number: n,
                creditor_fiscal_code: f,
            })
            .await;
        assert!(matches!(r, Err(Failure::Unreachable { .. })), "{r:?}");
    }

    #[test]
    fn a_replaced_key_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("kiosk-keysource-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("device.key");
        let first = DeviceKey::generate().expect("key");
        first.save(&path).expect("save");
        let source = KeySource::file(&path).expect("load");
        assert_eq!(source.key().public_key(), first.public_key());
        // As `provision rotate-credential` does: a new file renamed over the old one.
        let second = DeviceKey::generate().expect("key");
        second.save(&path).expect("save");
        assert_eq!(source.key().public_key(), second.public_key());
        // A broken replacement keeps the last good key.
        crate::fsutil::write_atomic(&path, b"not a key", 0o600).expect("write");
        assert_eq!(source.key().public_key(), second.public_key());
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
