//! `provision detect`: what is plugged in, and what answers.
//!
//! Ports come from sysfs ([`drivers::discovery`]): device node, USB vendor/product IDs and
//! strings, and the stable `/dev/serial/by-id` links to put in the kiosk's configuration. Each
//! port (and any address given with `--probe`) is then probed at each baud rate in turn:
//! - `DLE EOT 1–4`: an ESC/POS printer answers at once, and its status is shown;
//! - an ECR17 status request `s`: a card terminal answers with its ID.
//!
//! Both are harmless to the other kinds (a terminal drops bytes outside frames; a printer has no
//! line to print yet). A scanner never answers: it only talks when it reads a code, so a silent
//! port is reported as "scanner, or nothing" with the command that tells.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use drivers::devices::printer::{EscPosPrinter, PrintError, PrinterConfig, ReceiptPrinter as _};
use drivers::devices::terminal::{CardTerminal as _, Ecr17Config, Ecr17Terminal};
use drivers::discovery::{self, PortInfo, PortKind};
use drivers::ecr17::{CashRegisterId, SessionConfig, TerminalId};
use drivers::escpos::{PaperState, PrinterStatus};
use drivers::transport::{Endpoint, ReconnectPolicy};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Also list on-board UARTs (ttyS*), most of which are unconnected placeholders.
    #[arg(long)]
    all: bool,
    /// Only list the ports; send nothing to the devices.
    #[arg(long)]
    no_probe: bool,
    /// Also probe this address (tcp://host:port or a device path); may be repeated.
    #[arg(long = "probe", value_name = "ADDRESS")]
    extra: Vec<String>,
    /// Baud rates to try on serial ports, in order.
    #[arg(long, value_delimiter = ',', default_value = "9600,115200")]
    baud: Vec<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Root of sysfs (for tests).
    #[arg(long, default_value = "/sys", hide = true)]
    sysfs: PathBuf,
    /// Root of /dev (for tests).
    #[arg(long, default_value = "/dev", hide = true)]
    dev: PathBuf,
}

/// What answered on an address.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Answer {
    Printer {
        address: String,
        status: String,
    },
    CardTerminal {
        address: String,
        terminal_id: String,
    },
    Silent,
    CannotOpen {
        code: &'static str,
        message: String,
        hint: Option<&'static str>,
    },
}

#[derive(Debug, Serialize)]
struct Port {
    device: String,
    kind: &'static str,
    vendor_id: Option<String>,
    product_id: Option<String>,
    manufacturer: Option<String>,
    product: Option<String>,
    serial: Option<String>,
    driver: Option<String>,
    by_id: Vec<String>,
    by_path: Vec<String>,
    probe: Option<Answer>,
}

#[derive(Debug, Serialize)]
struct Report {
    ports: Vec<Port>,
    probed: Vec<Probed>,
}

#[derive(Debug, Serialize)]
struct Probed {
    address: String,
    probe: Answer,
}

fn kind_name(kind: PortKind) -> &'static str {
    match kind {
        PortKind::UsbAcm => "usb-cdc-acm",
        PortKind::UsbSerial => "usb-serial",
        PortKind::UsbPrinter => "usb-printer",
        PortKind::OnBoard => "on-board",
        PortKind::Other => "other",
    }
}

fn status_text(status: &PrinterStatus) -> String {
    format!(
        "{}, paper {}{}",
        if status.offline { "offline" } else { "online" },
        match status.paper {
            PaperState::Ok => "ok",
            PaperState::NearEnd => "near end",
            PaperState::End => "out",
        },
        if status.cover_open {
            ", cover open"
        } else {
            ""
        }
    )
}

const QUICK: ReconnectPolicy = ReconnectPolicy {
    initial: Duration::from_millis(100),
    max: Duration::from_millis(100),
    open_timeout: Duration::from_secs(2),
};

/// Probes one address: printer first, then card terminal.
async fn probe(endpoint: Endpoint) -> Answer {
    let address = endpoint.to_string();
    let mut config = PrinterConfig::new(endpoint.clone());
    config.status_timeout = Duration::from_millis(400);
    config.connect_wait = Duration::ZERO;
    config.reconnect = QUICK;
    let mut printer = EscPosPrinter::new(config);
    match printer.status().await {
        Ok(status) => {
            return Answer::Printer {
                address,
                status: status_text(&status),
            };
        }
        Err(PrintError::Unavailable(e)) => {
            return Answer::CannotOpen {
                code: e.code(),
                message: e.to_string(),
                hint: e.hint(),
            };
        }
        Err(_) => {}
    }
    // Release the port before the next open (serial ports are opened exclusively).
    drop(printer);
    let Ok(cash_register) = CashRegisterId::parse("1") else {
        return Answer::Silent;
    };
    let mut session = SessionConfig::new(TerminalId::WILDCARD, cash_register);
    session.ack_timeout = Duration::from_millis(500);
    session.max_retransmissions = 1;
    session.result_timeout = Duration::from_secs(2);
    let mut config = Ecr17Config::new(endpoint, session);
    config.connect_wait = Duration::ZERO;
    config.reconnect = QUICK;
    let mut terminal = Ecr17Terminal::new(config);
    match terminal.status().await {
        Ok(info) => Answer::CardTerminal {
            address,
            terminal_id: info.terminal_id,
        },
        Err(_) => Answer::Silent,
    }
}

/// Probes an address at each baud rate (serial) until something answers.
async fn probe_all(endpoint: Endpoint, bauds: &[u32]) -> Answer {
    match &endpoint {
        Endpoint::Serial { .. } => {
            let mut last = Answer::Silent;
            for &baud in bauds {
                last = probe(endpoint.clone().with_baud(baud)).await;
                if !matches!(last, Answer::Silent) {
                    break;
                }
            }
            last
        }
        _ => probe(endpoint).await,
    }
}

fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Printer { address, status } => {
            format!("ESC/POS printer answers at {address} ({status})")
        }
        Answer::CardTerminal {
            address,
            terminal_id,
        } => format!("ECR17 card terminal {terminal_id} answers at {address}"),
        Answer::Silent => {
            "no answer: a scanner (it only talks when it reads a code: try `provision test scan`), or nothing".into()
        }
        Answer::CannotOpen {
            code,
            message,
            hint,
        } => format!(
            "cannot open ({code}): {message}{}",
            hint.map(|h| format!("; {h}")).unwrap_or_default()
        ),
    }
}

/// What enrollment takes from detection: the first device of each kind found, as the address
/// to write in the kiosk's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// An ESC/POS printer that answered its status request.
    pub printer: Option<String>,
    /// An ECR17 terminal that answered, and its ID.
    pub terminal: Option<(String, String)>,
    /// A USB serial port that stayed silent: a scanner talks only when it reads a code, so
    /// this is the best guess, confirmed by the self-test that opens it.
    pub scanner: Option<String>,
    /// How many ports were looked at.
    pub ports: usize,
}

/// The address of a port as the kiosk's configuration takes it: the stable by-id link when
/// there is one.
fn address_of(info: &PortInfo) -> String {
    let path = info
        .by_id
        .first()
        .unwrap_or(&info.device)
        .display()
        .to_string();
    if info.kind == PortKind::UsbPrinter {
        format!("usblp:{path}")
    } else {
        path
    }
}

/// Probes every USB port (on-board UARTs left out) and keeps the first device of each kind.
pub async fn survey(sysfs: &Path, dev: &Path, bauds: &[u32]) -> std::io::Result<Survey> {
    let found = discovery::list_ports_under(sysfs, dev, false)?;
    let mut survey = Survey {
        ports: found.len(),
        ..Survey::default()
    };
    for info in found {
        let address = address_of(&info);
        let Ok(endpoint) = Endpoint::parse(&address) else {
            continue;
        };
        match probe_all(endpoint, bauds).await {
            Answer::Printer { address, .. } if survey.printer.is_none() => {
                survey.printer = Some(address);
            }
            Answer::CardTerminal {
                address,
                terminal_id,
            } if survey.terminal.is_none() => {
                survey.terminal = Some((address, terminal_id));
            }
            Answer::Silent
                if survey.scanner.is_none()
                    && matches!(info.kind, PortKind::UsbAcm | PortKind::UsbSerial) =>
            {
                survey.scanner = Some(address);
            }
            _ => {}
        }
    }
    Ok(survey)
}

pub async fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let found = discovery::list_ports_under(&args.sysfs, &args.dev, args.all)?;
    let mut ports = Vec::new();
    for info in found {
        let probe = if args.no_probe {
            None
        } else {
            let address = address_of(&info);
            match Endpoint::parse(&address) {
                Ok(endpoint) => Some(probe_all(endpoint, &args.baud).await),
                Err(e) => Some(Answer::CannotOpen {
                    code: e.code(),
                    message: e.to_string(),
                    hint: None,
                }),
            }
        };
        ports.push(port(&info, probe));
    }
    let mut probed = Vec::new();
    for address in &args.extra {
        let endpoint = Endpoint::parse(address)?;
        probed.push(Probed {
            address: address.clone(),
            probe: probe_all(endpoint, &args.baud).await,
        });
    }
    let report = Report { ports, probed };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn port(info: &PortInfo, probe: Option<Answer>) -> Port {
    let usb = info.usb.as_ref();
    Port {
        device: info.device.display().to_string(),
        kind: kind_name(info.kind),
        vendor_id: usb.map(|u| format!("{:04x}", u.vendor_id)),
        product_id: usb.map(|u| format!("{:04x}", u.product_id)),
        manufacturer: usb.and_then(|u| u.manufacturer.clone()),
        product: usb.and_then(|u| u.product.clone()),
        serial: usb.and_then(|u| u.serial.clone()),
        driver: info.driver.clone(),
        by_id: info.by_id.iter().map(|p| p.display().to_string()).collect(),
        by_path: info
            .by_path
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        probe,
    }
}

fn print_text(report: &Report) {
    if report.ports.is_empty() {
        println!("no serial ports or USB printers found");
    }
    for p in &report.ports {
        let ids = match (&p.vendor_id, &p.product_id) {
            (Some(v), Some(pr)) => format!(" {v}:{pr}"),
            _ => String::new(),
        };
        let names: Vec<&str> = [&p.manufacturer, &p.product]
            .into_iter()
            .filter_map(|s| s.as_deref())
            .collect();
        println!(
            "{}  {}{ids} {}{}",
            p.device,
            p.kind,
            names.join(" "),
            p.serial
                .as_ref()
                .map(|s| format!(" (serial {s})"))
                .unwrap_or_default()
        );
        for link in &p.by_id {
            println!("    by-id:   {link}");
        }
        for link in &p.by_path {
            println!("    by-path: {link}");
        }
        if let Some(driver) = &p.driver {
            println!("    driver:  {driver}");
        }
        if let Some(answer) = &p.probe {
            println!("    probe:   {}", answer_text(answer));
        }
    }
    for p in &report.probed {
        println!("{}", p.address);
        println!("    probe:   {}", answer_text(&p.probe));
    }
}
