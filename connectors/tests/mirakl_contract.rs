//! Contract tests of the Mirakl mapping on recorded payloads in the API's documented shape
//! (tests/fixtures/mirakl): OF21 pages of our offers and P11 answers with every shop's
//! offers, placeholders included.

use hub_connectors::mirakl::mapping::{OurShop, offer_signals, read_competition, read_own_offers};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal::Decimal;

const OF21_PAGE: &[u8] = include_bytes!("fixtures/mirakl/of21_offers.json");
const P11_ANSWER: &[u8] = include_bytes!("fixtures/mirakl/p11_products_offers.json");
const P11_WITHOUT_SHOP_IDS: &[u8] = include_bytes!("fixtures/mirakl/p11_without_shop_ids.json");

fn d(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

fn of21_origin() -> Origin {
    Origin {
        source: "mirakl.OF21".to_owned(),
        request_id: Some("of21-request".to_owned()),
        observed_at: 1_764_320_000_000,
    }
}

fn p11_origin() -> Origin {
    Origin {
        source: "mirakl.P11".to_owned(),
        request_id: Some("p11-request".to_owned()),
        observed_at: 1_764_320_001_500,
    }
}

fn our_shop() -> OurShop {
    OurShop {
        shop_id: Some(2001),
        shop_name: None,
    }
}

fn signals(sourced: &[Sourced]) -> Vec<(&OfferSignal, &Origin)> {
    sourced
        .iter()
        .filter_map(|element| match element {
            Sourced::Signal {
                record: SignalRecord::Offer(offer),
                origin,
            } => Some((offer, origin)),
            _ => None,
        })
        .collect()
}

fn rejections(sourced: &[Sourced]) -> Vec<(ReasonCode, &str, &[u8], &Origin)> {
    sourced
        .iter()
        .filter_map(|element| match element {
            Sourced::Rejected {
                reason,
                detail,
                raw,
                origin,
            } => Some((*reason, detail.as_str(), raw.as_slice(), origin)),
            Sourced::Signal { .. } => None,
        })
        .collect()
}

/// The JSON value of raw bytes, to compare a rejected element with the fixture's.
fn json(raw: &[u8]) -> serde_json::Value {
    serde_json::from_slice(raw).unwrap()
}

fn fixture_element(fixture: &[u8], pointer: &str) -> serde_json::Value {
    json(fixture).pointer(pointer).unwrap().clone()
}

#[test]
fn an_of21_page_is_read_element_by_element() {
    let page = read_own_offers(OF21_PAGE, of21_origin());
    assert_eq!(page.elements, 5);
    assert_eq!(page.total_count, Some(250));
    assert_eq!(
        page.gtins(),
        vec!["5901234123457", "4006381333931", "3017620422003"]
    );
    let sourced = offer_signals(page, None);
    let rejected = rejections(&sourced);
    assert_eq!(rejected.len(), 2);
    let (reason, detail, raw, origin) = rejected[0];
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(detail.starts_with("OF21 offer:"), "{detail}");
    assert_eq!(json(raw), fixture_element(OF21_PAGE, "/offers/3"));
    assert_eq!(origin, &of21_origin());
    let (reason, detail, raw, _) = rejected[1];
    assert_eq!(reason, ReasonCode::MissingField);
    assert_eq!(
        detail,
        "our offer shop_sku \"CBL-HDMI-2M\" has no EAN among its product_references"
    );
    assert_eq!(json(raw), fixture_element(OF21_PAGE, "/offers/4"));
}

#[test]
fn without_p11_only_our_side_is_known() {
    let sourced = offer_signals(read_own_offers(OF21_PAGE, of21_origin()), None);
    let signals = signals(&sourced);
    assert_eq!(signals.len(), 3);
    let (tv, origin) = signals[0];
    assert_eq!(origin, &of21_origin());
    assert_eq!(
        tv,
        &OfferSignal {
            gtin: "5901234123457".to_owned(),
            channel: "mirakl".to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: Some(d("449.00")),
            our_shipping_incl_vat: Some(d("9.99")),
            buy_box_price_incl_vat: None,
            we_own_buy_box: None,
            lowest_listing_price_incl_vat: None,
            lowest_shipping_incl_vat: None,
            lowest_landed_price_incl_vat: None,
            offer_count: None,
            sales_rank: None,
            marketplace_category: Some("TV_LED".to_owned()),
            source: "mirakl.OF21".to_owned(),
            request_id: Some("of21-request".to_owned()),
            observed_at: 1_764_320_000_000,
        }
    );
}

#[test]
fn p11_gives_the_cheapest_comparable_competitor_the_count_and_the_featured_offer() {
    let page = read_own_offers(OF21_PAGE, of21_origin());
    let competition = read_competition(P11_ANSWER, p11_origin(), &our_shop());
    let sourced = offer_signals(page, Some(&competition));
    let signals = signals(&sourced);
    assert_eq!(signals.len(), 3);
    let expected = |gtin: &str, category: &str| OfferSignal {
        gtin: gtin.to_owned(),
        channel: "mirakl".to_owned(),
        currency: "EUR".to_owned(),
        our_price_incl_vat: None,
        our_shipping_incl_vat: None,
        buy_box_price_incl_vat: None,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: None,
        offer_count: None,
        sales_rank: None,
        marketplace_category: Some(category.to_owned()),
        source: "mirakl.P11".to_owned(),
        request_id: Some("p11-request".to_owned()),
        observed_at: 1_764_320_001_500,
    };

    // The refurbished offer (state 10) is cheaper but not comparable with our new one; it
    // still counts as an offer on the page. The zero-priced and the inactive offers are
    // placeholders, and our own P11 offer is OF21's.
    let (tv, origin) = signals[0];
    assert_eq!(origin, &p11_origin());
    assert_eq!(
        tv,
        &OfferSignal {
            our_price_incl_vat: Some(d("449.00")),
            our_shipping_incl_vat: Some(d("9.99")),
            buy_box_price_incl_vat: Some(d("439.90")),
            we_own_buy_box: Some(false),
            lowest_listing_price_incl_vat: Some(d("439.90")),
            lowest_shipping_incl_vat: Some(d("0.00")),
            lowest_landed_price_incl_vat: Some(d("439.90")),
            offer_count: Some(4),
            ..expected("5901234123457", "TV_LED")
        }
    );

    // Our total price (free shipping) beats the competitor's: we are the featured offer.
    assert_eq!(
        signals[1].0,
        &OfferSignal {
            our_price_incl_vat: Some(d("19.99")),
            our_shipping_incl_vat: Some(d("0.00")),
            buy_box_price_incl_vat: Some(d("19.99")),
            we_own_buy_box: Some(true),
            lowest_listing_price_incl_vat: Some(d("18.50")),
            lowest_shipping_incl_vat: Some(d("3.90")),
            lowest_landed_price_incl_vat: Some(d("22.40")),
            offer_count: Some(2),
            ..expected("4006381333931", "PAPETERIE")
        }
    );

    // Our offer is inactive (no stock): it keeps its price and is counted (the contract's
    // count includes our listing), but buyers do not see it, so it is not featured.
    assert_eq!(
        signals[2].0,
        &OfferSignal {
            our_price_incl_vat: Some(d("6.49")),
            our_shipping_incl_vat: Some(d("4.90")),
            buy_box_price_incl_vat: Some(d("11.45")),
            we_own_buy_box: Some(false),
            lowest_listing_price_incl_vat: Some(d("5.95")),
            lowest_shipping_incl_vat: Some(d("5.50")),
            lowest_landed_price_incl_vat: Some(d("11.45")),
            offer_count: Some(2),
            ..expected("3017620422003", "EPICERIE")
        }
    );
}

#[test]
fn p11_placeholders_are_quarantined_with_their_bytes() {
    let competition = read_competition(P11_ANSWER, p11_origin(), &our_shop());
    let sourced = offer_signals(
        read_own_offers(OF21_PAGE, of21_origin()),
        Some(&competition),
    );
    let placeholders: Vec<_> = rejections(&sourced)
        .into_iter()
        .filter(|(reason, ..)| *reason == ReasonCode::PlaceholderOffer)
        .collect();
    assert_eq!(placeholders.len(), 2);
    let (_, detail, raw, origin) = placeholders[0];
    assert_eq!(
        detail,
        "offer 77001 of Marketplace Clearance on EAN 5901234123457 has price 0.00 and \
         total_price 0.00: a zero price is a placeholder, not an offer"
    );
    assert_eq!(
        json(raw),
        fixture_element(P11_ANSWER, "/products/0/offers/0")
    );
    assert_eq!(origin, &p11_origin());
    let (_, detail, raw, _) = placeholders[1];
    assert_eq!(
        detail,
        "offer 77005 of Déstockage Pro on EAN 5901234123457 is inactive but listed with the \
         active offers"
    );
    assert_eq!(
        json(raw),
        fixture_element(P11_ANSWER, "/products/0/offers/5")
    );
    // Nothing else is rejected from P11: the competitors are all valid.
    assert_eq!(rejections(&sourced).len(), 2 + 2);
}

#[test]
fn our_offers_are_recognised_by_shop_name_when_p11_omits_shop_ids() {
    let by_name = OurShop {
        shop_id: Some(2001),
        shop_name: Some("Sourcing Hub Distribution".to_owned()),
    };
    let competition = read_competition(P11_WITHOUT_SHOP_IDS, p11_origin(), &by_name);
    let sourced = offer_signals(
        read_own_offers(OF21_PAGE, of21_origin()),
        Some(&competition),
    );
    let signals = signals(&sourced);
    let (highlighters, _) = signals[1];
    assert_eq!(highlighters.offer_count, Some(2));
    assert_eq!(highlighters.lowest_landed_price_incl_vat, Some(d("22.40")));
    assert_eq!(highlighters.we_own_buy_box, Some(true));

    // Without the name our own offer would pass for a competitor: the lowest would be ours.
    let by_id_only = read_competition(P11_WITHOUT_SHOP_IDS, p11_origin(), &our_shop());
    let sourced = offer_signals(read_own_offers(OF21_PAGE, of21_origin()), Some(&by_id_only));
    assert_eq!(
        signals_of(&sourced, "4006381333931").lowest_landed_price_incl_vat,
        Some(d("19.99"))
    );
    // This answer has no product for the other EANs: nobody else sells them, and the page
    // counts our (inactive) listing alone.
    assert_eq!(signals_of(&sourced, "3017620422003").offer_count, Some(1));
}

fn signals_of<'a>(sourced: &'a [Sourced], gtin: &str) -> &'a OfferSignal {
    signals(sourced)
        .into_iter()
        .find(|(offer, _)| offer.gtin == gtin)
        .map(|(offer, _)| offer)
        .unwrap()
}

#[test]
fn an_unreadable_p11_answer_is_quarantined_and_the_competition_is_unknown() {
    let body = br#"{"message": "Internal error", "status": 500"#;
    let competition = read_competition(body, p11_origin(), &our_shop());
    let sourced = offer_signals(
        read_own_offers(OF21_PAGE, of21_origin()),
        Some(&competition),
    );
    let tv = signals_of(&sourced, "5901234123457");
    assert_eq!(tv.offer_count, None);
    assert_eq!(tv.lowest_landed_price_incl_vat, None);
    assert_eq!(tv.our_price_incl_vat, Some(d("449.00")));
    let rejected = rejections(&sourced);
    let (reason, detail, raw, origin) = rejected.last().copied().unwrap();
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(
        detail.starts_with("P11 answer is not a list of products"),
        "{detail}"
    );
    assert_eq!(raw, body);
    assert_eq!(origin, &p11_origin());
}

#[test]
fn an_unreadable_competing_offer_makes_that_product_unknown_only() {
    // A competitor's price that is not a number: the cheapest offer may be the unreadable
    // one, so that product's competition is unknown; the other products are not affected.
    let text = String::from_utf8(P11_ANSWER.to_vec())
        .unwrap()
        .replace("\"price\": 439.90,", "\"price\": \"439,90\",");
    let competition = read_competition(text.as_bytes(), p11_origin(), &our_shop());
    let sourced = offer_signals(
        read_own_offers(OF21_PAGE, of21_origin()),
        Some(&competition),
    );
    assert_eq!(signals_of(&sourced, "5901234123457").offer_count, None);
    assert_eq!(signals_of(&sourced, "4006381333931").offer_count, Some(2));
    assert!(
        rejections(&sourced)
            .iter()
            .any(|(reason, detail, ..)| *reason == ReasonCode::Undecodable
                && detail.starts_with("P11 offer on EAN 5901234123457"))
    );
}

#[test]
fn an_unreadable_of21_page_is_one_rejected_element() {
    let body = b"<html><body>502 Bad Gateway</body></html>";
    let page = read_own_offers(body, of21_origin());
    assert_eq!(page.total_count, None);
    assert!(page.gtins().is_empty());
    let sourced = offer_signals(page, None);
    assert_eq!(sourced.len(), 1);
    let (reason, _, raw, _) = rejections(&sourced)[0];
    assert_eq!(reason, ReasonCode::Undecodable);
    assert_eq!(raw, body);
}

mod no_element_is_dropped {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// An OF21 offer that is valid, or broken in one of the ways operators break them.
    fn own_offer(kind: u8, index: usize) -> Value {
        let ean = ["5901234123457", "4006381333931", "3017620422003"][index % 3];
        let mut offer = json!({
            "active": !index.is_multiple_of(4),
            "currency_iso_code": "EUR",
            "min_shipping_price": 4.99,
            "offer_id": index,
            "price": 10.5,
            "product_references": [{"reference": ean, "reference_type": "EAN"}],
            "shop_sku": format!("SKU-{index}"),
            "state_code": "11",
            "total_price": 15.49
        });
        match kind {
            0 => offer["price"] = json!("dix euros"),
            1 => offer["product_references"] = json!([]),
            2 => offer["product_references"][0]["reference"] = json!("5901234123450"),
            3 => offer["currency_iso_code"] = json!(null),
            _ => {}
        }
        offer
    }

    /// A P11 offer of a competitor: valid, a placeholder, or unreadable.
    fn shop_offer(kind: u8, index: usize) -> Value {
        let mut offer = json!({
            "active": true,
            "currency_iso_code": "EUR",
            "min_shipping_price": 0.0,
            "offer_id": 90_000 + index,
            "price": 12.0 + index as f64,
            "shop_id": 3_000 + index,
            "state_code": "11",
            "total_price": 12.0 + index as f64
        });
        match kind {
            0 => offer["active"] = json!(false),
            1 => {
                offer["price"] = json!(0.0);
                offer["total_price"] = json!(0.0);
            }
            2 => offer["total_price"] = json!([1]),
            _ => {}
        }
        offer
    }

    proptest! {
        /// Every OF21 element is a signal or a rejection, and every competitor offer is
        /// counted on the page or rejected.
        #[test]
        fn every_element_is_a_signal_or_a_rejection(
            own_kinds in proptest::collection::vec(0u8..8, 0..30),
            competitor_kinds in proptest::collection::vec(0u8..6, 0..12),
        ) {
            let offers: Vec<Value> = own_kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| own_offer(*kind, index))
                .collect();
            let page = serde_json::to_vec(&json!({"offers": offers, "total_count": 500})).unwrap();
            let competitors: Vec<Value> = competitor_kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| shop_offer(*kind, index))
                .collect();
            let answer = serde_json::to_vec(&json!({"products": [{
                "product_references": [{"reference": "5901234123457", "reference_type": "EAN"}],
                "offers": competitors,
            }]}))
            .unwrap();

            let competition = read_competition(&answer, p11_origin(), &our_shop());
            let sourced = offer_signals(read_own_offers(&page, of21_origin()), Some(&competition));
            let of21_rejected = rejections(&sourced)
                .iter()
                .filter(|(.., origin)| origin.source == "mirakl.OF21")
                .count();
            prop_assert_eq!(signals(&sourced).len() + of21_rejected, own_kinds.len());

            let p11_rejected = rejections(&sourced).len() - of21_rejected;
            prop_assert_eq!(p11_rejected, competitor_kinds.iter().filter(|kind| **kind < 3).count());
            // Each readable offer of ours on the contested EAN (every third one) sees the
            // valid competitors, plus itself: our listing counts, active or not.
            let unreadable = competitor_kinds.contains(&2);
            let valid = competitor_kinds.iter().filter(|kind| **kind >= 3).count();
            let mut expected: Vec<Option<i32>> = own_kinds
                .iter()
                .enumerate()
                .filter(|(index, kind)| **kind >= 4 && index.is_multiple_of(3))
                .map(|_| (!unreadable).then(|| (valid + 1) as i32))
                .collect();
            let mut counted: Vec<Option<i32>> = signals(&sourced)
                .into_iter()
                .filter(|(offer, _)| offer.gtin == "5901234123457")
                .map(|(offer, _)| offer.offer_count)
                .collect();
            expected.sort();
            counted.sort();
            prop_assert_eq!(counted, expected);
        }
    }
}
