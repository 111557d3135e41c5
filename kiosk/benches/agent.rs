//! The agent's benchmarks (issue 5, item 8), printed as a small table:
//!
//! 1. journaled steps per second through the real [`kiosk::journal`] path (typed record encoded,
//!    hash chain, head row, WAL, `synchronous=FULL`) against a raw loop of single-row `INSERT`s,
//!    each in its own transaction, with the same pragmas, in the same directory, in the same run
//!    (goal: at least 80 % of raw);
//! 2. time from start to ready and idle memory of a whole agent (goals: at most 0.5 s and
//!    30 MB). The agent runs in a child process (this binary re-executed with `--child`) so that
//!    its resident memory is its own and not the parent's.
//!
//! A plain binary (`harness = false`) rather than criterion: each fsync'd step costs
//! milliseconds and the memory figure needs a separate process, neither of which criterion's
//! sampling model fits.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use channel_api::Timestamp;
use kiosk::journal::Journal;
use kiosk::record::Record;
use rusqlite::{Connection, params};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Appends per round and side; four interleaved rounds, so that a slow patch of the
/// disk hits both sides alike.
const DEFAULT_STEPS: u32 = 500;
const ROUNDS: u32 = 4;
const AGENT_RUNS: usize = 5;
const IDLE: Duration = Duration::from_secs(2);
/// Goals from the issue.
const GOAL_RATIO: f64 = 0.80;
const GOAL_READY: Duration = Duration::from_millis(500);
const GOAL_RSS_KB: u64 = 30 * 1024;

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let config = args.get(2).ok_or("--child needs a configuration path")?;
        return child(Path::new(config));
    }
    // The target directory sits on the same disk as the project; /tmp may be a tmpfs, where an
    // fsync costs nothing and the comparison would say nothing.
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kiosk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let outcome = run(&base);
    let _ = std::fs::remove_dir_all(&base);
    outcome
}

fn run(base: &Path) -> BenchResult<()> {
    let steps = match std::env::var("KIOSK_BENCH_STEPS") {
        Ok(s) => s.parse()?,
        Err(_) => DEFAULT_STEPS,
    };
    println!("kiosk agent benchmarks (directory {})", base.display());
    println!(
        "journal and raw loop: same directory, journal_mode=WAL, synchronous=FULL (the \
         journal's pragmas), {ROUNDS} alternating rounds of {steps} steps each"
    );
    let mut journal_time = Duration::ZERO;
    let mut raw_time = Duration::ZERO;
    for round in 0..ROUNDS {
        let raw = base.join(format!("raw-{round}.sqlite"));
        let journal = base.join(format!("journal-{round}.sqlite"));
        // Alternate which side goes first, so neither always meets a cold or warm disk.
        if round % 2 == 0 {
            raw_time += raw_loop(&raw, steps)?;
            journal_time += journal_loop(&journal, steps)?;
        } else {
            journal_time += journal_loop(&journal, steps)?;
            raw_time += raw_loop(&raw, steps)?;
        }
    }
    let total = f64::from(steps * ROUNDS);
    let journal_rate = total / journal_time.as_secs_f64();
    let raw_rate = total / raw_time.as_secs_f64();
    let ratio = journal_rate / raw_rate;

    let agent = agent_runs(base)?;
    let ready = median(agent.iter().map(|r| r.0).collect());
    let rss = median(agent.iter().map(|r| r.1).collect());

    println!();
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        "measure", "value", "goal", "met"
    );
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        "raw INSERT loop (steps/s)",
        format!("{raw_rate:.0}"),
        "",
        ""
    );
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        "journal append (steps/s)",
        format!("{journal_rate:.0}"),
        "",
        ""
    );
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        "journal / raw",
        format!("{:.1} %", ratio * 100.0),
        format!(">= {:.0} %", GOAL_RATIO * 100.0),
        yes(ratio >= GOAL_RATIO)
    );
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        format!("start to ready (median of {AGENT_RUNS})"),
        format!("{:.1} ms", ready.as_secs_f64() * 1000.0),
        format!("<= {} ms", GOAL_READY.as_millis()),
        yes(ready <= GOAL_READY)
    );
    println!(
        "{:<44} {:>14} {:>12} {:>5}",
        format!(
            "idle RSS after {} s (median of {AGENT_RUNS})",
            IDLE.as_secs()
        ),
        format!("{:.1} MB", rss as f64 / 1024.0),
        format!("<= {} MB", GOAL_RSS_KB / 1024),
        yes(rss <= GOAL_RSS_KB)
    );
    println!();
    println!(
        "start to ready: from spawning a fresh process (counter mode, new journal, adapter \
         offline) to Agent::start returning."
    );
    println!(
        "idle RSS: VmRSS of that process; the simulated scanner, printer, terminal and drawer \
         run inside it, so their memory is included and the figure is pessimistic."
    );
    for (i, (t, kb)) in agent.iter().enumerate() {
        println!(
            "  run {}: ready {:.1} ms, RSS {:.1} MB",
            i + 1,
            t.as_secs_f64() * 1000.0,
            *kb as f64 / 1024.0
        );
    }
    Ok(())
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The executor's path: encode a typed record, then [`Journal::append`].
fn journal_loop(path: &Path, steps: u32) -> BenchResult<Duration> {
    let mut journal = Journal::open(path)?;
    if journal.synchronous()? != 2 {
        return Err("the journal did not get synchronous=FULL".into());
    }
    let start = Instant::now();
    for i in 0..steps {
        let record = Record::Login {
            operator: format!("operator-{i}"),
        };
        let at = Timestamp::from_unix_millis(1_764_000_000_000 + i64::from(i));
        journal.append(at, &record.kind(), &record.body()?)?;
    }
    Ok(start.elapsed())
}

/// The baseline: the same row content, no record encoding, no hash, no head row.
fn raw_loop(path: &Path, steps: u32) -> BenchResult<Duration> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "CREATE TABLE raw (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, \
         body TEXT NOT NULL)",
    )?;
    let start = Instant::now();
    for i in 0..steps {
        let body = format!(r#"{{"record":"login","operator":"operator-{i}"}}"#);
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO raw (seq, at_ms, kind, body) VALUES (?1, ?2, ?3, ?4)",
            params![
                i64::from(i) + 1,
                1_764_000_000_000 + i64::from(i),
                "login",
                body
            ],
        )?;
        tx.commit()?;
    }
    Ok(start.elapsed())
}

/// Start [`AGENT_RUNS`] agents one after the other; for each, the time to "ready" and the idle
/// resident memory in KiB.
fn agent_runs(base: &Path) -> BenchResult<Vec<(Duration, u64)>> {
    let exe = std::env::current_exe()?;
    let pin_hash = kiosk::auth::hash_pin("2468")?;
    // A port that was just free and is now closed: the agent starts offline.
    let adapter_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut results = Vec::with_capacity(AGENT_RUNS);
    for run in 0..AGENT_RUNS {
        let dir = base.join(format!("agent-{run}"));
        std::fs::create_dir_all(&dir)?;
        let config_path = dir.join("agent.toml");
        std::fs::write(
            &config_path,
            agent_toml(adapter_port, &dir.join("journal.sqlite"), &pin_hash),
        )?;
        let start = Instant::now();
        let mut child = Command::new(&exe)
            .arg("--child")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let measured = measure_child(&mut child, start);
        let _ = child.kill();
        let _ = child.wait();
        results.push(measured?);
    }
    Ok(results)
}

fn measure_child(child: &mut std::process::Child, start: Instant) -> BenchResult<(Duration, u64)> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ready = start.elapsed();
    if line.trim() != "ready" {
        return Err(format!("the agent did not start: {line:?}").into());
    }
    std::thread::sleep(IDLE);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmRSS in /proc/<pid>/status")?;
    Ok((ready, rss))
}

/// The child: start one agent, say "ready", idle until killed.
fn child(config_path: &Path) -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = kiosk::config::Config::load(config_path)?;
        let _agent = kiosk::Agent::start(config).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        drop(out);
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// A counter with simulated devices and the demo section, as in the integration tests.
fn agent_toml(adapter_port: u16, journal: &Path, pin_hash: &str) -> String {
    format!(
        r#"
mode = "counter"
name = "bench-counter"
listen = "127.0.0.1:0"
journal_path = "{journal}"
check_digits = "lenient"
location = "Via del Tritone 142, Roma"

[adapter]
url = "http://127.0.0.1:{adapter_port}"
credential = "bench-credential"
timeout_ms = 5000
connect_timeout_ms = 1000
sync_interval_ms = 1000

[comune]
fiscal_code = "00085240950"
name = "Comune di Test"

[receipt]
psp_name = "Intermediario di test"
psp_fiscal_code = "70000000001"

[timeouts]
screen_secs = 30
done_secs = 5
last_result_retry_ms = 200
card_result_secs = 5

[offline]
max_payment_cents = 20000
max_outstanding_cents = 50000
cash_fee = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]

[devices]
scanner = "sim"
printer = "sim"
terminal = "sim"

[[operators]]
id = "mrossi"
name = "Mario Rossi"
pin_hash = "{pin_hash}"

[demo]
samples = [{{ label = "TARI", payload = "PAGOPA|002|300715700000000032|00085240950|1500" }}]
"#,
        journal = journal.display(),
    )
}
