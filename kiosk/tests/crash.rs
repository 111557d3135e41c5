//! Crash injection: the real `kiosk` binary killed with SIGKILL at every journaled step of a
//! kiosk card payment, a counter cash payment and a counter offline cash payment, then restarted
//! on the same journal without the fail point.
//!
//! The card terminal and the printer are the drivers' simulators, run here in the test process
//! on loopback TCP so that they outlive the agent and remember what they charged and printed;
//! the channel adapter (with its outbox worker) and the Nodo simulator are in-process too
//! (`common::backend_with`). For each scenario a first run with `KIOSK_FAILPOINT=trace` lists
//! the fail points the payment passes (so a new journaled step is covered without editing this
//! file); then, for each point, a fresh station pays a fresh notice with
//! `KIOSK_FAILPOINT=<point>:1`, the test waits for the `FAILPOINT … reached` line, kills the
//! agent with SIGKILL, and restarts it on the same journal (in `trace` mode, which records the
//! steps of the recovery). Each step a recovery passed is then tried too: killed at the first
//! point, then again at that recovery step, then restarted. After the last restart has
//! recovered, the test checks:
//! - exactly one outcome per activated payment at the adapter (none refused as a conflict), and
//!   a Nodo receipt exactly for the payments that ended OK (offline: forwarded and confirmed);
//! - at most one charge at the terminal, and money taken (terminal charges plus cash in the
//!   journal) equal to the OK outcomes;
//! - every receipt printed once, or again only as a copy (decoded from the printer's bytes);
//! - `kiosk journal verify` passes.
//!
//! The last test runs the printer out of paper in the middle of a receipt.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    Backend, SampleNotice, TempDir, adapter_payment_of, agent_toml, backend_with, http,
    journal_kinds, login_as, pay_by_card, poll_until, receipt_preview,
};
use drivers::escpos_view::Element;
use drivers::sim::printer::PrinterSim;
use drivers::sim::terminal::{TerminalSim, TerminalSimConfig};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The payment each case drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// A citizen pays by card at a kiosk.
    KioskCard,
    /// A clerk takes cash at a counter.
    CounterCash,
    /// A clerk takes cash at a counter while the adapter is unreachable; it comes back.
    CounterOffline,
}

impl Scenario {
    fn mode(self) -> &'static str {
        match self {
            Scenario::KioskCard => "kiosk",
            Scenario::CounterCash | Scenario::CounterOffline => "counter",
        }
    }

    fn credential(self, backend: &Backend) -> &str {
        match self {
            Scenario::KioskCard => &backend.kiosk_credential,
            Scenario::CounterCash | Scenario::CounterOffline => &backend.counter_credential,
        }
    }
}

/// One station: its configuration, journal and devices (which outlive the agent process).
struct Station {
    dir: TempDir,
    config: PathBuf,
    terminal: TerminalSim,
    printer: PrinterSim,
}

impl Station {
    async fn new(scenario: Scenario, backend: &Backend, name: &str) -> Station {
        let dir = TempDir::new(name);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let terminal = TerminalSim::tcp(loopback, TerminalSimConfig::default())
            .await
            .expect("terminal simulator");
        let printer = PrinterSim::tcp(loopback, Default::default())
            .await
            .expect("printer simulator");
        let text = agent_toml(
            scenario.mode(),
            &backend.url(),
            scenario.credential(backend),
            &dir.join("journal.db"),
        )
        .replace("scanner = \"sim\"\n", "")
        .replace(
            "printer = \"sim\"",
            &format!("printer = \"{}\"", printer.endpoint()),
        )
        .replace(
            "terminal = \"sim\"",
            &format!("terminal = \"{}\"", terminal.endpoint()),
        )
        .replace("card_result_secs = 5", "card_result_secs = 1");
        let config = dir.join("kiosk.toml");
        std::fs::write(&config, text).expect("write the configuration");
        Station {
            dir,
            config,
            terminal,
            printer,
        }
    }

    fn journal(&self) -> PathBuf {
        self.dir.join("journal.db")
    }

    /// The station's own record of its flows, from its journal, as the agent would load it.
    fn ledger(&self) -> kiosk::ledger::Ledger {
        let text = std::fs::read_to_string(&self.config).expect("configuration");
        let config = kiosk::config::Config::from_toml(&text).expect("configuration");
        let journal = kiosk::journal::Journal::open(&self.journal()).expect("journal");
        let entries = journal.entries().expect("entries");
        let stored = kiosk::record::read_all(&entries).expect("records");
        let policy = kiosk::core::policy_of(&config, true, config.devices.drawer);
        kiosk::ledger::Ledger::load(&stored, &policy)
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.terminal.stop();
        self.printer.unplug();
    }
}

/// The agent as a child process.
struct Process {
    child: Child,
    /// Where it listens; `None` if it stopped at its fail point while recovering, before
    /// listening.
    listening: Option<SocketAddr>,
    /// That fail point's line.
    early: Option<String>,
    /// Fail point lines read while waiting for it to listen (`trace`: recovery's points).
    before: Vec<String>,
    failpoints: mpsc::UnboundedReceiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    /// The thread reading stderr: joined once the process is dead, so that every line is in.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    /// Start `kiosk run` with this fail point setting and wait until it listens (or stops at its
    /// fail point first).
    async fn start(config: &Path, failpoint: Option<&str>) -> Process {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.arg("run")
            .arg("--config")
            .arg(config)
            .env(
                "KIOSK_LOG",
                std::env::var("KIOSK_CRASH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match failpoint {
            Some(f) => cmd.env(kiosk::failpoint::VAR, f),
            None => cmd.env_remove(kiosk::failpoint::VAR),
        };
        let mut child = cmd.spawn().expect("start the kiosk binary");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (addr_tx, mut addr_rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("listening on http://") {
                    let _ = addr_tx.send(a.parse::<SocketAddr>().ok());
                }
            }
        });
        let (fp_tx, mut failpoints) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("FAILPOINT ") {
                    let _ = fp_tx.send(rest.to_owned());
                }
                keep.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let mut before = Vec::new();
        let started = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                tokio::select! {
                    addr = addr_rx.recv() => return addr.flatten().map(|a| (Some(a), None)),
                    line = failpoints.recv() => match line {
                        Some(l) if l.ends_with(" reached") => return Some((None, Some(l))),
                        Some(l) => before.push(l),
                        None => return None,
                    },
                }
            }
        })
        .await
        .ok()
        .flatten();
        let Some((listening, early)) = started else {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "the agent did not start ({status:?}): {}",
                log.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
            );
        };
        Process {
            child,
            listening,
            early,
            before,
            failpoints,
            log,
            reader: Some(reader),
        }
    }

    /// Where it listens.
    fn addr(&self) -> SocketAddr {
        self.listening.expect("the agent listens")
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How driving the agent went.
type Driven = Result<(), String>;

async fn state(addr: SocketAddr) -> Value {
    http(addr, "GET", "/api/state", None, None).await.json()
}

/// Poll the state until `pred` holds.
async fn until(
    addr: SocketAddr,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = state(addr).await;
        if pred(&v) {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}; last state: {v}"));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: Option<Value>) -> Driven {
    let body = body.map(|b| b.to_string());
    let a = http(addr, "POST", path, token, body.as_deref()).await;
    if a.status >= 300 {
        return Err(format!(
            "POST {path}: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        ));
    }
    Ok(())
}

async fn login(addr: SocketAddr) -> Result<String, String> {
    let a = login_as(addr, "mrossi", "2468").await;
    if a.status != 200 {
        return Err(format!("login: {}", a.status));
    }
    a.json()["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token".to_owned())
}

/// Drive one payment from the scan to the idle screen, with nothing left to do.
async fn drive(
    scenario: Scenario,
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    notice: SampleNotice,
) -> Driven {
    let payload = json!({ "payload": notice.qr() });
    match scenario {
        Scenario::KioskCard => {
            post(addr, "/sim/scan", None, Some(payload)).await?;
            until(addr, "confirm", |v| v["screen"] == "confirm").await?;
            post(addr, "/api/confirm", None, None).await?;
            until(addr, "tender", |v| v["screen"] == "tender").await?;
            post(addr, "/api/pay", None, Some(json!({"method": "card"}))).await?;
        }
        Scenario::CounterCash | Scenario::CounterOffline => {
            let offline = scenario == Scenario::CounterOffline;
            if offline {
                down.store(true, Ordering::SeqCst);
            }
            let token = login(addr).await?;
            let t = Some(token.as_str());
            post(addr, "/api/scan", t, Some(payload)).await?;
            let v = until(addr, "confirm", |v| v["screen"] == "confirm").await?;
            if v["offline_payment"] != offline {
                return Err(format!("offline payment should be {offline}: {v}"));
            }
            post(addr, "/api/confirm", t, Some(json!({"method": "cash"}))).await?;
            let v = until(addr, "tender", |v| v["screen"] == "tender").await?;
            let total = v["notice"]["total_cents"].as_u64().ok_or("no total")?;
            post(
                addr,
                "/api/pay",
                t,
                Some(json!({"method": "cash", "tendered_cents": total + 500})),
            )
            .await?;
        }
    }
    let v = until(addr, "done", |v| v["screen"] == "done").await?;
    if !v["error"].is_null() {
        return Err(format!("the payment ended with an error: {v}"));
    }
    post(addr, "/api/done", None, None).await?;
    down.store(false, Ordering::SeqCst);
    settle(addr).await
}

/// Wait until the agent has nothing left to do: every flow settled (outcomes delivered, offline
/// payments forwarded) and the screen idle. A screen left on a result after a recovery is
/// dismissed, and one waiting for a decision is cancelled, as the citizen or clerk would.
async fn settle(addr: SocketAddr) -> Driven {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let v = state(addr).await;
        let screen = v["screen"].as_str().unwrap_or_default().to_owned();
        match screen.as_str() {
            "done" | "error" | "cancelled" => {
                let _ = post(addr, "/api/done", None, None).await;
            }
            // Back on a screen that waits for the citizen (a charge that never happened): the
            // citizen has gone.
            "confirm" | "tender" => {
                let _ = post(addr, "/api/cancel", None, None).await;
            }
            _ => {}
        }
        let s = http(addr, "GET", "/api/status", None, None).await.json();
        if screen == "idle" && s["flows_active"] == 0 && s["queue_depth"] == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the agent did not settle: {v} {s}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The receipts on the paper, split at the cuts (a job cut short by the kill is the last).
fn receipts(printer: &PrinterSim) -> Vec<String> {
    let printout = printer.printout().expect("the printed bytes decode");
    let mut jobs = vec![String::new()];
    for e in &printout.elements {
        match e {
            Element::Line(l) => {
                let job = jobs.last_mut().expect("a job");
                job.push_str(&l.text);
                job.push('\n');
            }
            Element::Cut { .. } => jobs.push(String::new()),
            _ => {}
        }
    }
    jobs.retain(|j| !j.trim().is_empty());
    jobs
}

fn today() -> pagopa::Date {
    use kiosk::clock::Clock as _;
    kiosk::clock::local_day(kiosk::clock::SystemClock.now()).expect("today")
}

/// Everything the invariants say about one station that paid one notice.
async fn check(
    scenario: Scenario,
    station: &Station,
    backend: &Backend,
    notice: &SampleNotice,
) -> Result<String, String> {
    // The journal's chain, by the binary's own command.
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["journal", "verify", "--journal"])
        .arg(station.journal())
        .output()
        .expect("run kiosk journal verify");
    if !out.status.success() {
        return Err(format!(
            "journal verify failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    // The station's own record of the money taken.
    let ledger = station.ledger();
    let taken = ledger.payments_on(today());
    if taken.len() > 1 {
        return Err(format!("{} payments taken for one notice", taken.len()));
    }
    for f in &taken {
        // A conflicting second outcome would show here, refused by the adapter.
        if f.exception.is_some() {
            return Err(format!("an exception on {}: {:?}", f.id, f.exception));
        }
        let accepted = matches!(f.outcome_state, Some(kiosk::flow::OutcomeState::Accepted));
        if !f.offline && !accepted {
            return Err(format!(
                "outcome of {} not accepted: {:?}",
                f.id, f.outcome_state
            ));
        }
    }
    let cash_cents: u64 = taken
        .iter()
        .filter(|f| {
            f.charge
                .as_ref()
                .is_some_and(|c| c.tender == channel_api::Tender::Cash)
        })
        .filter_map(|f| f.charge.as_ref().map(|c| c.total.cents()))
        .sum();

    // The terminal.
    let charges = station.terminal.payments_executed();
    if charges > 1 {
        return Err(format!("the card was charged {charges} times"));
    }
    let card_cents = station.terminal.total_cents();

    // The adapter: every payment of this notice has exactly one outcome; offline payments were
    // forwarded once.
    let list = http(
        backend.addr,
        "GET",
        "/v1/payments",
        Some(scenario.credential(backend)),
        None,
    )
    .await
    .json();
    let payments: Vec<&Value> = list["payments"]
        .as_array()
        .ok_or("no payment list at the adapter")?
        .iter()
        .filter(|p| {
            p["notice_number"] == notice.notice_number.as_str()
                && p["creditor_fiscal_code"] == notice.fiscal_code.as_str()
        })
        .collect();
    let mut ok_cents = 0u64;
    let mut ok_count = 0usize;
    let mut outcomes = Vec::new();
    for p in &payments {
        let key = p["client_key"].as_str().unwrap_or_default();
        let total = p["total"].as_u64().unwrap_or_default();
        if key.starts_with("off-") {
            if p["state"] != "confirmed" {
                return Err(format!("an offline payment not confirmed: {p}"));
            }
            ok_cents += total;
            ok_count += 1;
            outcomes.push(format!("{key}: forwarded ({})", p["state"]));
            continue;
        }
        let outcome = &p["outcome"];
        let verdict = outcome["outcome"]
            .as_str()
            .or_else(|| outcome["report"]["outcome"].as_str());
        match verdict {
            Some("OK") => {
                ok_cents += total;
                ok_count += 1;
            }
            Some(_) => {}
            None if p["state"] == "activation_failed" => {}
            None => return Err(format!("a payment without its outcome: {p}")),
        }
        outcomes.push(format!("{key}: {}", verdict.unwrap_or("none")));
    }
    if ok_count > 1 {
        return Err(format!(
            "{ok_count} OK outcomes for one notice: {outcomes:?}"
        ));
    }
    let receipts_at_nodo = backend
        .nodo
        .receipts()
        .iter()
        .filter(|r| {
            r.receipt.notice_number.to_string() == notice.notice_number
                && r.receipt.fiscal_code.to_string() == notice.fiscal_code
        })
        .count();
    if receipts_at_nodo != ok_count {
        return Err(format!(
            "{receipts_at_nodo} Nodo receipts for {ok_count} OK outcomes"
        ));
    }
    if card_cents + cash_cents != ok_cents {
        return Err(format!(
            "money taken (card {card_cents} + cash {cash_cents}) differs from the OK outcomes \
             ({ok_cents}): {outcomes:?}"
        ));
    }

    // The paper: each payment's receipt once, or again only as a copy.
    let jobs = receipts(&station.printer);
    let mut printed = String::new();
    for f in &taken {
        let id = f.id.as_str();
        let mine: Vec<&String> = jobs.iter().filter(|j| j.contains(id)).collect();
        let originals = mine.iter().filter(|j| !j.contains("COPIA")).count();
        let copies = mine.len() - originals;
        if originals > 1 {
            return Err(format!("{originals} originals of receipt {id}: {jobs:?}"));
        }
        if originals + copies == 0 || f.receipt.printed == 0 {
            return Err(format!("receipt {id} never printed: {jobs:?}"));
        }
        printed = format!("{originals} original + {copies} copies");
    }
    if taken.is_empty() && !jobs.is_empty() {
        return Err(format!("a receipt without a payment: {jobs:?}"));
    }
    Ok(format!(
        "charges {charges}, OK {ok_count}, money {}, receipts: {}",
        card_cents + cash_cents,
        if printed.is_empty() { "none" } else { &printed }
    ))
}

/// The fail points a payment passes, in order, from a `trace` run, as `name:1`.
async fn trace(scenario: Scenario, backend: &Backend, notice: &SampleNotice) -> Vec<String> {
    let station = Station::new(scenario, backend, "trace").await;
    let mut agent = Process::start(&station.config, Some("trace")).await;
    let r = drive(
        scenario,
        agent.addr(),
        Arc::clone(&backend.down),
        notice.clone(),
    )
    .await;
    backend.set_down(false);
    agent.kill();
    if let Err(e) = r {
        panic!("the traced payment failed: {e}\n{}", agent.log());
    }
    let names = passed(&mut agent);
    if let Err(e) = check(scenario, &station, backend, notice).await {
        panic!("the traced payment broke an invariant: {e}");
    }
    // Each point at its first passage: later ones (the background polls until the adapter's
    // state is final) repeat the same step, and how many there are depends on timing.
    let mut points: Vec<String> = Vec::new();
    for n in names {
        let point = format!("{n}:1");
        if !points.contains(&point) {
            points.push(point);
        }
    }
    points
}

/// Wait for the agent to reach its fail point while `task` works it, then kill it there.
/// `Ok(false)`: the task ended well without passing the point; the agent is killed anyway.
async fn kill_at(
    agent: &mut Process,
    point: &str,
    task: tokio::task::JoinHandle<Driven>,
) -> Result<bool, String> {
    let mut task = task;
    let reached = match agent.early.take() {
        Some(line) => Some(line),
        None => tokio::select! {
            line = agent.failpoints.recv() => line,
            r = &mut task => {
                agent.kill();
                return match r {
                    Ok(Ok(())) => Ok(false),
                    r => Err(format!("failed before reaching {point}: {r:?}\n{}", agent.log())),
                };
            }
            () = tokio::time::sleep(Duration::from_secs(60)) => None,
        },
    };
    task.abort();
    // kill -9 at that exact step.
    agent.kill();
    let name = point.rsplit_once(':').map_or(point, |p| p.0);
    match reached {
        Some(line) if line == format!("{name} reached") => Ok(true),
        other => Err(format!(
            "unexpected fail point line {other:?}\n{}",
            agent.log()
        )),
    }
}

/// The journal's entries, for a failure's message.
fn journal_summary(station: &Station) -> String {
    let kinds = journal_kinds(&station.journal());
    let ledger = station.ledger();
    let flows: Vec<String> = ledger
        .payments_on(today())
        .iter()
        .map(|f| {
            format!(
                "{} {:?} outcome {:?} retry {:?} exception {:?} adapter {:?}",
                f.id,
                f.stage,
                f.outcome_state,
                f.retry_at,
                f.exception,
                f.payment.as_ref().map(|p| p.state)
            )
        })
        .collect();
    format!("{}\nflows with money: {flows:?}", kinds.join(" "))
}

/// The names of the points a `trace` agent passed.
fn passed(agent: &mut Process) -> Vec<String> {
    let mut names = Vec::new();
    let mut lines = std::mem::take(&mut agent.before);
    while let Ok(line) = agent.failpoints.try_recv() {
        lines.push(line);
    }
    for line in lines {
        if let Some(name) = line.strip_suffix(" passed") {
            names.push(name.to_owned());
        }
    }
    names
}

/// Kill the agent at `points[0]` while it takes the payment, then at each further point while
/// it recovers, then let a last restart recover. Returns a summary, the points that last
/// recovery passed and whether every point was reached, or why an invariant broke.
async fn crash_at(
    scenario: Scenario,
    backend: &Backend,
    points: &[&str],
    notice: &SampleNotice,
) -> Result<(String, Vec<String>, bool), String> {
    let station = Station::new(scenario, backend, "crash").await;
    let (first, during_recovery) = points.split_first().ok_or("no point")?;
    let mut agent = Process::start(&station.config, Some(first)).await;
    let driver = tokio::spawn(drive(
        scenario,
        agent.addr(),
        Arc::clone(&backend.down),
        notice.clone(),
    ));
    let killed = kill_at(&mut agent, first, driver).await;
    backend.set_down(false);
    let mut reached = killed?;
    for point in during_recovery {
        let mut agent = Process::start(&station.config, Some(point)).await;
        let recovering = match agent.listening {
            Some(addr) => tokio::spawn(settle(addr)),
            // Stopped while recovering, before listening.
            None => tokio::spawn(std::future::pending()),
        };
        reached &= kill_at(&mut agent, point, recovering).await?;
    }
    let mut agent = Process::start(&station.config, Some("trace")).await;
    if let Err(e) = settle(agent.addr()).await {
        agent.kill();
        return Err(format!(
            "after the restart: {e}\n{}\njournal: {}",
            agent.log(),
            journal_summary(&station)
        ));
    }
    agent.kill();
    let summary = check(scenario, &station, backend, notice)
        .await
        .map_err(|e| format!("{e}\n{}", agent.log()))?;
    Ok((summary, passed(&mut agent), reached))
}

/// The background polls that follow a payment until the adapter's state is final: whether they
/// happen at all depends on how fast the adapter's outbox reaches the Nodo. A case whose point
/// was not passed still checks every invariant.
fn timing_dependent(point: &str) -> bool {
    point.starts_with("event:tick:") || point.contains(":poll:")
}

/// Print how the crash `case` (killed last at `point`) went; the points its last recovery
/// passed, or `None` with the reason it broke added to `broken`.
fn verdict(
    scenario: Scenario,
    case: &str,
    point: &str,
    started: std::time::Instant,
    result: Result<(String, Vec<String>, bool), String>,
    broken: &mut Vec<String>,
) -> Option<Vec<String>> {
    let why = match result {
        Ok((_, _, false)) if !timing_dependent(point) => "not reached".to_owned(),
        Ok((summary, passed, reached)) => {
            let how = if reached {
                "ok"
            } else {
                "not passed this time"
            };
            println!(
                "{scenario:?} {case}: {how} ({summary}) in {:.1?}",
                started.elapsed()
            );
            return Some(passed);
        }
        Err(e) => e,
    };
    println!("{scenario:?} {case}: BROKEN: {why}");
    broken.push(format!("{case}: {why}"));
    None
}

/// Trace the scenario, then crash it at every point; then, at every step each of those
/// recoveries passed, crash it again (a second power cut while recovering from the first). Fails with the list
/// of broken cases.
async fn crash_everywhere(scenario: Scenario) {
    let backend = backend_with(200, 20_000, true).await;
    let mut notices = backend.notices.iter();
    let points = trace(
        scenario,
        &backend,
        notices.next().expect("a notice for the trace"),
    )
    .await;
    assert!(points.len() >= 10, "too few fail points: {points:?}");
    println!("{scenario:?}: fail points {points:?}");
    // `KIOSK_CRASH_ONLY=intent:charge,result:print` runs only the points named (while debugging).
    let only = std::env::var("KIOSK_CRASH_ONLY").unwrap_or_default();
    let wanted = |p: &str| only.is_empty() || only.split(',').any(|o| p.starts_with(o));
    let mut broken = Vec::new();
    let mut cases = 0;
    // Each point a recovery passes, with the crash that leads there.
    let mut recovery: Vec<(String, String)> = Vec::new();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for point in points.iter().filter(|p| wanted(p)) {
        let notice = notices.next().expect("enough notices");
        let started = std::time::Instant::now();
        cases += 1;
        let result = crash_at(scenario, &backend, &[point], notice).await;
        let Some(passed) = verdict(scenario, point, point, started, result, &mut broken) else {
            continue;
        };
        // Every step of this recovery, except the background polls, unless an earlier crash
        // recovered through the very same steps.
        let steps: Vec<String> = passed
            .into_iter()
            .map(|name| format!("{name}:1"))
            .filter(|p| !timing_dependent(p))
            .collect();
        if !paths.contains(&steps) {
            for second in &steps {
                let pair = (second.clone(), point.clone());
                if !recovery.contains(&pair) {
                    recovery.push(pair);
                }
            }
            paths.push(steps);
        }
    }
    println!("{scenario:?}: recovery steps: {recovery:?}");
    for (second, first) in &recovery {
        let notice = notices.next().expect("enough notices");
        let started = std::time::Instant::now();
        cases += 1;
        let result = crash_at(scenario, &backend, &[first, second], notice).await;
        let case = format!("{first} then {second}");
        verdict(scenario, &case, second, started, result, &mut broken);
    }
    println!("{scenario:?}: {cases} crash cases, {} broken", broken.len());
    assert!(broken.is_empty(), "{scenario:?}: {}", broken.join("\n\n"));
    backend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_step_of_a_kiosk_card_payment() {
    crash_everywhere(Scenario::KioskCard).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_step_of_a_counter_cash_payment() {
    crash_everywhere(Scenario::CounterCash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_step_of_an_offline_counter_cash_payment() {
    crash_everywhere(Scenario::CounterOffline).await;
}

/// The staff's view of one payment of today.
async fn staff_payment(addr: SocketAddr, token: &str, flow: &str) -> Value {
    let p = http(addr, "GET", "/api/payments", Some(token), None)
        .await
        .json();
    p["payments"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == flow))
        .cloned()
        .expect("the payment in the day's list")
}

/// Reprint and wait for the copy (or original) to be confirmed printed.
async fn reprint(addr: SocketAddr, token: &str, flow: &str) -> Value {
    let a = http(
        addr,
        "POST",
        &format!("/api/payments/{flow}/reprint"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let payment = async || staff_payment(addr, token, flow).await;
    poll_until(20, "the reprint confirmed", payment, |p| p["printed"] == 1).await
}

/// The printer runs out of paper in the middle of a receipt (and, for a second citizen, before
/// one): the payment is unaffected, the agent says the receipt did not print, and once paper is
/// loaded a reprint is marked as a copy only when part of the original may be on paper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_out_in_the_middle_of_a_receipt() {
    use drivers::sim::printer::{Paper, PrinterState};
    let backend = backend_with(5, 20_000, true).await;
    let station = Station::new(Scenario::KioskCard, &backend, "paper-out").await;
    let agent = Process::start(&station.config, None).await;
    let addr = agent.addr();
    let token = login(addr).await.expect("a technician logs in");

    // Mid-receipt: a few hundred bytes into the job (a receipt is about a kilobyte).
    station.printer.set_paper_out_after(Some(300));
    let notice = &backend.notices[0];
    let v = pay_by_card(addr, &notice.qr()).await;
    assert_eq!(v["error"]["code"], "PRINT_FAILED", "{v}");
    let flow = v["flow_id"].as_str().expect("flow").to_owned();
    assert_eq!(station.printer.state().paper, Paper::Out);

    // The payment is fine: charged once, OK at the adapter, receipt at the Nodo.
    assert_eq!(station.terminal.payments_executed(), 1);
    assert_eq!(station.terminal.total_cents(), notice.amount_cents + 120);
    let payment = adapter_payment_of(&backend, &backend.kiosk_credential, &flow)
        .await
        .expect("payment at the adapter");
    assert_eq!(payment["outcome"]["outcome"], "OK", "{payment}");

    // The agent knows the receipt did not print, and says so to staff and technicians.
    let p = staff_payment(addr, &token, &flow).await;
    assert_eq!(p["printed"], 0, "{p}");
    assert!(p["print_error"].is_string(), "{p}");
    let s = http(addr, "GET", "/api/status", None, None).await.json();
    let printer = s["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["kind"] == "printer"))
        .cloned()
        .expect("printer status");
    assert!(printer["last_error"].is_string(), "{s}");
    assert!(
        s["recent_errors"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["text"].as_str().is_some_and(|t| t.starts_with("printer")))),
        "{s}"
    );
    post(addr, "/api/done", None, None).await.expect("done");

    // Paper loaded: the reprint says it is a copy (part of the original is on paper).
    station.printer.set_state(PrinterState::default());
    let p = reprint(addr, &token, &flow).await;
    assert!(p["print_error"].is_null(), "{p}");
    let jobs = receipts(&station.printer);
    let last = jobs.last().expect("a receipt");
    assert!(last.contains(&flow) && last.contains("COPIA"), "{last}");
    let preview = receipt_preview(addr, &flow).await;
    assert_eq!(preview["copy"], true, "{preview}");

    // Out of paper before the job: nothing reached the paper, so the reprint is the original.
    station.printer.set_state(PrinterState {
        paper: Paper::Out,
        ..PrinterState::default()
    });
    let before = station.printer.received().len();
    let notice = &backend.notices[1];
    let v = pay_by_card(addr, &notice.qr()).await;
    assert_eq!(v["error"]["code"], "PRINT_FAILED", "{v}");
    let second = v["flow_id"].as_str().expect("flow").to_owned();
    let sent = station.printer.printout().expect("decode");
    assert!(
        !sent.text_lines().join("\n").contains(&second),
        "nothing of it was sent ({} bytes were status requests)",
        station.printer.received().len() - before
    );
    post(addr, "/api/done", None, None).await.expect("done");
    station.printer.set_state(PrinterState::default());
    reprint(addr, &token, &second).await;
    let jobs = receipts(&station.printer);
    let last = jobs.last().expect("a receipt");
    assert!(last.contains(&second) && !last.contains("COPIA"), "{last}");
    drop(agent);
    backend.stop();
}
