//! Streaming writer: the header goes out at once, each payment as it is given, through one
//! reused text buffer. Values are already typed, so only the cross-checks (outcome code against
//! the schema version, totals against the payments) can fail, besides I/O.

use std::fmt;
use std::io::Write;

use super::{FdrError, FieldError, FlowHeader, NAMESPACE, Payment, SchemaVersion, Text};
use crate::amount::Amount;
use crate::xml;

/// The largest `numeroTotalePagamenti` (15 digits).
const MAX_COUNT: u64 = 999_999_999_999_999;

/// Streaming writer of a `FlussoRiversamento`, in the XSD's element order, with a default
/// namespace and one payment per line.
///
/// The header carries the totals, so the caller computes them first; [`Writer::finish`] checks
/// that the payments written add up to them and fails with [`FdrError::CountMismatch`] or
/// [`FdrError::TotalMismatch`] (without closing the document) if not. A payment refused by
/// [`Writer::write_payment`] is not written, and the writer stays usable.
///
/// Give it a buffered sink (`Vec<u8>`, `BufWriter<File>`…): it writes one small chunk per
/// payment.
///
/// ```
/// # use pagopa::fdr::{FlowHeader, Payment, SchemaVersion, Writer, FdrError};
/// # fn run(header: &FlowHeader, payments: &[Payment]) -> Result<Vec<u8>, FdrError> {
/// let mut w = Writer::new(Vec::new(), header, SchemaVersion::V1_0_5)?;
/// for p in payments {
///     w.write_payment(p)?;
/// }
/// let xml = w.finish()?;
/// # Ok(xml) }
/// ```
pub struct Writer<W: Write> {
    out: W,
    scratch: xml::Writer,
    version: SchemaVersion,
    declared_count: u64,
    declared_total: Amount,
    count: u64,
    sum_cents: u64,
}

impl<W: Write> Writer<W> {
    /// Write the XML declaration, the root element and the header.
    pub fn new(mut out: W, header: &FlowHeader, version: SchemaVersion) -> Result<Self, FdrError> {
        if !(1..=MAX_COUNT).contains(&header.payment_count) {
            return Err(FdrError::InvalidField {
                element: "numeroTotalePagamenti",
                payment: None,
                reason: FieldError::Count,
            });
        }
        let mut w = xml::Writer::with_capacity(1024);
        w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FlussoRiversamento xmlns=\"");
        w.raw(NAMESPACE);
        w.raw("\">");
        w.leaf("versioneOggetto", "1.0");
        w.leaf("identificativoFlusso", header.flow_id.as_str());
        w.leaf_display("dataOraFlusso", header.flow_date_time);
        w.leaf(
            "identificativoUnivocoRegolamento",
            header.settlement_ref.as_str(),
        );
        w.leaf_display("dataRegolamento", header.settlement_date);
        w.open("istitutoMittente");
        w.open("identificativoUnivocoMittente");
        w.leaf("tipoIdentificativoUnivoco", header.sender.id_type.letter());
        w.leaf("codiceIdentificativoUnivoco", header.sender.code.as_str());
        w.close("identificativoUnivocoMittente");
        w.leaf_opt(
            "denominazioneMittente",
            header.sender.name.as_ref().map(Text::as_str),
        );
        w.close("istitutoMittente");
        w.leaf_opt(
            "codiceBicBancaDiRiversamento",
            header.settlement_bank_bic.as_ref().map(Text::as_str),
        );
        w.open("istitutoRicevente");
        w.open("identificativoUnivocoRicevente");
        w.leaf("tipoIdentificativoUnivoco", "G");
        w.leaf("codiceIdentificativoUnivoco", header.receiver.code.as_str());
        w.close("identificativoUnivocoRicevente");
        w.leaf_opt(
            "denominazioneRicevente",
            header.receiver.name.as_ref().map(Text::as_str),
        );
        w.close("istitutoRicevente");
        w.leaf_display("numeroTotalePagamenti", header.payment_count);
        w.leaf_display("importoTotalePagamenti", header.total);
        w.raw("\n");
        out.write_all(w.out.as_bytes())?;
        w.out.clear();
        Ok(Writer {
            out,
            scratch: w,
            version,
            declared_count: header.payment_count,
            declared_total: header.total,
            count: 0,
            sum_cents: 0,
        })
    }

    /// Write one payment. Refused, without writing anything, if its outcome code is not in this
    /// schema version ([`FdrError::OutcomeNotAllowed`]), its amount is zero or its transfer
    /// index is outside 1..=5.
    pub fn write_payment(&mut self, p: &Payment) -> Result<(), FdrError> {
        let n = self.count + 1;
        if !self.version.allows(p.outcome) {
            return Err(FdrError::OutcomeNotAllowed {
                outcome: p.outcome,
                version: self.version,
                payment: n,
            });
        }
        let invalid = |element, reason| FdrError::InvalidField {
            element,
            payment: Some(n),
            reason,
        };
        if p.amount.is_zero() {
            return Err(invalid("singoloImportoPagato", FieldError::ZeroAmount));
        }
        if p.transfer_index.is_some_and(|i| !(1..=5).contains(&i)) {
            return Err(invalid("indiceDatiSingoloPagamento", FieldError::Index));
        }
        let w = &mut self.scratch;
        w.out.clear();
        w.open("datiSingoliPagamenti");
        w.leaf("identificativoUnivocoVersamento", p.iuv.as_str());
        w.leaf("identificativoUnivocoRiscossione", p.iur.as_str());
        if let Some(i) = p.transfer_index {
            w.leaf_display("indiceDatiSingoloPagamento", i);
        }
        w.leaf_display("singoloImportoPagato", p.amount);
        w.leaf_display("codiceEsitoSingoloPagamento", p.outcome.digit());
        w.leaf_display("dataEsitoSingoloPagamento", p.outcome_date);
        w.close("datiSingoliPagamenti");
        w.raw("\n");
        self.out.write_all(w.out.as_bytes())?;
        self.count = n;
        self.sum_cents = self.sum_cents.saturating_add(p.amount.cents());
        Ok(())
    }

    /// Payments written so far.
    pub fn payments_written(&self) -> u64 {
        self.count
    }

    /// Check the totals, close the document, flush and hand back the sink.
    pub fn finish(mut self) -> Result<W, FdrError> {
        if self.count != self.declared_count {
            return Err(FdrError::CountMismatch {
                declared: self.declared_count,
                found: self.count,
            });
        }
        if self.sum_cents != self.declared_total.cents() {
            return Err(FdrError::TotalMismatch {
                declared: self.declared_total,
                found_cents: self.sum_cents,
            });
        }
        self.out.write_all(b"</FlussoRiversamento>\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("version", &self.version)
            .field("declared_count", &self.declared_count)
            .field("payments_written", &self.count)
            .finish_non_exhaustive()
    }
}
