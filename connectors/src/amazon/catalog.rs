//! ASIN -> GTIN, and the root-category sales rank, from Catalog Items 2022-04-01. Offers,
//! notifications and FBA inventory name products by ASIN while every hub topic is keyed by
//! GTIN: the catalog is the bridge. searchCatalogItems with `identifiersType=EAN` finds
//! our references' ASINs; with `identifiersType=ASIN` it names the GTIN of an ASIN seen
//! first in a notification or in FBA inventory.

use std::collections::HashMap;

use hub_core::gtin::gtin_13;

use super::payload::{CatalogItem, ItemSearchResults};
use super::undecodable;
use hub_core::reason::Quarantine;

/// The identifier types that carry a GTIN, in order of preference.
const GTIN_IDENTIFIER_TYPES: [&str; 3] = ["EAN", "GTIN", "UPC"];

/// Root categories are Amazon's website display groups (`ce_display_on_website`); their
/// ranks are the ones the hub's sales-rank curves are calibrated on.
const DISPLAY_GROUP_SUFFIX: &str = "_display_on_website";

/// Whether a `ProductCategoryId` names a root category (a display group) rather than a
/// browse node deeper in the tree.
pub fn is_root_category(product_category_id: &str) -> bool {
    product_category_id.ends_with(DISPLAY_GROUP_SUFFIX)
}

/// A rank in a root category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRank {
    pub category: String,
    pub rank: i64,
}

/// What the catalog says about one ASIN in our marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub asin: String,
    /// The GTIN as the catalog writes it, `None` when the item has no EAN, GTIN or UPC in
    /// the marketplace. Not normalised: the quality gate validates and normalises it.
    pub gtin: Option<String>,
    pub root_rank: Option<RootRank>,
}

impl CatalogEntry {
    /// Reads an `Item` (with the `identifiers` and `salesRanks` data sets) for one
    /// marketplace. A valid GTIN is preferred over an invalid one of a preferred type, so a
    /// mistyped EAN does not hide a good UPC; with no valid one, the first is kept for the
    /// gate to refuse with its reason.
    pub fn from_item(item: &CatalogItem, marketplace_id: &str) -> CatalogEntry {
        let candidates: Vec<&str> = GTIN_IDENTIFIER_TYPES
            .iter()
            .flat_map(|wanted| {
                item.identifiers
                    .iter()
                    .filter(|group| group.marketplace_id == marketplace_id)
                    .flat_map(|group| &group.identifiers)
                    .filter(move |identifier| identifier.identifier_type == *wanted)
                    .map(|identifier| identifier.identifier.as_str())
            })
            .collect();
        let gtin = candidates
            .iter()
            .find(|candidate| gtin_13(candidate).is_ok())
            .or(candidates.first())
            .map(|gtin| (*gtin).to_owned());
        let root_rank = item
            .sales_ranks
            .iter()
            .filter(|ranks| ranks.marketplace_id == marketplace_id)
            .flat_map(|ranks| &ranks.display_group_ranks)
            .next()
            .map(|rank| RootRank {
                category: rank.website_display_group.clone(),
                rank: rank.rank,
            });
        CatalogEntry {
            asin: item.asin.clone(),
            gtin,
            root_rank,
        }
    }
}

/// One page of searchCatalogItems, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPage {
    pub entries: Vec<CatalogEntry>,
    /// Items that are not the documented shape, with what is wrong and their bytes: they
    /// go to quarantine, and their ASINs stay unknown, so the offers and stock that name
    /// them are quarantined too.
    pub unreadable: Vec<(Quarantine, Vec<u8>)>,
    pub next_token: Option<String>,
}

/// Reads a searchCatalogItems answer.
pub fn read_search_page(body: &[u8], marketplace_id: &str) -> Result<CatalogPage, String> {
    let results: ItemSearchResults = serde_json::from_slice(body).map_err(|error| {
        format!("searchCatalogItems answer is not the documented ItemSearchResults: {error}")
    })?;
    let mut page = CatalogPage {
        entries: Vec::with_capacity(results.items.len()),
        unreadable: Vec::new(),
        next_token: results
            .pagination
            .and_then(|pagination| pagination.next_token),
    };
    for (index, raw) in results.items.iter().enumerate() {
        match serde_json::from_str::<CatalogItem>(raw.get()) {
            Ok(item) => page
                .entries
                .push(CatalogEntry::from_item(&item, marketplace_id)),
            Err(error) => page.unreadable.push((
                undecodable(&format!("searchCatalogItems item {index}"), &error),
                raw.get().as_bytes().to_vec(),
            )),
        }
    }
    Ok(page)
}

/// The ASINs the connector has resolved, each with its catalog entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsinCatalog {
    by_asin: HashMap<String, CatalogEntry>,
}

impl AsinCatalog {
    pub fn new() -> Self {
        AsinCatalog::default()
    }

    pub fn insert(&mut self, entry: CatalogEntry) {
        self.by_asin.insert(entry.asin.clone(), entry);
    }

    pub fn get(&self, asin: &str) -> Option<&CatalogEntry> {
        self.by_asin.get(asin)
    }

    pub fn contains(&self, asin: &str) -> bool {
        self.by_asin.contains_key(asin)
    }

    pub fn len(&self) -> usize {
        self.by_asin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_asin.is_empty()
    }

    /// The ASINs of `asins` not resolved yet, each once, in first-seen order.
    pub fn unknown<'a>(&self, asins: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut unknown: Vec<String> = Vec::new();
        for asin in asins {
            if !self.contains(asin) && !unknown.iter().any(|seen| seen == asin) {
                unknown.push(asin.to_owned());
            }
        }
        unknown
    }
}

impl FromIterator<CatalogEntry> for AsinCatalog {
    fn from_iter<I: IntoIterator<Item = CatalogEntry>>(entries: I) -> Self {
        let mut catalog = AsinCatalog::new();
        for entry in entries {
            catalog.insert(entry);
        }
        catalog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> CatalogItem {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_valid_upc_wins_over_a_mistyped_ean_and_other_marketplaces_are_ignored() {
        let item = item(
            r#"{"asin": "B000000001", "identifiers": [
                {"marketplaceId": "ATVPDKIKX0DER", "identifiers": [
                    {"identifierType": "EAN", "identifier": "4006381333931"}]},
                {"marketplaceId": "A13V1IB3VIYZZH", "identifiers": [
                    {"identifierType": "EAN", "identifier": "4006381333932"},
                    {"identifierType": "UPC", "identifier": "036000291452"}]}]}"#,
        );
        let entry = CatalogEntry::from_item(&item, "A13V1IB3VIYZZH");
        assert_eq!(entry.gtin.as_deref(), Some("036000291452"));
        assert_eq!(entry.root_rank, None);
    }

    #[test]
    fn with_no_valid_gtin_the_first_is_kept_for_the_gate_and_none_means_none() {
        let mistyped = item(
            r#"{"asin": "B000000002", "identifiers": [{"marketplaceId": "A13V1IB3VIYZZH",
                "identifiers": [{"identifierType": "EAN", "identifier": "4006381333932"}]}]}"#,
        );
        assert_eq!(
            CatalogEntry::from_item(&mistyped, "A13V1IB3VIYZZH")
                .gtin
                .as_deref(),
            Some("4006381333932")
        );
        let bare = item(r#"{"asin": "B000000003", "identifiers": []}"#);
        assert_eq!(CatalogEntry::from_item(&bare, "A13V1IB3VIYZZH").gtin, None);
    }

    #[test]
    fn unknown_asins_are_listed_once_in_order() {
        let catalog: AsinCatalog = [CatalogEntry {
            asin: "B1".to_owned(),
            gtin: None,
            root_rank: None,
        }]
        .into_iter()
        .collect();
        assert_eq!(
            catalog.unknown(["B2", "B1", "B3", "B2"]),
            vec!["B2".to_owned(), "B3".to_owned()]
        );
        assert_eq!(catalog.len(), 1);
        assert!(is_root_category("ce_display_on_website"));
        assert!(!is_root_category("21489946011"));
    }
}
