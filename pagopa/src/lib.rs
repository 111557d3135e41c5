//! # pagopa
//!
//! The pagoPA standard as a pure Rust library: no sockets, files, clocks or randomness inside.
//! Time, identifiers and random material are passed in by the caller, so every function here is
//! deterministic and tested from recorded bytes.
//!
//! - [`amount`]: euro amounts as integer cents, in the Nodo's decimal form and Italian display.
//! - [`notice`]: 18-digit notice numbers (codice avviso), IUV, mod-93 check digits.
//! - [`fiscal_code`]: the 11-digit fiscal code of a creditor (ente creditore) or other legal person.
//! - [`scan`]: what a scanner or a clerk reads from a printed notice (QR code, Poste Data Matrix,
//!   manual entry).
//! - [`soap`]: Nodo dei Pagamenti SOAP messages, PSP side (verify, activate, outcome), and faults.
//! - [`fault`]: what the caller must do for each fault code.
//! - [`fdr`]: the rendicontazione flow (FlussoRiversamento), streaming.
//! - [`remittance`]: flow identifiers and the SEPA remittance information of a riversamento.
//! - [`date`]: calendar dates and local date-times as they appear on the wire.
//!
//! Every parser of outside input returns a typed error and never panics.

pub mod amount;
pub mod date;
pub mod fault;
pub mod fdr;
pub mod fiscal_code;
pub mod notice;
pub mod remittance;
pub mod scan;
pub mod soap;
mod xml;

pub use amount::{Amount, AmountError};
pub use date::{Date, DateError, DateTime};
pub use fiscal_code::{CreditorFiscalCode, FiscalCodeError};
pub use notice::{Iuv, NoticeError, NoticeNumber};
pub use xml::XmlError;

/// How strictly to treat check digits.
///
/// Production notices and fiscal codes carry valid check digits, but pagoPA's test environment
/// uses values that fail them (`77777777777`, `311111111112222222`). In [`CheckMode::Lenient`]
/// the format is still enforced; only the check digit is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CheckMode {
    /// Reject a wrong check digit.
    #[default]
    Strict,
    /// Accept a wrong check digit (the result still reports whether it was valid).
    Lenient,
}
