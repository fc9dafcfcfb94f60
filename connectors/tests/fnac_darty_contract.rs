//! Contract of the Fnac Darty mapping on recorded XML responses in the API's shape
//! (`tests/fixtures/fnac_darty/`: `auth_response.xml` and the `pricing_query` layout as the
//! `fnapy` client recorded them from the API, the rest hand-written in the same shape).

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use hub_connectors::fnac_darty::mapping::{
    BestCompetitor, OFFERS_SOURCE, PRICING_SOURCE, ResponseError, offer_signals, read_auth,
    read_offers_page, read_pricing,
};
use hub_connectors::fnac_darty::payload::{
    ModifiedBetween, Session, ShopCredentials, auth_request, offers_query_request,
    pricing_query_request,
};
use hub_connectors::machinery::Secret;
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal_macros::dec;

const AUTH: &str = include_str!("fixtures/fnac_darty/auth_response.xml");
const AUTH_REFUSED: &str = include_str!("fixtures/fnac_darty/auth_refused.xml");
const OFFERS_PAGE_1: &str = include_str!("fixtures/fnac_darty/offers_query_response.xml");
const OFFERS_PAGE_2: &str = include_str!("fixtures/fnac_darty/offers_query_page_2.xml");
const OFFERS_REFUSED: &str = include_str!("fixtures/fnac_darty/offers_query_refused.xml");
const PRICING: &str = include_str!("fixtures/fnac_darty/pricing_query_response.xml");

fn origin(source: &str) -> Origin {
    Origin {
        source: source.to_owned(),
        request_id: None,
        observed_at: 1_795_858_300_000,
    }
}

fn catalogue() -> HashMap<String, String> {
    [
        ("SKU-SICP", "9780262510875"),
        ("SKU-SAM-TV-55", "8806094937053"),
        ("SKU-CABLE-HDMI-2M", "3711317402018"),
        ("SKU-USED-GAME", "0806871080123"),
    ]
    .into_iter()
    .map(|(sku, gtin)| (sku.to_owned(), gtin.to_owned()))
    .collect()
}

fn rejection(sourced: &Sourced) -> (ReasonCode, &str, &[u8]) {
    match sourced {
        Sourced::Rejected {
            reason,
            detail,
            raw,
            ..
        } => (*reason, detail, raw),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn auth_reads_the_token_and_its_validity() {
    let token = read_auth(AUTH).expect("auth response");
    assert_eq!(token.token.expose(), "61DF8A84-4465-7D36-20A4-00F941207026");
    assert_eq!(
        token.expires_at,
        UNIX_EPOCH + Duration::from_millis(1_473_372_000_000)
    );
    assert!(!format!("{token:?}").contains("61DF8A84"), "never logged");
}

#[test]
fn a_refused_auth_names_the_api_error() {
    let error = read_auth(AUTH_REFUSED).expect_err("refused");
    assert!(
        matches!(&error, ResponseError::Refused { errors, .. } if errors.contains("ERR_001")),
        "{error}"
    );
}

#[test]
fn requests_have_the_documented_shape() {
    let credentials = ShopCredentials {
        partner_id: "87B13D72-9938-9549-39B7-BC3FF73CDA84".into(),
        shop_id: "859A6B21-6916-58FB-8B71-88EAD9A6A1F0".into(),
        key: Secret::new("F4FB8AC7-F7B5-8BDC-F5FC-5594BBFBE5F8"),
    };
    assert_eq!(
        auth_request(&credentials),
        r#"<?xml version="1.0" encoding="utf-8"?><auth xmlns="http://www.fnac.com/schemas/mp-dialog.xsd"><partner_id>87B13D72-9938-9549-39B7-BC3FF73CDA84</partner_id><shop_id>859A6B21-6916-58FB-8B71-88EAD9A6A1F0</shop_id><key>F4FB8AC7-F7B5-8BDC-F5FC-5594BBFBE5F8</key></auth>"#
    );
    let session = Session {
        partner_id: "P",
        shop_id: "S",
        token: "T",
    };
    let modified = ModifiedBetween {
        min: "2026-11-27T00:00:00Z".into(),
        max: "2026-11-28T00:00:00Z".into(),
    };
    assert_eq!(
        offers_query_request(&session, 100, 2, &modified),
        r#"<?xml version="1.0" encoding="utf-8"?><offers_query xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" partner_id="P" shop_id="S" token="T" results_count="100"><paging>2</paging><date type="Modified"><min>2026-11-27T00:00:00Z</min><max>2026-11-28T00:00:00Z</max></date></offers_query>"#
    );
    assert_eq!(
        pricing_query_request(&session, &["9780262510875", "3711317402018"]),
        r#"<?xml version="1.0" encoding="utf-8"?><pricing_query xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" partner_id="P" shop_id="S" token="T"><product_reference type="Ean">9780262510875</product_reference><product_reference type="Ean">3711317402018</product_reference></pricing_query>"#
    );
}

#[test]
fn offers_pages_give_our_offers_and_reject_what_cannot_be_keyed() {
    let page =
        read_offers_page(OFFERS_PAGE_1, &catalogue(), &origin(OFFERS_SOURCE)).expect("offers page");
    assert_eq!(
        (page.page, page.total_paging, page.total_results),
        (1, 2, Some(6))
    );
    let skus: Vec<&str> = page.offers.iter().map(|offer| offer.sku.as_str()).collect();
    assert_eq!(skus, ["SKU-SICP", "SKU-SAM-TV-55"]);
    assert_eq!(page.offers[0].gtin, "9780262510875");
    assert_eq!(page.offers[0].price, dec!(44.90));
    assert_eq!(page.offers[1].price, dec!(339));

    assert_eq!(page.rejected.len(), 2, "4 offers = 2 kept + 2 rejected");
    let (reason, detail, raw) = rejection(&page.rejected[0]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("SKU-NOT-IN-CATALOGUE"), "{detail}");
    let raw = String::from_utf8_lossy(raw);
    assert!(
        raw.starts_with("<offer>") && raw.ends_with("</offer>") && raw.contains("2703768"),
        "the rejection keeps the offer's own bytes: {raw}"
    );
    let (reason, detail, _) = rejection(&page.rejected[1]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("product_state 2"), "{detail}");

    let last =
        read_offers_page(OFFERS_PAGE_2, &catalogue(), &origin(OFFERS_SOURCE)).expect("offers page");
    assert_eq!((last.page, last.total_paging), (2, 2));
    assert!(last.offers.is_empty());
    let reasons: Vec<ReasonCode> = last.rejected.iter().map(|r| rejection(r).0).collect();
    // A price typed with a letter O, and an offer without its offer_seller_id.
    assert_eq!(reasons, [ReasonCode::Undecodable, ReasonCode::MissingField]);
}

#[test]
fn a_refused_query_is_an_error_not_an_empty_page() {
    let error = read_offers_page(OFFERS_REFUSED, &catalogue(), &origin(OFFERS_SOURCE))
        .expect_err("refused");
    assert!(error.to_string().contains("ERR_025"), "{error}");
}

#[test]
fn pricing_keeps_the_cheapest_new_landed_offer_per_ean() {
    let pricing = read_pricing(PRICING, &origin(PRICING_SOURCE)).expect("pricing response");
    // 43.00 + 0 lands below 41.48 + 4.99; the used 29.54 is not compared.
    assert_eq!(
        pricing.best_by_ean.get("9780262510875"),
        Some(&Some(BestCompetitor {
            price: dec!(43.00),
            shipping: dec!(0),
        }))
    );
    assert_eq!(pricing.best_by_ean.get("8806094937053"), Some(&None));
    assert_eq!(pricing.rejected.len(), 1);
    let (reason, detail, _) = rejection(&pricing.rejected[0]);
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(
        detail.contains("3711317402018") && detail.contains("9,90"),
        "{detail}"
    );
}

#[test]
fn our_offers_join_their_competitors_by_ean() {
    let page =
        read_offers_page(OFFERS_PAGE_1, &catalogue(), &origin(OFFERS_SOURCE)).expect("offers page");
    let pricing = read_pricing(PRICING, &origin(PRICING_SOURCE)).expect("pricing response");
    let signals = offer_signals(&page.offers, &pricing.best_by_ean, &origin(PRICING_SOURCE));
    let offers: Vec<&OfferSignal> = signals
        .iter()
        .map(|sourced| match sourced {
            Sourced::Signal {
                record: SignalRecord::Offer(offer),
                ..
            } => offer,
            other => panic!("expected an offer signal, got {other:?}"),
        })
        .collect();
    assert_eq!(
        offers[0],
        &OfferSignal {
            gtin: "9780262510875".to_owned(),
            channel: "fnac_darty".to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: Some(dec!(44.90)),
            our_shipping_incl_vat: None,
            buy_box_price_incl_vat: None,
            we_own_buy_box: None,
            lowest_listing_price_incl_vat: Some(dec!(43.00)),
            lowest_shipping_incl_vat: Some(dec!(0)),
            lowest_landed_price_incl_vat: Some(dec!(43.00)),
            offer_count: None,
            sales_rank: None,
            marketplace_category: None,
            source: PRICING_SOURCE.to_owned(),
            request_id: None,
            observed_at: 1_795_858_300_000,
        }
    );
    // Fnac knows no new competing offer for the TV: our price alone.
    assert_eq!(offers[1].gtin, "8806094937053");
    assert_eq!(offers[1].lowest_landed_price_incl_vat, None);
}
