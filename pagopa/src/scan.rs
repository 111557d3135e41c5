//! What a scanner or a clerk reads from a printed pagoPA notice.
//!
//! A notice carries the same payment reference three ways, and each arrives here as text:
//!
//! - the **pagoPA QR code**: `PAGOPA|002|<notice 18>|<creditor fiscal code 11>|<cents 1..10>`;
//! - the **Poste Italiane Data Matrix** of the postal section: a fixed-width codeline starting
//!   `codfase=NBPA;` that also carries the postal account, the debtor and the reason;
//! - **manual entry** of the notice number and creditor fiscal code printed on the notice.
//!
//! [`decode`] takes what a scanner delivered, tolerating its framing (an AIM symbology
//! identifier such as `]Q1`, an ECI designator, surrounding spaces, CR/LF, NUL, STX/ETX), and
//! [`manual`] takes typed text. Both return a [`ScannedNotice`] or a [`ScanError`] that says in
//! plain Italian or English what the citizen should do.
//!
//! The amount in a code is informational: `verifyPaymentNotice` is authoritative. The debtor's
//! fiscal code and name are personal data, so [`ScannedNotice`]'s `Debug` masks them.

use std::fmt;

use crate::CheckMode;
use crate::amount::Amount;
use crate::fiscal_code::{CreditorFiscalCode, FiscalCodeError};
use crate::notice::{NoticeError, NoticeNumber};

/// The longest input [`decode`] and [`manual`] look at, in bytes. A Poste Data Matrix is 256
/// characters, a QR payload at most 51; the cap bounds the work done on garbage.
pub const MAX_INPUT_LEN: usize = 1024;

/// Where a [`ScannedNotice`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanFormat {
    /// The pagoPA QR code.
    Qr,
    /// The Poste Italiane Data Matrix (`codfase=NBPA;…`).
    DataMatrix,
    /// Typed by a citizen or clerk.
    Manual,
}

impl ScanFormat {
    /// A stable lowercase name: `qr`, `datamatrix`, `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qr => "qr",
            Self::DataMatrix => "datamatrix",
            Self::Manual => "manual",
        }
    }
}

impl fmt::Display for ScanFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AIM symbology identifier (ISO/IEC 15424): `]`, a code character and a modifier, which a
/// scanner configured for it puts before the data (`]Q1` QR Code, `]d1` Data Matrix ECC 200,
/// `]C0` Code 128, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbology([u8; 3]);

impl Symbology {
    /// Reads an AIM identifier at the start of `s`: `]` + an ASCII letter + an ASCII letter or
    /// digit. `None` if `s` does not start with one.
    pub fn parse_prefix(s: &str) -> Option<Self> {
        match *s.as_bytes() {
            [b']', code, modifier, ..]
                if code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
            {
                Some(Self([b']', code, modifier]))
            }
            _ => None,
        }
    }

    /// The three characters, e.g. `]Q1`.
    pub fn as_str(&self) -> &str {
        // Built only from ASCII bytes; the fallback avoids a panic path.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The code character (`Q`, `d`, `C`, …).
    pub fn code(self) -> char {
        char::from(self.0[1])
    }

    /// The modifier character (`0`–`9`, `A`–`Z`, …), whose meaning depends on the code.
    pub fn modifier(self) -> char {
        char::from(self.0[2])
    }

    /// The symbology's name, for diagnostics (`"QR Code"`, `"Data Matrix"`, …, or `"other"`).
    pub fn name(self) -> &'static str {
        match self.0[1] {
            b'Q' => "QR Code",
            b'd' => "Data Matrix",
            b'C' => "Code 128",
            b'E' => "EAN/UPC",
            b'A' => "Code 39",
            b'I' => "Interleaved 2 of 5",
            b'F' => "Codabar",
            b'G' => "Code 93",
            b'L' => "PDF417",
            b'z' => "Aztec",
            b'e' => "GS1 DataBar",
            b'U' => "MaxiCode",
            b'h' => "Han Xin",
            _ => "other",
        }
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbology({})", self.as_str())
    }
}

/// A notice read from a QR code, a Data Matrix or manual entry.
///
/// `Debug` masks the debtor's fiscal code and name and the reason (which often names the debtor
/// or an address): personal data must never reach logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ScannedNotice {
    /// Where it came from.
    pub format: ScanFormat,
    /// The notice number (*codice avviso*).
    pub notice_number: NoticeNumber,
    /// The creditor's fiscal code.
    pub fiscal_code: CreditorFiscalCode,
    /// The amount printed in the code, informational only (`verifyPaymentNotice` is
    /// authoritative). `None` for manual entry and for a zero amount, which no payable notice
    /// has (the Nodo's amounts are at least 0.01 €).
    pub amount: Option<Amount>,
    /// The AIM symbology identifier the scanner sent, if it sent one.
    pub symbology: Option<Symbology>,
    postal_account: Option<[u8; 12]>,
    debtor_fiscal_code: Option<String>,
    debtor_name: Option<String>,
    reason: Option<String>,
}

impl ScannedNotice {
    /// The Poste postal account (*conto corrente postale*, 12 digits), Data Matrix only.
    pub fn postal_account(&self) -> Option<&str> {
        self.postal_account
            .as_ref()
            .and_then(|a| std::str::from_utf8(a).ok())
    }

    /// The debtor's fiscal code (16-character personal code or 11-digit code of a legal
    /// person), Data Matrix only, `None` when blank. Personal data: see [`mask`].
    pub fn debtor_fiscal_code(&self) -> Option<&str> {
        self.debtor_fiscal_code.as_deref()
    }

    /// The debtor's name, Data Matrix only, `None` when blank. Personal data: see [`mask`].
    pub fn debtor_name(&self) -> Option<&str> {
        self.debtor_name.as_deref()
    }

    /// The reason for payment (*causale*), Data Matrix only, `None` when blank.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    fn new(
        format: ScanFormat,
        notice_number: NoticeNumber,
        fiscal_code: CreditorFiscalCode,
    ) -> Self {
        Self {
            format,
            notice_number,
            fiscal_code,
            amount: None,
            symbology: None,
            postal_account: None,
            debtor_fiscal_code: None,
            debtor_name: None,
            reason: None,
        }
    }
}

impl fmt::Debug for ScannedNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |s: &Option<String>| s.as_deref().map(mask);
        f.debug_struct("ScannedNotice")
            .field("format", &self.format)
            .field("notice_number", &self.notice_number)
            .field("fiscal_code", &self.fiscal_code)
            .field("amount", &self.amount)
            .field("symbology", &self.symbology)
            .field("postal_account", &self.postal_account())
            .field("debtor_fiscal_code", &masked(&self.debtor_fiscal_code))
            .field("debtor_name", &masked(&self.debtor_name))
            .field("reason", &masked(&self.reason))
            .finish()
    }
}

/// Masks personal data for logs: keeps the first three and last two characters and replaces the
/// rest with `*`, so `BSCMTT83A12L719R` becomes `BSC***********9R`. Strings of up to five
/// characters are masked entirely. The length is kept, which helps spot truncation.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 5 {
        return "*".repeat(n);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 3 || i >= n - 2 { c } else { '*' })
        .collect()
}

/// Why a scanned or typed notice could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// Nothing left after removing the scanner's framing or the separators.
    #[error("empty input")]
    Empty,
    /// Longer than [`MAX_INPUT_LEN`] bytes.
    #[error("input of {len} bytes exceeds the {MAX_INPUT_LEN}-byte limit")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// A control character inside the payload, or a non-ASCII character where only ASCII is
    /// allowed.
    #[error("invalid character at position {position}")]
    InvalidCharacter {
        /// 1-based character position in the input.
        position: usize,
    },
    /// The input starts with `]` but not with a well-formed AIM symbology identifier.
    #[error("malformed AIM symbology identifier")]
    SymbologyId,
    /// Neither a pagoPA QR payload nor a Poste Data Matrix.
    #[error("not a pagoPA code")]
    UnknownFormat,
    /// A pagoPA QR payload with a version other than `002`.
    #[error("unsupported pagoPA QR version {version:?}")]
    UnsupportedVersion {
        /// The version field (at most 16 characters are kept).
        version: String,
    },
    /// A pagoPA QR payload without exactly five `|`-separated fields.
    #[error("pagoPA QR payload has {found} fields, expected 5")]
    QrFieldCount {
        /// Number of fields found.
        found: usize,
    },
    /// The notice number is not valid.
    #[error("notice number: {0}")]
    Notice(#[from] NoticeError),
    /// The creditor's fiscal code is not valid.
    #[error("creditor fiscal code: {0}")]
    FiscalCode(#[from] FiscalCodeError),
    /// The amount is empty or has a character that is not a digit.
    #[error("amount is not a whole number of cents")]
    AmountMalformed,
    /// The QR amount has more than 10 digits.
    #[error("amount has {found} digits, at most 10 allowed")]
    AmountTooLong {
        /// Number of digits found.
        found: usize,
    },
    /// A Data Matrix shorter than its fixed part (through the creditor's fiscal code).
    #[error("Data Matrix truncated: {len} characters, at least 77 needed")]
    DataMatrixTruncated {
        /// Number of characters found.
        len: usize,
    },
    /// A Data Matrix whose fixed layout is broken: a length marker, the postal account, the
    /// `1P1` marker, or trailing text after the filler.
    #[error("Data Matrix layout broken at field {field}")]
    DataMatrixLayout {
        /// The field that does not match: `notice_marker`, `account_marker`,
        /// `postal_account`, `amount_marker`, `document_marker`, `1P1` or `trailer`.
        field: &'static str,
    },
    /// A Poste Data Matrix of a document type other than `896` (pagoPA notice).
    #[error("Data Matrix document type {found:?} is not 896 (pagoPA)")]
    DataMatrixDocumentType {
        /// The three-character document type found.
        found: String,
    },
}

impl ScanError {
    /// A stable machine-readable code. Wrapped notice and fiscal-code errors keep their own
    /// codes ([`NoticeError::code`], [`FiscalCodeError::code`]); the others are:
    ///
    /// | variant | code |
    /// |---|---|
    /// | [`Empty`](Self::Empty) | `SCAN_EMPTY` |
    /// | [`TooLong`](Self::TooLong) | `SCAN_TOO_LONG` |
    /// | [`InvalidCharacter`](Self::InvalidCharacter) | `SCAN_INVALID_CHARACTER` |
    /// | [`SymbologyId`](Self::SymbologyId) | `SCAN_SYMBOLOGY_ID` |
    /// | [`UnknownFormat`](Self::UnknownFormat) | `SCAN_UNKNOWN_FORMAT` |
    /// | [`UnsupportedVersion`](Self::UnsupportedVersion) | `SCAN_QR_VERSION` |
    /// | [`QrFieldCount`](Self::QrFieldCount) | `SCAN_QR_FIELD_COUNT` |
    /// | [`AmountMalformed`](Self::AmountMalformed) | `SCAN_AMOUNT_MALFORMED` |
    /// | [`AmountTooLong`](Self::AmountTooLong) | `SCAN_AMOUNT_TOO_LONG` |
    /// | [`DataMatrixTruncated`](Self::DataMatrixTruncated) | `SCAN_DATA_MATRIX_TRUNCATED` |
    /// | [`DataMatrixLayout`](Self::DataMatrixLayout) | `SCAN_DATA_MATRIX_LAYOUT` |
    /// | [`DataMatrixDocumentType`](Self::DataMatrixDocumentType) | `SCAN_DATA_MATRIX_DOCUMENT_TYPE` |
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "SCAN_EMPTY",
            Self::TooLong { .. } => "SCAN_TOO_LONG",
            Self::InvalidCharacter { .. } => "SCAN_INVALID_CHARACTER",
            Self::SymbologyId => "SCAN_SYMBOLOGY_ID",
            Self::UnknownFormat => "SCAN_UNKNOWN_FORMAT",
            Self::UnsupportedVersion { .. } => "SCAN_QR_VERSION",
            Self::QrFieldCount { .. } => "SCAN_QR_FIELD_COUNT",
            Self::Notice(e) => e.code(),
            Self::FiscalCode(e) => e.code(),
            Self::AmountMalformed => "SCAN_AMOUNT_MALFORMED",
            Self::AmountTooLong { .. } => "SCAN_AMOUNT_TOO_LONG",
            Self::DataMatrixTruncated { .. } => "SCAN_DATA_MATRIX_TRUNCATED",
            Self::DataMatrixLayout { .. } => "SCAN_DATA_MATRIX_LAYOUT",
            Self::DataMatrixDocumentType { .. } => "SCAN_DATA_MATRIX_DOCUMENT_TYPE",
        }
    }

    /// What to tell the citizen, in Italian.
    pub fn citizen_message(&self) -> String {
        self.message(Lang::It)
    }

    /// What to tell the citizen, in English.
    pub fn citizen_message_en(&self) -> String {
        self.message(Lang::En)
    }

    fn message(&self, lang: Lang) -> String {
        let pick = |it: &str, en: &str| match lang {
            Lang::It => it.to_owned(),
            Lang::En => en.to_owned(),
        };
        match self {
            Self::Empty => pick(
                "Non abbiamo letto nessun codice. Riprova.",
                "No code was read. Please try again.",
            ),
            Self::TooLong { .. } | Self::UnknownFormat => pick(
                "Questo codice non è di un avviso pagoPA. Inquadra il codice QR o il codice \
                 Data Matrix stampato sull'avviso.",
                "This is not a pagoPA notice code. Scan the QR code or the Data Matrix code \
                 printed on the notice.",
            ),
            Self::InvalidCharacter { .. } | Self::SymbologyId => pick(
                "Il codice letto contiene caratteri non validi. Riprova; se succede ancora, \
                 inserisci i dati a mano.",
                "The code read contains invalid characters. Please try again; if it happens \
                 again, enter the details by hand.",
            ),
            Self::UnsupportedVersion { .. } => pick(
                "Questo codice QR usa una versione che non conosciamo. Inserisci a mano il \
                 codice avviso e il codice fiscale dell'ente.",
                "This QR code uses a version we do not know. Enter the notice code and the \
                 creditor's fiscal code by hand.",
            ),
            Self::QrFieldCount { .. } | Self::AmountMalformed | Self::AmountTooLong { .. } => pick(
                "Il codice QR è incompleto o danneggiato. Riprova oppure inserisci i dati \
                     a mano.",
                "The QR code is incomplete or damaged. Please try again or enter the \
                     details by hand.",
            ),
            Self::DataMatrixTruncated { .. } | Self::DataMatrixLayout { .. } => pick(
                "Il codice Data Matrix è stato letto solo in parte o è danneggiato. Riprova \
                 oppure inserisci i dati a mano.",
                "The Data Matrix code was read only in part or is damaged. Please try again \
                 or enter the details by hand.",
            ),
            Self::DataMatrixDocumentType { .. } => pick(
                "Questo bollettino postale non è un avviso pagoPA e non si può pagare qui.",
                "This postal payment slip is not a pagoPA notice and cannot be paid here.",
            ),
            Self::Notice(e) => notice_message(e, lang),
            Self::FiscalCode(e) => fiscal_code_message(e, lang),
        }
    }
}

#[derive(Clone, Copy)]
enum Lang {
    It,
    En,
}

fn notice_message(e: &NoticeError, lang: Lang) -> String {
    match (e, lang) {
        (NoticeError::Length { found: 0 }, Lang::It) => "Manca il codice avviso.".to_owned(),
        (NoticeError::Length { found: 0 }, Lang::En) => "The notice code is missing.".to_owned(),
        (NoticeError::Length { found }, Lang::It) => {
            format!("Il codice avviso deve avere 18 cifre: ne abbiamo lette {found}.")
        }
        (NoticeError::Length { found }, Lang::En) => {
            format!("The notice code must have 18 digits: we read {found}.")
        }
        (NoticeError::NonDigit { .. }, Lang::It) => {
            "Il codice avviso può contenere solo cifre.".to_owned()
        }
        (NoticeError::NonDigit { .. }, Lang::En) => {
            "The notice code can contain digits only.".to_owned()
        }
        (NoticeError::UnknownAuxDigit { .. }, Lang::It) => {
            "Il codice avviso deve iniziare con 0, 1, 2 o 3: controlla di averlo copiato bene."
                .to_owned()
        }
        (NoticeError::UnknownAuxDigit { .. }, Lang::En) => {
            "The notice code must start with 0, 1, 2 or 3: check that you copied it correctly."
                .to_owned()
        }
        (NoticeError::CheckDigits { .. }, Lang::It) => {
            "Il codice avviso non è corretto: forse una cifra è sbagliata o due cifre sono \
             scambiate. Controllalo sull'avviso."
                .to_owned()
        }
        (NoticeError::CheckDigits { .. }, Lang::En) => {
            "The notice code is not correct: perhaps a digit is wrong or two digits are \
             swapped. Check it on the notice."
                .to_owned()
        }
        (_, Lang::It) => "Il codice avviso non è valido.".to_owned(),
        (_, Lang::En) => "The notice code is not valid.".to_owned(),
    }
}

fn fiscal_code_message(e: &FiscalCodeError, lang: Lang) -> String {
    match (e, lang) {
        (FiscalCodeError::Length { found: 0 }, Lang::It) => {
            "Manca il codice fiscale dell'ente creditore.".to_owned()
        }
        (FiscalCodeError::Length { found: 0 }, Lang::En) => {
            "The creditor's fiscal code is missing.".to_owned()
        }
        (FiscalCodeError::Length { found }, Lang::It) => format!(
            "Il codice fiscale dell'ente creditore deve avere 11 cifre: ne abbiamo lette {found}."
        ),
        (FiscalCodeError::Length { found }, Lang::En) => {
            format!("The creditor's fiscal code must have 11 digits: we read {found}.")
        }
        (FiscalCodeError::NonDigit { .. }, Lang::It) => {
            "Il codice fiscale dell'ente creditore può contenere solo cifre.".to_owned()
        }
        (FiscalCodeError::NonDigit { .. }, Lang::En) => {
            "The creditor's fiscal code can contain digits only.".to_owned()
        }
        (FiscalCodeError::CheckDigit { .. }, Lang::It) => {
            "Il codice fiscale dell'ente creditore non è corretto: controllalo sull'avviso."
                .to_owned()
        }
        (FiscalCodeError::CheckDigit { .. }, Lang::En) => {
            "The creditor's fiscal code is not correct: check it on the notice.".to_owned()
        }
    }
}

/// Decodes what a scanner delivered: a pagoPA QR payload or a Poste Data Matrix, optionally
/// framed by an AIM symbology identifier, an ECI designator, leading spaces/STX and trailing
/// CR, LF, spaces, NUL or ETX.
///
/// The symbology identifier is reported, not enforced: whether a kiosk requires one is the
/// scanner driver's configuration.
pub fn decode(input: &str, mode: CheckMode) -> Result<ScannedNotice, ScanError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(ScanError::TooLong { len: input.len() });
    }
    let mut data = input.trim_start_matches([' ', '\t', '\u{2}']);
    let symbology = if data.starts_with(']') {
        let s = Symbology::parse_prefix(data).ok_or(ScanError::SymbologyId)?;
        data = &data[3..];
        Some(s)
    } else {
        None
    };
    data = strip_eci(data.trim_start_matches(' '))
        .trim_end_matches([' ', '\t', '\r', '\n', '\0', '\u{3}']);
    if data.is_empty() {
        return Err(ScanError::Empty);
    }
    if let Some(i) = data.find(char::is_control) {
        return Err(invalid_at(input, data, i));
    }
    // The literals ("PAGOPA", "codfase=NBPA;", "1P1") are matched without regard to case:
    // several scanners offer a case-conversion setting (e.g. "convert to lower case") that would
    // otherwise make every notice unreadable, and the fields that matter are digits, which case
    // conversion leaves alone.
    let mut notice = if starts_with_ignore_case(data, DM_PREFIX) {
        decode_data_matrix(input, data, mode)?
    } else if data
        .split('|')
        .next()
        .is_some_and(|h| h.eq_ignore_ascii_case("PAGOPA"))
    {
        decode_qr(data, mode)?
    } else {
        return Err(ScanError::UnknownFormat);
    };
    notice.symbology = symbology;
    Ok(notice)
}

/// Reads a notice number and creditor fiscal code typed by hand. Spaces (including the
/// non-breaking spaces of text copied from a PDF) and dashes are ignored, so the printed form
/// `3010 0000 0000 0123 73` is accepted as is.
pub fn manual(
    notice: &str,
    fiscal_code: &str,
    mode: CheckMode,
) -> Result<ScannedNotice, ScanError> {
    for s in [notice, fiscal_code] {
        if s.len() > MAX_INPUT_LEN {
            return Err(ScanError::TooLong { len: s.len() });
        }
    }
    let strip = |s: &str| -> String {
        s.chars()
            .filter(|&c| !c.is_whitespace() && c != '-')
            .collect()
    };
    let notice_number = NoticeNumber::parse(&strip(notice), mode)?;
    let fiscal_code = CreditorFiscalCode::parse(&strip(fiscal_code), mode)?;
    Ok(ScannedNotice::new(
        ScanFormat::Manual,
        notice_number,
        fiscal_code,
    ))
}

/// `PAGOPA|002|<notice>|<fiscal code>|<cents>`.
fn decode_qr(data: &str, mode: CheckMode) -> Result<ScannedNotice, ScanError> {
    let mut fields = data.split('|');
    let _header = fields.next();
    let version = fields.next();
    if let Some(v) = version.filter(|&v| v != "002") {
        return Err(ScanError::UnsupportedVersion {
            version: v.chars().take(16).collect(),
        });
    }
    let (Some(notice), Some(fiscal_code), Some(amount), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(ScanError::QrFieldCount {
            found: data.split('|').count(),
        });
    };
    let notice_number = NoticeNumber::parse(notice, mode)?;
    let fiscal_code = CreditorFiscalCode::parse(fiscal_code, mode)?;
    if !amount.bytes().all(|b| b.is_ascii_digit()) || amount.is_empty() {
        return Err(ScanError::AmountMalformed);
    }
    if amount.len() > 10 {
        return Err(ScanError::AmountTooLong {
            found: amount.len(),
        });
    }
    let mut notice = ScannedNotice::new(ScanFormat::Qr, notice_number, fiscal_code);
    notice.amount = cents(amount)?;
    Ok(notice)
}

const DM_PREFIX: &str = "codfase=NBPA;";
/// The fixed part runs through the creditor's fiscal code; everything after it is right-padded
/// text that a scanner may have cut short by stripping trailing spaces.
const DM_FIXED_LEN: usize = 77;

/// The Poste Data Matrix codeline (Poste "Manuale della stampa in proprio", as implemented by
/// pagoPA's notice generator):
///
/// ```text
/// 0   codfase=NBPA;   13  literal
/// 13  18              notice number length marker, then the notice number at 15..33
/// 33  12              postal account length marker, then the account at 35..47
/// 47  10              amount length marker, then the amount in cents at 49..59
/// 59  3               document type length marker, then the type "896" at 60..63
/// 63  1P1             literal
/// 66  creditor fiscal code, 11 digits, to 77
/// 77  debtor fiscal code, 16, right-padded with spaces
/// 93  debtor name, 40, right-padded
/// 133 reason, 110, right-padded
/// 243 filler, 12 spaces, then "A" at 255 (256 characters in all)
/// ```
fn decode_data_matrix(
    input: &str,
    data: &str,
    mode: CheckMode,
) -> Result<ScannedNotice, ScanError> {
    let b = data.as_bytes();
    if let Some(i) = b.iter().take(DM_FIXED_LEN).position(|c| !c.is_ascii()) {
        return Err(invalid_at(input, data, i));
    }
    if b.len() < DM_FIXED_LEN {
        return Err(ScanError::DataMatrixTruncated {
            len: data.chars().count(),
        });
    }
    // The fixed part is ASCII (checked above), so byte offsets are character boundaries.
    let field = |from: usize, to: usize| &data[from..to];
    let literal = |from: usize, lit: &str, name: &'static str| {
        if field(from, from + lit.len()).eq_ignore_ascii_case(lit) {
            Ok(())
        } else {
            Err(ScanError::DataMatrixLayout { field: name })
        }
    };
    literal(13, "18", "notice_marker")?;
    literal(33, "12", "account_marker")?;
    literal(47, "10", "amount_marker")?;
    literal(59, "3", "document_marker")?;
    let document_type = field(60, 63);
    if document_type != "896" {
        return Err(ScanError::DataMatrixDocumentType {
            found: document_type.to_owned(),
        });
    }
    // Case-insensitive for the same reason as the "codfase" literal (see `decode`).
    literal(63, "1P1", "1P1")?;

    let notice_number = NoticeNumber::parse(field(15, 33), mode)?;
    let postal_account: [u8; 12] = match b[35..47].try_into() {
        Ok(a) if b[35..47].iter().all(u8::is_ascii_digit) => a,
        _ => {
            return Err(ScanError::DataMatrixLayout {
                field: "postal_account",
            });
        }
    };
    let amount = field(49, 59);
    if !amount.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ScanError::AmountMalformed);
    }
    let fiscal_code = CreditorFiscalCode::parse(field(66, 77), mode)?;

    // The free text may hold non-ASCII letters (a scanner may pass Latin-1 through), so it is
    // cut by characters, not bytes.
    let mut rest = &data[DM_FIXED_LEN..];
    let mut take = |n: usize| {
        let end = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(end);
        rest = tail;
        let head = head.trim();
        (!head.is_empty()).then(|| head.to_owned())
    };
    let debtor_fiscal_code = take(16);
    let debtor_name = take(40);
    let reason = take(110);
    // What remains is the filler and the closing "A", either possibly cut short.
    let trailer = rest.trim_matches(' ');
    if !(trailer.is_empty() || trailer.eq_ignore_ascii_case("A")) {
        return Err(ScanError::DataMatrixLayout { field: "trailer" });
    }

    let mut notice = ScannedNotice::new(ScanFormat::DataMatrix, notice_number, fiscal_code);
    notice.amount = cents(amount)?;
    notice.postal_account = Some(postal_account);
    notice.debtor_fiscal_code = debtor_fiscal_code;
    notice.debtor_name = debtor_name;
    notice.reason = reason;
    Ok(notice)
}

/// Digits (already checked, at most 10) to an amount; zero carries no information.
fn cents(digits: &str) -> Result<Option<Amount>, ScanError> {
    let amount = Amount::parse_cents(digits).map_err(|_| ScanError::AmountMalformed)?;
    Ok((!amount.is_zero()).then_some(amount))
}

/// Removes an ECI designator (`\` + 6 digits) that a scanner with ECI transmission enabled puts
/// before the data; pagoPA payloads are ASCII, so the encoding it announces does not matter.
fn strip_eci(data: &str) -> &str {
    match data.as_bytes() {
        [b'\\', d @ ..] if d.len() >= 6 && d[..6].iter().all(u8::is_ascii_digit) => &data[7..],
        _ => data,
    }
}

/// [`ScanError::InvalidCharacter`] for byte `i` of `data`, a subslice of `input`, as a
/// character position in `input` (what a technician sees in the raw capture).
fn invalid_at(input: &str, data: &str, i: usize) -> ScanError {
    let offset = (data.as_ptr() as usize).saturating_sub(input.as_ptr() as usize) + i;
    let before = input.get(..offset).unwrap_or(input);
    ScanError::InvalidCharacter {
        position: before.chars().count() + 1,
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN_QR: &str = "PAGOPA|002|301000000000012373|02438750586|1234";
    /// The real vector from pagopa/io-app's `decodePosteDataMatrix` test. Its name field is
    /// padded to 39 characters instead of 40 (255 characters in all), so the fixed-width name
    /// and reason come out shifted by one; the fixed fields are unaffected.
    const IO_APP_DM: &str = "codfase=NBPA;183007157000000000321200001630209310000000000138961P100085240950BSCMTT83A12L719RName Surname                           test                                                                                                                      A";

    fn strict(s: &str) -> Result<ScannedNotice, ScanError> {
        decode(s, CheckMode::Strict)
    }

    /// A Data Matrix codeline laid out exactly as Poste's generator pads it.
    fn dm(
        notice: &str,
        account: &str,
        cents: &str,
        ec: &str,
        cf: &str,
        name: &str,
        reason: &str,
    ) -> String {
        format!(
            "codfase=NBPA;18{notice}12{account}10{cents}38961P1{ec}{cf:<16}{name:<40}{reason:<110}{:12}A",
            ""
        )
    }

    fn sample_dm() -> String {
        dm(
            "300715700000000032",
            "000016302093",
            "0000000001",
            "00085240950",
            "BSCMTT83A12L719R",
            "Name Surname",
            "test",
        )
    }

    #[test]
    fn qr_golden_payload_with_aim_and_cr() {
        let n = strict(&format!("]Q1{GOLDEN_QR}\r")).expect("golden payload");
        assert_eq!(n.format, ScanFormat::Qr);
        assert_eq!(n.notice_number.as_str(), "301000000000012373");
        assert_eq!(n.fiscal_code.as_str(), "02438750586");
        assert_eq!(n.amount.map(Amount::cents), Some(1234));
        assert_eq!(n.symbology.map(|s| s.to_string()).as_deref(), Some("]Q1"));
        assert_eq!(n.postal_account(), None);
        assert_eq!(n.debtor_fiscal_code(), None);
        assert_eq!(n.debtor_name(), None);
        assert_eq!(n.reason(), None);
    }

    #[test]
    fn qr_framing_variants_all_decode_the_same() {
        let plain = strict(GOLDEN_QR).expect("plain");
        assert_eq!(plain.symbology, None);
        for framed in [
            format!("{GOLDEN_QR}\r\n"),
            format!("{GOLDEN_QR}\n"),
            format!("   {GOLDEN_QR}  \r\n"),
            format!("{GOLDEN_QR}\0"),
            format!("\u{2}{GOLDEN_QR}\u{3}\r"),
            GOLDEN_QR.replace("PAGOPA", "pagopa"),
            GOLDEN_QR.replace("PAGOPA", "PagoPA"),
        ] {
            assert_eq!(strict(&framed).as_ref(), Ok(&plain), "{framed:?}");
        }
        let eci = strict(&format!("]Q2\\000026{GOLDEN_QR}\r")).expect("ECI designator");
        assert_eq!(eci.notice_number, plain.notice_number);
        assert_eq!(eci.symbology.map(Symbology::modifier), Some('2'));
    }

    #[test]
    fn official_qr_examples() {
        // docs.pagopa.it: all zeros is a valid aux-0 notice (0 mod 93 = 00) and fiscal code.
        let n = strict("PAGOPA|002|000000000000000000|00000000000|9999").expect("docs example");
        assert_eq!(n.amount.map(Amount::cents), Some(9999));
        assert_eq!(n.notice_number.application_code(), Some("00"));
        // SANP: aux 1 (nothing to check), but the fiscal code fails its check digit.
        let sanp = "PAGOPA|002|123456789012345678|12345678901|1234567801";
        assert_eq!(
            strict(sanp),
            Err(ScanError::FiscalCode(FiscalCodeError::CheckDigit {
                expected: 3,
                found: 1
            }))
        );
        let n = decode(sanp, CheckMode::Lenient).expect("lenient");
        assert_eq!(n.amount.map(Amount::cents), Some(1_234_567_801));
        assert!(!n.fiscal_code.check_digit_valid());
        assert_eq!(n.notice_number.check_digit_valid(), None);
    }

    #[test]
    fn qr_amounts() {
        let amount = |a: &str| {
            strict(&format!("PAGOPA|002|301000000000012373|02438750586|{a}"))
                .map(|n| n.amount.map(Amount::cents))
        };
        assert_eq!(amount("5"), Ok(Some(5)));
        assert_eq!(amount("0000000001"), Ok(Some(1)));
        assert_eq!(amount("9999999999"), Ok(Some(9_999_999_999)));
        assert_eq!(amount("0"), Ok(None));
        assert_eq!(
            amount("99999999999"),
            Err(ScanError::AmountTooLong { found: 11 })
        );
        assert_eq!(amount(""), Err(ScanError::AmountMalformed));
        assert_eq!(amount("12.34"), Err(ScanError::AmountMalformed));
        assert_eq!(amount("-1"), Err(ScanError::AmountMalformed));
        assert_eq!(amount("١٢"), Err(ScanError::AmountMalformed));
    }

    #[test]
    fn qr_structure_errors() {
        assert_eq!(
            strict("PAGOPA|001|301000000000012373|02438750586|1234"),
            Err(ScanError::UnsupportedVersion {
                version: "001".into()
            })
        );
        assert_eq!(strict("PAGOPA"), Err(ScanError::QrFieldCount { found: 1 }));
        assert_eq!(
            strict("PAGOPA|002|301000000000012373"),
            Err(ScanError::QrFieldCount { found: 3 })
        );
        assert_eq!(
            strict(&format!("{GOLDEN_QR}|")),
            Err(ScanError::QrFieldCount { found: 6 })
        );
        let long_version = format!("PAGOPA|{}|1|2|3", "9".repeat(100));
        match strict(&long_version) {
            Err(ScanError::UnsupportedVersion { version }) => assert_eq!(version.len(), 16),
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }

    #[test]
    fn qr_notice_and_fiscal_code_errors() {
        let e = strict("PAGOPA|002|30100000000001237|02438750586|1234").expect_err("17 digits");
        assert_eq!(e, ScanError::Notice(NoticeError::Length { found: 17 }));
        assert_eq!(e.code(), "NOTICE_LENGTH");
        assert_eq!(
            e.citizen_message(),
            "Il codice avviso deve avere 18 cifre: ne abbiamo lette 17."
        );
        assert_eq!(
            e.citizen_message_en(),
            "The notice code must have 18 digits: we read 17."
        );

        let wrong = "PAGOPA|002|301000000000012374|02438750586|1234";
        assert_eq!(
            strict(wrong),
            Err(ScanError::Notice(NoticeError::CheckDigits {
                expected: 73,
                found: 74
            }))
        );
        let n = decode(wrong, CheckMode::Lenient).expect("lenient accepts");
        assert_eq!(n.notice_number.check_digit_valid(), Some(false));

        assert_eq!(
            strict("PAGOPA|002|501000000000012373|02438750586|1234"),
            Err(ScanError::Notice(NoticeError::UnknownAuxDigit { aux: 5 }))
        );
        assert_eq!(
            strict("PAGOPA|002|30100000000001237X|02438750586|1234"),
            Err(ScanError::Notice(NoticeError::NonDigit { position: 18 }))
        );
        assert_eq!(
            strict("PAGOPA|002|301000000000012373|77777777777|1234"),
            Err(ScanError::FiscalCode(FiscalCodeError::CheckDigit {
                expected: 0,
                found: 7
            }))
        );
        assert!(
            decode(
                "PAGOPA|002|311111111112222222|77777777777|1234",
                CheckMode::Lenient
            )
            .is_ok()
        );
        assert_eq!(
            strict("PAGOPA|002|301000000000012373|0243875058|1234"),
            Err(ScanError::FiscalCode(FiscalCodeError::Length { found: 10 }))
        );
    }

    #[test]
    fn framing_errors() {
        for empty in ["", "   ", "\r\n", "]Q1", "]Q1\r\n", "\0"] {
            assert_eq!(strict(empty), Err(ScanError::Empty), "{empty:?}");
        }
        assert_eq!(
            strict(&"P".repeat(MAX_INPUT_LEN + 1)),
            Err(ScanError::TooLong { len: 1025 })
        );
        for bad in ["]Q", "]", "]1Q1PAGOPA", "]Q|PAGOPA"] {
            assert_eq!(strict(bad), Err(ScanError::SymbologyId), "{bad:?}");
        }
        for other in [
            "hello",
            "8020301000000000012373",
            "]C0415801234567890",
            "PAGOPA2|002",
        ] {
            assert_eq!(strict(other), Err(ScanError::UnknownFormat), "{other:?}");
        }
        // Position counts characters of the raw input, AIM prefix included.
        assert_eq!(
            strict("]Q1PAGOPA|002|30100000000001\t2373|02438750586|1234"),
            Err(ScanError::InvalidCharacter { position: 29 })
        );
        assert_eq!(
            strict("€ PAGOPA|\u{7}"),
            Err(ScanError::InvalidCharacter { position: 10 })
        );
    }

    #[test]
    fn data_matrix_real_io_app_vector() {
        let n = strict(IO_APP_DM).expect("io-app vector");
        assert_eq!(n.format, ScanFormat::DataMatrix);
        assert_eq!(n.notice_number.as_str(), "300715700000000032");
        assert_eq!(n.postal_account(), Some("000016302093"));
        assert_eq!(n.amount.map(Amount::cents), Some(1));
        assert_eq!(n.fiscal_code.as_str(), "00085240950");
        assert_eq!(n.debtor_fiscal_code(), Some("BSCMTT83A12L719R"));
        // See IO_APP_DM: the vector's short name padding pulls the reason's first letter in.
        assert!(
            n.debtor_name()
                .is_some_and(|s| s.starts_with("Name Surname"))
        );
        assert_eq!(n.reason(), Some("est"));
    }

    #[test]
    fn data_matrix_full_layout() {
        let s = sample_dm();
        assert_eq!(s.len(), 256);
        let n = strict(&format!("]d1{s}\r\n")).expect("256-character codeline");
        assert_eq!(n.symbology.map(Symbology::name), Some("Data Matrix"));
        assert_eq!(n.notice_number.as_str(), "300715700000000032");
        assert_eq!(n.postal_account(), Some("000016302093"));
        assert_eq!(n.amount.map(Amount::cents), Some(1));
        assert_eq!(n.fiscal_code.as_str(), "00085240950");
        assert_eq!(n.debtor_fiscal_code(), Some("BSCMTT83A12L719R"));
        assert_eq!(n.debtor_name(), Some("Name Surname"));
        assert_eq!(n.reason(), Some("test"));
    }

    #[test]
    fn data_matrix_tolerates_cut_filler_and_blank_fields() {
        let full = sample_dm();
        let expected = strict(&full).expect("full");
        // Scanners strip trailing spaces; some generators put the "A" before the filler.
        for cut in [&full[..255], &full[..243], &full[..137]] {
            let n = strict(cut).unwrap_or_else(|e| panic!("{} chars: {e}", cut.len()));
            assert_eq!(n.notice_number, expected.notice_number);
            assert_eq!(n.debtor_name(), Some("Name Surname"));
        }
        let a_first = format!("{}A{:12}", &full[..243], "");
        assert_eq!(strict(&a_first), Ok(expected));

        let blank = dm(
            "300715700000000032",
            "000016302093",
            "0000000000",
            "00085240950",
            "",
            "",
            "",
        );
        let n = strict(&blank).expect("blank debtor");
        assert_eq!(n.amount, None);
        assert_eq!(n.debtor_fiscal_code(), None);
        assert_eq!(n.debtor_name(), None);
        assert_eq!(n.reason(), None);
        let n = strict(blank.trim_end_matches([' ', 'A'])).expect("only the fixed part");
        assert_eq!(n.fiscal_code.as_str(), "00085240950");
        assert_eq!(blank.trim_end_matches([' ', 'A']).len(), DM_FIXED_LEN);
    }

    #[test]
    fn data_matrix_text_may_hold_non_ascii_letters() {
        let s = dm(
            "300715700000000032",
            "000016302093",
            "0000001500",
            "00085240950",
            "BSCMTT83A12L719R",
            "NICOLÒ ROSSI",
            "TARI 2024 – SAldo",
        );
        let n = strict(&s).expect("Latin letters in free text");
        assert_eq!(n.debtor_name(), Some("NICOLÒ ROSSI"));
        assert_eq!(n.reason(), Some("TARI 2024 – SAldo"));
        assert_eq!(n.amount.map(Amount::cents), Some(1500));
    }

    #[test]
    fn data_matrix_errors() {
        let s = sample_dm();
        assert_eq!(
            strict(&s[..70]),
            Err(ScanError::DataMatrixTruncated { len: 70 })
        );
        assert_eq!(
            strict("codfase=NBPA;"),
            Err(ScanError::DataMatrixTruncated { len: 13 })
        );
        let patch = |at: usize, with: &str| {
            let mut t = s.clone();
            t.replace_range(at..at + with.len(), with);
            strict(&t)
        };
        let layout = |field| Err(ScanError::DataMatrixLayout { field });
        assert_eq!(patch(13, "19"), layout("notice_marker"));
        assert_eq!(patch(33, "13"), layout("account_marker"));
        assert_eq!(patch(47, "11"), layout("amount_marker"));
        assert_eq!(patch(59, "4"), layout("document_marker"));
        assert_eq!(patch(63, "1P2"), layout("1P1"));
        assert_eq!(patch(40, "X"), layout("postal_account"));
        assert_eq!(patch(250, "Z"), layout("trailer"));
        assert_eq!(
            patch(60, "674"),
            Err(ScanError::DataMatrixDocumentType {
                found: "674".into()
            })
        );
        assert_eq!(patch(55, "x"), Err(ScanError::AmountMalformed));
        assert_eq!(
            patch(32, "3"),
            Err(ScanError::Notice(NoticeError::CheckDigits {
                expected: 32,
                found: 33
            }))
        );
        assert_eq!(
            patch(76, "1"),
            Err(ScanError::FiscalCode(FiscalCodeError::CheckDigit {
                expected: 0,
                found: 1
            }))
        );
        // Non-ASCII inside the fixed part: reported at its character position.
        let mut t = s.clone();
        t.replace_range(40..41, "é");
        assert_eq!(
            strict(&t),
            Err(ScanError::InvalidCharacter { position: 41 })
        );
        // Case conversion by the scanner is tolerated on the literals.
        assert!(strict(&s.to_lowercase()).is_ok());
        // Longer than the layout allows.
        assert_eq!(
            strict(&format!("{s}  A")),
            Err(ScanError::DataMatrixLayout { field: "trailer" })
        );
    }

    #[test]
    fn manual_entry() {
        let n = manual("3010 0000 0000 0123 73", " 02438750586 ", CheckMode::Strict)
            .expect("printed form");
        assert_eq!(n.format, ScanFormat::Manual);
        assert_eq!(n.notice_number.as_str(), "301000000000012373");
        assert_eq!(n.fiscal_code.as_str(), "02438750586");
        assert_eq!(n.amount, None);
        assert_eq!(n.symbology, None);
        for typed in [
            "301000000000012373",
            "3010-0000-0000-0123-73",
            "3010\u{a0}0000\u{a0}0000\u{a0}0123\u{a0}73",
            "\t301000000000012373\n",
        ] {
            assert_eq!(
                manual(typed, "02438750586", CheckMode::Strict).map(|n| n.notice_number),
                Ok(n.notice_number),
                "{typed:?}"
            );
        }
        let e = manual("", "02438750586", CheckMode::Strict).expect_err("empty");
        assert_eq!(e.citizen_message(), "Manca il codice avviso.");
        let e = manual("3010 0000 0000 0123 37", "02438750586", CheckMode::Strict)
            .expect_err("transposed check digits");
        assert_eq!(e.code(), "NOTICE_CHECK_DIGITS");
        assert!(e.citizen_message().contains("scambiate"));
        assert!(manual("3010 0000 0000 0123 37", "02438750586", CheckMode::Lenient).is_ok());
        let e = manual("301000000000012373", "", CheckMode::Strict).expect_err("no fiscal code");
        assert_eq!(
            e.citizen_message(),
            "Manca il codice fiscale dell'ente creditore."
        );
        assert_eq!(
            manual("301000000000012373", "0243875058x", CheckMode::Strict),
            Err(ScanError::FiscalCode(FiscalCodeError::NonDigit {
                position: 11
            }))
        );
        assert_eq!(
            manual(&"1".repeat(2000), "02438750586", CheckMode::Strict),
            Err(ScanError::TooLong { len: 2000 })
        );
    }

    #[test]
    fn debug_masks_personal_data() {
        let n = strict(&sample_dm()).expect("valid");
        let debug = format!("{n:?}");
        assert!(debug.contains("BSC***********9R"), "{debug}");
        assert!(!debug.contains("BSCMTT83A12L719R"), "{debug}");
        assert!(!debug.contains("Name Surname"), "{debug}");
        assert!(debug.contains("Nam*******me"), "{debug}");
        assert!(debug.contains("300715700000000032"), "{debug}");
        assert!(debug.contains("000016302093"), "{debug}");
    }

    #[test]
    fn mask_keeps_ends_and_length() {
        assert_eq!(mask("BSCMTT83A12L719R"), "BSC***********9R");
        assert_eq!(mask("Niccolò Rossi"), "Nic********si");
        assert_eq!(mask("Rossi"), "*****");
        assert_eq!(mask("Ugo"), "***");
        assert_eq!(mask(""), "");
        assert_eq!(mask("ÀÈÌÒÙÉ").chars().count(), 6);
    }

    #[test]
    fn symbology_and_format_names() {
        let s = Symbology::parse_prefix("]C1rest").expect("Code 128");
        assert_eq!((s.code(), s.modifier(), s.name()), ('C', '1', "Code 128"));
        assert_eq!(s.as_str(), "]C1");
        assert_eq!(format!("{s:?}"), "Symbology(]C1)");
        assert_eq!(
            Symbology::parse_prefix("]Q1").map(Symbology::name),
            Some("QR Code")
        );
        assert_eq!(
            Symbology::parse_prefix("]X0").map(Symbology::name),
            Some("other")
        );
        assert_eq!(Symbology::parse_prefix("Q1"), None);
        assert_eq!(Symbology::parse_prefix("]Qé"), None);
        let names: Vec<_> = [ScanFormat::Qr, ScanFormat::DataMatrix, ScanFormat::Manual]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["qr", "datamatrix", "manual"]);
    }

    #[test]
    fn every_error_has_a_distinct_code_and_both_messages() {
        let errors = [
            ScanError::Empty,
            ScanError::TooLong { len: 2000 },
            ScanError::InvalidCharacter { position: 1 },
            ScanError::SymbologyId,
            ScanError::UnknownFormat,
            ScanError::UnsupportedVersion {
                version: "001".into(),
            },
            ScanError::QrFieldCount { found: 3 },
            ScanError::Notice(NoticeError::Length { found: 17 }),
            ScanError::Notice(NoticeError::NonDigit { position: 1 }),
            ScanError::Notice(NoticeError::UnknownAuxDigit { aux: 4 }),
            ScanError::Notice(NoticeError::CheckDigits {
                expected: 1,
                found: 2,
            }),
            ScanError::FiscalCode(FiscalCodeError::Length { found: 10 }),
            ScanError::FiscalCode(FiscalCodeError::NonDigit { position: 1 }),
            ScanError::FiscalCode(FiscalCodeError::CheckDigit {
                expected: 1,
                found: 2,
            }),
            ScanError::AmountMalformed,
            ScanError::AmountTooLong { found: 11 },
            ScanError::DataMatrixTruncated { len: 70 },
            ScanError::DataMatrixLayout { field: "1P1" },
            ScanError::DataMatrixDocumentType {
                found: "674".into(),
            },
        ];
        let mut codes: Vec<_> = errors.iter().map(ScanError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        for e in &errors {
            let (it, en) = (e.citizen_message(), e.citizen_message_en());
            assert!(it.ends_with('.') && en.ends_with('.'), "{e:?}");
            assert_ne!(it, en, "{e:?}");
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(
            ScanError::Notice(NoticeError::SegregationCode).citizen_message(),
            "Il codice avviso non è valido."
        );
    }
}
