//! The UIs in headless Chromium against the real agent: its local API and embedded pages in
//! front, the real channel adapter and the Nodo simulator behind (`tests/common`), the drivers'
//! simulators as devices. Where `browser.rs` checks every screen against canned states, this
//! checks that the pages and the agent agree on the contract: a citizen pays by card from the
//! demo catalogue and sees the receipt rendered from the printed bytes; a clerk logs in, takes
//! cash with change, and closes the day with the adapter agreeing.
//!
//! Requires `apt-get install -y chromium chromium-driver`; without them these tests fail.

#[path = "common/mod.rs"]
mod common;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::sync::Mutex;

use common::{TempDir, agent_toml, backend};
use kiosk::config::Config;
use serde_json::json;
use webdriver::{Browser, target_dir};

/// One browser at a time (see `browser.rs`).
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The backend and an agent in `mode`, served from `rt` while the test drives the browser.
fn start(
    rt: &tokio::runtime::Runtime,
    mode: &str,
    dir: &TempDir,
) -> (common::Backend, kiosk::AgentHandle) {
    rt.block_on(async {
        let backend = backend().await;
        let credential = match mode {
            "kiosk" => backend.kiosk_credential.clone(),
            _ => backend.counter_credential.clone(),
        };
        let text = agent_toml(mode, &backend.url(), &credential, &dir.join("journal.db"));
        let config = Config::from_toml(&text).expect("agent config");
        let agent = kiosk::Agent::start(config).await.expect("agent starts");
        (backend, agent)
    })
}

#[test]
fn citizen_pays_by_card_at_the_real_agent_and_sees_the_printed_receipt() {
    let _guard = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let rt = runtime();
    let dir = TempDir::new("browser-e2e-kiosk");
    let (backend, agent) = start(&rt, "kiosk", &dir);
    let notice = backend.notices[0].clone();
    let browser = Browser::start(1080, 1440);
    browser.goto(&format!("http://{}", agent.addr()));

    // The demo catalogue's samples are offered; the notice is typed on the keypad's fields.
    browser.wait_visible("#demo .demo-sample");
    assert!(browser.text("#demo").contains("Simula scansione: TARI"));
    browser.click("#manual-open");
    browser.wait_visible("[data-screen=manual]");
    browser.type_into("#manual-notice", &notice.notice_number);
    browser.type_into("#manual-fc", &notice.fiscal_code);
    browser.click("#manual-form button[type=submit]");

    // The adapter's verification: amount, the kiosk's card fee (1,20 €) and the total.
    browser.wait_within(
        std::time::Duration::from_secs(40),
        "the confirm screen",
        "document.querySelector('[data-screen=confirm]').checkVisibility()",
    );
    let amount = notice.amount_cents;
    let euros = |cents: u64| format!("{},{:02} €", cents / 100, cents % 100);
    assert_eq!(browser.text("#c-amount"), euros(amount));
    assert_eq!(browser.text("#c-fee"), "1,20 €");
    assert_eq!(browser.text("#c-total"), euros(amount + 120));
    assert!(!browser.text("#c-creditor").is_empty());
    assert!(
        browser.visible("#timer"),
        "the confirm screen shows its countdown"
    );
    browser.click("#more-time");
    browser.screenshot(&target_dir().join("e2e-kiosk-confirm.png"));

    // Pay: activation, the simulated terminal approves, the receipt prints.
    browser.click("#confirm-pay");
    browser.wait_within(
        std::time::Duration::from_secs(40),
        "the done screen",
        "document.querySelector('[data-screen=done]').checkVisibility()",
    );
    browser.wait_visible("#receipt");
    // The preview is the agent's rendering of the bytes the printer received.
    browser.wait(
        "the receipt preview",
        "document.querySelector('#receipt img, #receipt .line') !== null",
    );
    let preview = browser.js(
        "const r = document.getElementById('receipt'); const img = r.querySelector('img'); \
         return img ? img.alt : r.innerText;",
        &[],
    );
    let preview = preview.as_str().unwrap_or_default();
    assert!(preview.contains("RICEVUTA DI"), "{preview}");
    let grouped: Vec<String> = notice
        .notice_number
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert!(preview.contains(&grouped.join(" ")), "{preview}");
    let flow = agent.view().flow_id.expect("a flow");
    assert!(preview.contains(&flow), "{preview}");
    browser.wait(
        "the receipt image to load",
        "(() => { const i = document.querySelector('#receipt img'); return !i || (i.complete && i.naturalWidth > 0); })()",
    );
    browser.screenshot(&target_dir().join("e2e-kiosk-done.png"));
    let sims = agent.sims();
    assert_eq!(
        sims.terminal.as_ref().expect("terminal sim").total_cents(),
        amount + 120
    );

    browser.click("[data-screen=done] [data-action=done]");
    browser.wait_visible("[data-screen=idle]");
    browser.assert_no_script_errors();
    drop(browser);
    rt.block_on(agent.shutdown());
    backend.stop();
}

#[test]
fn clerk_logs_in_takes_cash_with_change_and_the_adapter_agrees_at_closing() {
    let _guard = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let rt = runtime();
    let dir = TempDir::new("browser-e2e-counter");
    let (backend, agent) = start(&rt, "counter", &dir);
    let notice = backend.notices[1].clone();
    let browser = Browser::start(1280, 1000);
    browser.goto(&format!("http://{}", agent.addr()));

    browser.wait_visible("#login-form");
    browser.type_into("#login-operator", "mrossi");
    browser.type_into("#login-pin", "1111");
    browser.click("#login-form button[type=submit]");
    browser.wait_text("#login-error", "Operatore o PIN errati.");
    browser.type_into("#login-pin", "2468");
    browser.click("#login-form button[type=submit]");
    browser.wait_visible("#desk");
    assert_eq!(browser.text("#operator-name"), "Mario Rossi");

    browser.type_into("#manual-notice", &notice.notice_number);
    browser.type_into("#manual-fc", &notice.fiscal_code);
    browser.click("#manual-form button[type=submit]");
    browser.wait_within(
        std::time::Duration::from_secs(40),
        "the confirm screen",
        "document.querySelector('[data-screen=confirm]').checkVisibility()",
    );
    // The counter's cash fee for amounts up to 50 € is 1,00 €; card is 1,00 € too.
    let total = notice.amount_cents + 100;
    let euros = |cents: u64| format!("{},{:02} €", cents / 100, cents % 100);
    browser.wait_text("[data-method=cash] .method-total", &euros(total));
    browser.click("[data-method=cash]");
    browser.click("#confirm");
    browser.wait_visible("#cash-form");
    assert_eq!(browser.text("#t-total"), euros(total));

    // 100 € handed over: the change shown while typing is what the agent then records.
    browser.type_into("#tendered", "100");
    browser.wait_text("#change", &euros(10_000 - total));
    browser.click("#cash-submit");
    browser.wait_visible("[data-screen=done]");
    browser.wait_text("#done-change-row", &euros(10_000 - total));
    assert_eq!(agent.view().change_cents, Some(10_000 - total));
    browser.wait_visible("#receipt");
    browser.screenshot(&target_dir().join("e2e-counter-done.png"));
    browser.click("#reprint");
    browser.wait_text("#reprint-result", "Ricevuta ristampata.");
    browser.click("[data-screen=done] [data-action=done]");
    browser.wait_visible("[data-screen=idle]");

    // The day's journal lists it; the closing expects that cash and the adapter agrees.
    browser.click("[data-tab=journal]");
    browser.wait_text("#journal-rows", &euros(total));
    browser.click("[data-tab=closing]");
    browser.wait_text("#closing-expected", &euros(total));
    let counted = format!("{},{:02}", total / 100, total % 100);
    browser.type_into("#counted", &counted);
    browser.wait_text("#closing-diff", "La cassa quadra.");
    browser.click("#closing-form button[type=submit]");
    browser.wait_text(
        "#closing-result",
        "il servizio di pagamento concorda con i totali",
    );
    browser.screenshot(&target_dir().join("e2e-counter-closing.png"));
    assert_eq!(
        browser.js("return document.documentElement.lang", &[]),
        json!("it")
    );
    browser.assert_no_script_errors();
    drop(browser);
    rt.block_on(agent.shutdown());
    backend.stop();
}
