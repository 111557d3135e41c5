//! ESC/POS receipt encoder and real-time status parser.
//!
//! The printer receives a generic [`Receipt`] (header, text, key/value lines, totals, QR code,
//! CODE128 barcode, cut, drawer kick) and knows nothing of what it documents. [`Receipt::encode`]
//! turns it into the exact byte stream for an Epson-compatible thermal printer on 58 mm
//! (32 columns, font A) or 80 mm (48 columns) paper. [`StatusRequest`] and [`PrinterStatus`]
//! cover the `DLE EOT n` real-time status, so that "printed" is only claimed after the printer
//! says it has paper, its cover is closed and it is online.
//!
//! # Why our own encoder rather than the `escpos` crate
//!
//! - **Exact bytes.** Receipts must print `€` and Italian letters; that needs one code page
//!   selected with `ESC t` (PC858 with € at 0xD5, or WPC1252 with € at 0x80) and every text byte
//!   encoded into that page, with a chosen policy for the characters it lacks. The encoder here is
//!   a plain table per page, tested against the bytes in `escpos.md` §3.2.
//! - **QR by the book.** `GS ( k` needs model 2, module size, ECC level M and a store command
//!   whose `pL pH` count the data plus three bytes (`escpos.md` §4); the worked pagoPA example is
//!   a byte-exact test here.
//! - **Status.** `DLE EOT n` requests and the parsing of their replies (with the fixed bits
//!   checked so that line noise is not taken for "paper OK") are part of the same codec.
//! - **No I/O coupling.** The crate's printer types own a driver (file, USB, network). Here
//!   encoding is a pure function from a document to bytes; transports and the simulator sit on
//!   top, and the independent decoder in [`crate::escpos_view`] checks what would be printed.
//!
//! # Text and unmappable characters
//!
//! Text is encoded one character to one byte in the profile's [`CodePage`]. Control characters
//! (below 0x20, and 0x7F) are never passed through, so document text cannot inject printer
//! commands. Characters the page lacks follow [`Unmappable`]: by default they print as `?`
//! (the recommendation of `escpos.md` §3.2, so that a stray symbol in a name never blocks a
//! receipt); [`Unmappable::Reject`] turns them into [`EncodeError::UnmappableChar`] instead.
//! Either way each character takes exactly one column, which keeps line layout exact.

use std::time::Duration;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const DLE: u8 = 0x10;
const EOT: u8 = 0x04;
const LF: u8 = 0x0A;

/// Largest QR data for `GS ( k` function 180 on Epson printers: `pL + pH×256 ≤ 7092`, minus the
/// three bytes `cn fn m`. Some clones accept much less (escpos.md §4).
pub const QR_MAX_DATA: usize = 7092 - 3;

/// Paper width; fixes the number of font A columns at normal width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaperWidth {
    /// 58 mm roll: 32 columns.
    Mm58,
    /// 80 mm roll: 48 columns.
    #[default]
    Mm80,
}

impl PaperWidth {
    /// Font A columns at normal width.
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm58 => 32,
            PaperWidth::Mm80 => 48,
        }
    }
}

/// A character code table that has `€` and the Italian accented letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodePage {
    /// PC858 (PC850 with € at 0xD5), `ESC t 19` on Epson.
    #[default]
    Pc858,
    /// WPC1252 (Windows-1252, € at 0x80), `ESC t 16` on Epson.
    Wpc1252,
}

impl CodePage {
    /// The `n` of `ESC t n` on Epson printers (escpos.md §3.1). Clones may number tables
    /// differently: check the model's manual.
    pub fn table_number(self) -> u8 {
        match self {
            CodePage::Pc858 => 19,
            CodePage::Wpc1252 => 16,
        }
    }

    /// The byte for `c` in this code page, if it has one. Control characters have none.
    pub fn encode_char(self, c: char) -> Option<u8> {
        if (' '..='~').contains(&c) {
            return u8::try_from(c).ok();
        }
        match self {
            CodePage::Pc858 => pc858(c),
            CodePage::Wpc1252 => wpc1252(c),
        }
    }
}

/// What to do with a character the code page does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmappable {
    /// Print `?` in its place.
    #[default]
    Replace,
    /// Fail with [`EncodeError::UnmappableChar`].
    Reject,
}

/// The printer's paper and character set, and the unmappable-character policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterProfile {
    /// Paper width.
    pub paper: PaperWidth,
    /// Code table selected at the start of every receipt.
    pub code_page: CodePage,
    /// Policy for characters missing from the code table.
    pub unmappable: Unmappable,
}

/// Horizontal alignment of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Left (`ESC a 0`).
    #[default]
    Left,
    /// Centre (`ESC a 1`).
    Center,
    /// Right (`ESC a 2`).
    Right,
}

impl Align {
    fn n(self) -> u8 {
        match self {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        }
    }
}

/// Character size (`GS ! n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Size {
    /// Normal.
    #[default]
    Normal,
    /// Double height; the number of columns is unchanged.
    DoubleHeight,
    /// Double width; half the columns.
    DoubleWidth,
    /// Double width and height; half the columns.
    Double,
}

impl Size {
    fn n(self) -> u8 {
        match self {
            Size::Normal => 0x00,
            Size::DoubleHeight => 0x01,
            Size::DoubleWidth => 0x10,
            Size::Double => 0x11,
        }
    }

    fn width_factor(self) -> usize {
        match self {
            Size::Normal | Size::DoubleHeight => 1,
            Size::DoubleWidth | Size::Double => 2,
        }
    }
}

/// Emphasis and size of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Bold (`ESC E`).
    pub bold: bool,
    /// One-dot underline (`ESC -`).
    pub underline: bool,
    /// Character size (`GS !`).
    pub size: Size,
}

impl Style {
    /// Plain text.
    pub const NORMAL: Style = Style {
        bold: false,
        underline: false,
        size: Size::Normal,
    };
    /// Bold, normal size.
    pub const BOLD: Style = Style {
        bold: true,
        underline: false,
        size: Size::Normal,
    };
}

/// A QR code: model 2, ECC level M (15 %), byte mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// The payload, sent as-is (byte mode).
    pub data: Vec<u8>,
    /// Dots per module, 1–16. The default 6 prints a version-4 pagoPA code at about 25 mm on a
    /// 203 dpi printer (escpos.md §4.1).
    pub module_size: u8,
}

/// A CODE128 barcode, printed centred with the human-readable text below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code128 {
    /// Printable ASCII. All-digit data of even length is sent in code set C (two digits per
    /// byte), anything else in code set B.
    pub data: String,
    /// Bar height in dots, 1–255.
    pub height: u8,
    /// Module width in dots, 2–6.
    pub module_width: u8,
}

/// Full or partial cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CutKind {
    /// Full cut.
    Full,
    /// Partial cut (one point left uncut), the usual choice on kiosks so that the receipt does not
    /// fall.
    #[default]
    Partial,
}

/// A paper cut: `GS V` form B, which feeds the paper to the cutter by itself and then `feed`
/// more vertical motion units, so the last line never stays inside the printer whatever the
/// head-to-cutter distance of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cut {
    /// Full or partial.
    pub kind: CutKind,
    /// Extra feed in vertical motion units after reaching the cutting position.
    pub feed: u8,
}

/// Drawer kick-out connector pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawerPin {
    /// Pin 2 (`m` = 0).
    #[default]
    Pin2,
    /// Pin 5 (`m` = 1).
    Pin5,
}

/// A cash-drawer pulse (`ESC p m t1 t2`). Times are sent in 2 ms units, so each must lie in
/// 2–510 ms; odd milliseconds are rounded down. Citizen advises OFF ≥ 4 × ON for the solenoid's
/// duty cycle; Epson TM-T88III lengthens OFF to ON when shorter (escpos.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawerKick {
    /// Connector pin.
    pub pin: DrawerPin,
    /// Pulse ON time.
    pub on: Duration,
    /// Pulse OFF time.
    pub off: Duration,
}

impl Default for DrawerKick {
    /// Pin 2, 100 ms on, 100 ms off: python-escpos' `cashdraw(2)`, `1B 70 00 32 32`.
    fn default() -> Self {
        DrawerKick {
            pin: DrawerPin::Pin2,
            on: Duration::from_millis(100),
            off: Duration::from_millis(100),
        }
    }
}

/// One element of a receipt. Every block starts and ends at the start of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Block {
    /// A title: centred, bold, double width and height (so half the columns); wrapped.
    Header(String),
    /// Text, word-wrapped to the columns available at its size.
    Text {
        /// The text; one line unless it needs wrapping.
        text: String,
        /// Alignment.
        align: Align,
        /// Emphasis and size.
        style: Style,
    },
    /// A key on the left and a value on the right edge of the same line. When both do not fit
    /// with a space between them, the key is printed (wrapped) on its own and the value follows,
    /// right-aligned.
    KeyValue {
        /// Left part.
        key: String,
        /// Right part.
        value: String,
        /// Emphasis and size.
        style: Style,
    },
    /// A total: a key/value line in bold, double height.
    Total {
        /// Label, e.g. "TOTALE".
        label: String,
        /// Value, e.g. "€ 12,34".
        value: String,
    },
    /// A full-width row of `-`.
    Separator,
    /// An empty line.
    Blank,
    /// Feed `n` lines (`ESC d n`).
    Feed(u8),
    /// A centred QR code followed by a line feed.
    Qr(QrCode),
    /// A centred CODE128 barcode followed by a line feed.
    Code128(Code128),
    /// Cut the paper.
    Cut(Cut),
    /// Pulse the cash drawer.
    DrawerKick(DrawerKick),
}

/// A generic receipt document, built block by block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// The blocks, printed in order.
    pub blocks: Vec<Block>,
}

impl Receipt {
    /// An empty receipt.
    pub fn new() -> Receipt {
        Receipt::default()
    }

    /// Appends any block.
    pub fn push(mut self, block: Block) -> Receipt {
        self.blocks.push(block);
        self
    }

    /// Appends a [`Block::Header`].
    pub fn header(self, text: impl Into<String>) -> Receipt {
        self.push(Block::Header(text.into()))
    }

    /// Appends left-aligned plain text.
    pub fn text(self, text: impl Into<String>) -> Receipt {
        self.styled(text, Align::Left, Style::NORMAL)
    }

    /// Appends text with the given alignment and style.
    pub fn styled(self, text: impl Into<String>, align: Align, style: Style) -> Receipt {
        self.push(Block::Text {
            text: text.into(),
            align,
            style,
        })
    }

    /// Appends a plain key/value line.
    pub fn key_value(self, key: impl Into<String>, value: impl Into<String>) -> Receipt {
        self.push(Block::KeyValue {
            key: key.into(),
            value: value.into(),
            style: Style::NORMAL,
        })
    }

    /// Appends a [`Block::Total`].
    pub fn total(self, label: impl Into<String>, value: impl Into<String>) -> Receipt {
        self.push(Block::Total {
            label: label.into(),
            value: value.into(),
        })
    }

    /// Appends a separator row.
    pub fn separator(self) -> Receipt {
        self.push(Block::Separator)
    }

    /// Appends an empty line.
    pub fn blank(self) -> Receipt {
        self.push(Block::Blank)
    }

    /// Appends a QR code with module size 6.
    pub fn qr(self, data: impl Into<Vec<u8>>) -> Receipt {
        self.push(Block::Qr(QrCode {
            data: data.into(),
            module_size: 6,
        }))
    }

    /// Appends a CODE128 barcode, 80 dots high, module width 2.
    pub fn code128(self, data: impl Into<String>) -> Receipt {
        self.push(Block::Code128(Code128 {
            data: data.into(),
            height: 80,
            module_width: 2,
        }))
    }

    /// Appends a cut.
    pub fn cut(self, kind: CutKind) -> Receipt {
        self.push(Block::Cut(Cut { kind, feed: 0 }))
    }

    /// Appends a drawer pulse.
    pub fn drawer_kick(self, kick: DrawerKick) -> Receipt {
        self.push(Block::DrawerKick(kick))
    }

    /// The printer byte stream: `ESC @`, `ESC t` (the profile's code page), `ESC R 0` (USA set, so
    /// that `|` and `{` stay literal), then the blocks.
    pub fn encode(&self, profile: &PrinterProfile) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer {
            out: Vec::with_capacity(256 + 64 * self.blocks.len()),
            profile,
            align: Align::Left,
            style: Style::NORMAL,
        };
        w.out
            .extend_from_slice(&[ESC, b'@', ESC, b't', profile.code_page.table_number()]);
        w.out.extend_from_slice(&[ESC, b'R', 0]);
        for block in &self.blocks {
            w.block(block)?;
        }
        Ok(w.out)
    }
}

/// Why a receipt could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A character the code page lacks, under [`Unmappable::Reject`].
    #[error("character {ch:?} is not in code page {code_page:?}")]
    UnmappableChar {
        /// The character.
        ch: char,
        /// The profile's code page.
        code_page: CodePage,
    },
    /// A QR code without data.
    #[error("QR code without data")]
    QrEmpty,
    /// QR data longer than [`QR_MAX_DATA`].
    #[error("QR data of {len} bytes exceeds {max}")]
    QrTooLong {
        /// Data length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// QR module size outside 1–16.
    #[error("QR module size {size} outside 1-16")]
    QrModuleSize {
        /// The requested size.
        size: u8,
    },
    /// A barcode without data.
    #[error("barcode without data")]
    BarcodeEmpty,
    /// A barcode character outside printable ASCII.
    #[error("character {ch:?} cannot be encoded in CODE128 code set B")]
    BarcodeChar {
        /// The character.
        ch: char,
    },
    /// More than 255 CODE128 bytes (code-set selectors and escapes included).
    #[error("CODE128 data needs {len} bytes, more than 255")]
    BarcodeTooLong {
        /// Bytes needed.
        len: usize,
    },
    /// Barcode module width outside 2–6.
    #[error("barcode module width {width} outside 2-6")]
    BarcodeModuleWidth {
        /// The requested width.
        width: u8,
    },
    /// Barcode height of zero.
    #[error("barcode height must be at least one dot")]
    BarcodeHeight,
    /// Drawer pulse time outside 2–510 ms.
    #[error("drawer pulse time {time:?} outside 2-510 ms")]
    DrawerPulse {
        /// The offending ON or OFF time.
        time: Duration,
    },
}

impl EncodeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EncodeError::UnmappableChar { .. } => "ESCPOS_UNMAPPABLE_CHAR",
            EncodeError::QrEmpty => "ESCPOS_QR_EMPTY",
            EncodeError::QrTooLong { .. } => "ESCPOS_QR_TOO_LONG",
            EncodeError::QrModuleSize { .. } => "ESCPOS_QR_MODULE_SIZE",
            EncodeError::BarcodeEmpty => "ESCPOS_BARCODE_EMPTY",
            EncodeError::BarcodeChar { .. } => "ESCPOS_BARCODE_CHAR",
            EncodeError::BarcodeTooLong { .. } => "ESCPOS_BARCODE_TOO_LONG",
            EncodeError::BarcodeModuleWidth { .. } => "ESCPOS_BARCODE_MODULE_WIDTH",
            EncodeError::BarcodeHeight => "ESCPOS_BARCODE_HEIGHT",
            EncodeError::DrawerPulse { .. } => "ESCPOS_DRAWER_PULSE",
        }
    }
}

/// Encoding state: the modes the printer is in, so that only changes are sent.
struct Writer<'a> {
    out: Vec<u8>,
    profile: &'a PrinterProfile,
    align: Align,
    style: Style,
}

impl Writer<'_> {
    fn block(&mut self, block: &Block) -> Result<(), EncodeError> {
        match block {
            Block::Header(text) => {
                let style = Style {
                    bold: true,
                    underline: false,
                    size: Size::Double,
                };
                for line in wrap(text, self.columns(style.size)) {
                    self.line(line, Align::Center, style)?;
                }
            }
            Block::Text { text, align, style } => {
                for line in wrap(text, self.columns(style.size)) {
                    self.line(line, *align, *style)?;
                }
            }
            Block::KeyValue { key, value, style } => self.key_value(key, value, *style)?,
            Block::Total { label, value } => {
                let style = Style {
                    bold: true,
                    underline: false,
                    size: Size::DoubleHeight,
                };
                self.key_value(label, value, style)?;
            }
            Block::Separator => {
                let row = "-".repeat(self.columns(Size::Normal));
                self.line(&row, Align::Left, Style::NORMAL)?;
            }
            Block::Blank => self.out.push(LF),
            Block::Feed(0) => {}
            Block::Feed(n) => self.out.extend_from_slice(&[ESC, b'd', *n]),
            Block::Qr(qr) => self.qr(qr)?,
            Block::Code128(code) => self.code128(code)?,
            Block::Cut(cut) => {
                let m = match cut.kind {
                    CutKind::Full => 65,
                    CutKind::Partial => 66,
                };
                self.out.extend_from_slice(&[GS, b'V', m, cut.feed]);
            }
            Block::DrawerKick(kick) => {
                let m = match kick.pin {
                    DrawerPin::Pin2 => 0,
                    DrawerPin::Pin5 => 1,
                };
                let (t1, t2) = (pulse_units(kick.on)?, pulse_units(kick.off)?);
                self.out.extend_from_slice(&[ESC, b'p', m, t1, t2]);
            }
        }
        Ok(())
    }

    fn columns(&self, size: Size) -> usize {
        self.profile.paper.columns() / size.width_factor()
    }

    fn set_align(&mut self, align: Align) {
        if self.align != align {
            self.align = align;
            self.out.extend_from_slice(&[ESC, b'a', align.n()]);
        }
    }

    fn set_style(&mut self, style: Style) {
        if self.style.bold != style.bold {
            self.out
                .extend_from_slice(&[ESC, b'E', u8::from(style.bold)]);
        }
        if self.style.underline != style.underline {
            self.out
                .extend_from_slice(&[ESC, b'-', u8::from(style.underline)]);
        }
        if self.style.size != style.size {
            self.out.extend_from_slice(&[GS, b'!', style.size.n()]);
        }
        self.style = style;
    }

    fn line(&mut self, text: &str, align: Align, style: Style) -> Result<(), EncodeError> {
        self.set_align(align);
        self.set_style(style);
        let code_page = self.profile.code_page;
        for ch in text.chars() {
            let b = match (code_page.encode_char(ch), self.profile.unmappable) {
                (Some(b), _) => b,
                (None, Unmappable::Replace) => b'?',
                (None, Unmappable::Reject) => {
                    return Err(EncodeError::UnmappableChar { ch, code_page });
                }
            };
            self.out.push(b);
        }
        self.out.push(LF);
        Ok(())
    }

    fn key_value(&mut self, key: &str, value: &str, style: Style) -> Result<(), EncodeError> {
        let width = self.columns(style.size);
        let (key_len, value_len) = (key.chars().count(), value.chars().count());
        if key_len + 1 + value_len <= width {
            let gap = width - key_len - value_len;
            return self.line(&format!("{key}{:gap$}{value}", ""), Align::Left, style);
        }
        for line in wrap(key, width) {
            self.line(line, Align::Left, style)?;
        }
        for line in wrap(value, width) {
            self.line(&format!("{line:>width$}"), Align::Left, style)?;
        }
        Ok(())
    }

    fn qr(&mut self, qr: &QrCode) -> Result<(), EncodeError> {
        if qr.data.is_empty() {
            return Err(EncodeError::QrEmpty);
        }
        if qr.data.len() > QR_MAX_DATA {
            return Err(EncodeError::QrTooLong {
                len: qr.data.len(),
                max: QR_MAX_DATA,
            });
        }
        if !(1..=16).contains(&qr.module_size) {
            return Err(EncodeError::QrModuleSize {
                size: qr.module_size,
            });
        }
        self.set_align(Align::Center);
        let store_len = qr.data.len() + 3;
        let [p_l, p_h] = u16::try_from(store_len)
            .map_err(|_| EncodeError::QrTooLong {
                len: qr.data.len(),
                max: QR_MAX_DATA,
            })?
            .to_le_bytes();
        self.out.extend_from_slice(&[
            GS,
            b'(',
            b'k',
            4,
            0,
            0x31,
            0x41,
            0x32,
            0x00, // function 165: model 2
            GS,
            b'(',
            b'k',
            3,
            0,
            0x31,
            0x43,
            qr.module_size, // 167: module size
            GS,
            b'(',
            b'k',
            3,
            0,
            0x31,
            0x45,
            0x31, // 169: error correction M
            GS,
            b'(',
            b'k',
            p_l,
            p_h,
            0x31,
            0x50,
            0x30, // 180: store data
        ]);
        self.out.extend_from_slice(&qr.data);
        // 181: print the stored symbol.
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30, LF]);
        Ok(())
    }

    fn code128(&mut self, code: &Code128) -> Result<(), EncodeError> {
        if code.height == 0 {
            return Err(EncodeError::BarcodeHeight);
        }
        if !(2..=6).contains(&code.module_width) {
            return Err(EncodeError::BarcodeModuleWidth {
                width: code.module_width,
            });
        }
        let data = code128_data(&code.data)?;
        let n = u8::try_from(data.len())
            .map_err(|_| EncodeError::BarcodeTooLong { len: data.len() })?;
        self.set_align(Align::Center);
        self.out.extend_from_slice(&[
            GS,
            b'H',
            2, // HRI below
            GS,
            b'f',
            0, // HRI font A
            GS,
            b'h',
            code.height,
            GS,
            b'w',
            code.module_width,
            GS,
            b'k',
            73,
            n,
        ]);
        self.out.extend_from_slice(&data);
        self.out.push(LF);
        Ok(())
    }
}

/// The data of `GS k 73 n`: a code-set selector, then the content (escpos.md §5).
fn code128_data(data: &str) -> Result<Vec<u8>, EncodeError> {
    if data.is_empty() {
        return Err(EncodeError::BarcodeEmpty);
    }
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 4);
    if bytes.len().is_multiple_of(2) && bytes.iter().all(u8::is_ascii_digit) {
        out.extend_from_slice(b"{C");
        out.extend(
            bytes
                .chunks_exact(2)
                .map(|pair| (pair[0] - b'0') * 10 + (pair[1] - b'0')),
        );
    } else {
        out.extend_from_slice(b"{B");
        for ch in data.chars() {
            let b = u8::try_from(ch)
                .ok()
                .filter(|b| (0x20..=0x7E).contains(b))
                .ok_or(EncodeError::BarcodeChar { ch })?;
            if b == b'{' {
                out.push(b'{');
            }
            out.push(b);
        }
    }
    if out.len() > 255 {
        return Err(EncodeError::BarcodeTooLong { len: out.len() });
    }
    Ok(out)
}

fn pulse_units(time: Duration) -> Result<u8, EncodeError> {
    u8::try_from(time.as_millis() / 2)
        .ok()
        .filter(|&units| units > 0)
        .ok_or(EncodeError::DrawerPulse { time })
}

/// Splits `text` into lines of at most `width` characters, breaking at a space where possible
/// (the space is dropped) and inside a word otherwise. Empty text gives one empty line.
fn wrap(text: &str, width: usize) -> Vec<&str> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some((cut, next)) = rest.char_indices().nth(width) {
        let head = &rest[..cut];
        if next == ' ' {
            lines.push(head);
            rest = &rest[cut + 1..];
        } else if let Some(space) = head.rfind(' ').filter(|&i| i > 0) {
            lines.push(&rest[..space]);
            rest = &rest[space + 1..];
        } else {
            lines.push(head);
            rest = &rest[cut..];
        }
        if rest.is_empty() {
            return lines;
        }
    }
    lines.push(rest);
    lines
}

/// PC858, upper half (0x80–0xFF), from glibc's IBM858 charmap / Python's `cp858`.
fn pc858(c: char) -> Option<u8> {
    Some(match c {
        'Ç' => 0x80,
        'ü' => 0x81,
        'é' => 0x82,
        'â' => 0x83,
        'ä' => 0x84,
        'à' => 0x85,
        'å' => 0x86,
        'ç' => 0x87,
        'ê' => 0x88,
        'ë' => 0x89,
        'è' => 0x8A,
        'ï' => 0x8B,
        'î' => 0x8C,
        'ì' => 0x8D,
        'Ä' => 0x8E,
        'Å' => 0x8F,
        'É' => 0x90,
        'æ' => 0x91,
        'Æ' => 0x92,
        'ô' => 0x93,
        'ö' => 0x94,
        'ò' => 0x95,
        'û' => 0x96,
        'ù' => 0x97,
        'ÿ' => 0x98,
        'Ö' => 0x99,
        'Ü' => 0x9A,
        'ø' => 0x9B,
        '£' => 0x9C,
        'Ø' => 0x9D,
        '×' => 0x9E,
        'ƒ' => 0x9F,
        'á' => 0xA0,
        'í' => 0xA1,
        'ó' => 0xA2,
        'ú' => 0xA3,
        'ñ' => 0xA4,
        'Ñ' => 0xA5,
        'ª' => 0xA6,
        'º' => 0xA7,
        '¿' => 0xA8,
        '®' => 0xA9,
        '¬' => 0xAA,
        '½' => 0xAB,
        '¼' => 0xAC,
        '¡' => 0xAD,
        '«' => 0xAE,
        '»' => 0xAF,
        '░' => 0xB0,
        '▒' => 0xB1,
        '▓' => 0xB2,
        '│' => 0xB3,
        '┤' => 0xB4,
        'Á' => 0xB5,
        'Â' => 0xB6,
        'À' => 0xB7,
        '©' => 0xB8,
        '╣' => 0xB9,
        '║' => 0xBA,
        '╗' => 0xBB,
        '╝' => 0xBC,
        '¢' => 0xBD,
        '¥' => 0xBE,
        '┐' => 0xBF,
        '└' => 0xC0,
        '┴' => 0xC1,
        '┬' => 0xC2,
        '├' => 0xC3,
        '─' => 0xC4,
        '┼' => 0xC5,
        'ã' => 0xC6,
        'Ã' => 0xC7,
        '╚' => 0xC8,
        '╔' => 0xC9,
        '╩' => 0xCA,
        '╦' => 0xCB,
        '╠' => 0xCC,
        '═' => 0xCD,
        '╬' => 0xCE,
        '¤' => 0xCF,
        'ð' => 0xD0,
        'Ð' => 0xD1,
        'Ê' => 0xD2,
        'Ë' => 0xD3,
        'È' => 0xD4,
        '€' => 0xD5,
        'Í' => 0xD6,
        'Î' => 0xD7,
        'Ï' => 0xD8,
        '┘' => 0xD9,
        '┌' => 0xDA,
        '█' => 0xDB,
        '▄' => 0xDC,
        '¦' => 0xDD,
        'Ì' => 0xDE,
        '▀' => 0xDF,
        'Ó' => 0xE0,
        'ß' => 0xE1,
        'Ô' => 0xE2,
        'Ò' => 0xE3,
        'õ' => 0xE4,
        'Õ' => 0xE5,
        'µ' => 0xE6,
        'þ' => 0xE7,
        'Þ' => 0xE8,
        'Ú' => 0xE9,
        'Û' => 0xEA,
        'Ù' => 0xEB,
        'ý' => 0xEC,
        'Ý' => 0xED,
        '¯' => 0xEE,
        '´' => 0xEF,
        '\u{00AD}' => 0xF0,
        '±' => 0xF1,
        '‗' => 0xF2,
        '¾' => 0xF3,
        '¶' => 0xF4,
        '§' => 0xF5,
        '÷' => 0xF6,
        '¸' => 0xF7,
        '°' => 0xF8,
        '¨' => 0xF9,
        '·' => 0xFA,
        '¹' => 0xFB,
        '³' => 0xFC,
        '²' => 0xFD,
        '■' => 0xFE,
        '\u{00A0}' => 0xFF,
        _ => return None,
    })
}

/// WPC1252 (Windows-1252), upper half; 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined.
fn wpc1252(c: char) -> Option<u8> {
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        '\u{00A0}' => 0xA0,
        '¡' => 0xA1,
        '¢' => 0xA2,
        '£' => 0xA3,
        '¤' => 0xA4,
        '¥' => 0xA5,
        '¦' => 0xA6,
        '§' => 0xA7,
        '¨' => 0xA8,
        '©' => 0xA9,
        'ª' => 0xAA,
        '«' => 0xAB,
        '¬' => 0xAC,
        '\u{00AD}' => 0xAD,
        '®' => 0xAE,
        '¯' => 0xAF,
        '°' => 0xB0,
        '±' => 0xB1,
        '²' => 0xB2,
        '³' => 0xB3,
        '´' => 0xB4,
        'µ' => 0xB5,
        '¶' => 0xB6,
        '·' => 0xB7,
        '¸' => 0xB8,
        '¹' => 0xB9,
        'º' => 0xBA,
        '»' => 0xBB,
        '¼' => 0xBC,
        '½' => 0xBD,
        '¾' => 0xBE,
        '¿' => 0xBF,
        'À' => 0xC0,
        'Á' => 0xC1,
        'Â' => 0xC2,
        'Ã' => 0xC3,
        'Ä' => 0xC4,
        'Å' => 0xC5,
        'Æ' => 0xC6,
        'Ç' => 0xC7,
        'È' => 0xC8,
        'É' => 0xC9,
        'Ê' => 0xCA,
        'Ë' => 0xCB,
        'Ì' => 0xCC,
        'Í' => 0xCD,
        'Î' => 0xCE,
        'Ï' => 0xCF,
        'Ð' => 0xD0,
        'Ñ' => 0xD1,
        'Ò' => 0xD2,
        'Ó' => 0xD3,
        'Ô' => 0xD4,
        'Õ' => 0xD5,
        'Ö' => 0xD6,
        '×' => 0xD7,
        'Ø' => 0xD8,
        'Ù' => 0xD9,
        'Ú' => 0xDA,
        'Û' => 0xDB,
        'Ü' => 0xDC,
        'Ý' => 0xDD,
        'Þ' => 0xDE,
        'ß' => 0xDF,
        'à' => 0xE0,
        'á' => 0xE1,
        'â' => 0xE2,
        'ã' => 0xE3,
        'ä' => 0xE4,
        'å' => 0xE5,
        'æ' => 0xE6,
        'ç' => 0xE7,
        'è' => 0xE8,
        'é' => 0xE9,
        'ê' => 0xEA,
        'ë' => 0xEB,
        'ì' => 0xEC,
        'í' => 0xED,
        'î' => 0xEE,
        'ï' => 0xEF,
        'ð' => 0xF0,
        'ñ' => 0xF1,
        'ò' => 0xF2,
        'ó' => 0xF3,
        'ô' => 0xF4,
        'õ' => 0xF5,
        'ö' => 0xF6,
        '÷' => 0xF7,
        'ø' => 0xF8,
        'ù' => 0xF9,
        'ú' => 0xFA,
        'û' => 0xFB,
        'ü' => 0xFC,
        'ý' => 0xFD,
        'þ' => 0xFE,
        'ÿ' => 0xFF,
        _ => return None,
    })
}

/// A real-time status request, `DLE EOT n` (escpos.md §9).
///
/// Send these between jobs or on an idle link, never inside another command: some printers
/// execute `10 04 n` even inside raster data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusRequest {
    /// n = 1: printer status (drawer pin 3, online/offline).
    Printer,
    /// n = 2: offline cause (cover, FEED button, paper-end stop, error).
    OfflineCause,
    /// n = 3: error cause (mechanical, autocutter, unrecoverable, auto-recoverable).
    ErrorCause,
    /// n = 4: roll paper sensor (near-end, end).
    PaperSensor,
}

impl StatusRequest {
    /// The four requests, in the order [`PrinterStatus::from_replies`] expects their replies.
    pub const ALL: [StatusRequest; 4] = [
        StatusRequest::Printer,
        StatusRequest::OfflineCause,
        StatusRequest::ErrorCause,
        StatusRequest::PaperSensor,
    ];

    /// The `n` of `DLE EOT n`.
    pub fn n(self) -> u8 {
        match self {
            StatusRequest::Printer => 1,
            StatusRequest::OfflineCause => 2,
            StatusRequest::ErrorCause => 3,
            StatusRequest::PaperSensor => 4,
        }
    }

    /// The request bytes.
    pub fn bytes(self) -> [u8; 3] {
        [DLE, EOT, self.n()]
    }
}

/// One decoded `DLE EOT` reply byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReply {
    /// n = 1.
    Printer {
        /// Bit 2: drawer kick-out connector pin 3 is HIGH.
        drawer_pin3_high: bool,
        /// Bit 3: offline.
        offline: bool,
    },
    /// n = 2.
    OfflineCause {
        /// Bit 2: cover open.
        cover_open: bool,
        /// Bit 3: paper being fed with the FEED button.
        feed_button: bool,
        /// Bit 5: printing stopped by paper end.
        paper_end_stop: bool,
        /// Bit 6: an error occurred.
        error: bool,
    },
    /// n = 3.
    ErrorCause {
        /// Bit 2: mechanical error (black-mark detection error on some clones).
        mechanical: bool,
        /// Bit 3: autocutter error (e.g. paper jam).
        autocutter: bool,
        /// Bit 5: unrecoverable error.
        unrecoverable: bool,
        /// Bit 6: auto-recoverable error (e.g. head overheated).
        auto_recoverable: bool,
    },
    /// n = 4.
    PaperSensor {
        /// Bits 2–3: paper near its end.
        near_end: bool,
        /// Bits 5–6: no paper.
        end: bool,
    },
}

// Bit layouts of the `DLE EOT n` replies (escpos.md §9).
const PRINTER_DRAWER_PIN3: u8 = 1 << 2;
const PRINTER_OFFLINE: u8 = 1 << 3;
const OFFLINE_COVER_OPEN: u8 = 1 << 2;
const OFFLINE_FEED_BUTTON: u8 = 1 << 3;
const OFFLINE_PAPER_END_STOP: u8 = 1 << 5;
const OFFLINE_ERROR: u8 = 1 << 6;
const ERROR_MECHANICAL: u8 = 1 << 2;
const ERROR_AUTOCUTTER: u8 = 1 << 3;
const ERROR_UNRECOVERABLE: u8 = 1 << 5;
const ERROR_AUTO_RECOVERABLE: u8 = 1 << 6;
// Either bit of a pair counts: some printers set one, some both (python-escpos' masks 0x1E and
// 0x72 set both). Reporting trouble early is the safe side.
const PAPER_NEAR_END: u8 = 0x0C;
const PAPER_END: u8 = 0x60;

/// Checks the fixed bits of a reply: bits 0 and 7 clear, bits 1 and 4 set (`0xx1xx10`).
fn checked(request: StatusRequest, byte: u8) -> Result<u8, StatusError> {
    if byte & 0x93 == 0x12 {
        Ok(byte)
    } else {
        Err(StatusError::Invalid { request, byte })
    }
}

impl StatusReply {
    /// Decodes the reply byte to `request`. A byte whose fixed bits are wrong is noise or some
    /// other reply (an ASB byte has bit 1 clear), and is refused rather than read as "all fine".
    pub fn parse(request: StatusRequest, byte: u8) -> Result<StatusReply, StatusError> {
        let b = checked(request, byte)?;
        Ok(match request {
            StatusRequest::Printer => StatusReply::Printer {
                drawer_pin3_high: b & PRINTER_DRAWER_PIN3 != 0,
                offline: b & PRINTER_OFFLINE != 0,
            },
            StatusRequest::OfflineCause => StatusReply::OfflineCause {
                cover_open: b & OFFLINE_COVER_OPEN != 0,
                feed_button: b & OFFLINE_FEED_BUTTON != 0,
                paper_end_stop: b & OFFLINE_PAPER_END_STOP != 0,
                error: b & OFFLINE_ERROR != 0,
            },
            StatusRequest::ErrorCause => StatusReply::ErrorCause {
                mechanical: b & ERROR_MECHANICAL != 0,
                autocutter: b & ERROR_AUTOCUTTER != 0,
                unrecoverable: b & ERROR_UNRECOVERABLE != 0,
                auto_recoverable: b & ERROR_AUTO_RECOVERABLE != 0,
            },
            StatusRequest::PaperSensor => StatusReply::PaperSensor {
                near_end: b & PAPER_NEAR_END != 0,
                end: b & PAPER_END != 0,
            },
        })
    }
}

/// Why a status reply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The fixed bits do not match `0xx1xx10`.
    #[error("byte {byte:#04x} is not a valid reply to DLE EOT {}", request.n())]
    Invalid {
        /// The request answered.
        request: StatusRequest,
        /// The byte received.
        byte: u8,
    },
}

impl StatusError {
    /// Stable machine-readable code: `ESCPOS_STATUS_INVALID`.
    pub fn code(&self) -> &'static str {
        match self {
            StatusError::Invalid { .. } => "ESCPOS_STATUS_INVALID",
        }
    }
}

/// Paper supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperState {
    /// Paper adequate.
    Ok,
    /// Near the end of the roll: still printing, replace soon.
    NearEnd,
    /// No paper: nothing prints.
    End,
}

/// How the drawer's open/closed switch reads on connector pin 3; it depends on the drawer, so it
/// is calibrated once per installation (escpos.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawerPolarity {
    /// Pin 3 HIGH means open.
    #[default]
    OpenWhenHigh,
    /// Pin 3 LOW means open.
    OpenWhenLow,
}

/// Error causes (`DLE EOT 2` bit 6 and `DLE EOT 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterErrors {
    /// The offline-cause reply says an error occurred.
    pub occurred: bool,
    /// Mechanical error.
    pub mechanical: bool,
    /// Autocutter error.
    pub autocutter: bool,
    /// Unrecoverable error.
    pub unrecoverable: bool,
    /// Auto-recoverable error.
    pub auto_recoverable: bool,
}

impl PrinterErrors {
    /// Whether any error is reported.
    pub fn any(&self) -> bool {
        self.occurred
            || self.mechanical
            || self.autocutter
            || self.unrecoverable
            || self.auto_recoverable
    }
}

/// The printer's state, combined from the four `DLE EOT` replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterStatus {
    /// Paper supply: end if the sensor says so or printing stopped on paper end.
    pub paper: PaperState,
    /// Cover open.
    pub cover_open: bool,
    /// Offline.
    pub offline: bool,
    /// Drawer open, read from pin 3 with the given polarity.
    pub drawer_open: bool,
    /// Error causes.
    pub errors: PrinterErrors,
}

impl PrinterStatus {
    /// Combines the replies to `DLE EOT 1`, `2`, `3` and `4`, in that order.
    pub fn from_replies(
        replies: [u8; 4],
        polarity: DrawerPolarity,
    ) -> Result<PrinterStatus, StatusError> {
        let [printer, offline, error, paper] = replies;
        let printer = checked(StatusRequest::Printer, printer)?;
        let offline = checked(StatusRequest::OfflineCause, offline)?;
        let error = checked(StatusRequest::ErrorCause, error)?;
        let paper = checked(StatusRequest::PaperSensor, paper)?;
        let drawer_pin3_high = printer & PRINTER_DRAWER_PIN3 != 0;
        let paper = if paper & PAPER_END != 0 || offline & OFFLINE_PAPER_END_STOP != 0 {
            PaperState::End
        } else if paper & PAPER_NEAR_END != 0 {
            PaperState::NearEnd
        } else {
            PaperState::Ok
        };
        Ok(PrinterStatus {
            paper,
            cover_open: offline & OFFLINE_COVER_OPEN != 0,
            offline: printer & PRINTER_OFFLINE != 0,
            drawer_open: drawer_pin3_high == (polarity == DrawerPolarity::OpenWhenHigh),
            errors: PrinterErrors {
                occurred: offline & OFFLINE_ERROR != 0,
                mechanical: error & ERROR_MECHANICAL != 0,
                autocutter: error & ERROR_AUTOCUTTER != 0,
                unrecoverable: error & ERROR_UNRECOVERABLE != 0,
                auto_recoverable: error & ERROR_AUTO_RECOVERABLE != 0,
            },
        })
    }

    /// Whether the printer can print now: online, paper present, cover closed, no error.
    pub fn ready(&self) -> bool {
        !self.offline && self.paper != PaperState::End && !self.cover_open && !self.errors.any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGOPA_QR: &str = "PAGOPA|002|301000000000012373|02438750586|1234";

    fn encode(receipt: &Receipt) -> Vec<u8> {
        receipt
            .encode(&PrinterProfile::default())
            .expect("receipt encodes")
    }

    /// The five `GS ( k` commands of escpos.md §4.1, 87 bytes.
    #[test]
    fn pagopa_qr_matches_the_worked_example() {
        let mut qr = vec![
            0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // model 2
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, // module 6
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // ECC M
            0x1D, 0x28, 0x6B, 0x31, 0x00, 0x31, 0x50, 0x30, // store, pL = 0x31
        ];
        qr.extend_from_slice(&[
            0x50, 0x41, 0x47, 0x4F, 0x50, 0x41, 0x7C, 0x30, 0x30, 0x32, 0x7C, 0x33, 0x30, 0x31,
            0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x32, 0x33, 0x37,
            0x33, 0x7C, 0x30, 0x32, 0x34, 0x33, 0x38, 0x37, 0x35, 0x30, 0x35, 0x38, 0x36, 0x7C,
            0x31, 0x32, 0x33, 0x34,
        ]);
        qr.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
        assert_eq!(qr.len(), 87);

        let mut expected = vec![
            0x1B, 0x40, 0x1B, 0x74, 0x13, 0x1B, 0x52, 0x00, 0x1B, 0x61, 0x01,
        ];
        expected.extend_from_slice(&qr);
        expected.push(0x0A);
        assert_eq!(encode(&Receipt::new().qr(PAGOPA_QR)), expected);
    }

    #[test]
    fn qr_length_uses_ph_for_long_payloads() {
        let out = encode(&Receipt::new().qr(vec![b'A'; 300]));
        let store = [0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30];
        assert!(
            out.windows(store.len()).any(|w| w == store),
            "k = 300 → pL 2F, pH 01"
        );
    }

    #[test]
    fn qr_limits_are_typed_errors() {
        let profile = PrinterProfile::default();
        let err = |r: Receipt| r.encode(&profile).expect_err("must fail");
        assert_eq!(err(Receipt::new().qr("")), EncodeError::QrEmpty);
        assert_eq!(
            err(Receipt::new().qr(vec![b'1'; QR_MAX_DATA + 1])).code(),
            "ESCPOS_QR_TOO_LONG"
        );
        assert!(
            Receipt::new()
                .qr(vec![b'1'; QR_MAX_DATA])
                .encode(&profile)
                .is_ok()
        );
        let big = Receipt::new().push(Block::Qr(QrCode {
            data: b"x".to_vec(),
            module_size: 17,
        }));
        assert_eq!(err(big), EncodeError::QrModuleSize { size: 17 });
    }

    #[test]
    fn euro_and_italian_letters_in_both_code_pages() {
        // escpos.md §3.2.
        let table = [
            ('à', 0x85, 0xE0),
            ('è', 0x8A, 0xE8),
            ('é', 0x82, 0xE9),
            ('ì', 0x8D, 0xEC),
            ('ò', 0x95, 0xF2),
            ('ù', 0x97, 0xF9),
            ('À', 0xB7, 0xC0),
            ('È', 0xD4, 0xC8),
            ('°', 0xF8, 0xB0),
            ('€', 0xD5, 0x80),
        ];
        for (c, pc858, wpc1252) in table {
            assert_eq!(CodePage::Pc858.encode_char(c), Some(pc858), "{c} in PC858");
            assert_eq!(
                CodePage::Wpc1252.encode_char(c),
                Some(wpc1252),
                "{c} in WPC1252"
            );
        }
        // The capitals the reference does not list, from the same tables.
        for (c, pc858, wpc1252) in [
            ('É', 0x90, 0xC9),
            ('Ì', 0xDE, 0xCC),
            ('Ò', 0xE3, 0xD2),
            ('Ù', 0xEB, 0xD9),
        ] {
            assert_eq!(CodePage::Pc858.encode_char(c), Some(pc858), "{c} in PC858");
            assert_eq!(
                CodePage::Wpc1252.encode_char(c),
                Some(wpc1252),
                "{c} in WPC1252"
            );
        }
    }

    #[test]
    fn euro_amount_line_bytes() {
        for (code_page, table, euro) in [
            (CodePage::Pc858, 0x13, 0xD5),
            (CodePage::Wpc1252, 0x10, 0x80),
        ] {
            let profile = PrinterProfile {
                code_page,
                ..PrinterProfile::default()
            };
            let out = Receipt::new()
                .text("€ 12,34")
                .encode(&profile)
                .expect("encodes");
            let expected = [
                0x1B, 0x40, 0x1B, 0x74, table, 0x1B, 0x52, 0x00, euro, 0x20, 0x31, 0x32, 0x2C,
                0x33, 0x34, 0x0A,
            ];
            assert_eq!(out, expected, "{code_page:?}");
        }
    }

    #[test]
    fn unmappable_characters_replace_or_reject() {
        let text = "ok ✓ 中\u{1b}@";
        let replaced = encode(&Receipt::new().text(text));
        assert!(replaced.ends_with(b"ok ? ??@\x0A"), "{replaced:02X?}");
        let strict = PrinterProfile {
            unmappable: Unmappable::Reject,
            ..PrinterProfile::default()
        };
        let err = Receipt::new()
            .text(text)
            .encode(&strict)
            .expect_err("rejects ✓");
        assert_eq!(
            err,
            EncodeError::UnmappableChar {
                ch: '✓',
                code_page: CodePage::Pc858
            }
        );
        assert_eq!(err.code(), "ESCPOS_UNMAPPABLE_CHAR");
        assert_eq!(CodePage::Pc858.encode_char('\n'), None);
        assert_eq!(CodePage::Wpc1252.encode_char('\u{7f}'), None);
    }

    #[test]
    fn key_value_fills_the_paper_width() {
        for (paper, cols) in [(PaperWidth::Mm58, 32), (PaperWidth::Mm80, 48)] {
            let profile = PrinterProfile {
                paper,
                ..PrinterProfile::default()
            };
            let out = Receipt::new()
                .key_value("Importo", "12,34")
                .encode(&profile)
                .expect("encodes");
            let line = &out[8..out.len() - 1];
            assert_eq!(line.len(), cols);
            assert!(line.starts_with(b"Importo "));
            assert!(line.ends_with(b" 12,34"));
        }
    }

    #[test]
    fn key_value_too_long_splits_key_and_right_aligned_value() {
        let profile = PrinterProfile {
            paper: PaperWidth::Mm58,
            ..PrinterProfile::default()
        };
        let key = "Ente creditore della posizione";
        let out = Receipt::new()
            .key_value(key, "Comune di Roma")
            .encode(&profile)
            .expect("encodes");
        let body = String::from_utf8(out[8..].to_vec()).expect("ASCII");
        assert_eq!(body, format!("{key}\n{:>32}\n", "Comune di Roma"));
    }

    #[test]
    fn total_and_header_styles() {
        let out = encode(&Receipt::new().header("RICEVUTA").total("TOTALE", "€ 12,34"));
        let mut expected = vec![0x1B, 0x40, 0x1B, 0x74, 0x13, 0x1B, 0x52, 0x00];
        // Header: centre, bold, double size; 24 columns on 80 mm.
        expected.extend_from_slice(&[0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01, 0x1D, 0x21, 0x11]);
        expected.extend_from_slice(b"RICEVUTA\n");
        // Total: left, still bold, double height only; 48 columns.
        expected.extend_from_slice(&[0x1B, 0x61, 0x00, 0x1D, 0x21, 0x01]);
        expected.extend_from_slice(b"TOTALE");
        expected.extend_from_slice(&[b' '; 48 - 6 - 7]);
        expected.extend_from_slice(&[0xD5, b' ', b'1', b'2', b',', b'3', b'4', b'\n']);
        assert_eq!(out, expected);
    }

    #[test]
    fn underline_and_emphasis_are_switched_off_again() {
        let underlined = Style {
            underline: true,
            ..Style::NORMAL
        };
        let out = encode(
            &Receipt::new()
                .styled("a", Align::Right, underlined)
                .text("b"),
        );
        assert_eq!(
            &out[8..],
            [
                0x1B, 0x61, 0x02, 0x1B, 0x2D, 0x01, b'a', 0x0A, 0x1B, 0x61, 0x00, 0x1B, 0x2D, 0x00,
                b'b', 0x0A
            ]
        );
    }

    #[test]
    fn code128_examples() {
        let body = |data: &str| {
            let out = encode(&Receipt::new().code128(data));
            out[8..].to_vec()
        };
        let setup = [
            0x1B, 0x61, 0x01, 0x1D, 0x48, 0x02, 0x1D, 0x66, 0x00, 0x1D, 0x68, 80, 0x1D, 0x77, 2,
        ];
        // escpos.md §5: "ABC-123" in code set B.
        let mut expected = setup.to_vec();
        expected.extend_from_slice(&[
            0x1D, 0x6B, 0x49, 0x09, 0x7B, 0x42, 0x41, 0x42, 0x43, 0x2D, 0x31, 0x32, 0x33, 0x0A,
        ]);
        assert_eq!(body("ABC-123"), expected);
        // "123456" in code set C.
        let mut expected = setup.to_vec();
        expected.extend_from_slice(&[0x1D, 0x6B, 0x49, 0x05, 0x7B, 0x43, 0x0C, 0x22, 0x38, 0x0A]);
        assert_eq!(body("123456"), expected);
        // A literal brace is doubled.
        assert_eq!(code128_data("a{b"), Ok(b"{Ba{{b".to_vec()));
        assert_eq!(code128_data("12345"), Ok(b"{B12345".to_vec()));
        assert_eq!(code128_data(""), Err(EncodeError::BarcodeEmpty));
        assert_eq!(code128_data("è"), Err(EncodeError::BarcodeChar { ch: 'è' }));
        assert_eq!(
            code128_data(&"x".repeat(254)),
            Err(EncodeError::BarcodeTooLong { len: 256 })
        );
    }

    #[test]
    fn cut_and_drawer_bytes() {
        let out = encode(
            &Receipt::new()
                .cut(CutKind::Partial)
                .cut(CutKind::Full)
                .drawer_kick(DrawerKick::default())
                .drawer_kick(DrawerKick {
                    pin: DrawerPin::Pin5,
                    on: Duration::from_millis(50),
                    off: Duration::from_millis(510),
                }),
        );
        assert_eq!(
            &out[8..],
            [
                0x1D, 0x56, 0x42, 0x00, 0x1D, 0x56, 0x41, 0x00, 0x1B, 0x70, 0x00, 0x32, 0x32, 0x1B,
                0x70, 0x01, 0x19, 0xFF
            ]
        );
        let bad = Receipt::new().drawer_kick(DrawerKick {
            off: Duration::from_millis(512),
            ..DrawerKick::default()
        });
        assert_eq!(
            bad.encode(&PrinterProfile::default()),
            Err(EncodeError::DrawerPulse {
                time: Duration::from_millis(512)
            })
        );
    }

    #[test]
    fn wrap_breaks_at_spaces_then_inside_words() {
        assert_eq!(wrap("", 5), vec![""]);
        assert_eq!(wrap("abc", 5), vec!["abc"]);
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("aaa bbbb", 7), vec!["aaa", "bbbb"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("àèìòù àèìòù", 5), vec!["àèìòù", "àèìòù"]);
        assert_eq!(wrap("abcd ", 4), vec!["abcd"]);
    }

    #[test]
    fn status_requests_and_python_escpos_masks() {
        assert_eq!(StatusRequest::Printer.bytes(), [0x10, 0x04, 0x01]);
        assert_eq!(StatusRequest::PaperSensor.bytes(), [0x10, 0x04, 0x04]);
        let ok = PrinterStatus::from_replies([0x12, 0x12, 0x12, 0x12], DrawerPolarity::default())
            .expect("valid");
        assert_eq!(
            ok,
            PrinterStatus {
                paper: PaperState::Ok,
                cover_open: false,
                offline: false,
                drawer_open: false,
                errors: PrinterErrors::default(),
            }
        );
        assert!(ok.ready());
        let low = PrinterStatus::from_replies([0x1A, 0x12, 0x12, 0x1E], DrawerPolarity::default())
            .expect("valid");
        assert!(low.offline);
        assert_eq!(low.paper, PaperState::NearEnd);
        assert!(!low.ready());
        let empty =
            PrinterStatus::from_replies([0x16, 0x76, 0x3A, 0x72], DrawerPolarity::OpenWhenLow)
                .expect("valid");
        assert_eq!(empty.paper, PaperState::End);
        assert!(empty.cover_open);
        assert!(!empty.drawer_open, "pin 3 high with open-when-low polarity");
        assert_eq!(
            empty.errors,
            PrinterErrors {
                occurred: true,
                mechanical: false,
                autocutter: true,
                unrecoverable: true,
                auto_recoverable: false,
            }
        );
        // Paper-end stop alone (n = 2 bit 5) also means no paper.
        let stop = PrinterStatus::from_replies([0x12, 0x32, 0x12, 0x12], DrawerPolarity::default())
            .expect("valid");
        assert_eq!(stop.paper, PaperState::End);
    }

    #[test]
    fn status_garbage_is_refused() {
        for byte in [0x00, 0xFF, 0x10, 0x02, 0x13, 0x92] {
            let err = StatusReply::parse(StatusRequest::Printer, byte).expect_err("garbage");
            assert_eq!(err.code(), "ESCPOS_STATUS_INVALID");
        }
        assert_eq!(
            PrinterStatus::from_replies([0x12, 0x12, 0x10, 0x12], DrawerPolarity::default()),
            Err(StatusError::Invalid {
                request: StatusRequest::ErrorCause,
                byte: 0x10
            })
        );
        assert_eq!(
            StatusReply::parse(StatusRequest::Printer, 0x16),
            Ok(StatusReply::Printer {
                drawer_pin3_high: true,
                offline: false
            })
        );
    }
}
