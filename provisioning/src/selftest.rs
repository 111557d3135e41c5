//! The self-test after enrollment, and the summary receipt.
//!
//! The technician leaves only when the station is known to work, so enrollment ends by asking
//! each configured device what `provision test` asks (the printer's status, the scanner's port
//! opening, the terminal's status), with the drivers and settings the agent will use, and prints
//! a receipt that stays with the station: who it is, which adapter it trusts (the fingerprint),
//! and what passed. With `--sim-devices` the printer is a simulator in this process, so the
//! receipt can be shown on screen.

use std::time::Duration;

use drivers::devices::printer::{EscPosPrinter, PrinterConfig, ReceiptPrinter as _};
use drivers::devices::scanner::{Scanner as _, ScannerEvent, ScannerPortConfig, SerialScanner};
use drivers::devices::terminal::{CardTerminal as _, Ecr17Config, Ecr17Terminal};
use drivers::ecr17::{CashRegisterId, SessionConfig, TerminalId};
use drivers::escpos::{CutKind, PaperState, Receipt};
use drivers::sim::printer::{PrinterSim, PrinterSimConfig};
use drivers::transport::Endpoint;

use crate::station::Chosen;

/// One line of the self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The device (`printer`, `scanner`, `terminal`).
    pub what: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or the error code and message.
    pub text: String,
}

impl Check {
    fn pass(what: &'static str, text: impl Into<String>) -> Check {
        Check {
            what,
            ok: true,
            text: text.into(),
        }
    }

    fn fail(what: &'static str, code: &str, text: impl std::fmt::Display) -> Check {
        Check {
            what,
            ok: false,
            text: format!("{code}: {text}"),
        }
    }
}

/// How long one device may take to answer.
const DEVICE_WAIT: Duration = Duration::from_secs(3);

/// The stations's printer: a real one, or a simulator started here for `sim`.
#[derive(Debug)]
pub struct Printer {
    endpoint: Endpoint,
    sim: Option<PrinterSim>,
}

impl Printer {
    /// The printer at `address` (`sim` starts a simulator on loopback).
    pub async fn open(address: &str) -> Result<Printer, String> {
        if address == "sim" {
            let sim = PrinterSim::tcp(([127, 0, 0, 1], 0).into(), PrinterSimConfig::default())
                .await
                .map_err(|e| format!("cannot start the printer simulator: {e}"))?;
            let endpoint = Endpoint::parse(&sim.endpoint()).map_err(|e| e.to_string())?;
            return Ok(Printer {
                endpoint,
                sim: Some(sim),
            });
        }
        let endpoint = Endpoint::parse(address).map_err(|e| e.to_string())?;
        Ok(Printer {
            endpoint,
            sim: None,
        })
    }

    fn driver(&self) -> EscPosPrinter {
        let mut config = PrinterConfig::new(self.endpoint.clone());
        config.status_timeout = DEVICE_WAIT;
        config.connect_wait = DEVICE_WAIT;
        EscPosPrinter::new(config)
    }

    /// The printer's status, as a check.
    pub async fn check(&self) -> Check {
        match self.driver().status().await {
            Ok(status) if status.ready() => Check::pass(
                "printer",
                match status.paper {
                    PaperState::NearEnd => "online, paper NEAR END: change the roll soon",
                    _ => "online, paper ok",
                },
            ),
            Ok(status) => Check::fail(
                "printer",
                "PRINTER_NOT_READY",
                crate::hwtest::describe(&status),
            ),
            Err(e) => Check::fail("printer", e.code(), &e),
        }
    }

    /// Prints `receipt`; with a simulator, gives back the text it printed.
    pub async fn print(&self, receipt: &Receipt) -> Result<Option<String>, String> {
        self.driver()
            .print(receipt)
            .await
            .map_err(|e| format!("{}: {e}", e.code()))?;
        let Some(sim) = &self.sim else {
            return Ok(None);
        };
        let printout = sim.printout().map_err(|e| e.to_string())?;
        Ok(Some(printout.text_lines().join("\n")))
    }
}

/// Whether the scanner's port opens (a scanner says nothing until it reads a code).
async fn scanner(address: &str) -> Check {
    let endpoint = match Endpoint::parse(address) {
        Ok(e) => e,
        Err(e) => return Check::fail("scanner", e.code(), &e),
    };
    let mut scanner = SerialScanner::new(ScannerPortConfig::new(endpoint));
    let deadline = tokio::time::Instant::now() + DEVICE_WAIT;
    loop {
        match tokio::time::timeout_at(deadline, scanner.next_event()).await {
            Err(_) => return Check::fail("scanner", "SCANNER_NO_PORT", "the port did not open"),
            Ok(ScannerEvent::Connected) => return Check::pass("scanner", "port open"),
            Ok(ScannerEvent::Unavailable(e) | ScannerEvent::Disconnected(e)) => {
                return Check::fail("scanner", e.code(), &e);
            }
            Ok(_) => {}
        }
    }
}

/// Whether the card terminal answers its status request.
async fn terminal(address: &str, id: Option<&str>) -> Check {
    let endpoint = match Endpoint::parse(address) {
        Ok(e) => e,
        Err(e) => return Check::fail("terminal", e.code(), &e),
    };
    let terminal_id = id
        .and_then(|id| TerminalId::parse(id).ok())
        .unwrap_or(TerminalId::WILDCARD);
    let Ok(register) = CashRegisterId::parse("1") else {
        return Check::fail("terminal", "TERMINAL_CONFIG", "cash register id");
    };
    let mut config = Ecr17Config::new(endpoint, SessionConfig::new(terminal_id, register));
    config.connect_wait = DEVICE_WAIT;
    match Ecr17Terminal::new(config).status().await {
        Ok(info) if info.ready => {
            Check::pass("terminal", format!("terminal {} ready", info.terminal_id))
        }
        Ok(info) => Check::fail(
            "terminal",
            "TERMINAL_NOT_READY",
            format!("terminal {} answers but is not ready", info.terminal_id),
        ),
        Err(e) => Check::fail("terminal", e.code(), &e),
    }
}

/// Runs the checks on the chosen devices (a simulated one passes as such).
pub async fn run(devices: &Chosen, printer: Option<&Printer>) -> Vec<Check> {
    let mut checks = Vec::new();
    match (printer, devices.printer.as_deref()) {
        (Some(p), Some("sim")) => {
            let mut c = p.check().await;
            c.text = format!("simulated, {}", c.text);
            checks.push(c);
        }
        (Some(p), Some(_)) => checks.push(p.check().await),
        (None, Some(address)) => checks.push(Check::fail(
            "printer",
            "PRINTER_ADDRESS",
            format!("{address} is not a device address"),
        )),
        (_, None) => {}
    }
    match devices.scanner.as_deref() {
        Some("sim") => checks.push(Check::pass("scanner", "simulated")),
        Some(address) => checks.push(scanner(address).await),
        None => {}
    }
    match devices.terminal.as_deref() {
        Some("sim") => checks.push(Check::pass("terminal", "simulated")),
        Some(address) => checks.push(terminal(address, devices.terminal_id.as_deref()).await),
        None => {}
    }
    checks
}

/// What the summary receipt says.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The device id.
    pub device_id: u64,
    /// Its name.
    pub name: String,
    /// `chiosco` or `sportello`.
    pub kind: &'static str,
    /// The comune's name.
    pub comune_name: String,
    /// Its fiscal code.
    pub comune: String,
    /// Where the station stands.
    pub location: String,
    /// The adapter's URL.
    pub adapter: String,
    /// The pinned certificate's fingerprint (`None` on plain HTTP).
    pub fingerprint: Option<String>,
    /// The self-test.
    pub checks: Vec<Check>,
    /// When (Italian local time).
    pub at: String,
}

/// The summary receipt, in Italian: it stays with the station for the comune's staff.
pub fn receipt(s: &Summary) -> Receipt {
    let mut r = Receipt::new()
        .header("POSTAZIONE ATTIVATA")
        .key_value("Postazione", format!("n. {}", s.device_id))
        .text(s.name.clone())
        .key_value("Tipo", s.kind)
        .key_value("Comune", s.comune_name.clone())
        .key_value("C.F.", s.comune.clone())
        .text(format!("Sede: {}", s.location))
        .separator()
        .text(format!("Adapter: {}", s.adapter));
    match &s.fingerprint {
        Some(f) => {
            r = r.text("Impronta certificato (SHA-256):");
            // 8 pairs a line: fits 58 mm paper.
            for line in f.split(':').collect::<Vec<_>>().chunks(8) {
                r = r.text(line.join(":"));
            }
        }
        None => r = r.text("Connessione non cifrata (solo prova)"),
    }
    r = r.separator().text("Autodiagnosi:");
    for c in &s.checks {
        let device = match c.what {
            "printer" => "Stampante",
            "scanner" => "Lettore codici",
            "terminal" => "Terminale POS",
            other => other,
        };
        r = r.key_value(device, if c.ok { "OK" } else { "ERRORE" });
    }
    r.key_value("Data", s.at.clone())
        .blank()
        .cut(CutKind::Partial)
}
