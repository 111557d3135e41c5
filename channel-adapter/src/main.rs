//! `channel-adapter`: the composition root.
//!
//! `serve` reads and validates the configuration, opens the store, closes what the previous run
//! left open (recovery), starts the outbox worker, wires the HTTP application and runs until
//! SIGINT or SIGTERM, then stops accepting requests, lets the outbox finish its attempts in
//! flight and exits. `device add|list|revoke` manage the registered stations, `device
//! enroll-code` creates a one-time enrollment code, `device config` publishes managed settings,
//! `user add|list|revoke` manage the people of the admin API. `nodo check`
//! verifies one notice against the configured Nodo; `collaudo` runs the certification
//! scenarios; `outbox list|reset` and `exceptions` are the operators' tools. `check-config`
//! validates a configuration and exits. Logs go to stderr; stdout carries only what a script
//! may want to read (the listening address, a new credential, lists, answers).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::config::{Config, LogFormat};
use channel_adapter::nodo::http::HttpNodoClient;
use channel_adapter::nodo::{Deadlines, Gateway, NodoClient, Reply};
use channel_adapter::store::Store;
use channel_adapter::store::fleet::{ConfigScope, Role};
use channel_adapter::{api, collaudo, devices, enroll, fleet, outbox, recovery, server, users};
use channel_api::DeviceKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use pagopa::soap::{QrCode, VerifyPaymentNoticeRequest};
use pagopa::{CheckMode, CreditorFiscalCode, NoticeNumber};
use tokio::sync::watch;

/// The pagoPA channel adapter: device API, Nodo client, payments store.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// The configuration file.
        #[arg(long, env = "CHANNEL_ADAPTER_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration (with the environment's overrides) and exit.
    CheckConfig {
        /// The configuration file.
        #[arg(long, env = "CHANNEL_ADAPTER_CONFIG")]
        config: PathBuf,
    },
    /// Manage the registered stations.
    Device {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Talk to the configured Nodo.
    Nodo {
        /// The configuration file.
        #[arg(long, env = "CHANNEL_ADAPTER_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: NodoCommand,
    },
    /// Run pagoPA's PSP certification scenarios and save every SOAP message in --out.
    Collaudo {
        /// Where to write the XML files (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Start nodo-sim on loopback and run against it instead of the configured Nodo.
        #[arg(long)]
        against_simulator: bool,
        /// The configuration file (optional with --against-simulator: the simulator's demo
        /// channel is used).
        #[arg(long, env = "CHANNEL_ADAPTER_CONFIG")]
        config: Option<PathBuf>,
        /// The creditor of the test notices.
        #[arg(long, default_value = "77777777777")]
        creditor: String,
        /// The first digits of the test notice numbers (the rest is random).
        #[arg(long, default_value = "30201")]
        notice_prefix: String,
    },
    /// Inspect and reset the outcome outbox.
    Outbox {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// List the payments operators must act on (late outcome, refund due, needs attention).
    Exceptions {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage the administrators and operators of the admin API and the fleet page.
    User {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Manages devices, codes and configuration of its comuni.
    Admin,
    /// Reads the fleet and payments of its comuni.
    Operator,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user and print its token (once: it is stored only hashed).
    Add {
        /// A unique name.
        #[arg(long)]
        name: String,
        /// What the user may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A comune the user serves (fiscal code); repeat for several.
        #[arg(long = "comune", required_unless_present = "all_comuni")]
        comuni: Vec<String>,
        /// The user serves every comune.
        #[arg(long, conflicts_with = "comuni")]
        all_comuni: bool,
    },
    /// List the users.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user's token (by id or name).
    Revoke {
        /// The user's id or name.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum NodoCommand {
    /// verifyPaymentNotice: what the Nodo says is due on a notice (no side effect).
    Check {
        /// The 18-digit notice number.
        #[arg(long)]
        notice: String,
        /// The creditor's 11-digit fiscal code.
        #[arg(long)]
        fiscal_code: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Every outcome not yet answered by the Nodo, with its attempt counter.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reset the attempt counter of one entry (or of all), make it due now and, if it was
    /// waiting for an operator, give it back to the worker.
    Reset {
        /// The payment id.
        #[arg(required_unless_present = "all")]
        payment: Option<String>,
        /// Every undelivered entry.
        #[arg(long, conflicts_with = "payment")]
        all: bool,
    },
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The store (SQLite file); instead of taking it from --config.
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// The configuration file whose store_path to use.
    #[arg(long, global = true, env = "CHANNEL_ADAPTER_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Kiosk,
    Counter,
}

impl From<Kind> for DeviceKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Kiosk => DeviceKind::Kiosk,
            Kind::Counter => DeviceKind::Counter,
        }
    }
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Register a station and print its credential (once: it is stored only hashed).
    Add {
        /// A unique name, e.g. roma-anagrafe-kiosk-1.
        #[arg(long)]
        name: String,
        /// The fiscal code of the station's comune (11 digits).
        #[arg(long)]
        comune: String,
        /// What the station is.
        #[arg(long, value_enum)]
        kind: Kind,
    },
    /// List the stations.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a station's credential (by id or name).
    Revoke {
        /// The station's id or name.
        device: String,
    },
    /// Create a one-time enrollment code for a new station and print it.
    EnrollCode {
        /// The fiscal code of the station's comune (11 digits).
        #[arg(long)]
        comune: String,
        /// Where it will stand, e.g. "Ufficio tributi, piano terra".
        #[arg(long)]
        location: String,
        /// What the station is.
        #[arg(long, value_enum)]
        kind: Kind,
        /// How long the code works (90s, 30m, 24h, 7d); default enrollment.code_ttl or 24h.
        #[arg(long, value_parser = channel_adapter::config::parse_duration)]
        ttl: Option<std::time::Duration>,
    },
    /// Publish managed settings for a comune, or for one of its stations.
    Config {
        /// The comune's fiscal code.
        #[arg(long)]
        comune: String,
        /// One station (id) instead of the whole comune.
        #[arg(long)]
        device: Option<u64>,
        /// The settings, JSON or TOML (by extension).
        #[arg(long)]
        file: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => {
            let c = Config::load(&config, std::env::vars())?;
            println!(
                "configuration OK: listening on {}, store {}",
                c.listen,
                c.store_path.display()
            );
            Ok(())
        }
        Command::Device { store, command } => device(store, command),
        Command::User { store, command } => user(store, command),
        Command::Nodo { config, command } => nodo(config, command),
        Command::Collaudo {
            out,
            against_simulator,
            config,
            creditor,
            notice_prefix,
        } => run_collaudo(out, against_simulator, config, &creditor, notice_prefix),
        Command::Outbox { store, command } => outbox_command(store, command),
        Command::Exceptions { store } => exceptions(store),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn deadlines(config: &Config) -> Deadlines {
    Deadlines {
        verify: config.nodo.verify_timeout,
        activate: config.nodo.activate_timeout,
        outcome: config.nodo.outcome_timeout,
    }
}

fn nodo(config_path: PathBuf, command: NodoCommand) -> Result<()> {
    let config = Config::load(&config_path, std::env::vars())?;
    init_logs(LogFormat::Text);
    let NodoCommand::Check {
        notice,
        fiscal_code,
    } = command;
    let notice = NoticeNumber::parse(&notice, CheckMode::Lenient).context("--notice")?;
    let creditor =
        CreditorFiscalCode::parse(&fiscal_code, CheckMode::Lenient).context("--fiscal-code")?;
    let store = Arc::new(
        Store::open(&config.store_path)
            .with_context(|| format!("opening the store {}", config.store_path.display()))?,
    );
    let client = HttpNodoClient::from_config(&config)?;
    runtime()?.block_on(async {
        let gateway = Gateway::new(
            Arc::new(client),
            store,
            Arc::new(SystemClock),
            Arc::new(channel_adapter::metrics::Metrics::default()),
            deadlines(&config),
        );
        let request = VerifyPaymentNoticeRequest {
            psp: config.psp.identity.clone(),
            qr_code: QrCode {
                fiscal_code: creditor,
                notice_number: notice,
            },
        };
        let reply = gateway.verify(&request).await?;
        let mut out = std::io::stdout().lock();
        match reply {
            Reply::Ok(v) => {
                writeln!(out, "outcome: OK")?;
                if let Some(n) = &v.company_name {
                    writeln!(out, "creditor: {} ({})", n.as_str(), creditor)?;
                }
                if let Some(o) = &v.office_name {
                    writeln!(out, "office: {}", o.as_str())?;
                }
                if let Some(d) = &v.payment_description {
                    writeln!(out, "description: {}", d.as_str())?;
                }
                for o in v.payment_options.as_slice() {
                    let due = o.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
                    writeln!(out, "amount: {} EUR{due}", o.amount.get())?;
                }
                if v.standin == Some(true) {
                    writeln!(out, "stand-in: yes (the creditor is down; last known data)")?;
                }
                Ok(())
            }
            Reply::Ko { fault, action } => {
                writeln!(out, "outcome: KO")?;
                writeln!(out, "fault: {}", fault.fault_code)?;
                if let Some(o) = &fault.original_fault_code {
                    writeln!(out, "original fault: {o}")?;
                }
                writeln!(out, "fault string: {}", fault.fault_string)?;
                if let Some(d) = &fault.description {
                    writeln!(out, "description: {d}")?;
                }
                writeln!(out, "action: {}", action.code())?;
                Ok(())
            }
            Reply::Failed { error, action } => {
                anyhow::bail!(
                    "no answer from the Nodo ({}): {error}; action {}",
                    error.code(),
                    action.code()
                )
            }
        }
    })
}

fn run_collaudo(
    out: PathBuf,
    against_simulator: bool,
    config_path: Option<PathBuf>,
    creditor: &str,
    notice_prefix: String,
) -> Result<()> {
    init_logs(LogFormat::Text);
    let creditor = CreditorFiscalCode::parse(creditor, CheckMode::Lenient).context("--creditor")?;
    let mut options = collaudo::Options::new(out.clone(), creditor);
    options.notice_prefix = notice_prefix;
    let loaded = match &config_path {
        Some(p) => Some(Config::load(p, std::env::vars())?),
        None => None,
    };
    let report = runtime()?.block_on(async {
        if against_simulator {
            let sim_config = match &loaded {
                Some(c) => collaudo::simulator_config(c),
                None => nodo_sim::Config {
                    listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..nodo_sim::Config::default()
                },
            };
            let sim = nodo_sim::Simulator::start(sim_config)
                .await
                .context("starting nodo-sim")?;
            eprintln!("nodo-sim listening at {}", sim.endpoint());
            let mut config = match loaded {
                Some(c) => c,
                None => collaudo::demo_config(&sim.endpoint(), &out.join("unused.db"))?,
            };
            config.nodo.url = sim.endpoint().parse().context("simulator endpoint")?;
            let client: Arc<dyn NodoClient> = Arc::new(HttpNodoClient::from_config(&config)?);
            let report = collaudo::run(
                &config,
                client,
                collaudo::Target::Simulator(&sim),
                &options,
                Arc::new(SystemClock),
                &OsRandom,
            )
            .await;
            let _ = sim.shutdown().await;
            Ok::<_, anyhow::Error>(report?)
        } else {
            let config = loaded.context("give --config (or --against-simulator)")?;
            let client: Arc<dyn NodoClient> = Arc::new(HttpNodoClient::from_config(&config)?);
            Ok(collaudo::run(
                &config,
                client,
                collaudo::Target::Nodo,
                &options,
                Arc::new(SystemClock),
                &OsRandom,
            )
            .await?)
        }
    })?;
    print!("{}", report.text());
    std::io::stdout().flush()?;
    if !report.passed() {
        anyhow::bail!(
            "some scenarios failed: see {}",
            out.join("summary.txt").display()
        );
    }
    Ok(())
}

fn outbox_command(args: StoreArgs, command: OutboxCommand) -> Result<()> {
    let store = open_store(&args)?;
    let mut out = std::io::stdout().lock();
    match command {
        OutboxCommand::List { json } => {
            let list = store.outbox_list()?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "payment_id": e.payment_id.as_str(),
                            "state": e.state.as_str(),
                            "device": e.device,
                            "notice_number": e.notice_number,
                            "outcome": if e.ok { "OK" } else { "KO" },
                            "idempotency_key": e.idempotency_key,
                            "attempts": e.attempts,
                            "created_at": e.created_at.to_string(),
                            "next_attempt_at": e.next_attempt_at.to_string(),
                            "last_attempt_at": e.last_attempt_at.map(|t| t.to_string()),
                            "last_error": e.last_error,
                            "last_action": e.last_action,
                            "parked_at": e.parked_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                writeln!(
                    out,
                    "{:<32}  {:<16} {:<2} {:>8}  {:<24}  {:<14} last error",
                    "payment", "state", "", "attempts", "next attempt", "last action"
                )?;
                for e in &list {
                    writeln!(
                        out,
                        "{:<32}  {:<16} {:<2} {:>8}  {:<24}  {:<14} {}",
                        e.payment_id.as_str(),
                        e.state.as_str(),
                        if e.ok { "OK" } else { "KO" },
                        e.attempts,
                        if e.parked_at.is_some() {
                            "parked: operator".to_owned()
                        } else {
                            e.next_attempt_at.to_string()
                        },
                        e.last_action.as_deref().unwrap_or("-"),
                        e.last_error.as_deref().unwrap_or("-"),
                    )?;
                }
            }
        }
        OutboxCommand::Reset { payment, all } => {
            let target = if all { None } else { payment.as_deref() };
            let n = store.outbox_reset(target, SystemClock.now())?;
            if n == 0 {
                anyhow::bail!("no undelivered outbox entry matched");
            }
            eprintln!(
                "{n} outbox entr{} reset: due now",
                if n == 1 { "y" } else { "ies" }
            );
        }
    }
    Ok(())
}

fn exceptions(args: StoreArgs) -> Result<()> {
    let store = open_store(&args)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<32}  {:<16} {:<18} {:>10}  {:<22} detail",
        "payment", "state", "notice", "cents", "code"
    )?;
    for p in store.exceptions()? {
        let (code, detail) = match &p.error {
            Some((c, d)) => (c.as_str(), d.as_deref().unwrap_or("")),
            None => ("", ""),
        };
        writeln!(
            out,
            "{:<32}  {:<16} {:<18} {:>10}  {:<22} {}",
            p.id.as_str(),
            p.state.as_str(),
            p.notice_number.as_str(),
            p.amount.cents() + p.fee.cents(),
            code,
            detail
        )?;
    }
    Ok(())
}

fn open_store(args: &StoreArgs) -> Result<Store> {
    let path = match (&args.store, &args.config) {
        (Some(p), _) => p.clone(),
        (None, Some(c)) => Config::load(c, std::env::vars())?.store_path,
        (None, None) => anyhow::bail!("give --store <file> or --config <file>"),
    };
    Store::open(&path).with_context(|| format!("opening the store {}", path.display()))
}

fn device(args: StoreArgs, command: DeviceCommand) -> Result<()> {
    let store = open_store(&args)?;
    let now = SystemClock.now();
    let mut out = std::io::stdout().lock();
    match command {
        DeviceCommand::Add { name, comune, kind } => {
            let added = devices::add(&store, &name, &comune, kind.into(), &OsRandom, now)?;
            eprintln!(
                "device {} {:?} ({}, comune {}) registered. Its credential follows; it is shown \
                 only now: configure it on the station.",
                added.device.id, added.device.name, added.device.kind, added.device.comune
            );
            writeln!(out, "{}", added.credential)?;
        }
        DeviceCommand::List { json } => {
            let list = devices::list(&store)?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "id": d.id,
                            "name": d.name,
                            "kind": d.kind.as_str(),
                            "comune": d.comune.as_str(),
                            "location": d.location,
                            "credential": d.credential,
                            "hostname": d.hostname,
                            "created_at": d.created_at.to_string(),
                            "enrolled_at": d.enrolled_at.map(|t| t.to_string()),
                            "revoked_at": d.revoked_at.map(|t| t.to_string()),
                            "last_seen_at": d.last_seen_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                writeln!(
                    out,
                    "{:>5}  {:<30} {:<8} {:<11}  {:<24}  status",
                    "id", "name", "kind", "comune", "last seen"
                )?;
                for d in &list {
                    writeln!(
                        out,
                        "{:>5}  {:<30} {:<8} {:<11}  {:<24}  {}",
                        d.id,
                        d.name,
                        d.kind.as_str(),
                        d.comune.as_str(),
                        d.last_seen_at
                            .map_or_else(|| "never".to_owned(), |t| t.to_string()),
                        d.revoked_at
                            .map_or_else(|| "active".to_owned(), |t| format!("revoked {t}")),
                    )?;
                }
            }
        }
        DeviceCommand::Revoke { device } => {
            let d = devices::revoke(&store, &device, now)?;
            eprintln!(
                "device {} {:?} revoked: its credential no longer works",
                d.id, d.name
            );
        }
        DeviceCommand::EnrollCode {
            comune,
            location,
            kind,
            ttl,
        } => {
            let config = args
                .config
                .as_ref()
                .map(|c| Config::load(c, std::env::vars()))
                .transpose()?;
            let ttl = ttl
                .or(config.as_ref().map(|c| c.enrollment.code_ttl))
                .unwrap_or(std::time::Duration::from_secs(24 * 3600));
            let issued = enroll::create_code(
                &store,
                &OsRandom,
                &enroll::CodeRequest {
                    comune: &comune,
                    location: &location,
                    kind: kind.into(),
                    ttl,
                    created_by: "cli",
                },
                now,
            )?;
            writeln!(out, "code: {}", issued.code.display())?;
            writeln!(out, "expires: {}", issued.expires_at)?;
            writeln!(
                out,
                "for: {} \"{}\" in comune {} (single use)",
                issued.kind, issued.location, issued.comune
            )?;
            if let Some(tls) = config.as_ref().and_then(|c| c.tls.as_ref()) {
                let fp = enroll::certificate_fingerprint(&tls.cert_path)
                    .map_err(|e| anyhow::anyhow!("certificate fingerprint: {e}"))?;
                writeln!(out, "fingerprint: {fp}")?;
            }
        }
        DeviceCommand::Config {
            comune,
            device,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let toml = file.extension().is_some_and(|e| e == "toml");
            let settings = fleet::parse_settings(&text, toml)
                .with_context(|| format!("{}", file.display()))?;
            let cf = CreditorFiscalCode::parse(comune.trim(), CheckMode::Strict)?;
            let scope = match device {
                None => ConfigScope::Comune(cf),
                Some(id) => {
                    let d = store
                        .device(id)?
                        .with_context(|| format!("no device {id}"))?;
                    anyhow::ensure!(d.comune == cf, "device {id} is not of comune {cf}");
                    ConfigScope::Device(id)
                }
            };
            let version = fleet::publish(&store, scope, &settings, "cli", now)?;
            writeln!(out, "published configuration version {version}")?;
        }
    }
    Ok(())
}

fn user(args: StoreArgs, command: UserCommand) -> Result<()> {
    let store = open_store(&args)?;
    let now = SystemClock.now();
    let mut out = std::io::stdout().lock();
    match command {
        UserCommand::Add {
            name,
            role,
            comuni,
            all_comuni,
        } => {
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Operator => Role::Operator,
            };
            let added = users::add(&store, &name, role, &comuni, all_comuni, &OsRandom, now)?;
            eprintln!(
                "user {} {:?} ({}) added. Its token follows; it is shown only now.",
                added.user.id,
                added.user.name,
                added.user.role.as_str()
            );
            writeln!(out, "{}", added.token)?;
        }
        UserCommand::List { json } => {
            let list = users::list(&store)?;
            let scope = |u: &channel_adapter::store::fleet::UserRecord| {
                u.comuni.as_ref().map_or_else(
                    || "all".to_owned(),
                    |cs| {
                        cs.iter()
                            .map(|c| c.as_str().to_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                )
            };
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id,
                            "name": u.name,
                            "role": u.role.as_str(),
                            "comuni": scope(u),
                            "created_at": u.created_at.to_string(),
                            "revoked_at": u.revoked_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                writeln!(
                    out,
                    "{:>5}  {:<30} {:<8} {:<24} status",
                    "id", "name", "role", "comuni"
                )?;
                for u in &list {
                    writeln!(
                        out,
                        "{:>5}  {:<30} {:<8} {:<24} {}",
                        u.id,
                        u.name,
                        u.role.as_str(),
                        scope(u),
                        u.revoked_at
                            .map_or_else(|| "active".to_owned(), |t| format!("revoked {t}")),
                    )?;
                }
            }
        }
        UserCommand::Revoke { user } => {
            let u = users::revoke(&store, &user, now)?;
            eprintln!(
                "user {} {:?} revoked: its token no longer works",
                u.id, u.name
            );
        }
    }
    Ok(())
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHANNEL_ADAPTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(config_path: PathBuf) -> Result<()> {
    let config = Arc::new(Config::load(&config_path, std::env::vars())?);
    init_logs(config.log_format);
    runtime()?.block_on(run(config))
}

async fn run(config: Arc<Config>) -> Result<()> {
    let store = Arc::new(
        Store::open_with(&config.store_path, config.store_sync)
            .with_context(|| format!("opening the store {}", config.store_path.display()))?,
    );
    let tls = match &config.tls {
        Some(t) => Some(server::load_tls(&t.cert_path, &t.key_path)?),
        None => None,
    };
    let nodo: Arc<dyn NodoClient> =
        Arc::new(HttpNodoClient::from_config(&config).context("setting up the Nodo client")?);
    let state = channel_adapter::app_state(
        Arc::clone(&config),
        store,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Some(nodo),
    );
    let recovered = recovery::recover(&state)
        .await
        .context("recovering the calls left open")?;
    if recovered.interrupted_calls > 0 {
        tracing::warn!(
            interrupted = recovered.interrupted_calls,
            resent_activations = recovered.resent_activations.len(),
            "the previous run stopped with Nodo calls in flight: they are being resent"
        );
    }
    let (stop, stopping) = watch::channel(false);
    let worker = tokio::spawn(outbox::run(state.clone(), stopped(stopping.clone())));
    let app = api::router(state);
    let bound = server::Bound::bind(config.listen, tls)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = bound.local_addr()?;
    // Scripts and tests read this line to learn the port.
    println!("listening on {}://{addr}", bound.scheme());
    std::io::stdout().flush()?;
    tracing::info!(%addr, scheme = bound.scheme(), nodo = %config.nodo.url, "device API listening");
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let served = bound.serve(app, stopped(stopping)).await;
    // The device API is closed; let the outbox finish the attempts in flight.
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "the outbox worker failed");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes when the stop flag is raised (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
