//! Contract of the Octopia (Cdiscount) mapping on recorded `GET /offers` payloads in the
//! API's shape (`tests/fixtures/octopia/`, hand-written from the developer portal; see
//! `src/octopia/payload.rs` for the sources and the members that had to be assumed).

use hub_connectors::machinery::OAuth2TokenResponse;
use hub_connectors::octopia::mapping::{OFFERS_SOURCE, map_offers_page};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal_macros::dec;

const OFFERS_PAGE: &[u8] = include_bytes!("fixtures/octopia/offers_page.json");
const TOKEN: &[u8] = include_bytes!("fixtures/octopia/token.json");
const OBSERVED_AT: i64 = 1_795_858_300_000;

fn origin() -> Origin {
    Origin {
        source: OFFERS_SOURCE.to_owned(),
        request_id: Some("0HN8Q3R2K6F5T:00000001".to_owned()),
        observed_at: OBSERVED_AT,
    }
}

fn offer(sourced: &Sourced) -> &OfferSignal {
    match sourced {
        Sourced::Signal {
            record: SignalRecord::Offer(offer),
            ..
        } => offer,
        other => panic!("expected an offer signal, got {other:?}"),
    }
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
fn the_token_response_reads_its_lifetime() {
    let token: OAuth2TokenResponse = serde_json::from_slice(TOKEN).expect("token fixture");
    assert_eq!(token.expires_in, 7200);
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
}

#[test]
fn every_item_of_the_page_is_a_signal_or_a_rejection() {
    let page = map_offers_page(OFFERS_PAGE, &origin());
    assert_eq!(page.items_read, 6);
    assert_eq!(page.sourced.len(), 6, "no item dropped silently");
}

#[test]
fn an_offer_with_feedback_carries_buy_box_and_cheapest_new_competitor() {
    let page = map_offers_page(OFFERS_PAGE, &origin());
    let expected = OfferSignal {
        gtin: "8806094937053".to_owned(),
        channel: "cdiscount".to_owned(),
        currency: "EUR".to_owned(),
        our_price_incl_vat: Some(dec!(329.99)),
        // The cheapest of the offer's delivery modes.
        our_shipping_incl_vat: Some(dec!(4.90)),
        buy_box_price_incl_vat: Some(dec!(319.99)),
        we_own_buy_box: Some(false),
        // 319.99 + 0 lands below 315.00 + 6.99; the used offer is not compared.
        lowest_listing_price_incl_vat: Some(dec!(319.99)),
        lowest_shipping_incl_vat: Some(dec!(0)),
        lowest_landed_price_incl_vat: Some(dec!(319.99)),
        offer_count: Some(3),
        sales_rank: None,
        marketplace_category: None,
        source: OFFERS_SOURCE.to_owned(),
        request_id: Some("0HN8Q3R2K6F5T:00000001".to_owned()),
        observed_at: OBSERVED_AT,
    };
    assert_eq!(offer(&page.sourced[0]), &expected);
}

#[test]
fn an_offer_without_feedback_has_only_our_price() {
    let page = map_offers_page(OFFERS_PAGE, &origin());
    let signal = offer(&page.sourced[1]);
    assert_eq!(signal.gtin, "3711317402018");
    assert_eq!(signal.our_price_incl_vat, Some(dec!(12.90)));
    assert_eq!(signal.our_shipping_incl_vat, None);
    assert_eq!(signal.buy_box_price_incl_vat, None);
    assert_eq!(signal.lowest_landed_price_incl_vat, None);
    assert_eq!(signal.offer_count, None);
}

#[test]
fn unmappable_items_are_rejected_with_their_reason_and_bytes() {
    let page = map_offers_page(OFFERS_PAGE, &origin());
    let (reason, detail, raw) = rejection(&page.sourced[2]);
    assert_eq!(reason, ReasonCode::PlaceholderOffer);
    assert!(detail.contains("Inactive"), "{detail}");
    assert!(
        String::from_utf8_lossy(raw).contains("SKU-DISCONTINUED"),
        "the rejection keeps the item's own bytes"
    );

    let (reason, detail, _) = rejection(&page.sourced[3]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("no product.gtin"), "{detail}");

    let (reason, detail, _) = rejection(&page.sourced[4]);
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(detail.contains("12,50"), "{detail}");

    let (reason, detail, _) = rejection(&page.sourced[5]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("Refurbished"), "{detail}");
}

#[test]
fn the_cursor_moves_to_the_newest_update_read() {
    let page = map_offers_page(OFFERS_PAGE, &origin());
    // 2026-11-28T09:31:00Z, the item without a GTIN: a rejected item was handled too. The
    // item with an unreadable price has no readable updatedAt to contribute.
    assert_eq!(page.newest_update, Some(1_795_858_260_000));
}

#[test]
fn a_body_that_is_not_a_page_is_quarantined_whole() {
    let page = map_offers_page(b"<html>502 Bad Gateway</html>", &origin());
    assert_eq!(page.items_read, 0);
    assert_eq!(page.newest_update, None);
    let (reason, _, raw) = rejection(&page.sourced[0]);
    assert_eq!(reason, ReasonCode::Undecodable);
    assert_eq!(raw, b"<html>502 Bad Gateway</html>");
}
