//! `kiosk`: the agent's command line.
//!
//! - `kiosk run --config FILE`: run the agent until SIGINT/SIGTERM;
//! - `kiosk check-config --config FILE`: validate a configuration and exit;
//! - `kiosk journal verify --journal FILE` (or `--config`): check the journal's hash chain;
//! - `kiosk hash-pin`: read a PIN on stdin, print its Argon2id hash for the configuration.
//!
//! Logs go to stderr (`KIOSK_LOG` sets the filter); stdout carries only what a script reads.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use kiosk::config::Config;

/// The pagoPA kiosk and counter agent.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent.
    Run {
        /// The configuration file.
        #[arg(long, env = "KIOSK_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration and exit.
    CheckConfig {
        /// The configuration file.
        #[arg(long, env = "KIOSK_CONFIG")]
        config: PathBuf,
    },
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Read a PIN on standard input and print its hash for `[[operators]] pin_hash`.
    HashPin,
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Check the hash chain: exit 0 if intact, 1 with the first broken entry otherwise.
    Verify {
        /// The journal file.
        #[arg(long, conflicts_with = "config")]
        journal: Option<PathBuf>,
        /// The configuration whose journal to check.
        #[arg(long, env = "KIOSK_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            let config = Config::load(&config)?;
            init_logs();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async {
                let agent = kiosk::Agent::start(config).await?;
                println!("listening on http://{}", agent.addr());
                std::io::stdout().flush()?;
                shutdown_signal().await;
                agent.shutdown().await;
                Ok(())
            })
        }
        Command::CheckConfig { config } => {
            let c = Config::load(&config)?;
            println!(
                "configuration OK: {} {:?}, local API on {}, journal {}",
                c.mode,
                c.name,
                c.listen,
                c.journal_path.display()
            );
            Ok(())
        }
        Command::Journal {
            command: JournalCommand::Verify { journal, config },
        } => {
            let path = match (journal, config) {
                (Some(j), _) => j,
                (None, Some(c)) => Config::load(&c)?.journal_path,
                (None, None) => bail!("give --journal FILE or --config FILE"),
            };
            if !path.exists() {
                bail!("no journal at {}", path.display());
            }
            let j = kiosk::journal::Journal::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            match j.verify() {
                Ok(v) => {
                    println!("journal intact: {} entries, head {}", v.entries, v.head);
                    Ok(())
                }
                Err(e) => {
                    eprintln!("journal NOT intact ({}): {e}", e.code());
                    std::process::exit(1);
                }
            }
        }
        Command::HashPin => {
            let mut pin = String::new();
            std::io::stdin().lock().read_line(&mut pin)?;
            let hash = kiosk::auth::hash_pin(pin.trim())
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("{hash}");
            Ok(())
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIOSK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
