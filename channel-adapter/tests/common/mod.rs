//! Shared test helpers: temporary directories, a valid configuration, a TLS client trusting
//! the test CA, and a small HTTP/1.1 client.
//!
//! Why a hand-written client: the tests need only `Connection: close` requests with a JSON or
//! empty body, and sometimes deliberately odd headers. Writing the request line and reading to
//! EOF is a few lines over `tokio::net::TcpStream` (or a TLS stream) and adds no dependency;
//! hyper's client would need extra features of hyper-util and a body-collecting helper, and
//! reqwest would pull its own TLS and connection-pool stack into every test build on 2 cores.

#![allow(dead_code)]

pub mod harness;
pub mod proxy;
pub mod stack;
pub mod xsd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "channel-adapter-it-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fixtures directory (test CA, server certificate and key, valid until 2126).
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// The `[tls]` section serving the test certificate (to append to a configuration).
pub fn tls_toml() -> String {
    format!(
        "\n[tls]\ncert_path = \"{}\"\nkey_path = \"{}\"\n",
        fixtures().join("server.pem").display(),
        fixtures().join("server.key").display()
    )
}

/// A TLS client that trusts the test CA (without `trust_test_ca`, no CA at all).
pub fn tls_client(trust_test_ca: bool) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    if trust_test_ca {
        for cert in CertificateDer::pem_file_iter(fixtures().join("ca.pem")).expect("ca.pem") {
            roots.add(cert.expect("certificate")).expect("add root");
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to the test server `localhost` at `addr`, trusting the test CA.
pub async fn tls_connect(addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tls_client(true)
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake")
}

/// A complete, valid configuration listening on `listen` with the store at `store`.
pub fn config_toml(listen: &str, store: &Path) -> String {
    format!(
        r#"
listen = "{listen}"
store_path = "{}"
check_digits = "lenient"

[psp]
id_psp = "AGID_01"
id_broker_psp = "97735020584"
id_channel = "97735020584_03"
password = "pwdpwdpwd"
subscription_key = "0123456789abcdef"
fiscal_code = "97735020584"

[nodo]
url = "http://127.0.0.1:9/nodo"
primitives = "v2"
token_lifetime_secs = 600

[fees.kiosk]
card = 120

[fees.counter]
card = 100
cash = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]
"#,
        store.display()
    )
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names lower-cased, with values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `code` of an error body.
    pub fn error_code(&self) -> String {
        self.json()["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.text()))
            .to_owned()
    }
}

/// Send one request on `stream` and read the whole answer (`Connection: close`).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream
        .write_all(req.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after a `Connection: close` answer; what was
    // read is complete by Content-Length all the same.
    let _ = stream.read_to_end(&mut raw).await;
    parse_response(&raw)
}

/// One request over plain TCP.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(stream, method, path, headers, body).await
}

/// One authenticated request over plain TCP.
pub async fn call(
    addr: SocketAddr,
    credential: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Response {
    let auth = format!("Bearer {credential}");
    http(addr, method, path, &[("Authorization", &auth)], body).await
}

/// One authenticated request that may find nobody to answer (the server was killed): `None`
/// unless a whole answer came back.
pub async fn try_call(
    addr: SocketAddr,
    credential: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {credential}\r\n"
    );
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        match headers.iter().find(|(n, _)| n == "content-length") {
            Some((_, len)) => {
                let len: usize = len.parse().expect("content-length");
                rest[..len.min(rest.len())].to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = std::str::from_utf8(&rest[..eol]).expect("chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("hex chunk size");
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
}
