//! Property tests of the scanner framer: labels survive any split of the byte stream, and no
//! input makes it panic.

use std::time::{Duration, Instant};

use drivers::scanner::{
    AimMode, Framing, ScanDecoder, ScanEvent, ScannerConfig, Suffix, Symbology,
};
use proptest::prelude::*;

fn suffix() -> impl Strategy<Value = Suffix> {
    prop_oneof![
        Just(Suffix::Cr),
        Just(Suffix::Lf),
        Just(Suffix::CrLf),
        Just(Suffix::AnyLineEnd)
    ]
}

fn symbology() -> impl Strategy<Value = Symbology> {
    ("[A-Za-z]", "[0-9A-Z]").prop_filter_map("valid AIM identifier", |(c, m)| {
        Symbology::from_aim(c.as_bytes()[0], m.as_bytes()[0])
    })
}

/// Splits `bytes` at the given fractions of its length.
fn split(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

fn terminator(suffix: Suffix, pick: usize) -> &'static [u8] {
    match suffix {
        Suffix::Cr => b"\r",
        Suffix::Lf => b"\n",
        Suffix::CrLf => b"\r\n",
        Suffix::AnyLineEnd => [b"\r".as_slice(), b"\n", b"\r\n"][pick % 3],
    }
}

proptest! {
    #[test]
    fn labels_reassemble_across_any_split(
        labels in prop::collection::vec((symbology(), "[^\r\n]{0,60}", 0usize..3), 1..8),
        suffix in suffix(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (symbology, text, pick) in &labels {
            wire.extend_from_slice(symbology.to_string().as_bytes());
            wire.extend_from_slice(text.as_bytes());
            wire.extend_from_slice(terminator(suffix, *pick));
            expected.push(ScanEvent::Code { text: text.clone(), symbology: Some(*symbology) });
        }
        let mut decoder = ScanDecoder::new(ScannerConfig {
            framing: Framing::Suffix(suffix),
            duplicate_window: None,
            ..ScannerConfig::default()
        });
        let now = Instant::now();
        let mut events = Vec::new();
        for chunk in split(&wire, &cuts) {
            events.extend(decoder.feed(now, &chunk));
        }
        prop_assert_eq!(events, expected);
        prop_assert_eq!(decoder.deadline(), None);
    }

    #[test]
    fn labels_reassemble_by_idle_gap(
        labels in prop::collection::vec(
            (symbology(), ".{1,40}", prop::collection::vec(any::<prop::sample::Index>(), 0..6)),
            1..6,
        ),
    ) {
        let idle = Duration::from_millis(50);
        let mut decoder = ScanDecoder::new(ScannerConfig {
            framing: Framing::Idle(idle),
            duplicate_window: None,
            ..ScannerConfig::default()
        });
        let mut now = Instant::now();
        let mut events = Vec::new();
        let mut expected = Vec::new();
        for (symbology, text, cuts) in &labels {
            let mut label = symbology.to_string().into_bytes();
            label.extend_from_slice(text.as_bytes());
            for chunk in split(&label, cuts) {
                events.extend(decoder.feed(now, &chunk));
                now += Duration::from_millis(10);
            }
            now += idle;
            events.extend(decoder.poll(now));
            expected.push(ScanEvent::Code { text: text.clone(), symbology: Some(*symbology) });
        }
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn arbitrary_input_never_panics(
        chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..64), 0u64..200), 0..16),
        suffix in prop::option::of(suffix()),
        idle in prop::option::of(0u64..100),
        aim in prop_oneof![Just(AimMode::Required), Just(AimMode::Optional), Just(AimMode::Off)],
        max_len in 0usize..48,
        window in prop::option::of(0u64..500),
    ) {
        let framing = match (suffix, idle) {
            (Some(suffix), Some(idle)) => Framing::SuffixOrIdle { suffix, idle: Duration::from_millis(idle) },
            (Some(suffix), None) => Framing::Suffix(suffix),
            (None, idle) => Framing::Idle(Duration::from_millis(idle.unwrap_or(30))),
        };
        let mut decoder = ScanDecoder::new(ScannerConfig {
            framing,
            aim,
            max_len,
            duplicate_window: window.map(Duration::from_millis),
        });
        let mut now = Instant::now();
        for (bytes, gap) in chunks {
            now += Duration::from_millis(gap);
            let mut events = decoder.feed(now, &bytes);
            events.extend(decoder.poll(now));
            for event in events {
                if let ScanEvent::Code { text, symbology } = event {
                    let prefix = if symbology.is_some() { 3 } else { 0 };
                    prop_assert!(text.len() + prefix <= max_len);
                    if aim == AimMode::Required {
                        prop_assert!(symbology.is_some());
                    }
                }
            }
        }
    }
}
