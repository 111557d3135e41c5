//! An independent check of a printed receipt: the driver prints to the simulator, the captured
//! ESC/POS bytes are decoded back to text, drawn to a PNG, and the QR code is read back from the
//! image with `rqrr`, a decoder that shares no code with the `qrcode` encoder used to draw it nor
//! with the driver's ESC/POS encoder.

use drivers::devices::printer::{EscPosPrinter, PrinterConfig, ReceiptPrinter};
use drivers::escpos::{CutKind, Receipt};
use drivers::sim::printer::{PrinterSim, PrinterSimConfig};
use drivers::transport::Endpoint;

const PAYLOAD: &str = "PAGOPA|002|301000000000012373|02438750586|1234";

fn receipt() -> Receipt {
    Receipt::new()
        .header("Città di Roma")
        .text("Perché pagare è facile: più comodità")
        .key_value("Avviso", "3010 0000 0000 0123 73")
        .total("TOTALE", "€ 12,34")
        .qr(PAYLOAD)
        .cut(CutKind::Partial)
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

#[tokio::test]
async fn the_printed_receipt_reads_back_as_text_and_as_a_scannable_qr_code() {
    let sim = PrinterSim::tcp(
        "127.0.0.1:0".parse().expect("addr"),
        PrinterSimConfig::default(),
    )
    .await
    .expect("listens");
    let mut printer = EscPosPrinter::new(PrinterConfig::new(
        Endpoint::parse(&sim.endpoint()).expect("valid"),
    ));
    printer.print(&receipt()).await.expect("printed");

    let printout = sim.printout().expect("the captured bytes decode");
    let lines = printout.text_lines();
    assert!(lines.contains(&"Città di Roma"), "{lines:?}");
    assert!(
        lines.contains(&"Perché pagare è facile: più comodità"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("TOTALE") && l.ends_with("€ 12,34")),
        "{lines:?}"
    );
    assert_eq!(printout.cuts(), [CutKind::Partial]);
    assert!(
        printout.unprinted.is_empty(),
        "nothing left in the line buffer"
    );

    let png = sim.png().expect("rendered");
    assert_eq!(qr_codes_in(&png), [PAYLOAD]);
    if let Ok(dir) = std::env::var("RECEIPT_PNG_DIR") {
        std::fs::write(format!("{dir}/receipt.png"), &png).expect("saved for a look");
    }
}

#[tokio::test]
async fn a_58mm_receipt_also_reads_back() {
    let sim = PrinterSim::tcp(
        "127.0.0.1:0".parse().expect("addr"),
        PrinterSimConfig {
            paper_width: drivers::escpos::PaperWidth::Mm58,
            ..PrinterSimConfig::default()
        },
    )
    .await
    .expect("listens");
    let mut config = PrinterConfig::new(Endpoint::parse(&sim.endpoint()).expect("valid"));
    config.profile.paper = drivers::escpos::PaperWidth::Mm58;
    let mut printer = EscPosPrinter::new(config);
    printer.print(&receipt()).await.expect("printed");
    let png = sim.png().expect("rendered");
    let img = image::load_from_memory(&png).expect("png").to_luma8();
    assert_eq!(img.width(), 384);
    assert_eq!(qr_codes_in(&png), [PAYLOAD]);
}
