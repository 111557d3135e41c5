//! The ECR17 terminal driver against the independent terminal simulator, over TCP and a
//! pseudo-terminal: every scripted fault, and above all, no payment is ever charged twice.

mod common;

use common::pty_link;

use std::time::Duration;

use drivers::devices::terminal::{
    CardOutcome, CardTerminal, Ecr17Config, Ecr17Terminal, Recovery, SessionClosure, TerminalEvent,
    UnknownReason,
};
use drivers::ecr17::{CashRegisterId, SessionConfig, TerminalId};
use drivers::sim::terminal::{Behaviour, SimEvent, TerminalSim, TerminalSimConfig};
use drivers::transport::{Endpoint, ReconnectPolicy};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(15);

fn config(endpoint: &str) -> Ecr17Config {
    let mut session = SessionConfig::new(
        TerminalId::parse("12345678").expect("valid"),
        CashRegisterId::parse("1").expect("valid"),
    );
    session.ack_timeout = Duration::from_millis(400);
    session.result_timeout = Duration::from_secs(1);
    session.receipt_drain = Duration::from_millis(500);
    let mut config = Ecr17Config::new(Endpoint::parse(endpoint).expect("valid"), session);
    config.connect_wait = Duration::from_millis(500);
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        open_timeout: Duration::from_secs(1),
    };
    config
}

async fn sim(behaviours: impl IntoIterator<Item = Behaviour>) -> TerminalSim {
    sim_with(TerminalSimConfig::default(), behaviours).await
}

async fn sim_with(
    config: TerminalSimConfig,
    behaviours: impl IntoIterator<Item = Behaviour>,
) -> TerminalSim {
    let sim = TerminalSim::tcp("127.0.0.1:0".parse().expect("addr"), config)
        .await
        .expect("listens");
    sim.script(behaviours);
    sim
}

async fn pay(terminal: &mut Ecr17Terminal, cents: u64) -> CardOutcome {
    timeout(LIMIT, terminal.pay(cents))
        .await
        .expect("in time")
        .expect("no error")
}

fn approved_stan(outcome: &CardOutcome) -> &str {
    match outcome {
        CardOutcome::Approved(a) => &a.reference.stan,
        other => panic!("expected an approval, got {other:?}"),
    }
}

fn count(sim: &TerminalSim, event: &SimEvent) -> usize {
    sim.log().iter().filter(|e| *e == event).count()
}

#[tokio::test]
async fn an_approved_payment_with_progress_messages() {
    let sim = sim([Behaviour::Approve]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let mut events = terminal.subscribe();
    let outcome = pay(&mut terminal, 1234).await;
    let CardOutcome::Approved(approval) = &outcome else {
        panic!("expected an approval, got {outcome:?}");
    };
    assert_eq!(approval.reference.stan, "000042");
    assert_eq!(
        approval.host_amount_cents,
        Some(1234),
        "X result carries the host amount"
    );
    assert_eq!(approval.masked_pan, "545454******5454");
    assert_eq!(sim.payments_executed(), 1);
    assert_eq!(sim.total_cents(), 1234);
    // The baseline STAN was learnt with G before the first payment.
    let received: Vec<SimEvent> = sim
        .log()
        .into_iter()
        .filter(|e| matches!(e, SimEvent::Received(_)))
        .collect();
    assert_eq!(received, [SimEvent::Received('G'), SimEvent::Received('X')]);
    let mut progress = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let TerminalEvent::Progress(text) = e {
            progress.push(text.trim().to_owned());
        }
    }
    assert_eq!(progress, ["INSERIRE CARTA", "DIGITARE PIN", "ATTENDERE"]);
}

#[tokio::test]
async fn a_declined_payment_moves_no_money() {
    let sim = sim([Behaviour::Decline("FONDI INSUFFICIENTI".into())]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    match pay(&mut terminal, 5000).await {
        CardOutcome::Declined { reason, reference } => {
            assert_eq!(reason, "FONDI INSUFFICIENTI");
            assert_eq!(reference.map(|r| r.stan).as_deref(), Some("000042"));
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(sim.total_cents(), 0);
    // A decline is final: the next payment may go ahead.
    assert_eq!(approved_stan(&pay(&mut terminal, 5000).await), "000043");
}

#[tokio::test]
async fn a_slow_terminal_is_waited_for_within_the_result_timeout() {
    let sim = sim([Behaviour::Slow(Duration::from_millis(600))]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let started = std::time::Instant::now();
    approved_stan(&pay(&mut terminal, 100).await);
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn nak_makes_the_driver_retransmit_the_identical_frame() {
    let sim = sim([Behaviour::Nak(2)]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    approved_stan(&pay(&mut terminal, 700).await);
    assert_eq!(count(&sim, &SimEvent::NakSent), 2);
    assert_eq!(count(&sim, &SimEvent::Received('X')), 3, "sent three times");
    assert_eq!(sim.payments_executed(), 1, "charged once");
}

#[tokio::test]
async fn a_command_refused_at_every_send_is_not_accepted_and_nothing_happens() {
    let sim = sim([Behaviour::Nak(4)]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let err = timeout(LIMIT, terminal.pay(700))
        .await
        .expect("in time")
        .expect_err("refused");
    assert_eq!(err.code(), "TERMINAL_NOT_ACCEPTED");
    assert_eq!(sim.payments_executed(), 0);
    // Nothing happened, so nothing blocks the next attempt.
    approved_stan(&pay(&mut terminal, 700).await);
}

#[tokio::test]
async fn a_result_with_a_corrupt_lrc_is_naked_and_received_again() {
    let sim = sim([Behaviour::CorruptLrc]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let mut events = terminal.subscribe();
    assert_eq!(approved_stan(&pay(&mut terminal, 990).await), "000042");
    assert_eq!(count(&sim, &SimEvent::NakReceived), 1);
    let mut discarded = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let TerminalEvent::Discarded { code } = e {
            discarded.push(code);
        }
    }
    assert_eq!(discarded, ["ECR17_BAD_LRC"]);
}

/// The money-safety case: the terminal approves, then the connection drops before the result.
#[tokio::test]
async fn dropped_after_approving_is_unknown_then_resolved_as_approved_never_charged_twice() {
    let sim = sim([Behaviour::DropAfterApprove]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let outcome = pay(&mut terminal, 4200).await;
    assert_eq!(
        outcome,
        CardOutcome::Unknown {
            reason: UnknownReason::ConnectionLost
        }
    );
    // The driver refuses to pay again while the outcome is unknown…
    let err = terminal.pay(4200).await.expect_err("blocked");
    assert_eq!(err.code(), "TERMINAL_RECOVERY_REQUIRED");
    let err = terminal.close_session().await.expect_err("blocked");
    assert_eq!(err.code(), "TERMINAL_RECOVERY_REQUIRED");
    assert_eq!(sim.payments_executed(), 1, "the payment was never resent");
    // …and the last result resolves it: approved, with the new STAN.
    let last = timeout(LIMIT, terminal.last_result())
        .await
        .expect("in time")
        .expect("answered");
    match last.recovery {
        Some(Recovery::Approved(approval)) => {
            assert_eq!(approval.reference.stan, "000042");
            assert_eq!(approval.host_amount_cents, Some(4200));
        }
        other => panic!("expected the recovery to find an approval, got {other:?}"),
    }
    assert_eq!(sim.payments_executed(), 1);
    assert_eq!(sim.total_cents(), 4200, "charged exactly once");
    // Resolved: payments are possible again.
    assert_eq!(approved_stan(&pay(&mut terminal, 100).await), "000043");
}

#[tokio::test]
async fn no_answer_is_unknown_then_resolved_as_not_performed() {
    let sim = sim([Behaviour::NoAnswer]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let outcome = pay(&mut terminal, 1500).await;
    assert_eq!(
        outcome,
        CardOutcome::Unknown {
            reason: UnknownReason::NoResult
        }
    );
    let last = terminal.last_result().await.expect("answered");
    assert_eq!(last.recovery, Some(Recovery::NotPerformed));
    assert_eq!(sim.total_cents(), 0);
    approved_stan(&pay(&mut terminal, 1500).await);
}

#[tokio::test]
async fn no_acknowledgement_at_all_is_unknown_not_failed() {
    let sim = sim([Behaviour::NoAck]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let outcome = pay(&mut terminal, 800).await;
    assert_eq!(
        outcome,
        CardOutcome::Unknown {
            reason: UnknownReason::NoAcknowledgement
        }
    );
    assert_eq!(
        count(&sim, &SimEvent::Received('X')),
        4,
        "1 send + 3 retransmissions"
    );
    assert_eq!(sim.payments_executed(), 0);
    // 4 × 400 ms have passed, more than the 1 s result timeout: the old STAN proves it never ran.
    let last = terminal.last_result().await.expect("answered");
    assert_eq!(last.recovery, Some(Recovery::NotPerformed));
}

#[tokio::test]
async fn receipt_lines_sent_to_the_register_are_collected() {
    let sim = sim([Behaviour::Approve]).await;
    let mut with_receipt = config(&sim.endpoint());
    with_receipt.receipt_to_ecr = true;
    let mut terminal = Ecr17Terminal::new(with_receipt);
    match pay(&mut terminal, 1234).await {
        CardOutcome::Approved(a) => {
            assert_eq!(a.receipt, ["NEXI", "TRANSAZIONE ESEGUITA", "STAN 000042"]);
        }
        other => panic!("expected an approval, got {other:?}"),
    }
}

#[tokio::test]
async fn reversal_totals_status_and_close_session() {
    let sim = sim([]).await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    let info = terminal.status().await.expect("status");
    assert_eq!(info.terminal_id, "12345678");
    assert!(info.ready);
    let CardOutcome::Approved(first) = pay(&mut terminal, 2000).await else {
        panic!("approved expected");
    };
    assert_eq!(terminal.totals().await.expect("totals"), 2000);
    let reversal = terminal
        .reverse_last(&first.reference)
        .await
        .expect("reversal answered");
    let CardOutcome::Approved(reversed) = reversal else {
        panic!("reversal approved expected, got {reversal:?}");
    };
    assert_eq!(
        reversed.auth_code.as_deref(),
        None,
        "reversals carry no authorisation code"
    );
    assert_eq!(terminal.totals().await.expect("totals"), 0);
    pay(&mut terminal, 300).await;
    assert_eq!(
        terminal.close_session().await.expect("closed"),
        SessionClosure::Closed {
            terminal_total_cents: 300,
            host_total_cents: 300
        }
    );
    assert_eq!(terminal.totals().await.expect("totals"), 0);
    // A reversal naming another transaction is refused by the terminal.
    let CardOutcome::Approved(paid) = pay(&mut terminal, 100).await else {
        panic!("approved expected");
    };
    let mut wrong = paid.reference.clone();
    wrong.stan = "000001".into();
    assert!(matches!(
        terminal.reverse_last(&wrong).await.expect("answered"),
        CardOutcome::Declined { .. }
    ));
}

#[tokio::test]
async fn a_terminal_closing_its_socket_between_transactions_is_reconnected() {
    let sim = sim_with(
        TerminalSimConfig {
            close_after_each: true,
            ..TerminalSimConfig::default()
        },
        [],
    )
    .await;
    let mut terminal = Ecr17Terminal::new(config(&sim.endpoint()));
    approved_stan(&pay(&mut terminal, 100).await);
    approved_stan(&pay(&mut terminal, 200).await);
    assert_eq!(sim.connections(), 3, "G, X, X each on a fresh connection");
    assert_eq!(sim.payments_executed(), 2);
    // Kept connections work too, as long as the terminal keeps them open.
    let sim = sim_with(TerminalSimConfig::default(), []).await;
    let mut kept = config(&sim.endpoint());
    kept.connection_per_command = false;
    let mut terminal = Ecr17Terminal::new(kept);
    approved_stan(&pay(&mut terminal, 100).await);
    approved_stan(&pay(&mut terminal, 200).await);
    assert_eq!(sim.connections(), 1);
}

#[tokio::test]
async fn no_terminal_is_unavailable() {
    let sim = sim([]).await;
    let endpoint = sim.endpoint();
    sim.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut terminal = Ecr17Terminal::new(config(&endpoint));
    let err = terminal.pay(100).await.expect_err("nobody there");
    assert_eq!(err.code(), "TERMINAL_UNAVAILABLE");
}

#[tokio::test]
async fn over_a_pseudo_terminal_including_a_drop_after_approving() {
    let link = pty_link("terminal");
    let sim = TerminalSim::pty(Some(&link), TerminalSimConfig::default()).expect("pty");
    sim.script([Behaviour::Approve, Behaviour::DropAfterApprove]);
    let mut terminal = Ecr17Terminal::new(config(&format!("{}?baud=115200", link.display())));
    assert_eq!(approved_stan(&pay(&mut terminal, 1000).await), "000042");
    assert_eq!(
        pay(&mut terminal, 2000).await,
        CardOutcome::Unknown {
            reason: UnknownReason::ConnectionLost
        }
    );
    // The "unplugged" terminal is back behind the same link; its memory says approved.
    let last = timeout(LIMIT, terminal.last_result())
        .await
        .expect("in time")
        .expect("answered");
    assert!(matches!(last.recovery, Some(Recovery::Approved(a)) if a.reference.stan == "000043"));
    assert_eq!(sim.payments_executed(), 2);
    sim.stop();
}
