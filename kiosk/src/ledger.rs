//! The ledger: every flow, rebuilt from the journal, and the questions staff ask of it.
//!
//! The journal is the only durable state; the ledger is its in-memory projection, rebuilt at
//! start-up by replaying every entry ([`Ledger::load`]) and kept current as the agent writes new
//! ones. Payments of the day, the offline queue, exceptions, cash totals: all are computed from
//! the flows, so they can never disagree with the journal.
//!
//! Recovery is here too ([`Ledger::recovery`]): after a replay, a flow still on screen was
//! interrupted by a crash or a power cut, and gets a [`Event::Restarted`], whose handling in
//! [`crate::flow`] yields the effects that finish it safely. Whether the intent of a print in
//! flight reached the journal decides whether the reprint says "copy".

use std::collections::{BTreeSet, HashMap};

use channel_api::{
    ClientKey, ClosingItem, ClosingRequest, ClosingTotals, PaymentId, ResolutionRequest, Tender,
    TenderTotal, Timestamp,
};
use pagopa::{Amount, Date};

use crate::clock::local_day;
use crate::flow::{CardResult, Effect, Event, Flow, FlowId, Policy, Stage};
use crate::record::{ClosingRecord, Record, Stored};

/// Totals of one day, per tender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DayTotals {
    /// Card payments.
    pub card_count: u32,
    /// Card total (amount + fee), cents.
    pub card_cents: u64,
    /// Cash payments (online and offline).
    pub cash_count: u32,
    /// Cash total (amount + fee), cents: what should be in the drawer.
    pub cash_cents: u64,
    /// Of which taken offline.
    pub offline_cash_cents: u64,
    /// Fees, cents.
    pub fee_cents: u64,
    /// Cash refunded for exceptions resolved as `refunded`, cents.
    pub refunded_cents: u64,
}

impl DayTotals {
    /// Cash expected in the drawer: taken minus refunded.
    pub fn expected_cash_cents(&self) -> u64 {
        self.cash_cents.saturating_sub(self.refunded_cents)
    }
}

/// Every flow and the records around them.
#[derive(Debug, Default)]
pub struct Ledger {
    flows: HashMap<FlowId, Flow>,
    order: Vec<FlowId>,
    active: BTreeSet<FlowId>,
    current: Option<FlowId>,
    open_intent: HashMap<FlowId, Effect>,
    markers: HashMap<FlowId, String>,
    documents: HashMap<FlowId, Vec<u8>>,
    closings: Vec<ClosingRecord>,
    last_sync: Option<Timestamp>,
    resolutions_reported: BTreeSet<FlowId>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Replay the journal.
    pub fn load(entries: &[Stored], policy: &Policy) -> Ledger {
        let mut ledger = Ledger::new();
        for e in entries {
            ledger.apply(&e.record, e.at, policy);
        }
        ledger
    }

    /// Apply one record, as written. Returns the effects the flow asked for (used only live;
    /// a replay ignores them).
    pub fn apply(&mut self, record: &Record, at: Timestamp, policy: &Policy) -> Vec<Effect> {
        match record {
            Record::Event { flow, event } => {
                self.open_intent.remove(flow);
                if let Some(f) = self.flows.get(flow) {
                    let mut f = f.clone();
                    let effects = f.handle(event, at, policy).unwrap_or_default();
                    self.put(f);
                    effects
                } else if let Some((f, effects)) = Flow::start(event, at, policy) {
                    self.put(f);
                    effects
                } else {
                    Vec::new()
                }
            }
            Record::Intent {
                flow,
                effect,
                marker,
                document,
            } => {
                self.open_intent.insert(flow.clone(), effect.clone());
                if let Some(m) = marker {
                    self.markers.insert(flow.clone(), m.clone());
                }
                if let Some(bytes) = document.as_deref().and_then(decode_b64) {
                    self.documents.insert(flow.clone(), bytes);
                }
                Vec::new()
            }
            Record::SyncBatch { .. } => {
                self.last_sync = Some(at);
                Vec::new()
            }
            Record::Closing(c) => {
                self.closings.push(c.clone());
                Vec::new()
            }
            Record::ResolutionReported { flow, .. } => {
                self.resolutions_reported.insert(flow.clone());
                Vec::new()
            }
            Record::Login { .. }
            | Record::LoginFailed { .. }
            | Record::Logout { .. }
            | Record::ClosingPrinted { .. }
            | Record::SettingsApplied { .. } => Vec::new(),
        }
    }

    /// Store a flow's new state.
    pub fn put(&mut self, flow: Flow) {
        let id = flow.id.clone();
        if !self.flows.contains_key(&id) {
            self.order.push(id.clone());
        }
        if flow.on_screen() {
            self.current = Some(id.clone());
        } else if self.current.as_ref() == Some(&id) {
            self.current = None;
        }
        if flow.settled() {
            self.active.remove(&id);
        } else {
            self.active.insert(id.clone());
        }
        self.flows.insert(id, flow);
    }

    /// Note an effect about to run (live, after its intent is journaled).
    pub fn note_intent(
        &mut self,
        flow: &FlowId,
        effect: &Effect,
        marker: Option<&str>,
        document: Option<&[u8]>,
    ) {
        self.open_intent.insert(flow.clone(), effect.clone());
        if let Some(m) = marker {
            self.markers.insert(flow.clone(), m.to_owned());
        }
        if let Some(d) = document {
            self.documents.insert(flow.clone(), d.to_vec());
        }
    }

    /// Note a sync batch.
    pub fn note_sync(&mut self, at: Timestamp) {
        self.last_sync = Some(at);
    }

    /// The events that resume interrupted flows after a restart. See the module documentation.
    pub fn recovery(&self) -> Vec<(FlowId, Event)> {
        self.order
            .iter()
            .filter_map(|id| self.flows.get(id))
            .filter(|f| f.on_screen() || f.outcome_pending())
            .flat_map(|f| {
                let intent = self.open_intent.get(&f.id);
                let print_journaled = matches!(intent, Some(Effect::Print { .. }));
                // Killed between "pay" and the charge's intent: the terminal was never asked,
                // so the charge certainly did not happen (asking the terminal could not tell
                // it from an older transaction, and would never resolve).
                let never_charged =
                    f.stage == Stage::Charging && !matches!(intent, Some(Effect::Charge { .. }));
                let not_started = never_charged.then(|| {
                    let result = CardResult::Failed {
                        code: "CHARGE_NOT_STARTED".into(),
                    };
                    (f.id.clone(), Event::Card { result })
                });
                not_started
                    .into_iter()
                    .chain([(f.id.clone(), Event::Restarted { print_journaled })])
            })
            .collect()
    }

    /// A flow.
    pub fn flow(&self, id: &FlowId) -> Option<&Flow> {
        self.flows.get(id)
    }

    /// The flow on screen.
    pub fn current(&self) -> Option<&Flow> {
        self.current.as_ref().and_then(|id| self.flows.get(id))
    }

    /// The terminal's transaction number journaled before this flow's charge.
    pub fn marker(&self, id: &FlowId) -> Option<&str> {
        self.markers.get(id).map(String::as_str)
    }

    /// The bytes last sent to the printer for this flow.
    pub fn document(&self, id: &FlowId) -> Option<&[u8]> {
        self.documents.get(id).map(Vec::as_slice)
    }

    /// Flows with something due at `now` (a screen timeout or background work).
    pub fn due(&self, now: Timestamp) -> Vec<FlowId> {
        self.active
            .iter()
            .filter_map(|id| self.flows.get(id))
            .filter(|f| {
                f.deadline.is_some_and(|d| now >= d) || f.retry_at.is_some_and(|r| now >= r)
            })
            .map(|f| f.id.clone())
            .collect()
    }

    /// The earliest instant something is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.active
            .iter()
            .filter_map(|id| self.flows.get(id))
            .flat_map(|f| [f.deadline, f.retry_at])
            .flatten()
            .min()
    }

    /// Offline payments not yet accepted by the adapter, in the order they were taken.
    pub fn offline_queue(&self) -> Vec<&Flow> {
        let mut q: Vec<&Flow> = self
            .active
            .iter()
            .filter_map(|id| self.flows.get(id))
            .filter(|f| f.awaiting_forward())
            .collect();
        q.sort_by_key(|f| (f.money.as_ref().map(|m| m.paid_at), f.started_at));
        q
    }

    /// Total (amount + fee) of the offline queue, and when its oldest payment was taken.
    pub fn outstanding(&self) -> (Amount, Option<Timestamp>) {
        let q = self.offline_queue();
        let total =
            Amount::checked_sum(q.iter().filter_map(|f| f.charge.as_ref().map(|c| c.total)))
                .unwrap_or(Amount::MAX);
        (
            total,
            q.first().and_then(|f| f.money.as_ref().map(|m| m.paid_at)),
        )
    }

    /// Flows with an exception, unresolved first, newest first.
    pub fn exceptions(&self) -> Vec<&Flow> {
        let mut v: Vec<&Flow> = self
            .order
            .iter()
            .rev()
            .filter_map(|id| self.flows.get(id))
            .filter(|f| f.exception.is_some())
            .collect();
        v.sort_by_key(|f| f.exception.as_ref().is_some_and(|e| e.resolution.is_some()));
        v
    }

    /// Flows where money was taken on `day` (Italian local time), oldest first.
    pub fn payments_on(&self, day: Date) -> Vec<&Flow> {
        self.order
            .iter()
            .filter_map(|id| self.flows.get(id))
            .filter(|f| f.money.as_ref().and_then(|m| local_day(m.paid_at)) == Some(day))
            .collect()
    }

    /// Totals of `day`.
    pub fn totals(&self, day: Date) -> DayTotals {
        let mut t = DayTotals::default();
        for f in self.payments_on(day) {
            let Some(c) = &f.charge else { continue };
            t.fee_cents += c.fee.cents();
            match c.tender {
                Tender::Card => {
                    t.card_count += 1;
                    t.card_cents += c.total.cents();
                }
                Tender::Cash => {
                    t.cash_count += 1;
                    t.cash_cents += c.total.cents();
                    if f.offline {
                        t.offline_cash_cents += c.total.cents();
                    }
                    let refunded = f
                        .exception
                        .as_ref()
                        .and_then(|e| e.resolution.as_ref())
                        .is_some_and(|r| r.action == "refunded");
                    if refunded {
                        t.refunded_cents += c.total.cents();
                    }
                }
            }
        }
        t
    }

    /// The closing of `day` to send to the adapter: every payment of the day under the key the
    /// adapter knows it by, with the day's totals, the expected cash and `counted`.
    pub fn closing_request(&self, day: Date, counted: Amount) -> ClosingRequest {
        let t = self.totals(day);
        let cents = |c: u64| Amount::from_cents(c).unwrap_or(Amount::MAX);
        let payments = self
            .payments_on(day)
            .into_iter()
            .filter_map(|f| {
                let c = f.charge.as_ref()?;
                let client_key: ClientKey = match &f.payment {
                    Some(p) => p.client_key.clone(),
                    None if f.offline => f.id.offline_key(),
                    None => f.id.activation_key(),
                };
                Some(ClosingItem {
                    client_key,
                    tender: c.tender,
                    total: c.total,
                })
            })
            .collect();
        ClosingRequest {
            day,
            totals: ClosingTotals {
                cash: TenderTotal {
                    count: t.cash_count,
                    cents: cents(t.cash_cents),
                },
                card: TenderTotal {
                    count: t.card_count,
                    cents: cents(t.card_cents),
                },
            },
            expected_cash: cents(t.expected_cash_cents()),
            counted_cash: counted,
            payments,
        }
    }

    /// Resolved exceptions the adapter has not been told about, with what to tell it: staff's
    /// `refunded` is a refund of what was paid, by the same tender; `written_off` is that; any
    /// other word is an `other` resolution with the word as its note. Only flows the adapter
    /// knows (with a payment id) are reported.
    pub fn unreported_resolutions(&self) -> Vec<(FlowId, PaymentId, ResolutionRequest)> {
        self.order
            .iter()
            .filter(|id| !self.resolutions_reported.contains(*id))
            .filter_map(|id| self.flows.get(id))
            .filter_map(|f| {
                let resolution = f.exception.as_ref()?.resolution.as_ref()?;
                let payment = f.payment.as_ref()?.id.clone();
                let request = match resolution.action.as_str() {
                    "refunded" => {
                        let c = f.charge.as_ref()?;
                        ResolutionRequest::Refunded {
                            tender: c.tender,
                            amount: c.total,
                            note: Some(format!("operator {}", resolution.operator)),
                        }
                    }
                    "written_off" => ResolutionRequest::WrittenOff {
                        note: Some(format!("operator {}", resolution.operator)),
                    },
                    other => ResolutionRequest::Other {
                        note: format!("{other} (operator {})", resolution.operator)
                            .chars()
                            .take(ResolutionRequest::MAX_NOTE)
                            .collect(),
                    },
                };
                Some((f.id.clone(), payment, request))
            })
            .collect()
    }

    /// The closings recorded, oldest first.
    pub fn closings(&self) -> &[ClosingRecord] {
        &self.closings
    }

    /// When the last offline batch was sent.
    pub fn last_sync(&self) -> Option<Timestamp> {
        self.last_sync
    }

    /// How many flows still need something.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// How many flows are known.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no flow is known.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::flow::tests::{card, cents, flow_id, notice, payment, policy, t, verified};
    use crate::flow::{CardResult, Failure, OfflineDecision};
    use crate::journal::Journal;
    use crate::record::read_all;
    use channel_api::{KoReason, OutcomeRequest, PaymentState};

    /// Writes records to a real journal, reads them back, rebuilds the ledger: recovery from
    /// the journal alone.
    struct Script {
        journal: Journal,
        flow: FlowId,
    }

    impl Script {
        fn new() -> Script {
            Script {
                journal: Journal::in_memory().expect("journal"),
                flow: flow_id(),
            }
        }

        fn event(&mut self, at: i64, event: Event) -> &mut Script {
            let r = Record::event(self.flow.clone(), event);
            self.journal
                .append(t(at), &r.kind(), &r.body().expect("json"))
                .expect("append");
            self
        }

        fn intent(&mut self, at: i64, effect: Effect) -> &mut Script {
            let r = Record::Intent {
                flow: self.flow.clone(),
                effect,
                marker: Some("000041".into()),
                document: None,
            };
            self.journal
                .append(t(at), &r.kind(), &r.body().expect("json"))
                .expect("append");
            self
        }

        fn started(&mut self, mode: Mode) -> &mut Script {
            self.event(
                0,
                Event::Started {
                    flow: flow_id(),
                    mode,
                    notice: notice(Some(1500)),
                    operator: None,
                },
            )
        }

        fn up_to_tender(&mut self, mode: Mode, tender: Tender) -> &mut Script {
            self.started(mode)
                .event(
                    1,
                    Event::Verified {
                        result: Ok(verified(1500)),
                        offline: None,
                    },
                )
                .event(
                    2,
                    Event::Confirmed {
                        tender: Some(tender),
                    },
                )
                .event(
                    3,
                    Event::Activated {
                        result: Ok(payment(1500, tender, PaymentState::Active)),
                    },
                )
        }

        fn charged(&mut self) -> &mut Script {
            self.up_to_tender(Mode::Kiosk, Tender::Card)
                .event(
                    4,
                    Event::Pay {
                        tender: Tender::Card,
                        tendered: None,
                        operator: None,
                    },
                )
                .intent(
                    4,
                    Effect::Charge {
                        amount: cents(1620),
                    },
                )
        }

        /// What a restart would do, from the journal alone.
        fn restart(&self, mode: Mode) -> (Ledger, Vec<Effect>) {
            let stored = read_all(&self.journal.entries().expect("entries")).expect("typed");
            let p = policy(mode);
            let mut ledger = Ledger::load(&stored, &p);
            let mut effects = Vec::new();
            for (flow, event) in ledger.recovery() {
                let r = Record::event(flow, event);
                effects.extend(ledger.apply(&r, t(100), &p));
            }
            (ledger, effects)
        }
    }

    fn ok_outcome(effects: &[Effect]) -> bool {
        matches!(
            effects,
            [Effect::SendOutcome {
                request: OutcomeRequest::Ok { .. },
                ..
            }]
        )
    }

    #[test]
    fn killed_between_pay_and_the_charge_intent_is_never_charged_and_gets_its_ko() {
        // Found by the crash tests (`tests/crash.rs`, point `event:pay`): asking the terminal
        // its last result could never resolve this, as the charge never reached it.
        let mut s = Script::new();
        s.up_to_tender(Mode::Kiosk, Tender::Card).event(
            4,
            Event::Pay {
                tender: Tender::Card,
                tendered: None,
                operator: None,
            },
        );
        let (ledger, effects) = s.restart(Mode::Kiosk);
        assert!(
            matches!(
                effects.as_slice(),
                [Effect::SendOutcome {
                    request: OutcomeRequest::Ko {
                        reason: KoReason::DeviceFault,
                        ..
                    },
                    ..
                }]
            ),
            "{effects:?}"
        );
        assert!(ledger.current().is_none(), "the screen is free");
    }

    #[test]
    fn a_ko_in_flight_at_a_second_power_cut_is_sent_again() {
        // Found by the crash tests: the first recovery closed the flow and sent its KO; the
        // power went before the answer. The flow was "settled" and never resumed again.
        let mut s = Script::new();
        s.up_to_tender(Mode::Kiosk, Tender::Card).event(
            10,
            Event::Restarted {
                print_journaled: false,
            },
        );
        let (ledger, _) = s.restart(Mode::Kiosk);
        let f = ledger.flow(&flow_id()).expect("flow");
        assert!(f.outcome_pending(), "{f:?}");
        assert!(!f.settled(), "an outcome in flight is not settled");
        assert_eq!(ledger.due(t(100)), vec![flow_id()], "sent again at once");
        assert_eq!(ledger.recovery().len(), 1);
    }

    #[test]
    fn nothing_to_resume_in_an_empty_journal() {
        let s = Script::new();
        let (ledger, effects) = s.restart(Mode::Kiosk);
        assert!(ledger.is_empty());
        assert!(effects.is_empty());
    }

    #[test]
    fn interrupted_before_activation_is_just_closed() {
        let mut s = Script::new();
        s.started(Mode::Kiosk).intent(
            0,
            Effect::Verify {
                request: channel_api::VerifyRequest {
                    notice_number: notice(None).notice_number,
                    creditor_fiscal_code: notice(None).fiscal_code,
                },
            },
        );
        let (ledger, effects) = s.restart(Mode::Kiosk);
        assert!(effects.is_empty());
        assert!(ledger.current().is_none(), "the screen is free");
    }

    #[test]
    fn activation_in_flight_is_found_out_and_koed() {
        let mut s = Script::new();
        s.started(Mode::Kiosk)
            .event(
                1,
                Event::Verified {
                    result: Ok(verified(1500)),
                    offline: None,
                },
            )
            .event(2, Event::Confirmed { tender: None });
        let (mut ledger, effects) = s.restart(Mode::Kiosk);
        assert!(effects.is_empty());
        // The next tick resends the activation with the same key…
        let due = ledger.due(t(100));
        assert_eq!(due, vec![flow_id()]);
        let p = policy(Mode::Kiosk);
        let fx = ledger.apply(&Record::event(flow_id(), Event::Tick), t(100), &p);
        assert!(
            matches!(&fx[..], [Effect::Activate { request }] if request.client_key == flow_id().activation_key())
        );
        // …and a payment it opened gets a KO.
        let fx = ledger.apply(
            &Record::event(
                flow_id(),
                Event::Activated {
                    result: Ok(payment(1500, Tender::Card, PaymentState::Active)),
                },
            ),
            t(101),
            &p,
        );
        assert!(matches!(
            &fx[..],
            [Effect::SendOutcome {
                request: OutcomeRequest::Ko {
                    reason: KoReason::DeviceFault
                },
                ..
            }]
        ));
    }

    #[test]
    fn activated_but_not_paid_gets_a_ko() {
        let mut s = Script::new();
        s.up_to_tender(Mode::Kiosk, Tender::Card);
        let (_, effects) = s.restart(Mode::Kiosk);
        assert!(matches!(
            &effects[..],
            [Effect::SendOutcome {
                request: OutcomeRequest::Ko { .. },
                ..
            }]
        ));
    }

    #[test]
    fn a_charge_in_flight_asks_the_terminal_and_keeps_the_marker() {
        let mut s = Script::new();
        s.charged();
        let (ledger, effects) = s.restart(Mode::Kiosk);
        assert_eq!(
            effects,
            vec![Effect::LastResult {
                amount: cents(1620)
            }]
        );
        assert_eq!(ledger.marker(&flow_id()), Some("000041"));
    }

    #[test]
    fn charged_but_outcome_not_delivered_delivers_ok() {
        let mut s = Script::new();
        s.charged().event(
            10,
            Event::Card {
                result: CardResult::Approved { card: card() },
            },
        );
        let (_, effects) = s.restart(Mode::Kiosk);
        assert!(ok_outcome(&effects), "{effects:?}");
        // Same, with the outcome's intent journaled.
        let mut s = Script::new();
        s.charged().event(
            10,
            Event::Card {
                result: CardResult::Approved { card: card() },
            },
        );
        let (_, first) = s.restart(Mode::Kiosk);
        s.intent(11, first[0].clone());
        let (_, again) = s.restart(Mode::Kiosk);
        assert_eq!(again, first, "the identical outcome");
    }

    #[test]
    fn receipt_not_printed_is_printed_as_a_copy_only_if_it_may_have_been() {
        let mut s = Script::new();
        s.charged()
            .event(
                10,
                Event::Card {
                    result: CardResult::Approved { card: card() },
                },
            )
            .event(
                11,
                Event::Outcome {
                    result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
                },
            );
        let (_, effects) = s.restart(Mode::Kiosk);
        assert_eq!(
            effects,
            vec![Effect::Print { copy: false }],
            "no print intent: the original"
        );
        s.intent(12, Effect::Print { copy: false });
        let (_, effects) = s.restart(Mode::Kiosk);
        assert_eq!(
            effects,
            vec![Effect::Print { copy: true }],
            "a print may have happened"
        );
    }

    #[test]
    fn a_finished_flow_is_not_resumed() {
        let mut s = Script::new();
        s.charged()
            .event(
                10,
                Event::Card {
                    result: CardResult::Approved { card: card() },
                },
            )
            .event(
                11,
                Event::Outcome {
                    result: Ok(payment(1500, Tender::Card, PaymentState::Confirmed)),
                },
            )
            .event(
                12,
                Event::Printed {
                    result: crate::flow::PrintResult::Printed,
                },
            )
            .event(13, Event::Done);
        let (ledger, effects) = s.restart(Mode::Kiosk);
        assert!(effects.is_empty());
        assert_eq!(ledger.active_count(), 0);
        let day = local_day(t(10)).expect("day");
        let totals = ledger.totals(day);
        assert_eq!((totals.card_count, totals.card_cents), (1, 1620));
        assert_eq!(totals.expected_cash_cents(), 0);
    }

    #[test]
    fn the_offline_queue_is_ordered_and_limited_by_what_is_outstanding() {
        let p = policy(Mode::Counter);
        let mut ledger = Ledger::new();
        for (i, id) in [
            "250301-BBBBBBBBBBBB",
            "250301-AAAAAAAAAAAA",
            "250301-CCCCCCCCCCCC",
        ]
        .iter()
        .enumerate()
        {
            let flow = FlowId::parse(id).expect("id");
            let at = 10 * i as i64;
            let events = [
                Event::Started {
                    flow: flow.clone(),
                    mode: Mode::Counter,
                    notice: notice(Some(1000)),
                    operator: None,
                },
                Event::Verified {
                    result: Err(Failure::Unreachable {
                        detail: "down".into(),
                    }),
                    offline: Some(OfflineDecision::Allowed { fee: cents(100) }),
                },
                Event::Confirmed {
                    tender: Some(Tender::Cash),
                },
                Event::Pay {
                    tender: Tender::Cash,
                    tendered: Some(cents(1100)),
                    operator: None,
                },
                Event::Drawer { error: None },
            ];
            for (k, e) in events.into_iter().enumerate() {
                ledger.apply(&Record::event(flow.clone(), e), t(at + k as i64), &p);
            }
            ledger.apply(
                &Record::event(
                    flow.clone(),
                    Event::Printed {
                        result: crate::flow::PrintResult::Printed,
                    },
                ),
                t(at + 6),
                &p,
            );
            ledger.apply(&Record::event(flow, Event::Done), t(at + 7), &p);
        }
        let q: Vec<&str> = ledger
            .offline_queue()
            .iter()
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(
            q,
            [
                "250301-BBBBBBBBBBBB",
                "250301-AAAAAAAAAAAA",
                "250301-CCCCCCCCCCCC"
            ],
            "the order taken"
        );
        let (total, oldest) = ledger.outstanding();
        assert_eq!(total, cents(3300));
        assert_eq!(oldest, Some(t(3)));
        let day = local_day(t(3)).expect("day");
        assert_eq!(ledger.totals(day).offline_cash_cents, 3300);
    }
}
