//! An independent ESC/POS decoder: what would a printer make of this byte stream?
//!
//! Tests and the printer simulator need to check what was *printed*, not what was meant to be:
//! text lines (decoded from the selected code page), QR payloads, barcodes, cuts, drawer pulses.
//! [`render`] interprets a captured stream the way an Epson-compatible printer does and returns a
//! [`Printout`].
//!
//! It is deliberately written apart from the encoder in [`crate::escpos`]: it decodes text with
//! its own byte→character tables (PC437, PC850, PC858 as PC850 with € at 0xD5 per escpos.md
//! §3.2, WPC1252), so a wrong entry in the encoder's tables shows up as a wrong character rather
//! than being mirrored. Only the plain enums [`Align`] and [`CutKind`] are shared.
//!
//! Strictness: the decoder fails on what it cannot follow (an unknown command, whose length it
//! cannot know; a command cut short; parameters out of range), with the offset of the command.
//! It is lenient where a printer still prints something: a byte with no glyph in the selected
//! table decodes to U+FFFD, text left without a final LF is reported as
//! [`Printout::unprinted`] (a printer holds it in its buffer and prints nothing).
//!
//! Not modelled: `ESC R` international character sets other than USA (recorded, not applied),
//! fonts and line spacing (accepted and ignored), and the printer's own line wrapping of text
//! longer than the paper.

use crate::escpos::{Align, CutKind};

/// Everything a stream prints, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Printout {
    /// Printed elements, in paper order.
    pub elements: Vec<Element>,
    /// Text still in the line buffer at the end of the stream: not printed.
    pub unprinted: String,
    /// The last `ESC R n` value (0 = USA); other sets are not applied to the text.
    pub international_set: u8,
}

impl Printout {
    /// The text of the printed lines, in order (empty lines included).
    pub fn text_lines(&self) -> Vec<&str> {
        self.elements
            .iter()
            .filter_map(|e| match e {
                Element::Line(line) => Some(line.text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The payloads of the printed QR codes, in order.
    pub fn qr_payloads(&self) -> Vec<&[u8]> {
        self.elements
            .iter()
            .filter_map(|e| match e {
                Element::Qr(qr) => Some(qr.data.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// The cuts, in order.
    pub fn cuts(&self) -> Vec<CutKind> {
        self.elements
            .iter()
            .filter_map(|e| match e {
                Element::Cut { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }
}

/// One printed element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// A line of text, ended by LF or `ESC d`.
    Line(Line),
    /// Blank paper feed of `n` lines (`ESC d n` beyond the line it prints).
    Feed(u8),
    /// A QR code printed with `GS ( k` function 181.
    Qr(QrSymbol),
    /// A barcode (`GS k`).
    Barcode(Barcode),
    /// A raster image (`GS v 0`).
    Image {
        /// Bytes per row (width in dots ÷ 8).
        bytes_per_row: u16,
        /// Rows (height in dots).
        rows: u16,
    },
    /// A paper cut (`GS V`).
    Cut {
        /// Full or partial.
        kind: CutKind,
        /// Form B's extra feed in motion units; `None` for form A (cut where the paper is).
        feed: Option<u8>,
    },
    /// A drawer pulse (`ESC p`).
    DrawerPulse {
        /// Connector pin, 2 or 5.
        pin: u8,
        /// ON time in ms.
        on_ms: u16,
        /// OFF time in ms.
        off_ms: u16,
    },
    /// A real-time status request (`DLE EOT n`).
    StatusRequest(u8),
}

/// A printed line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The decoded text.
    pub text: String,
    /// Justification in effect when the line started.
    pub align: Align,
    /// Styled runs covering `text` (byte ranges), in order.
    pub runs: Vec<Run>,
}

impl Line {
    /// The text of each run with its style.
    pub fn styled(&self) -> impl Iterator<Item = (&str, TextStyle)> {
        self.runs
            .iter()
            .map(|run| (self.text.get(run.start..run.end).unwrap_or(""), run.style))
    }
}

/// A stretch of a line printed in one style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Start byte offset in [`Line::text`].
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
    /// The style.
    pub style: TextStyle,
}

/// Character modes in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStyle {
    /// Emphasis (`ESC E`, `ESC !` bit 3).
    pub bold: bool,
    /// Underline thickness in dots, 0–2 (`ESC -`, `ESC !` bit 7).
    pub underline: u8,
    /// Width multiplier 1–8 (`GS !`, `ESC !` bit 5).
    pub width: u8,
    /// Height multiplier 1–8 (`GS !`, `ESC !` bit 4).
    pub height: u8,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            bold: false,
            underline: 0,
            width: 1,
            height: 1,
        }
    }
}

/// A printed QR code and the settings it was printed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrSymbol {
    /// The stored data.
    pub data: Vec<u8>,
    /// Model: 1, 2, or 3 for Micro QR.
    pub model: u8,
    /// Dots per module.
    pub module_size: u8,
    /// Error correction level: `L`, `M`, `Q` or `H`.
    pub ecc: char,
}

/// A printed barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    /// The `m` of `GS k m` (73 = CODE128).
    pub kind: u8,
    /// The data bytes as sent.
    pub data: Vec<u8>,
    /// The encoded content: for CODE128 the code-set selectors and escapes resolved (FNC1 as GS,
    /// 0x1D); for other kinds the data as ASCII. `None` if it cannot be decoded.
    pub text: Option<String>,
}

/// Why a stream could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The stream ends inside a command.
    #[error("{command} at offset {offset} is cut short")]
    Truncated {
        /// Offset of the command's first byte.
        offset: usize,
        /// The command's name.
        command: &'static str,
    },
    /// A command this decoder does not know (so its length is unknown).
    #[error("unknown command {bytes:02X?} at offset {offset}")]
    UnknownCommand {
        /// Offset of the command's first byte.
        offset: usize,
        /// Its first one or two bytes.
        bytes: Vec<u8>,
    },
    /// A known command with parameters out of range.
    #[error("malformed {command} at offset {offset}")]
    Malformed {
        /// Offset of the command's first byte.
        offset: usize,
        /// The command's name.
        command: &'static str,
    },
}

impl ViewError {
    /// Stable machine-readable code: `VIEW_TRUNCATED`, `VIEW_UNKNOWN_COMMAND`, `VIEW_MALFORMED`.
    pub fn code(&self) -> &'static str {
        match self {
            ViewError::Truncated { .. } => "VIEW_TRUNCATED",
            ViewError::UnknownCommand { .. } => "VIEW_UNKNOWN_COMMAND",
            ViewError::Malformed { .. } => "VIEW_MALFORMED",
        }
    }
}

/// Interprets a captured printer stream. See the module documentation.
pub fn render(bytes: &[u8]) -> Result<Printout, ViewError> {
    let mut p = Printer::new(bytes);
    while p.pos < bytes.len() {
        p.step()?;
    }
    p.out.unprinted = std::mem::take(&mut p.line.text);
    Ok(p.out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Pc437,
    Pc850,
    Pc858,
    Wpc1252,
    Unsupported,
}

impl Table {
    fn select(n: u8) -> Table {
        match n {
            0 => Table::Pc437,
            2 => Table::Pc850,
            16 => Table::Wpc1252,
            19 => Table::Pc858,
            _ => Table::Unsupported,
        }
    }

    fn decode(self, b: u8) -> char {
        let Some(i) = usize::from(b).checked_sub(0x80) else {
            return match b {
                0x20..=0x7E => char::from(b),
                _ => '\u{FFFD}',
            };
        };
        match self {
            Table::Pc437 => PC437[i],
            Table::Pc858 if b == 0xD5 => '€',
            Table::Pc850 | Table::Pc858 => PC850[i],
            Table::Wpc1252 => WPC1252[i],
            Table::Unsupported => '\u{FFFD}',
        }
    }
}

/// QR settings as stored by the printer (power-on defaults: model 2, module 3, ECC L).
#[derive(Debug, Clone)]
struct QrState {
    model: u8,
    module_size: u8,
    ecc: char,
    data: Option<Vec<u8>>,
}

impl Default for QrState {
    fn default() -> Self {
        QrState {
            model: 2,
            module_size: 3,
            ecc: 'L',
            data: None,
        }
    }
}

struct Printer<'a> {
    bytes: &'a [u8],
    pos: usize,
    out: Printout,
    line: Line,
    align: Align,
    style: TextStyle,
    table: Table,
    qr: QrState,
}

impl<'a> Printer<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Printer {
            bytes,
            pos: 0,
            out: Printout::default(),
            line: Line::default(),
            align: Align::Left,
            style: TextStyle::default(),
            table: Table::Pc437,
            qr: QrState::default(),
        }
    }

    /// Takes `n` bytes of the command that started at `start`.
    fn take(
        &mut self,
        n: usize,
        start: usize,
        command: &'static str,
    ) -> Result<&'a [u8], ViewError> {
        let bytes = self.bytes;
        let end = self.pos.checked_add(n).filter(|&end| end <= bytes.len());
        let Some(end) = end else {
            return Err(ViewError::Truncated {
                offset: start,
                command,
            });
        };
        let taken = &bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn arg(&mut self, start: usize, command: &'static str) -> Result<u8, ViewError> {
        Ok(self.take(1, start, command)?[0])
    }

    fn step(&mut self) -> Result<(), ViewError> {
        let start = self.pos;
        let b = self.bytes[start];
        self.pos += 1;
        match b {
            0x0A => self.print_line(),
            0x0D => {}
            0x1B => self.esc(start)?,
            0x1D => self.gs(start)?,
            0x10 => self.dle(start)?,
            0x00..=0x1F => {
                return Err(ViewError::UnknownCommand {
                    offset: start,
                    bytes: vec![b],
                });
            }
            _ => self.put(self.table.decode(b)),
        }
        Ok(())
    }

    fn put(&mut self, c: char) {
        if self.line.text.is_empty() {
            self.line.align = self.align;
        }
        let start = self.line.text.len();
        self.line.text.push(c);
        let end = self.line.text.len();
        match self.line.runs.last_mut() {
            Some(run) if run.style == self.style => run.end = end,
            _ => self.line.runs.push(Run {
                start,
                end,
                style: self.style,
            }),
        }
    }

    fn print_line(&mut self) {
        let mut line = std::mem::take(&mut self.line);
        if line.text.is_empty() {
            line.align = self.align;
        }
        self.out.elements.push(Element::Line(line));
    }

    fn esc(&mut self, start: usize) -> Result<(), ViewError> {
        let f = self.arg(start, "ESC")?;
        match f {
            b'@' => {
                self.line = Line::default();
                self.align = Align::Left;
                self.style = TextStyle::default();
                self.table = Table::Pc437;
                self.out.international_set = 0;
                self.qr = QrState::default();
            }
            b'a' => {
                let align = match self.arg(start, "ESC a")? {
                    0 | 48 => Align::Left,
                    1 | 49 => Align::Center,
                    2 | 50 => Align::Right,
                    _ => return Err(malformed(start, "ESC a")),
                };
                // Justification only takes effect at the start of a line.
                if self.line.text.is_empty() {
                    self.align = align;
                }
            }
            b'E' => self.style.bold = self.arg(start, "ESC E")? & 1 != 0,
            b'-' => {
                self.style.underline = match self.arg(start, "ESC -")? {
                    0 | 48 => 0,
                    1 | 49 => 1,
                    2 | 50 => 2,
                    _ => return Err(malformed(start, "ESC -")),
                }
            }
            b'!' => {
                let n = self.arg(start, "ESC !")?;
                self.style = TextStyle {
                    bold: n & 0x08 != 0,
                    underline: if n & 0x80 != 0 { 1 } else { 0 },
                    width: if n & 0x20 != 0 { 2 } else { 1 },
                    height: if n & 0x10 != 0 { 2 } else { 1 },
                };
            }
            b't' => self.table = Table::select(self.arg(start, "ESC t")?),
            b'R' => self.out.international_set = self.arg(start, "ESC R")?,
            b'd' => {
                let n = self.arg(start, "ESC d")?;
                let mut feed = n;
                if !self.line.text.is_empty() {
                    self.print_line();
                    feed = feed.saturating_sub(1);
                }
                if feed > 0 {
                    self.out.elements.push(Element::Feed(feed));
                }
            }
            b'p' => {
                let args = self.take(3, start, "ESC p")?;
                let pin = match args[0] {
                    0 | 48 => 2,
                    1 | 49 => 5,
                    _ => return Err(malformed(start, "ESC p")),
                };
                self.out.elements.push(Element::DrawerPulse {
                    pin,
                    on_ms: u16::from(args[1]) * 2,
                    off_ms: u16::from(args[2]) * 2,
                });
            }
            // Line spacing, font, double-strike: accepted, not modelled.
            b'2' => {}
            b'3' | b'M' | b'G' => {
                self.arg(start, "ESC")?;
            }
            _ => {
                return Err(ViewError::UnknownCommand {
                    offset: start,
                    bytes: vec![0x1B, f],
                });
            }
        }
        Ok(())
    }

    fn gs(&mut self, start: usize) -> Result<(), ViewError> {
        let f = self.arg(start, "GS")?;
        match f {
            b'!' => {
                let n = self.arg(start, "GS !")?;
                self.style.width = (n >> 4 & 0x07) + 1;
                self.style.height = (n & 0x07) + 1;
            }
            b'(' => {
                let k = self.arg(start, "GS (")?;
                if k != b'k' {
                    return Err(ViewError::UnknownCommand {
                        offset: start,
                        bytes: vec![0x1D, b'(', k],
                    });
                }
                let len = self.take(2, start, "GS ( k")?;
                let len = usize::from(len[0]) + 256 * usize::from(len[1]);
                let payload = self.take(len, start, "GS ( k")?;
                self.two_d(start, payload)?;
            }
            b'k' => self.barcode(start)?,
            // Barcode height, module width, HRI position and font; ASB enable: not modelled.
            b'h' | b'w' | b'H' | b'f' | b'a' => {
                self.arg(start, "GS")?;
            }
            b'v' => {
                let header = self.take(6, start, "GS v 0")?;
                if header[0] != b'0' || !matches!(header[1], 0..=3 | 48..=51) {
                    return Err(malformed(start, "GS v 0"));
                }
                let bytes_per_row = u16::from_le_bytes([header[2], header[3]]);
                let rows = u16::from_le_bytes([header[4], header[5]]);
                self.take(
                    usize::from(bytes_per_row) * usize::from(rows),
                    start,
                    "GS v 0",
                )?;
                self.out.elements.push(Element::Image {
                    bytes_per_row,
                    rows,
                });
            }
            b'V' => {
                let (kind, feed) = match self.arg(start, "GS V")? {
                    0 | 48 => (CutKind::Full, None),
                    1 | 49 => (CutKind::Partial, None),
                    65 => (CutKind::Full, Some(self.arg(start, "GS V")?)),
                    66 => (CutKind::Partial, Some(self.arg(start, "GS V")?)),
                    _ => return Err(malformed(start, "GS V")),
                };
                self.out.elements.push(Element::Cut { kind, feed });
            }
            _ => {
                return Err(ViewError::UnknownCommand {
                    offset: start,
                    bytes: vec![0x1D, f],
                });
            }
        }
        Ok(())
    }

    /// `GS ( k` with its `cn fn parameters` payload; only QR (cn = 49) is interpreted, other
    /// symbologies are skipped since their length is known.
    fn two_d(&mut self, start: usize, payload: &[u8]) -> Result<(), ViewError> {
        const CMD: &str = "GS ( k";
        let [cn, function, params @ ..] = payload else {
            return Err(malformed(start, CMD));
        };
        if *cn != 0x31 {
            return Ok(());
        }
        match (*function, params) {
            (0x41, [n1 @ 0x31..=0x33, _]) => self.qr.model = n1 - 0x30,
            (0x43, [size]) => self.qr.module_size = *size,
            (0x45, [level]) => {
                self.qr.ecc = match level {
                    0x30 => 'L',
                    0x31 => 'M',
                    0x32 => 'Q',
                    0x33 => 'H',
                    _ => return Err(malformed(start, CMD)),
                }
            }
            (0x50, [0x30, data @ ..]) if !data.is_empty() => self.qr.data = Some(data.to_vec()),
            (0x51, [0x30]) => {
                // Printing with nothing stored prints nothing, as on the printer.
                if let Some(data) = &self.qr.data {
                    self.out.elements.push(Element::Qr(QrSymbol {
                        data: data.clone(),
                        model: self.qr.model,
                        module_size: self.qr.module_size,
                        ecc: self.qr.ecc,
                    }));
                }
            }
            (0x52, [0x30]) => {}
            _ => return Err(malformed(start, CMD)),
        }
        Ok(())
    }

    fn barcode(&mut self, start: usize) -> Result<(), ViewError> {
        const CMD: &str = "GS k";
        let kind = self.arg(start, CMD)?;
        let data = match kind {
            // Function A: data ends with NUL.
            0..=6 => {
                let rest = &self.bytes[self.pos..];
                let len = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(ViewError::Truncated {
                        offset: start,
                        command: CMD,
                    })?;
                let data = self.take(len, start, CMD)?;
                self.pos += 1;
                data
            }
            // Function B: length byte, then data.
            65..=78 => {
                let n = self.arg(start, CMD)?;
                self.take(usize::from(n), start, CMD)?
            }
            _ => return Err(malformed(start, CMD)),
        };
        let text = if kind == 73 {
            decode_code128(data)
        } else {
            data.is_ascii()
                .then(|| data.iter().copied().map(char::from).collect())
        };
        self.out.elements.push(Element::Barcode(Barcode {
            kind,
            data: data.to_vec(),
            text,
        }));
        Ok(())
    }

    fn dle(&mut self, start: usize) -> Result<(), ViewError> {
        let f = self.arg(start, "DLE")?;
        if f != 0x04 {
            return Err(ViewError::UnknownCommand {
                offset: start,
                bytes: vec![0x10, f],
            });
        }
        match self.arg(start, "DLE EOT")? {
            n @ 1..=4 => self.out.elements.push(Element::StatusRequest(n)),
            _ => return Err(malformed(start, "DLE EOT")),
        }
        Ok(())
    }
}

fn malformed(offset: usize, command: &'static str) -> ViewError {
    ViewError::Malformed { offset, command }
}

/// Resolves CODE128 data of `GS k 73`: `{A`/`{B`/`{C` select the code set (one must come
/// first), `{{` is a literal brace, `{1` is FNC1 (given as GS), `{S` and `{2`–`{4` carry no
/// text; in code set C each byte is two digits.
fn decode_code128(data: &[u8]) -> Option<String> {
    let mut set = match data {
        [b'{', set @ (b'A' | b'B' | b'C'), ..] => *set,
        _ => return None,
    };
    let mut text = String::with_capacity(data.len() * 2);
    let mut i = 2;
    while let Some(&b) = data.get(i) {
        if b == b'{' {
            match *data.get(i + 1)? {
                s @ (b'A' | b'B' | b'C') => set = s,
                b'{' => text.push('{'),
                b'1' => text.push('\u{1D}'),
                b'S' | b'2' | b'3' | b'4' => {}
                _ => return None,
            }
            i += 2;
            continue;
        }
        match set {
            b'C' if b <= 99 => {
                text.push(char::from(b'0' + b / 10));
                text.push(char::from(b'0' + b % 10));
            }
            b'A' | b'B' if b.is_ascii() => text.push(char::from(b)),
            _ => return None,
        }
        i += 1;
    }
    Some(text)
}

/// PC437 (the power-on table), 0x80–0xFF, IBM code page 437.
const PC437: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', // 80
    'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', // 88
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', // 90
    'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', // 98
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', // A0
    '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', // A8
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', // B0
    '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', // B8
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', // C0
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', // C8
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', // D0
    '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', // D8
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', // E0
    'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', // E8
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', // F0
    '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{00A0}', // F8
];

/// PC850, 0x80–0xFF, IBM code page 850. PC858 is this table with 0xD5 changed from `ı` to `€`.
const PC850: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', // 80
    'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', // 88
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', // 90
    'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ', // 98
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', // A0
    '¿', '®', '¬', '½', '¼', '¡', '«', '»', // A8
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À', // B0
    '©', '╣', '║', '╗', '╝', '¢', '¥', '┐', // B8
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã', // C0
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤', // C8
    'ð', 'Ð', 'Ê', 'Ë', 'È', 'ı', 'Í', 'Î', // D0
    'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀', // D8
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ', // E0
    'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´', // E8
    '\u{00AD}', '±', '‗', '¾', '¶', '§', '÷', '¸', // F0
    '°', '¨', '·', '¹', '³', '²', '■', '\u{00A0}', // F8
];

/// WPC1252, 0x80–0xFF, Windows-1252; undefined positions decode to U+FFFD.
const WPC1252: [char; 128] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', // 80
    'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž', '\u{FFFD}', // 88
    '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', // 90
    '˜', '™', 'š', '›', 'œ', '\u{FFFD}', 'ž', 'Ÿ', // 98
    '\u{00A0}', '¡', '¢', '£', '¤', '¥', '¦', '§', // A0
    '¨', '©', 'ª', '«', '¬', '\u{00AD}', '®', '¯', // A8
    '°', '±', '²', '³', '´', 'µ', '¶', '·', // B0
    '¸', '¹', 'º', '»', '¼', '½', '¾', '¿', // B8
    'À', 'Á', 'Â', 'Ã', 'Ä', 'Å', 'Æ', 'Ç', // C0
    'È', 'É', 'Ê', 'Ë', 'Ì', 'Í', 'Î', 'Ï', // C8
    'Ð', 'Ñ', 'Ò', 'Ó', 'Ô', 'Õ', 'Ö', '×', // D0
    'Ø', 'Ù', 'Ú', 'Û', 'Ü', 'Ý', 'Þ', 'ß', // D8
    'à', 'á', 'â', 'ã', 'ä', 'å', 'æ', 'ç', // E0
    'è', 'é', 'ê', 'ë', 'ì', 'í', 'î', 'ï', // E8
    'ð', 'ñ', 'ò', 'ó', 'ô', 'õ', 'ö', '÷', // F0
    'ø', 'ù', 'ú', 'û', 'ü', 'ý', 'þ', 'ÿ', // F8
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
            .collect()
    }

    /// The "full minimal receipt fragment" of escpos.md §4.1, with the payload of the worked
    /// example and a line of text.
    #[test]
    fn reference_receipt_fragment() {
        let mut bytes = hex("1B 40 1B 74 13 1B 52 00 1B 61 01");
        bytes.extend(hex(
            "1D 28 6B 04 00 31 41 32 00 1D 28 6B 03 00 31 43 06 1D 28 6B 03 00 31 45 31",
        ));
        bytes.extend(hex("1D 28 6B 31 00 31 50 30"));
        bytes.extend(b"PAGOPA|002|301000000000012373|02438750586|1234");
        bytes.extend(hex("1D 28 6B 03 00 31 51 30 0A 1B 61 00"));
        bytes.extend(hex("D5 20 31 32 2C 33 34 0A"));
        bytes.extend(hex("1B 64 06 1D 56 01"));
        let p = render(&bytes).expect("renders");
        assert_eq!(
            p.elements,
            vec![
                Element::Qr(QrSymbol {
                    data: b"PAGOPA|002|301000000000012373|02438750586|1234".to_vec(),
                    model: 2,
                    module_size: 6,
                    ecc: 'M',
                }),
                Element::Line(Line {
                    text: String::new(),
                    align: Align::Center,
                    runs: vec![],
                }),
                Element::Line(Line {
                    text: "€ 12,34".into(),
                    align: Align::Left,
                    runs: vec![Run {
                        start: 0,
                        end: "€ 12,34".len(),
                        style: TextStyle::default()
                    }],
                }),
                Element::Feed(6),
                Element::Cut {
                    kind: CutKind::Partial,
                    feed: None
                },
            ]
        );
        assert_eq!(p.text_lines(), vec!["", "€ 12,34"]);
        assert_eq!(p.cuts(), vec![CutKind::Partial]);
        assert!(p.unprinted.is_empty());
    }

    #[test]
    fn code_pages_decode_from_their_own_tables() {
        let line = |table: u8, bytes: &[u8]| {
            let mut stream = vec![0x1B, 0x74, table];
            stream.extend_from_slice(bytes);
            stream.push(0x0A);
            render(&stream).expect("renders").text_lines()[0].to_owned()
        };
        let italian858 = hex("85 8A 82 8D 95 97 B7 D4 90 DE E3 EB F8 D5");
        let italian1252 = hex("E0 E8 E9 EC F2 F9 C0 C8 C9 CC D2 D9 B0 80");
        assert_eq!(line(19, &italian858), "àèéìòùÀÈÉÌÒÙ°€");
        assert_eq!(line(16, &italian1252), "àèéìòùÀÈÉÌÒÙ°€");
        // PC850 has the dotless i where PC858 has the euro; PC437 and PC850 share à.
        assert_eq!(line(2, &[0xD5, 0x85]), "ıà");
        assert_eq!(line(0, &[0xD5, 0x85]), "╒à");
        assert_eq!(line(16, &[0x81]), "\u{FFFD}");
        assert_eq!(line(1, &[0xC1]), "\u{FFFD}");
    }

    #[test]
    fn init_resets_code_page_and_styles() {
        let p = render(&hex("1B 74 13 1B 45 01 D5 0A 1B 40 D5 0A")).expect("renders");
        assert_eq!(p.text_lines(), vec!["€", "╒"]);
        let Element::Line(first) = &p.elements[0] else {
            panic!("line expected");
        };
        assert!(first.runs[0].style.bold);
        let Element::Line(second) = &p.elements[1] else {
            panic!("line expected");
        };
        assert!(!second.runs[0].style.bold);
    }

    #[test]
    fn styles_are_tracked_per_run() {
        let p = render(&hex("61 1B 45 01 62 1D 21 11 63 1B 2D 02 64 0A")).expect("renders");
        let Element::Line(line) = &p.elements[0] else {
            panic!("line expected");
        };
        let runs: Vec<(&str, TextStyle)> = line.styled().collect();
        let base = TextStyle::default();
        let bold = TextStyle { bold: true, ..base };
        let big = TextStyle {
            width: 2,
            height: 2,
            ..bold
        };
        assert_eq!(
            runs,
            vec![
                ("a", base),
                ("b", bold),
                ("c", big),
                (
                    "d",
                    TextStyle {
                        underline: 2,
                        ..big
                    }
                )
            ]
        );
    }

    #[test]
    fn justification_applies_only_at_line_start() {
        let p = render(&hex("41 1B 61 02 42 0A 43 0A")).expect("renders");
        let aligns: Vec<Align> = p
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Line(l) => Some(l.align),
                _ => None,
            })
            .collect();
        assert_eq!(aligns, vec![Align::Left, Align::Left]);
        let p = render(&hex("1B 61 02 43 0A")).expect("renders");
        assert!(matches!(&p.elements[0], Element::Line(l) if l.align == Align::Right));
    }

    #[test]
    fn text_without_line_feed_is_not_printed() {
        let p = render(b"printed\nstuck in buffer").expect("renders");
        assert_eq!(p.text_lines(), vec!["printed"]);
        assert_eq!(p.unprinted, "stuck in buffer");
    }

    #[test]
    fn print_and_feed_counts_the_printed_line() {
        let p = render(&hex("41 1B 64 03 1B 64 02 1B 64 00")).expect("renders");
        assert_eq!(p.elements.len(), 3);
        assert!(matches!(&p.elements[0], Element::Line(l) if l.text == "A"));
        assert_eq!(p.elements[1], Element::Feed(2));
        assert_eq!(p.elements[2], Element::Feed(2));
    }

    #[test]
    fn barcodes_cuts_drawer_status_and_images() {
        let mut bytes = hex("1D 6B 49 09 7B 42 41 42 43 2D 31 32 33");
        bytes.extend(hex("1D 6B 49 0A 7B 42 4E 6F 2E 7B 43 0C 22 38"));
        bytes.extend(hex("1D 6B 04 41 42 00"));
        bytes.extend(hex("1D 56 42 05 1D 56 30 1B 70 01 19 C8 10 04 04"));
        bytes.extend(hex("1D 76 30 00 02 00 02 00 10 04 10 04"));
        let p = render(&bytes).expect("renders");
        let texts: Vec<Option<&str>> = p
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Barcode(b) => Some(b.text.as_deref()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, vec![Some("ABC-123"), Some("No.123456"), Some("AB")]);
        assert_eq!(
            &p.elements[3..],
            [
                Element::Cut {
                    kind: CutKind::Partial,
                    feed: Some(5)
                },
                Element::Cut {
                    kind: CutKind::Full,
                    feed: None
                },
                Element::DrawerPulse {
                    pin: 5,
                    on_ms: 50,
                    off_ms: 400
                },
                Element::StatusRequest(4),
                // The image data happens to contain DLE EOT: it is data, not a request.
                Element::Image {
                    bytes_per_row: 2,
                    rows: 2
                },
            ]
        );
    }

    #[test]
    fn code128_content_decoding() {
        assert_eq!(decode_code128(b"{Ba{{b"), Some("a{b".into()));
        assert_eq!(decode_code128(b"{C\x01\x63"), Some("0199".into()));
        assert_eq!(decode_code128(b"{C\x64"), None);
        assert_eq!(decode_code128(b"{A{1AB"), Some("\u{1D}AB".into()));
        assert_eq!(decode_code128(b"ABC"), None);
        assert_eq!(decode_code128(b"{B{"), None);
    }

    #[test]
    fn errors_carry_offsets_and_codes() {
        let err = render(&hex("41 1B 74")).expect_err("truncated");
        assert_eq!(
            err,
            ViewError::Truncated {
                offset: 1,
                command: "ESC t"
            }
        );
        assert_eq!(err.code(), "VIEW_TRUNCATED");
        let err = render(&hex("1B 7E 00")).expect_err("unknown");
        assert_eq!(
            err,
            ViewError::UnknownCommand {
                offset: 0,
                bytes: vec![0x1B, 0x7E]
            }
        );
        assert_eq!(err.code(), "VIEW_UNKNOWN_COMMAND");
        assert_eq!(
            render(&[0x07]).expect_err("BEL").code(),
            "VIEW_UNKNOWN_COMMAND"
        );
        let err = render(&hex("1D 56 07")).expect_err("bad cut");
        assert_eq!(err.code(), "VIEW_MALFORMED");
        assert_eq!(
            render(&hex("1D 28 6B 31 00 31 50 30 41"))
                .expect_err("short QR")
                .code(),
            "VIEW_TRUNCATED"
        );
        assert_eq!(
            render(&hex("1D 28 6B 03 00 31 45 39"))
                .expect_err("bad ECC")
                .code(),
            "VIEW_MALFORMED"
        );
        assert_eq!(
            render(&hex("1D 6B 04 41 42")).expect_err("no NUL").code(),
            "VIEW_TRUNCATED"
        );
        assert_eq!(
            render(&hex("10 04 05")).expect_err("bad n").code(),
            "VIEW_MALFORMED"
        );
    }

    #[test]
    fn qr_print_without_data_prints_nothing_and_other_2d_codes_are_skipped() {
        let p = render(&hex("1D 28 6B 03 00 31 51 30 1D 28 6B 03 00 30 41 02")).expect("renders");
        assert!(p.elements.is_empty());
    }
}
