//! Flow identifiers and the SEPA remittance information of a riversamento.
//!
//! A PSP pays each creditor (EC) one cumulative SEPA credit transfer per rendicontazione flow,
//! and the transfer's unstructured remittance (AT-05, 140 characters) names the flow:
//! `/PUR/LGPE-RIVERSAMENTO/TXT/0/URI/<identificativoFlusso>`. The EC reconciles its treasury
//! statement by reading the flow id back out of that text, which banks mangle: treasury records
//! prefix it (`RI3:`, `RI1 `), Poste appends `ACCREDITO BOLLETTINO P.A.`, older PSPs still write
//! the SANP form without `/TXT/n` or SACI 1.4.0's `Cumulativo pagamenti del <aaaammgg>`, some
//! lowercase everything or add spaces, and intermediate banks truncate the id (pagopa-api#272).
//! This module builds the canonical form and parses all of those, reporting a visibly cut id as
//! [`RemittanceError::Truncated`] instead of handing back a wrong id.

use std::fmt;

use crate::date::{Date, DateError};

/// The longest flow identifier (`stIdentificativoFlusso`, `[a-zA-Z0-9\-_]{1,35}`).
pub const FLOW_ID_MAX_LEN: usize = 35;

/// Length of the `YYYY-MM-DD` prefix.
const DATE_LEN: usize = 10;

/// Why a text is not a valid flow identifier. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowIdError {
    /// No text at all.
    #[error("identificativo flusso mancante")]
    Empty,
    /// More than 35 characters.
    #[error("identificativo flusso di {len} caratteri (massimo 35)")]
    TooLong {
        /// Length found, in characters.
        len: usize,
    },
    /// A character outside `[A-Za-z0-9_-]`.
    #[error("carattere non ammesso {ch:?} nell'identificativo flusso (posizione {pos})")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its 0-based character position.
        pos: usize,
    },
    /// The first ten characters are not a real `YYYY-MM-DD` date.
    #[error("l'identificativo flusso non inizia con una data AAAA-MM-GG valida")]
    BadDate(#[source] DateError),
    /// Nothing follows the date: the sender (idPSP) and the progressive are missing.
    #[error("l'identificativo flusso non contiene il mittente dopo la data")]
    NoSender,
    /// [`FlowId::new`] was given an empty idPSP.
    #[error("idPSP vuoto")]
    EmptyPsp,
    /// [`FlowId::new`] was given an empty suffix.
    #[error("progressivo del flusso vuoto")]
    EmptySuffix,
}

impl FlowIdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FlowIdError::Empty => "FLOW_ID_EMPTY",
            FlowIdError::TooLong { .. } => "FLOW_ID_TOO_LONG",
            FlowIdError::InvalidChar { .. } => "FLOW_ID_INVALID_CHAR",
            FlowIdError::BadDate(_) => "FLOW_ID_BAD_DATE",
            FlowIdError::NoSender => "FLOW_ID_NO_SENDER",
            FlowIdError::EmptyPsp => "FLOW_ID_EMPTY_PSP",
            FlowIdError::EmptySuffix => "FLOW_ID_EMPTY_SUFFIX",
        }
    }
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A rendicontazione flow identifier (`identificativoFlusso`): `<YYYY-MM-DD><idPSP>-<suffix>`,
/// e.g. `2024-07-26PPAYITR1XXX-S2024072601`.
///
/// [`FlowId::parse`] enforces the schema pattern `[a-zA-Z0-9\-_]{1,35}` plus a real date in the
/// first ten characters (the Nodo rejects other ids with `PPT_SEMANTICA`), and at least one
/// character after it. It does **not** split the rest into idPSP and suffix: both may contain
/// `-`, so `2024-01-01AB-CD-EF` is ambiguous. Ask with the PSP you expect instead
/// ([`FlowId::suffix_for`]), or take the undivided rest ([`FlowId::sender_suffix`]). The dash
/// itself is not required when parsing, because flows such as `2017-09-11IDPSPFNZrend01` exist.
///
/// Ids are case-sensitive; compare them as given.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    id: String,
    date: Date,
}

impl FlowId {
    /// Build `<date><id_psp>-<suffix>`. Both parts must be non-empty, use only `[A-Za-z0-9_-]`,
    /// and the whole id must fit in 35 characters.
    pub fn new(date: Date, id_psp: &str, suffix: &str) -> Result<FlowId, FlowIdError> {
        if id_psp.is_empty() {
            return Err(FlowIdError::EmptyPsp);
        }
        if suffix.is_empty() {
            return Err(FlowIdError::EmptySuffix);
        }
        let id = format!("{date}{id_psp}-{suffix}");
        FlowId::parse(&id)
    }

    /// Parse and validate an identifier (no surrounding whitespace allowed).
    pub fn parse(s: &str) -> Result<FlowId, FlowIdError> {
        if s.is_empty() {
            return Err(FlowIdError::Empty);
        }
        if let Some((pos, ch)) = s
            .chars()
            .enumerate()
            .find(|&(_, c)| !u8::try_from(c).is_ok_and(is_id_byte))
        {
            return Err(FlowIdError::InvalidChar { ch, pos });
        }
        // All ASCII from here on, so bytes are characters.
        if s.len() > FLOW_ID_MAX_LEN {
            return Err(FlowIdError::TooLong { len: s.len() });
        }
        let date = s
            .get(..DATE_LEN)
            .ok_or(FlowIdError::BadDate(DateError::Malformed))
            .and_then(|d| Date::parse(d).map_err(FlowIdError::BadDate))?;
        if s.len() == DATE_LEN {
            return Err(FlowIdError::NoSender);
        }
        Ok(FlowId {
            id: s.to_owned(),
            date,
        })
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The date it starts with (by convention the settlement date, dataRegolamento).
    pub fn date(&self) -> Date {
        self.date
    }

    /// Everything after the date: `<idPSP>-<suffix>`, undivided.
    pub fn sender_suffix(&self) -> &str {
        &self.id[DATE_LEN..]
    }

    /// The suffix, if this id was issued by `id_psp` (i.e. it reads `<date><id_psp>-<suffix>`
    /// with a non-empty suffix). This is the unambiguous way to split an id: the caller knows
    /// the sender from the flow's `istitutoMittente` or the SOAP `identificativoPSP`.
    pub fn suffix_for(&self, id_psp: &str) -> Option<&str> {
        self.sender_suffix()
            .strip_prefix(id_psp)?
            .strip_prefix('-')
            .filter(|s| !s.is_empty())
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowId({})", self.id)
    }
}

impl std::str::FromStr for FlowId {
    type Err = FlowIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FlowId::parse(s)
    }
}

impl AsRef<str> for FlowId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// Why a remittance text does not yield a flow id. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemittanceError {
    /// No `LGPE-RIVERSAMENTO` tag: this credit is not a pagoPA riversamento.
    #[error("causale senza LGPE-RIVERSAMENTO: non è un riversamento pagoPA")]
    NotRiversamento,
    /// The tag is there but `/URI/<id>` is not where it belongs.
    #[error("causale LGPE-RIVERSAMENTO senza /URI/")]
    MissingUri,
    /// The text was cut before the flow id was complete (pagopa-api#272). `partial` holds what
    /// is left, for a manual or prefix search among the flows received.
    #[error("causale troncata: identificativo flusso incompleto {partial:?}")]
    Truncated {
        /// The beginning of the id, possibly empty.
        partial: String,
    },
    /// The `/TXT/n/` progressive is not a single digit.
    #[error("progressivo /TXT/ non valido: atteso 0-9")]
    BadProgressive,
    /// The text after `/URI/` is not a flow id (and not merely a cut one).
    #[error("identificativo flusso non valido nella causale: {0}")]
    BadFlowId(#[source] FlowIdError),
}

impl RemittanceError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RemittanceError::NotRiversamento => "REMITTANCE_NOT_RIVERSAMENTO",
            RemittanceError::MissingUri => "REMITTANCE_MISSING_URI",
            RemittanceError::Truncated { .. } => "REMITTANCE_TRUNCATED",
            RemittanceError::BadProgressive => "REMITTANCE_BAD_PROGRESSIVE",
            RemittanceError::BadFlowId(_) => "REMITTANCE_BAD_FLOW_ID",
        }
    }
}

/// The remittance information (AT-05) of a riversamento credit transfer.
///
/// Built as `/PUR/LGPE-RIVERSAMENTO/TXT/<n>/URI/<id>` (current SACI: `n` = 0 for the ordinary
/// transfer, 1–9 for integrative ones after a technical anomaly), or in the older SANP form
/// `/PUR/LGPE-RIVERSAMENTO/URI/<id>` ([`Remittance::legacy`]). At most 68 characters, well within
/// the 140 allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Remittance {
    flow_id: FlowId,
    progressive: Option<u8>,
}

impl Remittance {
    /// The ordinary transfer of a flow: `/TXT/0/`.
    pub fn ordinary(flow_id: FlowId) -> Remittance {
        Remittance {
            flow_id,
            progressive: Some(0),
        }
    }

    /// The `n`-th integrative transfer (1–9) of a flow.
    pub fn integrative(flow_id: FlowId, n: u8) -> Result<Remittance, RemittanceError> {
        if !(1..=9).contains(&n) {
            return Err(RemittanceError::BadProgressive);
        }
        Ok(Remittance {
            flow_id,
            progressive: Some(n),
        })
    }

    /// The SANP form without `/TXT/n/`, still the most common one in bank statements.
    pub fn legacy(flow_id: FlowId) -> Remittance {
        Remittance {
            flow_id,
            progressive: None,
        }
    }

    /// The flow this transfer settles.
    pub fn flow_id(&self) -> &FlowId {
        &self.flow_id
    }

    /// The `/TXT/n/` progressive: `Some(0)` ordinary, `Some(1..=9)` integrative, `None` when
    /// the text did not say (SANP form).
    pub fn progressive(&self) -> Option<u8> {
        self.progressive
    }

    /// `Some(n)` for the n-th integrative transfer, `None` for an ordinary (or unnumbered) one.
    pub fn integrative_number(&self) -> Option<u8> {
        self.progressive.filter(|&n| n > 0)
    }

    /// The canonical text.
    pub fn build(&self) -> String {
        match self.progressive {
            Some(n) => format!("/PUR/LGPE-RIVERSAMENTO/TXT/{n}/URI/{}", self.flow_id),
            None => format!("/PUR/LGPE-RIVERSAMENTO/URI/{}", self.flow_id),
        }
    }

    /// Read a remittance as found in a bank or treasury statement.
    ///
    /// Tolerated: any text before the tag (`RI3:`, `RI1 `), any case, blanks around the
    /// separators, the SANP and SACI 1.4.0 forms (`Cumulativo` is read as progressive 0,
    /// `Integrativo<n>` as n), other text or segments between the tag and `/URI/`, and any text
    /// after the id (it ends at the first character that cannot belong to an id). The id keeps
    /// the case it was written in.
    ///
    /// An id that is visibly cut, that is shorter than its `YYYY-MM-DD` date and still shaped
    /// like one (`2`, `2024-05-2`) or missing altogether at the end of the text, gives
    /// [`RemittanceError::Truncated`]. A cut that happens to leave a well-formed id cannot be
    /// seen here: when such an id matches no flow, look for flows that start with it.
    pub fn parse(s: &str) -> Result<Remittance, RemittanceError> {
        let b = s.as_bytes();
        let mut from = 0;
        let mut last_err = RemittanceError::NotRiversamento;
        while let Some(at) = find_ci(&b[from..], b"LGPE").map(|i| from + i) {
            match parse_after_tag(s, at + 4) {
                Ok(r) => return Ok(r),
                Err(RemittanceError::NotRiversamento) => {}
                Err(e) => last_err = e,
            }
            from = at + 4;
        }
        Err(last_err)
    }
}

impl fmt::Display for Remittance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.build())
    }
}

/// Case-insensitive search of an ASCII needle.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// A cursor over the remittance text, matching case-insensitively and skipping blanks.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

enum Eat {
    Yes,
    No,
    /// The text ended while it still agreed with the literal.
    End,
}

impl Cursor<'_> {
    fn blanks(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn eat(&mut self, lit: &[u8]) -> Eat {
        self.blanks();
        let rest = &self.b[self.i..];
        let n = rest.len().min(lit.len());
        if !rest[..n].eq_ignore_ascii_case(&lit[..n]) {
            return Eat::No;
        }
        if n < lit.len() {
            return Eat::End;
        }
        self.i += n;
        Eat::Yes
    }
}

/// Shorthand: `Eat::End` becomes a truncation with nothing of the id.
fn need(e: Eat) -> Result<bool, RemittanceError> {
    match e {
        Eat::Yes => Ok(true),
        Eat::No => Ok(false),
        Eat::End => Err(RemittanceError::Truncated {
            partial: String::new(),
        }),
    }
}

/// Match the rest of the tag after `LGPE`, then the optional progressive, then `/URI/<id>`.
fn parse_after_tag(s: &str, start: usize) -> Result<Remittance, RemittanceError> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: start,
    };
    need(c.eat(b"-"))?;
    if !need(c.eat(b"RIVERSAMENTO"))? {
        return Err(RemittanceError::NotRiversamento);
    }
    let mut progressive = None;
    // Whether a segment was neither `/TXT/n` nor `/URI/`: then running out of text means the
    // URI is missing rather than cut off.
    let mut unknown = false;
    loop {
        c.blanks();
        if c.at_end() {
            return Err(if unknown {
                RemittanceError::MissingUri
            } else {
                RemittanceError::Truncated {
                    partial: String::new(),
                }
            });
        }
        if need(c.eat(b"/"))? {
            if need(c.eat(b"URI"))? {
                if need(c.eat(b"/"))? {
                    c.blanks();
                    let id_start = c.i;
                    while c.b.get(c.i).copied().is_some_and(is_id_byte) {
                        c.i += 1;
                    }
                    let token = &s[id_start..c.i];
                    return flow_id_from_token(token, c.at_end()).map(|flow_id| Remittance {
                        flow_id,
                        progressive,
                    });
                }
            } else if need(c.eat(b"TXT"))? && need(c.eat(b"/"))? {
                c.blanks();
                progressive = Some(single_digit(&mut c)?);
                continue;
            }
            unknown = true;
            continue;
        }
        // Free text up to the next '/': SACI 1.4.0's "Cumulativo pagamenti del 20240102" or
        // "Integrativo3 …", or whatever a bank put there (a date written 02/01/2024 spans
        // several segments).
        let end = c.b[c.i..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(c.b.len(), |p| c.i + p);
        let text = &c.b[c.i..end];
        if let Some(p) = find_ci(text, b"INTEGRATIVO") {
            let mut d = Cursor {
                b: text,
                i: p + b"INTEGRATIVO".len(),
            };
            d.blanks();
            if let Ok(n) = single_digit(&mut d) {
                progressive = Some(n);
            }
        } else if find_ci(text, b"CUMULATIVO").is_some() {
            progressive = Some(0);
        } else {
            unknown = true;
        }
        c.i = end;
    }
}

fn single_digit(c: &mut Cursor<'_>) -> Result<u8, RemittanceError> {
    let Some(&d) = c.b.get(c.i).filter(|d| d.is_ascii_digit()) else {
        return Err(if c.at_end() {
            RemittanceError::Truncated {
                partial: String::new(),
            }
        } else {
            RemittanceError::BadProgressive
        });
    };
    c.i += 1;
    if c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
        return Err(RemittanceError::BadProgressive);
    }
    Ok(d - b'0')
}

/// True when `token` could be the beginning of a date prefix `DDDD-DD-DD` but is not all of it.
fn is_cut_date(token: &str) -> bool {
    const SHAPE: &[u8; DATE_LEN] = b"9999-99-99";
    token.len() < DATE_LEN
        && token.bytes().zip(SHAPE.iter()).all(|(b, &s)| {
            if s == b'9' {
                b.is_ascii_digit()
            } else {
                b == s
            }
        })
}

fn flow_id_from_token(token: &str, at_end: bool) -> Result<FlowId, RemittanceError> {
    if token.is_empty() && at_end {
        return Err(RemittanceError::Truncated {
            partial: String::new(),
        });
    }
    FlowId::parse(token).map_err(|e| {
        if !token.is_empty() && is_cut_date(token) {
            RemittanceError::Truncated {
                partial: token.to_owned(),
            }
        } else {
            RemittanceError::BadFlowId(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> FlowId {
        FlowId::parse(s).expect("valid flow id")
    }

    #[test]
    fn flow_ids_parse_with_their_date() {
        for s in [
            "2021-11-21ABI00000-AABB648200001295",
            "2015-07-15xxxxxxxx-0000000001",
            "2024-07-26PPAYITR1XXX-S2024072601",
            "2025-01-0188888888888-0001",
            "2017-09-11IDPSPFNZrend01",
            "2024-02-29A",
        ] {
            let f = id(s);
            assert_eq!(f.as_str(), s);
            assert_eq!(f.to_string(), s);
            assert_eq!(&f.date().to_string(), &s[..10]);
        }
        assert_eq!(
            id("2025-01-0188888888888-0001").sender_suffix(),
            "88888888888-0001"
        );
    }

    #[test]
    fn flow_ids_reject_with_reasons() {
        use FlowIdError::*;
        let long = format!("2024-01-01{}", "A".repeat(26));
        for (s, code) in [
            ("", Empty.code()),
            (long.as_str(), "FLOW_ID_TOO_LONG"),
            ("2024-01-01AB CD-1", "FLOW_ID_INVALID_CHAR"),
            ("2024-01-01AB.CD-1", "FLOW_ID_INVALID_CHAR"),
            ("2024-01-01àB-1", "FLOW_ID_INVALID_CHAR"),
            ("70000000001-9999", "FLOW_ID_BAD_DATE"),
            ("2023-02-29PSP-1", "FLOW_ID_BAD_DATE"),
            ("201-09-12IDPSPFNZ-ciao123", "FLOW_ID_BAD_DATE"),
            ("2024-01", "FLOW_ID_BAD_DATE"),
            ("2024-01-01", NoSender.code()),
        ] {
            let e = FlowId::parse(s).expect_err(s);
            assert_eq!(e.code(), code, "{s:?}: {e}");
        }
        assert_eq!(
            FlowId::parse("2024-01-01ab#1"),
            Err(InvalidChar { ch: '#', pos: 12 })
        );
        assert_eq!(FlowId::parse(&long), Err(TooLong { len: 36 }));
    }

    #[test]
    fn new_builds_and_splits_by_known_psp() {
        let d = Date::new(2024, 5, 21).expect("date");
        let f = FlowId::new(d, "60000000001", "17163317305").expect("id");
        assert_eq!(f.as_str(), "2024-05-2160000000001-17163317305");
        assert_eq!(f.date(), d);
        assert_eq!(f.suffix_for("60000000001"), Some("17163317305"));
        assert_eq!(f.suffix_for("6000000000"), None);
        // idPSP with a dash: ambiguous by shape, unambiguous given the PSP.
        let g = FlowId::new(d, "AB-CD", "X-1").expect("id");
        assert_eq!(g.suffix_for("AB-CD"), Some("X-1"));
        assert_eq!(g.suffix_for("AB"), Some("CD-X-1"));
        assert_eq!(FlowId::new(d, "", "1"), Err(FlowIdError::EmptyPsp));
        assert_eq!(FlowId::new(d, "P", ""), Err(FlowIdError::EmptySuffix));
        assert_eq!(
            FlowId::new(d, "P/Q", "1").map_err(|e| e.code()),
            Err("FLOW_ID_INVALID_CHAR")
        );
        assert_eq!(
            FlowId::new(d, &"P".repeat(20), "12345").map_err(|e| e.code()),
            Err("FLOW_ID_TOO_LONG")
        );
    }

    const ID: &str = "2024-05-2160000000001-17163317305";

    #[test]
    fn builds_every_form() {
        let f = id(ID);
        assert_eq!(
            Remittance::ordinary(f.clone()).build(),
            format!("/PUR/LGPE-RIVERSAMENTO/TXT/0/URI/{ID}")
        );
        let r = Remittance::integrative(f.clone(), 3).expect("n");
        assert_eq!(r.build(), format!("/PUR/LGPE-RIVERSAMENTO/TXT/3/URI/{ID}"));
        assert_eq!(r.integrative_number(), Some(3));
        assert_eq!(
            Remittance::legacy(f.clone()).to_string(),
            format!("/PUR/LGPE-RIVERSAMENTO/URI/{ID}")
        );
        assert_eq!(
            Remittance::integrative(f.clone(), 0),
            Err(RemittanceError::BadProgressive)
        );
        assert_eq!(
            Remittance::integrative(f, 10),
            Err(RemittanceError::BadProgressive)
        );
        let longest = id(&format!("2024-01-01{}", "Z".repeat(25)));
        assert!(
            Remittance::integrative(longest, 9)
                .expect("n")
                .build()
                .len()
                <= 140
        );
    }

    #[test]
    fn parses_what_banks_write() {
        let cases: &[(&str, &str, Option<u8>)] = &[
            (
                "/PUR/LGPE-RIVERSAMENTO/URI/2017-01-01ABI00000011234",
                "2017-01-01ABI00000011234",
                None,
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO/TXT/0/URI/{ID}"),
                ID,
                Some(0),
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO/TXT/7/URI/{ID}"),
                ID,
                Some(7),
            ),
            (&format!("RI3:/PUR/LGPE-RIVERSAMENTO/URI/{ID}"), ID, None),
            (
                &format!("RI1 /PUR/LGPE-RIVERSAMENTO/TXT/0/URI/{ID}"),
                ID,
                Some(0),
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO/URI/{ID} ACCREDITO BOLLETTINO P.A."),
                ID,
                None,
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO Cumulativo pagamenti del 20240521/URI/{ID}"),
                ID,
                Some(0),
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO Integrativo2 pagamenti del 20240521/URI/{ID}"),
                ID,
                Some(2),
            ),
            (
                "/pur/lgpe-riversamento/txt/1/uri/2024-05-21abi00000-aabb01",
                "2024-05-21abi00000-aabb01",
                Some(1),
            ),
            (
                &format!("  /PUR/ LGPE - RIVERSAMENTO / TXT / 0 / URI /  {ID}   "),
                ID,
                Some(0),
            ),
            (
                &format!("BONIFICO SEPA DA PSP SPA /PUR/LGPE-RIVERSAMENTO/URI/{ID}/ALTRO"),
                ID,
                None,
            ),
            (
                &format!("/PUR/LGPE-RIVERSAMENTO Cumulativo pagamenti del 02/01/2024/URI/{ID}"),
                ID,
                Some(0),
            ),
            (&format!("/PUR/LGPE-RIVERSAMENTO/XYZ/URI/{ID}"), ID, None),
        ];
        for (text, want, prog) in cases {
            let r = Remittance::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(r.flow_id().as_str(), *want, "{text:?}");
            assert_eq!(r.progressive(), *prog, "{text:?}");
        }
    }

    #[test]
    fn round_trips_the_built_forms() {
        let f = id(ID);
        for r in [
            Remittance::ordinary(f.clone()),
            Remittance::legacy(f.clone()),
            Remittance::integrative(f, 9).expect("n"),
        ] {
            assert_eq!(Remittance::parse(&r.build()), Ok(r));
        }
    }

    #[test]
    fn reports_truncation_and_garbage() {
        let t = |p: &str| RemittanceError::Truncated {
            partial: p.to_owned(),
        };
        for (text, want) in [
            ("/PUR/LGPE-RIVERSAMENTO/URI/2", t("2")),
            ("/PUR/LGPE-RIVERSAMENTO/URI/2…", t("2")),
            ("/PUR/LGPE-RIVERSAMENTO/URI/2024-05-2", t("2024-05-2")),
            (
                "RI3:/PUR/LGPE-RIVERSAMENTO/URI/2024-05 ACCREDITO",
                t("2024-05"),
            ),
            ("/PUR/LGPE-RIVERSAMENTO/URI/", t("")),
            ("/PUR/LGPE-RIVERSAMENTO/UR", t("")),
            ("/PUR/LGPE-RIVERSAMENTO/TXT/", t("")),
            ("/PUR/LGPE-RIVERS", t("")),
            ("/PUR/LGPE-RIVERSAMENTO", t("")),
            ("BONIFICO STIPENDIO", RemittanceError::NotRiversamento),
            ("", RemittanceError::NotRiversamento),
            ("/PUR/LGPE-RIVERSAMENTO/XYZ/1", RemittanceError::MissingUri),
            (
                "/PUR/LGPE-RIVERSAMENTO PAGAMENTI",
                RemittanceError::MissingUri,
            ),
            (
                "/PUR/LGPE-RIVERSAMENTO Cumulativo pagamenti del 2024",
                t(""),
            ),
            (
                "/PUR/LGPE-RIVERSAMENTO/TXT/12/URI/x",
                RemittanceError::BadProgressive,
            ),
            (
                "/PUR/LGPE-RIVERSAMENTO/TXT/A/URI/x",
                RemittanceError::BadProgressive,
            ),
        ] {
            assert_eq!(Remittance::parse(text), Err(want), "{text:?}");
        }
        for (text, code) in [
            (
                "/PUR/LGPE-RIVERSAMENTO/URI/2024-13-01ABC-1",
                "FLOW_ID_BAD_DATE",
            ),
            ("/PUR/LGPE-RIVERSAMENTO/URI/2024-05-21", "FLOW_ID_NO_SENDER"),
            ("/PUR/LGPE-RIVERSAMENTO/URI/PAGAMENTO", "FLOW_ID_BAD_DATE"),
            ("/PUR/LGPE-RIVERSAMENTO/URI/ ACCREDITO", "FLOW_ID_BAD_DATE"),
        ] {
            match Remittance::parse(text) {
                Err(RemittanceError::BadFlowId(e)) => assert_eq!(e.code(), code, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let e = Remittance::parse("x").expect_err("not a remittance");
        assert_eq!(e.code(), "REMITTANCE_NOT_RIVERSAMENTO");
    }
}
