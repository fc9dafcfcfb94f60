//! Contract of the Octopia (Cdiscount) mapping on recorded `GET /offers` payloads in the
//! API's shape (`tests/fixtures/octopia/`; see `src/octopia/payload.rs` for the sources and
//! the members that had to be assumed):
//!
//! - `offers_page_light.json` is the example answer of Octopia's release note "GET /offers —
//!   fields for lightweight responses"
//!   (<https://developer.octopia-io.net/changelog/new-feature/get-offers-new-parameters-and-more-data-on-offers>),
//!   as published: the documented page, item and instant shapes.
//! - `offers_page.json` is an incremental sync page (`expand=salesChannelFeedback`),
//!   `competition_page.json` a competition sweep page (`fields=` the sweep's selection), both
//!   hand-written in those shapes; the members inside `bestOfferDetails`, `competingOffers`
//!   and `deliveryOffers` are the assumed ones.

use hub_connectors::machinery::OAuth2TokenResponse;
use hub_connectors::octopia::mapping::{COMPETITION_SOURCE, OFFERS_SOURCE, map_offers_page};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal_macros::dec;

const OFFERS_PAGE: &[u8] = include_bytes!("fixtures/octopia/offers_page.json");
const LIGHT_PAGE: &[u8] = include_bytes!("fixtures/octopia/offers_page_light.json");
const COMPETITION_PAGE: &[u8] = include_bytes!("fixtures/octopia/competition_page.json");
const TOKEN: &[u8] = include_bytes!("fixtures/octopia/token.json");
const OBSERVED_AT: i64 = 1_795_858_300_000;

fn origin() -> Origin {
    origin_of(OFFERS_SOURCE)
}

fn origin_of(source: &str) -> Origin {
    Origin {
        source: source.to_owned(),
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
    assert_eq!(page.newest_update, Some(1_795_858_260_000_000_000));
}

#[test]
fn the_release_notes_own_example_offer_is_read() {
    let page = map_offers_page(LIGHT_PAGE, &origin());
    assert_eq!(page.items_read, 1);
    // "2025-05-31T02:37:26.0000000+00:00": seven fractional digits and an offset.
    assert_eq!(page.newest_update, Some(1_748_659_046_000_000_000));
    let signal = offer(&page.sourced[0]);
    assert_eq!(signal.gtin, "3499550358636");
    assert_eq!(signal.channel, "cdiscount");
    // No facial price selected: the integration price, exactly as written (19.9).
    assert_eq!(signal.our_price_incl_vat, Some(dec!(19.9)));
    assert_eq!(signal.our_shipping_incl_vat, None);
    // No feedback asked for: nothing is said of the competition.
    assert_eq!(signal.buy_box_price_incl_vat, None);
    assert_eq!(signal.lowest_landed_price_incl_vat, None);
    assert_eq!(signal.offer_count, None);
}

#[test]
fn a_competition_sweep_page_reads_the_selected_feedback() {
    let page = map_offers_page(COMPETITION_PAGE, &origin_of(COMPETITION_SOURCE));
    assert_eq!(page.sourced.len(), 2);
    let ours_best = offer(&page.sourced[0]);
    assert_eq!(ours_best.source, COMPETITION_SOURCE);
    // The facial price the buyer sees, below the integrated one.
    assert_eq!(ours_best.our_price_incl_vat, Some(dec!(314.99)));
    assert_eq!(ours_best.our_shipping_incl_vat, Some(dec!(4.90)));
    assert_eq!(ours_best.we_own_buy_box, Some(true));
    assert_eq!(ours_best.buy_box_price_incl_vat, Some(dec!(319.89)));
    // 318.50 + 0 lands below 315.00 + 6.99.
    assert_eq!(ours_best.lowest_listing_price_incl_vat, Some(dec!(318.50)));
    assert_eq!(ours_best.lowest_landed_price_incl_vat, Some(dec!(318.50)));
    assert_eq!(ours_best.offer_count, Some(3));

    // Feedback without competitors: we are alone on the page, and no best offer is named.
    let alone = offer(&page.sourced[1]);
    assert_eq!(alone.offer_count, Some(1));
    assert_eq!(alone.lowest_landed_price_incl_vat, None);
    assert_eq!(alone.buy_box_price_incl_vat, None);
    assert_eq!(alone.we_own_buy_box, None);
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
