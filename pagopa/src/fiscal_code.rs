//! The 11-digit fiscal code of a creditor (*ente creditore*) or other legal person.
//!
//! pagoPA identifies the creditor of every notice by this code (`fiscalCode` on the wire, the
//! fourth field of the QR code). The XSD only asks for 11 digits; the last digit is a check digit
//! under the Agenzia delle Entrate rule shared with the *partita IVA* (a Luhn variant), which
//! catches every single-digit typo. Test environments use codes such as `77777777777` that fail
//! it, hence [`CheckMode`].

use std::fmt;

use crate::CheckMode;

/// Errors from parsing a [`CreditorFiscalCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FiscalCodeError {
    /// Not exactly 11 digits.
    #[error("fiscal code must have 11 digits, found {found} characters")]
    Length {
        /// Number of characters found.
        found: usize,
    },
    /// A character that is not an ASCII digit.
    #[error("fiscal code has a non-digit character at position {position}")]
    NonDigit {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The 11th digit is not the check digit of the first ten (strict mode only).
    #[error("fiscal code check digit is {found}, expected {expected}")]
    CheckDigit {
        /// The check digit the first ten digits call for.
        expected: u8,
        /// The check digit found.
        found: u8,
    },
}

impl FiscalCodeError {
    /// A stable machine-readable code for this error.
    ///
    /// | variant | code |
    /// |---|---|
    /// | [`Length`](Self::Length) | `FISCAL_CODE_LENGTH` |
    /// | [`NonDigit`](Self::NonDigit) | `FISCAL_CODE_NON_DIGIT` |
    /// | [`CheckDigit`](Self::CheckDigit) | `FISCAL_CODE_CHECK_DIGIT` |
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "FISCAL_CODE_LENGTH",
            Self::NonDigit { .. } => "FISCAL_CODE_NON_DIGIT",
            Self::CheckDigit { .. } => "FISCAL_CODE_CHECK_DIGIT",
        }
    }
}

/// The 11-digit numeric fiscal code of a creditor (e.g. `02438750586`, Roma Capitale).
///
/// There is deliberately no `FromStr`: the caller must choose a [`CheckMode`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditorFiscalCode([u8; 11]);

impl CreditorFiscalCode {
    /// Parses exactly 11 ASCII digits, checking the check digit in [`CheckMode::Strict`].
    pub fn parse(s: &str, mode: CheckMode) -> Result<Self, FiscalCodeError> {
        let digits: [u8; 11] = match s.as_bytes().try_into() {
            Ok(d) if s.bytes().all(|b| b.is_ascii_digit()) => d,
            _ => {
                return Err(match s.chars().position(|c| !c.is_ascii_digit()) {
                    Some(i) => FiscalCodeError::NonDigit { position: i + 1 },
                    None => FiscalCodeError::Length { found: s.len() },
                });
            }
        };
        if mode == CheckMode::Strict {
            let expected = check_digit(&digits);
            let found = digits[10] - b'0';
            if expected != found {
                return Err(FiscalCodeError::CheckDigit { expected, found });
            }
        }
        Ok(Self(digits))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored; the fallback avoids a panic path.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether the check digit is right. Always `true` for codes parsed in
    /// [`CheckMode::Strict`].
    pub fn check_digit_valid(&self) -> bool {
        check_digit(&self.0) == self.0[10] - b'0'
    }
}

impl fmt::Display for CreditorFiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditorFiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditorFiscalCode({})", self.as_str())
    }
}

impl AsRef<str> for CreditorFiscalCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// The check digit of the first ten ASCII digits: odd positions (1st, 3rd, …) count as they are,
/// even positions are doubled minus 9 when over 9; the check digit brings the sum to a multiple
/// of 10.
fn check_digit(digits: &[u8; 11]) -> u8 {
    let sum: u32 = digits[..10]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                d
            } else if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        })
        .sum();
    // The result is < 10, so it fits in a u8.
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_codes_pass_strict() {
        for code in [
            "02438750586",
            "01199250158",
            "15376371009",
            "97735020584",
            "80078750587",
            "00085240950",
        ] {
            let cf = CreditorFiscalCode::parse(code, CheckMode::Strict).expect(code);
            assert_eq!(cf.as_str(), code);
            assert_eq!(cf.to_string(), code);
            assert!(cf.check_digit_valid());
        }
    }

    #[test]
    fn uat_code_fails_strict_passes_lenient() {
        assert_eq!(
            CreditorFiscalCode::parse("77777777777", CheckMode::Strict),
            Err(FiscalCodeError::CheckDigit {
                expected: 0,
                found: 7
            })
        );
        let cf = CreditorFiscalCode::parse("77777777777", CheckMode::Lenient).expect("lenient");
        assert!(!cf.check_digit_valid());
        assert_eq!(format!("{cf:?}"), "CreditorFiscalCode(77777777777)");
    }

    #[test]
    fn all_zeros_is_valid() {
        // The official QR example uses it; 0 is its own check digit.
        assert!(CreditorFiscalCode::parse("00000000000", CheckMode::Strict).is_ok());
    }

    #[test]
    fn shape_errors() {
        let p = |s| CreditorFiscalCode::parse(s, CheckMode::Lenient);
        assert_eq!(p(""), Err(FiscalCodeError::Length { found: 0 }));
        assert_eq!(p("0243875058"), Err(FiscalCodeError::Length { found: 10 }));
        assert_eq!(
            p("024387505860"),
            Err(FiscalCodeError::Length { found: 12 })
        );
        assert_eq!(
            p("IT02438750586"),
            Err(FiscalCodeError::NonDigit { position: 1 })
        );
        assert_eq!(
            p("0243875058é"),
            Err(FiscalCodeError::NonDigit { position: 11 })
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            FiscalCodeError::Length { found: 0 }.code(),
            "FISCAL_CODE_LENGTH"
        );
        assert_eq!(
            FiscalCodeError::NonDigit { position: 1 }.code(),
            "FISCAL_CODE_NON_DIGIT"
        );
        let e = FiscalCodeError::CheckDigit {
            expected: 5,
            found: 7,
        };
        assert_eq!(e.code(), "FISCAL_CODE_CHECK_DIGIT");
        assert_eq!(e.to_string(), "fiscal code check digit is 7, expected 5");
    }

    /// Every comune of the Città metropolitana di Roma Capitale (121 codes from IPA) passes.
    #[test]
    fn all_roma_metropolitan_comuni_pass_strict() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/comuni-citta-metropolitana-roma.csv"
        );
        let csv = std::fs::read_to_string(path).expect("shared/data CSV next to the repo");
        let mut lines = csv.lines();
        let header = lines.next().expect("header");
        let column = header
            .split(',')
            .position(|c| c == "fiscal_code")
            .expect("fiscal_code column");
        let mut count = 0;
        for line in lines.filter(|l| !l.trim().is_empty()) {
            // Names contain no commas, so a plain split is enough for this file.
            let code = line.split(',').nth(column).expect("fiscal_code field");
            let cf = CreditorFiscalCode::parse(code, CheckMode::Strict)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(cf.check_digit_valid());
            count += 1;
        }
        assert_eq!(count, 121);
    }
}
