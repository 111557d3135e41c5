//! Enrollment and signed requests over real loopback HTTP (and HTTPS): a device enrolls with a
//! one-time code and a key generated with ring, then signs every request; codes are single
//! use, expire, burn after wrong secrets, and an address that keeps guessing is refused;
//! bad, stale and tampered signatures are refused; a rotated key replaces the old one.

mod common;
mod fleet_support;

use channel_adapter::ambient::Clock as _;
use common::{exchange, http, tls_connect};
use fleet_support::{
    Adapter, DeviceKey, ROMA, authorized, enroll_body, enroll_device, signed, signed_at, try_enroll,
};
use serde_json::json;

#[tokio::test]
async fn enrolls_over_tls_and_signs_every_request() {
    let a = Adapter::start("enroll-tls", "", true).await;
    let code = a.code(ROMA);
    let key = DeviceKey::generate();
    let tls = || tls_connect(a.addr);
    // Typed sloppily: lower case, spaces instead of dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let body = enroll_body(&typed, &key);
    let r = exchange(tls().await, "POST", "/v1/enroll", &[], Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let enrolled = r.json();
    let id = enrolled["device"]["id"].as_u64().expect("id");
    assert_eq!(enrolled["device"]["comune"], ROMA);
    assert_eq!(enrolled["device"]["kind"], "kiosk");
    assert_eq!(enrolled["location"], "Ufficio anagrafe");
    assert_eq!(enrolled["comune_name"], "Roma");
    assert_eq!(enrolled["config"]["version"], 0);

    let now = a.clock.now().unix_millis();
    let auth = key.authorization(id, "GET", "/v1/device", now, "");
    let r = exchange(
        tls().await,
        "GET",
        "/v1/device",
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["credential"], "key_pair");
    assert_eq!(r.json()["device"]["id"], id);

    let hb = json!({"agent_version": "0.1.0", "health": {"queue_depth": 0}}).to_string();
    let auth = key.authorization(id, "POST", "/v1/heartbeat", now, &hb);
    let r = exchange(
        tls().await,
        "POST",
        "/v1/heartbeat",
        &[("Authorization", &auth)],
        Some(&hb),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["config_version"], 0);

    // The adapter never stored a private key: only the 32-byte public key.
    let rec = a.store.device(id).expect("read").expect("device");
    assert_eq!(rec.public_key.map(|k| k.len()), Some(32));
}

#[tokio::test]
async fn a_code_works_once() {
    let a = Adapter::start("enroll-reuse", "", false).await;
    let code = a.code(ROMA);
    enroll_device(a.addr, &code, &DeviceKey::generate()).await;
    let r = try_enroll(a.addr, &code, &DeviceKey::generate()).await;
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(r.error_code(), "ENROLLMENT_CODE_USED");
}

#[tokio::test]
async fn a_code_expires() {
    let a = Adapter::start("enroll-expiry", "", false).await;
    let code = a.code(ROMA);
    a.clock.advance(24 * 3600 * 1000);
    let r = try_enroll(a.addr, &code, &DeviceKey::generate()).await;
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(r.error_code(), "ENROLLMENT_CODE_EXPIRED");
}

/// `code` with its last secret character changed.
fn wrong_secret(code: &str) -> String {
    let mut c: Vec<char> = code.chars().collect();
    let last = c.len() - 1;
    c[last] = if c[last] == 'X' { 'Y' } else { 'X' };
    c.into_iter().collect()
}

#[tokio::test]
async fn wrong_secrets_burn_the_code() {
    let a = Adapter::start("enroll-burn", "", false).await;
    let code = a.code(ROMA);
    let key = DeviceKey::generate();
    for _ in 0..5 {
        let r = try_enroll(a.addr, &wrong_secret(&code), &key).await;
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.error_code(), "ENROLLMENT_CODE_INVALID");
    }
    // The right secret comes too late: the code is burnt.
    let r = try_enroll(a.addr, &code, &key).await;
    assert_eq!(r.error_code(), "ENROLLMENT_CODE_USED");
}

#[tokio::test]
async fn an_address_guessing_codes_is_refused() {
    let a = Adapter::start(
        "enroll-guess",
        "\n[enrollment]\nmax_failures_per_address = 3\n",
        false,
    )
    .await;
    let code = a.code(ROMA);
    let key = DeviceKey::generate();
    for guess in ["0000-0000-0000", "1111-1111-1111", "2222-2222-2222"] {
        let r = try_enroll(a.addr, guess, &key).await;
        assert_eq!(r.error_code(), "ENROLLMENT_CODE_INVALID");
    }
    // Even a right code is refused until the window passes.
    let r = try_enroll(a.addr, &code, &key).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.error_code(), "TOO_MANY_ATTEMPTS");
    a.clock.advance(15 * 60 * 1000);
    enroll_device(a.addr, &code, &key).await;
}

#[tokio::test]
async fn bad_stale_and_tampered_signatures_are_refused() {
    let a = Adapter::start("enroll-sigs", "", false).await;
    let key = DeviceKey::generate();
    let id = enroll_device(a.addr, &a.code(ROMA), &key).await;
    let now = a.clock.now().unix_millis();
    let ok = signed_at(a.addr, &key, id, now, "GET", "/v1/device", None).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    // Another key claiming the device.
    let other = DeviceKey::generate();
    let r = signed_at(a.addr, &other, id, now, "GET", "/v1/device", None).await;
    assert_eq!(r.error_code(), "SIGNATURE_INVALID");

    // Out of the clock window, either way.
    for skew in [-(6 * 60 * 1000), 6 * 60 * 1000] {
        let r = signed_at(a.addr, &key, id, now + skew, "GET", "/v1/device", None).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.error_code(), "CLOCK_SKEW");
    }

    // A captured request replayed after the window.
    let hb = json!({"health": {"queue_depth": 1}}).to_string();
    let auth = key.authorization(id, "POST", "/v1/heartbeat", now, &hb);
    let first = authorized(a.addr, &auth, "POST", "/v1/heartbeat", Some(&hb)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    a.clock.advance(5 * 60 * 1000 + 1);
    let replay = authorized(a.addr, &auth, "POST", "/v1/heartbeat", Some(&hb)).await;
    assert_eq!(replay.error_code(), "CLOCK_SKEW");

    // The body and the path are signed.
    let now = a.clock.now().unix_millis();
    let auth = key.authorization(id, "POST", "/v1/heartbeat", now, &hb);
    let tampered = json!({"health": {"queue_depth": 99}}).to_string();
    let r = authorized(a.addr, &auth, "POST", "/v1/heartbeat", Some(&tampered)).await;
    assert_eq!(r.error_code(), "SIGNATURE_INVALID");
    let auth = key.authorization(id, "GET", "/v1/device", now, "");
    let r = authorized(a.addr, &auth, "GET", "/v1/device/config", None).await;
    assert_eq!(r.error_code(), "SIGNATURE_INVALID");
    // Malformed headers.
    for bad in ["Signature", "Signature 1.2", "Signature a.b.c"] {
        let r = authorized(a.addr, bad, "GET", "/v1/device", None).await;
        assert_eq!(r.error_code(), "SIGNATURE_INVALID", "{bad}");
    }
}

#[tokio::test]
async fn a_rotated_key_replaces_the_old_one() {
    let a = Adapter::start("enroll-rotate", "", false).await;
    let old = DeviceKey::generate();
    let id = enroll_device(a.addr, &a.code(ROMA), &old).await;
    let new = DeviceKey::generate();
    let body = json!({"public_key": new.public()}).to_string();
    let r = signed(
        a.addr,
        &old,
        id,
        "PUT",
        "/v1/device/credential",
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["device_id"], id);
    let r = signed(a.addr, &old, id, "GET", "/v1/device", None).await;
    assert_eq!(r.error_code(), "SIGNATURE_INVALID");
    let r = signed(a.addr, &new, id, "GET", "/v1/device", None).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Unenrolling revokes: the very next request is refused.
    let r = signed(a.addr, &new, id, "POST", "/v1/device/unenroll", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = signed(a.addr, &new, id, "GET", "/v1/device", None).await;
    assert_eq!(r.error_code(), "DEVICE_REVOKED");
}

#[tokio::test]
async fn a_bad_public_key_does_not_use_the_code() {
    let a = Adapter::start("enroll-badkey", "", false).await;
    let code = a.code(ROMA);
    let body = json!({"code": code, "public_key": "not-a-key"}).to_string();
    let r = http(a.addr, "POST", "/v1/enroll", &[], Some(&body)).await;
    assert_eq!(r.error_code(), "INVALID_REQUEST");
    enroll_device(a.addr, &code, &DeviceKey::generate()).await;
}
