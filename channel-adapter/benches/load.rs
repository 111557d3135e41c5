//! Load benchmark: N simulated devices paying in a loop (verify → activate → outcome) through
//! the adapter against nodo-sim on loopback, with the durable store, and in the same run the
//! same load straight against nodo-sim, so the adapter's added latency shows.
//!
//! ```sh
//! cargo bench -p channel-adapter --bench load -- [--devices 64] [--seconds 10] [--rate R]
//!     [--sync full|normal] [--store DIR] [--trace FILE]
//! ```
//!
//! `--trace FILE` writes one line per payment through the adapter: when it started (µs
//! after the phase began) and its latency (µs), to see whether a tail is steady or comes in
//! bursts. A first line, starting with `#`, gives when the phase began (µs since the Unix
//! epoch), to line the trace up with a system trace.
//!
//! A payment is complete when the device's outcome is accepted (202: recorded durably and
//! queued); its latency runs from the verify request to that answer. The outbox delivers the
//! outcomes meanwhile; the run waits for it to drain and reports how long that took. Everything
//! shares this machine's cores: load generator, adapter and simulator.
//!
//! Without `--rate` every device pays as fast as it can (closed loop: the throughput ceiling;
//! latency is then mostly queueing, devices ÷ throughput). With `--rate R` payments start on a
//! fixed schedule of R per second spread over the devices (open loop), and latency is counted
//! from the scheduled start, so a stall is not hidden by the devices slowing down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::config::Config;
use channel_adapter::nodo::NodoClient;
use channel_adapter::nodo::http::HttpNodoClient;
use channel_adapter::server::Bound;
use channel_adapter::store::Store;
use channel_adapter::{api, devices, outbox};
use channel_api::DeviceKind;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pagopa::fault::Primitive;
use pagopa::soap::{
    ActivatePaymentNoticeRequest, ActivatePaymentNoticeV2Request, ActivatePaymentNoticeV2Response,
    BoundedVec, FeePaymentMethod, IdempotencyKey, Message, Outcome, OutcomeDetailsV2,
    PaymentChannel, PaymentMethod, QrCode, SendPaymentOutcomeV2Request,
    SendPaymentOutcomeV2Response, TouchPoint, VerifyPaymentNoticeRequest,
    VerifyPaymentNoticeResponse,
};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};
use tokio::sync::watch;

struct Args {
    devices: usize,
    seconds: u64,
    store_dir: PathBuf,
    sync: &'static str,
    rate: Option<f64>,
    trace: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        devices: 64,
        seconds: 10,
        store_dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        sync: "full",
        rate: None,
        trace: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--devices" => a.devices = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.devices),
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seconds),
            "--store" => a.store_dir = it.next().map(PathBuf::from).unwrap_or(a.store_dir),
            "--rate" => a.rate = it.next().and_then(|v| v.parse().ok()),
            "--trace" => a.trace = it.next().map(PathBuf::from),
            "--sync" => {
                a.sync = match it.next().as_deref() {
                    Some("normal") => "normal",
                    _ => "full",
                }
            }
            // `cargo bench` passes --bench; ignore what we do not know.
            _ => {}
        }
    }
    a
}

/// Latencies of completed payments, and of each of their three requests.
#[derive(Default)]
struct Stats {
    micros: Vec<u64>,
    /// When each completed payment started, µs after the phase began.
    starts: Vec<u64>,
    /// When the phase began, µs since the Unix epoch: lines a trace up with other records
    /// (a system trace, the store's logs).
    began_unix_us: u64,
    steps: [Vec<u64>; 3],
    errors: u64,
    /// CPU time of the whole process during the phase.
    cpu: Duration,
}

fn percentile(values: &[u64], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_micros(v[i.min(v.len() - 1)])
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.micros.extend(other.micros);
        self.starts.extend(other.starts);
        for (a, b) in self.steps.iter_mut().zip(other.steps) {
            a.extend(b);
        }
        self.errors += other.errors;
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.micros, p)
    }

    fn completed(&mut self, start: Instant, phase: Instant) {
        self.micros.push(start.elapsed().as_micros() as u64);
        self.starts
            .push(start.saturating_duration_since(phase).as_micros() as u64);
    }

    fn step(&mut self, i: usize, since: Instant) -> Instant {
        let now = Instant::now();
        self.steps[i].push((now - since).as_micros() as u64);
        now
    }
}

fn report(name: &str, stats: &Stats, elapsed: Duration) -> (f64, Duration, Duration) {
    let rate = stats.micros.len() as f64 / elapsed.as_secs_f64();
    let p50 = stats.percentile(0.50);
    let p99 = stats.percentile(0.99);
    println!(
        "{name:<28} {:>8} payments in {:>5.1} s = {:>8.0} payments/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {}",
        stats.micros.len(),
        elapsed.as_secs_f64(),
        rate,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        stats.errors
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<28} CPU {:.2} s of {:.1} s (all of it: load generator, simulator and, in phase 2, the adapter) = {:.0} µs per payment",
        "",
        stats.cpu.as_secs_f64(),
        elapsed.as_secs_f64(),
        stats.cpu.as_secs_f64() * 1e6 / stats.micros.len().max(1) as f64
    );
    for (label, v) in ["verify", "activate", "outcome"].iter().zip(&stats.steps) {
        println!(
            "{:<28} {label:<8} p50 {:>7.2} ms   p99 {:>7.2} ms",
            "",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.99))
        );
    }
    (rate, p50, p99)
}

fn notice(n: u64) -> NoticeNumber {
    // nodo-sim's payable 100.00 scenario: 30201 + 13 free digits.
    NoticeNumber::parse(&format!("30201{n:013}"), CheckMode::Lenient).unwrap_or_else(|e| {
        eprintln!("notice {n}: {e}");
        std::process::exit(2)
    })
}

fn creditor() -> CreditorFiscalCode {
    CreditorFiscalCode::parse("77777777777", CheckMode::Lenient).unwrap_or_else(|e| {
        eprintln!("creditor: {e}");
        std::process::exit(2)
    })
}

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
store_path = "STORE"
store_sync = "SYNC"
check_digits = "lenient"
log_format = "text"

[psp]
id_psp = "70000000001"
id_broker_psp = "70000000001"
id_channel = "70000000001_01"
password = "pwdpwdpwd"
subscription_key = "nodo-sim-key"
fiscal_code = "70000000001"

[nodo]
url = "URL"
primitives = "v2"

[fees.counter]
cash = 100
"#;

/// The same three calls a PSP makes, straight to the simulator.
async fn direct_device(
    client: Arc<HttpNodoClient>,
    config: Arc<Config>,
    first: u64,
    stop: Arc<AtomicBool>,
    pace: Pace,
) -> Stats {
    let mut stats = Stats::default();
    let today = Date::new(2025, 3, 1).unwrap_or_else(|_| std::process::exit(2));
    let tomorrow = Date::new(2025, 3, 2).unwrap_or_else(|_| std::process::exit(2));
    let psp = &config.psp.identity;
    let mut n = first;
    let mut k = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let start = pace.next(k).await;
        k += 1;
        let qr = QrCode {
            fiscal_code: creditor(),
            notice_number: notice(n),
        };
        let verify = VerifyPaymentNoticeRequest {
            psp: psp.clone(),
            qr_code: qr.clone(),
        };
        let ok = async {
            let r = client
                .post(Primitive::VerifyPaymentNotice, &verify.encode())
                .await
                .ok()?;
            let t = stats.step(0, start);
            let v = VerifyPaymentNoticeResponse::decode(std::str::from_utf8(&r.body).ok()?)
                .ok()?
                .result
                .ok()?;
            let amount = v.payment_options.first()?.amount.get();
            // Unique per payment: n is unique across devices.
            let key = |tag: char| {
                IdempotencyKey::new("70000000001", &format!("{tag}{:09}", n % 1_000_000_000)).ok()
            };
            let activate = ActivatePaymentNoticeV2Request {
                base: ActivatePaymentNoticeRequest {
                    psp: psp.clone(),
                    idempotency_key: Some(key('A')?),
                    qr_code: qr.clone(),
                    expiration_time: Some(config.nodo.token_lifetime),
                    amount,
                    due_date: None,
                    payment_note: None,
                },
                payment_method: Some(FeePaymentMethod::Po),
                touch_point: Some(TouchPoint::Psp),
            };
            let r = client
                .post(Primitive::ActivatePaymentNoticeV2, &activate.encode())
                .await
                .ok()?;
            let t = stats.step(1, t);
            let a = ActivatePaymentNoticeV2Response::decode(std::str::from_utf8(&r.body).ok()?)
                .ok()?
                .result
                .ok()?;
            let outcome = SendPaymentOutcomeV2Request {
                psp: psp.clone(),
                idempotency_key: Some(key('O')?),
                payment_tokens: BoundedVec::one(a.payment_token),
                outcome: Outcome::Ok,
                details: Some(OutcomeDetailsV2 {
                    payment_method: PaymentMethod::Cash,
                    payment_channel: Some(PaymentChannel::FrontOffice),
                    fee: Amount::from_cents(100).ok()?,
                    primary_ci_incurred_fee: None,
                    id_bundle: None,
                    id_ci_bundle: None,
                    payer: None,
                    application_date: today,
                    transfer_date: tomorrow,
                    digital_stamps: None,
                }),
            };
            let r = client
                .post(Primitive::SendPaymentOutcomeV2, &outcome.encode())
                .await
                .ok()?;
            stats.step(2, t);
            SendPaymentOutcomeV2Response::decode(std::str::from_utf8(&r.body).ok()?)
                .ok()?
                .result
                .ok()
        }
        .await;
        match ok {
            Some(()) => stats.completed(start, pace.start),
            None => stats.errors += 1,
        }
    }
    stats
}

type DeviceClient = Client<HttpConnector, Full<Bytes>>;

async fn post(
    client: &DeviceClient,
    url: &str,
    auth: &str,
    body: String,
) -> Option<(u16, serde_json::Value)> {
    let req = hyper::Request::post(url)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .ok()?;
    let res = client.request(req).await.ok()?;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.ok()?.to_bytes();
    Some((status, serde_json::from_slice(&bytes).ok()?))
}

/// A counter paying in a loop through the adapter's device API (keep-alive HTTP/1.1).
async fn adapter_device(
    client: DeviceClient,
    base: String,
    credential: String,
    first: u64,
    stop: Arc<AtomicBool>,
    pace: Pace,
) -> Stats {
    let mut stats = Stats::default();
    let auth = format!("Bearer {credential}");
    let mut n = first;
    let mut k = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let start = pace.next(k).await;
        k += 1;
        let nn = format!("30201{n:013}");
        let ok = async {
            let t = start;
            let (s, _) = post(
                &client,
                &format!("{base}/v1/verify"),
                &auth,
                serde_json::json!({"notice_number": nn, "creditor_fiscal_code": "77777777777"})
                    .to_string(),
            )
            .await?;
            (s == 200).then_some(())?;
            let t = stats.step(0, t);
            let (s, p) = post(
                &client,
                &format!("{base}/v1/payments"),
                &auth,
                serde_json::json!({"client_key": format!("bench-{n}"), "notice_number": nn,
                    "creditor_fiscal_code": "77777777777", "amount": 10000, "tender": "cash"})
                .to_string(),
            )
            .await?;
            (s == 201).then_some(())?;
            let t = stats.step(1, t);
            let id = p["id"].as_str()?.to_owned();
            let (s, _) = post(
                &client,
                &format!("{base}/v1/payments/{id}/outcome"),
                &auth,
                serde_json::json!({"outcome": "OK", "paid_with": "cash", "fee": 100,
                    "paid_at": "2025-03-01T09:31:00Z"})
                .to_string(),
            )
            .await?;
            stats.step(2, t);
            (s == 202).then_some(())
        }
        .await;
        match ok {
            Some(()) => stats.completed(start, pace.start),
            None => stats.errors += 1,
        }
    }
    stats
}

/// When a device starts its payments: as soon as it can, or on a fixed schedule.
#[derive(Clone, Copy)]
struct Pace {
    start: Instant,
    /// Time between two payments of this device, and its offset in the global schedule.
    every: Option<(Duration, Duration)>,
}

impl Pace {
    /// When payment `k` of this device is due, waiting for it; the instant latency counts
    /// from.
    async fn next(&self, k: u64) -> Instant {
        match self.every {
            None => Instant::now(),
            Some((every, offset)) => {
                let due = self.start + offset + every.mul_f64(k as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
        }
    }
}

/// The machine's load average (1, 5 and 15 minutes), from `/proc/loadavg`: other jobs on the
/// same cores skew the figures, so the run prints it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU time used by this process so far (user + system), from `/proc/self/stat`; zero where
/// unavailable.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let Some(rest) = stat.rsplit(')').next() else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux reports them in clock ticks of 1/100 s on every platform we run on.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

async fn run_phase<F, Fut>(
    devices: usize,
    seconds: u64,
    rate: Option<f64>,
    make: F,
) -> (Stats, Duration)
where
    F: Fn(usize, Arc<AtomicBool>, Pace) -> Fut,
    Fut: std::future::Future<Output = Stats> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + Duration::from_millis(50);
    let began = std::time::SystemTime::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..devices)
        .map(|d| {
            let every = rate.map(|r| {
                let every = Duration::from_secs_f64(devices as f64 / r);
                (every, every.mul_f64(d as f64 / devices as f64))
            });
            tokio::spawn(make(d, Arc::clone(&stop), Pace { start, every }))
        })
        .collect();
    let started = Instant::now();
    let cpu = cpu_time();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut stats = Stats {
        began_unix_us: began
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
        ..Stats::default()
    };
    for t in tasks {
        if let Ok(s) = t.await {
            stats.merge(s);
        }
    }
    stats.cpu = cpu_time().saturating_sub(cpu);
    (stats, started.elapsed())
}

async fn bench(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sim_config = nodo_sim::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        seed: Some(1),
        ..nodo_sim::Config::default()
    };
    let sim = nodo_sim::Simulator::start(sim_config).await?;
    let url = sim.endpoint();
    std::fs::create_dir_all(&a.store_dir)?;
    let store_path = a.store_dir.join(format!("bench-{}.db", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", store_path.display()));
    }
    let text = CONFIG
        .replace("STORE", &store_path.display().to_string())
        .replace("URL", &url)
        .replace("SYNC", a.sync);
    let config = Arc::new(Config::from_toml(&text, Vec::new())?);
    println!(
        "{} devices, {}, {} s per phase, store {} (store_sync = {}), on {} cores",
        a.devices,
        a.rate.map_or("as fast as they can".to_owned(), |r| format!(
            "{r} payments/s scheduled"
        )),
        a.seconds,
        store_path.display(),
        a.sync,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("load average at start: {}", load_average());

    // Phase 1: straight to nodo-sim.
    let direct = Arc::new(HttpNodoClient::from_config(&config)?);
    let (stats, took) = run_phase(a.devices, a.seconds, a.rate, |d, stop, pace| {
        direct_device(
            Arc::clone(&direct),
            Arc::clone(&config),
            1_000_000_000 + d as u64 * 10_000_000,
            stop,
            pace,
        )
    })
    .await;
    let (_, d50, d99) = report("nodo-sim directly", &stats, took);
    // Phase 2 starts from the simulator's initial state, as phase 1 did: neither phase works
    // against the other's sessions and cached answers, and the receipts counted at the end are
    // phase 2's.
    sim.reset();

    // Phase 2: through the adapter.
    let store = Arc::new(Store::open_with(&store_path, config.store_sync)?);
    let nodo: Arc<dyn NodoClient> = Arc::new(HttpNodoClient::from_config(&config)?);
    let state = channel_adapter::app_state(
        Arc::clone(&config),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Some(nodo),
    );
    let mut credentials = Vec::new();
    for d in 0..a.devices {
        let added = devices::add(
            &store,
            &format!("bench-counter-{d}"),
            "02438750586",
            DeviceKind::Counter,
            &OsRandom,
            SystemClock.now(),
        )?;
        credentials.push(added.credential);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let worker = tokio::spawn(outbox::run(state.clone(), stopped(stop_rx.clone())));
    let bound = Bound::bind(config.listen, None).await?;
    let base = format!("http://{}", bound.local_addr()?);
    let server = tokio::spawn(bound.serve(api::router(state.clone()), stopped(stop_rx)));
    let client: DeviceClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.devices * 2)
        .build(HttpConnector::new());
    let (stats, took) = run_phase(a.devices, a.seconds, a.rate, |d, stop, pace| {
        adapter_device(
            client.clone(),
            base.clone(),
            credentials[d].clone(),
            5_000_000_000 + d as u64 * 10_000_000,
            stop,
            pace,
        )
    })
    .await;
    let (_, p50, p99) = report("through the adapter", &stats, took);
    if let Some(path) = &a.trace {
        use std::fmt::Write as _;
        let mut lines = format!(
            "# phase began {} µs after the Unix epoch\n",
            stats.began_unix_us
        );
        for (s, l) in stats.starts.iter().zip(&stats.micros) {
            let _ = writeln!(lines, "{s} {l}");
        }
        std::fs::write(path, lines)?;
    }
    let drain = Instant::now();
    loop {
        let s = store.outbox_stats(5)?;
        if s.pending == 0 || drain.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = sim.receipts_produced();
    let w = store.write_counts();
    let wal = std::fs::metadata(format!("{}-wal", store_path.display())).map_or(0, |m| m.len());
    println!(
        "store: {} writes in {} commits ({:.1} per commit), {} flushes of the WAL, WAL file {:.1} MB",
        w.writes,
        w.commits,
        w.writes as f64 / w.commits.max(1) as f64,
        w.flushes,
        wal as f64 / 1e6
    );
    println!(
        "outbox drained {:.0} ms after the load stopped; {} receipts at the Nodo for {} payments",
        drain.elapsed().as_secs_f64() * 1e3,
        delivered,
        stats.micros.len()
    );
    let added = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() * 1e3;
    println!(
        "added by the adapter: p50 {:.2} ms, p99 {:.2} ms",
        added(p50, d50),
        added(p99, d99)
    );
    println!("load average at end: {}", load_average());
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = worker.await;
    let _ = sim.shutdown().await;
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", store_path.display()));
    }
    Ok(())
}

fn main() {
    let a = args();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1)
        }
    };
    if let Err(e) = runtime.block_on(bench(a)) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
