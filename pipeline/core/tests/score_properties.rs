//! Properties of the score: contributions sum to it, it stays in [0, 100], confidence in
//! [0, 1], and raising one factor's weight never lowers that factor's contribution.

use hub_core::category::Category;
use hub_core::channel::Channel;
use hub_core::margin::{Fulfilment, OperationalCosts, ProductCost};
use hub_core::profile::EconomicsConfig;
use hub_core::score::{self, Factor, Listing, Market, Observations, Situation, Supply};
use hub_schemas::records::StockSource;
use proptest::prelude::*;
use rust_decimal::Decimal;

const AT: i64 = 1_772_445_600_000;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone)]
struct Inputs {
    channel: Channel,
    category: Category,
    listed: Option<(i64, i64)>,
    buy_box: Option<i64>,
    own_buy_box: Option<bool>,
    lowest: Option<i64>,
    offer_count: Option<i32>,
    sales_rank: Option<i64>,
    supply: Option<(i64, Option<i64>, Option<i32>)>,
    cost: Option<i64>,
    ages_hours: (Option<i64>, Option<i64>, Option<i64>),
}

/// Units in stock: mostly plausible counts, sometimes near `i64::MAX`, which a source may send
/// for "unlimited" and the gate accepts.
fn units() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0i64..=500, 1 => (i64::MAX - 500)..=i64::MAX]
}

fn inputs() -> impl Strategy<Value = Inputs> {
    (
        (
            prop::sample::select(Channel::ALL.to_vec()),
            prop::sample::select(Category::ALL.to_vec()),
        ),
        (
            prop::option::of((100i64..=300_000, 0i64..=3_000)),
            prop::option::of(100i64..=300_000),
            prop::option::of(any::<bool>()),
            prop::option::of(100i64..=300_000),
        ),
        (
            prop::option::of(0i32..=50),
            prop::option::of(1i64..=2_000_000),
        ),
        prop::option::of((
            units(),
            prop::option::of(units()),
            prop::option::of(0i32..=90),
        )),
        prop::option::of(1i64..=250_000),
        (
            prop::option::of(0i64..=500),
            prop::option::of(0i64..=500),
            prop::option::of(0i64..=5_000),
        ),
    )
        .prop_map(
            |(
                (channel, category),
                (listed, buy_box, own_buy_box, lowest),
                (offer_count, sales_rank),
                supply,
                cost,
                ages_hours,
            )| Inputs {
                channel,
                category,
                listed,
                buy_box,
                own_buy_box,
                lowest,
                offer_count,
                sales_rank,
                supply,
                cost,
                ages_hours,
            },
        )
}

fn evaluate(
    config: &EconomicsConfig,
    profile: &hub_core::profile::WeightProfile,
    inputs: &Inputs,
) -> score::Evaluation {
    let schedule = config.fees.in_force(inputs.channel, AT).unwrap();
    let cents = |value: i64| Decimal::new(value, 2);
    let ago = |hours: Option<i64>| hours.map(|hours| AT - hours * HOUR);
    let situation = Situation {
        channel: inputs.channel,
        currency: "EUR",
        schedule,
        fee_category: inputs.category,
        vat_rate: Decimal::new(2, 1),
        levies_incl_vat: Decimal::ZERO,
        fulfilment: Some(Fulfilment::Merchant {
            shipping_cost_excl_vat: Decimal::new(590, 2),
        }),
        digital_services_fee: true,
        expected_monthly_units: Some(300),
        operational: OperationalCosts {
            handling_excl_vat: Decimal::new(120, 2),
            returns_provision_rate: Decimal::new(2, 2),
            storage_excl_vat: Decimal::ZERO,
        },
        market: Market {
            listing: inputs.listed.map(|(price, shipping)| Listing {
                price_incl_vat: cents(price),
                shipping_incl_vat: cents(shipping),
            }),
            buy_box_incl_vat: inputs.buy_box.map(cents),
            we_own_buy_box: inputs.own_buy_box,
            lowest_landed_incl_vat: inputs.lowest.map(cents),
            offer_count: inputs.offer_count,
            sales_rank: inputs.sales_rank,
        },
        supply: inputs.supply.map(
            |(own_units, supplier_units, supplier_lead_time_days)| Supply {
                own_units,
                supplier_units,
                supplier_lead_time_days,
            },
        ),
        product_cost: inputs.cost.map(|cost| ProductCost {
            unit_cost_excl_vat: cents(cost),
            source: "supplier:p".into(),
            observed_at: ago(inputs.ages_hours.2).unwrap_or(AT),
        }),
        rank_curve: config
            .categories(inputs.channel)
            .rank_curve(inputs.category),
        observed: Observations {
            offer: ago(inputs.ages_hours.0),
            stock: inputs.supply.and(ago(inputs.ages_hours.1)),
            cost: inputs.cost.and(ago(inputs.ages_hours.2)),
        },
        at: AT,
        missing: Vec::new(),
        archived_by: None,
    };
    score::evaluate(&situation, profile).unwrap()
}

/// Seven weights in millionths summing to exactly one million.
fn weights() -> impl Strategy<Value = [u32; 7]> {
    prop::collection::vec(0u32..=1_000, 7).prop_filter_map("some weight", |raw| {
        let total: u32 = raw.iter().sum();
        (total > 0).then(|| {
            let mut micro = [0u32; 7];
            let mut assigned = 0;
            for (slot, value) in micro.iter_mut().zip(&raw) {
                *slot = value * 1_000_000 / total;
                assigned += *slot;
            }
            micro[0] += 1_000_000 - assigned;
            micro
        })
    })
}

fn as_weights(micro: [u32; 7]) -> [Decimal; 7] {
    micro.map(|value| Decimal::new(i64::from(value), 6))
}

proptest! {
    #[test]
    fn contributions_sum_to_a_score_in_range(inputs in inputs(), micro in weights()) {
        let config = EconomicsConfig::embedded().unwrap();
        let profile = config.weights("default").unwrap().with_weights(as_weights(micro)).unwrap();
        let evaluation = evaluate(&config, &profile, &inputs);
        let sum: Decimal = evaluation.factors.iter().map(|factor| factor.contribution).sum();
        prop_assert_eq!(sum, evaluation.score);
        prop_assert!(evaluation.score >= Decimal::ZERO && evaluation.score <= Decimal::ONE_HUNDRED);
        prop_assert!(evaluation.confidence >= Decimal::ZERO && evaluation.confidence <= Decimal::ONE);
        for factor in &evaluation.factors {
            prop_assert!(factor.value.normalised >= Decimal::ZERO && factor.value.normalised <= Decimal::ONE);
            prop_assert_eq!(factor.value.normalised.scale(), 6);
            prop_assert_eq!(factor.contribution.scale(), 4);
        }
        prop_assert_eq!(evaluation.score.scale(), 4);
    }

    #[test]
    fn a_weight_increase_never_lowers_that_factors_contribution(
        inputs in inputs(),
        micro in weights(),
        raised in 0usize..7,
        moved in 1u32..=200_000,
    ) {
        let config = EconomicsConfig::embedded().unwrap();
        let default = config.weights("default").unwrap();
        // Take up to `moved` millionths from the other factors, in order, and give them to
        // the raised one: the sum stays exactly one.
        let mut raised_micro = micro;
        let mut to_move = moved;
        for index in (0..7).filter(|index| *index != raised) {
            let taken = raised_micro[index].min(to_move);
            raised_micro[index] -= taken;
            raised_micro[raised] += taken;
            to_move -= taken;
        }
        let before = evaluate(&config, &default.with_weights(as_weights(micro)).unwrap(), &inputs);
        let after = evaluate(&config, &default.with_weights(as_weights(raised_micro)).unwrap(), &inputs);
        let factor = Factor::ALL[raised];
        let contribution = |evaluation: &score::Evaluation| {
            evaluation.factors.iter().find(|f| f.factor == factor).unwrap().contribution
        };
        prop_assert!(contribution(&after) >= contribution(&before));
    }
}

#[test]
fn weights_that_do_not_sum_to_one_are_refused_with_the_sum() {
    let config = EconomicsConfig::embedded().unwrap();
    let default = config.weights("default").unwrap();
    let mut weights = [Decimal::new(1, 1); 7];
    let error = default.with_weights(weights).unwrap_err();
    assert!(error.contains("0.7"), "{error}");
    weights[0] = Decimal::new(-1, 1);
    assert!(
        default
            .with_weights(weights)
            .unwrap_err()
            .contains("non-negative")
    );
}

#[test]
fn stock_lines_summing_beyond_i64_count_as_the_largest_stock() {
    let config = EconomicsConfig::embedded().unwrap();
    let fba = crate::fixtures::fba_profile();
    let mut case = crate::fixtures::catalogue()
        .into_iter()
        .find(|case| case.channel == Channel::Amazon && !case.fba_seller)
        .expect("the catalogue has a merchant-fulfilled Amazon case");
    let gtin = case.reference.gtin.clone();
    case.stock = vec![
        crate::fixtures::stock(&gtin, StockSource::Erp, i64::MAX, None),
        crate::fixtures::stock(&gtin, StockSource::Erp, 1, None),
        crate::fixtures::stock(&gtin, StockSource::Supplier, i64::MAX, Some(3)),
        crate::fixtures::stock(&gtin, StockSource::Supplier, 1, Some(3)),
    ];
    for (site, line) in case.stock.iter_mut().enumerate() {
        line.location = Some(format!("site-{site}"));
    }
    let score = crate::fixtures::score_case(&config, &fba, &case);
    let availability = score
        .factors
        .iter()
        .find(|factor| factor.name == "availability")
        .expect("availability is scored");
    assert!(
        availability
            .explanation
            .starts_with(&format!("{} units in our stock", i64::MAX)),
        "{}",
        availability.explanation
    );
}
