//! HTTPS: the server speaks TLS with the configured certificate (rustls, ring) and answers the
//! device API over it; a client that does not trust the CA, or speaks plain HTTP, gets nothing.

mod common;

use std::sync::Arc;

use channel_adapter::ambient::{OsRandom, SystemClock};
use channel_adapter::api;
use channel_adapter::config::Config;
use channel_adapter::server::{Bound, load_tls};
use channel_adapter::store::Store;
use common::{TempDir, config_toml, exchange, fixtures, tls_client, tls_connect};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

#[tokio::test]
async fn serves_the_api_over_tls() {
    let dir = TempDir::new("tls");
    let store_path = dir.join("adapter.db");
    let config =
        Config::from_toml(&config_toml("127.0.0.1:0", &store_path), Vec::new()).expect("config");
    let store = Arc::new(Store::open(&store_path).expect("store"));
    let state = channel_adapter::app_state(
        Arc::new(config),
        store,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        None,
    );
    let tls = load_tls(
        &fixtures().join("server.pem"),
        &fixtures().join("server.key"),
    )
    .expect("load the test certificate");
    let bound = Bound::bind("127.0.0.1:0".parse().expect("addr"), Some(tls))
        .await
        .expect("bind");
    assert_eq!(bound.scheme(), "https");
    let addr = bound.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(api::router(state), async {
        let _ = stopped.await;
    }));

    let r = exchange(
        tls_connect(addr).await,
        "GET",
        "/v1/openapi.json",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["openapi"], "3.1.0");

    let r = exchange(
        tls_connect(addr).await,
        "POST",
        "/v1/heartbeat",
        &[],
        Some("{}"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (401, "MISSING_CREDENTIAL")
    );

    // A client without our CA refuses the server.
    let name = ServerName::try_from("localhost").expect("name");
    let untrusting = tls_client(false)
        .connect(name, TcpStream::connect(addr).await.expect("connect"))
        .await;
    assert!(untrusting.is_err());

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut raw = TcpStream::connect(addr).await.expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), raw.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );

    let _ = stop.send(());
    server.await.expect("join").expect("clean stop");
}

#[test]
fn bad_certificate_files_have_codes() {
    let dir = TempDir::new("tls-bad");
    let missing = load_tls(&dir.join("none.pem"), &fixtures().join("server.key"))
        .expect_err("missing certificate");
    assert_eq!(missing.code(), "TLS_CERTIFICATE");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    assert_eq!(
        load_tls(&empty, &fixtures().join("server.key"))
            .expect_err("empty")
            .code(),
        "TLS_CERTIFICATE"
    );
    assert_eq!(
        load_tls(&fixtures().join("server.pem"), &empty)
            .expect_err("no key")
            .code(),
        "TLS_KEY"
    );
    // The CA's certificate with the server's key: the pair does not match.
    let mismatch = load_tls(&fixtures().join("ca.pem"), &fixtures().join("server.key"));
    assert!(mismatch.is_err());
}
