//! SIGKILL of the real `channel-adapter serve` process at journaled steps, with payments in
//! flight, then a restart on the same store: exactly one outcome per token reaches the Nodo
//! (counted by the simulator's receipts), and a device that repeats a request with its key
//! gets the same payment back.
//!
//! The steps are made observable with nodo-sim's latency injection: the Nodo processes the
//! request at once but holds its answer, so the journal shows the call open ("sent, no answer")
//! while the test kills the adapter.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use channel_adapter::store::{CallResult, Store};
use common::stack::{StackOptions, TEST_EC, notice, sim_config, stack_config_toml};
use common::{TempDir, try_call};
use nodo_sim::{FaultPlan, PrimitiveFaults, Simulator};
use pagopa::fault::Primitive;
use pagopa::soap::{ActivatePaymentNoticeV2Response, Message};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_channel-adapter");
const WAIT: Duration = Duration::from_secs(15);

/// The adapter process; killed with SIGKILL when dropped.
struct Adapter {
    child: Child,
    addr: SocketAddr,
}

impl Adapter {
    fn start(config: &Path) -> Adapter {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("CHANNEL_ADAPTER_CONFIG")
            .env("CHANNEL_ADAPTER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the adapter");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Adapter { child, addr }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and reap.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A simulator, a store, a configuration and a device credential.
struct World {
    sim: Simulator,
    dir: TempDir,
    config: PathBuf,
    store_path: PathBuf,
    credential: String,
}

impl World {
    async fn new(name: &str) -> World {
        let o = StackOptions::default();
        let sim = Simulator::start(sim_config(&o, 7)).await.expect("nodo-sim");
        let dir = TempDir::new(name);
        let store_path = dir.join("adapter.db");
        let url = format!("http://{}{}", sim.addr(), nodo_sim::SOAP_PATH);
        let config = dir.join("adapter.toml");
        std::fs::write(
            &config,
            stack_config_toml("127.0.0.1:0", &store_path, &url, &o),
        )
        .expect("write config");
        let out = Command::new(BIN)
            .args(["device", "add", "--store"])
            .arg(&store_path)
            .args([
                "--name",
                "counter-1",
                "--comune",
                "02438750586",
                "--kind",
                "counter",
            ])
            .env_remove("CHANNEL_ADAPTER_CONFIG")
            .output()
            .expect("device add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let credential = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        World {
            sim,
            dir,
            config,
            store_path,
            credential,
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.store_path).expect("open the store")
    }

    async fn request(&self, a: &Adapter, method: &str, path: &str, body: Option<&str>) -> Value {
        let r = try_call(a.addr, &self.credential, method, path, body)
            .await
            .expect("an answer");
        assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
        r.json()
    }

    async fn wait_state(&self, a: &Adapter, id: &str, state: &str) -> Value {
        let until = Instant::now() + WAIT;
        loop {
            let p = self
                .request(a, "GET", &format!("/v1/payments/{id}"), None)
                .await;
            if p["state"] == state {
                return p;
            }
            assert!(
                Instant::now() < until,
                "{id} is {}, expected {state}",
                p["state"]
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait until the journal shows an open call of `primitive`.
    async fn wait_open(&self, primitive: Primitive) {
        let store = self.store();
        let until = Instant::now() + WAIT;
        while !store
            .open_calls()
            .expect("journal")
            .iter()
            .any(|c| c.primitive == primitive)
        {
            assert!(Instant::now() < until, "no open {primitive:?} call");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn receipts_for(&self, token: &str) -> usize {
        self.sim
            .receipts()
            .iter()
            .filter(|r| r.receipt.receipt_id.as_str() == token)
            .count()
    }

    fn hold(&self, primitive: Primitive, ms: u64) {
        let mut plan = FaultPlan::none();
        plan.set(
            primitive,
            PrimitiveFaults {
                latency_ms: ms,
                ..PrimitiveFaults::default()
            },
        )
        .expect("faults");
        self.sim.set_faults(plan);
    }
}

fn activate_body(key: &str, notice: &str) -> String {
    json!({"client_key": key, "notice_number": notice, "creditor_fiscal_code": TEST_EC,
        "amount": 10000, "tender": "cash"})
    .to_string()
}

fn ok_body() -> String {
    json!({"outcome": "OK", "paid_with": "cash", "fee": 100,
        "paid_at": "2025-03-01T09:31:00Z", "receipt_number": "R-1"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_an_activation_is_in_flight() {
    let w = World::new("crash-activate").await;
    let a = Adapter::start(&w.config);
    w.hold(Primitive::ActivatePaymentNoticeV2, 5_000);
    let body = activate_body("counter-1-op-0001", &notice(1, 100));
    let (addr, cred, b) = (a.addr, w.credential.clone(), body.clone());
    let first =
        tokio::spawn(async move { try_call(addr, &cred, "POST", "/v1/payments", Some(&b)).await });
    w.wait_open(Primitive::ActivatePaymentNoticeV2).await;
    a.kill();
    assert!(
        first.await.expect("join").is_none(),
        "the device got no answer"
    );
    w.sim.set_faults(FaultPlan::none());

    let a = Adapter::start(&w.config);
    // The device repeats its request with the same key: the same payment, now active.
    let p = w.request(&a, "POST", "/v1/payments", Some(&body)).await;
    let id = p["id"].as_str().expect("id").to_owned();
    let p = w.wait_state(&a, &id, "active").await;
    let token = p["payment_token"].as_str().expect("token").to_owned();
    let again = w.request(&a, "POST", "/v1/payments", Some(&body)).await;
    assert_eq!(
        (&again["id"], &again["payment_token"]),
        (&p["id"], &p["payment_token"])
    );

    // Every activation of the payment carried the same key and body, and every answer the
    // same token: one session at the Nodo.
    let calls = w.store().calls_for_payment(&id).expect("journal");
    assert!(calls.len() >= 2, "{calls:?}");
    assert_eq!(calls[0].result, Some(CallResult::NoAnswer));
    assert!(
        calls[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("interrupted"))
    );
    assert!(calls.iter().all(|c| c.request_xml == calls[0].request_xml));
    for c in calls.iter().filter(|c| c.result == Some(CallResult::Ok)) {
        let answer =
            ActivatePaymentNoticeV2Response::decode(c.response_xml.as_deref().expect("body"))
                .expect("an activation answer");
        assert_eq!(answer.result.expect("OK").payment_token.as_str(), token);
    }

    w.request(
        &a,
        "POST",
        &format!("/v1/payments/{id}/outcome"),
        Some(&ok_body()),
    )
    .await;
    w.wait_state(&a, &id, "confirmed").await;
    assert_eq!(w.receipts_for(&token), 1);
    a.kill();
    drop(w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_an_outcome_is_in_flight() {
    let w = World::new("crash-outcome").await;
    let a = Adapter::start(&w.config);
    let body = activate_body("counter-1-op-0001", &notice(1, 101));
    let p = w.request(&a, "POST", "/v1/payments", Some(&body)).await;
    let id = p["id"].as_str().expect("id").to_owned();
    let token = p["payment_token"].as_str().expect("token").to_owned();
    w.hold(Primitive::SendPaymentOutcomeV2, 5_000);
    let recorded = w
        .request(
            &a,
            "POST",
            &format!("/v1/payments/{id}/outcome"),
            Some(&ok_body()),
        )
        .await;
    assert_eq!(recorded["state"], "outcome_pending");
    w.wait_open(Primitive::SendPaymentOutcomeV2).await;
    // The Nodo has the outcome (it answers late, not never): kill before its answer.
    let until = Instant::now() + WAIT;
    while w.receipts_for(&token) == 0 {
        assert!(Instant::now() < until, "the outcome never reached the Nodo");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill();
    w.sim.set_faults(FaultPlan::none());

    let a = Adapter::start(&w.config);
    let done = w.wait_state(&a, &id, "confirmed").await;
    assert_eq!(w.receipts_for(&token), 1, "resent, replayed: still one");
    // The device repeating its report gets the same payment.
    let again = w
        .request(
            &a,
            "POST",
            &format!("/v1/payments/{id}/outcome"),
            Some(&ok_body()),
        )
        .await;
    assert_eq!(again["id"], recorded["id"]);
    assert_eq!(again["outcome"], recorded["outcome"]);
    assert_eq!(again["state"], done["state"]);

    let outcomes: Vec<_> = w
        .store()
        .calls_for_payment(&id)
        .expect("journal")
        .into_iter()
        .filter(|c| c.primitive == Primitive::SendPaymentOutcomeV2)
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].result, Some(CallResult::NoAnswer));
    assert_eq!(outcomes[1].result, Some(CallResult::Ok));
    assert_eq!(
        outcomes[0].request_xml, outcomes[1].request_xml,
        "the same body"
    );
    assert_eq!(outcomes[0].idempotency_key, outcomes[1].idempotency_key);
    a.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_outcomes_waiting_for_a_failing_nodo() {
    let w = World::new("crash-queued").await;
    let a = Adapter::start(&w.config);
    let mut payments = Vec::new();
    for i in 0..3u64 {
        let body = activate_body(&format!("counter-1-op-{i:04}"), &notice(1, 110 + i));
        payments.push(w.request(&a, "POST", "/v1/payments", Some(&body)).await);
    }
    let mut plan = FaultPlan::none();
    plan.set(
        Primitive::SendPaymentOutcomeV2,
        PrimitiveFaults {
            http_5xx: nodo_sim::Trigger {
                count: 0,
                percent: 100,
            },
            ..PrimitiveFaults::default()
        },
    )
    .expect("faults");
    w.sim.set_faults(plan);
    for p in &payments {
        let id = p["id"].as_str().expect("id");
        w.request(
            &a,
            "POST",
            &format!("/v1/payments/{id}/outcome"),
            Some(&ok_body()),
        )
        .await;
    }
    let store = w.store();
    let until = Instant::now() + WAIT;
    while store
        .outbox_list()
        .expect("outbox")
        .first()
        .is_none_or(|e| e.attempts < 2)
    {
        assert!(Instant::now() < until, "no failed attempts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    w.sim.set_faults(FaultPlan::none());
    assert!(w.sim.receipts().is_empty());

    let a = Adapter::start(&w.config);
    for p in &payments {
        w.wait_state(&a, p["id"].as_str().expect("id"), "confirmed")
            .await;
    }
    let order: Vec<String> = w
        .sim
        .receipts()
        .iter()
        .map(|r| r.receipt.receipt_id.as_str().to_owned())
        .collect();
    let expected: Vec<String> = payments
        .iter()
        .map(|p| p["payment_token"].as_str().expect("token").to_owned())
        .collect();
    assert_eq!(order, expected, "delivered in order, once each");
    a.kill();
}

/// Eight devices paying in a loop; the adapter is killed at an arbitrary moment and
/// restarted. Every device then repeats the request it got no answer to, with the same key,
/// and finishes its payment. One receipt per confirmed payment, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_then_every_payment_settles_once() {
    let w = World::new("crash-load").await;
    let mut plan = FaultPlan::none();
    for p in [
        Primitive::ActivatePaymentNoticeV2,
        Primitive::SendPaymentOutcomeV2,
    ] {
        plan.set(
            p,
            PrimitiveFaults {
                latency_ms: 40,
                ..PrimitiveFaults::default()
            },
        )
        .expect("faults");
    }
    w.sim.set_faults(plan);
    let a = Adapter::start(&w.config);
    let cred = w.credential.clone();
    let addr = a.addr;
    // Each device: activate, report OK, next. It remembers the request it is waiting on.
    let devices: Vec<_> = (0..8u64)
        .map(|d| {
            let cred = cred.clone();
            tokio::spawn(async move {
                let mut done: Vec<(String, String)> = Vec::new();
                for i in 0..1000u64 {
                    let key = format!("dev{d}-op-{i:04}");
                    let body = activate_body(&key, &notice(1, 1_000 + d * 1_000 + i));
                    let Some(r) = try_call(addr, &cred, "POST", "/v1/payments", Some(&body)).await
                    else {
                        return (done, Some((body, None)));
                    };
                    let id = r.json()["id"].as_str().expect("id").to_owned();
                    let path = format!("/v1/payments/{id}/outcome");
                    if try_call(addr, &cred, "POST", &path, Some(&ok_body()))
                        .await
                        .is_none()
                    {
                        return (done, Some((body, Some(id))));
                    }
                    done.push((key, id));
                }
                (done, None)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    a.kill();
    let a = Adapter::start(&w.config);
    w.sim.set_faults(FaultPlan::none());
    let mut all_ids = Vec::new();
    for d in devices {
        let (done, pending) = d.await.expect("device task");
        assert!(
            !done.is_empty(),
            "each device completed payments before the kill"
        );
        // An answered request repeated with its key: the same payment.
        let (key, id) = &done[0];
        let n = key
            .trim_start_matches("dev")
            .split('-')
            .next()
            .unwrap_or("0");
        let i: u64 = key
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let d: u64 = n.parse().unwrap_or(0);
        let repeat = activate_body(key, &notice(1, 1_000 + d * 1_000 + i));
        let again = w.request(&a, "POST", "/v1/payments", Some(&repeat)).await;
        assert_eq!(again["id"].as_str(), Some(id.as_str()));
        all_ids.extend(done.into_iter().map(|(_, id)| id));
        // The request left without an answer, repeated with the same key, then finished.
        if let Some((body, known)) = pending {
            let id = match known {
                Some(id) => id,
                None => {
                    let p = w.request(&a, "POST", "/v1/payments", Some(&body)).await;
                    p["id"].as_str().expect("id").to_owned()
                }
            };
            let p = w
                .request(&a, "GET", &format!("/v1/payments/{id}"), None)
                .await;
            if p["state"] == "activating" {
                w.wait_state(&a, &id, "active").await;
            }
            let path = format!("/v1/payments/{id}/outcome");
            w.request(&a, "POST", &path, Some(&ok_body())).await;
            all_ids.push(id);
        }
    }
    for id in &all_ids {
        w.wait_state(&a, id, "confirmed").await;
    }
    let receipts = w.sim.receipts();
    let store = w.store();
    for id in &all_ids {
        let p = store.payment(id).expect("read").expect("payment");
        let token = p.payment_token.expect("token");
        let n = receipts
            .iter()
            .filter(|r| r.receipt.receipt_id.as_str() == token.as_str())
            .count();
        assert_eq!(n, 1, "payment {id}: {n} receipts");
    }
    assert_eq!(
        receipts.len(),
        all_ids.len(),
        "no receipt for anything else"
    );
    a.kill();
}
