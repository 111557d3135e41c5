//! Properties of the rendicontazione codecs: whatever can be built round-trips through the
//! flow writer and reader, flow ids and remittances round-trip through their text, and no
//! decoder panics on arbitrary or damaged input.

use pagopa::fdr::soap::{NodoInviaFlussoRendicontazione, NodoInviaFlussoRendicontazioneRisposta};
use pagopa::fdr::{
    self, FlowHeader, IdentifierType, OutcomeCode, Payment, Reader, Receiver, SchemaVersion,
    Sender, Text,
};
use pagopa::remittance::{FlowId, Remittance};
use pagopa::{Amount, Date, DateTime, Iuv};
use proptest::prelude::*;

fn date() -> impl Strategy<Value = Date> {
    (2000u16..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).expect("date"))
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (
        date(),
        0u8..24,
        0u8..60,
        0u8..60,
        prop::option::of(0u32..1000),
    )
        .prop_map(|(d, h, mi, s, ms)| {
            let base = DateTime::new(d, h, mi, s).expect("time");
            match ms {
                Some(ms) => DateTime::parse(&format!("{base}.{ms:03}")).expect("fraction"),
                None => base,
            }
        })
}

fn text<const A: usize, const B: usize>() -> impl Strategy<Value = Text<A, B>> {
    let re = format!("[a-zA-Z0-9 àèìòùÀ€&<>\"'_./-]{{{A},{B}}}");
    proptest::string::string_regex(&re)
        .expect("regex")
        .prop_filter_map("blank after trimming", |s| Text::new(&s).ok())
}

fn flow_id() -> impl Strategy<Value = FlowId> {
    (date(), "[A-Za-z0-9_-]{1,12}", "[A-Za-z0-9_-]{1,12}")
        .prop_map(|(d, psp, sfx)| FlowId::new(d, &psp, &sfx).expect("at most 35 characters"))
}

fn payment(version: SchemaVersion) -> impl Strategy<Value = Payment> {
    let codes: Vec<OutcomeCode> = OutcomeCode::ALL
        .into_iter()
        .filter(|&c| version.allows(c))
        .collect();
    (
        "[A-Za-z0-9]{1,35}",
        text::<1, 35>(),
        prop::option::of(1u8..=5),
        1u64..=100_000_000,
        prop::sample::select(codes),
        date(),
    )
        .prop_map(
            |(iuv, iur, transfer_index, cents, outcome, outcome_date)| Payment {
                iuv: Iuv::parse(&iuv).expect("iuv"),
                iur,
                transfer_index,
                amount: Amount::from_cents(cents).expect("amount"),
                outcome,
                outcome_date,
            },
        )
}

fn flow() -> impl Strategy<Value = (FlowHeader, Vec<Payment>, SchemaVersion)> {
    prop_oneof![Just(SchemaVersion::V1_0_4), Just(SchemaVersion::V1_0_5)].prop_flat_map(|v| {
        (
            flow_id(),
            date_time(),
            text::<1, 35>(),
            date(),
            prop_oneof![
                Just(IdentifierType::LegalPerson),
                Just(IdentifierType::Abi),
                Just(IdentifierType::Bic)
            ],
            (text::<1, 35>(), prop::option::of(text::<3, 70>())),
            prop::option::of(text::<1, 35>()),
            (text::<1, 35>(), prop::option::of(text::<1, 140>())),
            prop::collection::vec(payment(v), 1..12),
        )
            .prop_map(
                move |(flow_id, dt, reg, reg_date, id_type, (sc, sn), bic, (rc, rn), payments)| {
                    let header = FlowHeader {
                        flow_id,
                        flow_date_time: dt,
                        settlement_ref: reg,
                        settlement_date: reg_date,
                        sender: Sender {
                            id_type,
                            code: sc,
                            name: sn,
                        },
                        settlement_bank_bic: bic,
                        receiver: Receiver { code: rc, name: rn },
                        payment_count: payments.len() as u64,
                        total: Amount::checked_sum(payments.iter().map(|p| p.amount))
                            .expect("small total"),
                    };
                    (header, payments, v)
                },
            )
    })
}

proptest! {
    #[test]
    fn flows_round_trip((header, payments, v) in flow()) {
        let xml = fdr::encode(&header, &payments, v).expect("encode");
        let (h, p) = fdr::decode(&xml).expect("decode");
        prop_assert_eq!(h, header);
        prop_assert_eq!(p, payments);
    }

    #[test]
    fn flow_ids_round_trip(id in flow_id()) {
        let again = FlowId::parse(id.as_str()).expect("parse");
        prop_assert_eq!(again.date(), id.date());
        prop_assert_eq!(again, id);
    }

    #[test]
    fn flow_ids_split_by_their_psp(d in date(), psp in "[A-Za-z0-9_-]{1,12}", sfx in "[A-Za-z0-9_-]{1,12}") {
        let id = FlowId::new(d, &psp, &sfx).expect("id");
        prop_assert_eq!(id.suffix_for(&psp), Some(sfx.as_str()));
        prop_assert_eq!(id.sender_suffix(), format!("{psp}-{sfx}"));
    }

    #[test]
    fn remittances_round_trip(id in flow_id(), n in prop::option::of(0u8..=9)) {
        let r = match n {
            None => Remittance::legacy(id),
            Some(0) => Remittance::ordinary(id),
            Some(n) => Remittance::integrative(id, n).expect("1..=9"),
        };
        let text = r.build();
        prop_assert!(text.len() <= 140);
        prop_assert_eq!(Remittance::parse(&text).expect("parse"), r);
    }

    #[test]
    fn remittances_survive_bank_decoration(
        id in flow_id(),
        n in 0u8..=9,
        prefix in "(RI[0-9]:|RI[0-9] |BONIFICO SEPA |)",
        suffix in "( ACCREDITO BOLLETTINO P\\.A\\.| [A-Z ]{0,20}|)",
        lower in any::<bool>(),
    ) {
        let tags = format!("{prefix}/PUR/LGPE-RIVERSAMENTO/TXT/{n}/URI/");
        let tags = if lower { tags.to_lowercase() } else { tags };
        let text = format!("{tags}{id}{suffix}");
        let r = Remittance::parse(&text).expect("parse");
        prop_assert_eq!(r.flow_id(), &id);
        prop_assert_eq!(r.progressive(), Some(n));
    }

    #[test]
    fn truncated_remittances_never_yield_a_wrong_date(id in flow_id(), cut in 1usize..10) {
        let text = format!("/PUR/LGPE-RIVERSAMENTO/URI/{}", &id.as_str()[..cut]);
        prop_assert_eq!(
            Remittance::parse(&text).map_err(|e| e.code()),
            Err("REMITTANCE_TRUNCATED")
        );
    }

    #[test]
    fn text_decoders_never_panic(s in "\\PC{0,200}") {
        let _ = FlowId::parse(&s);
        let _ = Remittance::parse(&s);
        let _ = NodoInviaFlussoRendicontazione::decode(&s);
        let _ = NodoInviaFlussoRendicontazioneRisposta::decode(&s);
        let _ = fdr::decode(s.as_bytes());
    }

    #[test]
    fn flow_decoder_never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = fdr::decode(&b);
    }

    #[test]
    fn damaged_flows_fail_cleanly(
        (header, payments, v) in flow(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let xml = fdr::encode(&header, &payments, v).expect("encode");
        let mut flipped = xml.clone();
        for (at, byte) in flips {
            let i = at.index(flipped.len());
            flipped[i] = byte;
        }
        let _ = fdr::decode(&flipped);
        let truncated = &xml[..cut.index(xml.len() - 1)];
        prop_assert!(fdr::decode(truncated).is_err());
        // Streaming stops at the first error and stays stopped.
        if let Ok(reader) = Reader::new(&flipped[..]) {
            let mut it = reader;
            let mut seen_err = false;
            for r in it.by_ref() {
                prop_assert!(!seen_err);
                seen_err = r.is_err();
            }
            prop_assert!(it.next().is_none());
        }
    }
}
