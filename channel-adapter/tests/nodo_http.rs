//! The real Nodo client on the wire: HTTPS with a configured CA, the exact request line and
//! headers pagoPA expects (SOAPAction, Content-Type, subscription key), the body byte for byte,
//! kept-alive connections, and a server certificate from an unknown CA refused.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use channel_adapter::config::Secret;
use channel_adapter::nodo::NodoClient;
use channel_adapter::nodo::http::{HttpNodoClient, Trust};
use channel_adapter::server::load_tls;
use pagopa::fault::Primitive;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request as received: request line, headers (names lower-cased), body.
type Received = (String, Vec<(String, String)>, Vec<u8>);

/// What the fake Nodo saw: one entry per request, plus the number of connections.
#[derive(Debug, Default)]
struct Seen {
    requests: Vec<Received>,
    connections: usize,
}

const ANSWER: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body/></soapenv:Envelope>";

/// A TLS server with the fixture certificate (localhost, 127.0.0.1) that records each request
/// and answers 200 with [`ANSWER`], keeping the connection open.
async fn fake_nodo(seen: Arc<Mutex<Seen>>) -> std::net::SocketAddr {
    let fixtures = common::fixtures();
    let tls = load_tls(&fixtures.join("server.pem"), &fixtures.join("server.key")).expect("tls");
    let acceptor = TlsAcceptor::from(tls);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                seen.lock().expect("lock").connections += 1;
                let mut buf = Vec::new();
                loop {
                    // Read one request: head, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p;
                        }
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let line = lines.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + 4 + len {
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[head_end + 4..head_end + 4 + len].to_vec();
                    buf.drain(..head_end + 4 + len);
                    seen.lock()
                        .expect("lock")
                        .requests
                        .push((line, headers, body));
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn posts_soap_over_https_with_pagopa_headers() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let addr = fake_nodo(Arc::clone(&seen)).await;
    let url = format!(
        "https://localhost:{}/nodo-auth/node-for-psp/v1",
        addr.port()
    )
    .parse()
    .expect("url");
    let ca = common::fixtures().join("ca.pem");
    let client = HttpNodoClient::new(&url, &Secret::new("primary-key-123"), Trust::Bundle(&ca))
        .expect("client");
    let envelope = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><x>\u{e8}</x></soapenv:Body></soapenv:Envelope>";
    let reply = client
        .post(Primitive::ActivatePaymentNoticeV2, envelope)
        .await
        .expect("an answer");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, Bytes::from_static(ANSWER.as_bytes()));
    let again = client
        .post(Primitive::SendPaymentOutcome, envelope)
        .await
        .expect("an answer");
    assert_eq!(again.status, 200);

    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen.connections, 1,
        "the connection is kept alive and reused"
    );
    let (line, headers, body) = &seen.requests[0];
    assert_eq!(
        line,
        "POST /nodo-auth/node-for-psp/v1?soapAction=activatePaymentNoticeV2 HTTP/1.1"
    );
    assert_eq!(
        header(headers, "soapaction"),
        Some("\"activatePaymentNoticeV2\"")
    );
    assert_eq!(
        header(headers, "content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(
        header(headers, "ocp-apim-subscription-key"),
        Some("primary-key-123")
    );
    assert_eq!(
        header(headers, "host"),
        Some(format!("localhost:{}", addr.port()).as_str())
    );
    assert_eq!(
        body.as_slice(),
        envelope.as_bytes(),
        "the body byte for byte (UTF-8)"
    );
    assert_eq!(
        header(&seen.requests[1].1, "soapaction"),
        Some("\"sendPaymentOutcome\"")
    );
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let addr = fake_nodo(Arc::clone(&seen)).await;
    let url = format!("https://localhost:{}/nodo", addr.port())
        .parse()
        .expect("url");
    // Mozilla's roots do not include the test CA.
    let client = HttpNodoClient::new(&url, &Secret::new("k"), Trust::WebPki).expect("client");
    let e = client
        .post(Primitive::VerifyPaymentNotice, "<x/>")
        .await
        .expect_err("untrusted");
    assert_eq!(e.code(), "NODO_NO_ANSWER");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert!(seen.lock().expect("lock").requests.is_empty());
}
