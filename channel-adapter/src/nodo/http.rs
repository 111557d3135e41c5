//! The real transport: SOAP 1.1 over HTTP/1.1, HTTPS with rustls on the `ring` provider.
//!
//! Why hyper + hyper-util and not reqwest: hyper 1 and hyper-util are already compiled into the
//! adapter for axum, the client needs one request shape (POST, three headers, a text body), and
//! the TLS connector is forty lines over `tokio-rustls`, which the server already uses. reqwest
//! would add its own stack (URL parsing, encodings, redirects, a second TLS integration) to a
//! 2-core build for nothing we use; hyper-rustls would add a crate for those forty lines.
//!
//! Every request carries:
//! - `Content-Type: text/xml; charset=utf-8` (SOAP 1.1);
//! - `SOAPAction: "<operation>"`, quoted as SOAP 1.1 and WS-I BP R1109 ask, plus the same
//!   value in the `?soapAction=` query parameter that pagoPA's API gateway also routes on
//!   (`shared/reference/pagopa.md` §1);
//! - `Ocp-Apim-Subscription-Key`, marked sensitive so it never appears in debug output.
//!
//! Connections are kept alive and pooled (HTTP/1.1, one request at a time per connection).
//! Server certificates are checked against Mozilla's roots (`webpki-roots`), or only against
//! the PEM bundle in `nodo.ca_path` when one is configured (a private test environment). The
//! client never retries by itself: a request either gets a reply or a [`NodoError::NoAnswer`].

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{Request, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pagopa::fault::Primitive;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{HttpReply, NodoClient, NodoError, NodoFuture};
use crate::config::{Config, Secret};

/// The largest answer read; the Nodo's answers are a few kilobytes.
const MAX_BODY: usize = 4 << 20;

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the client cannot be built. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The CA bundle is unreadable or holds no certificate.
    #[error("nodo.ca_path {path}: {reason}")]
    CaBundle {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The subscription key cannot be an HTTP header value.
    #[error("psp.subscription_key is not a valid HTTP header value")]
    SubscriptionKey,
    /// The URL has no host or an unsupported scheme.
    #[error("nodo.url {0}: expected http:// or https:// with a host")]
    Url(String),
}

impl ClientError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::CaBundle { .. } => "NODO_CLIENT_CA_BUNDLE",
            ClientError::SubscriptionKey => "NODO_CLIENT_SUBSCRIPTION_KEY",
            ClientError::Url(_) => "NODO_CLIENT_URL",
        }
    }
}

/// Which certificates a Nodo server certificate must chain to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust<'a> {
    /// Mozilla's root programme (pagoPA's public endpoints).
    WebPki,
    /// Only the CAs in this PEM file.
    Bundle(&'a Path),
}

/// The TLS client configuration for `trust`, `ring` provider, HTTP/1.1 by ALPN.
pub fn tls_config(trust: Trust<'_>) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    match trust {
        Trust::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Trust::Bundle(path) => {
            let err = |reason: String| ClientError::CaBundle {
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
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(err("no usable CA certificate in the file".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::CaBundle {
            path: String::new(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A connection: plain TCP (towards a loopback simulator) or TLS.
#[derive(Debug)]
pub enum Stream {
    /// `http://`
    Plain(TcpStream),
    /// `https://`
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// Opens TCP or TLS connections for hyper-util's pool.
#[derive(Debug, Clone)]
pub struct Connector {
    tls: Arc<ClientConfig>,
}

impl Connector {
    /// A connector verifying servers with `tls`.
    pub fn new(tls: Arc<ClientConfig>) -> Connector {
        Connector { tls }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = TlsConnector::from(Arc::clone(&self.tls));
        Box::pin(async move {
            let https = uri.scheme_str() == Some("https");
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            // Small request, small answer: do not wait to coalesce segments.
            tcp.set_nodelay(true)?;
            if !https {
                return Ok(TokioIo::new(Stream::Plain(tcp)));
            }
            let name = ServerName::try_from(host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = tls.connect(name, tcp).await?;
            Ok(TokioIo::new(Stream::Tls(Box::new(stream))))
        })
    }
}

/// The Nodo over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpNodoClient {
    client: Client<Connector, Full<Bytes>>,
    url: Uri,
    subscription_key: HeaderValue,
}

impl HttpNodoClient {
    /// A client for the endpoint `url`, sending `subscription_key`, trusting `trust`.
    pub fn new(
        url: &Uri,
        subscription_key: &Secret,
        trust: Trust<'_>,
    ) -> Result<HttpNodoClient, ClientError> {
        if url.host().is_none() || !matches!(url.scheme_str(), Some("http" | "https")) {
            return Err(ClientError::Url(url.to_string()));
        }
        let mut key = HeaderValue::from_str(subscription_key.expose())
            .map_err(|_| ClientError::SubscriptionKey)?;
        key.set_sensitive(true);
        let connector = Connector::new(tls_config(trust)?);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(1024)
            .build(connector);
        Ok(HttpNodoClient {
            client,
            url: url.clone(),
            subscription_key: key,
        })
    }

    /// The client the configuration describes.
    pub fn from_config(config: &Config) -> Result<HttpNodoClient, ClientError> {
        let trust = match &config.nodo.ca_path {
            Some(p) => Trust::Bundle(p),
            None => Trust::WebPki,
        };
        HttpNodoClient::new(&config.nodo.url, &config.psp.subscription_key, trust)
    }

    /// The endpoint with `soapAction=<operation>` added to its query.
    fn url_for(&self, primitive: Primitive) -> Result<Uri, NodoError> {
        let action = primitive.soap_action();
        let path_and_query = match self.url.path_and_query() {
            Some(pq) => match pq.query() {
                Some(q) => format!("{}?{q}&soapAction={action}", pq.path()),
                None => format!("{}?soapAction={action}", pq.path()),
            },
            None => format!("/?soapAction={action}"),
        };
        let mut parts = self.url.clone().into_parts();
        parts.path_and_query = Some(
            path_and_query
                .parse()
                .map_err(|e| NodoError::NoAnswer(format!("cannot build the URL: {e}")))?,
        );
        Uri::from_parts(parts)
            .map_err(|e| NodoError::NoAnswer(format!("cannot build the URL: {e}")))
    }
}

/// The error and its causes on one line (hyper's errors say little at the top level).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

impl NodoClient for HttpNodoClient {
    fn post<'a>(&'a self, primitive: Primitive, envelope: &'a str) -> NodoFuture<'a, HttpReply> {
        Box::pin(async move {
            let url = self.url_for(primitive)?;
            let request = Request::post(url)
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )
                .header("SOAPAction", format!("\"{}\"", primitive.soap_action()))
                .header("Ocp-Apim-Subscription-Key", self.subscription_key.clone())
                .body(Full::new(Bytes::copy_from_slice(envelope.as_bytes())))
                .map_err(|e| NodoError::NoAnswer(format!("cannot build the request: {e}")))?;
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| NodoError::NoAnswer(chain(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| NodoError::NoAnswer(format!("answer cut short: {e}")))?
                .to_bytes();
            Ok(HttpReply { status, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> HttpNodoClient {
        HttpNodoClient::new(
            &url.parse().expect("url"),
            &Secret::new("key"),
            Trust::WebPki,
        )
        .expect("client")
    }

    #[test]
    fn the_soap_action_is_added_to_the_query() {
        let c = client("https://api.uat.platform.pagopa.it/nodo-auth/node-for-psp/v1");
        assert_eq!(
            c.url_for(Primitive::ActivatePaymentNoticeV2)
                .expect("url")
                .to_string(),
            "https://api.uat.platform.pagopa.it/nodo-auth/node-for-psp/v1?soapAction=activatePaymentNoticeV2"
        );
        let c = client("http://127.0.0.1:9000/nodo?x=1");
        assert_eq!(
            c.url_for(Primitive::VerifyPaymentNotice)
                .expect("url")
                .to_string(),
            "http://127.0.0.1:9000/nodo?x=1&soapAction=verifyPaymentNotice"
        );
    }

    #[test]
    fn bad_inputs_have_codes() {
        let e = HttpNodoClient::new(
            &"https://example.org/".parse().expect("url"),
            &Secret::new("bad\nkey"),
            Trust::WebPki,
        )
        .expect_err("newline");
        assert_eq!(e.code(), "NODO_CLIENT_SUBSCRIPTION_KEY");
        let e = tls_config(Trust::Bundle(Path::new("/nonexistent/ca.pem"))).expect_err("missing");
        assert_eq!(e.code(), "NODO_CLIENT_CA_BUNDLE");
        let e = HttpNodoClient::new(
            &"/relative".parse().expect("uri"),
            &Secret::new("k"),
            Trust::WebPki,
        )
        .expect_err("no host");
        assert_eq!(e.code(), "NODO_CLIENT_URL");
    }

    #[tokio::test]
    async fn a_refused_connection_is_no_answer() {
        // Port 9 (discard) on loopback is closed in the test environment.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let c = client(&format!("http://{addr}/nodo"));
        let e = c
            .post(Primitive::VerifyPaymentNotice, "<x/>")
            .await
            .expect_err("refused");
        assert_eq!(e.code(), "NODO_NO_ANSWER");
    }
}
