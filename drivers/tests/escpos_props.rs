//! Property tests of the ESC/POS encoder against the independent view decoder, and robustness
//! of the decoders on arbitrary bytes.

use drivers::escpos::{
    Align, Block, Code128, CodePage, Cut, CutKind, DrawerKick, PaperWidth, PrinterProfile, QrCode,
    Receipt, Size, StatusReply, StatusRequest, Style,
};
use drivers::escpos_view::{Element, render};
use proptest::prelude::*;

/// Text that every supported code page can print, short enough never to wrap (16 characters fit
/// even double width on 58 mm paper).
const TEXT: &str = "[ -~àèéìòùÀÈÉÌÒÙ€°]{0,16}";

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Size::Normal),
            Just(Size::DoubleHeight),
            Just(Size::DoubleWidth),
            Just(Size::Double)
        ],
    )
        .prop_map(|(bold, underline, size)| Style {
            bold,
            underline,
            size,
        })
}

fn align() -> impl Strategy<Value = Align> {
    prop_oneof![Just(Align::Left), Just(Align::Center), Just(Align::Right)]
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        TEXT.prop_map(Block::Header),
        (TEXT, align(), style()).prop_map(|(text, align, style)| Block::Text {
            text,
            align,
            style
        }),
        ("[ -~àèé€]{0,7}", "[ -~ìòù€]{0,8}", style())
            .prop_map(|(key, value, style)| Block::KeyValue { key, value, style }),
        ("[A-Z ]{0,10}", "[0-9,€ ]{0,10}").prop_map(|(label, value)| Block::Total { label, value }),
        Just(Block::Separator),
        Just(Block::Blank),
        (0u8..10).prop_map(Block::Feed),
        (prop::collection::vec(any::<u8>(), 1..120), 1u8..=16)
            .prop_map(|(data, module_size)| Block::Qr(QrCode { data, module_size })),
        "[ -~]{1,40}".prop_map(|data| Block::Code128(Code128 {
            data,
            height: 60,
            module_width: 2
        })),
        (any::<bool>(), any::<u8>()).prop_map(|(full, feed)| Block::Cut(Cut {
            kind: if full {
                CutKind::Full
            } else {
                CutKind::Partial
            },
            feed,
        })),
        Just(Block::DrawerKick(DrawerKick::default())),
    ]
}

fn columns(paper: PaperWidth, size: Size) -> usize {
    let cols = match paper {
        PaperWidth::Mm58 => 32,
        PaperWidth::Mm80 => 48,
    };
    match size {
        Size::Normal | Size::DoubleHeight => cols,
        Size::DoubleWidth | Size::Double => cols / 2,
    }
}

fn key_value(key: &str, value: &str, width: usize) -> String {
    let gap = width - key.chars().count() - value.chars().count();
    format!("{key}{}{value}", " ".repeat(gap))
}

/// What each block should print, written from the documented layout rather than the encoder.
fn expected_lines(blocks: &[Block], paper: PaperWidth) -> Vec<String> {
    let mut lines = Vec::new();
    for block in blocks {
        match block {
            Block::Header(text) | Block::Text { text, .. } => lines.push(text.clone()),
            Block::KeyValue { key, value, style } => {
                lines.push(key_value(key, value, columns(paper, style.size)));
            }
            Block::Total { label, value } => {
                lines.push(key_value(label, value, columns(paper, Size::DoubleHeight)));
            }
            Block::Separator => lines.push("-".repeat(columns(paper, Size::Normal))),
            // QR codes and barcodes are followed by a line feed.
            Block::Blank | Block::Qr(_) | Block::Code128(_) => lines.push(String::new()),
            _ => {}
        }
    }
    lines
}

proptest! {
    #[test]
    fn encoded_receipts_render_back_to_the_same_lines_and_codes(
        blocks in prop::collection::vec(block(), 0..24),
        paper in prop_oneof![Just(PaperWidth::Mm58), Just(PaperWidth::Mm80)],
        code_page in prop_oneof![Just(CodePage::Pc858), Just(CodePage::Wpc1252)],
    ) {
        let profile = PrinterProfile { paper, code_page, ..PrinterProfile::default() };
        let receipt = Receipt { blocks: blocks.clone() };
        let bytes = receipt.encode(&profile).expect("valid receipt encodes");
        let printout = render(&bytes).expect("encoder output renders");

        let expected = expected_lines(&blocks, paper);
        prop_assert_eq!(printout.text_lines(), expected.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert!(printout.unprinted.is_empty());

        let qr: Vec<&[u8]> = blocks.iter().filter_map(|b| match b {
            Block::Qr(q) => Some(q.data.as_slice()),
            _ => None,
        }).collect();
        prop_assert_eq!(printout.qr_payloads(), qr);
        for element in &printout.elements {
            if let Element::Qr(symbol) = element {
                prop_assert_eq!((symbol.model, symbol.ecc), (2, 'M'));
            }
        }

        let barcodes: Vec<Option<&str>> = blocks.iter().filter_map(|b| match b {
            Block::Code128(c) => Some(Some(c.data.as_str())),
            _ => None,
        }).collect();
        let printed: Vec<Option<&str>> = printout.elements.iter().filter_map(|e| match e {
            Element::Barcode(b) => Some(b.text.as_deref()),
            _ => None,
        }).collect();
        prop_assert_eq!(printed, barcodes);

        let cuts: Vec<CutKind> = blocks.iter().filter_map(|b| match b {
            Block::Cut(c) => Some(c.kind),
            _ => None,
        }).collect();
        prop_assert_eq!(printout.cuts(), cuts);

        // Styles: every run of a text line carries the block's emphasis and size.
        let styled: Vec<(bool, bool, u8)> = blocks.iter().filter_map(|b| match b {
            Block::Text { text, style, .. } if !text.is_empty() => Some((
                style.bold,
                style.underline,
                match style.size { Size::Normal | Size::DoubleHeight => 1, _ => 2 },
            )),
            _ => None,
        }).collect();
        let mut text_blocks = blocks.iter().filter(|b| !matches!(b, Block::Feed(_) | Block::Cut(_) | Block::DrawerKick(_)));
        let mut seen = Vec::new();
        for element in &printout.elements {
            let Element::Line(line) = element else { continue };
            let Some(block) = text_blocks.next() else { break };
            if let Block::Text { text, .. } = block && !text.is_empty() {
                let style = line.runs[0].style;
                prop_assert_eq!(line.runs.len(), 1);
                seen.push((style.bold, style.underline == 1, style.width));
            }
        }
        prop_assert_eq!(seen, styled);
    }

    #[test]
    fn view_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = render(&bytes);
    }

    #[test]
    fn view_decoder_never_panics_on_command_soup(
        parts in prop::collection::vec(
            prop_oneof![
                Just(vec![0x1B]), Just(vec![0x1D]), Just(vec![0x10, 0x04]),
                Just(vec![0x1D, 0x28, 0x6B]), Just(vec![0x1D, 0x6B]), Just(vec![0x1D, 0x76, 0x30]),
                prop::collection::vec(any::<u8>(), 0..6),
            ],
            0..40,
        ),
    ) {
        let _ = render(&parts.concat());
    }

    #[test]
    fn status_parser_accepts_exactly_the_fixed_bit_pattern(byte in any::<u8>(), n in 0usize..4) {
        let request = StatusRequest::ALL[n];
        prop_assert_eq!(StatusReply::parse(request, byte).is_ok(), byte & 0x93 == 0x12);
    }
}
