//! Pure tests of the flow: every path, with time injected.

use super::*;
use pagopa::CheckMode;

pub(crate) fn policy(mode: Mode) -> Policy {
    Policy {
        mode,
        screen_ms: 60_000,
        done_ms: 10_000,
        last_result_retry_ms: 5_000,
        retry_ms: 2_000,
        card: true,
        drawer: mode == Mode::Counter,
    }
}

pub(crate) fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_740_821_400_000 + s * 1000)
}

pub(crate) fn cents(c: u64) -> Amount {
    Amount::from_cents(c).expect("valid amount")
}

pub(crate) fn notice(printed: Option<u64>) -> NoticeRef {
    NoticeRef {
        notice_number: NoticeNumber::parse("300715700000000032", CheckMode::Strict)
            .expect("notice"),
        fiscal_code: CreditorFiscalCode::parse("00085240950", CheckMode::Strict).expect("cf"),
        printed_amount: printed.map(cents),
        format: "qr".into(),
    }
}

pub(crate) fn verified(amount: u64) -> VerifyResponse {
    let n = notice(None);
    VerifyResponse {
        notice_number: n.notice_number,
        creditor_fiscal_code: n.fiscal_code,
        creditor_name: Some("Comune di Test".into()),
        office_name: None,
        description: Some("TARI 2025".into()),
        amount: cents(amount),
        due_date: None,
        fees: vec![
            FeeQuote {
                tender: Tender::Card,
                fee: cents(120),
                total: cents(amount + 120),
            },
            FeeQuote {
                tender: Tender::Cash,
                fee: cents(100),
                total: cents(amount + 100),
            },
        ],
        standin: false,
    }
}

pub(crate) fn payment(amount: u64, tender: Tender, state: PaymentState) -> Payment {
    let n = notice(None);
    let fee = if tender == Tender::Card { 120 } else { 100 };
    Payment {
        id: PaymentId::parse("pay0000000000001").expect("id"),
        state,
        client_key: ClientKey::parse("act-250301-AAAAAAAAAAAA").expect("key"),
        notice_number: n.notice_number,
        creditor_fiscal_code: n.fiscal_code,
        amount: cents(amount),
        fee: cents(fee),
        total: cents(amount + fee),
        tender,
        creditor_name: Some("Comune di Test".into()),
        description: Some("TARI 2025".into()),
        iuv: Some("00715700000000032".into()),
        payment_token: pagopa::soap::PaymentToken::new("tok123").ok(),
        token_expires_at: None,
        outcome: None,
        error: None,
        offline: false,
        created_at: t(0),
        updated_at: t(0),
    }
}

pub(crate) fn card() -> CardRefs {
    CardRefs {
        terminal_id: "12345678".into(),
        stan: "000042".into(),
        online_id: "000042".into(),
        masked_pan: "4111111111111111".into(),
        auth_code: Some("A1B2C3".into()),
        circuit: Some("VISA".into()),
    }
}

pub(crate) fn flow_id() -> FlowId {
    FlowId::parse("250301-AAAAAAAAAAAA").expect("id")
}

fn refused(code: ErrorCode) -> Failure {
    Failure::Refused {
        error: ErrorBody::new(code),
    }
}

fn unreachable() -> Failure {
    Failure::Unreachable {
        detail: "connection refused".into(),
    }
}

/// A harness that feeds events and keeps the log, so that replay can be checked too.
struct H {
    flow: Flow,
    policy: Policy,
    log: Vec<(Event, Timestamp)>,
}

impl H {
    fn start(mode: Mode, printed: Option<u64>) -> (H, Vec<Effect>) {
        let policy = policy(mode);
        let ev = Event::Started {
            flow: flow_id(),
            mode,
            notice: notice(printed),
            operator: (mode == Mode::Counter).then(|| "mrossi".to_owned()),
        };
        let (flow, effects) = Flow::start(&ev, t(0), &policy).expect("starts");
        (
            H {
                flow,
                policy,
                log: vec![(ev, t(0))],
            },
            effects,
        )
    }

    fn feed(&mut self, ev: Event, at: i64) -> Vec<Effect> {
        let effects = self
            .flow
            .handle(&ev, t(at), &self.policy)
            .unwrap_or_else(|r| panic!("{ev:?} refused: {r}"));
        self.log.push((ev, t(at)));
        effects
    }

    fn refuse(&mut self, ev: Event, at: i64) -> String {
        let mut copy = self.flow.clone();
        match copy.handle(&ev, t(at), &self.policy) {
            Err(r) => r.code().to_owned(),
            Ok(e) => panic!("{ev:?} accepted with {e:?}"),
        }
    }

    fn replayed(&self) -> Flow {
        Flow::replay(self.log.iter().map(|(e, at)| (e, *at)), &self.policy).expect("replays")
    }

    /// Scan → verify → confirm → activate; returns at the tender screen.
    fn to_tender(mode: Mode, tender: Tender) -> H {
        let (mut h, _) = H::start(mode, Some(1500));
        h.feed(
            Event::Verified {
                result: Ok(verified(1500)),
                offline: None,
            },
            1,
        );
        let fx = h.feed(
            Event::Confirmed {
                tender: Some(tender),
            },
            2,
        );
        assert!(matches!(&fx[..], [Effect::Activate { request }] if request.tender == tender));
        h.feed(
            Event::Activated {
                result: Ok(payment(1500, tender, PaymentState::Active)),
            },
            3,
        );
        assert_eq!(h.flow.stage, Stage::Tender);
        h
    }
}

fn outcome_of(effects: &[Effect]) -> &OutcomeRequest {
    match effects {
        [Effect::SendOutcome { request, .. }] => request,
        other => panic!("expected one outcome, got {other:?}"),
    }
}

#[test]
fn happy_card_payment_at_a_kiosk() {
    let (mut h, fx) = H::start(Mode::Kiosk, Some(1500));
    assert!(matches!(&fx[..], [Effect::Verify { .. }]));
    assert_eq!(h.flow.stage.screen(), "verifying");
    h.feed(
        Event::Verified {
            result: Ok(verified(1500)),
            offline: None,
        },
        1,
    );
    assert_eq!(h.flow.stage, Stage::Confirm);
    assert_eq!(
        h.flow.amounts(),
        Some((cents(1500), cents(120), cents(1620)))
    );
    let fx = h.feed(Event::Confirmed { tender: None }, 2);
    match &fx[..] {
        [Effect::Activate { request }] => {
            assert_eq!(request.tender, Tender::Card, "a kiosk takes cards");
            assert_eq!(request.client_key, flow_id().activation_key());
            assert_eq!(request.amount, cents(1500));
        }
        other => panic!("{other:?}"),
    }
    h.feed(
        Event::Activated {
            result: Ok(payment(1500, Tender::Card, PaymentState::Active)),
        },
        3,
    );
    let fx = h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    assert_eq!(
        fx,
        vec![Effect::Charge {
            amount: cents(1620)
        }]
    );
    assert_eq!(h.flow.stage.screen(), "card");
    let fx = h.feed(
        Event::Card {
            result: CardResult::Approved { card: card() },
        },
        30,
    );
    match outcome_of(&fx) {
        OutcomeRequest::Ok {
            paid_with,
            fee,
            paid_at,
            terminal,
            receipt_number,
        } => {
            assert_eq!(*paid_with, PaidWith::CreditCard);
            assert_eq!(*fee, cents(120));
            assert_eq!(*paid_at, t(30));
            let refs = terminal.as_ref().expect("terminal refs");
            assert_eq!(refs.masked_pan.as_deref(), Some("************1111"));
            assert!(refs.masked_pan_is_safe(), "never a card number");
            assert_eq!(receipt_number.as_deref(), Some(flow_id().as_str()));
        }
        other => panic!("{other:?}"),
    }
    let fx = h.feed(
        Event::Outcome {
            result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
        },
        31,
    );
    assert_eq!(fx, vec![Effect::Print { copy: false }]);
    h.feed(
        Event::Printed {
            result: PrintResult::Printed,
        },
        33,
    );
    assert_eq!(h.flow.stage, Stage::Done);
    assert_eq!(h.flow.receipt.printed, 1);
    h.feed(Event::Done, 40);
    assert_eq!(h.flow.stage, Stage::Closed);
    assert!(
        h.flow.retry_at.is_some(),
        "polls until the adapter confirms"
    );
    let fx = h.feed(Event::Tick, 60);
    assert!(matches!(&fx[..], [Effect::Poll { .. }]));
    h.feed(
        Event::AdapterState {
            result: Ok(payment(1500, Tender::Card, PaymentState::Confirmed)),
        },
        61,
    );
    assert!(h.flow.settled());
    assert_eq!(h.replayed(), h.flow, "replay reaches the same state");
}

#[test]
fn a_declined_card_can_be_retried_or_cancelled_with_a_ko() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    let fx = h.feed(
        Event::Card {
            result: CardResult::Declined {
                reason: "RIFIUTATA".into(),
            },
        },
        20,
    );
    assert!(
        fx.is_empty(),
        "nothing is reported yet: the citizen may try another card"
    );
    assert_eq!(h.flow.stage, Stage::Tender);
    assert_eq!(
        h.flow.error.as_ref().map(|e| e.code.as_str()),
        Some("CARD_DECLINED")
    );
    assert!(h.flow.money.is_none());
    let fx = h.feed(Event::Cancel, 25);
    assert_eq!(
        outcome_of(&fx),
        &OutcomeRequest::Ko {
            reason: KoReason::CancelledByCitizen
        }
    );
    h.feed(
        Event::Outcome {
            result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
        },
        26,
    );
    assert_eq!(h.flow.stage, Stage::Cancelled);
    assert_eq!(h.replayed(), h.flow);
}

#[test]
fn cancel_on_every_screen_before_money() {
    // Confirm: nothing was opened, nothing to report.
    let (mut h, _) = H::start(Mode::Kiosk, None);
    assert!(h.feed(Event::Cancel, 0).is_empty(), "verifying");
    assert_eq!(h.flow.stage, Stage::Cancelled);

    let (mut h, _) = H::start(Mode::Kiosk, None);
    h.feed(
        Event::Verified {
            result: Ok(verified(1500)),
            offline: None,
        },
        1,
    );
    assert!(h.feed(Event::Cancel, 2).is_empty());
    assert_eq!(h.flow.stage, Stage::Cancelled);

    // Activating: the activation that arrives later gets a KO.
    let (mut h, _) = H::start(Mode::Kiosk, None);
    h.feed(
        Event::Verified {
            result: Ok(verified(1500)),
            offline: None,
        },
        1,
    );
    h.feed(Event::Confirmed { tender: None }, 2);
    assert!(h.feed(Event::Cancel, 3).is_empty());
    assert_eq!(h.flow.stage.screen(), "cancelled");
    let fx = h.feed(
        Event::Activated {
            result: Ok(payment(1500, Tender::Card, PaymentState::Active)),
        },
        4,
    );
    assert_eq!(
        outcome_of(&fx),
        &OutcomeRequest::Ko {
            reason: KoReason::CancelledByCitizen
        }
    );

    // Tender: KO.
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    let fx = h.feed(Event::Cancel, 5);
    assert!(matches!(outcome_of(&fx), OutcomeRequest::Ko { .. }));

    // Charging: refused (the terminal's own cancel key ends it).
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    assert_eq!(h.refuse(Event::Cancel, 5), "NOT_ALLOWED_NOW");
}

#[test]
fn a_citizen_who_walks_away_after_activation_gets_a_ko_and_is_not_charged() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    assert!(
        h.feed(Event::Tick, 30).is_empty(),
        "before the deadline nothing happens"
    );
    h.feed(Event::MoreTime, 50);
    assert!(
        h.feed(Event::Tick, 100).is_empty(),
        "more time moved the deadline"
    );
    let fx = h.feed(Event::Tick, 111);
    assert_eq!(
        outcome_of(&fx),
        &OutcomeRequest::Ko {
            reason: KoReason::Timeout
        }
    );
    assert!(h.flow.money.is_none());
    assert!(!fx.iter().any(|e| matches!(e, Effect::Charge { .. })));
    h.feed(
        Event::Outcome {
            result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
        },
        112,
    );
    h.feed(Event::Tick, 200);
    assert_eq!(h.flow.stage, Stage::Closed);
}

#[test]
fn an_unknown_card_result_is_resolved_by_asking_never_by_charging_again() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    let fx = h.feed(
        Event::Card {
            result: CardResult::Unknown {
                reason: "connection lost".into(),
            },
        },
        20,
    );
    assert_eq!(
        fx,
        vec![Effect::LastResult {
            amount: cents(1620)
        }]
    );
    assert_eq!(h.refuse(Event::Cancel, 21), "NOT_ALLOWED_NOW");
    let fx = h.feed(
        Event::LastResult {
            result: LastResult::Unresolved {
                reason: "too early".into(),
            },
        },
        22,
    );
    assert!(fx.is_empty());
    assert_eq!(
        h.flow.error.as_ref().map(|e| e.code.as_str()),
        Some("TERMINAL_UNRESOLVED")
    );
    // However long it takes, the only effect is asking again.
    for s in [23, 30, 600, 3600] {
        for e in h.feed(Event::Tick, s) {
            assert!(matches!(e, Effect::LastResult { .. }), "{e:?}");
        }
    }
    let fx = h.feed(
        Event::LastResult {
            result: LastResult::Approved { card: card() },
        },
        3601,
    );
    assert!(matches!(outcome_of(&fx), OutcomeRequest::Ok { .. }));
    assert_eq!(h.replayed(), h.flow);
}

#[test]
fn a_lost_payment_that_never_happened_goes_back_to_the_tender_screen() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    h.feed(
        Event::Card {
            result: CardResult::Unknown {
                reason: "no ack".into(),
            },
        },
        5,
    );
    h.feed(
        Event::LastResult {
            result: LastResult::NotPerformed,
        },
        6,
    );
    assert_eq!(h.flow.stage, Stage::Tender);
    assert!(h.flow.money.is_none());
    assert_eq!(
        h.flow.error.as_ref().map(|e| e.code.as_str()),
        Some("CARD_NOT_PERFORMED"),
        "not a declined card: the terminal never ran it"
    );
}

#[test]
fn counter_cash_gives_change_opens_the_drawer_and_reports_ok() {
    let mut h = H::to_tender(Mode::Counter, Tender::Cash);
    assert_eq!(
        h.refuse(
            Event::Pay {
                tender: Tender::Cash,
                tendered: Some(cents(1000)),
                operator: None,
            },
            4,
        ),
        "TENDERED_TOO_LOW"
    );
    let fx = h.feed(
        Event::Pay {
            tender: Tender::Cash,
            tendered: Some(cents(2000)),
            operator: Some("mrossi".into()),
        },
        5,
    );
    assert_eq!(fx, vec![Effect::OpenDrawer]);
    assert_eq!(h.flow.stage.screen(), "cash");
    let m = h.flow.money.as_ref().expect("money");
    assert_eq!(m.change, Some(cents(400)), "2000 - (1500 + 100)");
    let fx = h.feed(Event::Drawer { error: None }, 6);
    match outcome_of(&fx) {
        OutcomeRequest::Ok { paid_with, fee, .. } => {
            assert_eq!(*paid_with, PaidWith::Cash);
            assert_eq!(*fee, cents(100));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.refuse(Event::Cancel, 7), "NOT_ALLOWED_NOW", "money taken");
}

#[test]
fn a_kiosk_refuses_cash_and_a_counter_may_void_before_the_outcome() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    assert_eq!(
        h.refuse(
            Event::Pay {
                tender: Tender::Cash,
                tendered: Some(cents(5000)),
                operator: None,
            },
            4,
        ),
        "TENDER_NOT_ACCEPTED"
    );
    let mut h = H::to_tender(Mode::Counter, Tender::Cash);
    let fx = h.feed(
        Event::Void {
            operator: "mrossi".into(),
        },
        4,
    );
    assert_eq!(
        outcome_of(&fx),
        &OutcomeRequest::Ko {
            reason: KoReason::Other
        }
    );
    assert_eq!(h.flow.voided_by.as_deref(), Some("mrossi"));
}

#[test]
fn an_outcome_without_answer_is_resent_identically_until_answered() {
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    let first = h.feed(
        Event::Card {
            result: CardResult::Approved { card: card() },
        },
        10,
    );
    let fx = h.feed(
        Event::Outcome {
            result: Err(unreachable()),
        },
        11,
    );
    assert_eq!(
        fx,
        vec![Effect::Print { copy: false }],
        "the receipt does not wait"
    );
    h.feed(
        Event::Printed {
            result: PrintResult::Printed,
        },
        12,
    );
    h.feed(Event::Done, 13);
    let again = h.feed(Event::Tick, 14);
    assert_eq!(again, first, "the same body, resent");
    h.feed(
        Event::Outcome {
            result: Err(refused(ErrorCode::InvalidState)),
        },
        15,
    );
    assert_eq!(
        h.flow
            .exception
            .as_ref()
            .map(|e| (e.code.as_str(), e.action.as_str())),
        Some(("OUTCOME_REFUSED", "refund"))
    );
    for s in [100, 1000, 10_000] {
        assert!(
            !h.feed(Event::Tick, s)
                .iter()
                .any(|e| matches!(e, Effect::SendOutcome { .. })),
            "an application answer ends the resends"
        );
    }
}

#[test]
fn offline_cash_within_limits_prints_a_provisional_receipt_and_queues() {
    let (mut h, _) = H::start(Mode::Counter, Some(1500));
    h.feed(
        Event::Verified {
            result: Err(unreachable()),
            offline: Some(OfflineDecision::Allowed { fee: cents(100) }),
        },
        1,
    );
    assert!(h.flow.offline);
    assert_eq!(
        h.flow.amounts(),
        Some((cents(1500), cents(100), cents(1600)))
    );
    assert_eq!(
        h.refuse(
            Event::Confirmed {
                tender: Some(Tender::Card)
            },
            2
        ),
        "CARD_OFFLINE"
    );
    let fx = h.feed(
        Event::Confirmed {
            tender: Some(Tender::Cash),
        },
        2,
    );
    assert!(fx.is_empty(), "no activation offline");
    assert_eq!(
        h.refuse(
            Event::Pay {
                tender: Tender::Card,
                tendered: None,
                operator: None,
            },
            3,
        ),
        "CARD_OFFLINE"
    );
    let fx = h.feed(
        Event::Pay {
            tender: Tender::Cash,
            tendered: Some(cents(1600)),
            operator: Some("mrossi".into()),
        },
        3,
    );
    assert_eq!(fx, vec![Effect::OpenDrawer]);
    let fx = h.feed(Event::Drawer { error: None }, 4);
    assert_eq!(fx, vec![Effect::Print { copy: false }]);
    assert!(h.flow.awaiting_forward());
    let p = h.flow.offline_payment().expect("queued payment");
    assert_eq!(p.client_key, flow_id().offline_key());
    assert_eq!((p.amount, p.fee), (cents(1500), cents(100)));
    h.feed(
        Event::Printed {
            result: PrintResult::Printed,
        },
        5,
    );
    h.feed(Event::Done, 6);
    assert!(!h.flow.settled());
    let mut queued = payment(1500, Tender::Cash, PaymentState::OfflineQueued);
    queued.offline = true;
    h.feed(
        Event::Forwarded {
            result: OfflineItemResult {
                client_key: flow_id().offline_key(),
                payment: Some(queued.clone()),
                error: None,
            },
        },
        100,
    );
    assert!(!h.flow.awaiting_forward(), "forwarded once");
    // The Nodo then refuses it: already paid elsewhere. An exception with a refund.
    queued.state = PaymentState::ActivationFailed;
    queued.error = Some(ErrorBody::new(ErrorCode::NoticeAlreadyPaid));
    h.feed(Event::AdapterState { result: Ok(queued) }, 200);
    let e = h.flow.exception.clone().expect("exception");
    assert_eq!(
        (e.code.as_str(), e.action.as_str()),
        ("NOTICE_ALREADY_PAID", "refund")
    );
    assert!(!h.flow.settled());
    h.feed(
        Event::Resolve {
            action: "refunded".into(),
            operator: "mrossi".into(),
        },
        300,
    );
    assert!(h.flow.settled());
    assert_eq!(h.replayed(), h.flow);

    // The resolution is for the adapter too: a cash refund of what was paid, reported once.
    let mut ledger = crate::ledger::Ledger::new();
    ledger.put(h.flow.clone());
    let pending = ledger.unreported_resolutions();
    assert_eq!(pending.len(), 1);
    let (flow, id, request) = &pending[0];
    let paid = h.flow.payment.as_ref().map(|p| &p.id);
    assert_eq!((flow, Some(id)), (&h.flow.id, paid));
    assert!(
        matches!(
            request,
            channel_api::ResolutionRequest::Refunded { tender: Tender::Cash, amount, .. }
                if *amount == cents(1600)
        ),
        "{request:?}"
    );
    ledger.apply(
        &crate::record::Record::ResolutionReported {
            flow: h.flow.id.clone(),
            error: None,
        },
        t(400),
        &policy(Mode::Counter),
    );
    assert!(ledger.unreported_resolutions().is_empty());
}

#[test]
fn offline_refused_shows_why() {
    let (mut h, _) = H::start(Mode::Counter, Some(900_000));
    h.feed(
        Event::Verified {
            result: Err(unreachable()),
            offline: Some(OfflineDecision::Refused {
                code: "OFFLINE_LIMIT_PAYMENT".into(),
            }),
        },
        1,
    );
    assert_eq!(h.flow.stage, Stage::Failed);
    assert_eq!(
        h.flow.error.as_ref().map(|e| e.code.as_str()),
        Some("OFFLINE_LIMIT_PAYMENT")
    );
    assert!(!h.flow.offline);
}

#[test]
fn adapter_refusals_keep_the_catalogue_code() {
    let (mut h, _) = H::start(Mode::Kiosk, None);
    h.feed(
        Event::Verified {
            result: Err(refused(ErrorCode::NoticeAlreadyPaid)),
            offline: None,
        },
        1,
    );
    let e = h.flow.error.clone().expect("error");
    assert_eq!(e.code, "NOTICE_ALREADY_PAID");
    assert_eq!(
        e.message_it,
        ErrorCode::NoticeAlreadyPaid.message(channel_api::Lang::It)
    );
    h.feed(Event::Tick, 20);
    assert_eq!(h.flow.stage, Stage::Closed);
    assert!(h.flow.settled());
}

#[test]
fn a_lost_activation_is_resent_with_the_same_key_and_koed_if_it_opened_a_payment() {
    let (mut h, _) = H::start(Mode::Kiosk, None);
    h.feed(
        Event::Verified {
            result: Ok(verified(1500)),
            offline: None,
        },
        1,
    );
    let first = h.feed(Event::Confirmed { tender: None }, 2);
    h.feed(
        Event::Activated {
            result: Err(unreachable()),
        },
        20,
    );
    assert_eq!(h.flow.stage, Stage::Failed);
    assert!(h.flow.activation_unresolved);
    // The citizen gives up; the flow leaves the screen but not the agent's memory.
    h.feed(Event::Cancel, 21);
    h.feed(Event::Tick, 40);
    assert_eq!(h.flow.stage, Stage::Closed);
    assert!(!h.flow.settled());
    h.flow.retry_at = Some(t(41));
    let again = h.feed(Event::Tick, 41);
    assert_eq!(again, first, "same request, same key");
    let fx = h.feed(
        Event::Activated {
            result: Ok(payment(1500, Tender::Card, PaymentState::Active)),
        },
        42,
    );
    assert!(matches!(outcome_of(&fx), OutcomeRequest::Ko { .. }));
}

#[test]
fn restart_in_each_state_resumes_safely() {
    let restarted = Event::Restarted {
        print_journaled: false,
    };
    // Before activation: just closed.
    let (mut h, _) = H::start(Mode::Kiosk, None);
    assert!(h.feed(restarted.clone(), 1).is_empty());
    assert_eq!(h.flow.stage, Stage::Closed);

    // Activated, citizen gone: KO.
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    let fx = h.feed(restarted.clone(), 10);
    assert_eq!(
        outcome_of(&fx),
        &OutcomeRequest::Ko {
            reason: KoReason::DeviceFault
        }
    );

    // Charging: ask the terminal, never charge.
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    let fx = h.feed(restarted.clone(), 10);
    assert_eq!(
        fx,
        vec![Effect::LastResult {
            amount: cents(1620)
        }]
    );

    // Charged, outcome not delivered: deliver OK.
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    let first = h.feed(
        Event::Card {
            result: CardResult::Approved { card: card() },
        },
        5,
    );
    let fx = h.feed(restarted.clone(), 10);
    assert_eq!(fx, first);

    // Cash in the drawer, outcome not sent: OK without pulsing the drawer again.
    let mut h = H::to_tender(Mode::Counter, Tender::Cash);
    h.feed(
        Event::Pay {
            tender: Tender::Cash,
            tendered: Some(cents(1600)),
            operator: None,
        },
        4,
    );
    let fx = h.feed(restarted.clone(), 10);
    assert!(matches!(outcome_of(&fx), OutcomeRequest::Ok { .. }));

    // Printing, intent journaled: a copy.
    let mut h = H::to_tender(Mode::Kiosk, Tender::Card);
    h.feed(
        Event::Pay {
            tender: Tender::Card,
            tendered: None,
            operator: None,
        },
        4,
    );
    h.feed(
        Event::Card {
            result: CardResult::Approved { card: card() },
        },
        5,
    );
    h.feed(
        Event::Outcome {
            result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
        },
        6,
    );
    let mut without = h.flow.clone();
    let fx = h.feed(
        Event::Restarted {
            print_journaled: true,
        },
        10,
    );
    assert_eq!(fx, vec![Effect::Print { copy: true }]);
    // Printing, intent never written: nothing can be on paper, the original is printed.
    let fx = without
        .handle(&restarted, t(10), &policy(Mode::Kiosk))
        .expect("accepted");
    assert_eq!(fx, vec![Effect::Print { copy: false }]);
}

#[test]
fn flow_ids_make_valid_keys_and_round_trip() {
    let day = pagopa::Date::new(2025, 3, 1).expect("date");
    let id = FlowId::generate(day, [0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]).expect("id");
    assert!(id.as_str().starts_with("250301-"));
    assert_eq!(FlowId::parse(id.as_str()), Some(id.clone()));
    let json = serde_json::to_string(&id).expect("json");
    assert_eq!(serde_json::from_str::<FlowId>(&json).expect("back"), id);
    assert!(serde_json::from_str::<FlowId>("\"bad id\"").is_err());
    assert!(id.activation_key().as_str().starts_with("act-"));
}

#[test]
fn events_and_effects_round_trip_through_json() {
    let events = vec![
        Event::Verified {
            result: Ok(verified(100)),
            offline: None,
        },
        Event::Verified {
            result: Err(unreachable()),
            offline: Some(OfflineDecision::Allowed { fee: cents(100) }),
        },
        Event::Card {
            result: CardResult::Approved { card: card() },
        },
        Event::Activated {
            result: Ok(payment(1, Tender::Cash, PaymentState::Active)),
        },
        Event::Restarted {
            print_journaled: true,
        },
    ];
    for e in events {
        let json = serde_json::to_string(&e).expect("json");
        assert_eq!(
            serde_json::from_str::<Event>(&json).expect("back"),
            e,
            "{json}"
        );
    }
}

#[test]
fn card_numbers_are_masked_to_four_digits() {
    assert_eq!(CardRefs::mask_pan("4111111111111111"), "************1111");
    assert_eq!(CardRefs::mask_pan("************1234"), "************1234");
    assert_eq!(CardRefs::mask_pan("12"), "************12");
}
