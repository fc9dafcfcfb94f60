//! Properties of the generated catalogue.

use std::collections::{BTreeMap, BTreeSet};

use hub_core::category::Category;
use hub_core::channel::Channel;
use hub_market_sim::{Catalogue, CatalogueParams, GtinOrigin, is_valid_gtin13};
use hub_schemas::records::LevyKind;
use rust_decimal::Decimal;

fn catalogue() -> Catalogue {
    Catalogue::generate(&CatalogueParams::default()).expect("default parameters are valid")
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

#[test]
fn default_catalogue_has_ten_thousand_unique_valid_gtins_and_skus() {
    let catalogue = catalogue();
    assert_eq!(catalogue.references.len(), 10_000);
    let mut gtins = BTreeSet::new();
    let mut skus = BTreeSet::new();
    let mut origins = BTreeMap::new();
    for reference in &catalogue.references {
        let product = &reference.product;
        assert!(is_valid_gtin13(&product.gtin), "{}", product.gtin);
        assert!(
            gtins.insert(product.gtin.clone()),
            "duplicate {}",
            product.gtin
        );
        assert!(
            skus.insert(product.sku.clone()),
            "duplicate {}",
            product.sku
        );
        *origins.entry(reference.gtin_origin).or_insert(0usize) += 1;
        if reference.category == Category::Books {
            assert!(product.gtin.starts_with("978") || product.gtin.starts_with("979"));
        }
    }
    // Some barcodes were printed as UPC-A or EAN-8 and normalised.
    assert!(origins[&GtinOrigin::UpcA] > 100, "{origins:?}");
    assert!(origins[&GtinOrigin::Ean8] > 20, "{origins:?}");
    assert!(origins[&GtinOrigin::Ean13] > 8_000, "{origins:?}");
}

#[test]
fn categories_cover_all_thirteen_weighted_to_electronics_and_appliances() {
    let catalogue = catalogue();
    let mut per_category = BTreeMap::new();
    for reference in &catalogue.references {
        assert_eq!(reference.product.category, reference.category.key());
        *per_category.entry(reference.category).or_insert(0usize) += 1;
    }
    assert_eq!(per_category.len(), Category::ALL.len(), "{per_category:?}");
    for category in Category::ALL {
        assert!(
            per_category[&category] >= 100,
            "{category}: {per_category:?}"
        );
    }
    let electrical: usize = [
        Category::Computers,
        Category::Tv,
        Category::Phones,
        Category::ConsumerElectronics,
        Category::LargeAppliances,
        Category::SmallAppliances,
        Category::VideoGameConsoles,
    ]
    .iter()
    .map(|category| per_category[category])
    .sum();
    assert!(share(electrical, catalogue.references.len()) > 0.55);
}

#[test]
fn vat_levies_and_titles_follow_the_category() {
    let catalogue = catalogue();
    let twenty = Decimal::new(2, 1);
    let five_and_a_half = Decimal::new(55, 3);
    for reference in &catalogue.references {
        let product = &reference.product;
        let is_book = reference.category == Category::Books;
        assert_eq!(
            product.vat_rate,
            if is_book { five_and_a_half } else { twenty }
        );
        assert!(
            !product.title.is_empty() && product.brand.as_deref().is_some_and(|b| !b.is_empty())
        );
        assert_eq!(product.source, "odoo.product.product");
        assert!(product.updated_at < catalogue.as_of);
        let has = |kind| product.levies.iter().any(|levy| levy.kind == kind);
        for levy in &product.levies {
            assert!(levy.amount_incl_vat > Decimal::ZERO);
        }
        match reference.category {
            Category::Books | Category::VideoGames | Category::Furniture => {
                assert!(product.levies.is_empty(), "{}", product.title);
            }
            Category::Phones => {
                assert!(has(LevyKind::DeeeEcoParticipation), "{}", product.title);
                // Smartphones carry the private copy levy; cordless landlines do not.
                assert_eq!(
                    has(LevyKind::PrivateCopy),
                    product.title.starts_with("Smartphone"),
                    "{}",
                    product.title
                );
            }
            Category::Tv | Category::LargeAppliances | Category::SmallAppliances => {
                assert!(has(LevyKind::DeeeEcoParticipation), "{}", product.title);
                assert!(!has(LevyKind::PrivateCopy), "{}", product.title);
            }
            _ => {}
        }
        if has(LevyKind::PrivateCopy) {
            assert!(matches!(
                reference.category,
                Category::Phones | Category::Computers | Category::Accessories
            ));
        }
    }
}

/// The EU FBA size tiers of the reference notes, smallest first: a reference is in the first
/// tier whose weight and sorted dimensions it fits.
fn fba_tier(weight_g: i32, dims: [i32; 3]) -> &'static str {
    let fits = |max_g: i32, max: [i32; 3]| {
        weight_g <= max_g && dims.iter().zip(max).all(|(&dim, limit)| dim <= limit)
    };
    if fits(80, [200, 150, 10]) {
        "small envelope"
    } else if fits(960, [330, 230, 60]) {
        "envelope"
    } else if fits(11_900, [450, 340, 260]) {
        "parcel"
    } else if fits(31_500, [1_200, 600, 600]) {
        "oversize"
    } else {
        "special oversize"
    }
}

#[test]
fn weights_and_sizes_spread_over_every_fba_tier() {
    let catalogue = catalogue();
    let mut tiers = BTreeMap::new();
    for reference in &catalogue.references {
        let product = &reference.product;
        let dims = [
            product.length_mm.unwrap(),
            product.width_mm.unwrap(),
            product.height_mm.unwrap(),
        ];
        assert!(dims[0] >= dims[1] && dims[1] >= dims[2] && dims[2] >= 1);
        let weight = product.weight_g.unwrap();
        assert!(weight >= 1);
        *tiers.entry(fba_tier(weight, dims)).or_insert(0usize) += 1;
    }
    for tier in [
        "small envelope",
        "envelope",
        "parcel",
        "oversize",
        "special oversize",
    ] {
        let count = tiers.get(tier).copied().unwrap_or(0);
        assert!(
            share(count, catalogue.references.len()) > 0.01,
            "{tier}: {tiers:?}"
        );
    }
}

#[test]
fn every_reference_is_listed_with_the_marketplace_category_label() {
    let catalogue = catalogue();
    let mut per_channel = BTreeMap::new();
    for reference in &catalogue.references {
        assert!(!reference.listings.is_empty());
        let channels: BTreeSet<Channel> = reference.listings.iter().map(|l| l.channel).collect();
        assert_eq!(
            channels.len(),
            reference.listings.len(),
            "one listing per channel"
        );
        for listing in &reference.listings {
            assert!(!listing.marketplace_category.is_empty());
            assert!(
                !listing.fulfilled_by_amazon
                    || (listing.channel == Channel::Amazon && listing.we_sell)
            );
            *per_channel.entry(listing.channel).or_insert(0usize) += 1;
        }
        assert!(reference.market_price_incl_vat > Decimal::ZERO);
    }
    assert_eq!(per_channel.len(), 4, "{per_channel:?}");
    // Mirakl marketplaces carry a minority of the catalogue, Amazon most of it.
    assert!(per_channel[&Channel::Mirakl] < per_channel[&Channel::Amazon] / 2);
    let laptops = catalogue
        .references
        .iter()
        .find(|reference| reference.product.title.starts_with("Ordinateur portable"))
        .expect("the catalogue has laptops");
    for listing in &laptops.listings {
        let expected = match listing.channel {
            Channel::Amazon => "Informatique",
            Channel::Cdiscount => "INFORMATIQUE > Ordinateurs portables",
            Channel::FnacDarty => "Ordinateurs portables",
            Channel::Mirakl => "Informatique > PC portables",
        };
        assert_eq!(listing.marketplace_category, expected);
    }
}

#[test]
fn suppliers_costs_and_exchange_rates_are_consistent() {
    let catalogue = catalogue();
    let rate = |currency: &str| catalogue.eur_per_unit(currency).expect("rate listed");
    assert_eq!(rate("EUR"), Decimal::ONE);
    let mut currencies = BTreeSet::new();
    let mut unprofitable = 0usize;
    for reference in &catalogue.references {
        let offers = &reference.supplier_offers;
        assert!((1..=4).contains(&offers.len()));
        let suppliers: BTreeSet<usize> = offers.iter().map(|offer| offer.supplier).collect();
        assert_eq!(suppliers.len(), offers.len(), "distinct suppliers");
        let mut cheapest_eur = None::<Decimal>;
        for offer in offers {
            let supplier = &catalogue.suppliers[offer.supplier];
            assert_eq!(offer.currency, supplier.currency);
            currencies.insert(offer.currency);
            assert!(offer.unit_cost_excl_vat > Decimal::ZERO);
            assert!(offer.moq >= 1);
            let (low, high) = supplier.lead_time_days;
            assert!((low..=high).contains(&offer.lead_time_days));
            assert!(offer.valid_from <= catalogue.as_of && catalogue.as_of < offer.valid_to);
            let eur = offer.unit_cost_excl_vat * rate(offer.currency);
            cheapest_eur = Some(cheapest_eur.map_or(eur, |best| best.min(eur)));
        }
        assert!(reference.erp_standard_cost > Decimal::ZERO);
        let price_excl_vat =
            reference.market_price_incl_vat / (Decimal::ONE + reference.product.vat_rate);
        if cheapest_eur.expect("at least one offer") > price_excl_vat * Decimal::new(88, 2) {
            unprofitable += 1;
        }
    }
    assert_eq!(currencies, BTreeSet::from(["EUR", "GBP", "USD"]));
    let unprofitable = share(unprofitable, catalogue.references.len());
    assert!((0.03..0.15).contains(&unprofitable), "{unprofitable}");
    assert!(catalogue.price_lists_valid_until() > catalogue.as_of);
}

#[test]
fn suppliers_beyond_the_table_are_distinct_branches() {
    let catalogue = Catalogue::generate(&CatalogueParams {
        references: 50,
        suppliers: 45,
        ..CatalogueParams::default()
    })
    .unwrap();
    let ids: BTreeSet<&str> = catalogue.suppliers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 45);
    assert!(ids.contains("eurotech_3"));
    assert_eq!(
        catalogue.suppliers[0].file_source(),
        "supplier.eurotech.csv"
    );
    assert_eq!(
        catalogue.suppliers[2].price_source(),
        "odoo.product.supplierinfo"
    );
}

#[test]
fn generation_is_deterministic_per_seed() {
    let params = CatalogueParams {
        references: 500,
        ..CatalogueParams::default()
    };
    let first = Catalogue::generate(&params).unwrap();
    assert_eq!(first, Catalogue::generate(&params).unwrap());
    let other = Catalogue::generate(&CatalogueParams { seed: 43, ..params }).unwrap();
    assert_ne!(first.references, other.references);
}

#[test]
fn invalid_parameters_are_named() {
    for (params, field) in [
        (
            CatalogueParams {
                references: 0,
                ..CatalogueParams::default()
            },
            "references",
        ),
        (
            CatalogueParams {
                suppliers: 0,
                ..CatalogueParams::default()
            },
            "suppliers",
        ),
        (
            CatalogueParams {
                upc_share: 1.5,
                ..CatalogueParams::default()
            },
            "upc_share",
        ),
        (
            CatalogueParams {
                upc_share: 0.6,
                ean8_share: 0.6,
                ..CatalogueParams::default()
            },
            "upc_share + ean8_share",
        ),
    ] {
        let error = Catalogue::generate(&params).unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}
