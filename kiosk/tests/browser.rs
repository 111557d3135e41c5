//! The agent's web UIs in a real browser: headless Debian Chromium driven over WebDriver
//! (`tests/browser/webdriver.rs`), against a fake agent that serves the real embedded pages and
//! canned API answers (`tests/browser/fake.rs`).
//!
//! What a citizen or clerk sees is asserted from the rendered page (`innerText`, visibility,
//! the `lang` attribute) and what the page sends is asserted from the fake's record of posts.
//! Screenshots of the kiosk's confirm screen and the counter's cash screen are written to
//! `target/` for a person to look at.
//!
//! Requires `apt-get install -y chromium chromium-driver`; without them these tests fail.

#[path = "browser/fake.rs"]
mod fake;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::sync::Mutex;

use channel_api::DeviceKind;
use fake::FakeAgent;
use serde_json::{Value, json};
use webdriver::{Browser, target_dir};

/// One browser at a time: the machines have two cores, and parallel Chromiums make timing
/// assertions flaky without testing anything more.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn setup(
    mode: DeviceKind,
    width: u32,
    height: u32,
) -> (std::sync::MutexGuard<'static, ()>, FakeAgent, Browser) {
    let guard = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let agent = FakeAgent::start(mode);
    let browser = Browser::start(width, height);
    (guard, agent, browser)
}

fn posted(agent: &FakeAgent, path: &str) -> Vec<Value> {
    agent
        .posts()
        .into_iter()
        .filter(|(p, _)| p == path)
        .map(|(_, body)| body)
        .collect()
}

fn wait_posted(agent: &FakeAgent, browser: &Browser, path: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let bodies = posted(agent, path);
        if bodies.len() >= count {
            return bodies;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not post {path} ({count} times); posts: {:?}\nconsole:\n{}",
            agent.posts(),
            browser.console()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Seconds on the countdown (`Tempo rimasto: 87 s` → 87).
fn countdown_seconds(browser: &Browser) -> u64 {
    let text = browser.text("#timer-seconds");
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .next()
        .unwrap_or_else(|| panic!("no seconds in {text:?}"))
}

#[test]
fn kiosk_switches_language_with_the_lang_attribute() {
    let (_guard, agent, browser) = setup(DeviceKind::Kiosk, 1080, 1440);
    browser.goto(&agent.url);
    browser.wait_text("[data-screen=idle] h1", "Paga un avviso pagoPA");
    assert_eq!(
        browser.js("return document.documentElement.lang", &[]),
        json!("it")
    );
    assert_eq!(
        browser.js("return document.title", &[]),
        json!("Pagamenti pagoPA")
    );
    browser.wait_visible("#demo .demo-sample");
    browser.screenshot(&target_dir().join("kiosk-idle.png"));

    // Each language button is named in its own language and marked with its own lang.
    let buttons = browser.js(
        "return [...document.querySelectorAll('#languages button')].map(b => [b.lang, b.innerText, b.getAttribute('aria-pressed')])",
        &[],
    );
    assert_eq!(
        buttons,
        json!([
            ["it", "Italiano", "true"],
            ["en", "English", "false"],
            ["de", "Deutsch", "false"]
        ])
    );

    browser.click("#languages [data-lang=en]");
    browser.wait("lang=en", "document.documentElement.lang === 'en'");
    assert_eq!(browser.text("[data-screen=idle] h1"), "Pay a pagoPA notice");
    assert_eq!(browser.text("#manual-open"), "Type in the code");
    assert_eq!(
        browser.js("return document.title", &[]),
        json!("pagoPA payments")
    );
    assert_eq!(
        browser.js("return document.querySelector('#languages [data-lang=en]').getAttribute('aria-pressed')", &[]),
        json!("true")
    );
    assert_eq!(
        browser.js(
            "return document.getElementById('keypad').getAttribute('aria-label')",
            &[]
        ),
        json!("Numeric keypad")
    );

    browser.click("#languages [data-lang=de]");
    browser.wait("lang=de", "document.documentElement.lang === 'de'");
    assert_eq!(
        browser.text("[data-screen=idle] h1"),
        "pagoPA-Zahlungsbescheid bezahlen"
    );
    assert_eq!(browser.text("#manual-open"), "Code von Hand eingeben");

    browser.click("#languages [data-lang=it]");
    browser.wait("lang=it", "document.documentElement.lang === 'it'");
    assert_eq!(browser.text("#manual-open"), "Inserisci il codice a mano");
}

#[test]
fn kiosk_citizen_scans_confirms_the_fee_and_pays_by_card() {
    let (_guard, agent, browser) = setup(DeviceKind::Kiosk, 1080, 1440);
    browser.goto(&agent.url);

    // Demo mode: the sample notices of the demo catalogue, each a "simulate scan" button.
    browser.wait_visible("#demo .demo-sample");
    assert!(
        browser
            .text("#demo")
            .contains("Simula scansione: TARI Roma Capitale")
    );
    browser.click("#demo .demo-sample");
    let scans = wait_posted(&agent, &browser, "/sim/scan", 1);
    assert_eq!(
        scans[0]["payload"],
        json!("PAGOPA|002|302000100000012345|02438750586|123456")
    );

    // The confirm screen: creditor, what for, amount, fee and total in Italian format.
    browser.wait_visible("[data-screen=confirm]");
    assert_eq!(browser.text("#c-creditor"), "Roma Capitale");
    assert_eq!(browser.text("#c-description"), "TARI 2024 - rata unica");
    assert_eq!(browser.text("#c-notice"), "3020 0010 0000 0123 45");
    assert_eq!(browser.text("#c-due"), "31/12/2024");
    assert_eq!(browser.text("#c-amount"), "1.234,56 €");
    assert_eq!(browser.text("#c-fee"), "1,50 €");
    assert_eq!(browser.text("#c-total"), "1.236,06 €");
    assert_eq!(browser.text("#confirm-pay"), "Paga 1.236,06 €");
    // The new screen's heading has the focus and was announced.
    browser.wait(
        "focus on the confirm heading",
        "document.activeElement === document.querySelector('[data-screen=confirm] h1')",
    );
    browser.wait_text("#announce", "Controlla i dati e conferma");

    // A visible countdown with "more time".
    assert!(browser.visible("#timer"));
    let left = countdown_seconds(&browser);
    assert!((80..=90).contains(&left), "countdown shows {left}");
    assert!(browser.visible("#more-time"));
    assert!(!browser.visible("#timer-warning"));
    browser.screenshot(&target_dir().join("kiosk-confirm.png"));

    // Time running out: the warning appears (role=alert), "more time" asks the agent for more.
    agent.set(|v| v["deadline_ms_left"] = json!(12_000));
    browser.wait_visible("#timer-warning");
    assert_eq!(
        browser.js(
            "return document.getElementById('timer-warning').getAttribute('role')",
            &[]
        ),
        json!("alert")
    );
    assert!(browser.text("#timer-warning").contains("Più tempo"));
    assert!(countdown_seconds(&browser) <= 12);
    browser.screenshot(&target_dir().join("kiosk-confirm-timeout.png"));
    browser.click("#more-time");
    wait_posted(&agent, &browser, "/api/more-time", 1);
    browser.wait(
        "the warning to go",
        "document.getElementById('timer-warning').hidden",
    );
    assert!(countdown_seconds(&browser) > 80);

    // Pay: the agent activates for card, the kiosk pays by card by itself, the terminal speaks.
    browser.click("#confirm-pay");
    let confirms = wait_posted(&agent, &browser, "/api/confirm", 1);
    assert_eq!(confirms[0], json!({ "method": "card" }));
    let pays = wait_posted(&agent, &browser, "/api/pay", 1);
    assert_eq!(pays[0], json!({ "method": "card", "tendered_cents": null }));
    browser.wait_visible("[data-screen=card]");
    browser.wait_text("#terminal-text", "INSERIRE LA CARTA");
    assert_eq!(browser.text("#card-total"), "1.236,06 €");
    agent.set(|v| v["progress"] = json!({ "code": "TERMINAL", "text": "DIGITARE IL PIN" }));
    browser.wait_text("#terminal-text", "DIGITARE IL PIN");

    // Declined: the agent is back at tender with the error; the citizen may try again.
    agent.set(|v| {
        v["screen"] = json!("tender");
        v["progress"] = Value::Null;
        v["error"] = json!({
            "code": "CARD_DECLINED",
            "message_it": "Pagamento con carta rifiutato. Riprovare o annullare.",
            "message_en": "The card payment was declined. Try again or cancel.",
            "retryable": true,
        });
    });
    browser.wait_visible("[data-screen=tender]");
    assert_eq!(
        browser.text("#tender-error"),
        "Pagamento con carta rifiutato. Riprovare o annullare."
    );
    assert_eq!(
        posted(&agent, "/api/pay").len(),
        1,
        "a declined card is not charged again by itself"
    );
    browser.screenshot(&target_dir().join("kiosk-declined.png"));
    browser.click("#retry-card");
    wait_posted(&agent, &browser, "/api/pay", 2);
    browser.wait_visible("[data-screen=card]");

    // Done: the receipt preview as printed.
    agent.set(|v| {
        v["screen"] = json!("done");
        v["receipt_id"] = json!("240531-FLOW000001");
        v["progress"] = Value::Null;
        v["deadline_ms_left"] = json!(30_000);
    });
    browser.wait_visible("#receipt");
    browser.wait_text("#receipt", "RICEVUTA DI PAGAMENTO");
    assert!(
        browser
            .text("#receipt")
            .contains("TOTALE           1.236,06 €")
    );
    assert_eq!(
        browser.js(
            "return document.querySelector('#receipt .double').innerText",
            &[]
        ),
        json!("RICEVUTA DI PAGAMENTO")
    );
    // The agent gives no more time on a finished payment: the countdown says where it leads.
    assert!(
        browser
            .text("#timer-seconds")
            .starts_with("Ritorno all'inizio tra")
    );
    assert!(!browser.visible("#more-time"));
    browser.screenshot(&target_dir().join("kiosk-done.png"));
    browser.click("[data-screen=done] [data-action=done]");
    wait_posted(&agent, &browser, "/api/done", 1);
    browser.wait_visible("[data-screen=idle]");

    // One look at the state when the page loaded; every change after it came as a
    // server-sent event (or, for "more time", in the action's answer), none by polling.
    assert_eq!(agent.state_gets(), 1, "the page polled");
    browser.assert_no_script_errors();
}

#[test]
fn kiosk_manual_entry_error_screen_and_money_format() {
    let (_guard, agent, browser) = setup(DeviceKind::Kiosk, 1080, 1440);
    browser.goto(&agent.url);
    browser.wait_visible("#manual-open");

    // Money is formatted with integer arithmetic; typed amounts parse to integer cents.
    let money = browser.js_async(
        "const done = arguments[arguments.length - 1];\
         import('/assets/js/money.js').then(m => done([\
           m.formatCents(0), m.formatCents(5), m.formatCents(123456), m.formatCents(99999999999),\
           m.formatCents(-50), m.formatCents(0.5), m.parseEuros('1.234,56'), m.parseEuros('0,1'),\
           m.parseEuros('12.50'), m.parseEuros('abc'), m.parseEuros('1,234')]));",
    );
    assert_eq!(
        money,
        json!([
            "0,00 €",
            "0,05 €",
            "1.234,56 €",
            "999.999.999,99 €",
            "-0,50 €",
            "",
            123456,
            10,
            1250,
            null,
            null
        ])
    );

    browser.click("#manual-open");
    browser.wait_visible("[data-screen=manual]");
    assert!(
        browser.visible("#timer"),
        "the manual screen has its countdown too"
    );
    for key in ["3", "0", "2"] {
        browser.click(&format!("#keypad [data-key='{key}']"));
    }
    assert_eq!(
        browser.js("return document.getElementById('manual-notice').value", &[]),
        json!("302")
    );
    browser.click("#keypad [data-key=back]");
    assert_eq!(
        browser.js("return document.getElementById('manual-notice').value", &[]),
        json!("30")
    );
    browser.click("#keypad [data-key=clear]");
    assert_eq!(
        browser.js("return document.getElementById('manual-notice').value", &[]),
        json!("")
    );

    // Submitting incomplete codes: both fields flagged, the first takes the focus.
    browser.click("#manual-form button[type=submit]");
    browser.wait_visible("#manual-notice-error");
    assert!(browser.visible("#manual-fc-error"));
    assert_eq!(
        browser.js(
            "return document.getElementById('manual-notice').getAttribute('aria-invalid')",
            &[]
        ),
        json!("true")
    );
    assert_eq!(
        browser.js("return document.activeElement.id", &[]),
        json!("manual-notice")
    );
    assert!(posted(&agent, "/api/manual").is_empty());

    // Typed with grouping spaces as on paper: the page sends digits only. Editing a field
    // clears its error.
    browser.type_into("#manual-notice", "3020 0010 0000 0123 45");
    assert!(!browser.visible("#manual-notice-error"));
    assert!(browser.visible("#manual-fc-error"));
    browser.type_into("#manual-fc", "02438750586");
    browser.screenshot(&target_dir().join("kiosk-manual.png"));
    browser.click("#manual-form button[type=submit]");
    let manual = wait_posted(&agent, &browser, "/api/manual", 1);
    assert_eq!(
        manual[0],
        json!({ "notice_number": "302000100000012345", "fiscal_code": "02438750586" })
    );
    browser.wait_visible("[data-screen=confirm]");

    // An error from the catalogue, in the citizen's language (German falls back to English).
    agent.set(|v| {
        v["screen"] = json!("error");
        v["error"] = json!({
            "code": "NOTICE_ALREADY_PAID",
            "message_it": "Questo avviso risulta già pagato.",
            "message_en": "This notice has already been paid.",
            "retryable": false,
        });
        v["deadline_ms_left"] = json!(20_000);
    });
    browser.wait_visible("[data-screen=error]");
    assert_eq!(
        browser.text("#error-message"),
        "Questo avviso risulta già pagato."
    );
    assert!(browser.text("#error-code").contains("NOTICE_ALREADY_PAID"));
    assert!(
        browser
            .text("[data-screen=error] h1")
            .contains("Non è stato possibile")
    );
    browser.click("#languages [data-lang=en]");
    browser.wait_text("#error-message", "This notice has already been paid.");
    browser.click("#languages [data-lang=de]");
    browser.wait_text(
        "[data-screen=error] h1",
        "Der Vorgang konnte nicht abgeschlossen werden",
    );
    assert_eq!(
        browser.text("#error-message"),
        "This notice has already been paid."
    );
    browser.screenshot(&target_dir().join("kiosk-error.png"));
    browser.click("[data-screen=error] [data-action=done]");
    wait_posted(&agent, &browser, "/api/done", 1);
    browser.wait_visible("[data-screen=idle]");
    // The next citizen starts in Italian.
    browser.wait("lang back to it", "document.documentElement.lang === 'it'");

    // Offline, the kiosk says so before anyone scans.
    agent.set(|v| v["offline"] = json!(true));
    browser.wait_visible("#offline");
    assert!(browser.text("#offline").contains("non è possibile pagare"));
}

#[test]
fn counter_clerk_logs_in_takes_cash_gives_change_and_closes_the_day() {
    let (_guard, agent, browser) = setup(DeviceKind::Counter, 1280, 1000);
    browser.goto(&agent.url);

    // Login with PIN; a wrong PIN is refused with a message.
    browser.wait_visible("#login-form");
    assert!(!browser.visible("#desk"));
    assert_eq!(
        browser.js("return document.getElementById('login-pin').type", &[]),
        json!("password")
    );
    browser.type_into("#login-operator", "mario");
    browser.type_into("#login-pin", "9999");
    browser.click("#login-form button[type=submit]");
    browser.wait_text("#login-error", "Operatore o PIN errati.");
    browser.type_into("#login-pin", "1234");
    browser.click("#login-form button[type=submit]");
    browser.wait_visible("#desk");
    assert_eq!(browser.text("#operator-name"), "Mario Rossi");
    let logins = posted(&agent, "/api/login");
    assert_eq!(
        logins.last(),
        Some(&json!({ "operator": "mario", "pin": "1234" }))
    );

    // Scan; the confirm screen offers each tender with its own total (fees differ).
    browser.wait_visible("#demo .demo-sample");
    browser.click("#demo .demo-sample");
    browser.wait_visible("[data-screen=confirm]");
    assert_eq!(
        browser.text("[data-method=cash] .method-total"),
        "1.235,56 €"
    );
    assert_eq!(
        browser.text("[data-method=card] .method-total"),
        "1.236,06 €"
    );
    assert_eq!(browser.text("#c-fee"), "1,00 €");
    assert_eq!(browser.text("#c-total"), "1.235,56 €");
    browser.screenshot(&target_dir().join("counter-confirm.png"));
    browser.click("[data-method=card]");
    browser.wait_text("#c-total", "1.236,06 €");
    assert_eq!(browser.text("#c-fee"), "1,50 €");
    browser.click("[data-method=cash]");
    browser.wait_text("#c-total", "1.235,56 €");
    browser.click("#confirm");
    let confirms = wait_posted(&agent, &browser, "/api/confirm", 1);
    assert_eq!(confirms[0], json!({ "method": "cash" }));

    // Tender in cash: the change follows what the clerk types.
    browser.wait_visible("#cash-form");
    assert_eq!(browser.text("#t-total"), "1.235,56 €");
    browser.type_into("#tendered", "1000");
    browser.wait_visible("#cash-short");
    assert_eq!(
        browser.js(
            "return document.getElementById('cash-submit').disabled",
            &[]
        ),
        json!(true)
    );
    browser.clear("#tendered");
    browser.type_into("#tendered", "1300");
    browser.wait_text("#change", "64,44 €");
    assert!(!browser.visible("#cash-short"));
    let quick = browser.js(
        "return [...document.querySelectorAll('#quick button')].map(b => b.innerText)",
        &[],
    );
    assert_eq!(
        quick,
        json!(["1.235,56 €", "1.240,00 €", "1.250,00 €", "1.300,00 €"])
    );
    browser.screenshot(&target_dir().join("counter-cash.png"));
    browser.click("#cash-submit");
    let pays = wait_posted(&agent, &browser, "/api/pay", 1);
    assert_eq!(
        pays[0],
        json!({ "method": "cash", "tendered_cents": 130000 })
    );

    // The drawer opens: the change to give, as the agent computed it.
    browser.wait_visible("[data-screen=cash]");
    assert_eq!(browser.text("[data-screen=cash] [data-change]"), "64,44 €");
    agent.set(|v| v["drawer_error"] = json!("DRAWER_FAILED"));
    browser.wait_visible("#drawer-error");

    // Done: change, the receipt as printed, reprint.
    agent.set(|v| {
        v["screen"] = json!("done");
        v["receipt_id"] = json!("240531-FLOW000001");
        v["drawer_error"] = Value::Null;
    });
    browser.wait_visible("[data-screen=done]");
    browser.wait_text("#done-change-row", "64,44 €");
    browser.wait_text("#receipt", "RICEVUTA DI PAGAMENTO");
    browser.screenshot(&target_dir().join("counter-done.png"));
    browser.click("#reprint");
    wait_posted(
        &agent,
        &browser,
        "/api/payments/240531-FLOW000001/reprint",
        1,
    );
    browser.wait_text("#reprint-result", "Ricevuta ristampata.");
    browser.click("[data-screen=done] [data-action=done]");
    browser.wait_visible("[data-screen=idle]");

    // Void before the outcome: the cash goes back.
    browser.click("#demo .demo-sample");
    browser.wait_visible("[data-screen=confirm]");
    browser.click("#confirm");
    browser.wait_visible("#cash-form");
    browser.click("#quick button");
    browser.click("#cash-submit");
    browser.wait_visible("[data-screen=cash]");
    browser.click("[data-screen=cash] [data-action=void]");
    wait_posted(&agent, &browser, "/api/void", 1);
    browser.wait_visible("[data-screen=cancelled]");
    browser.click("[data-screen=cancelled] [data-action=done]");
    browser.wait_visible("[data-screen=idle]");

    // Offline: the banner with the limits; card cannot be chosen.
    agent.set(|v| v["offline"] = json!(true));
    browser.wait_visible("#offline");
    browser.wait_text("#offline-limits", "500,00 €");
    assert!(browser.text("#offline-limits").contains("2.000,00 €"));
    assert!(browser.text("#offline-limits").contains("48"));
    browser.screenshot(&target_dir().join("counter-offline.png"));

    // Exceptions, with the offline queue; resolving one posts the action.
    assert_eq!(browser.text("#exceptions-count"), "1");
    browser.click("[data-tab=exceptions]");
    browser.wait_visible("#tab-exceptions");
    browser.wait_text("#exceptions-list", "42,50 €");
    let exceptions = browser.text("#exceptions-list");
    assert!(
        exceptions.contains("Il servizio ha rifiutato l'esito"),
        "{exceptions}"
    );
    assert!(exceptions.contains("PPT_TOKEN_SCADUTO"), "{exceptions}");
    assert!(
        exceptions.contains("3020 0010 0000 0999 99"),
        "{exceptions}"
    );
    browser.wait_text("#offline-queue", "25,00 €");
    browser.screenshot(&target_dir().join("counter-exceptions.png"));
    browser.click("#exceptions-list button");
    let resolved = wait_posted(
        &agent,
        &browser,
        "/api/exceptions/240531-EXC0000001/resolve",
        1,
    );
    assert_eq!(resolved[0], json!({ "action": "refunded" }));
    browser.wait_visible("#exceptions-empty");
    browser.wait(
        "the badge to go",
        "document.getElementById('exceptions-count').hidden",
    );

    // The day's journal, with local times.
    browser.click("[data-tab=journal]");
    browser.wait_text("#journal-rows", "51,50 €");
    let journal = browser.text("#journal-rows");
    assert!(
        journal.contains("Contanti") && journal.contains("Confermato"),
        "{journal}"
    );
    assert!(
        journal.contains("09:41"),
        "07:41 UTC is 09:41 in Rome in May: {journal}"
    );
    browser.click("#journal-rows button");
    wait_posted(
        &agent,
        &browser,
        "/api/payments/240531-PAY0000007/reprint",
        1,
    );
    browser.wait_text("#journal-receipt", "RICEVUTA DI PAGAMENTO");

    // Cash closing: totals per method, counted against expected, the adapter agrees.
    browser.click("[data-tab=closing]");
    browser.wait_text("#closing-rows", "1.250,00 €");
    let rows = browser.text("#closing-rows");
    assert!(rows.contains("Contanti\t3\t1.250,00 €"), "{rows:?}");
    assert!(rows.contains("Carta\t2\t80,00 €"), "{rows:?}");
    assert!(rows.contains("di cui contanti offline"), "{rows:?}");
    assert_eq!(browser.text("#closing-expected"), "1.250,00 €");
    browser.type_into("#counted", "1.249,50");
    browser.wait_text("#closing-diff", "Differenza: -0,50 €");
    browser.clear("#counted");
    browser.type_into("#counted", "1250");
    browser.wait_text("#closing-diff", "La cassa quadra.");
    browser.click("#closing-form button[type=submit]");
    let closings = wait_posted(&agent, &browser, "/api/closing", 1);
    assert_eq!(closings[0], json!({ "counted_cents": 125000 }));
    browser.wait_text(
        "#closing-result",
        "il servizio di pagamento concorda con i totali",
    );
    assert!(
        browser
            .text("#closing-result")
            .contains("Rendiconto stampato.")
    );
    browser.screenshot(&target_dir().join("counter-closing.png"));

    browser.click("#logout");
    wait_posted(&agent, &browser, "/api/logout", 1);
    browser.wait_visible("#login-form");
    browser.assert_no_script_errors();
}

#[test]
fn status_page_shows_devices_queue_sync_version_and_errors() {
    let (_guard, agent, browser) = setup(DeviceKind::Counter, 1280, 1000);
    browser.goto(&format!("{}/status", agent.url));
    browser.wait_text("#s-version", "0.1.0");
    assert_eq!(browser.text("#s-station"), "Municipio I - sportello 2");
    assert_eq!(browser.text("#s-mode"), "Sportello con operatore");
    assert_eq!(browser.text("#s-last-sync"), "31/05/2024 09:45:00");
    assert_eq!(browser.text("#s-journal"), "1342");
    assert_eq!(browser.text("#s-journal-check"), "OK");
    assert_eq!(browser.text("#s-queue"), "3");
    let adapter = browser.text("#s-adapter");
    assert!(
        adapter.contains("Non raggiungibile") && adapter.contains("31/05/2024 09:44:00"),
        "{adapter}"
    );
    let devices = browser.text("#devices");
    assert!(
        devices.contains("Stampante ricevute") && devices.contains("Collegato"),
        "{devices}"
    );
    assert!(
        devices.contains("Terminale carte") && devices.contains("Scollegato"),
        "{devices}"
    );
    assert!(devices.contains("TERMINAL_UNREACHABLE"), "{devices}");
    assert!(
        browser
            .text("#errors")
            .contains("terminal: TERMINAL_UNREACHABLE connection refused")
    );
    browser.click("#languages [data-lang=en]");
    browser.wait_text("#devices", "Receipt printer");
    assert_eq!(
        browser.js("return document.documentElement.lang", &[]),
        json!("en")
    );
    browser.screenshot(&target_dir().join("status.png"));
    browser.assert_no_script_errors();

    // The check above can fail: an uncaught error in the page shows up in the console.
    browser.js(
        "setTimeout(() => { throw new Error('boom'); }, 0); return null;",
        &[],
    );
    browser.wait("the error to be thrown", "true");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        browser.console().contains("boom"),
        "an uncaught error reaches the console log"
    );
}
