//! Framing of barcode/QR scanner output.
//!
//! A scanner in serial mode (USB CDC-ACM or RS-232) sends each label as
//! `[AIM identifier] data [suffix]` and nothing else: no length, no checksum. A `read()` may hold
//! half a label or three of them, so labels must be reassembled from a byte stream. This module is
//! that reassembly, kept free of I/O so that every split and every timing is testable:
//!
//! - a label ends at a configurable suffix (CR, LF, CRLF, or any of them), or after an idle gap
//!   for scanners configured without a terminator ([`Framing`]); the caller passes the time at
//!   which each chunk was read and calls [`ScanDecoder::poll`] when [`ScanDecoder::deadline`]
//!   passes;
//! - the AIM symbology identifier (`]` + code character + modifier, ISO/IEC 15424) is recognised
//!   and reported as a [`Symbology`] with a human name;
//! - a label longer than the configured maximum is reported once as an error and skipped up to the
//!   next terminator, so one glitch does not poison the labels after it;
//! - the same code read twice within a configurable window is suppressed, because presentation
//!   scanners re-read a notice left in view (the application must still be idempotent);
//! - a label that is not valid UTF-8 becomes a typed error event, never a panic.
//!
//! Reference: `shared/reference/scanners.md` §3 (framing), §4 (AIM identifiers), §6 (encoding),
//! §7 (re-reads).

use std::fmt;
use std::time::{Duration, Instant};

const CR: u8 = 0x0D;
const LF: u8 = 0x0A;

/// The terminator the scanner appends to each label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffix {
    /// Carriage return (0x0D) ends a label; LF is data.
    Cr,
    /// Line feed (0x0A) ends a label; CR is data.
    Lf,
    /// The pair CR LF ends a label; a lone CR or LF is data.
    CrLf,
    /// CR or LF ends a label, and CRLF counts as one terminator (the host parsing rule of
    /// scanners.md §3). The most tolerant choice: it also works when the scanner's suffix setting is
    /// not known exactly.
    AnyLineEnd,
}

/// How labels are delimited in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A terminator ends each label.
    Suffix(Suffix),
    /// Silence of at least this long ends a label (scanners configured without a terminator).
    Idle(Duration),
    /// Either the terminator or an idle gap ends a label.
    SuffixOrIdle {
        /// The terminator.
        suffix: Suffix,
        /// The idle gap.
        idle: Duration,
    },
}

impl Framing {
    fn suffix(self) -> Option<Suffix> {
        match self {
            Framing::Suffix(suffix) | Framing::SuffixOrIdle { suffix, .. } => Some(suffix),
            Framing::Idle(_) => None,
        }
    }

    fn idle(self) -> Option<Duration> {
        match self {
            Framing::Idle(idle) | Framing::SuffixOrIdle { idle, .. } => Some(idle),
            Framing::Suffix(_) => None,
        }
    }
}

/// Whether labels carry an AIM symbology identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AimMode {
    /// Every label must start with an AIM identifier; a label without one is an error
    /// ([`ScanError::MissingAim`]). The recommended kiosk configuration (scanners.md §4).
    Required,
    /// An identifier is recognised and stripped when present; otherwise the whole label is data.
    /// Ambiguous for data that starts with `]`, hence not the default.
    Optional,
    /// No identifier is expected: the whole label is data.
    Off,
}

/// Configuration of a [`ScanDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannerConfig {
    /// How labels are delimited.
    pub framing: Framing,
    /// Whether labels carry an AIM identifier.
    pub aim: AimMode,
    /// Largest accepted label in bytes, AIM identifier included, terminator excluded. With 0 every
    /// non-empty label is rejected.
    pub max_len: usize,
    /// Suppress a label identical (same text and symbology) to one seen less than this long ago.
    /// The window slides: each suppressed re-read restarts it, like the scanners' own "same symbol"
    /// timeout, so a notice left in view is reported once. `None` disables suppression.
    pub duplicate_window: Option<Duration>,
}

impl Default for ScannerConfig {
    /// CR/LF/CRLF terminators or a 100 ms idle gap, AIM identifier required, 4 KiB labels, 1 s
    /// duplicate window (scanners.md §3 "Host parsing rule", §7).
    fn default() -> Self {
        ScannerConfig {
            framing: Framing::SuffixOrIdle {
                suffix: Suffix::AnyLineEnd,
                idle: Duration::from_millis(100),
            },
            aim: AimMode::Required,
            max_len: 4096,
            duplicate_window: Some(Duration::from_secs(1)),
        }
    }
}

/// An AIM symbology identifier (ISO/IEC 15424): the code character and the modifier of
/// `]` + code + modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbology {
    code: u8,
    modifier: u8,
}

/// The symbology family named by an AIM code character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SymbologyFamily {
    /// `Q`: QR Code (Model 1, Model 2, Micro QR).
    QrCode,
    /// `d`: Data Matrix.
    DataMatrix,
    /// `C`: Code 128, GS1-128, ISBT-128.
    Code128,
    /// `E`: EAN/UPC.
    EanUpc,
    /// `A`: Code 39.
    Code39,
    /// `I`: Interleaved 2 of 5.
    Interleaved2Of5,
    /// `F`: Codabar.
    Codabar,
    /// `G`: Code 93.
    Code93,
    /// `L`: PDF417 and MicroPDF417.
    Pdf417,
    /// `z`: Aztec.
    Aztec,
    /// `e`: GS1 DataBar.
    Gs1DataBar,
    /// `U`: MaxiCode.
    MaxiCode,
    /// `h`: Han Xin.
    HanXin,
    /// Any other code character.
    Other,
}

impl Symbology {
    /// Builds an identifier from its code character (an ASCII letter) and modifier (an ASCII
    /// letter or digit); `None` for anything else.
    pub fn from_aim(code: u8, modifier: u8) -> Option<Symbology> {
        (code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric())
            .then_some(Symbology { code, modifier })
    }

    /// Parses a leading `]` + code + modifier; returns the identifier and the rest of the label.
    fn split_prefix(label: &[u8]) -> Option<(Symbology, &[u8])> {
        match label {
            [b']', code, modifier, rest @ ..] => {
                Symbology::from_aim(*code, *modifier).map(|s| (s, rest))
            }
            _ => None,
        }
    }

    /// The code character, e.g. `Q` for QR Code.
    pub fn code(self) -> char {
        char::from(self.code)
    }

    /// The modifier character, e.g. `1` in `]Q1`.
    pub fn modifier(self) -> char {
        char::from(self.modifier)
    }

    /// The symbology family of the code character.
    pub fn family(self) -> SymbologyFamily {
        match self.code {
            b'Q' => SymbologyFamily::QrCode,
            b'd' => SymbologyFamily::DataMatrix,
            b'C' => SymbologyFamily::Code128,
            b'E' => SymbologyFamily::EanUpc,
            b'A' => SymbologyFamily::Code39,
            b'I' => SymbologyFamily::Interleaved2Of5,
            b'F' => SymbologyFamily::Codabar,
            b'G' => SymbologyFamily::Code93,
            b'L' => SymbologyFamily::Pdf417,
            b'z' => SymbologyFamily::Aztec,
            b'e' => SymbologyFamily::Gs1DataBar,
            b'U' => SymbologyFamily::MaxiCode,
            b'h' => SymbologyFamily::HanXin,
            _ => SymbologyFamily::Other,
        }
    }

    /// A human name, with the modifier's meaning where scanners.md §4 gives one
    /// (e.g. `]Q1` → "QR Code, Model 2 or Micro QR, no ECI").
    pub fn name(self) -> &'static str {
        match (self.code, self.modifier) {
            (b'Q', b'0') => "QR Code, Model 1",
            (b'Q', b'1') => "QR Code, Model 2 or Micro QR, no ECI",
            (b'Q', b'2') => "QR Code, Model 2, ECI protocol in use",
            (b'Q', b'3') => "QR Code, Model 2, FNC1 in first position (GS1 QR)",
            (b'Q', b'4') => "QR Code, Model 2, FNC1 in first position, ECI",
            (b'Q', b'5') => "QR Code, Model 2, FNC1 in second position",
            (b'Q', b'6') => "QR Code, Model 2, FNC1 in second position, ECI",
            (b'd', b'0') => "Data Matrix ECC 000-140",
            (b'd', b'1') => "Data Matrix ECC 200",
            (b'd', b'2') => "Data Matrix ECC 200, FNC1 in 1st or 5th position (GS1 DataMatrix)",
            (b'd', b'3') => "Data Matrix ECC 200, FNC1 in 2nd or 6th position",
            (b'd', b'4') => "Data Matrix ECC 200, ECI",
            (b'd', b'5') => "Data Matrix ECC 200, FNC1 in 1st or 5th position, ECI",
            (b'd', b'6') => "Data Matrix ECC 200, FNC1 in 2nd or 6th position, ECI",
            (b'C', b'0') => "Code 128",
            (b'C', b'1') => "GS1-128 (Code 128, FNC1 in first position)",
            (b'C', b'2') => "Code 128, FNC1 in second position",
            (b'C', b'4') => "ISBT-128",
            (b'E', b'0') => "EAN-13, UPC-A or UPC-E",
            (b'E', b'3') => "EAN/UPC with add-on",
            (b'E', b'4') => "EAN-8",
            (b'A', b'0') => "Code 39",
            (b'A', b'1') => "Code 39, check digit verified",
            (b'A', b'3') => "Code 39, check digit verified and stripped",
            (b'A', b'4') => "Code 39 Full ASCII",
            (b'A', b'5') => "Code 39 Full ASCII, check digit verified",
            (b'A', b'7') => "Code 39 Full ASCII, check digit verified and stripped",
            (b'I', b'0') => "Interleaved 2 of 5",
            (b'I', b'1') => "Interleaved 2 of 5, check digit verified",
            (b'I', b'3') => "Interleaved 2 of 5, check digit verified and stripped",
            _ => match self.family() {
                SymbologyFamily::QrCode => "QR Code",
                SymbologyFamily::DataMatrix => "Data Matrix",
                SymbologyFamily::Code128 => "Code 128",
                SymbologyFamily::EanUpc => "EAN/UPC",
                SymbologyFamily::Code39 => "Code 39",
                SymbologyFamily::Interleaved2Of5 => "Interleaved 2 of 5",
                SymbologyFamily::Codabar => "Codabar",
                SymbologyFamily::Code93 => "Code 93",
                SymbologyFamily::Pdf417 => "PDF417 / MicroPDF417",
                SymbologyFamily::Aztec => "Aztec",
                SymbologyFamily::Gs1DataBar => "GS1 DataBar",
                SymbologyFamily::MaxiCode => "MaxiCode",
                SymbologyFamily::HanXin => "Han Xin",
                SymbologyFamily::Other => "unknown symbology",
            },
        }
    }
}

impl fmt::Display for Symbology {
    /// The identifier as sent on the wire, e.g. `]Q1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "]{}{}", self.code(), self.modifier())
    }
}

/// What the decoder reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// A complete label.
    Code {
        /// The label's data, AIM identifier and terminator stripped. Control characters such as
        /// GS (FNC1 in GS1 content) are kept; ECI escapes (`\000026`) are not interpreted.
        text: String,
        /// The AIM identifier; `None` only with [`AimMode::Optional`] or [`AimMode::Off`].
        symbology: Option<Symbology>,
    },
    /// A label that could not be accepted.
    Error(ScanError),
}

/// Why a label was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The label exceeded the configured maximum; bytes are skipped up to the next terminator (or
    /// idle gap).
    #[error("label longer than {max} bytes; skipped up to the next terminator")]
    TooLong {
        /// The configured maximum.
        max: usize,
    },
    /// An AIM identifier was required and the label does not start with one.
    #[error("label does not start with an AIM symbology identifier")]
    MissingAim,
    /// The label's data is not valid UTF-8.
    #[error("label is not valid UTF-8 (valid up to byte {valid_up_to} of its data)")]
    InvalidUtf8 {
        /// The label's AIM identifier, when there was one.
        symbology: Option<Symbology>,
        /// Length of the valid UTF-8 prefix of the data.
        valid_up_to: usize,
    },
}

impl ScanError {
    /// Stable machine-readable code: `SCAN_TOO_LONG`, `SCAN_MISSING_AIM`, `SCAN_INVALID_UTF8`.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::TooLong { .. } => "SCAN_TOO_LONG",
            ScanError::MissingAim => "SCAN_MISSING_AIM",
            ScanError::InvalidUtf8 { .. } => "SCAN_INVALID_UTF8",
        }
    }
}

/// Reassembles scanner labels from a byte stream. See the module documentation.
#[derive(Debug, Clone)]
pub struct ScanDecoder {
    config: ScannerConfig,
    buf: Vec<u8>,
    /// `Suffix::CrLf`: a CR was seen and the next byte decides whether it was a terminator.
    pending_cr: bool,
    /// After an overflow: drop bytes until the next terminator or idle gap.
    skipping: bool,
    last_byte_at: Option<Instant>,
    last_code: Option<LastCode>,
}

#[derive(Debug, Clone)]
struct LastCode {
    at: Instant,
    text: String,
    symbology: Option<Symbology>,
}

impl ScanDecoder {
    /// A decoder with the given configuration.
    pub fn new(config: ScannerConfig) -> ScanDecoder {
        ScanDecoder {
            config,
            buf: Vec::new(),
            pending_cr: false,
            skipping: false,
            last_byte_at: None,
            last_code: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ScannerConfig {
        &self.config
    }

    /// Feeds a chunk read at `now`. With idle framing, a label still pending from an earlier chunk
    /// is completed first if the gap since its last byte reached the idle time, so the result does
    /// not depend on how often [`poll`](Self::poll) is called.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) -> Vec<ScanEvent> {
        let mut out = Vec::new();
        if self.idle_expired(now) {
            self.end_label(now, &mut out);
        }
        for &b in bytes {
            self.push(now, b, &mut out);
        }
        if !bytes.is_empty() {
            self.last_byte_at = Some(now);
        }
        out
    }

    /// Completes a pending label whose idle gap has elapsed at `now`. Does nothing without idle
    /// framing.
    pub fn poll(&mut self, now: Instant) -> Vec<ScanEvent> {
        let mut out = Vec::new();
        if self.idle_expired(now) {
            self.end_label(now, &mut out);
        }
        out
    }

    /// When [`poll`](Self::poll) should next be called: the end of the idle gap of a pending
    /// label, if any.
    pub fn deadline(&self) -> Option<Instant> {
        let idle = self.config.framing.idle()?;
        if !self.has_pending() {
            return None;
        }
        self.last_byte_at.map(|at| at + idle)
    }

    /// Drops any partial label (e.g. after the device was unplugged: its bytes are not to be
    /// joined with what a new device sends). Duplicate suppression state is kept.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.pending_cr = false;
        self.skipping = false;
        self.last_byte_at = None;
    }

    fn has_pending(&self) -> bool {
        !self.buf.is_empty() || self.pending_cr || self.skipping
    }

    fn idle_expired(&self, now: Instant) -> bool {
        match (self.config.framing.idle(), self.last_byte_at) {
            (Some(idle), Some(at)) => {
                self.has_pending() && now.saturating_duration_since(at) >= idle
            }
            _ => false,
        }
    }

    fn push(&mut self, now: Instant, b: u8, out: &mut Vec<ScanEvent>) {
        match self.config.framing.suffix() {
            Some(Suffix::Cr) if b == CR => return self.end_label(now, out),
            Some(Suffix::Lf) if b == LF => return self.end_label(now, out),
            // A CRLF gives an empty label after the CR, which end_label ignores.
            Some(Suffix::AnyLineEnd) if b == CR || b == LF => return self.end_label(now, out),
            Some(Suffix::CrLf) => {
                if self.pending_cr {
                    self.pending_cr = false;
                    if b == LF {
                        return self.end_label(now, out);
                    }
                    self.push_data(CR, out);
                }
                if b == CR {
                    self.pending_cr = true;
                    return;
                }
            }
            _ => {}
        }
        self.push_data(b, out);
    }

    fn push_data(&mut self, b: u8, out: &mut Vec<ScanEvent>) {
        if self.skipping {
            return;
        }
        if self.buf.len() >= self.config.max_len {
            self.buf.clear();
            self.skipping = true;
            out.push(ScanEvent::Error(ScanError::TooLong {
                max: self.config.max_len,
            }));
            return;
        }
        self.buf.push(b);
    }

    /// Ends the current label. With `Suffix::CrLf`, a CR still waiting for its LF when an idle gap
    /// ends the label is taken as the terminator: the scanner evidently sends CR alone.
    fn end_label(&mut self, now: Instant, out: &mut Vec<ScanEvent>) {
        let was_skipping = self.skipping;
        self.skipping = false;
        self.pending_cr = false;
        if was_skipping || self.buf.is_empty() {
            self.buf.clear();
            return;
        }
        let event = self.decode_label();
        self.buf.clear();
        match event {
            Ok((symbology, text)) => {
                if !self.is_duplicate(now, &text, symbology) {
                    out.push(ScanEvent::Code { text, symbology });
                }
            }
            Err(e) => out.push(ScanEvent::Error(e)),
        }
    }

    fn decode_label(&self) -> Result<(Option<Symbology>, String), ScanError> {
        let (symbology, data) = match self.config.aim {
            AimMode::Off => (None, self.buf.as_slice()),
            AimMode::Required => {
                let (s, rest) = Symbology::split_prefix(&self.buf).ok_or(ScanError::MissingAim)?;
                (Some(s), rest)
            }
            AimMode::Optional => match Symbology::split_prefix(&self.buf) {
                Some((s, rest)) => (Some(s), rest),
                None => (None, self.buf.as_slice()),
            },
        };
        match std::str::from_utf8(data) {
            Ok(text) => Ok((symbology, text.to_owned())),
            Err(e) => Err(ScanError::InvalidUtf8 {
                symbology,
                valid_up_to: e.valid_up_to(),
            }),
        }
    }

    /// Whether the label repeats the last one within the window; records it either way.
    fn is_duplicate(&mut self, now: Instant, text: &str, symbology: Option<Symbology>) -> bool {
        let Some(window) = self.config.duplicate_window else {
            return false;
        };
        if let Some(last) = &mut self.last_code
            && last.text == text
            && last.symbology == symbology
        {
            let repeat = now.saturating_duration_since(last.at) < window;
            last.at = now;
            return repeat;
        }
        self.last_code = Some(LastCode {
            at: now,
            text: text.to_owned(),
            symbology,
        });
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = "PAGOPA|002|301000000000012373|02438750586|1234";

    fn code(text: &str, symbology: &str) -> ScanEvent {
        let b = symbology.as_bytes();
        ScanEvent::Code {
            text: text.to_owned(),
            symbology: Symbology::from_aim(b[1], b[2]),
        }
    }

    fn suffix_config(suffix: Suffix) -> ScannerConfig {
        ScannerConfig {
            framing: Framing::Suffix(suffix),
            ..ScannerConfig::default()
        }
    }

    #[test]
    fn golden_payload_with_cr() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig::default());
        let events = d.feed(t0, format!("]Q1{GOLDEN}\r").as_bytes());
        assert_eq!(events, vec![code(GOLDEN, "]Q1")]);
        let ScanEvent::Code {
            symbology: Some(s), ..
        } = &events[0]
        else {
            panic!("expected a code");
        };
        assert_eq!(s.family(), SymbologyFamily::QrCode);
        assert_eq!(s.name(), "QR Code, Model 2 or Micro QR, no ECI");
        assert_eq!(s.to_string(), "]Q1");
    }

    #[test]
    fn golden_payload_with_crlf_in_every_suffix_mode_that_accepts_it() {
        let t0 = Instant::now();
        for suffix in [Suffix::CrLf, Suffix::AnyLineEnd] {
            let mut d = ScanDecoder::new(suffix_config(suffix));
            let events = d.feed(
                t0,
                format!("]Q1{GOLDEN}\r\n]d1codfase=NBPA;1\r\n").as_bytes(),
            );
            assert_eq!(
                events,
                vec![code(GOLDEN, "]Q1"), code("codfase=NBPA;1", "]d1")],
                "{suffix:?}"
            );
        }
    }

    #[test]
    fn crlf_mode_keeps_lone_cr_and_lf_as_data() {
        let mut d = ScanDecoder::new(ScannerConfig {
            aim: AimMode::Off,
            ..suffix_config(Suffix::CrLf)
        });
        let t0 = Instant::now();
        assert!(d.feed(t0, b"a\rb\nc\r").is_empty());
        assert_eq!(
            d.feed(t0, b"\n"),
            vec![ScanEvent::Code {
                text: "a\rb\nc".into(),
                symbology: None
            }]
        );
    }

    #[test]
    fn split_reads_reassemble() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig::default());
        let wire = b"]C0ABC-123\r]E04006381333931\r";
        let mut events = Vec::new();
        for chunk in wire.chunks(2) {
            events.extend(d.feed(t0, chunk));
        }
        assert_eq!(
            events,
            vec![code("ABC-123", "]C0"), code("4006381333931", "]E0")]
        );
    }

    #[test]
    fn idle_gap_ends_a_label_without_terminator() {
        let t0 = Instant::now();
        let idle = Duration::from_millis(80);
        let mut d = ScanDecoder::new(ScannerConfig {
            framing: Framing::Idle(idle),
            ..ScannerConfig::default()
        });
        assert!(d.feed(t0, b"]Q1PAGO").is_empty());
        assert!(d.feed(t0 + Duration::from_millis(10), b"PA|1").is_empty());
        assert_eq!(d.deadline(), Some(t0 + Duration::from_millis(90)));
        assert!(d.poll(t0 + Duration::from_millis(89)).is_empty());
        assert_eq!(
            d.poll(t0 + Duration::from_millis(90)),
            vec![code("PAGOPA|1", "]Q1")]
        );
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn idle_gap_is_detected_on_feed_even_without_poll() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig {
            framing: Framing::Idle(Duration::from_millis(50)),
            ..ScannerConfig::default()
        });
        assert!(d.feed(t0, b"]Q1first").is_empty());
        let events = d.feed(t0 + Duration::from_millis(500), b"]Q1second");
        assert_eq!(events, vec![code("first", "]Q1")]);
        assert_eq!(
            d.poll(t0 + Duration::from_secs(1)),
            vec![code("second", "]Q1")]
        );
    }

    #[test]
    fn suffix_only_framing_has_no_deadline() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(suffix_config(Suffix::Cr));
        assert!(d.feed(t0, b"]Q1partial").is_empty());
        assert_eq!(d.deadline(), None);
        assert!(d.poll(t0 + Duration::from_secs(60)).is_empty());
        assert_eq!(
            d.feed(t0 + Duration::from_secs(61), b"\r"),
            vec![code("partial", "]Q1")]
        );
    }

    #[test]
    fn missing_aim_is_rejected_when_required() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig::default());
        let events = d.feed(t0, format!("{GOLDEN}\r]x\r]Q\r").as_bytes());
        assert_eq!(events, vec![ScanEvent::Error(ScanError::MissingAim); 3]);
        if let ScanEvent::Error(e) = &events[0] {
            assert_eq!(e.code(), "SCAN_MISSING_AIM");
        }
    }

    #[test]
    fn aim_optional_and_off() {
        let t0 = Instant::now();
        let mut optional = ScanDecoder::new(ScannerConfig {
            aim: AimMode::Optional,
            ..ScannerConfig::default()
        });
        assert_eq!(
            optional.feed(t0, b"plain\r]Q1qr\r"),
            vec![
                ScanEvent::Code {
                    text: "plain".into(),
                    symbology: None
                },
                code("qr", "]Q1"),
            ]
        );
        let mut off = ScanDecoder::new(ScannerConfig {
            aim: AimMode::Off,
            ..ScannerConfig::default()
        });
        assert_eq!(
            off.feed(t0, b"]Q1qr\r"),
            vec![ScanEvent::Code {
                text: "]Q1qr".into(),
                symbology: None
            }]
        );
    }

    #[test]
    fn symbology_names_from_the_reference_table() {
        let name = |id: &[u8; 2]| {
            Symbology::from_aim(id[0], id[1])
                .map(Symbology::name)
                .expect("valid identifier")
        };
        assert_eq!(
            name(b"d2"),
            "Data Matrix ECC 200, FNC1 in 1st or 5th position (GS1 DataMatrix)"
        );
        assert_eq!(name(b"C0"), "Code 128");
        assert_eq!(name(b"C1"), "GS1-128 (Code 128, FNC1 in first position)");
        assert_eq!(name(b"E0"), "EAN-13, UPC-A or UPC-E");
        assert_eq!(name(b"E4"), "EAN-8");
        assert_eq!(name(b"zC"), "Aztec");
        assert_eq!(name(b"X0"), "unknown symbology");
        assert_eq!(Symbology::from_aim(b'1', b'0'), None);
        assert_eq!(Symbology::from_aim(b'Q', b' '), None);
    }

    #[test]
    fn overflow_reports_once_and_resyncs_at_next_terminator() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig {
            max_len: 8,
            ..ScannerConfig::default()
        });
        assert!(d.feed(t0, b"]Q112345").is_empty());
        assert_eq!(
            d.feed(t0, b"678901234"),
            vec![ScanEvent::Error(ScanError::TooLong { max: 8 })]
        );
        assert!(d.feed(t0, b"more junk").is_empty());
        assert_eq!(d.feed(t0, b"\r]Q1ok\r"), vec![code("ok", "]Q1")]);
        // Exactly max_len bytes is accepted.
        assert_eq!(d.feed(t0, b"]Q112345\r"), vec![code("12345", "]Q1")]);
    }

    #[test]
    fn overflow_resyncs_at_idle_gap() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig {
            framing: Framing::Idle(Duration::from_millis(50)),
            max_len: 4,
            ..ScannerConfig::default()
        });
        assert_eq!(d.feed(t0, b"]Q1toolong").len(), 1);
        assert!(d.poll(t0 + Duration::from_millis(60)).is_empty());
        assert!(d.feed(t0 + Duration::from_millis(70), b"]Q1a").is_empty());
        assert_eq!(
            d.poll(t0 + Duration::from_millis(200)),
            vec![code("a", "]Q1")]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_event() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig::default());
        let events = d.feed(t0, b"]Q1ab\xff\xfe\r]Q1caff\xc3\xa8\r");
        assert_eq!(
            events,
            vec![
                ScanEvent::Error(ScanError::InvalidUtf8 {
                    symbology: Symbology::from_aim(b'Q', b'1'),
                    valid_up_to: 2
                }),
                code("caffè", "]Q1"),
            ]
        );
    }

    #[test]
    fn duplicates_within_the_window_are_suppressed() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = ScanDecoder::new(ScannerConfig {
            duplicate_window: Some(ms(500)),
            ..ScannerConfig::default()
        });
        let label = format!("]Q1{GOLDEN}\r");
        assert_eq!(d.feed(t0, label.as_bytes()).len(), 1);
        assert!(d.feed(t0 + ms(300), label.as_bytes()).is_empty());
        // The window slides with each suppressed re-read.
        assert!(d.feed(t0 + ms(700), label.as_bytes()).is_empty());
        // A different code passes, and resets the comparison.
        assert_eq!(d.feed(t0 + ms(750), b"]Q1other\r").len(), 1);
        assert_eq!(d.feed(t0 + ms(800), label.as_bytes()).len(), 1);
        // Same text, other symbology: not a duplicate.
        assert_eq!(
            d.feed(t0 + ms(900), format!("]Q2{GOLDEN}\r").as_bytes())
                .len(),
            1
        );
        // After the window has elapsed the same code is reported again.
        assert_eq!(
            d.feed(t0 + ms(2000), format!("]Q2{GOLDEN}\r").as_bytes())
                .len(),
            1
        );
    }

    #[test]
    fn reset_drops_a_partial_label() {
        let t0 = Instant::now();
        let mut d = ScanDecoder::new(ScannerConfig::default());
        assert!(d.feed(t0, b"]Q1half").is_empty());
        d.reset();
        assert_eq!(d.deadline(), None);
        assert_eq!(d.feed(t0, b"]Q1new\r"), vec![code("new", "]Q1")]);
    }
}
