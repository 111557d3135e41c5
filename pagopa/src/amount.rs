//! Euro amounts as integer cents.
//!
//! Money never touches a float: an [`Amount`] is a count of euro cents, and the Nodo's decimal
//! form (`\d+\.\d{2}`, at most `999999999.99`) exists only at the XML edge, parsed and formatted
//! here exactly. Every pagoPA amount is non-negative (the XSD types have no sign), so the newtype
//! holds a `u64` and arithmetic is checked against [`Amount::MAX`].

use std::fmt;

/// Why a text or number is not a valid amount. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// No text at all.
    #[error("importo mancante")]
    Empty,
    /// A minus sign: pagoPA amounts are never negative.
    #[error("importo negativo")]
    Negative,
    /// Not the `\d+\.\d{2}` form (a comma, letters, no decimals, spaces…).
    #[error("importo non valido: atteso il formato 1234.56")]
    Malformed,
    /// More than two decimal digits.
    #[error("importo con più di due decimali")]
    TooManyDecimals,
    /// Fewer than two decimal digits (`30.5`): the Nodo requires exactly two.
    #[error("importo con meno di due decimali")]
    TooFewDecimals,
    /// Above 999,999,999.99 €.
    #[error("importo oltre il massimo di 999.999.999,99 €")]
    TooLarge,
    /// A sum or difference left the valid range.
    #[error("calcolo dell'importo fuori dai limiti")]
    Overflow,
}

impl AmountError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AmountError::Empty => "AMOUNT_EMPTY",
            AmountError::Negative => "AMOUNT_NEGATIVE",
            AmountError::Malformed => "AMOUNT_MALFORMED",
            AmountError::TooManyDecimals => "AMOUNT_TOO_MANY_DECIMALS",
            AmountError::TooFewDecimals => "AMOUNT_TOO_FEW_DECIMALS",
            AmountError::TooLarge => "AMOUNT_TOO_LARGE",
            AmountError::Overflow => "AMOUNT_OVERFLOW",
        }
    }
}

/// A non-negative euro amount, in cents, at most 999,999,999.99 €.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(u64);

impl Amount {
    /// Zero euro.
    pub const ZERO: Amount = Amount(0);
    /// The largest amount any pagoPA schema allows: 999,999,999.99 €.
    pub const MAX: Amount = Amount(99_999_999_999);

    /// An amount from a number of cents.
    pub const fn from_cents(cents: u64) -> Result<Amount, AmountError> {
        if cents > Self::MAX.0 {
            Err(AmountError::TooLarge)
        } else {
            Ok(Amount(cents))
        }
    }

    /// The number of cents.
    pub const fn cents(self) -> u64 {
        self.0
    }

    /// True for zero euro (the XSDs require at least 0.01 for a payment amount).
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parse the Nodo's decimal form exactly: digits, a dot, two digits (`30.00`).
    pub fn parse_nodo(s: &str) -> Result<Amount, AmountError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(AmountError::Empty);
        }
        if b[0] == b'-' {
            return Err(AmountError::Negative);
        }
        let dot = b
            .iter()
            .position(|&c| c == b'.')
            .ok_or(AmountError::Malformed)?;
        let (int, frac) = (&b[..dot], &b[dot + 1..]);
        if int.is_empty()
            || !int.iter().all(u8::is_ascii_digit)
            || !frac.iter().all(u8::is_ascii_digit)
        {
            return Err(AmountError::Malformed);
        }
        match frac.len() {
            2 => {}
            0 | 1 => return Err(AmountError::TooFewDecimals),
            _ => return Err(AmountError::TooManyDecimals),
        }
        // Leading zeros are allowed by xsd:decimal; skip them so that length bounds the value.
        let first = int.iter().position(|&c| c != b'0').unwrap_or(int.len());
        let int = &int[first..];
        if int.len() > 9 {
            return Err(AmountError::TooLarge);
        }
        let euros = int
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        let cents = u64::from(frac[0] - b'0') * 10 + u64::from(frac[1] - b'0');
        Amount::from_cents(euros * 100 + cents)
    }

    /// Parse a whole number of cents written as digits only (`1234` = 12.34 €), as in the
    /// pagoPA QR code and the Poste Data Matrix. At most 11 significant digits.
    pub fn parse_cents(s: &str) -> Result<Amount, AmountError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(AmountError::Empty);
        }
        if b[0] == b'-' {
            return Err(AmountError::Negative);
        }
        if !b.iter().all(u8::is_ascii_digit) {
            return Err(AmountError::Malformed);
        }
        let first = b.iter().position(|&c| c != b'0').unwrap_or(b.len());
        if b.len() - first > 11 {
            return Err(AmountError::TooLarge);
        }
        let cents = b[first..]
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        Amount::from_cents(cents)
    }

    /// `self + other`, or [`AmountError::Overflow`] past [`Amount::MAX`].
    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(other.0)
            .and_then(|c| Amount::from_cents(c).ok())
            .ok_or(AmountError::Overflow)
    }

    /// `self - other`, or [`AmountError::Overflow`] below zero.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// Sum of many amounts, checked.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(items: I) -> Result<Amount, AmountError> {
        items
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }

    /// Italian display for citizens and receipts: `1.234,56 €`.
    pub fn italian(self) -> String {
        let euros = self.0 / 100;
        let cents = self.0 % 100;
        let digits = euros.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 6);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(c);
        }
        out.push(',');
        out.push(char::from(b'0' + (cents / 10) as u8));
        out.push(char::from(b'0' + (cents % 10) as u8));
        out.push_str(" €");
        out
    }
}

/// The Nodo's decimal form: `1234.56`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl std::str::FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse_nodo(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(c: u64) -> Amount {
        Amount::from_cents(c).expect("valid")
    }

    #[test]
    fn parses_and_formats_the_nodo_form() {
        for (s, c) in [
            ("0.00", 0),
            ("0.01", 1),
            ("30.00", 3000),
            ("1234.56", 123_456),
            ("007.50", 750),
            ("999999999.99", 99_999_999_999),
        ] {
            assert_eq!(Amount::parse_nodo(s), Ok(a(c)), "{s}");
        }
        assert_eq!(a(3000).to_string(), "30.00");
        assert_eq!(a(5).to_string(), "0.05");
        assert_eq!(Amount::MAX.to_string(), "999999999.99");
    }

    #[test]
    fn rejects_every_bad_form_with_its_reason() {
        use AmountError::*;
        for (s, e) in [
            ("", Empty),
            ("-1.00", Negative),
            ("30", Malformed),
            ("30,00", Malformed),
            (".50", Malformed),
            ("1e3.00", Malformed),
            (" 30.00", Malformed),
            ("30.00 ", Malformed),
            ("+30.00", Malformed),
            ("30.5", TooFewDecimals),
            ("30.", TooFewDecimals),
            ("30.001", TooManyDecimals),
            ("1000000000.00", TooLarge),
            ("99999999999999999999999.00", TooLarge),
        ] {
            assert_eq!(Amount::parse_nodo(s), Err(e.clone()), "{s:?}");
            assert!(!e.code().is_empty());
        }
    }

    #[test]
    fn parses_cents_digits() {
        assert_eq!(Amount::parse_cents("1"), Ok(a(1)));
        assert_eq!(Amount::parse_cents("0000000001"), Ok(a(1)));
        assert_eq!(Amount::parse_cents("1234567801"), Ok(a(1_234_567_801)));
        assert_eq!(Amount::parse_cents(""), Err(AmountError::Empty));
        assert_eq!(Amount::parse_cents("12a"), Err(AmountError::Malformed));
        assert_eq!(Amount::parse_cents("-5"), Err(AmountError::Negative));
        assert_eq!(
            Amount::parse_cents("100000000000"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn italian_display() {
        assert_eq!(a(0).italian(), "0,00 €");
        assert_eq!(a(7).italian(), "0,07 €");
        assert_eq!(a(123_456).italian(), "1.234,56 €");
        assert_eq!(a(100_000).italian(), "1.000,00 €");
        assert_eq!(a(99_999).italian(), "999,99 €");
        assert_eq!(Amount::MAX.italian(), "999.999.999,99 €");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(a(150).checked_add(a(250)), Ok(a(400)));
        assert_eq!(Amount::MAX.checked_add(a(1)), Err(AmountError::Overflow));
        assert_eq!(a(1).checked_sub(a(2)), Err(AmountError::Overflow));
        assert_eq!(a(5).checked_sub(a(2)), Ok(a(3)));
        assert_eq!(Amount::checked_sum([a(1), a(2), a(3)]), Ok(a(6)));
        assert_eq!(
            Amount::checked_sum([Amount::MAX, a(1)]),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount::from_cents(100_000_000_000),
            Err(AmountError::TooLarge)
        );
    }
}
