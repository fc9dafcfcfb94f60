//! The recommended action: which rule fires on each situation of the golden catalogue, the
//! thresholds it names, and the best channel among a reference's results.

use crate::fixtures;

use hub_core::action::best_channel;
use hub_core::channel::Channel;
use hub_core::profile::EconomicsConfig;
use hub_schemas::records::ReferenceScore;
use rust_decimal::Decimal;

fn scored() -> Vec<(&'static str, ReferenceScore)> {
    let config = EconomicsConfig::embedded().unwrap();
    let fba = fixtures::fba_profile();
    fixtures::catalogue()
        .iter()
        .map(|case| (case.name, fixtures::score_case(&config, &fba, case)))
        .collect()
}

fn find<'a>(scores: &'a [(&'static str, ReferenceScore)], name: &str) -> &'a ReferenceScore {
    &scores.iter().find(|(case, _)| *case == name).unwrap().1
}

#[test]
fn each_rule_fires_with_its_threshold_named() {
    let scores = scored();
    let expectations: &[(&str, &str, &str)] = &[
        ("amazon_laptop_owns_buy_box", "hold", "owning the buy box"),
        (
            "amazon_laptop_losing_buy_box",
            "reprice",
            "while not owning the buy box (919.00 EUR)",
        ),
        (
            "amazon_book_shipping_cost_delist",
            "delist",
            "< 0 after all costs",
        ),
        ("amazon_console_usd_cost_list", "list", "6 units in stock"),
        (
            "cdiscount_tv_source",
            "source",
            ">= target 12.0% at the buy box price 699.00 EUR",
        ),
        (
            "cdiscount_cable_minimum_fee_delist",
            "delist",
            "< 0 after all costs",
        ),
        ("cdiscount_kettle_list", "list", "25 units in stock"),
        (
            "mirakl_sofa_below_target_reprice",
            "reprice",
            "< target 12.0%",
        ),
        (
            "fnac_darty_phone_missing_cost",
            "hold",
            "margin unknown (missing product_cost)",
        ),
        ("mirakl_no_offer", "hold", "margin unknown (missing offer)"),
        (
            "amazon_fba_missing_dimensions",
            "hold",
            "missing product_dimensions",
        ),
    ];
    for (name, action, rule) in expectations {
        let score = find(&scores, name);
        assert_eq!(score.action, *action, "{name}: {}", score.action_rule);
        assert!(
            score.action_rule.contains(rule),
            "{name}: {}",
            score.action_rule
        );
        assert_eq!(
            score.target_price_incl_vat.is_some(),
            *action == "reprice",
            "{name}"
        );
    }
}

#[test]
fn a_reprice_target_is_above_the_current_price_when_the_margin_is_below_target() {
    let scores = scored();
    let sofa = find(&scores, "mirakl_sofa_below_target_reprice");
    let margin = sofa.margin.as_ref().unwrap();
    assert!(margin.margin_rate < Decimal::new(12, 2));
    assert!(sofa.target_price_incl_vat.unwrap() > margin.price_incl_vat);
}

#[test]
fn the_best_channel_is_the_highest_profitable_score_whatever_the_order() {
    let scores = scored();
    // The same reference seen on several channels: reuse catalogue results as its channels.
    let mut per_channel: Vec<ReferenceScore> = [
        "cdiscount_kettle_list",
        "cdiscount_cable_minimum_fee_delist",
        "amazon_fba_headphones",
        "fnac_darty_phone_missing_cost",
    ]
    .iter()
    .map(|name| find(&scores, name).clone())
    .collect();
    let best = best_channel(true, &per_channel).unwrap();
    let expected = per_channel
        .iter()
        .filter(|score| {
            score.action != "delist"
                && score
                    .margin
                    .as_ref()
                    .is_some_and(|m| m.net_margin_excl_vat > Decimal::ZERO)
        })
        .max_by_key(|score| score.score)
        .unwrap();
    assert_eq!(best.channel, expected.channel);
    assert!(best.reason.contains("highest score"), "{}", best.reason);
    per_channel.reverse();
    assert_eq!(best_channel(true, &per_channel).unwrap(), best);
    // Only unprofitable or unknown margins: no channel.
    let losers: Vec<_> = per_channel
        .into_iter()
        .filter(|score| score.channel == Channel::Cdiscount.key() && score.action == "delist")
        .collect();
    assert_eq!(best_channel(true, &losers), None);
}

/// Every situation of the golden catalogue, its reference archived at its source: never
/// sourced nor listed whatever its margin, delisted where it is listed, held elsewhere, the
/// rule naming the archiving source.
#[test]
fn an_archived_reference_is_never_sourced_nor_listed_and_is_delisted_where_listed() {
    let config = EconomicsConfig::embedded().unwrap();
    let fba = fixtures::fba_profile();
    let active = scored();
    let mut actions_changed = Vec::new();
    let mut all_archived = Vec::new();
    for mut case in fixtures::catalogue() {
        case.reference.active = false;
        let archived = fixtures::score_case(&config, &fba, &case);
        all_archived.push(archived.clone());
        let listed = case
            .offer
            .as_ref()
            .is_some_and(|offer| offer.our_price_incl_vat.is_some());
        let (expected, rule) = if listed {
            ("delist", "): no longer sold, still listed")
        } else {
            ("hold", "): no longer sold, neither sourced nor listed")
        };
        assert_eq!(
            archived.action, expected,
            "{}: {}",
            case.name, archived.action_rule
        );
        let named = format!("archived at its source ({}", case.reference.source);
        assert!(
            archived.action_rule.starts_with(&named) && archived.action_rule.ends_with(rule),
            "{}: {}",
            case.name,
            archived.action_rule
        );
        assert_eq!(archived.target_price_incl_vat, None, "{}", case.name);
        let before = find(&active, case.name);
        // Only the action changes: the score and its factors still describe the market.
        assert_eq!(archived.score, before.score, "{}", case.name);
        if archived.action != before.action {
            actions_changed.push((case.name, before.action.clone()));
        }
    }
    for (name, action) in [
        ("cdiscount_tv_source", "source"),
        ("cdiscount_kettle_list", "list"),
        ("amazon_console_usd_cost_list", "list"),
        ("amazon_laptop_owns_buy_box", "hold"),
        ("amazon_laptop_losing_buy_box", "reprice"),
    ] {
        assert!(
            actions_changed.contains(&(name, action.into())),
            "{name} was {action} while active: {actions_changed:?}"
        );
    }
    // Profitable channels, none to go to once archived.
    let all_active: Vec<ReferenceScore> = active.into_iter().map(|(_, score)| score).collect();
    assert!(best_channel(true, &all_active).is_some());
    assert_eq!(best_channel(false, &all_archived), None);
}
