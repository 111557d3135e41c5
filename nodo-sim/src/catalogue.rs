//! The debt positions the simulated creditors hold: who they are, what each notice asks for and
//! where the money goes.
//!
//! On the real platform this data lives at each creditor (the Nodo asks it with paVerifyPaymentNotice
//! and paGetPayment); the simulator plays the creditors too, so it keeps a catalogue. The
//! catalogue is read from a TOML or JSON file ([`Catalogue::load`]) whose format is documented
//! in the crate's README; [`crate::demo`] builds the default one. File values are checked into
//! the `pagopa` domain types on load, so a catalogue that loads always produces schema-valid
//! messages. Fiscal codes and notice numbers are read leniently (format enforced, check digits
//! not), as in pagoPA's test environment.

use std::collections::HashSet;
use std::path::Path;

use pagopa::soap::{BoundedVec, EntityType, Iban, NonZeroAmount, Text, Text35, Text70, Text140};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};
use serde::{Deserialize, Serialize};

/// Why a catalogue could not be loaded or built. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// The file could not be read or written.
    #[error("catalogo {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML/JSON, or does not have the catalogue's shape.
    #[error("catalogo {path}: sintassi: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value breaks its rule (e.g. an IBAN that is not one).
    #[error("catalogo: {at}: {reason}")]
    Invalid {
        /// Where, e.g. `notices[3].transfers[0].iban`.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// Two creditors with the same fiscal code.
    #[error("catalogo: ente {0} definito due volte")]
    DuplicateCreditor(String),
    /// Two notices with the same creditor and notice number.
    #[error("catalogo: avviso {notice} dell'ente {creditor} definito due volte")]
    DuplicateNotice {
        /// The creditor's fiscal code.
        creditor: String,
        /// The notice number.
        notice: String,
    },
    /// A notice names a creditor the catalogue does not define.
    #[error("catalogo: l'avviso {notice} cita l'ente {creditor}, non definito")]
    UnknownCreditor {
        /// The creditor's fiscal code.
        creditor: String,
        /// The notice number.
        notice: String,
    },
    /// The catalogue could not be serialized.
    #[error("catalogo: serializzazione: {0}")]
    Serialize(String),
}

impl CatalogueError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogueError::Io { .. } => "CATALOGUE_IO",
            CatalogueError::Syntax { .. } => "CATALOGUE_SYNTAX",
            CatalogueError::Invalid { .. } => "CATALOGUE_INVALID_VALUE",
            CatalogueError::DuplicateCreditor(_) => "CATALOGUE_DUPLICATE_CREDITOR",
            CatalogueError::DuplicateNotice { .. } => "CATALOGUE_DUPLICATE_NOTICE",
            CatalogueError::UnknownCreditor { .. } => "CATALOGUE_UNKNOWN_CREDITOR",
            CatalogueError::Serialize(_) => "CATALOGUE_SERIALIZE",
        }
    }
}

/// How a creditor's station behaves when the Nodo calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationBehaviour {
    /// Answers normally.
    #[default]
    Online,
    /// Cannot be reached: `PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE` at once.
    Unreachable,
    /// Never answers: `PPT_STAZIONE_INT_PA_TIMEOUT` after the configured station timeout.
    Timeout,
}

/// A creditor (ente creditore) and its station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creditor {
    /// Its fiscal code (`idPA`).
    pub fiscal_code: CreditorFiscalCode,
    /// Its name (`companyName`).
    pub company_name: Text140,
    /// The default office (`officeName`), when a notice names none.
    pub office_name: Option<Text140>,
    /// The technological intermediary (`idBrokerPA`) that receives the receipts.
    pub id_broker_pa: Text35,
    /// The station (`idStation`) that receives the receipts.
    pub id_station: Text35,
    /// How its station behaves.
    pub station: StationBehaviour,
}

/// The creditor's view of a notice: what its paGetPayment would answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Payable.
    #[default]
    Open,
    /// Already paid through another channel: `PAA_PAGAMENTO_DUPLICATO`.
    PaidAtCreditor,
    /// Past its validity: `PAA_PAGAMENTO_SCADUTO`.
    Expired,
    /// Cancelled by the creditor: `PAA_PAGAMENTO_ANNULLATO`.
    Annulled,
}

/// The person or company a notice is addressed to (`debtor` in the receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    /// Natural (`F`) or legal (`G`) person.
    pub kind: EntityType,
    /// Fiscal code or VAT number.
    pub id: Text<2, 16>,
    /// Full name.
    pub name: Text70,
}

/// Where part of a notice's money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The receiving creditor, possibly not the notice's own (TEFA goes to the Città
    /// metropolitana).
    pub fiscal_code: CreditorFiscalCode,
    /// The receiving account.
    pub iban: Iban,
    /// The amount, at least 0.01 €.
    pub amount: NonZeroAmount,
    /// The remittance information (causale).
    pub remittance: Text140,
    /// The taxonomy code (`transferCategory`).
    pub category: Text140,
}

/// A notice (avviso di pagamento): the debt position behind one notice number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What kind of payment, for people choosing sample notices (`TARI`, `MENSA`...).
    pub service: Option<Text35>,
    /// The description (`paymentDescription`, receipt `description`).
    pub description: Text140,
    /// The office in charge (`officeName`); the creditor's default when absent.
    pub office_name: Option<Text140>,
    /// The due date.
    pub due_date: Date,
    /// The creditor's view of it.
    pub status: NoticeStatus,
    /// Who owes it.
    pub debtor: Debtor,
    /// Where the money goes (1 to 5 transfers); the amount due is their sum.
    pub transfers: BoundedVec<Transfer, 5>,
    amount: Amount,
}

impl Notice {
    /// A notice; fails if the sum of the transfers exceeds the largest amount.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        service: Option<Text35>,
        description: Text140,
        office_name: Option<Text140>,
        due_date: Date,
        status: NoticeStatus,
        debtor: Debtor,
        transfers: BoundedVec<Transfer, 5>,
    ) -> Result<Notice, CatalogueError> {
        let amount =
            Amount::checked_sum(transfers.iter().map(|t| t.amount.get())).map_err(|e| {
                CatalogueError::Invalid {
                    at: "transfers".to_owned(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Notice {
            service,
            description,
            office_name,
            due_date,
            status,
            debtor,
            transfers,
            amount,
        })
    }

    /// The amount due: the sum of the transfers.
    pub fn amount(&self) -> Amount {
        self.amount
    }
}

/// A notice and who issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeEntry {
    /// The issuing creditor.
    pub creditor: CreditorFiscalCode,
    /// The notice number.
    pub notice_number: NoticeNumber,
    /// The debt position.
    pub notice: Notice,
}

/// Creditors and their notices, consistent: unique creditors, unique notices, every notice's
/// creditor defined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    creditors: Vec<Creditor>,
    notices: Vec<NoticeEntry>,
}

impl Catalogue {
    /// A catalogue, after checking it is consistent.
    pub fn new(
        creditors: Vec<Creditor>,
        notices: Vec<NoticeEntry>,
    ) -> Result<Catalogue, CatalogueError> {
        let mut fcs = HashSet::with_capacity(creditors.len());
        for c in &creditors {
            if !fcs.insert(c.fiscal_code) {
                return Err(CatalogueError::DuplicateCreditor(c.fiscal_code.to_string()));
            }
        }
        let mut keys = HashSet::with_capacity(notices.len());
        for n in &notices {
            if !fcs.contains(&n.creditor) {
                return Err(CatalogueError::UnknownCreditor {
                    creditor: n.creditor.to_string(),
                    notice: n.notice_number.to_string(),
                });
            }
            if !keys.insert((n.creditor, n.notice_number)) {
                return Err(CatalogueError::DuplicateNotice {
                    creditor: n.creditor.to_string(),
                    notice: n.notice_number.to_string(),
                });
            }
        }
        Ok(Catalogue { creditors, notices })
    }

    /// The creditors.
    pub fn creditors(&self) -> &[Creditor] {
        &self.creditors
    }

    /// The notices.
    pub fn notices(&self) -> &[NoticeEntry] {
        &self.notices
    }

    /// Read a catalogue file: JSON if the name ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Io {
            path: shown.clone(),
            source,
        })?;
        if is_json(path) {
            Catalogue::from_json(&text, &shown)
        } else {
            Catalogue::from_toml(&text, &shown)
        }
    }

    /// Parse TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = toml::from_str(text).map_err(|e| CatalogueError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        file.into_catalogue()
    }

    /// Parse JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile =
            serde_json::from_str(text).map_err(|e| CatalogueError::Syntax {
                path: origin.to_owned(),
                message: e.to_string(),
            })?;
        file.into_catalogue()
    }

    /// The catalogue as TOML, in the file format [`Catalogue::from_toml`] reads.
    pub fn to_toml(&self) -> Result<String, CatalogueError> {
        toml::to_string(&CatalogueFile::from(self))
            .map_err(|e| CatalogueError::Serialize(e.to_string()))
    }

    /// The catalogue as pretty-printed JSON, in the file format [`Catalogue::from_json`] reads.
    pub fn to_json(&self) -> Result<String, CatalogueError> {
        serde_json::to_string_pretty(&CatalogueFile::from(self))
            .map_err(|e| CatalogueError::Serialize(e.to_string()))
    }

    /// Write the catalogue to `path`: JSON if the name ends in `.json`, TOML otherwise.
    pub fn save(&self, path: &Path) -> Result<(), CatalogueError> {
        let text = if is_json(path) {
            self.to_json()?
        } else {
            self.to_toml()?
        };
        std::fs::write(path, text).map_err(|source| CatalogueError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

// ---------------------------------------------------------------------------------------------
// File format: plain strings, checked into domain types by `into_catalogue`.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    creditors: Vec<CreditorFile>,
    #[serde(default)]
    notices: Vec<NoticeFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditorFile {
    fiscal_code: String,
    company_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    office_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_broker_pa: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_station: Option<String>,
    #[serde(default, skip_serializing_if = "is_online")]
    station: StationBehaviour,
}

fn is_online(s: &StationBehaviour) -> bool {
    *s == StationBehaviour::Online
}

fn is_open(s: &NoticeStatus) -> bool {
    *s == NoticeStatus::Open
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeFile {
    creditor: String,
    notice_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    office_name: Option<String>,
    due_date: String,
    #[serde(default, skip_serializing_if = "is_open")]
    status: NoticeStatus,
    debtor: DebtorFile,
    transfers: Vec<TransferFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DebtorFile {
    #[serde(default = "natural")]
    kind: String,
    id: String,
    name: String,
}

fn natural() -> String {
    "F".to_owned()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fiscal_code: Option<String>,
    iban: String,
    amount: String,
    remittance: String,
    category: String,
}

/// Run a fallible conversion, naming the field in the error.
fn field<T, E: std::fmt::Display>(
    at: impl FnOnce() -> String,
    r: Result<T, E>,
) -> Result<T, CatalogueError> {
    r.map_err(|e| CatalogueError::Invalid {
        at: at(),
        reason: e.to_string(),
    })
}

impl CatalogueFile {
    fn into_catalogue(self) -> Result<Catalogue, CatalogueError> {
        let mut creditors = Vec::with_capacity(self.creditors.len());
        for (i, c) in self.creditors.into_iter().enumerate() {
            let at = |f: &str| format!("creditors[{i}].{f}");
            let fiscal_code = field(
                || at("fiscal_code"),
                CreditorFiscalCode::parse(&c.fiscal_code, CheckMode::Lenient),
            )?;
            let id_broker_pa = c.id_broker_pa.unwrap_or_else(|| c.fiscal_code.clone());
            let id_station = c
                .id_station
                .unwrap_or_else(|| format!("{}_01", c.fiscal_code));
            creditors.push(Creditor {
                fiscal_code,
                company_name: field(|| at("company_name"), Text140::new(&c.company_name))?,
                office_name: c
                    .office_name
                    .map(|o| field(|| at("office_name"), Text140::new(&o)))
                    .transpose()?,
                id_broker_pa: field(|| at("id_broker_pa"), Text35::new(&id_broker_pa))?,
                id_station: field(|| at("id_station"), Text35::new(&id_station))?,
                station: c.station,
            });
        }
        let mut notices = Vec::with_capacity(self.notices.len());
        for (i, n) in self.notices.into_iter().enumerate() {
            notices.push(n.into_entry(i)?);
        }
        Catalogue::new(creditors, notices)
    }
}

impl NoticeFile {
    fn into_entry(self, i: usize) -> Result<NoticeEntry, CatalogueError> {
        let at = |f: &str| format!("notices[{i}].{f}");
        let creditor = field(
            || at("creditor"),
            CreditorFiscalCode::parse(&self.creditor, CheckMode::Lenient),
        )?;
        let notice_number = field(
            || at("notice_number"),
            NoticeNumber::parse(&self.notice_number, CheckMode::Lenient),
        )?;
        let kind = match self.debtor.kind.as_str() {
            "F" => EntityType::Natural,
            "G" => EntityType::Legal,
            other => {
                return Err(CatalogueError::Invalid {
                    at: at("debtor.kind"),
                    reason: format!("{other:?}: atteso F o G"),
                });
            }
        };
        let debtor = Debtor {
            kind,
            id: field(|| at("debtor.id"), Text::new(&self.debtor.id))?,
            name: field(|| at("debtor.name"), Text70::new(&self.debtor.name))?,
        };
        let mut transfers = Vec::with_capacity(self.transfers.len());
        for (j, t) in self.transfers.into_iter().enumerate() {
            let at = |f: &str| format!("notices[{i}].transfers[{j}].{f}");
            let fiscal_code = match t.fiscal_code {
                Some(fc) => field(
                    || at("fiscal_code"),
                    CreditorFiscalCode::parse(&fc, CheckMode::Lenient),
                )?,
                None => creditor,
            };
            let amount = field(|| at("amount"), Amount::parse_nodo(&t.amount))?;
            let amount = field(|| at("amount"), NonZeroAmount::new(amount))?;
            transfers.push(Transfer {
                fiscal_code,
                iban: field(|| at("iban"), Iban::new(&t.iban))?,
                amount,
                remittance: field(|| at("remittance"), Text140::new(&t.remittance))?,
                category: field(|| at("category"), Text140::new(&t.category))?,
            });
        }
        let transfers = field(|| at("transfers"), BoundedVec::new(transfers))?;
        let notice = Notice::new(
            self.service
                .map(|s| field(|| at("service"), Text35::new(&s)))
                .transpose()?,
            field(|| at("description"), Text140::new(&self.description))?,
            self.office_name
                .map(|o| field(|| at("office_name"), Text140::new(&o)))
                .transpose()?,
            field(|| at("due_date"), Date::parse(&self.due_date))?,
            self.status,
            debtor,
            transfers,
        )
        .map_err(|e| match e {
            CatalogueError::Invalid { reason, .. } => CatalogueError::Invalid {
                at: at("transfers"),
                reason,
            },
            other => other,
        })?;
        Ok(NoticeEntry {
            creditor,
            notice_number,
            notice,
        })
    }
}

impl From<&Catalogue> for CatalogueFile {
    fn from(c: &Catalogue) -> Self {
        CatalogueFile {
            creditors: c
                .creditors
                .iter()
                .map(|c| CreditorFile {
                    fiscal_code: c.fiscal_code.to_string(),
                    company_name: c.company_name.to_string(),
                    office_name: c.office_name.as_ref().map(ToString::to_string),
                    id_broker_pa: Some(c.id_broker_pa.to_string()),
                    id_station: Some(c.id_station.to_string()),
                    station: c.station,
                })
                .collect(),
            notices: c
                .notices
                .iter()
                .map(|e| NoticeFile {
                    creditor: e.creditor.to_string(),
                    notice_number: e.notice_number.to_string(),
                    service: e.notice.service.as_ref().map(ToString::to_string),
                    description: e.notice.description.to_string(),
                    office_name: e.notice.office_name.as_ref().map(ToString::to_string),
                    due_date: e.notice.due_date.to_string(),
                    status: e.notice.status,
                    debtor: DebtorFile {
                        kind: e.notice.debtor.kind.as_str().to_owned(),
                        id: e.notice.debtor.id.to_string(),
                        name: e.notice.debtor.name.to_string(),
                    },
                    transfers: e
                        .notice
                        .transfers
                        .iter()
                        .map(|t| TransferFile {
                            fiscal_code: (t.fiscal_code != e.creditor)
                                .then(|| t.fiscal_code.to_string()),
                            iban: t.iban.to_string(),
                            amount: t.amount.get().to_string(),
                            remittance: t.remittance.to_string(),
                            category: t.category.to_string(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[creditors]]
fiscal_code = "02438750586"
company_name = "Roma Capitale"
office_name = "Dipartimento Risorse Economiche"

[[creditors]]
fiscal_code = "77777777777"
company_name = "EC irraggiungibile"
station = "unreachable"

[[notices]]
creditor = "02438750586"
notice_number = "301000000000012373"
service = "TARI"
description = "TARI 2025 - rata unica"
due_date = "2025-09-30"
debtor = { id = "RSSMRA80A01H501U", name = "Mario Rossi" }

[[notices.transfers]]
iban = "IT60X0542811101000000123456"
amount = "190.00"
remittance = "TARI 2025"
category = "0101101IM"

[[notices.transfers]]
fiscal_code = "80034390585"
iban = "IT60X0542811101000000123456"
amount = "9.50"
remittance = "TEFA 2025"
category = "0201102IM"
"#;

    #[test]
    fn reads_the_documented_toml_format() {
        let c = Catalogue::from_toml(SAMPLE, "sample").expect("valid sample");
        assert_eq!(c.creditors().len(), 2);
        assert_eq!(c.creditors()[0].id_broker_pa.as_str(), "02438750586");
        assert_eq!(c.creditors()[0].id_station.as_str(), "02438750586_01");
        assert_eq!(c.creditors()[1].station, StationBehaviour::Unreachable);
        let n = &c.notices()[0];
        assert_eq!(
            n.notice.amount(),
            Amount::from_cents(19_950).expect("amount")
        );
        assert_eq!(n.notice.status, NoticeStatus::Open);
        assert_eq!(n.notice.debtor.kind, EntityType::Natural);
        assert_eq!(n.notice.transfers[0].fiscal_code, n.creditor);
        assert_eq!(n.notice.transfers[1].fiscal_code.as_str(), "80034390585");
    }

    #[test]
    fn toml_and_json_round_trip() {
        let c = Catalogue::from_toml(SAMPLE, "sample").expect("valid sample");
        let t = c.to_toml().expect("toml");
        assert_eq!(Catalogue::from_toml(&t, "again").expect("reads back"), c);
        let j = c.to_json().expect("json");
        assert_eq!(Catalogue::from_json(&j, "json").expect("reads back"), c);
    }

    #[test]
    fn bad_values_are_reported_with_their_place() {
        let cases = [
            (
                "IT60X0542811101000000123456",
                "I60X",
                "notices[0].transfers[0].iban",
            ),
            ("\"190.00\"", "\"190.0\"", "notices[0].transfers[0].amount"),
            ("\"190.00\"", "\"0.00\"", "notices[0].transfers[0].amount"),
            ("2025-09-30", "2025-02-30", "notices[0].due_date"),
            (
                "id = \"RSSMRA80A01H501U\"",
                "kind = \"X\", id = \"R\"",
                "notices[0].debtor.kind",
            ),
        ];
        for (from, to, at) in cases {
            let text = SAMPLE.replacen(from, to, 1);
            match Catalogue::from_toml(&text, "t") {
                Err(CatalogueError::Invalid { at: found, .. }) => assert_eq!(found, at),
                other => panic!("{to}: expected Invalid at {at}, got {other:?}"),
            }
        }
        let e = Catalogue::from_toml("[[notices]]\nfoo = 1", "t").expect_err("bad shape");
        assert_eq!(e.code(), "CATALOGUE_SYNTAX");
    }

    #[test]
    fn consistency_is_checked() {
        let dup = SAMPLE.replace("77777777777", "02438750586");
        assert_eq!(
            Catalogue::from_toml(&dup, "t").map_err(|e| e.code()).err(),
            Some("CATALOGUE_DUPLICATE_CREDITOR")
        );
        let unknown = SAMPLE.replace("creditor = \"02438750586\"", "creditor = \"01199250158\"");
        assert_eq!(
            Catalogue::from_toml(&unknown, "t")
                .map_err(|e| e.code())
                .err(),
            Some("CATALOGUE_UNKNOWN_CREDITOR")
        );
        let notice = &SAMPLE[SAMPLE.find("[[notices]]").expect("notices")..];
        let twice = format!("{SAMPLE}\n{notice}");
        assert_eq!(
            Catalogue::from_toml(&twice, "t")
                .map_err(|e| e.code())
                .err(),
            Some("CATALOGUE_DUPLICATE_NOTICE")
        );
    }
}
