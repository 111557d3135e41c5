//! `demo`: the whole system on one machine, for demonstrations and manual testing.
//!
//! It composes the real parts, in-process and on loopback: the Nodo simulator with its demo
//! catalogue of the 121 comuni, the channel adapter on a fresh SQLite store (with its outcome
//! outbox), and two device agents, a self-service kiosk and a staffed counter, each driving the
//! simulated scanner, receipt printer and card terminal from `drivers` over real sockets and
//! pseudo-terminals. Nothing is mocked that exists for real; only what cannot be reached from
//! here (the Nodo, the hardware) is simulated. This binary is a composition root: it wires and
//! prints, the behaviour lives in the crates.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use channel_adapter::ambient::{Clock as _, OsRandom, SystemClock};
use channel_adapter::nodo::NodoClient;
use channel_api::DeviceKind;
use clap::Parser;
use tokio::sync::watch;

/// Start the Nodo simulator, the channel adapter, a kiosk and a counter on loopback.
#[derive(Debug, Parser)]
#[command(name = "demo", version)]
struct Cli {
    /// Address every service listens on. Keep it on loopback: the demo has no TLS.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// The adapter listens on this port, the kiosk on +1, the counter on +2, the Nodo
    /// simulator on +9. 0 picks free ports (the URLs printed are the ones to use).
    #[arg(long, default_value_t = 8080)]
    base_port: u16,
    /// Where the adapter's store and the agents' journals go; emptied at start.
    #[arg(long, default_value = "target/demo-data")]
    data_dir: PathBuf,
    /// Seed of the demo catalogue (same seed, same notices).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The counter operator of the demo, printed at start so people can log in.
const OPERATOR: &str = "demo";
const PIN: &str = "1234";
/// The comune the demo devices belong to (Roma Capitale).
const COMUNE: &str = "02438750586";

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEMO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(cli))
}

fn port(cli: &Cli, offset: u16) -> SocketAddr {
    let p = if cli.base_port == 0 {
        0
    } else {
        cli.base_port.saturating_add(offset)
    };
    SocketAddr::new(cli.ip, p)
}

fn today() -> Result<pagopa::Date> {
    SystemClock
        .now()
        .utc_date()
        .map_err(|e| anyhow::anyhow!("today's date: {e}"))
}

/// Sample notices for the "simulate scan" buttons: payable notices of several comuni and
/// services, as their QR codes would read.
fn samples(catalogue: &nodo_sim::catalogue::Catalogue) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    catalogue
        .notices()
        .iter()
        .filter(|n| n.notice.status == nodo_sim::catalogue::NoticeStatus::Open)
        .filter(|n| seen.insert(n.creditor))
        .take(8)
        .map(|n| {
            let company = catalogue
                .creditors()
                .iter()
                .find(|c| c.fiscal_code == n.creditor)
                .map(|c| c.company_name.to_string())
                .unwrap_or_default();
            let label = format!(
                "{company} — {} ({})",
                n.notice.description,
                n.notice.amount().italian()
            );
            let payload = format!(
                "PAGOPA|002|{}|{}|{}",
                n.notice_number.as_str(),
                n.creditor.as_str(),
                n.notice.amount().cents()
            );
            (label, payload)
        })
        .collect()
}

fn adapter_toml(listen: SocketAddr, store: &Path, nodo_url: &str) -> String {
    format!(
        r#"
listen = "{listen}"
store_path = "{store}"
check_digits = "lenient"

[psp]
id_psp = "70000000001"
id_broker_psp = "70000000001"
id_channel = "70000000001_01"
password = "pwdpwdpwd"
subscription_key = "nodo-sim-key"
fiscal_code = "70000000001"

[nodo]
url = "{nodo_url}"
primitives = "v2"
token_lifetime_secs = 600

[fees.kiosk]
card = 120

[fees.counter]
card = 100
cash = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]
"#,
        store = store.display(),
    )
}

fn agent_toml(
    mode: &str,
    listen: SocketAddr,
    adapter: SocketAddr,
    credential: &str,
    journal: &Path,
    pin_hash: &str,
    samples: &[(String, String)],
) -> String {
    let samples: String = samples
        .iter()
        .map(|(label, payload)| {
            format!(
                "{{ label = {}, payload = {} }}, ",
                toml_string(label),
                toml_string(payload)
            )
        })
        .collect();
    format!(
        r#"
mode = "{mode}"
name = "demo-{mode}"
listen = "{listen}"
journal_path = "{journal}"
check_digits = "lenient"
location = "Sportello del Campidoglio, Piazza del Campidoglio 1, Roma"
languages = ["it", "en", "de"]

[adapter]
url = "http://{adapter}"
credential = "{credential}"

[comune]
fiscal_code = "{COMUNE}"
name = "Roma Capitale"

[receipt]
psp_name = "Roma Capitale - intermediario tecnologico (demo)"
psp_fiscal_code = "70000000001"

[offline]
max_payment_cents = 20000
max_outstanding_cents = 100000
cash_fee = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]

[devices]
scanner = "sim"
printer = "sim"
terminal = "sim"

[[operators]]
id = "{OPERATOR}"
name = "Operatore demo"
pin_hash = "{pin_hash}"

[demo]
samples = [{samples}]
"#,
        journal = journal.display(),
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn run(cli: Cli) -> Result<()> {
    let dir = &cli.data_dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("emptying the demo data directory {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    // The Nodo, with the demo catalogue.
    let catalogue = nodo_sim::demo::catalogue(cli.seed, today()?)?;
    let samples = samples(&catalogue);
    let nodo = nodo_sim::Simulator::start(nodo_sim::Config {
        listen: port(&cli, 9),
        seed: Some(cli.seed),
        catalogue_data: Some(catalogue),
        ..nodo_sim::Config::default()
    })
    .await
    .context("starting the Nodo simulator")?;

    // The channel adapter, with its outbox worker, as its own binary runs it.
    let store_path = dir.join("adapter.db");
    let config = Arc::new(
        channel_adapter::config::Config::from_toml(
            &adapter_toml(port(&cli, 0), &store_path, &nodo.endpoint()),
            Vec::<(String, String)>::new(),
        )
        .context("adapter configuration")?,
    );
    let store = Arc::new(channel_adapter::store::Store::open(&store_path)?);
    let now = SystemClock.now();
    let credential = |name: &str, kind| {
        channel_adapter::devices::add(&store, name, COMUNE, kind, &OsRandom, now)
            .map(|d| d.credential)
    };
    let kiosk_credential = credential("demo-kiosk", DeviceKind::Kiosk)?;
    let counter_credential = credential("demo-counter", DeviceKind::Counter)?;
    // An administrator of every comune, for the fleet page.
    let admin = channel_adapter::users::add(
        &store,
        "demo-admin",
        channel_adapter::store::fleet::Role::Admin,
        &[],
        true,
        &OsRandom,
        now,
    )?;
    let nodo_client: Arc<dyn NodoClient> = Arc::new(
        channel_adapter::nodo::http::HttpNodoClient::from_config(&config)
            .context("the adapter's Nodo client")?,
    );
    let state = channel_adapter::app_state(
        Arc::clone(&config),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Some(nodo_client),
    );
    let (stop, stopping) = watch::channel(false);
    let outbox = tokio::spawn(channel_adapter::outbox::run(
        state.clone(),
        stopped(stopping.clone()),
    ));
    let bound = channel_adapter::server::Bound::bind(config.listen, None).await?;
    let adapter_addr = bound.local_addr()?;
    let app = channel_adapter::api::router(state);
    let adapter = tokio::spawn(bound.serve(app, stopped(stopping.clone())));

    // The two agents, with simulated devices.
    let pin_hash = kiosk::auth::hash_pin(PIN)?;
    let mut agents = Vec::new();
    for (mode, offset, credential) in [
        ("kiosk", 1, &kiosk_credential),
        ("counter", 2, &counter_credential),
    ] {
        let text = agent_toml(
            mode,
            port(&cli, offset),
            adapter_addr,
            credential,
            &dir.join(format!("{mode}.journal")),
            &pin_hash,
            &samples,
        );
        let config = kiosk::config::Config::from_toml(&text)
            .with_context(|| format!("{mode} configuration"))?;
        let agent = kiosk::Agent::start(config)
            .await
            .with_context(|| format!("starting the {mode} agent"))?;
        agents.push(agent);
    }

    let (kiosk_ui, counter_ui) = (agents[0].addr(), agents[1].addr());
    println!("kiosk UI: http://{kiosk_ui}/");
    println!("counter UI: http://{counter_ui}/   (operator \"{OPERATOR}\", PIN {PIN})");
    println!("status: http://{kiosk_ui}/status   http://{counter_ui}/status");
    println!(
        "adapter: http://{adapter_addr}/v1/openapi.json   metrics: http://{adapter_addr}/metrics"
    );
    println!(
        "fleet page: http://{adapter_addr}/admin/   (token {})",
        admin.token
    );
    println!(
        "nodo-sim: {}   admin: http://{}/admin/notices",
        nodo.endpoint(),
        nodo.addr()
    );
    println!(
        "simulate a scan: curl -X POST http://{kiosk_ui}/sim/scan -H 'content-type: application/json' -d '{{\"payload\":\"{}\"}}'",
        samples.first().map(|s| s.1.as_str()).unwrap_or_default()
    );
    println!("press Ctrl-C to stop");

    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    // Whoever started us may have closed our output by now; that is no reason to fail.
    let _ = writeln!(std::io::stdout(), "stopping…");
    for agent in agents {
        agent.shutdown().await;
    }
    let _ = stop.send(true);
    let _ = adapter.await;
    let _ = outbox.await;
    nodo.shutdown().await?;
    Ok(())
}

/// Completes when the stop flag is raised (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
