//! Property tests of the ECR17 codec: frames round-trip in every LRC mode across any split,
//! decoders survive arbitrary bytes, and a session never sends a payment twice.

use std::time::{Duration, Instant};

use drivers::ecr17::{
    CashRegisterId, Command, Completion, FrameDecoder, Inbound, LrcMode, Output, PaymentRequest,
    Reply, Session, SessionConfig, SessionError, TerminalId, encode_frame,
};
use proptest::prelude::*;

fn mode() -> impl Strategy<Value = LrcMode> {
    prop_oneof![
        Just(LrcMode::Std),
        Just(LrcMode::NoExt),
        Just(LrcMode::Stx),
        Just(LrcMode::StxNoExt)
    ]
}

/// An ASCII message that can be framed (no STX, no ETX).
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..0x80, 0..300).prop_map(|m| {
        m.into_iter()
            .map(|b| if b == 0x02 || b == 0x03 { b'x' } else { b })
            .collect()
    })
}

fn split(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

proptest! {
    #[test]
    fn frames_round_trip_in_every_lrc_mode(
        messages in prop::collection::vec(message(), 1..6),
        mode in mode(),
        noise in prop::collection::vec(any::<u8>().prop_filter("not a start byte", |b| ![0x01, 0x02, 0x06, 0x15].contains(b)), 0..10),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let mut wire = noise.clone();
        for m in &messages {
            wire.extend(encode_frame(mode, m).expect("framable"));
        }
        let mut decoder = FrameDecoder::new(mode);
        let mut received = Vec::new();
        for chunk in split(&wire, &cuts) {
            received.extend(decoder.feed(&chunk));
        }
        let expected: Vec<_> = messages.iter().cloned().map(|m| Ok(Inbound::Message(m))).collect();
        prop_assert_eq!(received, expected);
        prop_assert_eq!(decoder.discarded(), noise.len() as u64);
    }

    #[test]
    fn other_modes_reject_the_frame(m in message(), sent in mode(), configured in mode()) {
        prop_assume!(sent != configured);
        let mut decoder = FrameDecoder::new(configured);
        let out = decoder.feed(&encode_frame(sent, &m).expect("framable"));
        prop_assert_eq!(out.len(), 1);
        let Err(e) = &out[0] else { return Err(TestCaseError::fail("accepted a wrong LRC")) };
        prop_assert!(e.requires_nak());
    }

    #[test]
    fn frame_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048), max in 0usize..64) {
        let mut decoder = FrameDecoder::with_max_message(LrcMode::Stx, max);
        for item in decoder.feed(&bytes) {
            if let Ok(Inbound::Message(m)) = item {
                prop_assert!(m.len() <= max);
                prop_assert!(m.iter().all(|&b| b < 0x80 && b != 0x02 && b != 0x03));
            }
        }
    }

    #[test]
    fn reply_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), code in any::<u8>(), len in 0usize..130) {
        let _ = Reply::parse(&bytes);
        // Well-formed header, arbitrary body: exercises every layout.
        let mut m = b"123456780".to_vec();
        m.push(code);
        m.extend(bytes.iter().copied().cycle().take(len));
        let _ = Reply::parse(&m);
    }
}

#[derive(Debug, Clone)]
enum Event {
    Bytes(Vec<u8>),
    Advance(u64),
    ConnectionLost,
}

/// The approval of ecr17.md §9.2, framed in stx mode.
fn approval_frame() -> Vec<u8> {
    let m = concat!(
        "123456780E00",
        "000545454******5454",
        "CLI",
        "123456",
        "1501015",
        "2",
        "1234567    ",
        "000042",
        "000017"
    );
    encode_frame(LrcMode::Stx, m.as_bytes()).expect("framable")
}

#[test]
fn approval_fixture_is_a_payment_result() {
    let frame = approval_frame();
    assert_eq!(frame.len(), 74);
    let parsed = Reply::parse(&frame[1..72]).expect("parses");
    assert!(matches!(parsed, Reply::Transaction(r) if r.is_approved()));
}

fn event() -> impl Strategy<Value = Event> {
    let result = approval_frame();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Event::Bytes),
        Just(Event::Bytes(vec![0x06, 0x03, 0x7A])),
        Just(Event::Bytes(vec![0x15, 0x03, 0x69])),
        Just(Event::Bytes(result)),
        (0u64..150_000).prop_map(Event::Advance),
        Just(Event::ConnectionLost),
    ]
}

proptest! {
    /// Whatever the terminal does, the session writes only the original payment frame (as
    /// link-level retransmission) or ACK/NAK, never more than 4 payment frames, and a payment
    /// that ends in `Unknown` blocks the next payment.
    #[test]
    fn a_payment_is_never_sent_as_a_new_operation(events in prop::collection::vec(event(), 0..40)) {
        let t0 = Instant::now();
        let config = SessionConfig::new(
            TerminalId::parse("12345678").expect("valid"),
            CashRegisterId::parse("1").expect("valid"),
        );
        let mut session = Session::new(config);
        let payment = Command::Payment(PaymentRequest::new(1234).expect("valid"));
        let out = session.begin(t0, payment.clone()).expect("starts");
        let Some(Output::Write(frame)) = out.first() else {
            return Err(TestCaseError::fail("no frame written"));
        };
        let frame = frame.clone();
        let mut frames_sent = 1;
        let mut completion = None;
        let mut now = t0;
        for event in events {
            let out = match event {
                Event::Bytes(bytes) => session.feed(now, &bytes),
                Event::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    session.poll(now)
                }
                Event::ConnectionLost => session.connection_lost(),
            };
            for o in out {
                match o {
                    Output::Write(bytes) if bytes == frame => frames_sent += 1,
                    Output::Write(bytes) => prop_assert_eq!(bytes.len(), 3, "only ACK/NAK besides the frame"),
                    Output::Completed(c) => {
                        prop_assert!(completion.is_none(), "one completion per command");
                        completion = Some(c);
                    }
                    _ => {}
                }
            }
        }
        prop_assert!(frames_sent <= 4);
        if let Some(Completion::Unknown { .. }) = completion {
            prop_assert!(session.pending_recovery().is_some());
            if session.is_idle() {
                prop_assert_eq!(session.begin(now, payment), Err(SessionError::RecoveryRequired));
            }
        }
    }
}
