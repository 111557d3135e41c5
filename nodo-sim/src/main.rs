//! `nodo-sim`: run the Nodo dei Pagamenti simulator, or write its default catalogue or
//! configuration so they can be edited.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use nodo_sim::clock::{rome_date, wall_clock};
use nodo_sim::{Catalogue, Config, Simulator};

#[derive(Debug, Parser)]
#[command(
    name = "nodo-sim",
    version,
    about = "Simulatore del Nodo dei Pagamenti pagoPA (nodeForPsp)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Configuration file (TOML); defaults apply to whatever it does not set.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8089).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Catalogue file (TOML, or JSON by extension) instead of the demo catalogue.
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// Seed of tokens, demo catalogue and fault dice.
    #[arg(long)]
    seed: Option<u64>,
    /// Accepted Ocp-Apim-Subscription-Key (repeatable; replaces the configured ones).
    #[arg(long = "subscription-key")]
    subscription_keys: Vec<String>,
    /// Do not check the Ocp-Apim-Subscription-Key header.
    #[arg(long, conflicts_with = "subscription_keys")]
    no_subscription_key: bool,
    /// Milliseconds a timing-out creditor station makes callers wait (default 7000).
    #[arg(long)]
    station_timeout_ms: Option<u64>,
    /// Log filter, e.g. `info` or `nodo_sim=debug` (RUST_LOG works too).
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the simulator (the default).
    Serve,
    /// Write the demo catalogue, to edit it and pass it back with --catalogue.
    Catalogue {
        /// Output file: JSON if it ends in .json, TOML otherwise.
        #[arg(long, short)]
        out: PathBuf,
        /// Seed (the same seed gives the same catalogue).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Reference date for due dates (YYYY-MM-DD); today by default.
        #[arg(long)]
        date: Option<String>,
    },
    /// Write the default configuration, every field explained in a comment.
    Config {
        /// Output file (TOML).
        #[arg(long, short)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Catalogue { out, seed, date }) => {
            let reference = match date {
                Some(d) => pagopa::Date::parse(&d).context("--date")?,
                None => rome_date(wall_clock()).context("data odierna")?,
            };
            let catalogue: Catalogue = nodo_sim::demo::catalogue(seed, reference)?;
            catalogue.save(&out)?;
            println!(
                "{}: {} enti, {} avvisi",
                out.display(),
                catalogue.creditors().len(),
                catalogue.notices().len()
            );
            Ok(())
        }
        Some(Command::Config { out }) => {
            std::fs::write(&out, nodo_sim::config::EXAMPLE_TOML)
                .with_context(|| out.display().to_string())?;
            println!("{}", out.display());
            Ok(())
        }
        Some(Command::Serve) | None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&args.log))
        .context("--log")?;
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(path) = args.catalogue {
        config.catalogue = Some(path);
    }
    if let Some(seed) = args.seed {
        config.seed = Some(seed);
    }
    if args.no_subscription_key {
        config.subscription_keys.clear();
    } else if !args.subscription_keys.is_empty() {
        config.subscription_keys = args.subscription_keys;
    }
    if let Some(ms) = args.station_timeout_ms {
        config.station_timeout_ms = ms;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("runtime tokio")?;
    runtime.block_on(async move {
        let sim = Simulator::start(config).await?;
        println!(
            "nodo-sim: SOAP {}  admin http://{}/admin/",
            sim.endpoint(),
            sim.addr()
        );
        stop_signal().await?;
        tracing::info!("arresto");
        sim.shutdown().await.context("arresto del server")?;
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM (containers, systemd).
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("Ctrl-C")?;
    Ok(())
}
