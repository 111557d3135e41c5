//! The technicians' device commands, run as the real binary against simulators started by the
//! test as separate `provision sim …` processes: `test print|scan|terminal|drawer` and `detect`.

mod common;

use common::TempDir;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TEST_QR: &str = "PAGOPA|002|301000000000012373|02438750586|123456";

fn provision(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .output()
        .expect("run provision")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// A simulator process, killed when the test ends.
struct Sim {
    child: Child,
    _lines: BufReader<ChildStdout>,
    address: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `provision sim …` and reads the address from its first line ("… on ADDRESS").
fn sim(args: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provision"))
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the simulator");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    lines.read_line(&mut first).expect("first line");
    let address = first
        .trim()
        .rsplit(" on ")
        .next()
        .expect("an address")
        .to_owned();
    assert!(!address.is_empty(), "no address in {first:?}");
    Sim {
        child,
        _lines: lines,
        address,
    }
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the writer finish the file.
    std::thread::sleep(Duration::from_millis(300));
}

fn qr_codes_in(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        img.get_pixel(x as u32, y as u32).0[0]
    });
    prepared
        .detect_grids()
        .iter()
        .map(|grid| grid.decode().expect("QR decodes").1)
        .collect()
}

#[test]
fn test_print_passes_and_the_receipt_reads_back() {
    let out_dir = TempDir::new("cli-print");
    let printer = sim(&[
        "printer",
        "--listen",
        "127.0.0.1:0",
        "--out",
        out_dir.to_str().expect("utf-8 path"),
    ]);
    let out = provision(&["test", "print", "--port", &printer.address]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("status   PASS  online, paper ok"), "{text}");
    assert!(text.contains("print    PASS"), "{text}");
    wait_for(&out_dir.join("receipt.png"));
    let receipt = std::fs::read_to_string(out_dir.join("receipt.txt")).expect("text");
    assert!(
        receipt.contains("Città, perché, più: àèéìòù ÀÈ"),
        "{receipt}"
    );
    assert!(receipt.contains("€ 1.234,56"), "{receipt}");
    let png = std::fs::read(out_dir.join("receipt.png")).expect("png");
    assert_eq!(qr_codes_in(&png), [TEST_QR]);
    let capture = std::fs::read(out_dir.join("capture.bin")).expect("capture");
    assert!(
        capture.windows(3).any(|w| w == [0x1D, 0x56, 0x42]),
        "a cut was sent"
    );
}

#[test]
fn test_print_fails_clearly_without_paper() {
    let printer = sim(&["printer", "--listen", "127.0.0.1:0", "--state", "paper-out"]);
    let out = provision(&["test", "print", "--port", &printer.address]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("paper OUT"), "{text}");
    assert!(
        text.contains("print    FAIL  PRINTER_PAPER_END: printer out of paper (nothing printed)"),
        "{text}"
    );
    assert!(text.contains("hint: load a paper roll"), "{text}");
}

#[test]
fn test_print_on_a_missing_printer_says_unavailable() {
    // Nothing listens on port 1.
    let out = provision(&["test", "print", "--port", "tcp://127.0.0.1:1"]);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(text.contains("FAIL  PRINTER_UNAVAILABLE"), "{text}");
    assert!(
        text.contains("hint: check the device's IP address"),
        "{text}"
    );
}

#[test]
fn test_print_over_a_pseudo_terminal() {
    let dir = TempDir::new("cli-print-pty");
    let link = dir.join("printer");
    let printer = sim(&[
        "printer",
        "--pty",
        "--link",
        link.to_str().expect("utf-8 path"),
        "--baud",
        "115200",
    ]);
    assert_eq!(printer.address, link.display().to_string());
    let out = provision(&[
        "test",
        "print",
        "--port",
        &printer.address,
        "--baud",
        "115200",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn test_drawer_kicks_and_reads_the_sensor() {
    let printer = sim(&[
        "printer",
        "--listen",
        "127.0.0.1:0",
        "--state",
        "drawer-open",
    ]);
    let out = provision(&["test", "drawer", "--port", &printer.address, "--sensor"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("kick     PASS"), "{text}");
    assert!(
        text.contains("sensor   PASS  the drawer reports open"),
        "{text}"
    );
    // With the other polarity the same switch reads closed: a clear failure with a hint.
    let out = provision(&[
        "test",
        "drawer",
        "--port",
        &printer.address,
        "--sensor",
        "--polarity",
        "low",
    ]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAIL  DRAWER_NOT_OPEN"), "{text}");
}

#[test]
fn test_terminal_status_and_a_payment_recovered_after_a_drop() {
    let terminal = sim(&[
        "terminal",
        "--listen",
        "127.0.0.1:0",
        "--script",
        "drop-after-approve",
    ]);
    let out = provision(&["test", "terminal", "--port", &terminal.address]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("status   PASS  terminal 12345678 ready"),
        "{text}"
    );

    let out = provision(&[
        "test",
        "terminal",
        "--port",
        &terminal.address,
        "--pay",
        "1234",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("display  INSERIRE CARTA"), "{text}");
    assert!(text.contains("outcome unknown (ConnectionLost)"), "{text}");
    assert!(
        text.contains("recovery PASS  the payment WAS approved (STAN 000042)"),
        "{text}"
    );

    let out = provision(&[
        "test",
        "terminal",
        "--port",
        &terminal.address,
        "--pay",
        "100",
    ]);
    let text = stdout(&out);
    assert!(text.contains("payment  PASS  approved"), "{text}");
}

#[test]
fn test_terminal_with_the_wrong_lrc_mode_fails_with_a_hint() {
    let terminal = sim(&["terminal", "--listen", "127.0.0.1:0", "--lrc", "std"]);
    let out = provision(&["test", "terminal", "--port", &terminal.address]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    // The terminal NAKs every frame whose LRC it computes differently.
    assert!(
        text.contains("status   FAIL  TERMINAL_NOT_ACCEPTED"),
        "{text}"
    );
    assert!(text.contains("check the LRC mode (--lrc)"), "{text}");
    let out = provision(&[
        "test",
        "terminal",
        "--port",
        &terminal.address,
        "--lrc",
        "std",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn test_scan_reads_and_decodes_a_notice() {
    let dir = TempDir::new("cli-scan");
    let link = dir.join("scanner");
    let _scanner = sim(&[
        "scanner",
        "--link",
        link.to_str().expect("utf-8 path"),
        "--delay",
        "300ms",
        "--every",
        "300ms",
        "--count",
        "0",
        "PAGOPA|002|301000000000012373|02438750586|1234",
    ]);
    let out = provision(&[
        "test",
        "scan",
        "--port",
        link.to_str().expect("utf-8 path"),
        "--timeout",
        "5s",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("open     PASS"), "{text}");
    assert!(
        text.contains(
            "scan     PASS  \"PAGOPA|002|301000000000012373|02438750586|1234\" (]Q1 QR Code"
        ),
        "{text}"
    );
    assert!(text.contains("notice   3010 0000 0000 0123 73"), "{text}");
    assert!(text.contains("12,34"), "{text}");
}

#[test]
fn test_scan_times_out_clearly() {
    let dir = TempDir::new("cli-scan-silent");
    let link = dir.join("scanner");
    // A scanner that waits a minute before its first label.
    let _scanner = sim(&[
        "scanner",
        "--link",
        link.to_str().expect("utf-8 path"),
        "--delay",
        "60s",
        "x",
    ]);
    let out = provision(&[
        "test",
        "scan",
        "--port",
        link.to_str().expect("utf-8 path"),
        "--timeout",
        "500ms",
    ]);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(text.contains("FAIL  SCAN_TIMEOUT"), "{text}");
}

#[test]
fn detect_lists_usb_ports_from_sysfs_and_probes_addresses() {
    let root = TempDir::new("cli-detect");
    let sys = root.join("sys");
    let dev = root.join("dev");
    let usb = sys.join("devices/usb1/1-1");
    std::fs::create_dir_all(usb.join("1-1:1.0")).expect("mkdir");
    for (file, value) in [
        ("idVendor", "0c2e"),
        ("idProduct", "0b61"),
        ("manufacturer", "Honeywell"),
        ("product", "1900"),
        ("serial", "ABC123"),
    ] {
        std::fs::write(usb.join(file), format!("{value}\n")).expect("write");
    }
    std::fs::create_dir_all(sys.join("class/tty/ttyACM0")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../../../devices/usb1/1-1/1-1:1.0",
        sys.join("class/tty/ttyACM0/device"),
    )
    .expect("symlink");
    std::fs::create_dir_all(dev.join("serial/by-id")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../../ttyACM0",
        dev.join("serial/by-id/usb-Honeywell_1900_ABC123-if00"),
    )
    .expect("symlink");

    let printer = sim(&["printer", "--listen", "127.0.0.1:0", "--state", "near-end"]);
    let terminal = sim(&["terminal", "--listen", "127.0.0.1:0"]);
    let out = provision(&[
        "detect",
        "--json",
        "--no-probe",
        "--sysfs",
        sys.to_str().expect("utf-8"),
        "--dev",
        dev.to_str().expect("utf-8"),
        "--probe",
        &printer.address,
        "--probe",
        &terminal.address,
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let port = &v["ports"][0];
    assert_eq!(port["device"], dev.join("ttyACM0").display().to_string());
    assert_eq!(port["kind"], "usb-cdc-acm");
    assert_eq!(port["vendor_id"], "0c2e");
    assert_eq!(port["product_id"], "0b61");
    assert_eq!(port["serial"], "ABC123");
    assert_eq!(
        port["by_id"][0],
        dev.join("serial/by-id/usb-Honeywell_1900_ABC123-if00")
            .display()
            .to_string()
    );
    assert!(port["probe"].is_null(), "--no-probe sends nothing");
    assert_eq!(v["probed"][0]["probe"]["kind"], "printer");
    assert_eq!(v["probed"][0]["probe"]["status"], "online, paper near end");
    assert_eq!(v["probed"][1]["probe"]["kind"], "card_terminal");
    assert_eq!(v["probed"][1]["probe"]["terminal_id"], "12345678");

    // The text form, probing the fake port itself: nothing is there to open.
    let out = provision(&[
        "detect",
        "--sysfs",
        sys.to_str().expect("utf-8"),
        "--dev",
        dev.to_str().expect("utf-8"),
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("usb-cdc-acm 0c2e:0b61 Honeywell 1900 (serial ABC123)"),
        "{text}"
    );
    assert!(text.contains("by-id:   "), "{text}");
    assert!(
        text.contains("probe:   cannot open (TRANSPORT_NOT_FOUND)"),
        "{text}"
    );
}
