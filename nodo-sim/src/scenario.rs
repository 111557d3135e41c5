//! Scenario notices: a test creditor whose notice numbers choose the creditor's behaviour, in
//! the manner of `pagopa/pagopa-mock-ec` (the mock creditor PSPs drive in pagoPA's test
//! environment with fiscal code `77777777777`).
//!
//! Notice numbers are `3 02 YY nnnnnnnnnnn`: aux digit 3, segregation code 02, then two digits
//! `YY` that select the scenario; the remaining 13 digits are free, so there are as many distinct
//! notices per scenario as a load test needs, and each is a separate debt position (it can be
//! paid once). Check digits are not required. The segregation codes reserved on the real
//! platform (47, 81, 85, 96–99) never collide with these, because the scenarios belong to a
//! dedicated creditor, not to a real one.

use std::sync::Arc;

use pagopa::soap::{BoundedVec, EntityType, Iban, NonZeroAmount, Text, Text35, Text70, Text140};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Date, NoticeNumber};

use crate::catalogue::{Debtor, Notice, NoticeStatus, Transfer};
use crate::ids::italian_iban;

/// What the creditor does for a scenario notice.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// A payable notice.
    Payable(Arc<Notice>),
    /// The creditor has it, but it is not payable (expired, annulled, paid elsewhere).
    Refused(NoticeStatus),
    /// The creditor's station cannot be reached.
    Unreachable,
    /// The creditor's station does not answer in time.
    Timeout,
    /// The creditor does not know the notice.
    Unknown,
}

/// One row of the scenario table: `YY`, what it does, and for payable ones the transfers as
/// (beneficiary index, cents).
struct Row {
    code: u8,
    label: &'static str,
    transfers: &'static [(usize, u64)],
}

/// Payable scenarios: amount and beneficiaries, like the mock-ec "tributes". Beneficiary 0 is the
/// scenario creditor, 1 and 2 are two other (test) creditors.
const PAYABLE: &[Row] = &[
    Row {
        code: 0,
        label: "120.00 EUR: 100.00 + 20.00 a un secondo ente",
        transfers: &[(0, 10_000), (1, 2_000)],
    },
    Row {
        code: 1,
        label: "100.00 EUR, un trasferimento",
        transfers: &[(0, 10_000)],
    },
    Row {
        code: 2,
        label: "0.30 EUR: 0.10 + 0.20",
        transfers: &[(0, 10), (1, 20)],
    },
    Row {
        code: 3,
        label: "6000.00 EUR: 4000.00 + 2000.00",
        transfers: &[(0, 400_000), (1, 200_000)],
    },
    Row {
        code: 4,
        label: "120.00 EUR in 3 trasferimenti",
        transfers: &[(0, 7_000), (1, 3_000), (2, 2_000)],
    },
    Row {
        code: 5,
        label: "120.00 EUR in 4 trasferimenti",
        transfers: &[(0, 7_000), (1, 3_000), (2, 1_000), (1, 1_000)],
    },
    Row {
        code: 6,
        label: "120.00 EUR in 5 trasferimenti",
        transfers: &[(0, 7_000), (1, 3_000), (2, 1_000), (1, 500), (1, 500)],
    },
];

/// `YY` of the "any amount" scenario: digits 6–13 of the notice number are the amount in cents.
pub const ANY_AMOUNT: u8 = 7;
/// `YY`: paid at the creditor (`PAA_PAGAMENTO_DUPLICATO`).
pub const PAID_AT_CREDITOR: u8 = 95;
/// `YY`: annulled (`PAA_PAGAMENTO_ANNULLATO`).
pub const ANNULLED: u8 = 96;
/// `YY`: station unreachable (`PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE`).
pub const UNREACHABLE: u8 = 97;
/// `YY`: station timeout (`PPT_STAZIONE_INT_PA_TIMEOUT`).
pub const TIMEOUT: u8 = 98;
/// `YY`: expired (`PAA_PAGAMENTO_SCADUTO`).
pub const EXPIRED: u8 = 99;

/// The scenario creditor and its ready-made payable notices.
#[derive(Debug, Clone)]
pub struct Scenarios {
    creditor: CreditorFiscalCode,
    beneficiaries: [CreditorFiscalCode; 3],
    ibans: [Iban; 3],
    payable: Vec<(u8, Arc<Notice>)>,
    due_date: Date,
    debtor: Debtor,
}

/// A scenario notice that cannot be built is a bug in this module's constants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenari: {0}")]
pub struct ScenarioError(String);

impl ScenarioError {
    /// An error with this message.
    pub fn new(e: impl std::fmt::Display) -> Self {
        ScenarioError(e.to_string())
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "SCENARIO_BUILD"
    }
}

fn err(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::new(e)
}

impl Scenarios {
    /// The scenarios of creditor `creditor` (by default `77777777777`); the other beneficiaries
    /// are `77777777778` and `77777777779`.
    pub fn new(creditor: CreditorFiscalCode) -> Result<Scenarios, ScenarioError> {
        let fc = |s: &str| CreditorFiscalCode::parse(s, CheckMode::Lenient).map_err(err);
        let beneficiaries = [creditor, fc("77777777778")?, fc("77777777779")?];
        let iban = |abi: &str, acct: &str| {
            italian_iban(abi, "03200", acct)
                .ok_or_else(|| err("IBAN"))
                .and_then(|s| Iban::new(&s).map_err(err))
        };
        let ibans = [
            iban("01030", "000000777777")?,
            iban("07601", "000000777778")?,
            iban("02008", "000000777779")?,
        ];
        let mut s = Scenarios {
            creditor,
            beneficiaries,
            ibans,
            payable: Vec::new(),
            due_date: Date::new(2099, 12, 31).map_err(err)?,
            debtor: Debtor {
                kind: EntityType::Natural,
                id: Text::new("RSSMRA80A01H501U").map_err(err)?,
                name: Text70::new("Mario Rossi").map_err(err)?,
            },
        };
        for row in PAYABLE {
            let cents: Vec<(usize, u64)> = row.transfers.to_vec();
            let notice = s.build(row.label, &cents)?;
            s.payable.push((row.code, Arc::new(notice)));
        }
        Ok(s)
    }

    /// The scenario creditor's fiscal code.
    pub fn creditor(&self) -> CreditorFiscalCode {
        self.creditor
    }

    fn build(&self, label: &str, transfers: &[(usize, u64)]) -> Result<Notice, ScenarioError> {
        let mut list = Vec::with_capacity(transfers.len());
        for (i, &(who, cents)) in transfers.iter().enumerate() {
            let who = who.min(2);
            list.push(Transfer {
                fiscal_code: self.beneficiaries[who],
                iban: self.ibans[who].clone(),
                amount: NonZeroAmount::new(Amount::from_cents(cents).map_err(err)?).map_err(err)?,
                remittance: Text140::new(&format!("Scenario nodo-sim, quota {}", i + 1))
                    .map_err(err)?,
                category: Text140::new("9/0101101IM/").map_err(err)?,
            });
        }
        Notice::new(
            Some(Text35::new("SCENARIO").map_err(err)?),
            Text140::new(&format!("Avviso di test: {label}")).map_err(err)?,
            Some(Text140::new("Ufficio scenari").map_err(err)?),
            self.due_date,
            NoticeStatus::Open,
            self.debtor.clone(),
            BoundedVec::new(list).map_err(err)?,
        )
        .map_err(err)
    }

    /// What the scenario creditor does for `notice` (any notice of another creditor is not a
    /// scenario: the caller checks the creditor first).
    pub fn lookup(&self, notice: &NoticeNumber) -> Scenario {
        let s = notice.as_str().as_bytes();
        if &s[..3] != b"302" {
            return Scenario::Unknown;
        }
        let yy = (s[3] - b'0') * 10 + (s[4] - b'0');
        match yy {
            UNREACHABLE => Scenario::Unreachable,
            TIMEOUT => Scenario::Timeout,
            EXPIRED => Scenario::Refused(NoticeStatus::Expired),
            ANNULLED => Scenario::Refused(NoticeStatus::Annulled),
            PAID_AT_CREDITOR => Scenario::Refused(NoticeStatus::PaidAtCreditor),
            ANY_AMOUNT => {
                let cents = s[5..13]
                    .iter()
                    .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
                if cents == 0 {
                    return Scenario::Unknown;
                }
                let label = format!(
                    "importo libero {}",
                    Amount::from_cents(cents).unwrap_or_default()
                );
                match self.build(&label, &[(0, cents)]) {
                    Ok(n) => Scenario::Payable(Arc::new(n)),
                    Err(_) => Scenario::Unknown,
                }
            }
            _ => self
                .payable
                .iter()
                .find(|(code, _)| *code == yy)
                .map_or(Scenario::Unknown, |(_, n)| Scenario::Payable(Arc::clone(n))),
        }
    }

    /// One example notice number per scenario (valid check digits), with a description, for
    /// documentation and demos. `n` varies the free digits.
    pub fn examples(&self, n: u64) -> Vec<(NoticeNumber, &'static str)> {
        let mut rows: Vec<(u8, u64, &'static str)> =
            PAYABLE.iter().map(|r| (r.code, n, r.label)).collect();
        // The first 8 free digits are the cents: 00001234 = 12.34 EUR.
        rows.push((
            ANY_AMOUNT,
            1_234 * 1_000 + n % 1_000,
            "importo libero: cifre 6-13 = centesimi (qui 12.34 EUR)",
        ));
        rows.extend([
            (
                PAID_AT_CREDITOR,
                n,
                "gia' pagato presso l'ente: PAA_PAGAMENTO_DUPLICATO",
            ),
            (ANNULLED, n, "annullato: PAA_PAGAMENTO_ANNULLATO"),
            (
                UNREACHABLE,
                n,
                "stazione irraggiungibile: PPT_STAZIONE_INT_PA_IRRAGGIUNGIBILE",
            ),
            (
                TIMEOUT,
                n,
                "stazione in timeout: PPT_STAZIONE_INT_PA_TIMEOUT",
            ),
            (EXPIRED, n, "scaduto: PAA_PAGAMENTO_SCADUTO"),
            (50, n, "sconosciuto: PAA_PAGAMENTO_SCONOSCIUTO"),
        ]);
        rows.into_iter()
            .filter_map(|(code, free, label)| {
                // base13 = YY followed by 11 free digits.
                let base = u64::from(code) * 100_000_000_000 + free % 100_000_000_000;
                let seg = pagopa::notice::SegregationCode::new(2).ok()?;
                NoticeNumber::generate_aux3(seg, base)
                    .ok()
                    .map(|nn| (nn, label))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios() -> Scenarios {
        Scenarios::new(CreditorFiscalCode::parse("77777777777", CheckMode::Lenient).expect("fc"))
            .expect("scenarios build")
    }

    fn nn(s: &str) -> NoticeNumber {
        NoticeNumber::parse(s, CheckMode::Lenient).expect("notice")
    }

    #[test]
    fn prefixes_select_the_behaviour() {
        let s = scenarios();
        assert!(matches!(
            s.lookup(&nn("302970000000000000")),
            Scenario::Unreachable
        ));
        assert!(matches!(
            s.lookup(&nn("302980000000000000")),
            Scenario::Timeout
        ));
        assert!(matches!(
            s.lookup(&nn("302990000000000000")),
            Scenario::Refused(NoticeStatus::Expired)
        ));
        assert!(matches!(
            s.lookup(&nn("302960000000000000")),
            Scenario::Refused(NoticeStatus::Annulled)
        ));
        assert!(matches!(
            s.lookup(&nn("302950000000000000")),
            Scenario::Refused(NoticeStatus::PaidAtCreditor)
        ));
        assert!(matches!(
            s.lookup(&nn("302500000000000000")),
            Scenario::Unknown
        ));
        assert!(matches!(
            s.lookup(&nn("301000000000000000")),
            Scenario::Unknown
        ));
        match s.lookup(&nn("302000000000000000")) {
            Scenario::Payable(n) => {
                assert_eq!(n.amount().cents(), 12_000);
                assert_eq!(n.transfers.len(), 2);
                assert_eq!(n.transfers[1].fiscal_code.as_str(), "77777777778");
            }
            other => panic!("{other:?}"),
        }
        match s.lookup(&nn("302060000000000000")) {
            Scenario::Payable(n) => assert_eq!(n.transfers.len(), 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn any_amount_reads_the_cents_from_the_number() {
        let s = scenarios();
        match s.lookup(&nn("302070001234555555")) {
            Scenario::Payable(n) => assert_eq!(n.amount().cents(), 12_345),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.lookup(&nn("302070000000005555")),
            Scenario::Unknown
        ));
    }

    #[test]
    fn examples_have_check_digits_and_match_their_scenario() {
        let s = scenarios();
        let ex = s.examples(42);
        assert_eq!(ex.len(), PAYABLE.len() + 7);
        for (n, label) in &ex {
            assert_eq!(n.check_digit_valid(), Some(true));
            assert!(n.as_str().starts_with("302"), "{label}");
        }
        let any = ex
            .iter()
            .find(|(n, _)| n.as_str().starts_with("30207"))
            .expect("any amount example");
        match s.lookup(&any.0) {
            Scenario::Payable(n) => assert_eq!(n.amount().cents(), 1_234),
            other => panic!("{other:?}"),
        }
    }
}
