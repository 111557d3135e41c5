//! The adapter's fleet page (`/admin/`) in a real browser: an operator of one comune logs in
//! with the token `channel-adapter user add` printed, sees only the devices of that comune,
//! and a printer out of paper shows as a fault in words, not only in colour.
//!
//! It lives with the kiosk's browser tests because they own the WebDriver client and the
//! Chromium setup; the adapter is a dev-dependency here, as for the end-to-end tests.
//!
//! Requires `apt-get install -y chromium chromium-driver`; without them this test fails.

#[path = "browser/webdriver.rs"]
mod webdriver;

mod common;

use channel_adapter::ambient::{Clock as _, OsRandom, SystemClock};
use channel_adapter::store::fleet::Role;
use channel_adapter::{devices, users};
use channel_api::DeviceKind;
use channel_api::fleet::{DeviceHealth, PaperLevel, PrinterHealth};
use common::{TempDir, adapter_without_nodo};
use serde_json::json;
use webdriver::{Browser, target_dir};

const ROMA: &str = "02438750586";
const FIUMICINO: &str = "97086740582";

#[test]
fn an_operator_sees_only_their_comune_with_status_in_words() {
    let dir = TempDir::new("fleet-page");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (addr, store, _server) = rt.block_on(adapter_without_nodo(&dir, false));
    let now = SystemClock.now();
    let roma = devices::add(
        &store,
        "roma-anagrafe-1",
        ROMA,
        DeviceKind::Kiosk,
        &OsRandom,
        now,
    )
    .expect("device");
    let fiumicino = devices::add(
        &store,
        "fiumicino-tributi-1",
        FIUMICINO,
        DeviceKind::Counter,
        &OsRandom,
        now,
    )
    .expect("device");
    let paper_out = DeviceHealth {
        printer: Some(PrinterHealth {
            online: true,
            paper: PaperLevel::Out,
            cover_open: false,
        }),
        terminal_reachable: Some(true),
        scanner_present: Some(true),
        queue_depth: 0,
        ..DeviceHealth::default()
    };
    store
        .record_heartbeat(roma.device.id, now, Some("0.1.0"), Some(&paper_out))
        .expect("heartbeat");
    store
        .record_heartbeat(
            fiumicino.device.id,
            now,
            Some("0.1.0"),
            Some(&DeviceHealth::default()),
        )
        .expect("heartbeat");
    // A user of Roma only; their token.
    let user = |name: &str, role: Role| {
        users::add(
            &store,
            name,
            role,
            &[ROMA.to_owned()],
            false,
            &OsRandom,
            now,
        )
        .expect("user")
        .token
    };
    let token = user("operatore-roma", Role::Operator);
    let admin = user("admin-roma", Role::Admin);

    let browser = Browser::start(1280, 900);
    browser.goto(&format!("http://{addr}/admin/"));
    browser.wait_visible("#token");
    assert_eq!(
        browser.js("return document.documentElement.lang", &[]),
        json!("it")
    );
    // The token field has a label.
    assert_eq!(
        browser.js(
            "return document.querySelector('label[for=token]').innerText.length > 0",
            &[]
        ),
        json!(true)
    );
    browser.type_into("#token", &token);
    browser.click("#login button[type=submit]");
    browser.wait(
        "the fleet table",
        "document.querySelectorAll('#rows tr').length > 0",
    );

    let rows = browser.js(
        "return [...document.querySelectorAll('#rows tr')].map(r => r.innerText)",
        &[],
    );
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "only Roma's device: {rows:?}");
    let row = rows[0].as_str().expect("text");
    assert!(row.contains("roma-anagrafe-1"), "{row}");
    assert!(row.contains("Guasto"), "status in words: {row}");
    assert!(row.contains("carta esaurita"), "the reason in words: {row}");
    assert!(
        row.contains("Roma (02438750586)"),
        "the comune by name: {row}"
    );
    let body = browser.text("body").to_lowercase();
    assert!(!body.contains("fiumicino") && !body.contains(FIUMICINO));
    // Real column headers.
    assert_eq!(
        browser.js(
            "return document.querySelectorAll('thead th[scope=col]').length >= 10",
            &[]
        ),
        json!(true)
    );
    // An operator gets no actions.
    assert!(!browser.visible("#new-code"));
    assert!(!browser.visible("#code-form"));
    assert!(browser.text("#who").contains("operatore-roma"));

    browser.click("#lang");
    browser.wait("lang=en", "document.documentElement.lang === 'en'");
    browser.wait_text("#rows", "paper out");
    assert!(browser.text("#rows").contains("Fault"));
    browser.screenshot(&target_dir().join("fleet-page.png"));

    // An administrator also gets the actions: revoke, and a new enrollment code.
    browser.click("#logout");
    browser.wait_visible("#token");
    browser.type_into("#token", &admin);
    browser.click("#login button[type=submit]");
    browser.wait(
        "the fleet table",
        "document.querySelectorAll('#rows tr').length > 0",
    );
    browser.wait_visible("#new-code");
    assert!(browser.text("#rows").contains("Revoke"));
    browser.click("#new-code");
    browser.wait_visible("#code-form");
    browser.type_into("#code-comune", ROMA);
    browser.type_into("#code-location", "Ufficio tributi");
    browser.click("#code-form button[type=submit]");
    browser.wait_text("#code-out", "Code: ");
    let out = browser.text("#code-out");
    let code = out
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {out:?}"));
    assert_eq!(code.len(), 14, "{out}");
    browser.assert_no_script_errors();
    drop(browser);
    rt.shutdown_background();
}
