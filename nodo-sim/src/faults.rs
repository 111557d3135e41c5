//! Fault injection per primitive: added latency, the answer dropped after the state change is
//! committed, and HTTP 5xx answers, set from the configuration and changed at runtime through
//! `PUT /admin/faults`.
//!
//! These are the failures a PSP client must survive (`shared/reference/pagopa.md` §3): a lost
//! answer after the Nodo acted is the case the idempotency key exists for, a 5xx from the
//! gateway means "maybe not processed", latency exercises the client's timeouts. Each trigger
//! fires for the next `count` requests, then with probability `percent`; the dice come from the
//! simulator's seeded generator, so a run is reproducible.

use std::collections::BTreeMap;

use pagopa::fault::Primitive;
use serde::{Deserialize, Serialize};

use crate::ids::Rng;

/// Why a fault plan was refused. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultsError {
    /// A key that is not a primitive's SOAPAction.
    #[error("primitiva sconosciuta {0:?}: attesa una SOAPAction (verifyPaymentNotice, ...)")]
    UnknownPrimitive(String),
    /// A percentage above 100.
    #[error("{primitive}: percentuale {percent} oltre 100")]
    Percent {
        /// The primitive.
        primitive: String,
        /// The value given.
        percent: u8,
    },
    /// An HTTP status outside 500..=599.
    #[error("{primitive}: stato HTTP {status} non 5xx")]
    Status {
        /// The primitive.
        primitive: String,
        /// The value given.
        status: u16,
    },
}

impl FaultsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FaultsError::UnknownPrimitive(_) => "FAULTS_UNKNOWN_PRIMITIVE",
            FaultsError::Percent { .. } => "FAULTS_PERCENT",
            FaultsError::Status { .. } => "FAULTS_HTTP_STATUS",
        }
    }
}

/// When a fault fires: for the next `count` requests, then with probability `percent` %.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Trigger {
    /// Fire for this many more requests (decremented as it fires).
    pub count: u32,
    /// After that, fire with this probability, 0..=100.
    pub percent: u8,
}

impl Trigger {
    /// Whether it never fires.
    pub fn is_off(&self) -> bool {
        self.count == 0 && self.percent == 0
    }

    fn fire(&mut self, rng: &mut Rng) -> bool {
        if self.count > 0 {
            self.count -= 1;
            true
        } else {
            self.percent > 0 && rng.percent(self.percent)
        }
    }
}

fn default_status() -> u16 {
    503
}

/// The faults of one primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrimitiveFaults {
    /// Milliseconds added before every answer (after the request has been processed).
    pub latency_ms: u64,
    /// Process and commit the request, then close the connection without answering.
    pub drop_after_commit: Trigger,
    /// Answer with HTTP `http_status` without processing the request (a failing gateway).
    pub http_5xx: Trigger,
    /// The status of `http_5xx` answers (default 503).
    #[serde(default = "default_status")]
    pub http_status: u16,
}

impl Default for PrimitiveFaults {
    fn default() -> Self {
        PrimitiveFaults {
            latency_ms: 0,
            drop_after_commit: Trigger::default(),
            http_5xx: Trigger::default(),
            http_status: default_status(),
        }
    }
}

impl PrimitiveFaults {
    /// Whether nothing is injected.
    pub fn is_off(&self) -> bool {
        self.latency_ms == 0 && self.drop_after_commit.is_off() && self.http_5xx.is_off()
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Wait this long before answering.
    pub latency_ms: u64,
    /// Answer with this 5xx status instead of processing.
    pub http_5xx: Option<u16>,
    /// Process, then drop the connection without answering.
    pub drop_after_commit: bool,
}

/// The faults of every primitive. In files and in the admin API it is a map from SOAPAction to
/// [`PrimitiveFaults`]; primitives not named have no faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, PrimitiveFaults>",
    into = "BTreeMap<String, PrimitiveFaults>"
)]
pub struct FaultPlan {
    by_primitive: [PrimitiveFaults; 5],
}

fn index(p: Primitive) -> usize {
    Primitive::ALL.iter().position(|q| *q == p).unwrap_or(0)
}

impl FaultPlan {
    /// No faults at all.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// The faults of `p`.
    pub fn get(&self, p: Primitive) -> &PrimitiveFaults {
        &self.by_primitive[index(p)]
    }

    /// Set the faults of `p`, after checking them.
    pub fn set(&mut self, p: Primitive, faults: PrimitiveFaults) -> Result<(), FaultsError> {
        let name = || p.soap_action().to_owned();
        for t in [faults.drop_after_commit, faults.http_5xx] {
            if t.percent > 100 {
                return Err(FaultsError::Percent {
                    primitive: name(),
                    percent: t.percent,
                });
            }
        }
        if !(500..=599).contains(&faults.http_status) {
            return Err(FaultsError::Status {
                primitive: name(),
                status: faults.http_status,
            });
        }
        self.by_primitive[index(p)] = faults;
        Ok(())
    }

    /// Roll the dice for one request of `p`, consuming counted triggers. A 5xx and a drop
    /// never both fire: the 5xx means the request was not processed.
    pub fn decide(&mut self, p: Primitive, rng: &mut Rng) -> Decision {
        let f = &mut self.by_primitive[index(p)];
        if f.is_off() {
            return Decision::default();
        }
        let http_5xx = f.http_5xx.fire(rng).then_some(f.http_status);
        let drop_after_commit = http_5xx.is_none() && f.drop_after_commit.fire(rng);
        Decision {
            latency_ms: f.latency_ms,
            http_5xx,
            drop_after_commit,
        }
    }
}

impl TryFrom<BTreeMap<String, PrimitiveFaults>> for FaultPlan {
    type Error = FaultsError;
    fn try_from(map: BTreeMap<String, PrimitiveFaults>) -> Result<Self, FaultsError> {
        let mut plan = FaultPlan::none();
        for (name, faults) in map {
            let p = Primitive::from_soap_action(&name)
                .ok_or_else(|| FaultsError::UnknownPrimitive(name.clone()))?;
            plan.set(p, faults)?;
        }
        Ok(plan)
    }
}

impl From<FaultPlan> for BTreeMap<String, PrimitiveFaults> {
    fn from(plan: FaultPlan) -> Self {
        Primitive::ALL
            .iter()
            .filter(|p| !plan.get(**p).is_off())
            .map(|p| (p.soap_action().to_owned(), *plan.get(*p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_triggers_fire_then_stop() {
        let mut plan: FaultPlan = serde_json::from_str(
            r#"{"activatePaymentNotice": {"drop_after_commit": {"count": 2}, "latency_ms": 5}}"#,
        )
        .expect("valid plan");
        let mut rng = Rng::new(1);
        let a = Primitive::ActivatePaymentNotice;
        for _ in 0..2 {
            let d = plan.decide(a, &mut rng);
            assert!(d.drop_after_commit);
            assert_eq!(d.latency_ms, 5);
        }
        let d = plan.decide(a, &mut rng);
        assert!(!d.drop_after_commit);
        assert_eq!(d.latency_ms, 5, "latency stays");
        assert_eq!(
            plan.decide(Primitive::VerifyPaymentNotice, &mut rng),
            Decision::default()
        );
    }

    #[test]
    fn http_5xx_wins_over_drop() {
        let mut plan = FaultPlan::none();
        plan.set(
            Primitive::SendPaymentOutcome,
            PrimitiveFaults {
                http_5xx: Trigger {
                    count: 1,
                    percent: 0,
                },
                drop_after_commit: Trigger {
                    count: 1,
                    percent: 0,
                },
                http_status: 502,
                ..PrimitiveFaults::default()
            },
        )
        .expect("valid");
        let mut rng = Rng::new(1);
        let d = plan.decide(Primitive::SendPaymentOutcome, &mut rng);
        assert_eq!(d.http_5xx, Some(502));
        assert!(!d.drop_after_commit);
        let d = plan.decide(Primitive::SendPaymentOutcome, &mut rng);
        assert_eq!(d.http_5xx, None);
        assert!(d.drop_after_commit);
    }

    #[test]
    fn percentages_are_roughly_respected_and_reproducible() {
        let mut plan: FaultPlan =
            serde_json::from_str(r#"{"verifyPaymentNotice": {"http_5xx": {"percent": 30}}}"#)
                .expect("valid");
        let mut again = plan.clone();
        let (mut r1, mut r2) = (Rng::new(5), Rng::new(5));
        let mut hits = 0;
        for _ in 0..10_000 {
            let d = plan.decide(Primitive::VerifyPaymentNotice, &mut r1);
            assert_eq!(d, again.decide(Primitive::VerifyPaymentNotice, &mut r2));
            hits += usize::from(d.http_5xx.is_some());
        }
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }

    #[test]
    fn bad_plans_are_refused() {
        let bad = |json: &str| {
            serde_json::from_str::<FaultPlan>(json)
                .err()
                .map(|e| e.to_string())
        };
        assert!(bad(r#"{"foo": {}}"#).is_some_and(|e| e.contains("primitiva sconosciuta")));
        assert!(bad(r#"{"verifyPaymentNotice": {"http_5xx": {"percent": 101}}}"#).is_some());
        assert!(bad(r#"{"verifyPaymentNotice": {"http_status": 404}}"#).is_some());
        assert!(bad(r#"{"verifyPaymentNotice": {"latency": 1}}"#).is_some());
        assert_eq!(
            FaultPlan::none()
                .set(
                    Primitive::VerifyPaymentNotice,
                    PrimitiveFaults {
                        http_status: 200,
                        ..PrimitiveFaults::default()
                    }
                )
                .map_err(|e| e.code()),
            Err("FAULTS_HTTP_STATUS")
        );
    }

    #[test]
    fn serializes_only_active_primitives() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"sendPaymentOutcomeV2": {"latency_ms": 10}, "verifyPaymentNotice": {}}"#,
        )
        .expect("valid");
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"sendPaymentOutcomeV2": {
                "latency_ms": 10,
                "drop_after_commit": {"count": 0, "percent": 0},
                "http_5xx": {"count": 0, "percent": 0},
                "http_status": 503
            }})
        );
    }
}
