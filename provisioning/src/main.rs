//! `provision`: the field technicians' tool.
//!
//! With a fresh device and a one-time code, `enroll` makes the device's key, enrolls it with the
//! channel adapter (pinning the adapter's certificate), detects the attached devices, writes the
//! agent's configuration, self-tests and prints a summary receipt; `status`,
//! `rotate-credential` and `unenroll` look after it afterwards.
//!
//! A technician at a comune office also needs answers without a network or a running agent: what a
//! scanner actually delivered and whether a typed notice number is plausible (`decode-scan`,
//! `check-notice`), which devices are plugged in and what they are (`detect`), whether each one
//! works end to end (`test print|scan|terminal|drawer`), and, away from the hardware, simulators
//! that behave like it (`sim printer|terminal|scanner`). Device commands print one clear PASS or
//! FAIL per check and exit non-zero on failure, so they also serve in scripts.

mod detect;
mod enroll;
mod error;
mod hwtest;
mod manage;
mod notice;
mod pin;
mod progress;
mod selftest;
mod simulate;
mod station;

use std::future::Future;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version,
    about = "Field technicians' tool for pagoPA kiosks and counters",
    after_help = EXIT_STATUSES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit statuses of the device-management commands (see `error::exit`).
const EXIT_STATUSES: &str = "\
Exit status of enroll, status, rotate-credential, unenroll:
  0  done, every check passed
  1  done, but a check failed (see the ✗ lines): e.g. enrolled, printer out of paper
  2  wrong command line or missing details
  3  adapter unreachable (ADAPTER_UNREACHABLE)
  4  enrollment code wrong, expired or used (ENROLLMENT_CODE_INVALID/_EXPIRED/_USED)
  5  too many attempts (TOO_MANY_ATTEMPTS): wait a few minutes
  6  certificate mismatch or untrusted (CERTIFICATE_MISMATCH, CERTIFICATE_UNTRUSTED)
  7  refused by this device's state (CONFIG_EXISTS, NOT_ENROLLED, QUEUE_NOT_EMPTY, NOT_CONFIRMED)
  8  refused by the adapter (DEVICE_REVOKED, SIGNATURE_INVALID, CLOCK_SKEW…)
  9  anything else (files, configuration)";

#[derive(Debug, Subcommand)]
enum Command {
    /// Enroll this device with a one-time code: make its key, pin the adapter's certificate,
    /// detect the devices, write the agent's configuration, self-test, print a summary receipt.
    #[command(after_help = EXIT_STATUSES)]
    Enroll(Box<enroll::EnrollArgs>),
    /// This device as configured here and as the adapter sees it (revoked? last heartbeat?).
    #[command(after_help = EXIT_STATUSES)]
    Status(manage::ConfigArg),
    /// Replace the device's key with a new one, safely (an interrupted rotation is finished or
    /// rolled back on the next run).
    #[command(after_help = EXIT_STATUSES)]
    RotateCredential(manage::ConfigArg),
    /// Take this device out of the fleet: the adapter refuses its key, the key is deleted.
    #[command(after_help = EXIT_STATUSES)]
    Unenroll(manage::UnenrollArgs),
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
        Command::Enroll(args) => run_device(enroll::run(*args)),
        Command::Status(args) => run_device(manage::status(args)),
        Command::RotateCredential(args) => run_device(manage::rotate(args)),
        Command::Unenroll(args) => run_device(manage::unenroll(args)),
    }
}

/// Runs a device-management command: its errors carry their own code, hint and exit status.
fn run_device(command: impl Future<Output = Result<ExitCode, error::ProvisionError>>) -> ExitCode {
    run_async(async { Ok(command.await.unwrap_or_else(|e| e.report())) })
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
