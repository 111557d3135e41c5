//! The settings the adapter manages, as the pages show them, in a real browser (headless
//! Chromium over WebDriver, against the fake agent of `tests/browser/`): a new language list
//! reaches an open kiosk page on its idle screen, and the `total_first` fee display puts the
//! total first with the fee it includes, in every language.
//!
//! Requires `apt-get install -y chromium chromium-driver`; without them this test fails.

// Shared with `tests/browser.rs`, which uses all of it.
#[allow(dead_code)]
#[path = "browser/fake.rs"]
mod fake;
#[path = "browser/webdriver.rs"]
mod webdriver;

use channel_api::DeviceKind;
use fake::FakeAgent;
use serde_json::json;
use webdriver::Browser;

#[test]
fn managed_languages_and_total_first_fee_display_reach_an_open_page() {
    let agent = FakeAgent::start(DeviceKind::Kiosk);
    let browser = Browser::start(1080, 1440);
    browser.goto(&agent.url);
    browser.wait_text("[data-screen=idle] h1", "Paga un avviso pagoPA");

    // The adapter's administrators offer English first, then Italian: the idle page follows.
    agent.set(|v| {
        v["languages"] = json!(["en", "it"]);
        v["fee_display"] = json!("total_first");
    });
    browser.wait("lang=en", "document.documentElement.lang === 'en'");
    assert_eq!(
        browser.js(
            "return [...document.querySelectorAll('#languages button')].map(b => b.lang)",
            &[]
        ),
        json!(["en", "it"])
    );

    // The confirm screen: the total first, with the fee it includes; the three rows hidden.
    browser.wait_visible("#demo .demo-sample");
    browser.click("#demo .demo-sample");
    browser.wait_visible("[data-screen=confirm]");
    browser.wait_visible("#c-total-first");
    assert_eq!(
        browser.text("#c-total-first"),
        "Total 1.236,06 € (of which fee 1,50 €)"
    );
    assert!(!browser.visible("#c-amounts"));
    browser.click("#languages [data-lang=it]");
    browser.wait("lang=it", "document.documentElement.lang === 'it'");
    assert_eq!(
        browser.text("#c-total-first"),
        "Totale 1.236,06 € (di cui commissione 1,50 €)"
    );

    // Back to itemized: three rows again.
    agent.set(|v| v["fee_display"] = json!("itemized"));
    browser.wait_visible("#c-amounts");
    assert!(!browser.visible("#c-total-first"));
    assert_eq!(browser.text("#c-total"), "1.236,06 €");
}
