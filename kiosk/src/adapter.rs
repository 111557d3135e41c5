//! The channel adapter's client: the `channel-api` contract over HTTP/1.1, with the device
//! credential, deadlines, and a clear line between "no answer" and "an answer that says no".
//!
//! That line is what the flow's money rules rest on: [`Failure::Unreachable`] means the request
//! may or may not have arrived (resend the same request, or go offline), [`Failure::Refused`]
//! is the adapter's considered answer with a catalogue code (no resend). Anything that is not a
//! well-formed answer (a proxy's HTML page, a truncated body, a timeout) is "no answer".
//!
//! One connection per request, over hyper's HTTP/1.1 client connection (already in the build
//! through axum) and rustls on the `ring` provider for `https`. A kiosk makes a handful of
//! requests per payment; a pool would save nothing worth its failure modes (half-closed idle
//! sockets behind NATs).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
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

use crate::config::AdapterConfig;
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
}

impl ClientError {
    /// Stable machine-readable code: `ADAPTER_URL`, `ADAPTER_CA_FILE`, `ADAPTER_TLS`.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Url(_) => "ADAPTER_URL",
            ClientError::CaFile { .. } => "ADAPTER_CA_FILE",
            ClientError::Tls(_) => "ADAPTER_TLS",
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

/// The adapter's client. Cheap to clone.
#[derive(Clone)]
pub struct AdapterClient {
    target: Target,
    credential: Arc<str>,
    timeout: Duration,
    connect_timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for AdapterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterClient")
            .field("target", &self.target)
            .field("credential", &"***")
            .finish()
    }
}

fn unreachable(detail: impl Into<String>) -> Failure {
    Failure::Unreachable {
        detail: detail.into(),
    }
}

impl AdapterClient {
    /// A client for the configured adapter.
    pub fn new(config: &AdapterConfig) -> Result<AdapterClient, ClientError> {
        let target = parse_url(&config.url).ok_or_else(|| ClientError::Url(config.url.clone()))?;
        let tls = if target.tls {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Some(path) = &config.ca_file {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject as _;
                let err = |reason: String| ClientError::CaFile {
                    path: path.display().to_string(),
                    reason,
                };
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| err(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| err(e.to_string()))?;
                if certs.is_empty() {
                    return Err(err("no certificate in the file".into()));
                }
                for c in certs {
                    roots.add(c).map_err(|e| err(e.to_string()))?;
                }
            }
            let tls_config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(tls_config)))
        } else {
            None
        };
        Ok(AdapterClient {
            target,
            credential: Arc::from(config.credential.as_str()),
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            tls,
        })
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
    ) -> Result<(StatusCode, Bytes), Failure> {
        let t = &self.target;
        let host_header = if t.host.contains(':') {
            format!("[{}]:{}", t.host, t.port)
        } else {
            format!("{}:{}", t.host, t.port)
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", t.prefix))
            .header(header::HOST, host_header)
            .header(
                header::AUTHORIZATION,
                format!("{} {}", channel_api::auth::SCHEME, self.credential),
            )
            .header(header::ACCEPT, "application/json")
            .header(
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
                        .map_err(|e| unreachable(format!("TLS: {e}")))?;
                    self.send_on(stream, request).await
                }
                None => self.send_on(tcp, request).await,
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp, Failure> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| unreachable(format!("encoding the request: {e}")))?;
        let (status, bytes) = self.exchange(method, path, body).await?;
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
            credential: "x".into(),
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
}
