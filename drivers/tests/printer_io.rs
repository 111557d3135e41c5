//! The printer driver against the printer simulator, over real TCP sockets and pseudo-terminals:
//! every fault must end in a typed error, and no job is ever reported printed unless the printer
//! confirmed it.

mod common;

use common::pty_link;

use std::time::Duration;

use drivers::devices::drawer::{CashDrawer, DrawerConfig, DrawerState};
use drivers::devices::printer::{
    EscPosPrinter, JobStage, PrintError, PrinterConfig, PrinterEvent, ReceiptPrinter, StatusFailure,
};
use drivers::escpos::{CutKind, PaperState, Receipt};
use drivers::escpos_view::Element;
use drivers::sim::printer::{Paper, PrinterSim, PrinterSimConfig, PrinterState};
use drivers::transport::{Endpoint, ReconnectPolicy};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn receipt() -> Receipt {
    Receipt::new()
        .header("COMUNE DI ROMA")
        .text("Ricevuta di pagamento")
        .key_value("Importo", "€ 12,34")
        .qr("PAGOPA|002|301000000000012373|02438750586|1234")
        .cut(CutKind::Partial)
}

fn config(endpoint: &str) -> PrinterConfig {
    let mut config = PrinterConfig::new(Endpoint::parse(endpoint).expect("valid endpoint"));
    config.status_timeout = Duration::from_millis(500);
    config.connect_wait = Duration::from_millis(300);
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        open_timeout: Duration::from_secs(1),
    };
    config
}

async fn tcp_sim(config: PrinterSimConfig) -> PrinterSim {
    PrinterSim::tcp("127.0.0.1:0".parse().expect("addr"), config)
        .await
        .expect("simulator listens")
}

fn with_state(state: PrinterState) -> PrinterSimConfig {
    PrinterSimConfig {
        state,
        ..PrinterSimConfig::default()
    }
}

/// The job bytes the simulator received, status requests removed.
fn job_bytes(sim: &PrinterSim) -> usize {
    sim.printout()
        .expect("stream decodes")
        .elements
        .iter()
        .filter(|e| !matches!(e, Element::StatusRequest(_)))
        .count()
}

fn drain(events: &mut tokio::sync::broadcast::Receiver<PrinterEvent>) -> Vec<PrinterEvent> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test]
async fn a_receipt_is_printed_and_confirmed_over_tcp() {
    let sim = tcp_sim(PrinterSimConfig::default()).await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let mut events = printer.subscribe();
    let printed = timeout(LIMIT, printer.print(&receipt()))
        .await
        .expect("in time")
        .expect("printed");
    assert_eq!(printed.status.paper, PaperState::Ok);
    // Status before and after: eight DLE EOT requests.
    assert_eq!(sim.status_requests(), 8);
    let printout = sim.printout().expect("decodes");
    assert!(
        printout
            .text_lines()
            .iter()
            .any(|l| l.starts_with("Importo") && l.ends_with("€ 12,34") && l.chars().count() == 48)
    );
    assert_eq!(
        printout.qr_payloads(),
        [b"PAGOPA|002|301000000000012373|02438750586|1234".as_slice()]
    );
    assert_eq!(printout.cuts(), [CutKind::Partial]);
    let events = drain(&mut events);
    assert!(matches!(
        events.first(),
        Some(PrinterEvent::Connected { .. })
    ));
    assert!(
        matches!(events.last(), Some(PrinterEvent::JobPrinted { bytes }) if *bytes == printed.bytes)
    );
}

#[tokio::test]
async fn paper_out_before_printing_refuses_the_job_and_sends_nothing() {
    let sim = tcp_sim(with_state(PrinterState {
        paper: Paper::Out,
        ..PrinterState::default()
    }))
    .await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let err = printer.print(&receipt()).await.expect_err("no paper");
    assert_eq!(err.code(), "PRINTER_PAPER_END");
    assert_eq!(err.stage(), JobStage::NotSent);
    assert_eq!(job_bytes(&sim), 0, "nothing but status requests was sent");
    // The status itself is readable and says why.
    let status = printer.status().await.expect("status");
    assert_eq!(status.paper, PaperState::End);
    assert!(status.offline);
}

#[tokio::test]
async fn paper_running_out_during_the_job_is_a_failure_never_a_success() {
    let sim = tcp_sim(PrinterSimConfig {
        paper_out_after: Some(60),
        ..PrinterSimConfig::default()
    })
    .await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let mut events = printer.subscribe();
    let err = printer.print(&receipt()).await.expect_err("paper ran out");
    assert!(
        matches!(
            err,
            PrintError::PaperEnd {
                stage: JobStage::Sent
            }
        ),
        "{err:?}"
    );
    let events = drain(&mut events);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, PrinterEvent::JobPrinted { .. }))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        PrinterEvent::JobFailed {
            code: "PRINTER_PAPER_END",
            stage: JobStage::Sent
        }
    )));
    // The next job is refused before anything is sent.
    let before = sim.received().len();
    let err = printer.print(&receipt()).await.expect_err("still no paper");
    assert_eq!(err.stage(), JobStage::NotSent);
    assert_eq!(
        sim.received().len(),
        before + 12,
        "only the four status requests"
    );
    // Paper loaded: printing works again.
    sim.set_state(PrinterState::default());
    printer
        .print(&receipt())
        .await
        .expect("printed after reload");
}

#[tokio::test]
async fn cover_open_offline_and_cutter_jam_are_typed_errors() {
    let cases = [
        (
            PrinterState {
                cover_open: true,
                ..PrinterState::default()
            },
            "PRINTER_COVER_OPEN",
        ),
        (
            PrinterState {
                offline: true,
                ..PrinterState::default()
            },
            "PRINTER_OFFLINE",
        ),
        (
            PrinterState {
                cutter_error: true,
                ..PrinterState::default()
            },
            "PRINTER_FAULT",
        ),
    ];
    for (state, code) in cases {
        let sim = tcp_sim(with_state(state)).await;
        let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
        let err = printer.print(&receipt()).await.expect_err(code);
        assert_eq!((err.code(), err.stage()), (code, JobStage::NotSent));
        assert_eq!(job_bytes(&sim), 0);
        sim.unplug();
    }
}

#[tokio::test]
async fn cover_opened_during_the_job_fails_it() {
    let sim = tcp_sim(PrinterSimConfig::default()).await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    printer.print(&receipt()).await.expect("first job");
    // The cover is opened once 20 bytes of the next job have arrived.
    sim.set_state_after(
        20,
        PrinterState {
            cover_open: true,
            ..PrinterState::default()
        },
    );
    match printer.print(&receipt()).await {
        Err(e) => assert_eq!(
            (e.code(), e.stage()),
            ("PRINTER_COVER_OPEN", JobStage::Sent)
        ),
        Ok(p) => panic!("reported printed with the cover open: {p:?}"),
    }
}

#[tokio::test]
async fn paper_near_end_prints_with_a_warning_status() {
    let sim = tcp_sim(with_state(PrinterState {
        paper: Paper::NearEnd,
        ..PrinterState::default()
    }))
    .await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let mut events = printer.subscribe();
    let printed = printer.print(&receipt()).await.expect("still prints");
    assert_eq!(printed.status.paper, PaperState::NearEnd);
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, PrinterEvent::Status(s) if s.paper == PaperState::NearEnd))
    );
}

#[tokio::test]
async fn a_printer_that_never_answers_status_is_never_reported_printed() {
    let sim = tcp_sim(PrinterSimConfig {
        mute: true,
        ..PrinterSimConfig::default()
    })
    .await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let err = printer.print(&receipt()).await.expect_err("no status");
    assert!(
        matches!(
            err,
            PrintError::NoStatus {
                stage: JobStage::NotSent,
                reason: StatusFailure::Timeout
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unplugged_mid_job_fails_then_the_next_job_reconnects() {
    let sim = tcp_sim(PrinterSimConfig {
        drop_after: Some(100),
        ..PrinterSimConfig::default()
    })
    .await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    let mut events = printer.subscribe();
    let err = printer.print(&receipt()).await.expect_err("link dropped");
    assert_eq!(
        (err.code(), err.stage()),
        ("PRINTER_INTERRUPTED", JobStage::Sent)
    );
    let printed = printer.print(&receipt()).await.expect("printer is back");
    assert!(printed.bytes > 100);
    assert_eq!(sim.connections(), 2);
    let kinds: Vec<&str> = drain(&mut events)
        .iter()
        .filter_map(|e| match e {
            PrinterEvent::Connected { .. } => Some("connected"),
            PrinterEvent::Disconnected { .. } => Some("disconnected"),
            PrinterEvent::JobPrinted { .. } => Some("printed"),
            PrinterEvent::JobFailed { .. } => Some("failed"),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "disconnected",
            "failed",
            "connected",
            "printed"
        ]
    );
}

#[tokio::test]
async fn switched_off_printer_is_unavailable_then_found_again_with_backoff() {
    let sim = tcp_sim(PrinterSimConfig::default()).await;
    let mut printer = EscPosPrinter::new(config(&sim.endpoint()));
    printer.print(&receipt()).await.expect("first job");
    sim.unplug();
    let err = printer.print(&receipt()).await.expect_err("switched off");
    assert_eq!(err.code(), "PRINTER_UNAVAILABLE");
    assert_eq!(err.stage(), JobStage::NotSent);
    // Switched back on while the next job is waiting for it.
    let plug = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        plug.plug().await.expect("listens again");
    });
    let mut patient = config(&sim.endpoint());
    patient.connect_wait = Duration::from_secs(3);
    let mut printer = EscPosPrinter::new(patient);
    let started = std::time::Instant::now();
    timeout(LIMIT, printer.print(&receipt()))
        .await
        .expect("in time")
        .expect("printed once back");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn printing_over_a_pseudo_terminal_serial_port_and_as_a_usb_printer_device() {
    let link = pty_link("printer-serial");
    let sim = PrinterSim::pty(Some(&link), PrinterSimConfig::default()).expect("pty");
    let mut printer = EscPosPrinter::new(config(&format!("{}?baud=115200", link.display())));
    printer
        .print(&receipt())
        .await
        .expect("printed over serial");
    drop(printer);
    // The same device opened the way /dev/usb/lp0 is: a plain character device.
    let mut usb = EscPosPrinter::new(config(&format!("usblp:{}", link.display())));
    printer_status_ok(&mut usb).await;
    usb.print(&receipt()).await.expect("printed over usblp");
    assert_eq!(sim.printout().expect("decodes").qr_payloads().len(), 2);
    sim.set_state(PrinterState {
        paper: Paper::Out,
        ..PrinterState::default()
    });
    let err = usb.print(&receipt()).await.expect_err("paper out");
    assert_eq!(err.code(), "PRINTER_PAPER_END");
    sim.unplug();
}

async fn printer_status_ok(printer: &mut EscPosPrinter) {
    let status = printer.status().await.expect("status");
    assert!(status.ready());
}

#[tokio::test]
async fn serial_printer_unplugged_mid_job_comes_back_under_the_same_link() {
    let link = pty_link("printer-replug");
    let sim = PrinterSim::pty(
        Some(&link),
        PrinterSimConfig {
            drop_after: Some(80),
            ..PrinterSimConfig::default()
        },
    )
    .expect("pty");
    let mut printer = EscPosPrinter::new(config(&link.display().to_string()));
    let err = printer.print(&receipt()).await.expect_err("unplugged");
    assert_eq!(err.code(), "PRINTER_INTERRUPTED");
    // Replugged: a new pseudo-terminal behind the same by-id style link.
    sim.plug().await.expect("replug");
    printer
        .print(&receipt())
        .await
        .expect("printed after replug");
    assert_eq!(
        sim.connections(),
        2,
        "served by two pseudo-terminals in turn"
    );
    sim.unplug();
}

#[tokio::test]
async fn the_drawer_kicks_through_the_printer_and_reports_its_sensor() {
    let sim = tcp_sim(PrinterSimConfig::default()).await;
    let mut with_sensor = config(&sim.endpoint());
    with_sensor.drawer = DrawerConfig {
        sensor: true,
        ..DrawerConfig::default()
    };
    let mut printer = EscPosPrinter::new(with_sensor);
    printer.open().await.expect("kicked");
    let pulses: Vec<_> = sim
        .printout()
        .expect("decodes")
        .elements
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Element::DrawerPulse {
                    pin: 2,
                    on_ms: 100,
                    off_ms: 100
                }
            )
        })
        .collect();
    assert_eq!(pulses.len(), 1);
    assert_eq!(printer.state().await.expect("state"), DrawerState::Closed);
    sim.set_state(PrinterState {
        drawer_pin3_high: true,
        ..PrinterState::default()
    });
    assert_eq!(printer.state().await.expect("state"), DrawerState::Open);
    // An offline printer would fire the pulse later, at an unexpected moment: refused.
    sim.set_state(PrinterState {
        offline: true,
        ..PrinterState::default()
    });
    let err = printer.open().await.expect_err("offline");
    assert_eq!(err.code(), "PRINTER_OFFLINE");
    let mut no_sensor = EscPosPrinter::new(config(&sim.endpoint()));
    assert_eq!(
        no_sensor.state().await.expect("state"),
        DrawerState::NotReported
    );
}
