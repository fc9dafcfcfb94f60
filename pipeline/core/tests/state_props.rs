//! The join state must end identical, versions included, whatever order the processor
//! interleaved its input topics in, and must recognise redeliveries after a restore.

use hub_core::channel::Channel;
use hub_core::state::{AffectedChannels, ApplyOutcome, InputPosition, ReferenceState, Signal};
use hub_schemas::records::{CostKind, CostSignal, OfferSignal, StockSignal, StockSource};
use proptest::prelude::*;
use rust_decimal::Decimal;

const GTIN: &str = "3700000000018";

fn offer(channel: Channel, price_cents: i64, observed_at: i64) -> OfferSignal {
    OfferSignal {
        gtin: GTIN.into(),
        channel: channel.key().into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(Decimal::new(price_cents, 2)),
        our_shipping_incl_vat: Some(Decimal::ZERO),
        buy_box_price_incl_vat: None,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: None,
        offer_count: None,
        sales_rank: None,
        marketplace_category: None,
        source: "test".into(),
        request_id: None,
        observed_at,
    }
}

fn cost(supplier: &str, cost_cents: i64, observed_at: i64) -> CostSignal {
    CostSignal {
        gtin: GTIN.into(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some(supplier.into()),
        unit_cost_excl_vat: Decimal::new(cost_cents, 2),
        currency: "EUR".into(),
        moq: None,
        valid_from: None,
        valid_to: None,
        lead_time_days: None,
        source: "test".into(),
        request_id: None,
        observed_at,
    }
}

fn stock(source: StockSource, quantity: i64, observed_at: i64) -> StockSignal {
    StockSignal {
        gtin: GTIN.into(),
        stock_source: source,
        location: None,
        quantity,
        incoming_quantity: None,
        lead_time_days: None,
        source: "test".into(),
        request_id: None,
        observed_at,
    }
}

/// A topic's records in offset order: (topic, offset, signal).
fn topic_records(topic: &'static str, signals: Vec<Signal>) -> Vec<(&'static str, i64, Signal)> {
    signals
        .into_iter()
        .enumerate()
        .map(|(offset, signal)| (topic, offset as i64, signal))
        .collect()
}

/// Merges per-topic sequences, keeping each topic's order, as `choices` dictates.
fn interleave(
    mut topics: Vec<Vec<(&'static str, i64, Signal)>>,
    choices: &[usize],
) -> Vec<(&'static str, i64, Signal)> {
    topics.iter_mut().for_each(|records| records.reverse());
    let mut merged = Vec::new();
    let mut choice = choices.iter().cycle();
    while topics.iter().any(|records| !records.is_empty()) {
        let non_empty: Vec<usize> = (0..topics.len())
            .filter(|index| !topics[*index].is_empty())
            .collect();
        let pick = non_empty[choice.next().copied().unwrap_or(0) % non_empty.len()];
        merged.push(topics[pick].pop().expect("picked a non-empty topic"));
    }
    merged
}

fn replay(records: &[(&'static str, i64, Signal)]) -> ReferenceState {
    let mut state = ReferenceState::default();
    for (topic, offset, signal) in records {
        state.apply(
            signal.clone(),
            InputPosition {
                topic,
                offset: *offset,
            },
        );
    }
    state
}

fn signals_strategy() -> impl Strategy<Value = Vec<Vec<(&'static str, i64, Signal)>>> {
    let channel = prop::sample::select(Channel::ALL.to_vec());
    let offers =
        prop::collection::vec((channel, 1i64..100_000, 0i64..1_000), 0..12).prop_map(|offers| {
            offers
                .into_iter()
                .map(|(channel, price, at)| Signal::Offer(channel, offer(channel, price, at)))
                .collect()
        });
    let costs = prop::collection::vec(
        (
            prop::sample::select(vec!["s1", "s2"]),
            1i64..50_000,
            0i64..1_000,
        ),
        0..8,
    )
    .prop_map(|costs| {
        costs
            .into_iter()
            .map(|(supplier, amount, at)| Signal::Cost(cost(supplier, amount, at)))
            .collect()
    });
    let stocks = prop::collection::vec(
        (
            prop::sample::select(vec![StockSource::Erp, StockSource::Fba]),
            0i64..500,
            0i64..1_000,
        ),
        0..8,
    )
    .prop_map(|stocks| {
        stocks
            .into_iter()
            .map(|(source, quantity, at)| Signal::Stock(stock(source, quantity, at)))
            .collect()
    });
    (offers, costs, stocks).prop_map(|(offers, costs, stocks)| {
        vec![
            topic_records("offers", offers),
            topic_records("costs", costs),
            topic_records("stock", stocks),
        ]
    })
}

proptest! {
    #[test]
    fn final_state_and_versions_do_not_depend_on_topic_interleaving(
        topics in signals_strategy(),
        first in prop::collection::vec(0usize..3, 1..40),
        second in prop::collection::vec(0usize..3, 1..40),
    ) {
        let one = replay(&interleave(topics.clone(), &first));
        let other = replay(&interleave(topics, &second));
        prop_assert_eq!(&one, &other);
        for channel in Channel::ALL {
            prop_assert_eq!(one.score_version(channel), other.score_version(channel));
        }
    }

    #[test]
    fn replaying_after_a_restore_changes_nothing(
        topics in signals_strategy(),
        order in prop::collection::vec(0usize..3, 1..40),
        cut in 0usize..30,
    ) {
        let records = interleave(topics, &order);
        let uninterrupted = replay(&records);
        // Restore from a changelog written after `cut` records, then redeliver everything
        // from the start, as a consumer whose commit was lost would.
        let cut = cut.min(records.len());
        let mut restored = replay(&records[..cut]);
        for (topic, offset, signal) in &records {
            let outcome = restored.apply(signal.clone(), InputPosition { topic, offset: *offset });
            if (*offset as usize) < records[..cut].iter().filter(|(t, _, _)| t == topic).count() {
                prop_assert!(outcome == ApplyOutcome::AlreadyApplied);
            }
        }
        prop_assert_eq!(restored, uninterrupted);
    }
}

#[test]
fn a_cost_change_rescores_every_offered_channel_and_an_offer_only_its_own() {
    let mut state = ReferenceState::default();
    let amazon = state.apply(
        Signal::Offer(Channel::Amazon, offer(Channel::Amazon, 19_990, 1)),
        InputPosition {
            topic: "offers",
            offset: 0,
        },
    );
    assert_eq!(
        amazon,
        ApplyOutcome::Applied(AffectedChannels::One(Channel::Amazon))
    );
    state.apply(
        Signal::Offer(Channel::Cdiscount, offer(Channel::Cdiscount, 18_990, 2)),
        InputPosition {
            topic: "offers",
            offset: 1,
        },
    );
    let outcome = state.apply(
        Signal::Cost(cost("s1", 9_000, 3)),
        InputPosition {
            topic: "costs",
            offset: 0,
        },
    );
    let ApplyOutcome::Applied(affected) = outcome else {
        panic!("a new cost line must be applied, got {outcome:?}");
    };
    assert_eq!(
        state.channels_to_rescore(affected),
        vec![Channel::Amazon, Channel::Cdiscount]
    );
    assert_eq!(
        state.channels_to_rescore(AffectedChannels::One(Channel::FnacDarty)),
        Vec::<Channel>::new()
    );
    assert_eq!(state.score_version(Channel::Amazon), 2);
    assert_eq!(state.score_version(Channel::Cdiscount), 2);
    assert_eq!(state.score_version(Channel::FnacDarty), 1);
}

#[test]
fn an_older_observation_never_overwrites_a_newer_one() {
    let mut state = ReferenceState::default();
    state.apply(
        Signal::Offer(Channel::Amazon, offer(Channel::Amazon, 19_990, 200)),
        InputPosition {
            topic: "offers",
            offset: 0,
        },
    );
    let stale = state.apply(
        Signal::Offer(Channel::Amazon, offer(Channel::Amazon, 24_990, 100)),
        InputPosition {
            topic: "offers",
            offset: 1,
        },
    );
    assert_eq!(stale, ApplyOutcome::Superseded);
    assert_eq!(
        state
            .offer(Channel::Amazon)
            .and_then(|offer| offer.our_price_incl_vat),
        Some(Decimal::new(19_990, 2))
    );
    assert_eq!(state.score_version(Channel::Amazon), 1);
}
