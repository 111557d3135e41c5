//! Serde codecs for the `pagopa` domain types used in the contract.
//!
//! `pagopa` is deliberately free of serde, so the JSON form of its types is decided here, once:
//! amounts are integer cents (never a decimal number, which JSON readers would turn into a float),
//! notice numbers and fiscal codes are digit strings, dates are `YYYY-MM-DD`. Use them with
//! `#[serde(with = "channel_api::wire::cents")]` and friends; each module has an `option`
//! sub-module for `Option<T>` fields.
//!
//! Notice numbers and fiscal codes are read in [`CheckMode::Lenient`]: the format is enforced
//! here, while whether a wrong check digit is acceptable is the adapter's decision (pagoPA's test
//! environment uses such codes).

use std::fmt;
use std::marker::PhantomData;

use pagopa::soap::PaymentToken;
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

/// Reads a string (borrowed when the input allows it) and parses it with `parse`.
struct ParseStr<T, F> {
    expecting: &'static str,
    parse: F,
    out: PhantomData<T>,
}

impl<T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> Visitor<'_> for ParseStr<T, F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<Er: de::Error>(self, v: &str) -> Result<T, Er> {
        (self.parse)(v).map_err(Er::custom)
    }
}

/// Deserializes a string into `T` through `parse`, without an intermediate `String`.
pub(crate) fn parse_str<'de, D, T, E, F>(
    d: D,
    expecting: &'static str,
    parse: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
    F: FnOnce(&str) -> Result<T, E>,
{
    d.deserialize_str(ParseStr {
        expecting,
        parse,
        out: PhantomData,
    })
}

/// Writes the `option` sub-module of a codec from its `serialize`/`deserialize`.
macro_rules! option_codec {
    ($ty:ty) => {
        /// The same codec for `Option<T>` (`null` or absent is `None`; use with
        /// `#[serde(default)]`).
        pub mod option {
            use serde::{Deserialize, Deserializer, Serializer};

            #[derive(serde::Deserialize)]
            #[serde(transparent)]
            struct Wrap(#[serde(with = "super")] $ty);

            /// Serializes `None` as `null`.
            pub fn serialize<S: Serializer>(v: &Option<$ty>, s: S) -> Result<S::Ok, S::Error> {
                match v {
                    Some(v) => super::serialize(v, s),
                    None => s.serialize_none(),
                }
            }

            /// Reads `null` as `None`.
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$ty>, D::Error> {
                Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
            }
        }
    };
}

/// [`Amount`] as a JSON integer of euro cents (`1050` is 10,50 €).
pub mod cents {
    use super::*;

    /// Writes the number of cents.
    pub fn serialize<S: Serializer>(v: &Amount, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.cents())
    }

    /// Reads a non-negative integer of cents, at most [`Amount::MAX`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let cents = <u64 as serde::Deserialize>::deserialize(d)?;
        Amount::from_cents(cents).map_err(de::Error::custom)
    }

    option_codec!(pagopa::Amount);
}

/// [`NoticeNumber`] as its 18 digits (no spaces).
pub mod notice_number {
    use super::*;

    /// Writes the 18 digits.
    pub fn serialize<S: Serializer>(v: &NoticeNumber, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    /// Reads 18 digits; a wrong check digit is accepted here (see the module documentation).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NoticeNumber, D::Error> {
        parse_str(d, "an 18-digit notice number", |s| {
            NoticeNumber::parse(s, CheckMode::Lenient)
        })
    }

    option_codec!(pagopa::NoticeNumber);
}

/// [`CreditorFiscalCode`] as its 11 digits.
pub mod fiscal_code {
    use super::*;

    /// Writes the 11 digits.
    pub fn serialize<S: Serializer>(v: &CreditorFiscalCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    /// Reads 11 digits; a wrong check digit is accepted here (see the module documentation).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CreditorFiscalCode, D::Error> {
        parse_str(d, "an 11-digit fiscal code", |s| {
            CreditorFiscalCode::parse(s, CheckMode::Lenient)
        })
    }

    option_codec!(pagopa::CreditorFiscalCode);
}

/// [`Date`] as `YYYY-MM-DD`.
pub mod date {
    use super::*;

    /// Writes `YYYY-MM-DD`.
    pub fn serialize<S: Serializer>(v: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads `YYYY-MM-DD`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        parse_str(d, "a date YYYY-MM-DD", Date::parse)
    }

    option_codec!(pagopa::Date);
}

/// [`PaymentToken`] as a string of 1..35 characters.
pub mod payment_token {
    use super::*;

    /// Writes the token.
    pub fn serialize<S: Serializer>(v: &PaymentToken, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    /// Reads a token of 1..35 characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PaymentToken, D::Error> {
        parse_str(d, "a payment token", PaymentToken::new)
    }

    option_codec!(pagopa::soap::PaymentToken);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "cents")]
        amount: Amount,
        #[serde(with = "cents::option", default)]
        fee: Option<Amount>,
        #[serde(with = "notice_number")]
        notice: NoticeNumber,
        #[serde(with = "fiscal_code")]
        creditor: CreditorFiscalCode,
        #[serde(with = "date::option", default)]
        due: Option<Date>,
    }

    fn sample() -> Sample {
        Sample {
            amount: Amount::from_cents(1050).expect("valid"),
            fee: None,
            notice: NoticeNumber::parse("300715700000000032", CheckMode::Strict).expect("valid"),
            creditor: CreditorFiscalCode::parse("00085240950", CheckMode::Strict).expect("valid"),
            due: Some(Date::new(2025, 3, 31).expect("valid")),
        }
    }

    #[test]
    fn amounts_are_integer_cents_and_codes_are_strings() {
        let json = serde_json::to_string(&sample()).expect("serializes");
        assert_eq!(
            json,
            r#"{"amount":1050,"fee":null,"notice":"300715700000000032","creditor":"00085240950","due":"2025-03-31"}"#
        );
        let back: Sample = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, sample());
    }

    #[test]
    fn absent_optional_fields_are_none() {
        let back: Sample = serde_json::from_str(
            r#"{"amount":1,"notice":"300715700000000032","creditor":"00085240950"}"#,
        )
        .expect("parses");
        assert_eq!(back.fee, None);
        assert_eq!(back.due, None);
    }

    #[test]
    fn decimal_and_negative_amounts_are_rejected() {
        for bad in ["10.5", "-1", "\"1050\"", "100000000000"] {
            let json = format!(
                r#"{{"amount":{bad},"notice":"300715700000000032","creditor":"00085240950"}}"#
            );
            let err = serde_json::from_str::<Sample>(&json).expect_err(bad);
            assert!(
                err.to_string().contains("amount") || err.is_data(),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn test_environment_codes_pass_the_format_check_only() {
        let json = r#"{"amount":1,"notice":"311111111112222222","creditor":"77777777777"}"#;
        let s: Sample = serde_json::from_str(json).expect("lenient");
        assert_eq!(s.notice.check_digit_valid(), Some(false));
        assert!(!s.creditor.check_digit_valid());
        let bad = r#"{"amount":1,"notice":"3111111111122222","creditor":"77777777777"}"#;
        assert!(serde_json::from_str::<Sample>(bad).is_err());
    }
}
