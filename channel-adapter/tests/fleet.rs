//! The fleet over real loopback HTTP: revocation in the middle of a payment, configuration
//! published and picked up through the heartbeat, health turned into a status, and comune
//! scoping of the admin API (an operator of one comune never sees another's data).

mod common;
mod fleet_support;

use channel_adapter::ambient::Clock as _;
use channel_adapter::ambient::{OsRandom, SystemClock};
use channel_adapter::store::fleet::Role;
use channel_adapter::users;
use common::stack::{Stack, StackOptions, active, notice};
use common::{call, http};
use fleet_support::{Adapter, DeviceKey, FIUMICINO, ROMA, enroll_device, new_code, signed};
use serde_json::json;

fn user(store: &channel_adapter::store::Store, name: &str, role: Role, comuni: &[&str]) -> String {
    let comuni: Vec<String> = comuni.iter().map(|c| (*c).to_owned()).collect();
    users::add(
        store,
        name,
        role,
        &comuni,
        comuni.is_empty(),
        &OsRandom,
        SystemClock.now(),
    )
    .expect("user")
    .token
}

#[tokio::test]
async fn a_device_revoked_mid_payment_is_refused_and_its_payment_stays_visible() {
    let stack = Stack::start("fleet-revoke", StackOptions::default()).await;
    let key = DeviceKey::generate();
    let code = new_code(&stack.store, ROMA, SystemClock.now());
    let id = enroll_device(stack.addr, &code, &key).await;
    let admin_token = user(&stack.store, "admin", Role::Admin, &[ROMA]);
    let operator = user(&stack.store, "operator", Role::Operator, &[ROMA]);

    let body = json!({"client_key": "revoke-0001", "notice_number": notice(1, 901),
        "creditor_fiscal_code": common::stack::TEST_EC, "amount": 10000, "tender": "card"})
    .to_string();
    let r = signed(stack.addr, &key, id, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let payment = r.json();
    assert_eq!(payment["state"], "active");
    let pid = payment["id"].as_str().expect("id").to_owned();

    let r = call(
        stack.addr,
        &operator,
        "POST",
        &format!("/admin/v1/devices/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(r.error_code(), "FORBIDDEN", "operators only read");
    let r = call(
        stack.addr,
        &admin_token,
        "POST",
        &format!("/admin/v1/devices/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "revoked");

    let outcome = json!({"outcome": "OK", "paid_with": "credit_card", "fee": 120,
        "paid_at": "2025-03-01T09:31:00Z", "receipt_number": "R-1"})
    .to_string();
    let r = signed(
        stack.addr,
        &key,
        id,
        "POST",
        &format!("/v1/payments/{pid}/outcome"),
        Some(&outcome),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "DEVICE_REVOKED");

    let r = call(
        stack.addr,
        &operator,
        "GET",
        &format!("/admin/v1/payments?comune={ROMA}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let mine = listed["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .find(|p| p["id"] == pid.as_str())
        .cloned()
        .expect("the activated payment is listed");
    assert_eq!(mine["state"], "active");
    // A device registered by hand keeps working (bearer credential) next to enrolled ones.
    let cred = stack.device("counter-1", channel_api::DeviceKind::Counter);
    active(&stack, &cred, "bearer-0002", &notice(1, 902), 10000).await;
    stack.stop().await;
}

#[tokio::test]
async fn published_configuration_reaches_the_device_through_the_heartbeat() {
    let a = Adapter::start("fleet-config", "", false).await;
    let key = DeviceKey::generate();
    let id = enroll_device(a.addr, &a.code(ROMA), &key).await;
    let admin_token = user(&a.store, "admin", Role::Admin, &[ROMA]);
    let hb = json!({"health": {"queue_depth": 0, "config_version": 0}}).to_string();
    let r = signed(a.addr, &key, id, "POST", "/v1/heartbeat", Some(&hb)).await;
    assert_eq!(r.json()["config_version"], 0);

    let addr = a.addr;
    let publish = |body: serde_json::Value| {
        let token = admin_token.clone();
        async move {
            call(
                addr,
                &token,
                "PUT",
                "/admin/v1/device-config",
                Some(&body.to_string()),
            )
            .await
        }
    };
    let r = publish(json!({"comune": ROMA, "settings": {"printer_width": 20}})).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("printer_width"), "{}", r.text());
    let r = publish(json!({"comune": ROMA,
        "settings": {"printer_width": 48, "languages": ["it", "en"]}}))
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = r.json()["version"].as_u64().expect("version");
    let r = publish(json!({"comune": ROMA, "device_id": id,
        "settings": {"printer_width": 32}}))
    .await;
    let v2 = r.json()["version"].as_u64().expect("version");
    assert!(v2 > v1);

    let r = signed(a.addr, &key, id, "POST", "/v1/heartbeat", Some(&hb)).await;
    assert_eq!(r.json()["config_version"], v2);
    let r = signed(a.addr, &key, id, "GET", "/v1/device/config", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let config = r.json();
    assert_eq!(config["version"], v2);
    assert_eq!(
        config["settings"]["printer_width"], 32,
        "the device's own wins"
    );
    assert_eq!(config["settings"]["languages"], json!(["it", "en"]));

    // Not yet applied: the fleet shows a warning until the device says it applied it.
    let fleet = call(a.addr, &admin_token, "GET", "/admin/v1/fleet", None).await;
    let d = &fleet.json()["devices"][0];
    assert_eq!(d["status"], "warning");
    assert_eq!(d["reasons"], json!(["config_not_applied"]));
    let applied = json!({"health": {"queue_depth": 0, "config_version": v2}}).to_string();
    signed(a.addr, &key, id, "POST", "/v1/heartbeat", Some(&applied)).await;
    let fleet = call(a.addr, &admin_token, "GET", "/admin/v1/fleet", None).await;
    assert_eq!(fleet.json()["devices"][0]["status"], "ok");
}

#[tokio::test]
async fn heartbeat_health_becomes_the_fleet_status() {
    let a = Adapter::start("fleet-health", "", false).await;
    let key = DeviceKey::generate();
    let id = enroll_device(a.addr, &a.code(ROMA), &key).await;
    let operator = user(&a.store, "op", Role::Operator, &[ROMA]);
    let fleet = call(a.addr, &operator, "GET", "/admin/v1/fleet", None).await;
    assert_eq!(fleet.json()["devices"][0]["status"], "silent");

    let hb = json!({"agent_version": "0.2.0", "health": {
        "printer": {"online": true, "paper": "out", "cover_open": false},
        "terminal_reachable": true, "scanner_present": true, "queue_depth": 2}})
    .to_string();
    let r = signed(a.addr, &key, id, "POST", "/v1/heartbeat", Some(&hb)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fleet = call(a.addr, &operator, "GET", "/admin/v1/fleet", None).await;
    assert_eq!(fleet.status, 200, "{}", fleet.text());
    let d = &fleet.json()["devices"][0];
    assert_eq!(d["status"], "error");
    assert_eq!(d["reasons"], json!(["paper_out"]));
    assert_eq!(d["health"]["printer"]["paper"], "out");
    assert_eq!(d["agent_version"], "0.2.0");
    assert_eq!(d["credential"], "key_pair");
    assert_eq!(d["location"], "Ufficio anagrafe");
    assert!(d["last_contact"].is_string());
    let metrics = http(a.addr, "GET", "/metrics", &[], None).await.text();
    assert!(
        metrics.contains("channel_adapter_devices{status=\"error\"} 1"),
        "{metrics}"
    );

    // Nothing for longer than fleet.silent_after: silent.
    a.clock.advance(5 * 60 * 1000 + 1);
    let fleet = call(a.addr, &operator, "GET", "/admin/v1/fleet", None).await;
    assert_eq!(fleet.json()["devices"][0]["status"], "silent");
}

#[tokio::test]
async fn an_operator_of_one_comune_never_sees_another() {
    let a = Adapter::start("fleet-scope", "", false).await;
    let roma_key = DeviceKey::generate();
    let roma_id = enroll_device(a.addr, &a.code(ROMA), &roma_key).await;
    let fiumicino_id = enroll_device(a.addr, &a.code(FIUMICINO), &DeviceKey::generate()).await;
    let operator = user(&a.store, "op-roma", Role::Operator, &[ROMA]);
    let admin_roma = user(&a.store, "admin-roma", Role::Admin, &[ROMA]);
    let everyone = user(&a.store, "root", Role::Admin, &[]);

    let me = call(a.addr, &operator, "GET", "/admin/v1/me", None).await;
    assert_eq!(me.json()["comuni"], json!([ROMA]));
    assert_eq!(me.json()["role"], "operator");

    let fleet = call(a.addr, &operator, "GET", "/admin/v1/fleet", None).await;
    let ids: Vec<u64> = fleet.json()["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, vec![roma_id], "no filter: only the operator's comuni");
    for path in [
        format!("/admin/v1/fleet?comune={FIUMICINO}"),
        format!("/admin/v1/payments?comune={FIUMICINO}"),
    ] {
        let r = call(a.addr, &operator, "GET", &path, None).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.error_code(), "FORBIDDEN");
    }
    // An administrator of Roma cannot act on Fiumicino's device, even knowing its id; an
    // operator only reads.
    let codes = "/admin/v1/enrollment-codes";
    let refused = [
        (
            &admin_roma,
            "POST",
            format!("/admin/v1/devices/{fiumicino_id}/revoke"),
            None,
        ),
        (
            &admin_roma,
            "PUT",
            "/admin/v1/device-config".to_owned(),
            Some(json!({"comune": FIUMICINO, "settings": {}})),
        ),
        (
            &admin_roma,
            "POST",
            codes.to_owned(),
            Some(json!({"comune": FIUMICINO, "location": "x", "kind": "kiosk"})),
        ),
        (
            &operator,
            "POST",
            codes.to_owned(),
            Some(json!({"comune": ROMA, "location": "x", "kind": "kiosk"})),
        ),
    ];
    for (token, method, path, body) in refused {
        let body = body.map(|b| b.to_string());
        let r = call(a.addr, token, method, &path, body.as_deref()).await;
        assert_eq!(r.error_code(), "FORBIDDEN", "{method} {path}");
    }
    // Unfiltered payments cover only the operator's comuni.
    let r = call(a.addr, &operator, "GET", "/admin/v1/payments", None).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // An administrator of every comune sees both, and can create a code for either.
    let fleet = call(a.addr, &everyone, "GET", "/admin/v1/fleet", None).await;
    assert_eq!(fleet.json()["devices"].as_array().map(Vec::len), Some(2));
    let r = call(a.addr,
        &everyone,
        "POST",
        "/admin/v1/enrollment-codes",
        Some(
            &json!({"comune": FIUMICINO, "location": "Sportello", "kind": "counter", "ttl_s": 3600})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let code = r.json()["code"].as_str().expect("code").to_owned();
    assert_eq!(code.len(), 14);
    let id = enroll_device(a.addr, &code, &DeviceKey::generate()).await;
    assert!(id > fiumicino_id);

    // No token, a wrong token, a device credential: refused.
    let r = http(a.addr, "GET", "/admin/v1/fleet", &[], None).await;
    assert_eq!(r.error_code(), "MISSING_CREDENTIAL");
    let r = call(a.addr, "cu1.1.00", "GET", "/admin/v1/fleet", None).await;
    assert_eq!(r.error_code(), "INVALID_CREDENTIAL");
}

#[tokio::test]
async fn the_fleet_page_is_served() {
    let a = Adapter::start("fleet-page", "", false).await;
    let r = http(a.addr, "GET", "/admin/", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(r.text().contains("fleet.js"));
    let r = http(a.addr, "GET", "/admin/fleet.js", &[], None).await;
    assert_eq!(r.status, 200);
    let r = http(a.addr, "GET", "/admin/fleet.css", &[], None).await;
    assert_eq!(r.status, 200);
}
