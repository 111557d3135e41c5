//! A minimal W3C WebDriver client for the browser tests: Debian's `chromedriver` driving a
//! headless `chromium`, spoken to over plain HTTP/1.1 on loopback.
//!
//! Why WebDriver rather than the DevTools protocol: WebDriver is request/response JSON over
//! HTTP, so the client is a blocking `TcpStream` and `serde_json`, with no WebSocket crate and
//! no event pump; and its element click is the user's (it scrolls the element into view and
//! fails if something covers it), which is what a UI test should exercise. Debian ships the
//! driver built for its browser (`chromium-driver`), so their versions always match.
//!
//! The tests fail (never skip) when the browser is missing: a UI that was not tested must not
//! look like a UI that passed.

// Shared by `browser.rs` and `browser_e2e.rs`, each of which uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key WebDriver uses for an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What the tests tell a developer whose machine lacks the browser.
const INSTALL: &str = "the browser tests need Debian's Chromium and its WebDriver: \
                       apt-get install -y chromium chromium-driver";

/// Find a program in the usual places or on `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// A running `chromedriver` with one headless Chromium session; both end on drop.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Start `chromedriver` and a headless Chromium with a fresh profile, `width`×`height`.
    /// Panics (failing the test) with the packages to install when either is missing.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = find_program(&["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("chromium not found: {INSTALL}"));
        let chromedriver = find_program(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found: {INSTALL}"));

        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            // Times on screen are local: pin the zone so the assertions hold on any machine.
            .env("TZ", "Europe/Rome")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} ({INSTALL})", chromedriver.display()));

        let profile = std::env::temp_dir().join(format!(
            "kiosk-browser-test-{}-{}",
            std::process::id(),
            PROFILE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");

        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        browser.wait_for_driver();
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium.to_string_lossy(),
                        "args": args,
                    },
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let value = browser.command("POST", "/session", Some(&caps));
        browser.session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_owned();
        browser
    }

    fn wait_for_driver(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, body)) = http(self.port, "GET", "/status", None)
                && body["value"]["ready"] == json!(true)
            {
                return;
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited with {status} ({INSTALL})");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send a command; the `value` of a success, a panic with the driver's error otherwise.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, reply) = http(self.port, method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        assert!(
            status == 200,
            "WebDriver {method} {path} answered {status}: {reply}"
        );
        reply.get("value").cloned().unwrap_or(Value::Null)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Open `url` and wait for the page to load.
    pub fn goto(&self, url: &str) {
        self.command(
            "POST",
            &self.session_path("/url"),
            Some(&json!({ "url": url })),
        );
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub fn js(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// Run `script` with a callback as its last argument; what it passed to the callback.
    pub fn js_async(&self, script: &str) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/async"),
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// The element matching the CSS `selector`.
    pub fn find(&self, selector: &str) -> Element {
        let value = self.command(
            "POST",
            &self.session_path("/element"),
            Some(&json!({ "using": "css selector", "value": selector })),
        );
        Element(
            value[ELEMENT_KEY]
                .as_str()
                .unwrap_or_else(|| panic!("no element for {selector}: {value}"))
                .to_owned(),
        )
    }

    /// Click `selector` as a user would: WebDriver scrolls it into view and refuses if it is
    /// hidden, disabled to pointer events or covered by something else.
    pub fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{}/click", element.0)),
            Some(&json!({})),
        );
    }

    /// Type `text` into `selector` (focusing it first, as a keyboard user would).
    pub fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{}/value", element.0)),
            Some(&json!({ "text": text })),
        );
    }

    /// Empty an input.
    pub fn clear(&self, selector: &str) {
        let element = self.find(selector);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{}/clear", element.0)),
            Some(&json!({})),
        );
    }

    /// The rendered text of `selector` (`innerText`: what is visible, as laid out), or an empty
    /// string if nothing matches.
    pub fn text(&self, selector: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            &[json!(selector)],
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Whether `selector` matches an element that is rendered (not `hidden`, not inside a
    /// hidden ancestor).
    pub fn visible(&self, selector: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); \
             return !!e && e.checkVisibility();",
            &[json!(selector)],
        ) == json!(true)
    }

    /// Wait until `predicate` (a JS expression) is true, up to 30 s (generous: CI machines have
    /// two cores shared with other test binaries); on timeout, save a screenshot to
    /// `target/browser-failure-<what>.png` and panic with `what`.
    pub fn wait(&self, what: &str, predicate: &str) {
        self.wait_within(Duration::from_secs(30), what, predicate);
    }

    /// [`Browser::wait`] with its own time limit, for steps that cross real services.
    pub fn wait_within(&self, limit: Duration, what: &str, predicate: &str) {
        let script = format!("try {{ return !!({predicate}); }} catch (e) {{ return false; }}");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.js(&script, &[]) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let name: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let shot = target_dir().join(format!("browser-failure-{name}.png"));
        self.screenshot(&shot);
        let body = self.text("body");
        panic!(
            "timed out waiting for {what} ({predicate}); screenshot {}; page text:\n{body}\nconsole:\n{}",
            shot.display(),
            self.console()
        );
    }

    /// Wait until the text of `selector` contains `needle`.
    pub fn wait_text(&self, selector: &str, needle: &str) {
        let predicate = format!(
            "(document.querySelector({sel}) || {{}}).innerText.includes({needle})",
            sel = json!(selector),
            needle = json!(needle)
        );
        self.wait(&format!("{selector} to show {needle:?}"), &predicate);
    }

    /// Wait until `selector` is rendered.
    pub fn wait_visible(&self, selector: &str) {
        let predicate = format!(
            "(() => {{ const e = document.querySelector({sel}); return !!e && e.checkVisibility(); }})()",
            sel = json!(selector)
        );
        self.wait(&format!("{selector} to be visible"), &predicate);
    }

    /// Save a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let value = self.command("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The browser console's messages since the last call (errors from the page's scripts
    /// show up here), one per line: `LEVEL source: message`.
    pub fn console(&self) -> String {
        let value = self.command(
            "POST",
            &self.session_path("/se/log"),
            Some(&json!({ "type": "browser" })),
        );
        value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}: {}",
                            e["level"].as_str().unwrap_or_default(),
                            e["source"].as_str().unwrap_or_default(),
                            e["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Panic if the page's scripts logged an error or threw since the last look at the
    /// console. Failed requests the test provoked on purpose (a wrong PIN's 401) are `network`
    /// entries and do not count.
    pub fn assert_no_script_errors(&self) {
        let console = self.console();
        let errors: Vec<&str> = console
            .lines()
            .filter(|l| l.starts_with("SEVERE") && !l.starts_with("SEVERE network:"))
            .collect();
        assert!(errors.is_empty(), "script errors:\n{}", errors.join("\n"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

static PROFILE_COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Where screenshots go: the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A loopback port nobody listens on right now (the driver binds it a moment later).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// One HTTP/1.1 exchange with the driver. chromedriver answers `Connection: close` but keeps
/// the socket open, so the body is read by its `Content-Length` (or its chunks), not to EOF.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes())?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad("connection closed before the end of the headers"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut content = raw[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no status"))?;
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("bad content-length"))?;
        while content.len() < length {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(bad("connection closed inside the body"));
            }
            content.extend_from_slice(&buf[..n]);
        }
        content.truncate(length);
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !content.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            content.extend_from_slice(&buf[..n]);
        }
        content = dechunk(&content).ok_or_else(|| bad("bad chunked body"))?;
    } else {
        stream.read_to_end(&mut content)?;
    }
    let value = if content.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&content).map_err(|e| bad(&e.to_string()))?
    };
    Ok((status, value))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
