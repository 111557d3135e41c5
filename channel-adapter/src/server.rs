//! The listener: plain HTTP on loopback, HTTPS (rustls, ring provider) everywhere else, and
//! graceful shutdown.
//!
//! TLS handshakes run in their own tasks, with a deadline, so a slow or silent client cannot
//! hold up the others; only finished handshakes reach axum, through [`TlsListener`].

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Why TLS cannot be set up. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is unreadable or holds no certificate.
    #[error("tls.cert_path {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file is unreadable or holds no private key.
    #[error("tls.key_path {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (key does not match, unsupported algorithm).
    #[error("TLS configuration refused: {0}")]
    Rejected(String),
}

impl TlsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TlsError::Certificate { .. } => "TLS_CERTIFICATE",
            TlsError::Key { .. } => "TLS_KEY",
            TlsError::Rejected(_) => "TLS_REJECTED",
        }
    }
}

/// A rustls server configuration from PEM files, on the `ring` provider, TLS 1.2 and 1.3,
/// HTTP/1.1 announced by ALPN.
pub fn load_tls(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |reason: String| TlsError::Certificate {
        path: cert_path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_err("no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Key {
        path: key_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rejected(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Rejected(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TCP connections and hands axum only those that completed a TLS handshake.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    /// Start accepting on `tcp` with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let tls = TlsAcceptor::from(config);
        let acceptor = tokio::spawn(async move {
            loop {
                match tcp.accept().await {
                    Ok((stream, peer)) => {
                        let tls = tls.clone();
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_DEADLINE, tls.accept(stream)).await
                            {
                                Ok(Ok(s)) => {
                                    let _ = tx.send((s, peer)).await;
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(TlsListener {
            ready,
            local_addr,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// The peer address of a connection, plain or TLS, for handlers that read
/// `ConnectInfo<ClientAddr>` (the enrollment limiter). A local type because axum implements
/// `Connected` for `SocketAddr` only on its own TCP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

macro_rules! client_addr_of {
    ($($listener:ty),*) => {$(
        impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, $listener>>
            for ClientAddr
        {
            fn connect_info(stream: axum::serve::IncomingStream<'_, $listener>) -> Self {
                ClientAddr(*stream.remote_addr())
            }
        }
    )*};
}

client_addr_of!(TcpListener, TlsListener);

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor task is gone (aborted at shutdown): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// A bound listener, plain or TLS.
#[derive(Debug)]
pub enum Bound {
    /// Plain HTTP (loopback only; the configuration enforces it).
    Plain(TcpListener),
    /// HTTPS.
    Tls(TlsListener),
}

impl Bound {
    /// Bind `addr`, with TLS when `tls` is given.
    pub async fn bind(addr: SocketAddr, tls: Option<Arc<ServerConfig>>) -> io::Result<Bound> {
        let tcp = TcpListener::bind(addr).await?;
        Ok(match tls {
            None => Bound::Plain(tcp),
            Some(config) => Bound::Tls(TlsListener::new(tcp, config)?),
        })
    }

    /// The bound address (the real port when 0 was asked).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Bound::Plain(l) => l.local_addr(),
            Bound::Tls(l) => Ok(l.local_addr),
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Bound::Plain(_) => "http",
            Bound::Tls(_) => "https",
        }
    }

    /// Serve `app` until `shutdown` completes, then finish the requests in flight.
    pub async fn serve(
        self,
        app: Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        match self {
            // With the peer address in each request: the enrollment limiter counts failures
            // per client address (`api::device`).
            Bound::Plain(l) => {
                let make = app.into_make_service_with_connect_info::<ClientAddr>();
                axum::serve(l, make).with_graceful_shutdown(shutdown).await
            }
            Bound::Tls(l) => {
                let make = app.into_make_service_with_connect_info::<ClientAddr>();
                axum::serve(l, make).with_graceful_shutdown(shutdown).await
            }
        }
    }
}
