//! Rules for price signals (`hub.signals.offers`).

use std::borrow::Cow;

use hub_schemas::records::{EpochMillis, OfferSignal};

use super::rules::{
    MILLIS_PER_HOUR, Subject, currency, gtin, non_negative_amount, observation_time,
    positive_price, price_jump, quoted, required_text,
};
use super::{GateConfig, Verdict};
use crate::channel::Channel;
use crate::reason::{Quarantine, ReasonCode, RecordType};

/// Checks one offer signal. `previous` is the last accepted offer for the same GTIN and
/// channel, if any: its prices bound the jump of each price (skipped when its currency
/// differs). On acceptance the GTIN is GTIN-13 and the currency upper-case.
pub fn check_offer(
    offer: &OfferSignal,
    previous: Option<&OfferSignal>,
    now: EpochMillis,
    config: &GateConfig,
) -> Verdict<OfferSignal> {
    // The rules hand back only the normalised fields, and the accepted copy is built field by
    // field right into the verdict, rather than cloned, patched, and moved out of a `Result`.
    match check(offer, previous, now, config) {
        Ok(Normalised { gtin, currency }) => Verdict::Accepted(OfferSignal {
            gtin: gtin.into_owned(),
            channel: offer.channel.clone(),
            currency: currency.into_owned(),
            our_price_incl_vat: offer.our_price_incl_vat,
            our_shipping_incl_vat: offer.our_shipping_incl_vat,
            buy_box_price_incl_vat: offer.buy_box_price_incl_vat,
            we_own_buy_box: offer.we_own_buy_box,
            lowest_listing_price_incl_vat: offer.lowest_listing_price_incl_vat,
            lowest_shipping_incl_vat: offer.lowest_shipping_incl_vat,
            lowest_landed_price_incl_vat: offer.lowest_landed_price_incl_vat,
            offer_count: offer.offer_count,
            sales_rank: offer.sales_rank,
            marketplace_category: offer.marketplace_category.clone(),
            source: offer.source.clone(),
            request_id: offer.request_id.clone(),
            observed_at: offer.observed_at,
        }),
        Err(quarantine) => Verdict::Quarantined(quarantine),
    }
}

/// The fields of an accepted offer that normalisation may change.
struct Normalised<'a> {
    gtin: Cow<'a, str>,
    currency: Cow<'a, str>,
}

fn check<'a>(
    offer: &'a OfferSignal,
    previous: Option<&OfferSignal>,
    now: EpochMillis,
    config: &GateConfig,
) -> Result<Normalised<'a>, Quarantine> {
    let subject = Subject::new(
        RecordType::OfferSignal,
        &offer.gtin,
        [("channel", &offer.channel), ("source", &offer.source)],
    );
    required_text(&subject, "source", &offer.source)?;
    let gtin = gtin(&subject, &offer.gtin)?;
    required_text(&subject, "channel", &offer.channel)?;
    offer.channel.parse::<Channel>().map_err(|_| {
        subject.refuse(
            ReasonCode::UnknownChannel,
            format_args!(
                "channel {} is not amazon, cdiscount, fnac_darty or mirakl",
                quoted(&offer.channel)
            ),
        )
    })?;
    let currency = currency(&subject, &offer.currency)?;
    observation_time(
        &subject,
        "observed_at",
        offer.observed_at,
        now,
        Some(i64::from(config.max_offer_age_hours) * MILLIS_PER_HOUR),
        config,
    )?;

    let prices = [
        ("our_price_incl_vat", offer.our_price_incl_vat),
        ("buy_box_price_incl_vat", offer.buy_box_price_incl_vat),
        (
            "lowest_listing_price_incl_vat",
            offer.lowest_listing_price_incl_vat,
        ),
        (
            "lowest_landed_price_incl_vat",
            offer.lowest_landed_price_incl_vat,
        ),
    ];
    for (field, price) in prices {
        if let Some(price) = price {
            positive_price(
                &subject,
                field,
                price,
                &currency,
                config,
                ReasonCode::PlaceholderOffer,
            )?;
        }
    }
    for (field, shipping) in [
        ("our_shipping_incl_vat", offer.our_shipping_incl_vat),
        ("lowest_shipping_incl_vat", offer.lowest_shipping_incl_vat),
    ] {
        if let Some(shipping) = shipping {
            non_negative_amount(&subject, field, shipping, &currency, config)?;
        }
    }

    check_offer_count(&subject, offer)?;
    if let Some(rank) = offer.sales_rank
        && rank < 1
    {
        return Err(subject.refuse(
            ReasonCode::OutOfRange,
            format_args!("sales_rank {rank} must be >= 1 (ranks start at 1)"),
        ));
    }
    check_landed_price(&subject, offer, &currency, config)?;
    check_buy_box(&subject, offer, &currency, config)?;

    if let Some(previous) = previous.filter(|p| p.currency.trim().eq_ignore_ascii_case(&currency)) {
        let previous_prices = [
            previous.our_price_incl_vat,
            previous.buy_box_price_incl_vat,
            previous.lowest_listing_price_incl_vat,
            previous.lowest_landed_price_incl_vat,
        ];
        for ((field, new), previous) in prices.into_iter().zip(previous_prices) {
            price_jump(&subject, field, new, previous, &currency, config)?;
        }
    }

    Ok(Normalised { gtin, currency })
}

/// The offer count includes ours, so any price on the page implies at least one offer.
fn check_offer_count(subject: &Subject, offer: &OfferSignal) -> Result<(), Quarantine> {
    let Some(count) = offer.offer_count else {
        return Ok(());
    };
    if count < 0 {
        return Err(subject.refuse(
            ReasonCode::OfferCountInconsistent,
            format_args!("offer_count {count} must be >= 0"),
        ));
    }
    if count > 0 {
        return Ok(());
    }
    let priced_field = [
        ("our_price_incl_vat", offer.our_price_incl_vat),
        ("buy_box_price_incl_vat", offer.buy_box_price_incl_vat),
        (
            "lowest_listing_price_incl_vat",
            offer.lowest_listing_price_incl_vat,
        ),
        (
            "lowest_landed_price_incl_vat",
            offer.lowest_landed_price_incl_vat,
        ),
    ]
    .into_iter()
    .find_map(|(field, price)| price.map(|_| field));
    match priced_field {
        Some(field) => Err(subject.refuse(
            ReasonCode::OfferCountInconsistent,
            format_args!(
                "offer_count is 0 while {field} is present; a priced page has at least one offer"
            ),
        )),
        None => Ok(()),
    }
}

fn check_landed_price(
    subject: &Subject,
    offer: &OfferSignal,
    currency: &str,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    let (Some(listing), Some(shipping), Some(landed)) = (
        offer.lowest_listing_price_incl_vat,
        offer.lowest_shipping_incl_vat,
        offer.lowest_landed_price_incl_vat,
    ) else {
        return Ok(());
    };
    // A sum beyond the largest decimal (only possible with an unbounded ceiling) cannot
    // equal any landed price, so it is a mismatch rather than an overflow.
    let expected = listing.checked_add(shipping);
    let consistent = expected
        .is_some_and(|expected| (landed - expected).abs() <= config.price_consistency_tolerance);
    if !consistent {
        let expected = expected.map_or_else(|| "beyond range".to_owned(), |sum| sum.to_string());
        return Err(subject.refuse(
            ReasonCode::LandedPriceMismatch,
            format_args!(
                "lowest_landed_price_incl_vat {landed} {currency} is not lowest_listing_price_incl_vat \
                 {listing} + lowest_shipping_incl_vat {shipping} = {expected} {currency} (tolerance {}); \
                 the connector mixed prices of different offers",
                config.price_consistency_tolerance
            ),
        ));
    }
    Ok(())
}

/// The lowest price is the lowest *competing* one, so when we own the buy box at a price
/// below every competitor the buy box is legitimately below it: the rule only holds when we
/// are known not to own it, or ownership is unknown.
fn check_buy_box(
    subject: &Subject,
    offer: &OfferSignal,
    currency: &str,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    if offer.we_own_buy_box == Some(true) {
        return Ok(());
    }
    let Some(buy_box) = offer.buy_box_price_incl_vat else {
        return Ok(());
    };
    // The buy box price is landed; a landed price is never below the listing price, so the
    // lowest listing price is a valid floor when the lowest landed price is absent.
    let lowest = offer
        .lowest_landed_price_incl_vat
        .map(|price| ("lowest_landed_price_incl_vat", price))
        .or(offer
            .lowest_listing_price_incl_vat
            .map(|price| ("lowest_listing_price_incl_vat", price)));
    let Some((lowest_field, lowest)) = lowest else {
        return Ok(());
    };
    let below_floor = lowest
        .checked_sub(config.price_consistency_tolerance)
        .is_some_and(|floor| buy_box < floor);
    if below_floor {
        return Err(subject.refuse(
            ReasonCode::BuyBoxBelowLowest,
            format_args!(
                "buy_box_price_incl_vat {buy_box} {currency} is below {lowest_field} {lowest} \
                 {currency} while we_own_buy_box is {:?}; the connector read prices of different \
                 times or conditions",
                offer.we_own_buy_box
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::*;

    const NOW: EpochMillis = 1_740_817_800_000;
    const HOUR: EpochMillis = 3_600_000;

    fn offer() -> OfferSignal {
        OfferSignal {
            gtin: "3760123456784".to_owned(),
            channel: "amazon".to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: Some(dec!(199.90)),
            our_shipping_incl_vat: Some(dec!(0)),
            buy_box_price_incl_vat: Some(dec!(194.99)),
            we_own_buy_box: Some(false),
            lowest_listing_price_incl_vat: Some(dec!(189.99)),
            lowest_shipping_incl_vat: Some(dec!(5.00)),
            lowest_landed_price_incl_vat: Some(dec!(194.99)),
            offer_count: Some(7),
            sales_rank: Some(1523),
            marketplace_category: Some("ce_display_on_website".to_owned()),
            source: "amazon.getItemOffers".to_owned(),
            request_id: Some("a1b2".to_owned()),
            observed_at: NOW - 60_000,
        }
    }

    fn verdict(offer: &OfferSignal) -> Verdict<OfferSignal> {
        check_offer(offer, None, NOW, &GateConfig::default())
    }

    fn reason(offer: &OfferSignal) -> Option<ReasonCode> {
        verdict(offer).reason()
    }

    #[test]
    fn a_consistent_offer_is_accepted_unchanged() {
        assert_eq!(verdict(&offer()), Verdict::Accepted(offer()));
    }

    #[test]
    fn gtin_and_currency_are_normalised() {
        let raw = OfferSignal {
            gtin: "036000291452".to_owned(),
            currency: "eur".to_owned(),
            ..offer()
        };
        let accepted = verdict(&raw).into_result().unwrap();
        assert_eq!(accepted.gtin, "0036000291452");
        assert_eq!(accepted.currency, "EUR");
    }

    #[test]
    fn identity_fields_are_required_and_checked() {
        let cases = [
            (
                OfferSignal {
                    source: " ".to_owned(),
                    ..offer()
                },
                ReasonCode::MissingField,
            ),
            (
                OfferSignal {
                    gtin: String::new(),
                    ..offer()
                },
                ReasonCode::MissingField,
            ),
            (
                OfferSignal {
                    gtin: "3760123456785".to_owned(),
                    ..offer()
                },
                ReasonCode::InvalidGtin,
            ),
            (
                OfferSignal {
                    channel: String::new(),
                    ..offer()
                },
                ReasonCode::MissingField,
            ),
            (
                OfferSignal {
                    channel: "ebay".to_owned(),
                    ..offer()
                },
                ReasonCode::UnknownChannel,
            ),
            (
                OfferSignal {
                    channel: "Amazon".to_owned(),
                    ..offer()
                },
                ReasonCode::UnknownChannel,
            ),
            (
                OfferSignal {
                    currency: String::new(),
                    ..offer()
                },
                ReasonCode::MissingField,
            ),
            (
                OfferSignal {
                    currency: "EURO".to_owned(),
                    ..offer()
                },
                ReasonCode::UnknownCurrency,
            ),
        ];
        for (offer, expected) in cases {
            assert_eq!(reason(&offer), Some(expected), "{offer:?}");
        }
    }

    #[test]
    fn detail_names_record_field_and_value() {
        let refused = OfferSignal {
            channel: "ebay".to_owned(),
            ..offer()
        };
        let Verdict::Quarantined(quarantine) = verdict(&refused) else {
            panic!("an unknown channel must be quarantined");
        };
        assert!(
            quarantine
                .detail
                .starts_with("offer_signal gtin \"3760123456784\" channel \"ebay\"")
        );
        assert!(quarantine.detail.contains("amazon.getItemOffers"));
    }

    #[test]
    fn observation_time_bounds_are_inclusive() {
        let at = |observed_at| OfferSignal {
            observed_at,
            ..offer()
        };
        assert_eq!(reason(&at(NOW + 300_000)), None);
        assert_eq!(
            reason(&at(NOW + 300_001)),
            Some(ReasonCode::ObservedInFuture)
        );
        assert_eq!(reason(&at(NOW - 72 * HOUR)), None);
        assert_eq!(
            reason(&at(NOW - 72 * HOUR - 1)),
            Some(ReasonCode::ObservationTooOld)
        );
        assert_eq!(reason(&at(0)), Some(ReasonCode::ObservationTooOld));
        assert_eq!(reason(&at(i64::MIN)), Some(ReasonCode::ObservationTooOld));
        assert_eq!(reason(&at(i64::MAX)), Some(ReasonCode::ObservedInFuture));
    }

    #[test]
    fn zero_prices_are_placeholders_negative_ones_are_refused() {
        let priced = |price| OfferSignal {
            our_price_incl_vat: Some(price),
            ..offer()
        };
        assert_eq!(reason(&priced(dec!(0))), Some(ReasonCode::PlaceholderOffer));
        assert_eq!(
            reason(&priced(dec!(0.0000))),
            Some(ReasonCode::PlaceholderOffer)
        );
        assert_eq!(
            reason(&priced(dec!(-0.01))),
            Some(ReasonCode::NonPositivePrice)
        );
        assert_eq!(reason(&priced(dec!(0.01))), None);
        let mirakl_p11 = OfferSignal {
            channel: "mirakl".to_owned(),
            lowest_landed_price_incl_vat: Some(dec!(0)),
            lowest_listing_price_incl_vat: None,
            buy_box_price_incl_vat: None,
            ..offer()
        };
        assert_eq!(reason(&mirakl_p11), Some(ReasonCode::PlaceholderOffer));
    }

    #[test]
    fn price_ceiling_is_inclusive_and_per_currency() {
        let priced = |price, currency: &str| OfferSignal {
            our_price_incl_vat: Some(price),
            currency: currency.to_owned(),
            buy_box_price_incl_vat: None,
            lowest_listing_price_incl_vat: None,
            lowest_shipping_incl_vat: None,
            lowest_landed_price_incl_vat: None,
            ..offer()
        };
        assert_eq!(reason(&priced(dec!(50000), "EUR")), None);
        assert_eq!(
            reason(&priced(dec!(50000.0001), "EUR")),
            Some(ReasonCode::PriceAboveCeiling)
        );
        let config =
            GateConfig::from_toml_str("[price_ceiling_by_currency]\nJPY = \"8000000\"").unwrap();
        let yen = priced(dec!(7500000), "JPY");
        assert_eq!(check_offer(&yen, None, NOW, &config).reason(), None);
        assert_eq!(reason(&yen), Some(ReasonCode::PriceAboveCeiling));
    }

    #[test]
    fn shipping_may_be_free_but_not_negative() {
        let shipped = |shipping| OfferSignal {
            our_shipping_incl_vat: Some(shipping),
            ..offer()
        };
        assert_eq!(reason(&shipped(dec!(0))), None);
        assert_eq!(
            reason(&shipped(dec!(-0.01))),
            Some(ReasonCode::NegativeAmount)
        );
        assert_eq!(
            reason(&shipped(dec!(50000.01))),
            Some(ReasonCode::PriceAboveCeiling)
        );
    }

    #[test]
    fn landed_price_must_be_listing_plus_shipping_within_tolerance() {
        let landed = |price| OfferSignal {
            lowest_landed_price_incl_vat: Some(price),
            buy_box_price_incl_vat: Some(price),
            ..offer()
        };
        assert_eq!(reason(&landed(dec!(195.00))), None);
        assert_eq!(reason(&landed(dec!(194.98))), None);
        assert_eq!(
            reason(&landed(dec!(195.0001))),
            Some(ReasonCode::LandedPriceMismatch)
        );
        assert_eq!(
            reason(&landed(dec!(189.99))),
            Some(ReasonCode::LandedPriceMismatch)
        );
        let without_shipping = OfferSignal {
            lowest_shipping_incl_vat: None,
            ..landed(dec!(250))
        };
        assert_eq!(reason(&without_shipping), None);
    }

    #[test]
    fn cross_field_rules_do_not_overflow_without_a_ceiling() {
        let config = GateConfig {
            price_ceiling: Decimal::MAX,
            ..GateConfig::default()
        };
        let extreme = OfferSignal {
            lowest_listing_price_incl_vat: Some(Decimal::MAX),
            lowest_shipping_incl_vat: Some(Decimal::MAX),
            lowest_landed_price_incl_vat: Some(Decimal::MAX),
            buy_box_price_incl_vat: Some(Decimal::MAX),
            ..offer()
        };
        assert_eq!(
            check_offer(&extreme, None, NOW, &config).reason(),
            Some(ReasonCode::LandedPriceMismatch)
        );
    }

    #[test]
    fn buy_box_below_lowest_is_refused_unless_we_own_it() {
        let buy_box = |price, ours| OfferSignal {
            buy_box_price_incl_vat: Some(price),
            we_own_buy_box: ours,
            ..offer()
        };
        assert_eq!(reason(&buy_box(dec!(194.98), Some(false))), None);
        assert_eq!(
            reason(&buy_box(dec!(194.97), Some(false))),
            Some(ReasonCode::BuyBoxBelowLowest)
        );
        assert_eq!(
            reason(&buy_box(dec!(150), None)),
            Some(ReasonCode::BuyBoxBelowLowest)
        );
        assert_eq!(reason(&buy_box(dec!(150), Some(true))), None);
        let listing_only = OfferSignal {
            lowest_landed_price_incl_vat: None,
            lowest_shipping_incl_vat: None,
            ..buy_box(dec!(180), Some(false))
        };
        assert_eq!(reason(&listing_only), Some(ReasonCode::BuyBoxBelowLowest));
    }

    #[test]
    fn offer_count_must_match_the_prices() {
        let counted = |count| OfferSignal {
            offer_count: Some(count),
            ..offer()
        };
        assert_eq!(reason(&counted(1)), None);
        assert_eq!(
            reason(&counted(0)),
            Some(ReasonCode::OfferCountInconsistent)
        );
        assert_eq!(
            reason(&counted(-1)),
            Some(ReasonCode::OfferCountInconsistent)
        );
        let unpriced = OfferSignal {
            our_price_incl_vat: None,
            buy_box_price_incl_vat: None,
            lowest_listing_price_incl_vat: None,
            lowest_landed_price_incl_vat: None,
            ..counted(0)
        };
        assert_eq!(reason(&unpriced), None);
    }

    #[test]
    fn sales_rank_starts_at_one() {
        assert_eq!(
            reason(&OfferSignal {
                sales_rank: Some(1),
                ..offer()
            }),
            None
        );
        assert_eq!(
            reason(&OfferSignal {
                sales_rank: Some(0),
                ..offer()
            }),
            Some(ReasonCode::OutOfRange)
        );
    }

    #[test]
    fn price_jump_against_previous_is_bounded_by_the_ratio() {
        let config = GateConfig::default();
        let previous = offer();
        let ours = |price| OfferSignal {
            our_price_incl_vat: Some(price),
            ..offer()
        };
        let jump = |new: &OfferSignal| check_offer(new, Some(&previous), NOW, &config).reason();
        assert_eq!(jump(&ours(dec!(1599.20))), None);
        assert_eq!(jump(&ours(dec!(1599.21))), Some(ReasonCode::PriceJump));
        assert_eq!(jump(&ours(dec!(24.9875))), None);
        assert_eq!(jump(&ours(dec!(24.98))), Some(ReasonCode::PriceJump));
        assert_eq!(
            jump(&ours(dec!(1.999))),
            Some(ReasonCode::PriceJump),
            "cents read as euros"
        );
        let other_currency = OfferSignal {
            currency: "GBP".to_owned(),
            ..ours(dec!(1.999))
        };
        assert_eq!(jump(&other_currency), None, "no ratio across currencies");
        assert_eq!(
            check_offer(&ours(dec!(1.999)), None, NOW, &config).reason(),
            None
        );
    }

    #[test]
    fn competitor_price_jumps_are_caught_too() {
        let previous = offer();
        let crashed = OfferSignal {
            buy_box_price_incl_vat: Some(dec!(19.50)),
            lowest_listing_price_incl_vat: Some(dec!(19.00)),
            lowest_shipping_incl_vat: Some(dec!(0.50)),
            lowest_landed_price_incl_vat: Some(dec!(19.50)),
            ..offer()
        };
        let Verdict::Quarantined(quarantine) =
            check_offer(&crashed, Some(&previous), NOW, &GateConfig::default())
        else {
            panic!("a tenfold drop of the buy box must be quarantined");
        };
        assert_eq!(quarantine.reason, ReasonCode::PriceJump);
        assert!(
            quarantine
                .detail
                .contains("buy_box_price_incl_vat 19.50 EUR against last accepted 194.99 EUR")
        );
    }
}
