//! The default catalogue: realistic notices of the 121 comuni of the Città metropolitana di Roma
//! Capitale, generated from a seed so that every run with the same seed and reference date
//! offers the same notices.
//!
//! The comuni (ISTAT name, fiscal code, population) come from an embedded copy of
//! `shared/data/comuni-citta-metropolitana-roma.csv` (IPA and ISTAT data, CC BY 4.0; see
//! `data/README.md`). Everything else is invented but shaped like the real thing: TARI with the
//! 5 % TEFA share paid to the Città metropolitana, school-canteen top-ups, Polizia Locale fines,
//! IMU assessment notices split into tax, penalty, interest and fees. IBANs are synthetic with a
//! correct CIN and check digits; debtors are synthetic people with well-formed fiscal codes.

use pagopa::notice::SegregationCode;
use pagopa::soap::{BoundedVec, EntityType, Iban, NonZeroAmount, Text, Text35};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};

use crate::catalogue::{
    Catalogue, CatalogueError, Creditor, Debtor, Notice, NoticeEntry, NoticeStatus,
    StationBehaviour, Transfer,
};
use crate::ids::{Rng, Sex, italian_iban, personal_fiscal_code};

/// The embedded list of comuni (`istat_code,name,fiscal_code,population`).
pub const COMUNI_CSV: &str = include_str!("../data/comuni-citta-metropolitana-roma.csv");

/// Fiscal code of Roma Capitale, the technological intermediary (`idBrokerPA`) of every demo
/// creditor.
pub const ROMA_CAPITALE: &str = "02438750586";

/// Fiscal code of the Città metropolitana di Roma Capitale, beneficiary of the TEFA share of
/// TARI (IPA code `cmrc`).
pub const CITTA_METROPOLITANA: &str = "80034390585";

/// A comune of the embedded list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comune {
    /// ISTAT code, 6 digits.
    pub istat_code: String,
    /// Official name.
    pub name: String,
    /// Fiscal code of the comune as a legal entity.
    pub fiscal_code: CreditorFiscalCode,
    /// Resident population (1 January 2021).
    pub population: u32,
}

/// The comuni of the embedded list, in file order. Rows that do not parse are reported.
pub fn comuni() -> Result<Vec<Comune>, CatalogueError> {
    let mut out = Vec::with_capacity(121);
    for (i, line) in COMUNI_CSV.lines().enumerate().skip(1) {
        let bad = |reason: &str| CatalogueError::Invalid {
            at: format!("comuni-citta-metropolitana-roma.csv:{}", i + 1),
            reason: reason.to_owned(),
        };
        let mut cols = line.split(',');
        let (Some(istat), Some(name), Some(fc), Some(pop), None) = (
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
        ) else {
            return Err(bad("attese 4 colonne"));
        };
        out.push(Comune {
            istat_code: istat.to_owned(),
            name: name.to_owned(),
            fiscal_code: CreditorFiscalCode::parse(fc, CheckMode::Strict)
                .map_err(|e| bad(&e.to_string()))?,
            population: pop.parse().map_err(|_| bad("popolazione non numerica"))?,
        });
    }
    Ok(out)
}

const SURNAMES: &[&str] = &[
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
];
const MALE_NAMES: &[&str] = &[
    "Marco",
    "Giuseppe",
    "Luca",
    "Francesco",
    "Alessandro",
    "Andrea",
    "Stefano",
    "Roberto",
    "Paolo",
    "Davide",
    "Matteo",
    "Lorenzo",
    "Simone",
    "Massimo",
    "Fabio",
    "Claudio",
];
const FEMALE_NAMES: &[&str] = &[
    "Giulia",
    "Francesca",
    "Chiara",
    "Sara",
    "Valentina",
    "Anna",
    "Laura",
    "Elena",
    "Martina",
    "Silvia",
    "Federica",
    "Paola",
    "Roberta",
    "Alessandra",
    "Maria",
    "Cristina",
];

/// ABI codes of banks that act as municipal treasurers in Lazio (used only to make the
/// synthetic IBANs look plausible).
const TREASURY_ABI: &[&str] = &["01030", "02008", "03069", "05034", "08327", "05696"];
/// ABI of Poste Italiane (postal current accounts).
const POSTE_ABI: &str = "07601";

/// Build validated text, or report it as an invalid generated value (which would be a bug in
/// this module, surfaced as an error rather than a panic).
fn text<const A: usize, const B: usize>(s: &str) -> Result<Text<A, B>, CatalogueError> {
    Text::new(s).map_err(|e| CatalogueError::Invalid {
        at: "catalogo demo".to_owned(),
        reason: format!("{s:?}: {e}"),
    })
}

fn cents(c: u64) -> Result<NonZeroAmount, CatalogueError> {
    let bad = |e: &dyn std::fmt::Display| CatalogueError::Invalid {
        at: "catalogo demo".to_owned(),
        reason: e.to_string(),
    };
    NonZeroAmount::new(Amount::from_cents(c).map_err(|e| bad(&e))?).map_err(|e| bad(&e))
}

fn iban(abi: &str, cab: u64, account: u64) -> Result<Iban, CatalogueError> {
    let s = italian_iban(abi, &format!("{cab:05}"), &format!("{account:012}"));
    let s = s.ok_or_else(|| CatalogueError::Invalid {
        at: "catalogo demo".to_owned(),
        reason: "IBAN non generabile".to_owned(),
    })?;
    Iban::new(&s).map_err(|e| CatalogueError::Invalid {
        at: "catalogo demo".to_owned(),
        reason: e.to_string(),
    })
}

/// The accounts of a comune: a treasury account and a postal one.
struct Accounts {
    treasury: Iban,
    postal: Iban,
}

fn accounts(rng: &mut Rng) -> Result<Accounts, CatalogueError> {
    let abi = rng.pick(TREASURY_ABI).copied().unwrap_or("01030");
    Ok(Accounts {
        treasury: iban(abi, rng.below(100_000), rng.below(1_000_000_000_000))?,
        postal: iban(POSTE_ABI, 3200, rng.below(1_000_000_000_000))?,
    })
}

fn debtor(rng: &mut Rng, reference_year: u16) -> Result<Debtor, CatalogueError> {
    let female = rng.percent(50);
    let surname = rng.pick(SURNAMES).copied().unwrap_or("Rossi");
    let name = rng
        .pick(if female { FEMALE_NAMES } else { MALE_NAMES })
        .copied()
        .unwrap_or("Mario");
    let age = u16::try_from(rng.range(20, 85)).unwrap_or(40);
    let month = u8::try_from(rng.range(1, 12)).unwrap_or(1);
    let day = u8::try_from(rng.range(1, 28)).unwrap_or(1);
    let sex = if female { Sex::Female } else { Sex::Male };
    // Every synthetic debtor is born in Roma (cadastral code H501): the embedded list has no
    // cadastral codes, and nothing checks birthplaces.
    let cf = personal_fiscal_code(
        surname,
        name,
        (reference_year.saturating_sub(age), month, day),
        sex,
        "H501",
    )
    .ok_or_else(|| CatalogueError::Invalid {
        at: "catalogo demo".to_owned(),
        reason: "codice fiscale non generabile".to_owned(),
    })?;
    Ok(Debtor {
        kind: EntityType::Natural,
        id: text(&cf)?,
        name: text::<1, 70>(&format!("{name} {surname}"))?,
    })
}

/// Round to a multiple of `step` cents, at least `step`.
fn round(c: u64, step: u64) -> u64 {
    (c / step).max(1) * step
}

/// The kinds of demo notice, each with its segregation code (the IUV generation point).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Tari,
    Mensa,
    Multa,
    Imu,
}

impl Kind {
    fn segregation(self) -> u8 {
        match self {
            Kind::Tari | Kind::Imu => 1,
            Kind::Mensa => 2,
            Kind::Multa => 3,
        }
    }
}

struct Gen<'a> {
    rng: Rng,
    reference: Date,
    comune: &'a Comune,
    accounts: Accounts,
    cm_iban: Iban,
    cm: CreditorFiscalCode,
}

impl Gen<'_> {
    fn transfer(
        &self,
        to: CreditorFiscalCode,
        iban: &Iban,
        cents_: u64,
        remittance: &str,
        category: &str,
    ) -> Result<Transfer, CatalogueError> {
        Ok(Transfer {
            fiscal_code: to,
            iban: iban.clone(),
            amount: cents(cents_)?,
            remittance: text(remittance)?,
            category: text(category)?,
        })
    }

    fn notice(&mut self, kind: Kind, seq: u64) -> Result<Notice, CatalogueError> {
        let year = self.reference.year();
        let fc = self.comune.fiscal_code;
        let (service, description, office, transfers): (&str, String, &str, Vec<Transfer>) =
            match kind {
                Kind::Tari => {
                    let base = round(self.rng.range(8_000, 60_000), 100);
                    let tefa = base * 5 / 100;
                    let rata = *self
                        .rng
                        .pick(&["rata unica", "1a rata", "2a rata"])
                        .unwrap_or(&"rata unica");
                    (
                        "TARI",
                        format!("TARI {year} - {rata} - avviso n. {seq}"),
                        "Ufficio Tributi",
                        vec![
                            self.transfer(
                                fc,
                                &self.accounts.treasury,
                                base,
                                &format!("TARI {year} {rata}"),
                                "0101101IM",
                            )?,
                            self.transfer(
                                self.cm,
                                &self.cm_iban,
                                tefa,
                                &format!("TEFA {year} - {}", self.comune.name),
                                "0201102IM",
                            )?,
                        ],
                    )
                }
                Kind::Mensa => {
                    let days = self.rng.range(8, 22);
                    let tariff = *self.rng.pick(&[250u64, 380, 450, 520]).unwrap_or(&450);
                    const MONTHS: [&str; 9] = [
                        "settembre",
                        "ottobre",
                        "novembre",
                        "dicembre",
                        "gennaio",
                        "febbraio",
                        "marzo",
                        "aprile",
                        "maggio",
                    ];
                    let month = self.rng.pick(&MONTHS).copied().unwrap_or("ottobre");
                    (
                        "MENSA",
                        format!("Refezione scolastica {month} - {days} pasti"),
                        "Servizi Scolastici",
                        vec![self.transfer(
                            fc,
                            &self.accounts.treasury,
                            days * tariff,
                            &format!("Mensa scolastica {month} {year}"),
                            "0105108TS",
                        )?],
                    )
                }
                Kind::Multa => {
                    // (article, sanction in cents): amounts of the Codice della Strada.
                    let (art, sanction) = *self
                        .rng
                        .pick(&[
                            ("art. 7 c. 15 CdS (sosta)", 4_200u64),
                            ("art. 7 c. 14 CdS (ZTL)", 8_700),
                            ("art. 142 c. 7 CdS (velocita')", 17_300),
                            ("art. 146 c. 3 CdS (semaforo)", 16_700),
                            ("art. 157 c. 6 CdS (sosta)", 4_200),
                        ])
                        .unwrap_or(&("art. 7 c. 15 CdS (sosta)", 4_200));
                    let fees = *self.rng.pick(&[1_250u64, 1_470, 1_830]).unwrap_or(&1_250);
                    (
                        "MULTA",
                        format!("Verbale n. {seq}/{year} - {art}"),
                        "Polizia Locale",
                        vec![
                            self.transfer(
                                fc,
                                &self.accounts.postal,
                                sanction,
                                &format!("Sanzione verbale {seq}/{year}"),
                                "0103103SP",
                            )?,
                            self.transfer(
                                fc,
                                &self.accounts.postal,
                                fees,
                                &format!("Spese di notifica verbale {seq}/{year}"),
                                "0103104SP",
                            )?,
                        ],
                    )
                }
                Kind::Imu => {
                    let tax = round(self.rng.range(15_000, 250_000), 100);
                    let year_of_tax =
                        year.saturating_sub(u16::try_from(self.rng.range(2, 5)).unwrap_or(3));
                    let interest = (tax * self.rng.range(3, 9) / 100).max(1);
                    let mut t = vec![
                        self.transfer(
                            fc,
                            &self.accounts.treasury,
                            tax,
                            &format!("IMU {year_of_tax} imposta accertata"),
                            "0101100IM",
                        )?,
                        self.transfer(
                            fc,
                            &self.accounts.treasury,
                            tax * 30 / 100,
                            &format!("IMU {year_of_tax} sanzione"),
                            "0101100SA",
                        )?,
                        self.transfer(
                            fc,
                            &self.accounts.treasury,
                            interest,
                            &format!("IMU {year_of_tax} interessi"),
                            "0101100IN",
                        )?,
                    ];
                    let extra = self.rng.below(3);
                    if extra >= 1 {
                        t.push(self.transfer(
                            fc,
                            &self.accounts.postal,
                            588,
                            "Spese di notifica",
                            "0101100SP",
                        )?);
                    }
                    if extra >= 2 {
                        t.push(self.transfer(
                            fc,
                            &self.accounts.postal,
                            950,
                            "Spese postali",
                            "0101100SP",
                        )?);
                    }
                    (
                        "IMU",
                        format!("Avviso di accertamento IMU {year_of_tax} n. {seq}"),
                        "Ufficio Tributi",
                        t,
                    )
                }
            };
        // One notice in fifteen is not payable, so demos can show the creditor's refusals.
        let status = match self.rng.below(45) {
            0 => NoticeStatus::Expired,
            1 => NoticeStatus::Annulled,
            2 => NoticeStatus::PaidAtCreditor,
            _ => NoticeStatus::Open,
        };
        let days = if status == NoticeStatus::Expired {
            -i64::try_from(self.rng.range(30, 200)).unwrap_or(60)
        } else {
            i64::try_from(self.rng.range(10, 150)).unwrap_or(30)
        };
        let due_date = self
            .reference
            .add_days(days)
            .map_err(|e| CatalogueError::Invalid {
                at: "catalogo demo".to_owned(),
                reason: e.to_string(),
            })?;
        let debtor = debtor(&mut self.rng, year)?;
        let transfers = BoundedVec::new(transfers).map_err(|e| CatalogueError::Invalid {
            at: "catalogo demo".to_owned(),
            reason: e.to_string(),
        })?;
        Notice::new(
            Some(text::<1, 35>(service)?),
            text(&description)?,
            Some(text(office)?),
            due_date,
            status,
            debtor,
            transfers,
        )
    }
}

/// Notices per comune: one of each kind, plus one per 20,000 inhabitants, at most twelve.
fn notices_for(population: u32) -> u64 {
    (4 + u64::from(population / 20_000)).min(12)
}

/// The demo catalogue for `seed`, with due dates around `reference` (usually today).
pub fn catalogue(seed: u64, reference: Date) -> Result<Catalogue, CatalogueError> {
    let comuni = comuni()?;
    let cm = CreditorFiscalCode::parse(CITTA_METROPOLITANA, CheckMode::Strict).map_err(|e| {
        CatalogueError::Invalid {
            at: "CITTA_METROPOLITANA".to_owned(),
            reason: e.to_string(),
        }
    })?;
    let mut rng = Rng::new(seed);
    let cm_iban = iban(TREASURY_ABI[0], 3200, rng.below(1_000_000_000_000))?;
    let broker: Text35 = text(ROMA_CAPITALE)?;
    let station: Text35 = text(&format!("{ROMA_CAPITALE}_01"))?;
    let mut creditors = Vec::with_capacity(comuni.len() + 1);
    let mut notices = Vec::new();
    creditors.push(Creditor {
        fiscal_code: cm,
        company_name: text("Citta' metropolitana di Roma Capitale")?,
        office_name: None,
        id_broker_pa: broker.clone(),
        id_station: station.clone(),
        station: StationBehaviour::Online,
    });
    let kinds = [Kind::Tari, Kind::Mensa, Kind::Multa, Kind::Imu];
    let year = u64::from(reference.year());
    for comune in &comuni {
        let company_name = if comune.fiscal_code.as_str() == ROMA_CAPITALE {
            "Roma Capitale".to_owned()
        } else {
            format!("Comune di {}", comune.name)
        };
        creditors.push(Creditor {
            fiscal_code: comune.fiscal_code,
            company_name: text(&company_name)?,
            office_name: None,
            id_broker_pa: broker.clone(),
            id_station: station.clone(),
            station: StationBehaviour::Online,
        });
        let mut g = Gen {
            rng: Rng::new(rng.next_u64()),
            reference,
            comune,
            accounts: accounts(&mut rng)?,
            cm_iban: cm_iban.clone(),
            cm,
        };
        for i in 0..notices_for(comune.population) {
            let kind = kinds[usize::try_from(i % 4).unwrap_or(0)];
            let seq = g.rng.range(1_000, 99_999);
            // 13-digit IUV base: the year, then a 9-digit progressive number.
            let base = year * 1_000_000_000 + i * 1_000 + g.rng.below(1_000);
            let segregation =
                SegregationCode::new(kind.segregation()).map_err(|e| CatalogueError::Invalid {
                    at: "catalogo demo".to_owned(),
                    reason: e.to_string(),
                })?;
            let notice_number = NoticeNumber::generate_aux3(segregation, base).map_err(|e| {
                CatalogueError::Invalid {
                    at: "catalogo demo".to_owned(),
                    reason: e.to_string(),
                }
            })?;
            notices.push(NoticeEntry {
                creditor: comune.fiscal_code,
                notice_number,
                notice: g.notice(kind, seq)?,
            });
        }
    }
    Catalogue::new(creditors, notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::iban_is_valid;

    fn reference() -> Date {
        Date::new(2025, 3, 1).expect("date")
    }

    #[test]
    fn embedded_list_has_all_121_comuni() {
        let c = comuni().expect("embedded CSV parses");
        assert_eq!(c.len(), 121);
        assert!(
            c.iter()
                .any(|c| c.name == "Roma" && c.fiscal_code.as_str() == ROMA_CAPITALE)
        );
        assert_eq!(
            c.iter().map(|c| u64::from(c.population)).sum::<u64>(),
            4_227_588
        );
    }

    #[test]
    fn demo_is_deterministic_and_covers_every_comune() {
        let a = catalogue(1, reference()).expect("demo");
        let b = catalogue(1, reference()).expect("demo");
        assert_eq!(a, b);
        assert_ne!(a, catalogue(2, reference()).expect("demo"));
        // Every comune plus the Città metropolitana.
        assert_eq!(a.creditors().len(), 122);
        let issuers: std::collections::HashSet<_> =
            a.notices().iter().map(|n| n.creditor).collect();
        assert_eq!(issuers.len(), 121);
        assert!(a.notices().len() > 500, "{}", a.notices().len());
    }

    #[test]
    fn demo_values_are_realistic() {
        let c = catalogue(9, reference()).expect("demo");
        let mut open = 0;
        let mut max_transfers = 0;
        for e in c.notices() {
            assert_eq!(e.notice_number.check_digit_valid(), Some(true));
            assert!(e.notice.debtor.id.as_str().len() == 16);
            max_transfers = max_transfers.max(e.notice.transfers.len());
            for t in e.notice.transfers.iter() {
                assert!(iban_is_valid(t.iban.as_str()), "{}", t.iban.as_str());
                assert!(!t.amount.get().is_zero());
            }
            let amount = e.notice.amount().cents();
            assert!((100..=1_000_000).contains(&amount), "{amount}");
            if e.notice.status == NoticeStatus::Open {
                open += 1;
            }
            if e.notice.service.as_ref().map(Text35::as_str) == Some("TARI") {
                let tefa = &e.notice.transfers[1];
                assert_eq!(tefa.fiscal_code.as_str(), CITTA_METROPOLITANA);
                assert_eq!(
                    tefa.amount.get().cents(),
                    e.notice.transfers[0].amount.get().cents() * 5 / 100
                );
            }
        }
        assert_eq!(max_transfers, 5);
        assert!(
            open * 10 > c.notices().len() * 9,
            "most notices are payable"
        );
        // Round-trips through the file format.
        let t = c.to_toml().expect("toml");
        assert_eq!(Catalogue::from_toml(&t, "demo").expect("reads back"), c);
    }
}
