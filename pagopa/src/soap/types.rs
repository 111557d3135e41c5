//! XSD simple types (and the few small complex types) shared by PSP-side and EC-side messages.
//!
//! Each type enforces its XSD facets in its constructor, so a value that exists can always be
//! written schema-valid; the decoder goes through the same constructors, so anything parsed
//! re-serializes schema-valid too. Free text is trimmed on construction because the decoder trims
//! element text: that keeps `decode(encode(x)) == x`.

use std::fmt;

use base64::Engine as _;

use crate::amount::{Amount, AmountError};
use crate::date::DateError;
use crate::fiscal_code::FiscalCodeError;
use crate::notice::NoticeError;

use super::codec::{Leaf, ListItem, composite, xml_enum};

/// Why a value does not satisfy its XSD type. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Too short or too long (lengths count characters, as XSD does).
    #[error("lunghezza {actual} fuori dai limiti {min}..={max}")]
    Length {
        /// Minimum length allowed.
        min: usize,
        /// Maximum length allowed.
        max: usize,
        /// Length found.
        actual: usize,
    },
    /// A character XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF).
    #[error("carattere non ammesso in XML: U+{0:04X}")]
    ForbiddenChar(u32),
    /// Leading or trailing whitespace where it would be lost in transit (passwords).
    #[error("spazi iniziali o finali non ammessi")]
    SurroundingWhitespace,
    /// Does not match the XSD pattern (the pattern or a description is given).
    #[error("formato non valido, atteso {expected}")]
    Pattern {
        /// The expected form.
        expected: &'static str,
    },
    /// Not one of the values an XSD enumeration allows.
    #[error("valore {value:?} non ammesso, atteso uno tra {allowed:?}")]
    NotAllowed {
        /// The value found.
        value: String,
        /// The values allowed.
        allowed: &'static [&'static str],
    },
    /// A number outside its range.
    #[error("valore {value} fuori dall'intervallo {min}..={max}")]
    OutOfRange {
        /// The value found.
        value: i64,
        /// Minimum allowed.
        min: i64,
        /// Maximum allowed.
        max: i64,
    },
    /// A list with too few or too many items.
    #[error("{actual} elementi, ammessi da {min} a {max}")]
    Count {
        /// Minimum number of items.
        min: usize,
        /// Maximum number of items.
        max: usize,
        /// Number found.
        actual: usize,
    },
    /// Not valid base64.
    #[error("base64 non valido")]
    Base64,
    /// Not a valid amount.
    #[error(transparent)]
    Amount(#[from] AmountError),
    /// Not a valid notice number or IUV.
    #[error(transparent)]
    Notice(#[from] NoticeError),
    /// Not a valid creditor fiscal code.
    #[error(transparent)]
    FiscalCode(#[from] FiscalCodeError),
    /// Not a valid date or date-time.
    #[error(transparent)]
    Date(#[from] DateError),
}

impl ValueError {
    /// Stable machine-readable code; wrapped errors keep their own code.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::Length { .. } => "VALUE_LENGTH",
            ValueError::ForbiddenChar(_) => "VALUE_FORBIDDEN_CHAR",
            ValueError::SurroundingWhitespace => "VALUE_SURROUNDING_WHITESPACE",
            ValueError::Pattern { .. } => "VALUE_PATTERN",
            ValueError::NotAllowed { .. } => "VALUE_NOT_ALLOWED",
            ValueError::OutOfRange { .. } => "VALUE_OUT_OF_RANGE",
            ValueError::Count { .. } => "VALUE_COUNT",
            ValueError::Base64 => "VALUE_BASE64",
            ValueError::Amount(e) => e.code(),
            ValueError::Notice(e) => e.code(),
            ValueError::FiscalCode(e) => e.code(),
            ValueError::Date(e) => e.code(),
        }
    }
}

/// Characters XML 1.0 cannot carry at all, even escaped.
pub(crate) fn forbidden_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Character count of `s`, or the first character XML cannot carry.
fn checked_len(s: &str) -> Result<usize, ValueError> {
    let mut n = 0;
    for c in s.chars() {
        if forbidden_char(c) {
            return Err(ValueError::ForbiddenChar(u32::from(c)));
        }
        n += 1;
    }
    Ok(n)
}

fn check_length(s: &str, min: usize, max: usize) -> Result<(), ValueError> {
    let actual = checked_len(s)?;
    if actual < min || actual > max {
        return Err(ValueError::Length { min, max, actual });
    }
    Ok(())
}

/// Free text of `MIN..=MAX` characters (`stText35`, `stText140`...), trimmed, XML-safe.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

/// `stText16`.
pub type Text16 = Text<1, 16>;
/// `stText20`.
pub type Text20 = Text<1, 20>;
/// `stText35`: identifiers (idPSP, idChannel, idStation...) and short text.
pub type Text35 = Text<1, 35>;
/// `stText70`.
pub type Text70 = Text<1, 70>;
/// `stText140`: names, descriptions, remittance information.
pub type Text140 = Text<1, 140>;
/// `stText210`: payment notes and the verify description.
pub type Text210 = Text<1, 210>;

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// The text with surrounding whitespace removed, if its length fits and XML can carry it.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        check_length(t, MIN, MAX)?;
        Ok(Text(t.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Debug for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> AsRef<str> for Text<MIN, MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> TryFrom<&str> for Text<MIN, MAX> {
    type Error = ValueError;
    fn try_from(s: &str) -> Result<Self, ValueError> {
        Self::new(s)
    }
}

impl<const MIN: usize, const MAX: usize> std::str::FromStr for Text<MIN, MAX> {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::new(s)
    }
}

impl<const MIN: usize, const MAX: usize> Leaf for Text<MIN, MAX> {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Self::new(s)
    }
    fn write_text(&self, out: &mut String) {
        crate::xml::escape_into(out, &self.0);
    }
}

/// Implements the text plumbing for a newtype whose `as_str` returns XML-safe text.
macro_rules! text_newtype {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl TryFrom<&str> for $t {
            type Error = ValueError;
            fn try_from(s: &str) -> Result<Self, ValueError> {
                Self::new(s)
            }
        }
        impl std::str::FromStr for $t {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::new(s)
            }
        }
        impl Leaf for $t {
            fn from_text(s: &str) -> Result<Self, ValueError> {
                Self::new(s)
            }
            fn write_text(&self, out: &mut String) {
                crate::xml::escape_into(out, self.as_str());
            }
        }
    };
}

/// The session identifier the Nodo returns on activation (`stPaymentToken`, 1..35 characters;
/// in practice 32 hex digits). It is also the receipt id and the IUR in the reporting flow.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentToken(Text35);

impl PaymentToken {
    /// A token of 1..35 characters.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        Text35::new(s).map(PaymentToken)
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentToken({})", self.as_str())
    }
}

text_newtype!(PaymentToken);

impl ListItem for PaymentToken {
    const ITEM: &'static str = "paymentToken";
}

/// The key that lets an activate or an outcome be resent safely after a lost answer
/// (`stIdempotencyKey`: `[a-zA-Z0-9]{2,18}_[a-zA-Z0-9]{10}`). The rule is
/// `<PSP fiscal code>_<random>`; the caller supplies the randomness, keeping this crate pure.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

const IDEMPOTENCY_PATTERN: &str = "[a-zA-Z0-9]{2,18}_[a-zA-Z0-9]{10}";

impl IdempotencyKey {
    /// Parse a whole key.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let (prefix, suffix) = s.split_once('_').ok_or(ValueError::Pattern {
            expected: IDEMPOTENCY_PATTERN,
        })?;
        Self::new(prefix, suffix)
    }

    /// Build `<prefix>_<random_suffix>`: `prefix` is 2..18 ASCII letters or digits (the PSP's
    /// fiscal code), `random_suffix` exactly 10 random ASCII letters or digits.
    pub fn new(prefix: &str, random_suffix: &str) -> Result<Self, ValueError> {
        let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(2..=18).contains(&prefix.len())
            || random_suffix.len() != 10
            || !alnum(prefix)
            || !alnum(random_suffix)
        {
            return Err(ValueError::Pattern {
                expected: IDEMPOTENCY_PATTERN,
            });
        }
        let mut s = String::with_capacity(prefix.len() + 11);
        s.push_str(prefix);
        s.push('_');
        s.push_str(random_suffix);
        Ok(IdempotencyKey(s))
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `_` (the PSP's fiscal code).
    pub fn prefix(&self) -> &str {
        self.0.split_once('_').map_or("", |(p, _)| p)
    }

    /// The 10 random characters after `_`.
    pub fn random_suffix(&self) -> &str {
        self.0.split_once('_').map_or("", |(_, s)| s)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for IdempotencyKey {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

impl Leaf for IdempotencyKey {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

/// The channel password (`stPassword`, 8..15 characters). `Debug` never shows it and there is
/// no `Display`, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password of 8..15 characters without surrounding whitespace (which the Nodo's XML
    /// parsing would not preserve).
    pub fn new(s: &str) -> Result<Self, ValueError> {
        if s.trim() != s {
            return Err(ValueError::SurroundingWhitespace);
        }
        check_length(s, 8, 15)?;
        Ok(Password(s.to_owned()))
    }

    /// The password itself, for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Leaf for Password {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Self::new(s)
    }
    fn write_text(&self, out: &mut String) {
        crate::xml::escape_into(out, &self.0);
    }
}

/// An IBAN as the Nodo's schema checks it (`[a-zA-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}`). The mod-97
/// check is not applied: test environments use IBANs such as `IT0000000000000000000000000`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

impl Iban {
    /// Parse an IBAN in its electronic form (no spaces).
    pub fn new(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let ok = (5..=34).contains(&b.len())
            && b[..2].iter().all(u8::is_ascii_alphabetic)
            && b[2..4].iter().all(u8::is_ascii_digit)
            && b[4..].iter().all(u8::is_ascii_alphanumeric);
        if !ok {
            return Err(ValueError::Pattern {
                expected: "[a-zA-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}",
            });
        }
        Ok(Iban(s.to_owned()))
    }

    /// The IBAN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.0)
    }
}

text_newtype!(Iban);

/// Two capital letters (`stNazioneProvincia`): an ISO 3166 country (`IT`) or an Italian
/// province (`RM`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationProvinceCode([u8; 2]);

impl NationProvinceCode {
    /// Parse exactly two ASCII capital letters.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        match s.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                Ok(NationProvinceCode([a, b]))
            }
            _ => Err(ValueError::Pattern {
                expected: "[A-Z]{2}",
            }),
        }
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        // Only ASCII capitals are stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for NationProvinceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

text_newtype!(NationProvinceCode);

/// An e-mail address as the schema checks it (`stEMail`: at most 256 characters,
/// `[a-zA-Z0-9_\.\+\-]+@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parse an address.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        let err = ValueError::Pattern {
            expected: "[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+(.[a-zA-Z0-9-]+)*",
        };
        if s.len() > 256 {
            return Err(ValueError::Length {
                min: 3,
                max: 256,
                actual: s.chars().count(),
            });
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| err.clone())?;
        let local_ok = !local.is_empty()
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'));
        let label_ok =
            |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !local_ok || !domain.split('.').all(label_ok) {
            return Err(err);
        }
        Ok(Email(s.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(")?;
        write_masked(f, &self.0)?;
        f.write_str(")")
    }
}

text_newtype!(Email);

/// Index of a transfer within a payment (`stIdTransfer`, 1..=5). It is the
/// `indiceDatiSingoloPagamento` of the reporting flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(u8);

impl TransferId {
    /// A transfer index in 1..=5.
    pub fn new(n: u8) -> Result<Self, ValueError> {
        if (1..=5).contains(&n) {
            Ok(TransferId(n))
        } else {
            Err(ValueError::OutOfRange {
                value: i64::from(n),
                min: 1,
                max: 5,
            })
        }
    }

    /// The index, 1..=5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parse an `xsd:int`/`xsd:integer` lexical form (optional sign, leading zeros allowed).
pub(crate) fn parse_integer(s: &str) -> Result<i64, ValueError> {
    s.parse::<i64>().map_err(|_| ValueError::Pattern {
        expected: "un numero intero",
    })
}

impl Leaf for TransferId {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        let n = parse_integer(s)?;
        u8::try_from(n)
            .map_err(|_| ValueError::OutOfRange {
                value: n,
                min: 1,
                max: 5,
            })
            .and_then(TransferId::new)
    }
    fn write_text(&self, out: &mut String) {
        out.push(char::from(b'0' + self.0));
    }
}

/// How long the payment token stays valid, in milliseconds (`stExpirationTime`, at most
/// 1,800,000 = 30 minutes, which is also the Nodo's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpirationTime(u32);

impl ExpirationTime {
    /// The platform maximum, 30 minutes.
    pub const MAX: ExpirationTime = ExpirationTime(1_800_000);

    /// A lifetime in milliseconds, at most [`ExpirationTime::MAX`].
    pub fn from_millis(ms: u32) -> Result<Self, ValueError> {
        if ms <= Self::MAX.0 {
            Ok(ExpirationTime(ms))
        } else {
            Err(ValueError::OutOfRange {
                value: i64::from(ms),
                min: 0,
                max: i64::from(Self::MAX.0),
            })
        }
    }

    /// The lifetime in milliseconds.
    pub fn as_millis(self) -> u32 {
        self.0
    }

    /// The lifetime as a duration.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.0))
    }
}

impl Leaf for ExpirationTime {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        let n = parse_integer(s)?;
        u32::try_from(n)
            .map_err(|_| ValueError::OutOfRange {
                value: n,
                min: 0,
                max: i64::from(Self::MAX.0),
            })
            .and_then(Self::from_millis)
    }
    fn write_text(&self, out: &mut String) {
        use fmt::Write as _;
        let _ = write!(out, "{}", self.0);
    }
}

/// An amount of at least 0.01 € (`stAmountNotZero`: payment options, EC-side amounts).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NonZeroAmount(Amount);

impl NonZeroAmount {
    /// Any amount but zero.
    pub fn new(a: Amount) -> Result<Self, ValueError> {
        if a.is_zero() {
            Err(ValueError::OutOfRange {
                value: 0,
                min: 1,
                // Amount::MAX in cents fits in i64.
                max: i64::try_from(Amount::MAX.cents()).unwrap_or(i64::MAX),
            })
        } else {
            Ok(NonZeroAmount(a))
        }
    }

    /// The amount.
    pub fn get(self) -> Amount {
        self.0
    }
}

impl fmt::Debug for NonZeroAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for NonZeroAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<NonZeroAmount> for Amount {
    fn from(a: NonZeroAmount) -> Amount {
        a.0
    }
}

impl Leaf for NonZeroAmount {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Self::new(Amount::parse_nodo(s)?)
    }
    fn write_text(&self, out: &mut String) {
        self.0.write_text(out);
    }
}

/// Binary content carried as `xsd:base64Binary` (the @e.bollo `MBDAttachment`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Base64Binary(Vec<u8>);

impl Base64Binary {
    /// Wrap bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Base64Binary(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Base64Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Binary({} bytes)", self.0.len())
    }
}

/// Decode base64 text; `xsd:base64Binary` allows whitespace between characters.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, ValueError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let r = if s.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode(compact)
    } else {
        engine.decode(s)
    };
    r.map_err(|_| ValueError::Base64)
}

fn encode_base64(bytes: &[u8], out: &mut String) {
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

impl Leaf for Base64Binary {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        decode_base64(s).map(Base64Binary)
    }
    fn write_text(&self, out: &mut String) {
        encode_base64(&self.0, out);
    }
}

/// The hash of the document an @e.bollo stamp refers to (`stBase64Binary72`: base64 text of
/// 4..72 characters, so 1..54 bytes; a SHA-256 hash is 32).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DocumentHash(Vec<u8>);

impl DocumentHash {
    /// Wrap 1..=54 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ValueError> {
        if (1..=54).contains(&bytes.len()) {
            Ok(DocumentHash(bytes))
        } else {
            Err(ValueError::Length {
                min: 1,
                max: 54,
                actual: bytes.len(),
            })
        }
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DocumentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DocumentHash(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Leaf for DocumentHash {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Self::new(decode_base64(s)?)
    }
    fn write_text(&self, out: &mut String) {
        encode_base64(&self.0, out);
    }
}

/// A list of 1..=`MAX` items (the XSD's `maxOccurs` on a repeated element inside a wrapper
/// such as `transferList` or `metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// A list of 1..=MAX items.
    pub fn new(items: Vec<T>) -> Result<Self, ValueError> {
        if items.is_empty() || items.len() > MAX {
            return Err(ValueError::Count {
                min: 1,
                max: MAX,
                actual: items.len(),
            });
        }
        Ok(BoundedVec(items))
    }

    /// A list of one item.
    pub fn one(item: T) -> Self {
        BoundedVec(vec![item])
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The items, owned.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> std::ops::Deref for BoundedVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const MAX: usize> IntoIterator for &'a BoundedVec<T, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for BoundedVec<T, MAX> {
    type Error = ValueError;
    fn try_from(items: Vec<T>) -> Result<Self, ValueError> {
        Self::new(items)
    }
}

xml_enum! {
    /// Outcome of a payment or of a call (`stOutcome`).
    pub enum Outcome {
        /// `OK`
        Ok = "OK",
        /// `KO`
        Ko = "KO",
    }
}

xml_enum! {
    /// Whether a subject is a natural or a legal person (`stEntityUniqueIdentifierType`).
    pub enum EntityType {
        /// `F`: persona fisica (identified by the personal fiscal code).
        Natural = "F",
        /// `G`: persona giuridica (identified by fiscal code or VAT number).
        Legal = "G",
    }
}

xml_enum! {
    /// How an amount may differ from the one due (`stAmountOption`); pagoPA uses `EQ` today.
    pub enum AmountOption {
        /// `EQ`: exactly the amount.
        Equal = "EQ",
        /// `LS`: less than the amount.
        Less = "LS",
        /// `GT`: greater than the amount.
        Greater = "GT",
        /// `ANY`: any amount.
        Any = "ANY",
    }
}

xml_enum! {
    /// Kind of @e.bollo digital stamp (`stTipoBolloDigitale`).
    pub enum StampType {
        /// `01`: the only value defined.
        Digital = "01",
    }
}

composite! {
    /// A key/value pair the creditor attaches to a payment or transfer (`ctMapEntry`).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct MapEntry {
        /// `key`
        pub key: Text140 => "key",
        /// `value`
        pub value: Text140 => "value",
    }
}

impl ListItem for MapEntry {
    const ITEM: &'static str = "mapEntry";
}

/// `ctMetadata`: 1..15 key/value pairs ("Dizionario dei metadata").
pub type Metadata = BoundedVec<MapEntry, 15>;

composite! {
    /// The fiscal identifier of a subject (`ctEntityUniqueIdentifier`).
    #[derive(Clone, PartialEq, Eq, Hash)]
    pub struct UniqueIdentifier {
        /// `entityUniqueIdentifierType`
        pub kind: EntityType => "entityUniqueIdentifierType",
        /// `entityUniqueIdentifierValue`: fiscal code or VAT number, 2..16 characters;
        /// `ANONIMO` for an anonymous payer.
        pub value: Text<2, 16> => "entityUniqueIdentifierValue",
    }
}

impl fmt::Debug for UniqueIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.kind.as_str())?;
        write_masked(f, self.value.as_str())
    }
}

composite! {
    /// A payer or debtor (`ctSubject`). `Debug` masks every personal datum.
    #[derive(Clone, PartialEq, Eq, Hash)]
    pub struct Subject {
        /// `uniqueIdentifier`
        pub unique_identifier: UniqueIdentifier => "uniqueIdentifier",
        /// `fullName`
        pub full_name: Text70 => "fullName",
        /// `streetName`
        pub street_name: Option<Text70> => "streetName",
        /// `civicNumber`
        pub civic_number: Option<Text16> => "civicNumber",
        /// `postalCode`
        pub postal_code: Option<Text16> => "postalCode",
        /// `city`
        pub city: Option<Text35> => "city",
        /// `stateProvinceRegion`
        pub state_province_region: Option<Text35> => "stateProvinceRegion",
        /// `country`
        pub country: Option<NationProvinceCode> => "country",
        /// `e-mail`
        pub email: Option<Email> => "e-mail",
    }
}

impl Subject {
    /// A subject with only the mandatory fields.
    pub fn new(kind: EntityType, identifier: Text<2, 16>, full_name: Text70) -> Self {
        Subject {
            unique_identifier: UniqueIdentifier {
                kind,
                value: identifier,
            },
            full_name,
            street_name: None,
            civic_number: None,
            postal_code: None,
            city: None,
            state_province_region: None,
            country: None,
            email: None,
        }
    }
}

/// Keep the first two and the last character, star the rest: enough for an operator to tell
/// records apart, not enough to identify a person.
fn write_masked(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let n = s.chars().count();
    if n <= 4 {
        return f.write_str("***");
    }
    for (i, c) in s.chars().enumerate() {
        if i < 2 || i == n - 1 {
            write!(f, "{c}")?;
        } else {
            f.write_str("*")?;
        }
    }
    Ok(())
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let has_address = self.street_name.is_some()
            || self.civic_number.is_some()
            || self.postal_code.is_some()
            || self.city.is_some()
            || self.state_province_region.is_some();
        f.debug_struct("Subject")
            .field("unique_identifier", &self.unique_identifier)
            .field("full_name", &format_args!("***"))
            .field(
                "address",
                &format_args!("{}", if has_address { "***" } else { "-" }),
            )
            .field("country", &self.country)
            .field("email", &self.email)
            .finish()
    }
}

composite! {
    /// The notice as printed in its QR code (`ctQrCode`).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct QrCode {
        /// `fiscalCode`: the creditor's fiscal code.
        pub fiscal_code: crate::CreditorFiscalCode => "fiscalCode",
        /// `noticeNumber`
        pub notice_number: crate::NoticeNumber => "noticeNumber",
    }
}

composite! {
    /// A request for an @e.bollo digital stamp in place of an IBAN (`ctRichiestaMarcaDaBollo`).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct StampRequest {
        /// `hashDocumento`
        pub document_hash: DocumentHash => "hashDocumento",
        /// `tipoBollo`
        pub stamp_type: StampType => "tipoBollo",
        /// `provinciaResidenza`: the payer's province of residence.
        pub province_of_residence: NationProvinceCode => "provinciaResidenza",
    }
}

/// Where the money of a V2 transfer goes: a bank account, or an @e.bollo stamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransferDestination {
    /// `IBAN`
    Iban(Iban),
    /// `richiestaMarcaDaBollo`
    Stamp(StampRequest),
}

impl super::codec::Choice for TransferDestination {
    const NAMES: &'static [&'static str] = &["IBAN", "richiestaMarcaDaBollo"];
    const NAME: &'static str = "IBAN|richiestaMarcaDaBollo";
}

impl super::codec::Field for TransferDestination {
    fn read(el: crate::xml::El<'_, '_>, _: &'static str) -> Result<Self, super::SoapError> {
        if el.name() == "IBAN" {
            Iban::read(el, "IBAN").map(TransferDestination::Iban)
        } else {
            StampRequest::read(el, "richiestaMarcaDaBollo").map(TransferDestination::Stamp)
        }
    }

    fn write(&self, w: &mut crate::xml::Writer, _: &str) {
        match self {
            TransferDestination::Iban(i) => i.write(w, "IBAN"),
            TransferDestination::Stamp(s) => s.write(w, "richiestaMarcaDaBollo"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_counts_characters() {
        let t = Text35::new("  Comune di Sant'Oreste  ").expect("fits");
        assert_eq!(t.as_str(), "Comune di Sant'Oreste");
        assert!(Text::<1, 3>::new("àèé").is_ok(), "3 characters, 6 bytes");
        assert_eq!(
            Text::<1, 3>::new("àèéì").err().map(|e| e.code()),
            Some("VALUE_LENGTH")
        );
        assert_eq!(
            Text35::new("   ").err(),
            Some(ValueError::Length {
                min: 1,
                max: 35,
                actual: 0
            })
        );
        assert_eq!(
            Text35::new("a\u{1}b").err(),
            Some(ValueError::ForbiddenChar(1))
        );
        assert!(Text35::new("tab\tand\nnewline").is_ok());
    }

    #[test]
    fn idempotency_key_follows_the_xsd_pattern() {
        let k = IdempotencyKey::new("70000000001", "100149bdWB").expect("valid");
        assert_eq!(k.as_str(), "70000000001_100149bdWB");
        assert_eq!(k.prefix(), "70000000001");
        assert_eq!(k.random_suffix(), "100149bdWB");
        assert_eq!(IdempotencyKey::parse("70000000001_100149bdWB"), Ok(k));
        assert!(IdempotencyKey::parse("AB_0123456789").is_ok());
        assert!(IdempotencyKey::parse("ABCDEFGHIJKLMNOPQR_0123456789").is_ok());
        for bad in [
            "A_0123456789",
            "ABCDEFGHIJKLMNOPQRS_0123456789",
            "AB_012345678",
            "AB_01234567890",
            "AB-0123456789",
            "AB_01234567_9",
            "ÀB_0123456789",
            "",
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad).err().map(|e| e.code()),
                Some("VALUE_PATTERN"),
                "{bad}"
            );
        }
        assert!(IdempotencyKey::new("70000000001", "short").is_err());
    }

    #[test]
    fn password_is_never_shown() {
        let p = Password::new("s3cr3t-pass").expect("valid");
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(p.expose(), "s3cr3t-pass");
        assert!(Password::new("**********").is_ok());
        assert!(Password::new("1234567").is_err());
        assert!(Password::new("1234567890123456").is_err());
        assert_eq!(
            Password::new(" 12345678"),
            Err(ValueError::SurroundingWhitespace)
        );
    }

    #[test]
    fn small_types_check_their_facets() {
        assert!(Iban::new("IT60X0542811101000000123456").is_ok());
        assert!(Iban::new("it00a").is_ok());
        for bad in ["IT6", "I160X05428", "IT6XX", "IT60 X0542811101000000123456"] {
            assert!(Iban::new(bad).is_err(), "{bad}");
        }
        assert!(Iban::new(&format!("IT00{}", "A".repeat(30))).is_ok());
        assert!(Iban::new(&format!("IT00{}", "A".repeat(31))).is_err());
        assert!(NationProvinceCode::new("RM").is_ok());
        assert!(NationProvinceCode::new("Rm").is_err());
        assert!(NationProvinceCode::new("RMA").is_err());
        assert!(Email::new("john.doe+x@test.it").is_ok());
        assert!(Email::new("a@b").is_ok());
        for bad in ["john", "a@", "@b", "a@b..c", "a b@c.it", "a@b.c@d"] {
            assert!(Email::new(bad).is_err(), "{bad}");
        }
        assert!(TransferId::new(0).is_err());
        assert!(TransferId::new(6).is_err());
        assert_eq!(TransferId::from_text("+03").map(TransferId::get), Ok(3));
        assert!(ExpirationTime::from_millis(1_800_000).is_ok());
        assert!(ExpirationTime::from_millis(1_800_001).is_err());
        assert!(ExpirationTime::from_text("-1").is_err());
        assert!(NonZeroAmount::new(Amount::ZERO).is_err());
        assert!(DocumentHash::new(vec![]).is_err());
        assert!(DocumentHash::new(vec![0; 54]).is_ok());
        assert!(DocumentHash::new(vec![0; 55]).is_err());
        assert_eq!(
            Base64Binary::from_text("aGVs\n bG8=").map(Base64Binary::into_bytes),
            Ok(b"hello".to_vec())
        );
        assert_eq!(Base64Binary::from_text("a"), Err(ValueError::Base64));
        assert_eq!(
            BoundedVec::<u8, 5>::new(vec![]).err().map(|e| e.code()),
            Some("VALUE_COUNT")
        );
        assert!(BoundedVec::<u8, 5>::new(vec![1; 5]).is_ok());
        assert!(BoundedVec::<u8, 5>::new(vec![1; 6]).is_err());
    }

    #[test]
    fn personal_data_is_masked_in_debug() {
        let mut s = Subject::new(
            EntityType::Natural,
            Text::new("JHNDOE00A01F205N").expect("valid"),
            Text70::new("John Doe").expect("valid"),
        );
        s.city = Some(Text35::new("Roma").expect("valid"));
        s.email = Some(Email::new("john.doe@test.it").expect("valid"));
        let d = format!("{s:?}");
        for secret in [
            "JHNDOE00A01F205N",
            "John",
            "Doe",
            "Roma",
            "john.doe@test.it",
        ] {
            assert!(!d.contains(secret), "{secret} leaked in {d}");
        }
        assert!(d.contains("F:JH*************N"), "{d}");
    }

    #[test]
    fn amounts_are_written_like_display() {
        for cents in [0, 1, 9, 10, 99, 100, 3000, 123_456, Amount::MAX.cents()] {
            let a = Amount::from_cents(cents).expect("in range");
            let mut out = String::new();
            a.write_text(&mut out);
            assert_eq!(out, a.to_string());
        }
    }

    #[test]
    fn enums_round_trip_their_xml_values() {
        for o in AmountOption::ALL {
            assert_eq!(AmountOption::parse(o.as_str()), Ok(*o));
        }
        assert_eq!(
            AmountOption::parse("eq").err().map(|e| e.code()),
            Some("VALUE_NOT_ALLOWED")
        );
        assert_eq!(EntityType::Legal.to_string(), "G");
    }
}
