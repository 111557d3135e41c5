//! How close the printer driver gets to the serial line's rate.
//!
//! A typical receipt is printed through [`EscPosPrinter`] over a pseudo-terminal to the printer
//! simulator, at 9600 and 115200 baud, and the time of a whole job (status before, the receipt,
//! status after, until the printer's confirmation) is compared with the line-rate limit: the
//! bytes the host must send × 10 / baud.
//!
//! What is honest to measure here: a pseudo-terminal moves bytes at memory speed whatever baud
//! rate is set on it, so the *simulator* plays the UART: it consumes the byte stream at exactly
//! `baud / 10` bytes per second (and paces its status replies the same way), the pseudo-terminal's
//! buffer pushes back on the driver's writes as a real serial port's would, and the job only
//! completes when the simulator, having "received" every byte, answers the final status request.
//! The limit counts every byte on the job's critical path: the job, the 2 × 4 three-byte status
//! requests, and the last reply byte of each of the two status exchanges (the other replies
//! travel back while later requests are still arriving).
//! The ratio measured is therefore the driver's own overhead on top of an ideal link: encoding,
//! the two status round trips, scheduling and wake-ups. It does not measure a printer's print
//! speed (mechanism, paper feed), which on a real printer may be slower than its link.
//!
//! Run: `cargo bench -p drivers --features sim --bench print_rate`.

use std::time::{Duration, Instant};

use drivers::devices::printer::{EscPosPrinter, PrinterConfig, ReceiptPrinter};
use drivers::escpos::{CutKind, PrinterProfile, Receipt};
use drivers::sim::LinePacer;
use drivers::sim::printer::{PrinterSim, PrinterSimConfig};
use drivers::transport::Endpoint;

/// A pagoPA receipt of the usual length: header, a dozen lines, totals, QR code, cut.
fn typical_receipt() -> Receipt {
    Receipt::new()
        .header("COMUNE DI ROMA")
        .text("Sportello pagoPA - Municipio I")
        .text("Via del Corso 123, 00186 Roma")
        .separator()
        .key_value("Data", "25/11/2025 14:30")
        .key_value("Operatore", "SPORTELLO 3")
        .key_value("Ente creditore", "Roma Capitale")
        .key_value("Codice fiscale ente", "02438750586")
        .key_value("Codice avviso", "3010 0000 0000 0123 73")
        .text("Causale: TARI 2025 - rata unica, utenza domestica")
        .key_value("Importo avviso", "€ 12,34")
        .key_value("Commissione", "€ 1,00")
        .separator()
        .total("TOTALE", "€ 13,34")
        .key_value("Pagato con", "carta ****5454")
        .key_value("Autorizzazione", "123456")
        .key_value("ID transazione", "000042")
        .blank()
        .qr("PAGOPA|002|301000000000012373|02438750586|1234")
        .text("Conservare la ricevuta. Grazie!")
        .cut(CutKind::Partial)
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let job = match typical_receipt().encode(&PrinterProfile::default()) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("cannot encode the receipt: {e}");
            std::process::exit(1);
        }
    };
    // Four 3-byte DLE EOT requests before the job and four after; the last reply of each.
    let line_bytes = job.len() + 24 + 2;
    println!(
        "typical receipt: {} bytes of ESC/POS + 24 bytes of status requests + 2 reply bytes \
         = {line_bytes} bytes on the line",
        job.len()
    );
    println!(
        "{:>7}  {:>5}  {:>12}  {:>12}  {:>12}  {:>9}",
        "baud", "runs", "line limit", "best", "median", "overhead"
    );
    let mut worst = 0.0f64;
    for (baud, runs) in [(9600u32, 3usize), (115_200, 10)] {
        let result = runtime.block_on(measure(baud, runs));
        let times = match result {
            Ok(times) => times,
            Err(e) => {
                eprintln!("{baud} baud: {e}");
                std::process::exit(1);
            }
        };
        let limit = LinePacer::line_time(baud, line_bytes);
        let best = times.iter().min().copied().unwrap_or_default();
        let median = times[times.len() / 2];
        let overhead = (median.as_secs_f64() / limit.as_secs_f64() - 1.0) * 100.0;
        worst = worst.max(overhead);
        println!(
            "{baud:>7}  {runs:>5}  {:>9.1} ms  {:>9.1} ms  {:>9.1} ms  {overhead:>+8.2}%",
            ms(limit),
            ms(best),
            ms(median),
        );
    }
    println!(
        "goal: within 5 % of line rate: {}",
        if worst <= 5.0 { "met" } else { "NOT met" }
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(baud: u32, runs: usize) -> Result<Vec<Duration>, String> {
    let sim = PrinterSim::pty(
        None,
        PrinterSimConfig {
            baud: Some(baud),
            ..PrinterSimConfig::default()
        },
    )
    .map_err(|e| format!("pseudo-terminal: {e}"))?;
    let endpoint =
        Endpoint::parse(&format!("{}?baud={baud}", sim.endpoint())).map_err(|e| e.to_string())?;
    let mut printer = EscPosPrinter::new(PrinterConfig::new(endpoint));
    // Open the port and settle the line before timing.
    printer.status().await.map_err(|e| e.to_string())?;
    let receipt = typical_receipt();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        printer.print(&receipt).await.map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    sim.unplug();
    times.sort();
    Ok(times)
}
