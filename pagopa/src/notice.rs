//! Notice numbers (*codice avviso*) and IUVs (*identificativo univoco di versamento*).
//!
//! A printed pagoPA notice is identified by an 18-digit notice number whose first digit (the
//! *aux digit*) selects one of four layouts (SACI, "Capitolo 2"):
//!
//! | aux | layout                  | IUV (creditorReferenceId)        | check digits |
//! |-----|-------------------------|----------------------------------|--------------|
//! | 0   | `0 AA BBBBBBBBBBBBB CC` | 15 digits: base 13 + check 2     | yes          |
//! | 1   | `1 BBBBBBBBBBBBBBBBB`   | 17 digits: base 17               | none         |
//! | 2   | `2 BBBBBBBBBBBBBBB CC`  | 17 digits: base 15 + check 2     | yes          |
//! | 3   | `3 SS BBBBBBBBBBBBB CC` | 17 digits: seg 2 + base 13 + check 2 | yes      |
//!
//! (`AA` application code, `SS` segregation code, `B` IUV base, `CC` check digits.)
//!
//! The check digits are the first 16 digits of the notice number taken as an integer, modulo 93.
//! Because 10 and 93 are coprime and no two digits differ by a multiple of 31, this detects every
//! single-digit change and every transposition of two adjacent different digits *within a
//! layout that has check digits*. A change that turns the aux digit into `1` lands in the legacy
//! layout, which has no check digits, so it cannot be detected.
//!
//! Checking the check digits is optional for a PSP (the Nodo checks the notice anyway), but it
//! catches typing mistakes before a network round-trip. Test environments use notice numbers that
//! fail the check, hence [`CheckMode`].

use std::fmt;

use crate::CheckMode;

/// Errors from parsing or building a notice number, an IUV or a segregation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoticeError {
    /// The notice number does not have exactly 18 digits.
    #[error("notice number must have 18 digits, found {found} characters")]
    Length {
        /// Number of characters found.
        found: usize,
    },
    /// The notice number contains a character that is not an ASCII digit.
    #[error("notice number has a non-digit character at position {position}")]
    NonDigit {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The first digit is not one of the layouts 0, 1, 2, 3.
    #[error("notice number has unknown aux digit {aux} (expected 0, 1, 2 or 3)")]
    UnknownAuxDigit {
        /// The digit found.
        aux: u8,
    },
    /// The last two digits are not the mod-93 check of the first 16 (strict mode only).
    #[error("notice number check digits are {found:02}, expected {expected:02}")]
    CheckDigits {
        /// The check digits the first 16 digits call for.
        expected: u8,
        /// The check digits found (00..=99).
        found: u8,
    },
    /// A segregation code is not exactly two ASCII digits.
    #[error("segregation code must be 2 digits")]
    SegregationCode,
    /// An IUV base for [`NoticeNumber::generate_aux3`] does not fit in 13 digits.
    #[error("IUV base {base} does not fit in 13 digits")]
    BaseOutOfRange {
        /// The base supplied.
        base: u64,
    },
    /// An IUV is empty or longer than 35 characters.
    #[error("IUV must have 1 to 35 characters, found {found}")]
    IuvLength {
        /// Number of characters found.
        found: usize,
    },
    /// An IUV contains a character outside `[A-Za-z0-9]`.
    #[error("IUV has a character outside [A-Za-z0-9] at position {position}")]
    IuvCharacter {
        /// 1-based position of the first offending character.
        position: usize,
    },
}

impl NoticeError {
    /// A stable machine-readable code for this error, for logs, metrics and API responses.
    ///
    /// | variant | code |
    /// |---|---|
    /// | [`Length`](Self::Length) | `NOTICE_LENGTH` |
    /// | [`NonDigit`](Self::NonDigit) | `NOTICE_NON_DIGIT` |
    /// | [`UnknownAuxDigit`](Self::UnknownAuxDigit) | `NOTICE_UNKNOWN_AUX_DIGIT` |
    /// | [`CheckDigits`](Self::CheckDigits) | `NOTICE_CHECK_DIGITS` |
    /// | [`SegregationCode`](Self::SegregationCode) | `NOTICE_SEGREGATION_CODE` |
    /// | [`BaseOutOfRange`](Self::BaseOutOfRange) | `NOTICE_BASE_OUT_OF_RANGE` |
    /// | [`IuvLength`](Self::IuvLength) | `IUV_LENGTH` |
    /// | [`IuvCharacter`](Self::IuvCharacter) | `IUV_CHARACTER` |
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "NOTICE_LENGTH",
            Self::NonDigit { .. } => "NOTICE_NON_DIGIT",
            Self::UnknownAuxDigit { .. } => "NOTICE_UNKNOWN_AUX_DIGIT",
            Self::CheckDigits { .. } => "NOTICE_CHECK_DIGITS",
            Self::SegregationCode => "NOTICE_SEGREGATION_CODE",
            Self::BaseOutOfRange { .. } => "NOTICE_BASE_OUT_OF_RANGE",
            Self::IuvLength { .. } => "IUV_LENGTH",
            Self::IuvCharacter { .. } => "IUV_CHARACTER",
        }
    }
}

/// The aux digit: the first digit of a notice number, which selects its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuxDigit {
    /// `0`: single IUV generation point; a 2-digit application code follows. Withdrawn for new
    /// creditors by SACI 3.1.0, still accepted.
    Zero = 0,
    /// `1`: legacy layout (e.g. Equitalia RAV) with a 17-digit IUV and no check digits.
    One = 1,
    /// `2`: single generation point of a large creditor; 15-digit base and check digits.
    Two = 2,
    /// `3`: several generation points; 2-digit segregation code, 13-digit base, check digits.
    /// The only layout new creditors may use.
    Three = 3,
}

impl AuxDigit {
    /// The digit as a number (0..=3).
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this layout carries mod-93 check digits (every layout except 1).
    pub fn has_check_digits(self) -> bool {
        self != Self::One
    }

    fn from_ascii(b: u8) -> Option<Self> {
        match b {
            b'0' => Some(Self::Zero),
            b'1' => Some(Self::One),
            b'2' => Some(Self::Two),
            b'3' => Some(Self::Three),
            _ => None,
        }
    }
}

impl fmt::Display for AuxDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

/// A segregation code: the two digits after aux digit 3, assigned by PagoPA to each IUV
/// generation point of a creditor (00–49 intermediaries; high values reserved for national
/// services such as 99 CIE, 98 ANPR, 81 PagoPA).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegregationCode([u8; 2]);

impl SegregationCode {
    /// Parses exactly two ASCII digits.
    pub fn parse(s: &str) -> Result<Self, NoticeError> {
        match *s.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Ok(Self([a, b])),
            _ => Err(NoticeError::SegregationCode),
        }
    }

    /// Builds a segregation code from its value (0..=99).
    pub fn new(value: u8) -> Result<Self, NoticeError> {
        if value > 99 {
            return Err(NoticeError::SegregationCode);
        }
        Ok(Self([b'0' + value / 10, b'0' + value % 10]))
    }

    /// The code as a number (0..=99).
    pub fn value(self) -> u8 {
        (self.0[0] - b'0') * 10 + (self.0[1] - b'0')
    }

    /// The two digits.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
}

impl fmt::Display for SegregationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SegregationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegregationCode({})", self.as_str())
    }
}

/// An 18-digit pagoPA notice number (*codice avviso*, `noticeNumber` on the wire).
///
/// Parsing checks the layout (aux digit 0–3) and, in [`CheckMode::Strict`], the mod-93 check
/// digits. There is deliberately no `FromStr`: the caller must choose a [`CheckMode`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoticeNumber([u8; 18]);

impl NoticeNumber {
    /// Parses exactly 18 ASCII digits (no spaces; see [`crate::scan::manual`] for typed input).
    pub fn parse(s: &str, mode: CheckMode) -> Result<Self, NoticeError> {
        let digits: [u8; 18] = match s.as_bytes().try_into() {
            Ok(d) if s.bytes().all(|b| b.is_ascii_digit()) => d,
            _ => return Err(shape_error(s)),
        };
        let aux = AuxDigit::from_ascii(digits[0]).ok_or(NoticeError::UnknownAuxDigit {
            aux: digits[0] - b'0',
        })?;
        let notice = Self(digits);
        if mode == CheckMode::Strict && aux.has_check_digits() {
            let expected = mod93(&digits[..16]);
            let found = (digits[16] - b'0') * 10 + (digits[17] - b'0');
            if expected != found {
                return Err(NoticeError::CheckDigits { expected, found });
            }
        }
        Ok(notice)
    }

    /// Builds an aux-3 notice number from a segregation code and a 13-digit IUV base
    /// (`0..=9_999_999_999_999`), computing the check digits.
    ///
    /// Pure: the caller allocates the base (e.g. from a database sequence).
    pub fn generate_aux3(segregation: SegregationCode, base: u64) -> Result<Self, NoticeError> {
        if base > 9_999_999_999_999 {
            return Err(NoticeError::BaseOutOfRange { base });
        }
        let mut d = [b'0'; 18];
        d[0] = b'3';
        d[1..3].copy_from_slice(&segregation.0);
        let mut rest = base;
        for slot in d[3..16].iter_mut().rev() {
            // `rest % 10` < 10, so the cast cannot truncate.
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let check = mod93(&d[..16]);
        d[16] = b'0' + check / 10;
        d[17] = b'0' + check % 10;
        Ok(Self(d))
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }

    /// The layout selected by the first digit.
    pub fn aux_digit(&self) -> AuxDigit {
        // Parsing only admits '0'..='3'; `Three` is never reached through the fallback.
        AuxDigit::from_ascii(self.0[0]).unwrap_or(AuxDigit::Three)
    }

    /// The application code (digits 2–3) of an aux-0 notice number.
    pub fn application_code(&self) -> Option<&str> {
        (self.aux_digit() == AuxDigit::Zero).then(|| &self.as_str()[1..3])
    }

    /// The segregation code (digits 2–3) of an aux-3 notice number, as two digits.
    pub fn segregation_code(&self) -> Option<&str> {
        (self.aux_digit() == AuxDigit::Three).then(|| &self.as_str()[1..3])
    }

    /// The IUV (`creditorReferenceId`): the last 15 digits for aux 0, the last 17 otherwise.
    pub fn iuv(&self) -> Iuv {
        let start = if self.aux_digit() == AuxDigit::Zero {
            3
        } else {
            1
        };
        Iuv::from_ascii(&self.0[start..])
    }

    /// The two check digits, or `None` for aux 1 (which has none).
    pub fn check_digits(&self) -> Option<&str> {
        self.aux_digit()
            .has_check_digits()
            .then(|| &self.as_str()[16..])
    }

    /// Whether the check digits are right; `None` for aux 1. Always `Some(true)` or `None` for
    /// numbers parsed in [`CheckMode::Strict`].
    pub fn check_digit_valid(&self) -> Option<bool> {
        self.check_digits()
            .map(|cc| cc.as_bytes() == two_digits(mod93(&self.0[..16])))
    }

    /// The printed form: groups of four digits separated by spaces
    /// (`3010 0000 0000 0123 73`, 22 characters).
    pub fn grouped(&self) -> String {
        let mut out = String::with_capacity(22);
        for (i, chunk) in self.as_str().as_bytes().chunks(4).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(ascii_str(chunk));
        }
        out
    }
}

impl fmt::Display for NoticeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NoticeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoticeNumber({})", self.as_str())
    }
}

impl AsRef<str> for NoticeNumber {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// An IUV (*identificativo univoco di versamento*, `creditorReferenceId` on the wire): the
/// creditor's reference of a payment position.
///
/// [`Iuv::parse`] accepts 1 to 35 characters `[A-Za-z0-9]`, which is looser than the IUV inside
/// a notice number (15 or 17 digits): IUVs of payments started on the creditor's own portal
/// (not from a printed notice) and ISO 11649 `RF…` creditor references are alphanumeric and up to
/// 35 characters long, and they appear in receipts and reporting flows alongside notice IUVs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Iuv {
    buf: [u8; 35],
    len: u8,
}

impl Iuv {
    /// The maximum length of an IUV.
    pub const MAX_LEN: usize = 35;

    /// Parses 1 to 35 characters `[A-Za-z0-9]`.
    pub fn parse(s: &str) -> Result<Self, NoticeError> {
        if let Some(i) = s.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(NoticeError::IuvCharacter { position: i + 1 });
        }
        // All ASCII from here on, so bytes and characters coincide.
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(NoticeError::IuvLength { found: s.len() });
        }
        Ok(Self::from_ascii(s.as_bytes()))
    }

    /// Callers guarantee 1..=35 ASCII alphanumeric bytes.
    fn from_ascii(s: &[u8]) -> Self {
        let mut buf = [0; 35];
        let len = s.len().min(Self::MAX_LEN);
        buf[..len].copy_from_slice(&s[..len]);
        // `len` <= 35, so it fits in a u8.
        Self {
            buf,
            len: len as u8,
        }
    }

    /// The IUV characters.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.buf[..usize::from(self.len)])
    }
}

impl PartialOrd for Iuv {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Iuv {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for Iuv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Iuv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iuv({})", self.as_str())
    }
}

impl AsRef<str> for Iuv {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// The error for a string that is not 18 ASCII digits: a non-digit wins over a wrong length
/// because it says more about what went wrong.
fn shape_error(s: &str) -> NoticeError {
    match s.chars().position(|c| !c.is_ascii_digit()) {
        Some(i) => NoticeError::NonDigit { position: i + 1 },
        None => NoticeError::Length { found: s.len() },
    }
}

/// The ASCII digits `digits` taken as a decimal number, modulo 93. Digit by digit, so any
/// length works without overflow.
fn mod93(digits: &[u8]) -> u8 {
    // Each step keeps `r` < 93, so `r * 10 + 9` < 1000 fits in u16 and the result fits in u8.
    digits
        .iter()
        .fold(0u16, |r, &d| (r * 10 + u16::from(d - b'0')) % 93) as u8
}

fn two_digits(n: u8) -> [u8; 2] {
    [b'0' + n / 10, b'0' + n % 10]
}

/// Views bytes that this module has already checked to be ASCII as `&str`.
fn ascii_str(bytes: &[u8]) -> &str {
    // Every caller passes bytes validated as ASCII at construction, so the fallback is never
    // taken; it exists only to avoid a panic path.
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(s: &str) -> Result<NoticeNumber, NoticeError> {
        NoticeNumber::parse(s, CheckMode::Strict)
    }

    #[test]
    fn worked_example_1_real_io_vector() {
        let n = strict("300715700000000032").expect("valid aux-3 notice");
        assert_eq!(n.aux_digit(), AuxDigit::Three);
        assert_eq!(n.segregation_code(), Some("00"));
        assert_eq!(n.application_code(), None);
        assert_eq!(n.check_digits(), Some("32"));
        assert_eq!(n.check_digit_valid(), Some(true));
        assert_eq!(n.iuv().as_str(), "00715700000000032");
        assert_eq!(n.as_str(), "300715700000000032");
        assert_eq!(n.to_string(), "300715700000000032");
    }

    #[test]
    fn worked_example_2_all_layouts() {
        let n = strict("301000000000012373").expect("aux 3");
        assert_eq!(n.segregation_code(), Some("01"));
        assert_eq!(n.iuv().as_str(), "01000000000012373");
        assert_eq!(n.check_digits(), Some("73"));

        let n = strict("002000000000012317").expect("aux 0");
        assert_eq!(n.aux_digit(), AuxDigit::Zero);
        assert_eq!(n.application_code(), Some("02"));
        assert_eq!(n.segregation_code(), None);
        assert_eq!(n.iuv().as_str(), "000000000012317");
        assert_eq!(n.iuv().as_str().len(), 15);
        assert_eq!(n.check_digits(), Some("17"));

        let n = strict("200000000000012332").expect("aux 2");
        assert_eq!(n.aux_digit(), AuxDigit::Two);
        assert_eq!(n.application_code(), None);
        assert_eq!(n.segregation_code(), None);
        assert_eq!(n.iuv().as_str(), "00000000000012332");
        assert_eq!(n.check_digits(), Some("32"));
        assert_eq!(n.check_digit_valid(), Some(true));
    }

    #[test]
    fn aux_1_has_no_check_digits() {
        let n = strict("112345678901234567").expect("aux 1 has nothing to check");
        assert_eq!(n.aux_digit(), AuxDigit::One);
        assert_eq!(n.check_digits(), None);
        assert_eq!(n.check_digit_valid(), None);
        assert_eq!(n.iuv().as_str(), "12345678901234567");
        assert_eq!(n.application_code(), None);
        assert_eq!(n.segregation_code(), None);
    }

    #[test]
    fn uat_notice_fails_strict_passes_lenient() {
        assert_eq!(
            strict("311111111112222222"),
            Err(NoticeError::CheckDigits {
                expected: 47,
                found: 22
            })
        );
        let n = NoticeNumber::parse("311111111112222222", CheckMode::Lenient).expect("lenient");
        assert_eq!(n.check_digit_valid(), Some(false));
        assert_eq!(n.check_digits(), Some("22"));
        assert_eq!(n.segregation_code(), Some("11"));
    }

    #[test]
    fn check_digits_above_92_never_valid() {
        let n = NoticeNumber::parse("300715700000000099", CheckMode::Lenient).expect("lenient");
        assert_eq!(n.check_digit_valid(), Some(false));
        assert!(matches!(
            strict("300715700000000099"),
            Err(NoticeError::CheckDigits {
                expected: 32,
                found: 99
            })
        ));
    }

    #[test]
    fn shape_errors() {
        assert_eq!(strict(""), Err(NoticeError::Length { found: 0 }));
        assert_eq!(
            strict("30071570000000003"),
            Err(NoticeError::Length { found: 17 })
        );
        assert_eq!(
            strict("3007157000000000320"),
            Err(NoticeError::Length { found: 19 })
        );
        assert_eq!(
            strict("3007 157000000000032"),
            Err(NoticeError::NonDigit { position: 5 })
        );
        assert_eq!(
            strict("30071570000000003x"),
            Err(NoticeError::NonDigit { position: 18 })
        );
        // A multi-byte character of 18 characters total: position counts characters.
        assert_eq!(
            strict("3007157000000000é2"),
            Err(NoticeError::NonDigit { position: 17 })
        );
        assert_eq!(
            strict("٣٠٠٧١٥٧٠٠٠٠٠٠٠٠٠٣٢"),
            Err(NoticeError::NonDigit { position: 1 })
        );
        for aux in 4..=9u8 {
            let s = format!("{aux}00715700000000032");
            assert_eq!(strict(&s), Err(NoticeError::UnknownAuxDigit { aux }));
            assert_eq!(
                NoticeNumber::parse(&s, CheckMode::Lenient),
                Err(NoticeError::UnknownAuxDigit { aux })
            );
        }
    }

    #[test]
    fn grouped_display() {
        let n = strict("301000000000012373").expect("valid");
        assert_eq!(n.grouped(), "3010 0000 0000 0123 73");
        assert_eq!(n.grouped().len(), 22);
        assert_eq!(format!("{n:?}"), "NoticeNumber(301000000000012373)");
    }

    #[test]
    fn generate_aux3_matches_worked_examples() {
        let seg = SegregationCode::parse("01").expect("two digits");
        let n = NoticeNumber::generate_aux3(seg, 123).expect("in range");
        assert_eq!(n.as_str(), "301000000000012373");
        let n = NoticeNumber::generate_aux3(SegregationCode::new(0).expect("0"), 7_157_000_000_000)
            .expect("in range");
        assert_eq!(n.as_str(), "300715700000000032");
        let max = NoticeNumber::generate_aux3(seg, 9_999_999_999_999).expect("13 nines");
        assert_eq!(strict(max.as_str()), Ok(max));
        assert_eq!(
            NoticeNumber::generate_aux3(seg, 10_000_000_000_000),
            Err(NoticeError::BaseOutOfRange {
                base: 10_000_000_000_000
            })
        );
    }

    #[test]
    fn segregation_code() {
        assert_eq!(SegregationCode::new(7).expect("7").as_str(), "07");
        assert_eq!(SegregationCode::parse("99").expect("99").value(), 99);
        assert_eq!(SegregationCode::new(100), Err(NoticeError::SegregationCode));
        for bad in ["", "1", "123", "a1", " 1", "١٢"] {
            assert_eq!(
                SegregationCode::parse(bad),
                Err(NoticeError::SegregationCode),
                "{bad:?}"
            );
        }
        assert_eq!(format!("{}", SegregationCode::new(47).expect("47")), "47");
    }

    #[test]
    fn iuv_parse() {
        let iuv = Iuv::parse("RF18539007547034").expect("RF reference");
        assert_eq!(iuv.as_str(), "RF18539007547034");
        assert_eq!(iuv.to_string(), "RF18539007547034");
        assert_eq!(format!("{iuv:?}"), "Iuv(RF18539007547034)");
        let long = "A".repeat(35);
        assert_eq!(Iuv::parse(&long).expect("35 chars").as_str(), long);
        assert_eq!(Iuv::parse(""), Err(NoticeError::IuvLength { found: 0 }));
        assert_eq!(
            Iuv::parse(&"1".repeat(36)),
            Err(NoticeError::IuvLength { found: 36 })
        );
        assert_eq!(
            Iuv::parse("ABC-1"),
            Err(NoticeError::IuvCharacter { position: 4 })
        );
        assert_eq!(
            Iuv::parse("àb"),
            Err(NoticeError::IuvCharacter { position: 1 })
        );
        assert!(Iuv::parse("a").expect("a") < Iuv::parse("ab").expect("ab"));
    }

    #[test]
    fn notice_iuv_round_trips_through_iuv_parse() {
        let n = strict("300715700000000032").expect("valid");
        assert_eq!(Iuv::parse(n.iuv().as_str()), Ok(n.iuv()));
    }

    #[test]
    fn error_codes_are_distinct() {
        let errors = [
            NoticeError::Length { found: 1 },
            NoticeError::NonDigit { position: 1 },
            NoticeError::UnknownAuxDigit { aux: 4 },
            NoticeError::CheckDigits {
                expected: 1,
                found: 2,
            },
            NoticeError::SegregationCode,
            NoticeError::BaseOutOfRange { base: 0 },
            NoticeError::IuvLength { found: 0 },
            NoticeError::IuvCharacter { position: 1 },
        ];
        let mut codes: Vec<_> = errors.iter().map(NoticeError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(
            errors[3].to_string(),
            "notice number check digits are 02, expected 01"
        );
    }

    #[test]
    fn mod93_worked_remainders() {
        assert_eq!(mod93(b"3007157000000000"), 32);
        assert_eq!(mod93(b"3111111111122222"), 47);
        assert_eq!(mod93(b""), 0);
    }
}
