//! `provision test print|scan|terminal|drawer`: one device, end to end, with a clear verdict.
//!
//! Each command prints one line per check, `PASS` or `FAIL` with the driver's error code and,
//! for the usual causes, a hint (wrong group, ModemManager, wrong IP). The exit status is 0 only
//! if every check passed. The drivers are the kiosk's own, so a pass here means the kiosk will
//! work with the same settings.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use drivers::devices::drawer::{CashDrawer as _, DrawerConfig, DrawerState};
use drivers::devices::printer::{EscPosPrinter, PrintError, PrinterConfig, ReceiptPrinter as _};
use drivers::devices::scanner::{Scanner as _, ScannerEvent, ScannerPortConfig, SerialScanner};
use drivers::devices::terminal::{
    CardOutcome, CardTerminal as _, Ecr17Config, Ecr17Terminal, Recovery, TerminalError,
};
use drivers::ecr17::{CashRegisterId, LrcConfig, LrcMode, SessionConfig, TerminalId};
use drivers::escpos::{
    CodePage, CutKind, DrawerPolarity, PaperState, PaperWidth, PrinterStatus, Receipt,
};
use drivers::scanner::{AimMode, ScannerConfig};
use drivers::sim::terminal::parse_duration;
use drivers::transport::{Endpoint, TransportError};

/// The pagoPA payload on the test receipt: the notice of the reference's worked example.
pub const TEST_QR: &str = "PAGOPA|002|301000000000012373|02438750586|123456";

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Print a test receipt (Italian accented letters, a € amount, a pagoPA QR code, a cut) and
    /// check the printer's status before and after.
    Print(PrintArgs),
    /// Wait for one scan and decode it.
    Scan(ScanArgs),
    /// Ask a card terminal for its status; optionally run a real payment.
    Terminal(TerminalArgs),
    /// Open the cash drawer through the printer, and read its sensor.
    Drawer(DrawerArgs),
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The device: a path (prefer /dev/serial/by-id/...), usblp:/dev/usb/lp0, or
    /// tcp://host:port.
    #[arg(long)]
    port: String,
    /// Serial speed (serial ports only).
    #[arg(long)]
    baud: Option<u32>,
}

impl PortArgs {
    fn endpoint(&self) -> anyhow::Result<Endpoint> {
        let endpoint = Endpoint::parse(&self.port)?;
        Ok(match self.baud {
            Some(baud) => endpoint.with_baud(baud),
            None => endpoint,
        })
    }
}

#[derive(Debug, Args)]
pub struct PrintArgs {
    #[command(flatten)]
    port: PortArgs,
    /// Paper width in mm: 58 or 80.
    #[arg(long, default_value = "80")]
    paper: u8,
    /// Code page selected with ESC t: pc858 or wpc1252.
    #[arg(long, default_value = "pc858")]
    code_page: String,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    port: PortArgs,
    /// How long to wait for a scan, e.g. 30s.
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// Accept labels without an AIM symbology identifier.
    #[arg(long)]
    no_aim: bool,
}

#[derive(Debug, Args)]
pub struct TerminalArgs {
    #[command(flatten)]
    port: PortArgs,
    /// The terminal ID (8 digits); by default learnt from the status reply.
    #[arg(long)]
    terminal_id: Option<String>,
    /// This register's ID.
    #[arg(long, default_value = "1")]
    cash_register: String,
    /// LRC convention: stx (full frame, default), std, noext or stx-noext.
    #[arg(long, default_value = "stx")]
    lrc: String,
    /// Also charge this many cents (a real payment on a real terminal!).
    #[arg(long)]
    pay: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DrawerArgs {
    #[command(flatten)]
    port: PortArgs,
    /// A sensor is wired: read the drawer's position before and after.
    #[arg(long)]
    sensor: bool,
    /// Sensor polarity: high (pin 3 high = open) or low.
    #[arg(long, default_value = "high")]
    polarity: String,
}

pub async fn run(command: TestCommand) -> anyhow::Result<ExitCode> {
    match command {
        TestCommand::Print(args) => print(args).await,
        TestCommand::Scan(args) => scan(args).await,
        TestCommand::Terminal(args) => terminal(args).await,
        TestCommand::Drawer(args) => drawer(args).await,
    }
}

/// Collects check lines and the verdict.
#[derive(Debug, Default)]
struct Verdict {
    failed: bool,
}

impl Verdict {
    fn info(&self, what: &str, text: impl std::fmt::Display) {
        println!("{what:<9}{text}");
    }

    fn pass(&self, what: &str, text: impl std::fmt::Display) {
        println!("{what:<9}PASS  {text}");
    }

    fn fail(&mut self, what: &str, code: &str, text: impl std::fmt::Display) {
        self.failed = true;
        println!("{what:<9}FAIL  {code}: {text}");
    }

    fn hint(&self, hint: Option<&str>) {
        if let Some(hint) = hint {
            println!("{:<9}hint: {hint}", "");
        }
    }

    fn exit(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

pub(crate) fn describe(status: &PrinterStatus) -> String {
    format!(
        "{}, paper {}, cover {}{}",
        if status.offline { "offline" } else { "online" },
        match status.paper {
            PaperState::Ok => "ok",
            PaperState::NearEnd => "NEAR END",
            PaperState::End => "OUT",
        },
        if status.cover_open { "OPEN" } else { "closed" },
        if status.errors.any() {
            format!(", errors {:?}", status.errors)
        } else {
            String::new()
        }
    )
}

fn print_error(v: &mut Verdict, what: &str, e: &PrintError) {
    v.fail(what, e.code(), e);
    let transport = match e {
        PrintError::Unavailable(t) | PrintError::Interrupted(t) => Some(t),
        _ => None,
    };
    v.hint(transport.and_then(TransportError::hint).or(match e {
        PrintError::PaperEnd { .. } => Some("load a paper roll and close the cover"),
        PrintError::CoverOpen { .. } => Some("close the printer cover"),
        PrintError::NoStatus { .. } => {
            Some("the printer does not answer DLE EOT: check the baud rate, or the link is one-way")
        }
        _ => None,
    }));
}

/// The test receipt: what a pagoPA receipt needs to print right.
pub fn test_receipt() -> Receipt {
    Receipt::new()
        .header("PROVA STAMPA")
        .text("Città, perché, più: àèéìòù ÀÈ")
        .key_value("Comune di", "Roma Capitale")
        .key_value("Codice avviso", "3010 0000 0000 0123 73")
        .total("IMPORTO", "€ 1.234,56")
        .qr(TEST_QR)
        .text("Se leggete bene queste righe e il QR, la stampante è pronta.")
        .cut(CutKind::Partial)
}

async fn print(args: PrintArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.port.endpoint()?;
    let mut config = PrinterConfig::new(endpoint.clone());
    config.profile.paper = match args.paper {
        58 => PaperWidth::Mm58,
        80 => PaperWidth::Mm80,
        other => bail!("paper width must be 58 or 80, not {other}"),
    };
    config.profile.code_page = match args.code_page.as_str() {
        "pc858" => CodePage::Pc858,
        "wpc1252" => CodePage::Wpc1252,
        other => bail!("code page must be pc858 or wpc1252, not {other}"),
    };
    let mut printer = EscPosPrinter::new(config);
    let mut v = Verdict::default();
    v.info("printer", &endpoint);
    match printer.status().await {
        Ok(status) => v.pass("status", describe(&status)),
        Err(e) => {
            print_error(&mut v, "status", &e);
            return Ok(v.exit());
        }
    }
    match printer.print(&test_receipt()).await {
        Ok(printed) => {
            v.pass(
                "print",
                format!(
                    "{} bytes confirmed printed; after: {}",
                    printed.bytes,
                    describe(&printed.status)
                ),
            );
            if printed.status.paper == PaperState::NearEnd {
                v.info("", "warning: paper near its end");
            }
            v.info(
                "check",
                "on paper: accented letters, the € sign, a QR code that scans as PAGOPA|002|..., a cut",
            );
        }
        Err(e) => print_error(&mut v, "print", &e),
    }
    Ok(v.exit())
}

async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.port.endpoint()?;
    let wait = parse_duration(&args.timeout)
        .with_context(|| format!("timeout must look like 30s or 500ms, not {}", args.timeout))?;
    let mut config = ScannerPortConfig::new(endpoint.clone());
    config.decoder = ScannerConfig {
        aim: if args.no_aim {
            AimMode::Optional
        } else {
            AimMode::Required
        },
        ..ScannerConfig::default()
    };
    let mut scanner = SerialScanner::new(config);
    let mut v = Verdict::default();
    v.info("scanner", &endpoint);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let event = match tokio::time::timeout_at(deadline, scanner.next_event()).await {
            Ok(event) => event,
            Err(_) => {
                v.fail("scan", "SCAN_TIMEOUT", format!("no label read in {wait:?}"));
                v.hint(Some(
                    "scan a notice; check the scanner is in USB COM (CDC-ACM) mode with a CR suffix",
                ));
                return Ok(v.exit());
            }
        };
        match event {
            ScannerEvent::Connected => v.pass("open", "port open, waiting for a scan"),
            ScannerEvent::Unavailable(e) | ScannerEvent::Disconnected(e) => {
                v.fail("open", e.code(), &e);
                v.hint(e.hint());
                return Ok(v.exit());
            }
            ScannerEvent::Rejected(e) => {
                v.fail("scan", e.code(), &e);
                v.hint(Some(match e.code() {
                    "SCAN_MISSING_AIM" => {
                        "enable the AIM code identifier on the scanner, or pass --no-aim"
                    }
                    _ => "check the scanner's suffix and character settings",
                }));
                return Ok(v.exit());
            }
            ScannerEvent::Code { text, symbology } => {
                let name = symbology.map_or_else(
                    || "no AIM identifier".to_owned(),
                    |s| format!("{s} {}", s.name()),
                );
                v.pass("scan", format!("{text:?} ({name})"));
                match pagopa::scan::decode(&text, pagopa::CheckMode::Lenient) {
                    Ok(notice) => v.info(
                        "notice",
                        format!(
                            "{} creditor {}{}",
                            notice.notice_number.grouped(),
                            notice.fiscal_code,
                            notice
                                .amount
                                .map(|a| format!(" amount {}", a.italian()))
                                .unwrap_or_default()
                        ),
                    ),
                    Err(e) => v.info("notice", format!("not a pagoPA notice: {e}")),
                }
                return Ok(v.exit());
            }
            _ => {}
        }
    }
}

fn lrc_mode(name: &str) -> anyhow::Result<LrcConfig> {
    Ok(match name {
        "stx" => LrcConfig::FULL_FRAME,
        "std" => LrcConfig::uniform(LrcMode::Std),
        "noext" => LrcConfig::uniform(LrcMode::NoExt),
        "stx-noext" => LrcConfig::uniform(LrcMode::StxNoExt),
        other => bail!("LRC mode must be stx, std, noext or stx-noext, not {other}"),
    })
}

fn terminal_error(v: &mut Verdict, what: &str, e: &TerminalError) {
    v.fail(what, e.code(), e);
    v.hint(match e {
        TerminalError::Unavailable(t) => t.hint(),
        TerminalError::NoAnswer { .. } => Some(
            "no answer: check the LRC mode (--lrc) and that ECR integration is enabled on the terminal",
        ),
        TerminalError::NotAccepted => Some(
            "the terminal refuses (NAKs) the command: check the LRC mode (--lrc) and --terminal-id",
        ),
        _ => None,
    });
}

async fn terminal(args: TerminalArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.port.endpoint()?;
    let terminal_id = match &args.terminal_id {
        Some(id) => TerminalId::parse(id).context("terminal ID must be 1-8 digits")?,
        None => TerminalId::WILDCARD,
    };
    let cash_register = CashRegisterId::parse(&args.cash_register)
        .context("cash-register ID must be 1-8 digits")?;
    let mut session = SessionConfig::new(terminal_id, cash_register);
    session.lrc = lrc_mode(&args.lrc)?;
    let mut terminal = Ecr17Terminal::new(Ecr17Config::new(endpoint.clone(), session));
    let mut events = terminal.subscribe();
    let mut v = Verdict::default();
    v.info("terminal", &endpoint);
    match terminal.status().await {
        Ok(info) => v.pass(
            "status",
            format!(
                "terminal {} {} (state {}, clock {}, software {})",
                info.terminal_id,
                if info.ready { "ready" } else { "NOT ready" },
                info.state,
                info.clock,
                info.software.join(" ")
            ),
        ),
        Err(e) => {
            terminal_error(&mut v, "status", &e);
            return Ok(v.exit());
        }
    }
    let Some(cents) = args.pay else {
        return Ok(v.exit());
    };
    let outcome = {
        let paying = terminal.pay(cents);
        tokio::pin!(paying);
        loop {
            tokio::select! {
                outcome = &mut paying => break outcome,
                Ok(event) = events.recv() => {
                    if let drivers::devices::terminal::TerminalEvent::Progress(text) = event {
                        v.info("display", text.trim());
                    }
                }
            }
        }
    };
    match outcome {
        Ok(CardOutcome::Approved(a)) => v.pass(
            "payment",
            format!(
                "approved: card {} auth {} STAN {}",
                a.masked_pan,
                a.auth_code.as_deref().unwrap_or("-"),
                a.reference.stan
            ),
        ),
        Ok(CardOutcome::Declined { reason, .. }) => {
            v.pass(
                "payment",
                format!("the terminal answered: declined ({reason})"),
            );
        }
        Ok(CardOutcome::Unknown { reason }) => {
            v.info(
                "payment",
                format!("outcome unknown ({reason:?}): asking the last result"),
            );
            match terminal.last_result().await {
                Ok(last) => match last.recovery {
                    Some(Recovery::Approved(a)) => v.pass(
                        "recovery",
                        format!("the payment WAS approved (STAN {})", a.reference.stan),
                    ),
                    Some(Recovery::Declined { reason }) => {
                        v.pass("recovery", format!("the payment was declined ({reason})"));
                    }
                    Some(Recovery::NotPerformed) => {
                        v.pass("recovery", "the payment was not performed: nothing charged");
                    }
                    other => v.fail(
                        "recovery",
                        "TERMINAL_UNRESOLVED",
                        format!("still unknown: {other:?}; do not retry, check the terminal"),
                    ),
                },
                Err(e) => terminal_error(&mut v, "recovery", &e),
            }
        }
        Err(e) => terminal_error(&mut v, "payment", &e),
    }
    Ok(v.exit())
}

async fn drawer(args: DrawerArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.port.endpoint()?;
    let mut config = PrinterConfig::new(endpoint.clone());
    config.drawer = DrawerConfig {
        sensor: args.sensor,
        polarity: match args.polarity.as_str() {
            "high" => DrawerPolarity::OpenWhenHigh,
            "low" => DrawerPolarity::OpenWhenLow,
            other => bail!("polarity must be high or low, not {other}"),
        },
        ..DrawerConfig::default()
    };
    let mut printer = EscPosPrinter::new(config);
    let mut v = Verdict::default();
    v.info("drawer", format!("through the printer at {endpoint}"));
    let state = |s: DrawerState| match s {
        DrawerState::Open => "open",
        DrawerState::Closed => "closed",
        DrawerState::NotReported => "not reported (no sensor)",
    };
    if args.sensor {
        match printer.state().await {
            Ok(s) => v.info("before", state(s)),
            Err(e) => {
                print_error(&mut v, "before", &e);
                return Ok(v.exit());
            }
        }
    }
    match printer.open().await {
        Ok(()) => v.pass("kick", "the printer accepted the pulse"),
        Err(e) => {
            print_error(&mut v, "kick", &e);
            return Ok(v.exit());
        }
    }
    if args.sensor {
        tokio::time::sleep(Duration::from_millis(300)).await;
        match printer.state().await {
            Ok(DrawerState::Open) => v.pass("sensor", "the drawer reports open"),
            Ok(s) => {
                v.fail(
                    "sensor",
                    "DRAWER_NOT_OPEN",
                    format!("the drawer reports {}", state(s)),
                );
                v.hint(Some(
                    "if the drawer did open, the sensor polarity is the other one: try --polarity low",
                ));
            }
            Err(e) => print_error(&mut v, "sensor", &e),
        }
    } else {
        v.info(
            "check",
            "the drawer should have opened; pass --sensor if it has a switch",
        );
    }
    Ok(v.exit())
}
