//! The rendicontazione flow (FdR, `FlussoRiversamento`), read and written as a stream.
//!
//! A PSP reports every payment it settled to a creditor (EC) in one flow per settlement
//! transfer; the EC matches the flow against its receipts (by IUV and IUR) and against the
//! credit on its treasury statement (by `identificativoFlusso`, see [`crate::remittance`]). A
//! flow can hold hundreds of thousands of payments, so this module never builds a tree of it:
//! [`Reader`] yields the header and then one [`Payment`] at a time in constant memory, and
//! [`Writer`] emits payments as the caller produces them. [`decode`] and [`encode`] wrap both
//! for small flows.
//!
//! The document follows `FlussoRiversamento_1_0_4.xsd` / `_1_0_5.xsd` (namespace
//! [`NAMESPACE`], qualified elements). The two versions differ only in the outcome codes they
//! allow ([`SchemaVersion::allows`]); the reader accepts every known code, the writer refuses
//! one its version lacks. [`soap`] wraps a flow in the `nodoInviaFlussoRendicontazione` request.
//!
//! Reading is tolerant of form (any namespace prefix, whitespace, comments, elements it does
//! not know, which are skipped) and strict about content (every value is checked against the
//! XSD type and the totals against the payments). The namespace URI itself is not checked.

use std::fmt;
use std::sync::Arc;

use crate::amount::{Amount, AmountError};
use crate::date::{Date, DateError, DateTime};
use crate::notice::{Iuv, NoticeError};
use crate::remittance::{FlowId, FlowIdError};
use crate::soap::ValueError;
use crate::xml::XmlError;

pub use crate::soap::{Text, Text35, Text140};

mod read;
pub mod soap;
mod write;

pub use read::Reader;
pub use write::Writer;

/// Namespace of the `FlussoRiversamento` document.
pub const NAMESPACE: &str = "http://www.digitpa.gov.it/schemas/2011/Pagamenti/";

/// Which XSD a flow is written for. They differ only in the allowed outcome codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaVersion {
    /// `FlussoRiversamento_1_0_4.xsd` (pagopa-api master): codes 0, 3, 9.
    V1_0_4,
    /// `FlussoRiversamento_1_0_5.xsd` (SANP 3.12.0): codes 0, 4, 8, 9 (3 was dropped).
    V1_0_5,
}

impl SchemaVersion {
    /// Whether this version's `stCodiceEsitoPagamento` includes `code`.
    pub fn allows(self, code: OutcomeCode) -> bool {
        use OutcomeCode::*;
        match self {
            SchemaVersion::V1_0_4 => matches!(code, Executed | Revoked | NoRpt),
            SchemaVersion::V1_0_5 => matches!(code, Executed | StandIn | StandInNoRpt | NoRpt),
        }
    }

    /// The XSD file name, as published under `xsd-common/`.
    pub fn xsd_file(self) -> &'static str {
        match self {
            SchemaVersion::V1_0_4 => "FlussoRiversamento_1_0_4.xsd",
            SchemaVersion::V1_0_5 => "FlussoRiversamento_1_0_5.xsd",
        }
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemaVersion::V1_0_4 => "1.0.4",
            SchemaVersion::V1_0_5 => "1.0.5",
        })
    }
}

/// `codiceEsitoSingoloPagamento`: how a reported payment ended. The discriminant is the wire
/// digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OutcomeCode {
    /// 0: executed, with its receipt.
    Executed = 0,
    /// 3: revoked (1_0_4 only; not used today).
    Revoked = 3,
    /// 4: executed by the Stand-In system (1_0_5).
    StandIn = 4,
    /// 8: Stand-In without RPT (1_0_5).
    StandInNoRpt = 8,
    /// 9: executed without a receipt (late outcome after token expiry, unrefundable
    /// duplicate): the EC must match it by hand.
    NoRpt = 9,
}

impl OutcomeCode {
    /// Every code, in wire order.
    pub const ALL: [OutcomeCode; 5] = [
        OutcomeCode::Executed,
        OutcomeCode::Revoked,
        OutcomeCode::StandIn,
        OutcomeCode::StandInNoRpt,
        OutcomeCode::NoRpt,
    ];

    /// The wire digit.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// The code for a wire digit.
    pub fn from_digit(d: u8) -> Option<OutcomeCode> {
        OutcomeCode::ALL.into_iter().find(|c| c.digit() == d)
    }

    /// The REST FdR name (`payStatus` in `fdr_psp.json`): `EXECUTED`, `REVOKED`, `STAND_IN`,
    /// `STAND_IN_NO_RPT`, `NO_RPT`.
    pub fn rest_name(self) -> &'static str {
        match self {
            OutcomeCode::Executed => "EXECUTED",
            OutcomeCode::Revoked => "REVOKED",
            OutcomeCode::StandIn => "STAND_IN",
            OutcomeCode::StandInNoRpt => "STAND_IN_NO_RPT",
            OutcomeCode::NoRpt => "NO_RPT",
        }
    }

    /// The code for a REST FdR name.
    pub fn from_rest_name(s: &str) -> Option<OutcomeCode> {
        OutcomeCode::ALL.into_iter().find(|c| c.rest_name() == s)
    }
}

/// `tipoIdentificativoUnivoco` of the sending PSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// `G`: fiscal code of a legal person.
    LegalPerson,
    /// `A`: ABI code.
    Abi,
    /// `B`: BIC.
    Bic,
}

impl IdentifierType {
    /// The wire letter.
    pub fn letter(self) -> &'static str {
        match self {
            IdentifierType::LegalPerson => "G",
            IdentifierType::Abi => "A",
            IdentifierType::Bic => "B",
        }
    }

    /// The type for a wire letter.
    pub fn from_letter(s: &str) -> Option<IdentifierType> {
        match s {
            "G" => Some(IdentifierType::LegalPerson),
            "A" => Some(IdentifierType::Abi),
            "B" => Some(IdentifierType::Bic),
            _ => None,
        }
    }
}

/// Why one value of a flow is invalid. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A text too short or too long for its `stText…` type, or with a character XML cannot
    /// carry.
    #[error(transparent)]
    Text(ValueError),
    /// Not an amount in the `\d+\.\d{2}` form, or out of range.
    #[error(transparent)]
    Amount(AmountError),
    /// A payment of 0.00 (the minimum is 0.01).
    #[error("importo zero: il minimo è 0.01")]
    ZeroAmount,
    /// Not a real date or date-time.
    #[error(transparent)]
    Date(DateError),
    /// Not a valid flow identifier.
    #[error(transparent)]
    FlowId(FlowIdError),
    /// Not a valid IUV.
    #[error(transparent)]
    Iuv(NoticeError),
    /// An outcome code outside 0, 3, 4, 8, 9.
    #[error("codice esito sconosciuto (ammessi 0, 3, 4, 8, 9)")]
    UnknownOutcome,
    /// A `tipoIdentificativoUnivoco` outside G/A/B (or not G for the receiver).
    #[error("tipo identificativo non ammesso")]
    IdentifierType,
    /// An `indiceDatiSingoloPagamento` outside 1..=5.
    #[error("indice del pagamento fuori da 1..=5")]
    Index,
    /// A `numeroTotalePagamenti` that is not a whole number from 1 to 15 digits.
    #[error("numero di pagamenti non valido (da 1 a 15 cifre)")]
    Count,
    /// A `versioneOggetto` other than 1.0 or 1.1.
    #[error("versione oggetto non ammessa (1.0 o 1.1)")]
    Version,
}

impl FieldError {
    /// Stable machine-readable code; wrapped errors keep their own code.
    pub fn code(&self) -> &'static str {
        match self {
            FieldError::Text(e) => e.code(),
            FieldError::Amount(e) => e.code(),
            FieldError::ZeroAmount => "FDR_FIELD_ZERO_AMOUNT",
            FieldError::Date(e) => e.code(),
            FieldError::FlowId(e) => e.code(),
            FieldError::Iuv(e) => e.code(),
            FieldError::UnknownOutcome => "FDR_FIELD_UNKNOWN_OUTCOME",
            FieldError::IdentifierType => "FDR_FIELD_IDENTIFIER_TYPE",
            FieldError::Index => "FDR_FIELD_INDEX",
            FieldError::Count => "FDR_FIELD_COUNT",
            FieldError::Version => "FDR_FIELD_VERSION",
        }
    }
}

/// Why a flow could not be read or written. The codes are stable.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FdrError {
    /// Not well-formed XML.
    #[error(transparent)]
    Xml(XmlError),
    /// The underlying reader or writer failed.
    #[error("errore di I/O: {0}")]
    Io(Arc<std::io::Error>),
    /// The document ends before the flow is complete.
    #[error("flusso troncato: il documento finisce prima della chiusura")]
    Truncated,
    /// The root element is not `FlussoRiversamento`.
    #[error("il documento non è un FlussoRiversamento (radice {root:?})")]
    NotAFlow {
        /// Local name of the root found.
        root: String,
    },
    /// A required element is absent.
    #[error("elemento obbligatorio {element} mancante{}", at(*payment))]
    Missing {
        /// Element name.
        element: &'static str,
        /// 1-based position of the payment, for payment elements.
        payment: Option<u64>,
    },
    /// An element that may appear once appears twice.
    #[error("elemento {element} ripetuto{}", at(*payment))]
    Duplicate {
        /// Element name.
        element: &'static str,
        /// 1-based position of the payment, for payment elements.
        payment: Option<u64>,
    },
    /// A header element after the first `datiSingoliPagamenti`: the header must come first.
    #[error("elemento di testata {element} dopo i pagamenti")]
    OutOfOrder {
        /// Element name.
        element: &'static str,
    },
    /// An element inside a text-only element.
    #[error("elemento {element:?} non ammesso dentro {inside}")]
    UnexpectedElement {
        /// Local name of the unexpected element.
        element: String,
        /// The text element containing it.
        inside: &'static str,
    },
    /// A value does not satisfy its XSD type.
    #[error("valore di {element} non valido{}: {reason}", at(*payment))]
    InvalidField {
        /// Element name.
        element: &'static str,
        /// 1-based position of the payment, for payment elements.
        payment: Option<u64>,
        /// What is wrong with it.
        reason: FieldError,
    },
    /// `numeroTotalePagamenti` differs from the number of `datiSingoliPagamenti`.
    #[error("numeroTotalePagamenti {declared} ma i pagamenti sono {found}")]
    CountMismatch {
        /// The header's count.
        declared: u64,
        /// Payments actually present.
        found: u64,
    },
    /// `importoTotalePagamenti` differs from the sum of `singoloImportoPagato`.
    #[error(
        "importoTotalePagamenti {declared} ma la somma dei pagamenti è {} centesimi",
        found_cents
    )]
    TotalMismatch {
        /// The header's total.
        declared: Amount,
        /// The sum of the payments, in cents (it may exceed [`Amount::MAX`]).
        found_cents: u64,
    },
    /// The writer was given an outcome code its schema version does not allow.
    #[error("codice esito {} non ammesso dallo schema {version} (pagamento {payment})", outcome.digit())]
    OutcomeNotAllowed {
        /// The code.
        outcome: OutcomeCode,
        /// The schema version being written.
        version: SchemaVersion,
        /// 1-based position of the payment.
        payment: u64,
    },
}

fn at(payment: Option<u64>) -> String {
    payment.map_or_else(String::new, |n| format!(" (pagamento {n})"))
}

impl FdrError {
    /// Stable machine-readable code. XML errors keep their own code (`XML_…`).
    pub fn code(&self) -> &'static str {
        match self {
            FdrError::Xml(e) => e.code(),
            FdrError::Io(_) => "FDR_IO",
            FdrError::Truncated => "FDR_TRUNCATED",
            FdrError::NotAFlow { .. } => "FDR_NOT_A_FLOW",
            FdrError::Missing { .. } => "FDR_MISSING_ELEMENT",
            FdrError::Duplicate { .. } => "FDR_DUPLICATE_ELEMENT",
            FdrError::OutOfOrder { .. } => "FDR_OUT_OF_ORDER",
            FdrError::UnexpectedElement { .. } => "FDR_UNEXPECTED_ELEMENT",
            FdrError::InvalidField { .. } => "FDR_INVALID_FIELD",
            FdrError::CountMismatch { .. } => "FDR_COUNT_MISMATCH",
            FdrError::TotalMismatch { .. } => "FDR_TOTAL_MISMATCH",
            FdrError::OutcomeNotAllowed { .. } => "FDR_OUTCOME_NOT_ALLOWED",
        }
    }
}

impl From<std::io::Error> for FdrError {
    fn from(e: std::io::Error) -> Self {
        FdrError::Io(Arc::new(e))
    }
}

/// `istitutoMittente`: the PSP that settled the payments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sender {
    /// `tipoIdentificativoUnivoco`.
    pub id_type: IdentifierType,
    /// `codiceIdentificativoUnivoco`: fiscal code, ABI or BIC per `id_type`.
    pub code: Text35,
    /// `denominazioneMittente`.
    pub name: Option<Text<3, 70>>,
}

/// `istitutoRicevente`: the creditor (EC), always identified by fiscal code (type `G`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Receiver {
    /// `codiceIdentificativoUnivoco`: the EC's fiscal code.
    pub code: Text35,
    /// `denominazioneRicevente`.
    pub name: Option<Text140>,
}

/// Everything in a flow before its payments, including the declared totals the reader checks
/// the payments against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowHeader {
    /// `identificativoFlusso`.
    pub flow_id: FlowId,
    /// `dataOraFlusso`: when the flow was produced (a correction repeats the id with a later one).
    pub flow_date_time: DateTime,
    /// `identificativoUnivocoRegolamento`: the settlement transfer's reference (its TRN).
    pub settlement_ref: Text35,
    /// `dataRegolamento`: the settlement transfer's execution date.
    pub settlement_date: Date,
    /// `istitutoMittente`.
    pub sender: Sender,
    /// `codiceBicBancaDiRiversamento`: BIC of the bank that sent the transfer.
    pub settlement_bank_bic: Option<Text35>,
    /// `istitutoRicevente`.
    pub receiver: Receiver,
    /// `numeroTotalePagamenti`: 1 to 15 digits.
    pub payment_count: u64,
    /// `importoTotalePagamenti`: the sum of the payments, equal to the transfer amount.
    pub total: Amount,
}

/// One `datiSingoliPagamenti` entry: a transfer of one payment, cashed by this EC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payment {
    /// `identificativoUnivocoVersamento`: the IUV (creditorReferenceId).
    pub iuv: Iuv,
    /// `identificativoUnivocoRiscossione`: the IUR, the paymentToken for modello 3.
    pub iur: Text35,
    /// `indiceDatiSingoloPagamento`: the receipt's idTransfer, 1..=5 (optional in the XSD).
    pub transfer_index: Option<u8>,
    /// `singoloImportoPagato`: at least 0.01.
    pub amount: Amount,
    /// `codiceEsitoSingoloPagamento`.
    pub outcome: OutcomeCode,
    /// `dataEsitoSingoloPagamento`: the payment date from the receipt.
    pub outcome_date: Date,
}

/// Decode a whole (small) flow in memory. For large flows iterate a [`Reader`] instead.
pub fn decode(xml: &[u8]) -> Result<(FlowHeader, Vec<Payment>), FdrError> {
    let mut reader = Reader::new(xml)?;
    // The declared count is untrusted input: reserve only a little up front.
    let capacity = usize::try_from(reader.header().payment_count)
        .unwrap_or(0)
        .min(1024);
    let mut payments = Vec::with_capacity(capacity);
    while let Some(p) = reader.next_payment()? {
        payments.push(p);
    }
    Ok((reader.into_header(), payments))
}

/// Encode a whole flow in memory. The header's totals must match `payments`.
pub fn encode(
    header: &FlowHeader,
    payments: &[Payment],
    version: SchemaVersion,
) -> Result<Vec<u8>, FdrError> {
    let mut w = Writer::new(
        Vec::with_capacity(1024 + payments.len() * 400),
        header,
        version,
    )?;
    for p in payments {
        w.write_payment(p)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<versioneOggetto>1.0</versioneOggetto>
<identificativoFlusso>2024-05-21PSP01-0001</identificativoFlusso>
<dataOraFlusso>2024-05-21T10:00:00</dataOraFlusso>
<identificativoUnivocoRegolamento>TRN1</identificativoUnivocoRegolamento>
<dataRegolamento>2024-05-21</dataRegolamento>
<istitutoMittente><identificativoUnivocoMittente><tipoIdentificativoUnivoco>G</tipoIdentificativoUnivoco>
<codiceIdentificativoUnivoco>PSP01</codiceIdentificativoUnivoco></identificativoUnivocoMittente></istitutoMittente>
<istitutoRicevente><identificativoUnivocoRicevente><tipoIdentificativoUnivoco>G</tipoIdentificativoUnivoco>
<codiceIdentificativoUnivoco>77777777777</codiceIdentificativoUnivoco></identificativoUnivocoRicevente></istitutoRicevente>"#;

    fn pay(iuv: &str, amount: &str, code: &str) -> String {
        format!(
            "<datiSingoliPagamenti><identificativoUnivocoVersamento>{iuv}</identificativoUnivocoVersamento>\
             <identificativoUnivocoRiscossione>IUR{iuv}</identificativoUnivocoRiscossione>\
             <indiceDatiSingoloPagamento>1</indiceDatiSingoloPagamento>\
             <singoloImportoPagato>{amount}</singoloImportoPagato>\
             <codiceEsitoSingoloPagamento>{code}</codiceEsitoSingoloPagamento>\
             <dataEsitoSingoloPagamento>2024-05-20</dataEsitoSingoloPagamento></datiSingoliPagamenti>"
        )
    }

    fn flow(count: &str, total: &str, payments: &str) -> String {
        format!(
            "<FlussoRiversamento xmlns=\"{NAMESPACE}\">{HEAD}<numeroTotalePagamenti>{count}</numeroTotalePagamenti>\
             <importoTotalePagamenti>{total}</importoTotalePagamenti>{payments}</FlussoRiversamento>"
        )
    }

    fn err(xml: &str) -> FdrError {
        decode(xml.as_bytes()).expect_err("must fail")
    }

    #[test]
    fn reads_tolerantly() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment --><pay_i:FlussoRiversamento xmlns:pay_i="http://www.digitpa.gov.it/schemas/2011/Pagamenti/">
  <pay_i:versioneOggetto> 1.1 </pay_i:versioneOggetto>
  <pay_i:identificativoFlusso>2024-05-21PSP-01-X_1</pay_i:identificativoFlusso>
  <pay_i:dataOraFlusso>2024-05-21T10:00:00.123+02:00</pay_i:dataOraFlusso>
  <pay_i:identificativoUnivocoRegolamento>TRN &amp; <![CDATA[<1>]]></pay_i:identificativoUnivocoRegolamento>
  <pay_i:dataRegolamento>2024-05-21+02:00</pay_i:dataRegolamento>
  <pay_i:futuroCampo><pay_i:x>ignored</pay_i:x></pay_i:futuroCampo>
  <pay_i:istitutoMittente>
    <pay_i:identificativoUnivocoMittente>
      <pay_i:tipoIdentificativoUnivoco>A</pay_i:tipoIdentificativoUnivoco>
      <pay_i:codiceIdentificativoUnivoco>03069</pay_i:codiceIdentificativoUnivoco>
    </pay_i:identificativoUnivocoMittente>
    <pay_i:denominazioneMittente>Banca &#224; &quot;Sì&quot;</pay_i:denominazioneMittente>
  </pay_i:istitutoMittente>
  <pay_i:codiceBicBancaDiRiversamento>BCITITMM</pay_i:codiceBicBancaDiRiversamento>
  <pay_i:istitutoRicevente>
    <pay_i:identificativoUnivocoRicevente>
      <pay_i:tipoIdentificativoUnivoco>G</pay_i:tipoIdentificativoUnivoco>
      <pay_i:codiceIdentificativoUnivoco>77777777777</pay_i:codiceIdentificativoUnivoco>
    </pay_i:identificativoUnivocoRicevente>
  </pay_i:istitutoRicevente>
  <pay_i:numeroTotalePagamenti>+0002.0</pay_i:numeroTotalePagamenti>
  <pay_i:importoTotalePagamenti>10.50</pay_i:importoTotalePagamenti>
  <pay_i:datiSingoliPagamenti>
    <pay_i:identificativoUnivocoVersamento>RF23567483937849450550875</pay_i:identificativoUnivocoVersamento>
    <pay_i:identificativoUnivocoRiscossione>abc</pay_i:identificativoUnivocoRiscossione>
    <pay_i:singoloImportoPagato>10.00</pay_i:singoloImportoPagato>
    <pay_i:codiceEsitoSingoloPagamento>4</pay_i:codiceEsitoSingoloPagamento>
    <pay_i:dataEsitoSingoloPagamento>2024-05-20Z</pay_i:dataEsitoSingoloPagamento>
    <pay_i:nuovo/>
  </pay_i:datiSingoliPagamenti>
  <pay_i:datiSingoliPagamenti>
    <pay_i:identificativoUnivocoVersamento>2</pay_i:identificativoUnivocoVersamento>
    <pay_i:identificativoUnivocoRiscossione>d</pay_i:identificativoUnivocoRiscossione>
    <pay_i:indiceDatiSingoloPagamento>+05</pay_i:indiceDatiSingoloPagamento>
    <pay_i:singoloImportoPagato>0.50</pay_i:singoloImportoPagato>
    <pay_i:codiceEsitoSingoloPagamento>3</pay_i:codiceEsitoSingoloPagamento>
    <pay_i:dataEsitoSingoloPagamento>2024-05-20</pay_i:dataEsitoSingoloPagamento>
  </pay_i:datiSingoliPagamenti>
</pay_i:FlussoRiversamento>
<?pi after?> "#;
        let (h, p) = decode(xml.as_bytes()).expect("tolerant read");
        assert_eq!(h.flow_id.as_str(), "2024-05-21PSP-01-X_1");
        assert_eq!(
            h.flow_date_time.to_string(),
            "2024-05-21T10:00:00.123+02:00"
        );
        assert_eq!(h.settlement_ref.as_str(), "TRN & <1>");
        assert_eq!(h.settlement_date.to_string(), "2024-05-21");
        assert_eq!(h.sender.id_type, IdentifierType::Abi);
        assert_eq!(
            h.sender.name.as_ref().map(|n| n.as_str()),
            Some("Banca à \"Sì\"")
        );
        assert_eq!(
            h.settlement_bank_bic.as_ref().map(|b| b.as_str()),
            Some("BCITITMM")
        );
        assert_eq!(h.receiver.name, None);
        assert_eq!((h.payment_count, h.total.cents()), (2, 1050));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].iuv.as_str(), "RF23567483937849450550875");
        assert_eq!(p[0].transfer_index, None);
        assert_eq!(p[0].outcome, OutcomeCode::StandIn);
        assert_eq!(p[0].outcome_date.to_string(), "2024-05-20");
        assert_eq!(p[1].transfer_index, Some(5));
        assert_eq!(p[1].outcome, OutcomeCode::Revoked);
    }

    #[test]
    fn checks_totals_at_the_end() {
        let two = format!("{}{}", pay("1", "1.00", "0"), pay("2", "2.00", "9"));
        assert!(decode(flow("2", "3.00", &two).as_bytes()).is_ok());
        assert!(matches!(
            err(&flow("3", "3.00", &two)),
            FdrError::CountMismatch {
                declared: 3,
                found: 2
            }
        ));
        match err(&flow("2", "3.01", &two)) {
            FdrError::TotalMismatch {
                declared,
                found_cents: 300,
            } => assert_eq!(declared.cents(), 301),
            e => panic!("{e:?}"),
        }
        // No payments at all.
        assert_eq!(err(&flow("1", "1.00", "")).code(), "FDR_COUNT_MISMATCH");
        // The header alone is fine: the mismatch only shows after the last payment.
        let xml = flow("3", "3.00", &two);
        let mut r = Reader::new(xml.as_bytes()).expect("header");
        assert_eq!(r.header().payment_count, 3);
        assert!(r.next_payment().expect("first").is_some());
        assert!(r.next_payment().expect("second").is_some());
        let e = r.next_payment().expect_err("count");
        assert_eq!(e.code(), "FDR_COUNT_MISMATCH");
        assert_eq!(
            r.next_payment().expect_err("sticky").code(),
            "FDR_COUNT_MISMATCH"
        );
        assert_eq!(r.payments_read(), 2);
    }

    #[test]
    fn iterator_yields_payments_then_stops_after_an_error() {
        let two = format!("{}{}", pay("1", "1.00", "0"), pay("2", "2.00", "7"));
        let xml = flow("2", "3.00", &two);
        let mut r = Reader::new(xml.as_bytes()).expect("header");
        assert!(matches!(r.next(), Some(Ok(_))));
        match r.next() {
            Some(Err(FdrError::InvalidField {
                element: "codiceEsitoSingoloPagamento",
                payment: Some(2),
                reason: FieldError::UnknownOutcome,
            })) => {}
            other => panic!("{other:?}"),
        }
        assert!(r.next().is_none());
        let ok = flow("1", "1.00", &pay("1", "1.00", "0"));
        assert_eq!(Reader::new(ok.as_bytes()).expect("header").count(), 1);
    }

    #[test]
    fn rejects_bad_values_with_their_element() {
        let one = |amount: &str, code: &str| flow("1", amount, &pay("1", amount, code));
        let cases: Vec<(String, &str, &str)> = vec![
            (one("1.00", "1"), "codiceEsitoSingoloPagamento", "FDR_FIELD_UNKNOWN_OUTCOME"),
            (one("1.00", "00"), "codiceEsitoSingoloPagamento", "FDR_FIELD_UNKNOWN_OUTCOME"),
            (one("0.00", "0"), "singoloImportoPagato", "FDR_FIELD_ZERO_AMOUNT"),
            (one("1.0", "0"), "importoTotalePagamenti", "AMOUNT_TOO_FEW_DECIMALS"),
            (one("1,00", "0"), "importoTotalePagamenti", "AMOUNT_MALFORMED"),
            (
                flow("1", "1.00", &pay("1", "1.00", "0").replace("2024-05-20", "2024-02-30")),
                "dataEsitoSingoloPagamento",
                "DATE_OUT_OF_RANGE",
            ),
            (
                flow("1", "1.00", &pay("1", "1.00", "0").replace(">1</ind", ">6</ind")),
                "indiceDatiSingoloPagamento",
                "FDR_FIELD_INDEX",
            ),
            (
                flow("1", "1.00", &pay("1-2", "1.00", "0")),
                "identificativoUnivocoVersamento",
                "IUV_CHARACTER",
            ),
            (
                flow("0", "1.00", &pay("1", "1.00", "0")),
                "numeroTotalePagamenti",
                "FDR_FIELD_COUNT",
            ),
            (
                flow("1234567890123456", "1.00", ""),
                "numeroTotalePagamenti",
                "FDR_FIELD_COUNT",
            ),
            (
                flow("1", "1.00", "").replace(">1.0<", ">2.0<"),
                "versioneOggetto",
                "FDR_FIELD_VERSION",
            ),
            (
                flow("1", "1.00", "").replace("PSP01-0001<", "PSP01 0001<"),
                "identificativoFlusso",
                "FLOW_ID_INVALID_CHAR",
            ),
            (
                flow("1", "1.00", "").replace(">TRN1<", &format!(">{}<", "X".repeat(36))),
                "identificativoUnivocoRegolamento",
                "VALUE_LENGTH",
            ),
            (
                flow("1", "1.00", "").replacen(">G<", ">X<", 1),
                "identificativoUnivocoMittente/tipoIdentificativoUnivoco",
                "FDR_FIELD_IDENTIFIER_TYPE",
            ),
            (
                flow("1", "1.00", "").replace("<tipoIdentificativoUnivoco>G</tipoIdentificativoUnivoco>\n<codiceIdentificativoUnivoco>7", "<tipoIdentificativoUnivoco>B</tipoIdentificativoUnivoco>\n<codiceIdentificativoUnivoco>7"),
                "identificativoUnivocoRicevente/tipoIdentificativoUnivoco",
                "FDR_FIELD_IDENTIFIER_TYPE",
            ),
        ];
        for (xml, element, code) in cases {
            match err(&xml) {
                FdrError::InvalidField {
                    element: e, reason, ..
                } => {
                    assert_eq!((e, reason.code()), (element, code), "{xml}");
                }
                other => panic!("{element}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_structure() {
        let p = pay("1", "1.00", "0");
        let good = flow("1", "1.00", &p);
        let no_iur = good.replace(
            "<identificativoUnivocoRiscossione>IUR1</identificativoUnivocoRiscossione>",
            "",
        );
        assert!(matches!(
            err(&no_iur),
            FdrError::Missing {
                element: "identificativoUnivocoRiscossione",
                payment: Some(1)
            }
        ));
        let no_date = good.replace("<dataRegolamento>2024-05-21</dataRegolamento>", "");
        assert!(matches!(
            err(&no_date),
            FdrError::Missing {
                element: "dataRegolamento",
                payment: None
            }
        ));
        let twice = good.replace(
            "IUR1</",
            "IUR1</identificativoUnivocoRiscossione><identificativoUnivocoRiscossione>X</",
        );
        assert_eq!(err(&twice).code(), "FDR_DUPLICATE_ELEMENT");
        let late = good.replace(
            "</FlussoRiversamento>",
            "<dataRegolamento>2024-05-21</dataRegolamento></FlussoRiversamento>",
        );
        assert!(matches!(
            err(&late),
            FdrError::OutOfOrder {
                element: "dataRegolamento"
            }
        ));
        let nested = good.replace(">TRN1<", ">TRN<b/>1<");
        assert_eq!(err(&nested).code(), "FDR_UNEXPECTED_ELEMENT");
        assert_eq!(err("<Other/>").code(), "FDR_NOT_A_FLOW");
        assert_eq!(err("").code(), "XML_NO_ROOT");
        assert_eq!(err(&format!("{good}<x/>")).code(), "XML_MALFORMED");
        assert_eq!(err(&format!("{good} trailing")).code(), "XML_MALFORMED");
        assert_eq!(err(&format!("leading {good}")).code(), "XML_MALFORMED");
        assert_eq!(err(&format!("{good}&amp;")).code(), "XML_MALFORMED");
        assert_eq!(err(&format!("<!DOCTYPE x>{good}")).code(), "XML_MALFORMED");
        assert_eq!(
            err(&good.replace("</numeroTotalePagamenti>", "</x>")).code(),
            "XML_MALFORMED"
        );
        assert_eq!(
            err(&good.replace(">TRN1<", ">&foo;<")).code(),
            "XML_UNKNOWN_ENTITY"
        );
        // A Latin-1 byte inside a value.
        let mut latin1 = good.clone().into_bytes();
        let at = latin1.windows(4).position(|w| w == b"TRN1").expect("TRN1") + 3;
        latin1.insert(at, 0xe0);
        assert_eq!(
            decode(&latin1).map(|_| ()).map_err(|e| e.code()),
            Err("XML_NOT_UTF8")
        );
        assert_eq!(
            err(&flow("1", "1.00", "<datiSingoliPagamenti/>")).code(),
            "FDR_MISSING_ELEMENT"
        );
        for cut in [10, good.len() / 2, good.len() - 1] {
            assert_eq!(err(&good[..cut]).code(), "FDR_TRUNCATED", "cut at {cut}");
        }
        let deep = flow("1", "1.00", &format!("{}{p}", "<z>".repeat(70)));
        assert_eq!(err(&deep).code(), "XML_TOO_DEEP");
        assert_eq!(
            decode(b"<FlussoRiversamento>\xff</FlussoRiversamento>")
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("FDR_MISSING_ELEMENT")
        );
    }

    fn sample() -> (FlowHeader, Vec<Payment>) {
        decode(
            flow(
                "2",
                "3.00",
                &format!("{}{}", pay("1", "1.00", "0"), pay("2", "2.00", "9")),
            )
            .as_bytes(),
        )
        .expect("sample")
    }

    #[test]
    fn writer_refuses_what_the_schema_version_lacks() {
        let (h, mut p) = sample();
        for v in [SchemaVersion::V1_0_4, SchemaVersion::V1_0_5] {
            for code in OutcomeCode::ALL {
                p[1].outcome = code;
                let r = encode(&h, &p, v);
                assert_eq!(r.is_ok(), v.allows(code), "{v} {code:?}");
                if let Err(e) = r {
                    assert!(matches!(
                        e,
                        FdrError::OutcomeNotAllowed { outcome, version, payment: 2 }
                            if outcome == code && version == v
                    ));
                }
            }
        }
        let (h, p) = sample();
        let mut w = Writer::new(Vec::new(), &h, SchemaVersion::V1_0_4).expect("header");
        let mut zero = p[0].clone();
        zero.amount = Amount::ZERO;
        assert_eq!(
            w.write_payment(&zero).map_err(|e| e.code()),
            Err("FDR_INVALID_FIELD")
        );
        let mut six = p[0].clone();
        six.transfer_index = Some(6);
        assert_eq!(
            w.write_payment(&six).map_err(|e| e.code()),
            Err("FDR_INVALID_FIELD")
        );
        // Refused payments were not written and the writer goes on.
        assert_eq!(w.payments_written(), 0);
        w.write_payment(&p[0]).expect("first");
        assert_eq!(
            w.finish().map(|_| ()).map_err(|e| e.code()),
            Err("FDR_COUNT_MISMATCH")
        );
        let mut w = Writer::new(Vec::new(), &h, SchemaVersion::V1_0_4).expect("header");
        w.write_payment(&p[0]).expect("first");
        w.write_payment(&p[0]).expect("second");
        assert!(matches!(
            w.finish(),
            Err(FdrError::TotalMismatch {
                found_cents: 200,
                ..
            })
        ));
        let mut bad = h.clone();
        bad.payment_count = 0;
        assert!(Writer::new(Vec::new(), &bad, SchemaVersion::V1_0_5).is_err());
    }

    #[test]
    fn round_trips_and_reports_io_errors() {
        let (h, p) = sample();
        let xml = encode(&h, &p, SchemaVersion::V1_0_4).expect("encode");
        assert_eq!(decode(&xml).expect("decode"), (h.clone(), p.clone()));
        struct Broken;
        impl std::io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = Writer::new(Broken, &h, SchemaVersion::V1_0_4).expect_err("io");
        assert_eq!(e.code(), "FDR_IO");
    }

    #[test]
    fn outcome_codes_map_both_ways() {
        for c in OutcomeCode::ALL {
            assert_eq!(OutcomeCode::from_digit(c.digit()), Some(c));
            assert_eq!(OutcomeCode::from_rest_name(c.rest_name()), Some(c));
        }
        assert_eq!(OutcomeCode::StandInNoRpt.digit(), 8);
        assert_eq!(
            OutcomeCode::from_rest_name("NO_RPT"),
            Some(OutcomeCode::NoRpt)
        );
        assert_eq!(OutcomeCode::from_digit(1), None);
        let allowed = |v: SchemaVersion| {
            OutcomeCode::ALL
                .into_iter()
                .filter(|&c| v.allows(c))
                .map(OutcomeCode::digit)
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(SchemaVersion::V1_0_4), [0, 3, 9]);
        assert_eq!(allowed(SchemaVersion::V1_0_5), [0, 4, 8, 9]);
        for t in ["G", "A", "B"] {
            assert_eq!(
                IdentifierType::from_letter(t).map(IdentifierType::letter),
                Some(t)
            );
        }
        assert_eq!(IdentifierType::from_letter("g"), None);
    }
}
