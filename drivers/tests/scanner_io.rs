//! The scanner driver against the scanner simulator over real pseudo-terminals: suffix and idle
//! framing, AIM identifiers, baud pacing, rejected labels, and unplug/replug behind a stable
//! by-id style link.

mod common;

use common::pty_link;

use std::time::{Duration, Instant};

use drivers::devices::scanner::{Scanner, ScannerEvent, ScannerPortConfig, SerialScanner};
use drivers::scanner::{AimMode, Framing, ScanError, ScannerConfig, SymbologyFamily};
use drivers::sim::LinePacer;
use drivers::sim::scanner::{ScannerSim, ScannerSimConfig};
use drivers::transport::{Endpoint, ReconnectPolicy};
use tokio::time::timeout;

const GOLDEN: &str = "PAGOPA|002|301000000000012373|02438750586|1234";

fn driver(link: &std::path::Path, decoder: ScannerConfig) -> SerialScanner {
    let endpoint = Endpoint::parse(&link.display().to_string()).expect("valid");
    SerialScanner::new(ScannerPortConfig {
        endpoint,
        decoder,
        reconnect: ReconnectPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            open_timeout: Duration::from_secs(1),
        },
    })
}

async fn next(scanner: &mut SerialScanner) -> ScannerEvent {
    timeout(Duration::from_secs(5), scanner.next_event())
        .await
        .expect("an event in time")
}

async fn next_code(scanner: &mut SerialScanner) -> (String, Option<String>) {
    loop {
        match next(scanner).await {
            ScannerEvent::Code { text, symbology } => {
                return (text, symbology.map(|s| s.to_string()));
            }
            ScannerEvent::Connected => {}
            other => panic!("expected a code, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn labels_with_aim_prefix_and_cr_suffix_at_9600_baud() {
    let path = pty_link("scanner-aim-cr");
    let mut sim = ScannerSim::new(Some(&path), ScannerSimConfig::default()).expect("pty");
    let mut scanner = driver(&path, ScannerConfig::default());
    assert!(matches!(next(&mut scanner).await, ScannerEvent::Connected));
    let started = Instant::now();
    sim.scan(GOLDEN.as_bytes()).await.expect("written");
    let (text, symbology) = next_code(&mut scanner).await;
    assert_eq!(text, GOLDEN);
    assert_eq!(symbology.as_deref(), Some("]Q1"));
    // ]Q1 + 46 bytes + CR = 50 bytes: 52 ms on a 9600-baud line; the simulator paces it.
    let line = LinePacer::line_time(9600, 50);
    assert!(
        started.elapsed() >= line,
        "{:?} < {line:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_rescan_within_the_window_is_suppressed() {
    let path = pty_link("scanner-dup");
    let mut sim = ScannerSim::new(
        Some(&path),
        ScannerSimConfig {
            baud: None,
            ..ScannerSimConfig::default()
        },
    )
    .expect("pty");
    let mut scanner = driver(&path, ScannerConfig::default());
    assert!(matches!(next(&mut scanner).await, ScannerEvent::Connected));
    sim.scan(GOLDEN.as_bytes()).await.expect("written");
    sim.scan(GOLDEN.as_bytes()).await.expect("written");
    sim.scan(b"]d1codfase=NBPA;1").await.expect("written");
    assert_eq!(next_code(&mut scanner).await.0, GOLDEN);
    // The duplicate never surfaces: the next event is the other label.
    assert_eq!(next_code(&mut scanner).await.0, "]d1codfase=NBPA;1");
}

#[tokio::test]
async fn crlf_suffix_and_idle_gap_framing() {
    let path = pty_link("scanner-crlf");
    let mut sim = ScannerSim::new(
        Some(&path),
        ScannerSimConfig {
            aim: Some("]d1".into()),
            suffix: b"\r\n".to_vec(),
            baud: Some(115_200),
        },
    )
    .expect("pty");
    let mut scanner = driver(&path, ScannerConfig::default());
    sim.scan(b"codfase=NBPA;18012345678901234567")
        .await
        .expect("written");
    let (text, symbology) = next_code(&mut scanner).await;
    assert_eq!(text, "codfase=NBPA;18012345678901234567");
    assert_eq!(symbology.as_deref(), Some("]d1"));

    let path = pty_link("scanner-idle");
    let mut sim = ScannerSim::new(
        Some(&path),
        ScannerSimConfig {
            aim: Some("]Q1".into()),
            suffix: Vec::new(),
            baud: Some(9600),
        },
    )
    .expect("pty");
    let mut scanner = driver(
        &path,
        ScannerConfig {
            framing: Framing::Idle(Duration::from_millis(60)),
            ..ScannerConfig::default()
        },
    );
    sim.scan(GOLDEN.as_bytes()).await.expect("written");
    assert_eq!(next_code(&mut scanner).await.0, GOLDEN);
}

#[tokio::test]
async fn bad_labels_become_typed_rejections() {
    let path = pty_link("scanner-bad");
    let mut sim = ScannerSim::new(
        Some(&path),
        ScannerSimConfig {
            aim: None,
            baud: None,
            ..ScannerSimConfig::default()
        },
    )
    .expect("pty");
    let mut scanner = driver(
        &path,
        ScannerConfig {
            max_len: 64,
            ..ScannerConfig::default()
        },
    );
    assert!(matches!(next(&mut scanner).await, ScannerEvent::Connected));
    sim.scan(GOLDEN.as_bytes()).await.expect("written");
    sim.scan(b"]Q1\xff\xfe").await.expect("written");
    sim.scan(&[b'9'; 100]).await.expect("written");
    sim.scan(b"]Q1ok").await.expect("written");
    let mut rejected = Vec::new();
    loop {
        match next(&mut scanner).await {
            ScannerEvent::Rejected(e) => rejected.push(e),
            ScannerEvent::Code { text, symbology } => {
                assert_eq!(text, "ok");
                assert_eq!(symbology.map(|s| s.family()), Some(SymbologyFamily::QrCode));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let codes: Vec<&str> = rejected.iter().map(ScanError::code).collect();
    assert_eq!(
        codes,
        ["SCAN_MISSING_AIM", "SCAN_INVALID_UTF8", "SCAN_TOO_LONG"]
    );
}

#[tokio::test]
async fn unplug_and_replug_under_the_same_link() {
    let path = pty_link("scanner-replug");
    let mut sim = ScannerSim::new(
        Some(&path),
        ScannerSimConfig {
            baud: None,
            ..ScannerSimConfig::default()
        },
    )
    .expect("pty");
    let mut scanner = driver(
        &path,
        ScannerConfig {
            aim: AimMode::Required,
            ..ScannerConfig::default()
        },
    );
    assert!(matches!(next(&mut scanner).await, ScannerEvent::Connected));
    // Half a label, then the cable is pulled.
    sim.send_raw(b"]Q1PAGOPA|002|3010").await.expect("written");
    tokio::time::sleep(Duration::from_millis(30)).await;
    sim.unplug();
    match next(&mut scanner).await {
        ScannerEvent::Disconnected(e) => assert_eq!(e.code(), "TRANSPORT_CLOSED"),
        other => panic!("expected a disconnection, got {other:?}"),
    }
    // While it is away, the driver reports it unavailable once, not at every retry.
    match next(&mut scanner).await {
        ScannerEvent::Unavailable(e) => assert_eq!(e.code(), "TRANSPORT_NOT_FOUND"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    let waiting = timeout(Duration::from_millis(300), scanner.next_event()).await;
    assert!(waiting.is_err(), "no repeated reports while unplugged");
    sim.replug().expect("replugged");
    assert!(matches!(next(&mut scanner).await, ScannerEvent::Connected));
    sim.scan(b"after").await.expect("written");
    // The half label from before the unplug is not glued to the new one.
    assert_eq!(next_code(&mut scanner).await.0, "after");
}
