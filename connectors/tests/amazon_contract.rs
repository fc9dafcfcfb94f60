//! Contract tests of the Amazon SP-API mapping on recorded payloads in the documented shapes
//! (`tests/fixtures/amazon/`, hand-written from the API models' examples for amazon.fr).

use hub_connectors::amazon::catalog::{AsinCatalog, CatalogEntry, RootRank, read_search_page};
use hub_connectors::amazon::fees::{FeesEstimateError, read_fees_estimate};
use hub_connectors::amazon::inventory::read_inventory_page;
use hub_connectors::amazon::notification::{map_message, read_notification};
use hub_connectors::amazon::offers::{map_item_offers, map_item_offers_batch};
use hub_connectors::amazon::payload::ErrorList;
use hub_connectors::amazon::{MARKETPLACE_FR, Marketplace, sources};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::{OfferSignal, StockSignal, StockSource};
use rust_decimal_macros::dec;

const RECEIVED_AT: i64 = 1_795_857_600_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/amazon/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixtures are UTF-8")
}

/// The catalog as searchCatalogItems (by EAN) recorded it.
fn catalog() -> AsinCatalog {
    let page = read_search_page(&fixture("search_catalog_items_by_ean.json"), MARKETPLACE_FR)
        .expect("documented shape");
    page.entries.into_iter().collect()
}

fn origin(source: &str) -> Origin {
    Origin {
        source: source.to_owned(),
        request_id: Some("b5a5b2a4-0f5e-4c3a-9d3e-7a1c2e5f6a7b".to_owned()),
        observed_at: RECEIVED_AT,
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

fn stock(sourced: &Sourced) -> &StockSignal {
    match sourced {
        Sourced::Signal {
            record: SignalRecord::Stock(stock),
            ..
        } => stock,
        other => panic!("expected a stock signal, got {other:?}"),
    }
}

fn rejection(sourced: &Sourced) -> (ReasonCode, String, Vec<u8>) {
    match sourced {
        Sourced::Rejected {
            reason,
            detail,
            raw,
            ..
        } => (*reason, detail.clone(), raw.clone()),
        other => panic!("expected a rejected element, got {other:?}"),
    }
}

#[test]
fn catalog_search_maps_asins_to_gtins_and_root_ranks_and_keeps_the_next_token() {
    let page =
        read_search_page(&fixture("search_catalog_items_by_ean.json"), MARKETPLACE_FR).unwrap();
    assert_eq!(
        page.entries,
        vec![
            CatalogEntry {
                asin: "B07N4M94X4".to_owned(),
                gtin: Some("4006381333931".to_owned()),
                root_rank: Some(RootRank {
                    category: "ce_display_on_website".to_owned(),
                    rank: 7285,
                }),
            },
            CatalogEntry {
                asin: "B00V5DG6IQ".to_owned(),
                gtin: Some("3760123456784".to_owned()),
                root_rank: Some(RootRank {
                    category: "pc_display_on_website".to_owned(),
                    rank: 2310,
                }),
            },
            CatalogEntry {
                asin: "B08VY6GW8Q".to_owned(),
                gtin: Some("3760123456791".to_owned()),
                root_rank: None,
            },
        ]
    );
    // The fourth item has no asin: reported, not silently skipped.
    assert_eq!(page.unreadable.len(), 1);
    let (quarantine, raw) = &page.unreadable[0];
    assert_eq!(quarantine.reason, ReasonCode::Undecodable);
    assert!(quarantine.detail.contains("item 3"), "{quarantine:?}");
    // The item's own bytes, for the quarantine and a replay.
    let item: serde_json::Value = serde_json::from_slice(raw).expect("the item's JSON");
    assert!(item.get("asin").is_none(), "{item}");
    assert_eq!(
        page.next_token.as_deref(),
        Some("xsdflkj324lkjsdlkj3423klkjsdfkljlk2j34klj2l3k4jlksdjl234")
    );
    assert!(read_search_page(b"<html>", MARKETPLACE_FR).is_err());
}

#[test]
fn get_item_offers_maps_our_offer_the_lowest_competitor_the_buy_box_and_the_root_rank() {
    let sourced = map_item_offers(
        &fixture("get_item_offers.json"),
        &catalog(),
        &Marketplace::france(),
        origin(sources::GET_ITEM_OFFERS),
    );
    assert_eq!(
        offer(&sourced),
        &OfferSignal {
            gtin: "4006381333931".to_owned(),
            channel: "amazon".to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: Some(dec!(311.50)),
            our_shipping_incl_vat: Some(dec!(5.90)),
            buy_box_price_incl_vat: Some(dec!(309.90)),
            we_own_buy_box: Some(false),
            lowest_listing_price_incl_vat: Some(dec!(299.99)),
            lowest_shipping_incl_vat: Some(dec!(4.99)),
            lowest_landed_price_incl_vat: Some(dec!(304.98)),
            offer_count: Some(3),
            sales_rank: Some(7285),
            marketplace_category: Some("ce_display_on_website".to_owned()),
            source: "amazon.getItemOffers".to_owned(),
            request_id: Some("b5a5b2a4-0f5e-4c3a-9d3e-7a1c2e5f6a7b".to_owned()),
            observed_at: RECEIVED_AT,
        }
    );
    // Exact decimals: the scale the API wrote is kept, no float went through.
    assert_eq!(
        offer(&sourced).our_price_incl_vat.unwrap().to_string(),
        "311.50"
    );
}

#[test]
fn a_page_without_buyable_offers_is_an_empty_page_nobody_holds() {
    let sourced = map_item_offers(
        &fixture("get_item_offers_no_buyable_offers.json"),
        &catalog(),
        &Marketplace::france(),
        origin(sources::GET_ITEM_OFFERS),
    );
    let offer = offer(&sourced);
    assert_eq!(offer.gtin, "3760123456791");
    assert_eq!(offer.offer_count, Some(0));
    assert_eq!(offer.our_price_incl_vat, None);
    assert_eq!(offer.buy_box_price_incl_vat, None);
    assert_eq!(offer.lowest_landed_price_incl_vat, None);
    assert_eq!(offer.we_own_buy_box, Some(false));
    assert_eq!(offer.sales_rank, None);
}

#[test]
fn offers_that_cannot_become_signals_are_rejected_with_their_reason_and_bytes() {
    let marketplace = Marketplace::france();
    let body = fixture("get_item_offers.json");

    // An ASIN the catalog does not know has no GTIN.
    let sourced = map_item_offers(
        &body,
        &AsinCatalog::new(),
        &marketplace,
        origin(sources::GET_ITEM_OFFERS),
    );
    let (reason, detail, raw) = rejection(&sourced);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("ASIN B07N4M94X4 has no GTIN"), "{detail}");
    assert_eq!(raw, body);

    // Not the documented shape.
    let broken =
        fixture_text("get_item_offers.json").replace("\"Amount\": 311.50", "\"Amount\": \"n/a\"");
    let (reason, detail, _) = rejection(&map_item_offers(
        broken.as_bytes(),
        &catalog(),
        &marketplace,
        origin(sources::GET_ITEM_OFFERS),
    ));
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(detail.contains("\"n/a\""), "{detail}");

    // Another currency than the marketplace's.
    let dollars = fixture_text("get_item_offers.json").replace("\"EUR\"", "\"USD\"");
    let (reason, detail, _) = rejection(&map_item_offers(
        dollars.as_bytes(),
        &catalog(),
        &marketplace,
        origin(sources::GET_ITEM_OFFERS),
    ));
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("USD"), "{detail}");

    // Amazon has not computed the page yet.
    let too_soon = fixture_text("get_item_offers.json")
        .replace("\"Success\"", "\"ActiveButTooSoonForProcessing\"");
    let (reason, detail, _) = rejection(&map_item_offers(
        too_soon.as_bytes(),
        &catalog(),
        &marketplace,
        origin(sources::GET_ITEM_OFFERS),
    ));
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("ActiveButTooSoonForProcessing"), "{detail}");

    // An error answer delivered as 200 has no payload.
    let (reason, detail, _) = rejection(&map_item_offers(
        &fixture("quota_exceeded.json"),
        &catalog(),
        &marketplace,
        origin(sources::GET_ITEM_OFFERS),
    ));
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("QuotaExceeded"), "{detail}");
}

#[test]
fn batch_maps_each_response_with_its_own_origin_and_separates_failed_requests() {
    let outcome = map_item_offers_batch(
        &fixture("get_item_offers_batch.json"),
        &catalog(),
        &Marketplace::france(),
        &origin(sources::GET_ITEM_OFFERS_BATCH),
    );
    assert_eq!(outcome.sourced.len(), 4);

    let empty = offer(&outcome.sourced[0]);
    assert_eq!(empty.gtin, "3760123456791");
    assert_eq!(empty.offer_count, Some(0));
    assert_eq!(
        empty.request_id.as_deref(),
        Some("d54e45a5-da12-4daf-b279-4b04c9cf4998")
    );
    assert_eq!(empty.observed_at, 1_712_102_616_000);
    assert_eq!(empty.source, "amazon.getItemOffersBatch");

    let ours = offer(&outcome.sourced[1]);
    assert_eq!(ours.gtin, "3760123456784");
    assert_eq!(ours.our_price_incl_vat, Some(dec!(23.90)));
    assert_eq!(ours.we_own_buy_box, Some(true));
    // The consumer buy box, not the B2B quantity tier listed first.
    assert_eq!(ours.buy_box_price_incl_vat, Some(dec!(23.90)));
    assert_eq!(ours.lowest_landed_price_incl_vat, Some(dec!(24.50)));
    assert_eq!(ours.offer_count, Some(2));
    // The page has a sub-category rank only: the catalog's root rank stands in.
    assert_eq!(ours.sales_rank, Some(2310));
    assert_eq!(
        ours.marketplace_category.as_deref(),
        Some("pc_display_on_website")
    );
    assert_eq!(ours.observed_at, 1_712_102_617_000);

    let (reason, detail, raw) = rejection(&outcome.sourced[3]);
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(detail.contains("\"douze\""), "{detail}");
    let raw = std::str::from_utf8(&raw).unwrap();
    assert!(
        raw.contains("B0CORRUPT1") && !raw.contains("B00V5DG6IQ"),
        "{raw}"
    );

    // Refused (400): quarantined with the embedded response.
    let (reason, detail, raw) = rejection(&outcome.sourced[2]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("B0INVALID0") && detail.contains("InvalidInput"),
        "{detail}"
    );
    assert!(std::str::from_utf8(&raw).unwrap().contains("B0INVALID0"));

    // Throttled (429): to ask again, not mapped.
    assert_eq!(outcome.failed.len(), 1);
    let throttled = &outcome.failed[0];
    assert_eq!(throttled.asin.as_deref(), Some("B0THROTTLE"));
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.errors[0].code, "QuotaExceeded");
    assert!(throttled.describe().contains("HTTP 429"));

    let garbage = map_item_offers_batch(
        b"{\"responses\": 3}",
        &catalog(),
        &Marketplace::france(),
        &origin(sources::GET_ITEM_OFFERS_BATCH),
    );
    assert_eq!(garbage.sourced.len(), 1);
    assert_eq!(rejection(&garbage.sourced[0]).0, ReasonCode::Undecodable);
}

#[test]
fn any_offer_changed_finds_our_offer_by_seller_id_and_is_observed_when_the_offer_changed() {
    let sourced = map_message(
        &fixture("any_offer_changed.json"),
        &catalog(),
        &Marketplace::france(),
        RECEIVED_AT,
    );
    let Sourced::Signal { origin, .. } = &sourced else {
        panic!("expected a signal, got {sourced:?}");
    };
    assert_eq!(origin.source, "amazon.ANY_OFFER_CHANGED");
    assert_eq!(
        origin.request_id.as_deref(),
        Some("d0e9e693-c3ad-4373-979f-ed4ec98dd746")
    );
    assert_eq!(
        offer(&sourced),
        &OfferSignal {
            gtin: "4006381333931".to_owned(),
            channel: "amazon".to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: Some(dec!(299.99)),
            our_shipping_incl_vat: Some(dec!(4.99)),
            buy_box_price_incl_vat: Some(dec!(304.98)),
            we_own_buy_box: Some(true),
            // 309.90 + 0.00 shipping beats 305.00 + 4.99.
            lowest_listing_price_incl_vat: Some(dec!(309.90)),
            lowest_shipping_incl_vat: Some(dec!(0.00)),
            lowest_landed_price_incl_vat: Some(dec!(309.90)),
            offer_count: Some(3),
            sales_rank: Some(6950),
            marketplace_category: Some("ce_display_on_website".to_owned()),
            source: "amazon.ANY_OFFER_CHANGED".to_owned(),
            request_id: Some("d0e9e693-c3ad-4373-979f-ed4ec98dd746".to_owned()),
            observed_at: 1_795_857_301_409,
        }
    );
}

#[test]
fn notifications_that_cannot_become_signals_are_rejected() {
    let marketplace = Marketplace::france();
    let used = fixture_text("any_offer_changed.json")
        .replace("\"ItemCondition\": \"new\"", "\"ItemCondition\": \"used\"");
    let (reason, detail, raw) = rejection(&map_message(
        used.as_bytes(),
        &catalog(),
        &marketplace,
        RECEIVED_AT,
    ));
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("new items only"), "{detail}");
    assert_eq!(raw, used.as_bytes());

    let other_type = fixture_text("any_offer_changed.json").replace(
        "\"NotificationType\": \"ANY_OFFER_CHANGED\"",
        "\"NotificationType\": \"PRICING_HEALTH\"",
    );
    let error = read_notification(other_type.as_bytes()).unwrap_err();
    assert_eq!(error.reason, ReasonCode::MappingFailed);
    assert!(error.detail.contains("PRICING_HEALTH"), "{}", error.detail);

    let bad_time = fixture_text("any_offer_changed.json")
        .replace("2026-11-28T09:15:01.409Z", "28/11/2026 09:15");
    let rejected = map_message(bad_time.as_bytes(), &catalog(), &marketplace, RECEIVED_AT);
    let (reason, detail, _) = rejection(&rejected);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("TimeOfOfferChange"), "{detail}");

    let Sourced::Rejected { origin, .. } =
        map_message(b"not json", &catalog(), &marketplace, RECEIVED_AT)
    else {
        panic!("garbage must be rejected");
    };
    assert_eq!(origin.observed_at, RECEIVED_AT);
    assert_eq!(origin.request_id, None);
}

#[test]
fn fba_inventory_pages_map_new_stock_and_reject_what_they_cannot_map() {
    let catalog = catalog();
    let marketplace = Marketplace::france();
    let origin = origin(sources::GET_INVENTORY_SUMMARIES);

    let first = read_inventory_page(&fixture("get_inventory_summaries_page1.json"))
        .expect("documented shape");
    assert_eq!(first.next_token.as_deref(), Some("seed-token-page-2"));
    assert_eq!(first.asins(), vec!["B07N4M94X4", "B00V5DG6IQ"]);
    let sourced = first.map(&catalog, &marketplace, &origin);
    assert_eq!(sourced.len(), 2);
    assert_eq!(
        stock(&sourced[0]),
        &StockSignal {
            gtin: "4006381333931".to_owned(),
            stock_source: StockSource::Fba,
            location: Some(MARKETPLACE_FR.to_owned()),
            quantity: 14,
            incoming_quantity: Some(12),
            lead_time_days: None,
            source: "amazon.getInventorySummaries".to_owned(),
            request_id: Some("b5a5b2a4-0f5e-4c3a-9d3e-7a1c2e5f6a7b".to_owned()),
            observed_at: RECEIVED_AT,
        }
    );
    let (reason, detail, _) = rejection(&sourced[1]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("UsedLikeNew"), "{detail}");

    let last = read_inventory_page(&fixture("get_inventory_summaries_page2.json"))
        .expect("documented shape");
    assert_eq!(last.next_token, None);
    let sourced = last.map(&catalog, &marketplace, &origin);
    assert_eq!(sourced.len(), 4);
    let out_of_stock = stock(&sourced[0]);
    assert_eq!(out_of_stock.gtin, "3760123456784");
    assert_eq!(out_of_stock.quantity, 0);
    assert_eq!(out_of_stock.incoming_quantity, None);
    let (reason, detail, _) = rejection(&sourced[1]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("B0NOEAN001 has no GTIN"), "{detail}");
    let (reason, detail, _) = rejection(&sourced[2]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("details=true"), "{detail}");
    let (reason, detail, raw) = rejection(&sourced[3]);
    assert_eq!(reason, ReasonCode::Undecodable);
    assert!(detail.contains("\"quatre\""), "{detail}");
    assert!(std::str::from_utf8(&raw).unwrap().contains("BROKEN"));

    let Err(garbage) = read_inventory_page(b"[]") else {
        panic!("an array is not an inventory page");
    };
    assert_eq!(garbage.reason, ReasonCode::Undecodable);
}

#[test]
fn fee_estimates_are_read_fee_by_fee_exactly() {
    let estimate = read_fees_estimate(&fixture("get_my_fees_estimate_for_sku.json")).unwrap();
    assert_eq!(estimate.id_value.as_deref(), Some("TV-QN82-FBA"));
    assert_eq!(estimate.is_amazon_fulfilled, Some(true));
    assert_eq!(estimate.currency, "EUR");
    assert_eq!(estimate.total, dec!(34.39));
    let total: rust_decimal::Decimal = estimate.lines.iter().map(|line| line.final_fee).sum();
    assert_eq!(total, estimate.total);
    let types: Vec<&str> = estimate
        .lines
        .iter()
        .map(|line| line.fee_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ReferralFee",
            "VariableClosingFee",
            "FBAFees",
            "DigitalServicesFee"
        ]
    );
    assert_eq!(estimate.lines[0].tax, Some(dec!(0.00)));
    assert_eq!(estimate.lines[2].tax, None);
    assert_eq!(estimate.estimated_at, "Sat Nov 28 09:20:11 UTC 2026");

    let refused =
        read_fees_estimate(&fixture("get_my_fees_estimate_client_error.json")).unwrap_err();
    assert!(
        matches!(&refused, FeesEstimateError::Refused { code, .. } if code == "InvalidParameterValue"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("ClientError"));
}

#[test]
fn quota_exceeded_answers_are_the_documented_error_list() {
    let errors: ErrorList = serde_json::from_slice(&fixture("quota_exceeded.json")).unwrap();
    assert_eq!(errors.errors[0].code, "QuotaExceeded");
}
