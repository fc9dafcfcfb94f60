//! FBA inventory (getInventorySummaries with `details=true`) as [`StockSignal`]s: units at
//! Amazon's fulfilment centres, located at the marketplace. One summary is one element.
//!
//! The quantity is observed when Amazon answers (the page's origin), not at the summary's
//! `lastUpdatedTime`: that is when the stock last *changed*, and a quantity unchanged for
//! weeks is still current.

use hub_core::reason::{Quarantine, ReasonCode};
use hub_schemas::records::{StockSignal, StockSource};
use serde_json::value::RawValue;

use super::catalog::AsinCatalog;
use super::payload::{GetInventorySummariesResponse, InventorySummary};
use super::{Marketplace, rejected, undecodable};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// FBA condition of sellable new units.
const NEW_ITEM: &str = "NewItem";

/// One page of getInventorySummaries, read but not yet mapped: the connector first resolves
/// the ASINs it names (see [`InventoryPage::asins`]).
#[derive(Debug)]
pub struct InventoryPage {
    summaries: Vec<Box<RawValue>>,
    /// The token of the next page (valid 30 seconds), `None` on the last page.
    pub next_token: Option<String>,
}

/// Reads a getInventorySummaries answer (HTTP 200). An answer that is not the documented
/// shape is one rejected element (the whole body), and ends the pagination: there is no
/// token to go on with.
pub fn read_inventory_page(body: &[u8]) -> Result<InventoryPage, Quarantine> {
    let response: GetInventorySummariesResponse = serde_json::from_slice(body)
        .map_err(|error| undecodable("getInventorySummaries answer", &error))?;
    let Some(payload) = response.payload else {
        let errors: Vec<String> = response
            .errors
            .iter()
            .map(|error| format!("{} {}", error.code, error.message))
            .collect();
        return Err(Quarantine::new(
            ReasonCode::MissingField,
            format!(
                "getInventorySummaries answer has no payload (errors: {})",
                errors.join("; ")
            ),
        ));
    };
    Ok(InventoryPage {
        summaries: payload.inventory_summaries,
        next_token: response
            .pagination
            .and_then(|pagination| pagination.next_token),
    })
}

impl InventoryPage {
    /// The ASINs the page names, for the catalog lookup before [`InventoryPage::map`].
    pub fn asins(&self) -> Vec<String> {
        self.summaries
            .iter()
            .filter_map(|raw| serde_json::from_str::<InventorySummary>(raw.get()).ok())
            .filter_map(|summary| summary.asin)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.summaries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }

    /// Maps every summary to a stock signal or a rejected element.
    pub fn map(
        &self,
        catalog: &AsinCatalog,
        marketplace: &Marketplace,
        origin: &Origin,
    ) -> Vec<Sourced> {
        self.summaries
            .iter()
            .map(|raw| {
                let bytes = raw.get().as_bytes();
                match stock_signal(raw, catalog, marketplace, origin) {
                    Ok(stock) => Sourced::Signal {
                        record: SignalRecord::Stock(stock),
                        origin: origin.clone(),
                    },
                    Err(quarantine) => rejected(quarantine, bytes, origin.clone()),
                }
            })
            .collect()
    }
}

fn stock_signal(
    raw: &RawValue,
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: &Origin,
) -> Result<StockSignal, Quarantine> {
    let summary: InventorySummary = serde_json::from_str(raw.get())
        .map_err(|error| undecodable("getInventorySummaries summary", &error))?;
    let sku = summary.seller_sku.as_deref().unwrap_or("?");
    let asin = summary.asin.as_deref().ok_or_else(|| {
        Quarantine::new(
            ReasonCode::MissingField,
            format!("FBA summary for SKU {sku} has no asin"),
        )
    })?;
    if let Some(condition) = summary.condition.as_deref()
        && condition != NEW_ITEM
    {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "FBA summary for SKU {sku} (ASIN {asin}) is condition {condition}: the hub \
                 tracks {NEW_ITEM} stock only"
            ),
        ));
    }
    let gtin = catalog
        .get(asin)
        .and_then(|entry| entry.gtin.clone())
        .ok_or_else(|| {
            Quarantine::new(
                ReasonCode::MissingField,
                format!(
                    "FBA summary for SKU {sku}: ASIN {asin} has no GTIN in the catalog of \
                     marketplace {}",
                    marketplace.id
                ),
            )
        })?;
    let details = summary.inventory_details.as_ref();
    let quantity = details
        .and_then(|details| details.fulfillable_quantity)
        .ok_or_else(|| {
            Quarantine::new(
                ReasonCode::MissingField,
                format!(
                    "FBA summary for SKU {sku} (ASIN {asin}) has no \
                     inventoryDetails.fulfillableQuantity: request details=true"
                ),
            )
        })?;
    let inbound: Vec<i64> = details
        .into_iter()
        .flat_map(|details| {
            [
                details.inbound_working_quantity,
                details.inbound_shipped_quantity,
                details.inbound_receiving_quantity,
            ]
        })
        .flatten()
        .collect();
    Ok(StockSignal {
        gtin,
        stock_source: StockSource::Fba,
        location: Some(marketplace.id.clone()),
        quantity,
        incoming_quantity: (!inbound.is_empty()).then(|| inbound.iter().sum()),
        lead_time_days: None,
        source: origin.source.clone(),
        request_id: origin.request_id.clone(),
        observed_at: origin.observed_at,
    })
}
