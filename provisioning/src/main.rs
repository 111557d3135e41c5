//! `provision`: the field technicians' tool.
//!
//! A technician at a comune office needs answers without a network or a running agent: what a
//! scanner actually delivered and whether a typed notice number is plausible (`decode-scan`,
//! `check-notice`), which devices are plugged in and what they are (`detect`), whether each one
//! works end to end (`test print|scan|terminal|drawer`), and, away from the hardware, simulators
//! that behave like it (`sim printer|terminal|scanner`). Device commands print one clear PASS or
//! FAIL per check and exit non-zero on failure, so they also serve in scripts.

mod detect;
mod hwtest;
mod notice;
mod simulate;

use std::future::Future;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version,
    about = "Field technicians' tool for pagoPA kiosks and counters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode what a scanner read from a notice: pagoPA QR code or Poste Data Matrix,
    /// with or without an AIM symbology prefix and trailing CR/LF.
    DecodeScan {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The scanned payload, e.g. 'PAGOPA|002|300715700000000032|00085240950|1500'.
        payload: String,
    },
    /// Check a notice number and creditor fiscal code typed by hand.
    CheckNotice {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The 18-digit notice number (codice avviso), spaces allowed.
        notice_number: String,
        /// The creditor's 11-digit fiscal code.
        fiscal_code: String,
    },
    /// List serial ports and USB printers with their USB IDs and stable by-id paths, and probe
    /// which kind of device answers on each.
    Detect(detect::DetectArgs),
    /// Test one device end to end, with a clear PASS or FAIL.
    #[command(subcommand)]
    Test(hwtest::TestCommand),
    /// Run a device simulator (printer, card terminal, scanner) on TCP or a pseudo-terminal.
    #[command(subcommand)]
    Sim(simulate::SimCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::DecodeScan { json, payload } => notice::decode_scan(&payload, json),
        Command::CheckNotice {
            json,
            notice_number,
            fiscal_code,
        } => notice::check_notice(&notice_number, &fiscal_code, json),
        Command::Detect(args) => run_async(detect::run(args)),
        Command::Test(test) => run_async(hwtest::run(test)),
        Command::Sim(sim) => run_async(simulate::run(sim)),
    }
}

/// Runs a device command on a single-threaded runtime: devices are slow, one at a time.
fn run_async(command: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("provision: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("provision: {e:#}");
            ExitCode::FAILURE
        }
    }
}
