//! The fee schedule: what the citizen pays us on top of the notice, per kind of station and
//! tender.
//!
//! The citizen must see the fee before paying, so the verify answer quotes it for every tender
//! the station accepts, and the outcome must report the same fee. A tender absent from the
//! schedule for a kind of station is not accepted there (a kiosk without a cash acceptor has no
//! `cash` entry). Fees are flat or banded by amount; all arithmetic is on integer cents.

use std::collections::BTreeMap;

use channel_api::{DeviceKind, FeeQuote, Tender};
use pagopa::Amount;

/// One band: `fee` applies to amounts up to and including `up_to` (`None`: no upper limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeBand {
    /// The largest amount of the band.
    pub up_to: Option<Amount>,
    /// The fee in the band.
    pub fee: Amount,
}

/// How the fee for one kind of station and tender is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeRule {
    /// The same fee for every amount.
    Flat(Amount),
    /// Bands in increasing order, the last without upper limit (checked by [`FeeRule::bands`]).
    Bands(Vec<FeeBand>),
}

impl FeeRule {
    /// Validated bands: at least one, limits strictly increasing, the last without a limit.
    pub fn bands(bands: Vec<FeeBand>) -> Result<FeeRule, String> {
        let Some(last) = bands.last() else {
            return Err("at least one band is needed".into());
        };
        if last.up_to.is_some() {
            return Err(
                "the last band must have no up_to_cents (it covers every larger amount)".into(),
            );
        }
        let limits: Vec<Amount> = bands.iter().filter_map(|b| b.up_to).collect();
        if limits.len() != bands.len() - 1 {
            return Err("only the last band may omit up_to_cents".into());
        }
        if limits.windows(2).any(|w| w[0] >= w[1]) {
            return Err("up_to_cents must increase from band to band".into());
        }
        Ok(FeeRule::Bands(bands))
    }

    /// The fee for `amount`.
    pub fn fee(&self, amount: Amount) -> Amount {
        match self {
            FeeRule::Flat(f) => *f,
            FeeRule::Bands(bands) => bands
                .iter()
                .find(|b| b.up_to.is_none_or(|limit| amount <= limit))
                .map_or(Amount::ZERO, |b| b.fee),
        }
    }
}

/// The fee rules of every kind of station and tender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeSchedule {
    rules: BTreeMap<(DeviceKind, Tender), FeeRule>,
}

/// Why a fee cannot be quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeeError {
    /// The tender is not accepted at this kind of station.
    #[error("{tender} is not accepted at a {kind}")]
    TenderNotAccepted {
        /// The station's kind.
        kind: DeviceKind,
        /// The tender.
        tender: Tender,
    },
    /// Amount plus fee exceeds the largest amount.
    #[error("amount plus fee is too large")]
    Overflow,
}

impl FeeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FeeError::TenderNotAccepted { .. } => "FEE_TENDER_NOT_ACCEPTED",
            FeeError::Overflow => "FEE_OVERFLOW",
        }
    }
}

impl FeeSchedule {
    /// Set the rule for a kind of station and tender.
    pub fn set(&mut self, kind: DeviceKind, tender: Tender, rule: FeeRule) {
        self.rules.insert((kind, tender), rule);
    }

    /// Whether no tender is accepted anywhere.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fee and total for `amount` paid with `tender` at a station of `kind`.
    pub fn quote(
        &self,
        kind: DeviceKind,
        tender: Tender,
        amount: Amount,
    ) -> Result<FeeQuote, FeeError> {
        let rule = self
            .rules
            .get(&(kind, tender))
            .ok_or(FeeError::TenderNotAccepted { kind, tender })?;
        let fee = rule.fee(amount);
        let total = amount.checked_add(fee).map_err(|_| FeeError::Overflow)?;
        Ok(FeeQuote { tender, fee, total })
    }

    /// A quote for every tender accepted at a station of `kind`, in tender order.
    pub fn quotes(&self, kind: DeviceKind, amount: Amount) -> Vec<FeeQuote> {
        Tender::ALL
            .into_iter()
            .filter_map(|t| self.quote(kind, t, amount).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(n: u64) -> Amount {
        Amount::from_cents(n).expect("valid amount")
    }

    fn schedule() -> FeeSchedule {
        let mut s = FeeSchedule::default();
        s.set(DeviceKind::Kiosk, Tender::Card, FeeRule::Flat(cents(120)));
        let bands = FeeRule::bands(vec![
            FeeBand {
                up_to: Some(cents(5000)),
                fee: cents(100),
            },
            FeeBand {
                up_to: None,
                fee: cents(150),
            },
        ])
        .expect("valid bands");
        s.set(DeviceKind::Counter, Tender::Cash, bands);
        s
    }

    #[test]
    fn flat_and_banded_fees() {
        let s = schedule();
        let q = s
            .quote(DeviceKind::Kiosk, Tender::Card, cents(15000))
            .expect("accepted");
        assert_eq!((q.fee.cents(), q.total.cents()), (120, 15120));
        let at_limit = s
            .quote(DeviceKind::Counter, Tender::Cash, cents(5000))
            .expect("accepted");
        assert_eq!(at_limit.fee.cents(), 100);
        let above = s
            .quote(DeviceKind::Counter, Tender::Cash, cents(5001))
            .expect("accepted");
        assert_eq!(above.fee.cents(), 150);
    }

    #[test]
    fn absent_tender_is_not_accepted() {
        let s = schedule();
        assert_eq!(
            s.quote(DeviceKind::Kiosk, Tender::Cash, cents(1)),
            Err(FeeError::TenderNotAccepted {
                kind: DeviceKind::Kiosk,
                tender: Tender::Cash
            })
        );
        assert_eq!(s.quotes(DeviceKind::Kiosk, cents(1)).len(), 1);
        assert_eq!(
            s.quotes(DeviceKind::Counter, cents(1))[0].tender,
            Tender::Cash
        );
    }

    #[test]
    fn total_overflow_is_an_error() {
        let s = schedule();
        assert_eq!(
            s.quote(DeviceKind::Kiosk, Tender::Card, Amount::MAX),
            Err(FeeError::Overflow)
        );
    }

    #[test]
    fn bands_are_validated() {
        let band = |up_to: Option<u64>, fee: u64| FeeBand {
            up_to: up_to.map(cents),
            fee: cents(fee),
        };
        assert!(FeeRule::bands(vec![]).is_err());
        assert!(FeeRule::bands(vec![band(Some(100), 1)]).is_err());
        assert!(FeeRule::bands(vec![band(None, 1), band(None, 2)]).is_err());
        assert!(
            FeeRule::bands(vec![band(Some(100), 1), band(Some(100), 2), band(None, 3)]).is_err()
        );
        assert!(
            FeeRule::bands(vec![band(Some(100), 1), band(Some(200), 2), band(None, 3)]).is_ok()
        );
    }
}
