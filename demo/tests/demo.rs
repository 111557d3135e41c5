//! The README's run command works: the demo binary starts every service, prints one line per
//! URL, takes a card payment at the kiosk from a simulated scan to a printed receipt whose
//! outcome reaches the Nodo simulator, and stops cleanly on SIGINT.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Kills the demo if the test fails half-way.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    http_as(base, method, path, body, "")
}

/// `extra` is more header lines, each ending in CRLF.
fn http_as(
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    extra: &str,
) -> (u16, String) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let (head, rest) = raw.split_once("\r\n\r\n").expect("headers");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn json_of(base: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, text) = http(base, method, path, body);
    assert!(status < 300, "{method} {path}: {status} {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn wait_for_screen(kiosk: &str, wanted: &str) -> Value {
    let start = Instant::now();
    loop {
        let state = json_of(kiosk, "GET", "/api/state", None);
        if state["screen"] == wanted {
            return state;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still on {} instead of {wanted}: {state}",
            state["screen"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn demo_starts_everything_and_takes_a_card_payment() {
    let data = std::env::temp_dir().join(format!("demo-test-{}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--base-port", "0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let mut demo = Demo(child);
    let stdout = demo.0.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let line = line.expect("line");
        let done = line.starts_with("press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    // Keep reading what it prints later, as a terminal would.
    let drain = std::thread::spawn(move || reader.map_while(Result::ok).collect::<Vec<_>>());
    let url = |prefix: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {lines:?}"));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL");
        // Scheme and authority only: the line may name a page of the service.
        let authority = url["http://".len()..].split('/').next().unwrap_or_default();
        format!("http://{authority}")
    };
    let kiosk = url("kiosk UI:");
    let counter = url("counter UI:");
    let adapter = url("adapter:");
    let nodo_admin = lines
        .iter()
        .find(|l| l.starts_with("nodo-sim:"))
        .and_then(|l| l.split_whitespace().last())
        .expect("nodo-sim admin URL")
        .trim_end_matches("/admin/notices")
        .to_owned();
    assert!(nodo_admin.starts_with("http://"), "{nodo_admin}");

    // Every service answers.
    let (status, page) = http(&kiosk, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "the kiosk serves its page");
    assert_eq!(
        json_of(&counter, "GET", "/api/state", None)["mode"],
        "counter"
    );
    let (status, _) = http(&adapter, "GET", "/v1/openapi.json", None);
    assert_eq!(status, 200);

    // A citizen pays a sample notice by card at the kiosk.
    let samples = json_of(&kiosk, "GET", "/api/sim/samples", None);
    let payload = samples[0]["payload"].as_str().expect("a sample").to_owned();
    json_of(
        &kiosk,
        "POST",
        "/sim/scan",
        Some(&json!({ "payload": payload })),
    );
    let confirm = wait_for_screen(&kiosk, "confirm");
    let amount = confirm["notice"]["amount_cents"].as_u64().expect("amount");
    assert!(
        confirm["notice"]["fee_cents"].as_u64().is_some(),
        "fee shown before paying"
    );
    json_of(&kiosk, "POST", "/api/confirm", Some(&json!({})));
    wait_for_screen(&kiosk, "tender");
    json_of(
        &kiosk,
        "POST",
        "/api/pay",
        Some(&json!({ "method": "card" })),
    );
    let done = wait_for_screen(&kiosk, "done");
    let receipt = done["receipt_id"].as_str().expect("receipt id");
    let preview = json_of(
        &kiosk,
        "GET",
        &format!("/api/receipt/{receipt}/preview"),
        None,
    );
    assert_eq!(
        preview["qr"][0],
        payload.as_str(),
        "the notice's QR is printed"
    );

    // The outcome reached the Nodo: it produced a receipt for the creditor.
    let start = Instant::now();
    loop {
        let (_, body) = http(&nodo_admin, "GET", "/admin/receipts", None);
        let receipts: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if let Some(r) = receipts.as_array().and_then(|a| a.first()) {
            let cents = (r["payment_amount"]
                .as_str()
                .expect("amount")
                .replace('.', ""))
            .parse::<u64>()
            .expect("digits");
            assert_eq!(cents, amount);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no receipt: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The fleet page's API shows both stations to the demo administrator, and nothing to
    // someone without a token.
    let token = lines
        .iter()
        .find(|l| l.starts_with("fleet page:"))
        .and_then(|l| l.split_whitespace().last())
        .expect("fleet page line")
        .trim_end_matches(')')
        .to_owned();
    let (status, page) = http(&adapter, "GET", "/admin/", None);
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "the fleet page is served");
    let (status, _) = http(&adapter, "GET", "/admin/v1/fleet", None);
    assert_eq!(status, 401);
    let (status, body) = http_as(
        &adapter,
        "GET",
        "/admin/v1/fleet",
        None,
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert_eq!(status, 200, "{body}");
    let fleet: Value = serde_json::from_str(&body).expect("JSON");
    let mut names: Vec<&str> = fleet["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["demo-counter", "demo-kiosk"]);

    // Ctrl-C stops everything cleanly.
    let pid = demo.0.id().to_string();
    let st = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = demo.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the demo did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "clean exit: {exit}");
    let tail = drain.join().expect("reader");
    assert!(tail.iter().any(|l| l.starts_with("stopping")), "{tail:?}");
    let _ = std::fs::remove_dir_all(&data);
}
