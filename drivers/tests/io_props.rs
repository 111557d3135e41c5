//! Property tests of the I/O layer's parsers and of the printer simulator's status replies.

use drivers::escpos::{DrawerPolarity, PaperState, PrinterStatus};
use drivers::sim::printer::{Paper, PrinterState};
use drivers::transport::Endpoint;
use proptest::prelude::*;

fn state() -> impl Strategy<Value = PrinterState> {
    (
        prop_oneof![Just(Paper::Ok), Just(Paper::NearEnd), Just(Paper::Out)],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(paper, cover_open, offline, drawer_pin3_high, cutter_error)| PrinterState {
                paper,
                cover_open,
                offline,
                drawer_pin3_high,
                cutter_error,
            },
        )
}

proptest! {
    /// Whatever a technician types, parsing returns a value or a typed error.
    #[test]
    fn endpoint_parsing_never_panics(input in ".{0,80}") {
        if let Err(e) = Endpoint::parse(&input) {
            prop_assert_eq!(e.code(), "TRANSPORT_INVALID_ENDPOINT");
        }
    }

    /// A parsed address prints in a form that parses back to the same address.
    #[test]
    fn endpoints_round_trip_through_display(
        host in "[a-z][a-z0-9.-]{0,20}",
        port in 1u16..,
        path in "(/[a-zA-Z0-9_.-]{1,12}){1,4}",
        baud in 1u32..4_000_000,
    ) {
        for input in [
            format!("tcp://{host}:{port}"),
            format!("{path}?baud={baud}"),
            format!("usblp:{path}"),
        ] {
            let endpoint = Endpoint::parse(&input).expect("valid input");
            prop_assert_eq!(Endpoint::parse(&endpoint.to_string()).expect("round trip"), endpoint);
        }
    }

    /// The simulator's four DLE EOT replies always pass the driver's fixed-bit check and decode
    /// to the state it was given: simulator and codec, written apart, agree on every bit.
    #[test]
    fn simulated_status_replies_decode_to_the_simulated_state(s in state()) {
        let reply = |n| s.reply(n).expect("n in 1-4");
        let status = PrinterStatus::from_replies(
            [reply(1), reply(2), reply(3), reply(4)],
            DrawerPolarity::OpenWhenHigh,
        )
        .expect("valid replies");
        let paper = match s.paper {
            Paper::Ok => PaperState::Ok,
            Paper::NearEnd => PaperState::NearEnd,
            Paper::Out => PaperState::End,
        };
        prop_assert_eq!(status.paper, paper);
        prop_assert_eq!(status.cover_open, s.cover_open);
        prop_assert_eq!(status.drawer_open, s.drawer_pin3_high);
        prop_assert_eq!(status.errors.autocutter, s.cutter_error);
        prop_assert_eq!(
            status.offline,
            s.offline || s.cover_open || s.cutter_error || s.paper == Paper::Out
        );
        let fit = !s.offline && !s.cover_open && !s.cutter_error && s.paper != Paper::Out;
        prop_assert_eq!(status.ready(), fit);
    }
}
