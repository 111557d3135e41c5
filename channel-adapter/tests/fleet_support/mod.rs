//! Helpers of the fleet tests: a device key pair that signs requests the way the contract says,
//! and an adapter on loopback (plain or TLS) on the shared harness, its clock at the system time.

#![allow(dead_code)]

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::enroll::{self, CodeRequest};
use channel_adapter::store::Store;
use channel_api::fleet::signing_input;
use channel_api::{DeviceKind, Timestamp};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::common::harness::Harness;
use crate::common::{Response, http};

/// A device's key pair, made with ring as a device would.
pub struct DeviceKey(Ed25519KeyPair);

impl DeviceKey {
    /// A fresh key pair.
    pub fn generate() -> DeviceKey {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        DeviceKey(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key"))
    }

    /// The public key, base64url.
    pub fn public(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.public_key().as_ref())
    }

    /// The `Authorization` value for a request of device `id` at `ms`.
    pub fn authorization(&self, id: u64, method: &str, path: &str, ms: i64, body: &str) -> String {
        let sig = self
            .0
            .sign(&signing_input(method, path, ms, body.as_bytes()));
        format!(
            "Signature {id}.{ms}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        )
    }
}

/// One signed request over plain TCP, signed at `ms`.
pub async fn signed_at(
    addr: SocketAddr,
    key: &DeviceKey,
    id: u64,
    ms: i64,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Response {
    let auth = key.authorization(id, method, path, ms, body.unwrap_or(""));
    authorized(addr, &auth, method, path, body).await
}

/// One request over plain TCP with this `Authorization` value (signed or not, by the caller).
pub async fn authorized(
    addr: SocketAddr,
    auth: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Response {
    http(addr, method, path, &[("Authorization", auth)], body).await
}

/// One signed request over plain TCP, signed now.
pub async fn signed(
    addr: SocketAddr,
    key: &DeviceKey,
    id: u64,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Response {
    let ms = SystemClock.now().unix_millis();
    signed_at(addr, key, id, ms, method, path, body).await
}

/// Roma Capitale, the comune of most test devices.
pub const ROMA: &str = "02438750586";
/// Another comune (Fiumicino).
pub const FIUMICINO: &str = "97086740582";

/// An adapter without a Nodo, on loopback, its clock (which the test moves) starting at the
/// system time.
pub struct Adapter(Harness);

impl std::ops::Deref for Adapter {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.0
    }
}

impl Adapter {
    /// Start one; `extra` is appended to the configuration; `tls`: serve the test certificate.
    pub async fn start(name: &str, extra: &str, tls: bool) -> Adapter {
        let now = SystemClock.now().unix_millis();
        Adapter(Harness::start_with(name, None, now, extra, tls).await)
    }

    /// Create an enrollment code for `comune` (24 h).
    pub fn code(&self, comune: &str) -> String {
        new_code(&self.store, comune, self.clock.now())
    }
}

/// Create a kiosk enrollment code for `comune` in `store`.
pub fn new_code(store: &Store, comune: &str, now: Timestamp) -> String {
    enroll::create_code(
        store,
        &OsRandom,
        &CodeRequest {
            comune,
            location: "Ufficio anagrafe",
            kind: DeviceKind::Kiosk,
            ttl: std::time::Duration::from_secs(24 * 3600),
            created_by: "test",
        },
        now,
    )
    .expect("code")
    .code
    .display()
}

/// The body of an enrollment request.
pub fn enroll_body(code: &str, key: &DeviceKey) -> String {
    serde_json::json!({"code": code, "public_key": key.public(), "hostname": "kiosk-test",
        "agent_version": "0.1.0"})
    .to_string()
}

/// Ask to enroll with `code` and `key` over plain TCP; the answer.
pub async fn try_enroll(addr: SocketAddr, code: &str, key: &DeviceKey) -> Response {
    http(
        addr,
        "POST",
        "/v1/enroll",
        &[],
        Some(&enroll_body(code, key)),
    )
    .await
}

/// Enroll over plain TCP; the device id.
pub async fn enroll_device(addr: SocketAddr, code: &str, key: &DeviceKey) -> u64 {
    let r = try_enroll(addr, code, key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["device"]["id"].as_u64().expect("device id")
}
