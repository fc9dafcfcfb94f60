//! The Selling Partner API's payloads, in their documented shapes (models of
//! `amzn/selling-partner-api-models`: productPricingV0, catalogItems_2022-04-01,
//! productFeesV0, fbaInventory, and the ANY_OFFER_CHANGED notification schema). Only the
//! fields the hub reads are declared; serde ignores the others, so an API that adds fields
//! keeps decoding. Amounts are read exactly ([`crate::wire::json_decimal`]).
//!
//! Lists whose elements are mapped one by one are kept as [`RawValue`]s, so one malformed
//! element is quarantined with its own bytes while its neighbours still decode.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::wire::json_decimal;

/// `MoneyType`: an amount in a currency, VAT included on amazon.fr.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Money {
    #[serde(rename = "CurrencyCode")]
    pub currency_code: String,
    #[serde(rename = "Amount", deserialize_with = "json_decimal::exact")]
    pub amount: Decimal,
}

/// One entry of an `errors` list (every SP-API operation's error shape).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

/// The body of an error answer: `{"errors": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

// ---------------------------------------------------------------------------------------
// Product Pricing v0: getItemOffers and getItemOffersBatch.
// ---------------------------------------------------------------------------------------

/// `GetOffersResponse`: `payload` on success, `errors` otherwise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GetOffersResponse {
    pub payload: Option<GetOffersResult>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// `GetOffersResult`: the offers on one ASIN's product page for one item condition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GetOffersResult {
    #[serde(rename = "marketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "ASIN")]
    pub asin: Option<String>,
    #[serde(rename = "ItemCondition")]
    pub item_condition: String,
    /// `Success`, `NoBuyableOffers`, `ActiveButTooSoonForProcessing`...
    pub status: String,
    #[serde(rename = "Identifier")]
    pub identifier: ItemIdentifier,
    #[serde(rename = "Summary")]
    pub summary: Summary,
    /// Required by the productPricingV0 model (empty when nobody offers the item): a page
    /// without it cannot tell "no offer" from a broken answer, so it is not read.
    #[serde(rename = "Offers")]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemIdentifier {
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "ASIN")]
    pub asin: Option<String>,
}

/// The page's summary. getItemOffers writes `condition` and `fulfillmentChannel` in camel
/// case where the ANY_OFFER_CHANGED notification writes `Condition` and
/// `FulfillmentChannel`: the aliases read both, so one type serves both sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Summary {
    /// Required in getItemOffers, absent from the notification.
    #[serde(rename = "TotalOfferCount")]
    pub total_offer_count: Option<i32>,
    #[serde(rename = "NumberOfOffers", default)]
    pub number_of_offers: Vec<OfferCount>,
    #[serde(rename = "LowestPrices", default)]
    pub lowest_prices: Vec<LowestPrice>,
    #[serde(rename = "BuyBoxPrices", default)]
    pub buy_box_prices: Vec<BuyBoxPrice>,
    #[serde(rename = "ListPrice")]
    pub list_price: Option<Money>,
    #[serde(rename = "SalesRankings", default)]
    pub sales_rankings: Vec<SalesRank>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OfferCount {
    #[serde(rename = "condition", alias = "Condition")]
    pub condition: String,
    #[serde(rename = "fulfillmentChannel", alias = "FulfillmentChannel")]
    pub fulfillment_channel: Option<String>,
    #[serde(rename = "OfferCount")]
    pub offer_count: Option<i32>,
}

/// `LowestPriceType`. Quantity-discount tiers (`quantityTier`) carry only a listing price.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LowestPrice {
    #[serde(rename = "condition", alias = "Condition")]
    pub condition: String,
    #[serde(rename = "fulfillmentChannel", alias = "FulfillmentChannel")]
    pub fulfillment_channel: String,
    /// `B2C` or `B2B`; absent means B2C.
    #[serde(rename = "offerType")]
    pub offer_type: Option<String>,
    #[serde(rename = "quantityTier")]
    pub quantity_tier: Option<i32>,
    #[serde(rename = "LandedPrice")]
    pub landed_price: Option<Money>,
    #[serde(rename = "ListingPrice")]
    pub listing_price: Money,
    #[serde(rename = "Shipping")]
    pub shipping: Option<Money>,
}

/// `BuyBoxPriceType`: the featured offer's prices for one condition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuyBoxPrice {
    #[serde(rename = "condition", alias = "Condition")]
    pub condition: String,
    #[serde(rename = "offerType")]
    pub offer_type: Option<String>,
    #[serde(rename = "quantityTier")]
    pub quantity_tier: Option<i32>,
    #[serde(rename = "LandedPrice")]
    pub landed_price: Money,
    #[serde(rename = "ListingPrice")]
    pub listing_price: Money,
    #[serde(rename = "Shipping")]
    pub shipping: Money,
    #[serde(rename = "sellerId")]
    pub seller_id: Option<String>,
}

/// `SalesRankType`: the rank in a category, a display group (`ce_display_on_website`) or a
/// browse node id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SalesRank {
    #[serde(rename = "ProductCategoryId")]
    pub product_category_id: String,
    #[serde(rename = "Rank")]
    pub rank: i64,
}

/// `OfferDetail` (getItemOffers) and the notification's `Offer`: the notification has no
/// `MyOffer`, its receiver is told by `SellerId`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Offer {
    #[serde(rename = "SellerId")]
    pub seller_id: Option<String>,
    #[serde(rename = "MyOffer")]
    pub my_offer: Option<bool>,
    #[serde(rename = "offerType")]
    pub offer_type: Option<String>,
    #[serde(rename = "SubCondition")]
    pub sub_condition: Option<String>,
    #[serde(rename = "ListingPrice")]
    pub listing_price: Money,
    #[serde(rename = "Shipping")]
    pub shipping: Money,
    #[serde(rename = "ShippingTime")]
    pub shipping_time: Option<ShippingTime>,
    #[serde(rename = "IsFulfilledByAmazon")]
    pub is_fulfilled_by_amazon: bool,
    #[serde(rename = "IsBuyBoxWinner")]
    pub is_buy_box_winner: Option<bool>,
}

/// `DetailedShippingTimeType` (camel case in getItemOffers, Pascal case in the notification).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShippingTime {
    #[serde(rename = "minimumHours", alias = "MinimumHours")]
    pub minimum_hours: Option<i64>,
    #[serde(rename = "maximumHours", alias = "MaximumHours")]
    pub maximum_hours: Option<i64>,
    #[serde(rename = "availabilityType", alias = "AvailabilityType")]
    pub availability_type: Option<String>,
}

/// `GetItemOffersBatchResponse`: one response per request, each kept raw so a malformed one
/// is quarantined alone.
#[derive(Debug, Deserialize)]
pub struct GetItemOffersBatchResponse {
    pub responses: Vec<Box<RawValue>>,
}

/// `ItemOffersResponse`: an embedded getItemOffers answer with its own status and headers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemOffersResponse {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub status: Option<HttpStatusLine>,
    pub body: GetOffersResponse,
    pub request: ItemOffersRequestParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpStatusLine {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    #[serde(rename = "reasonPhrase")]
    pub reason_phrase: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemOffersRequestParams {
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "ItemCondition")]
    pub item_condition: String,
    #[serde(rename = "Asin")]
    pub asin: Option<String>,
}

/// `GetItemOffersBatchRequest`: what the client sends, at most 20 requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GetItemOffersBatchRequest {
    pub requests: Vec<ItemOffersRequest>,
}

/// `ItemOffersRequest`: `uri` is the getItemOffers path of one ASIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemOffersRequest {
    pub uri: String,
    pub method: String,
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "ItemCondition")]
    pub item_condition: String,
}

// ---------------------------------------------------------------------------------------
// The ANY_OFFER_CHANGED notification (payload version 1.0), as an SQS message body.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Notification {
    #[serde(rename = "NotificationType")]
    pub notification_type: String,
    #[serde(rename = "PayloadVersion")]
    pub payload_version: String,
    #[serde(rename = "EventTime")]
    pub event_time: String,
    #[serde(rename = "NotificationMetadata")]
    pub metadata: NotificationMetadata,
    #[serde(rename = "Payload")]
    pub payload: NotificationPayload,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationMetadata {
    #[serde(rename = "NotificationId")]
    pub notification_id: String,
    #[serde(rename = "PublishTime")]
    pub publish_time: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NotificationPayload {
    #[serde(rename = "AnyOfferChangedNotification")]
    pub any_offer_changed: AnyOfferChanged,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnyOfferChanged {
    /// The seller the notification is for: our own offer is the one with this `SellerId`.
    #[serde(rename = "SellerId")]
    pub seller_id: String,
    #[serde(rename = "OfferChangeTrigger")]
    pub trigger: OfferChangeTrigger,
    #[serde(rename = "Summary")]
    pub summary: Summary,
    #[serde(rename = "Offers", default)]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OfferChangeTrigger {
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "ASIN")]
    pub asin: String,
    #[serde(rename = "ItemCondition")]
    pub item_condition: String,
    #[serde(rename = "TimeOfOfferChange")]
    pub time_of_offer_change: String,
}

// ---------------------------------------------------------------------------------------
// Catalog Items 2022-04-01: searchCatalogItems and getCatalogItem.
// ---------------------------------------------------------------------------------------

/// `ItemSearchResults`.
#[derive(Debug, Deserialize)]
pub struct ItemSearchResults {
    #[serde(rename = "numberOfResults")]
    pub number_of_results: i64,
    pub pagination: Option<Pagination>,
    pub items: Vec<Box<RawValue>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pagination {
    #[serde(rename = "nextToken")]
    pub next_token: Option<String>,
}

/// `Item`, with the `identifiers` and `salesRanks` data sets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogItem {
    pub asin: String,
    /// Always asked for (`includedData=identifiers`): an item without it cannot be matched
    /// to a reference, so it is not the documented answer and goes to quarantine.
    pub identifiers: Vec<ItemIdentifiersByMarketplace>,
    #[serde(rename = "salesRanks", default)]
    pub sales_ranks: Vec<ItemSalesRanksByMarketplace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemIdentifiersByMarketplace {
    #[serde(rename = "marketplaceId")]
    pub marketplace_id: String,
    pub identifiers: Vec<CatalogIdentifier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogIdentifier {
    /// `EAN`, `GTIN`, `UPC`, `ISBN`, `JAN`...
    #[serde(rename = "identifierType")]
    pub identifier_type: String,
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemSalesRanksByMarketplace {
    #[serde(rename = "marketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "classificationRanks", default)]
    pub classification_ranks: Vec<ClassificationRank>,
    #[serde(rename = "displayGroupRanks", default)]
    pub display_group_ranks: Vec<DisplayGroupRank>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClassificationRank {
    #[serde(rename = "classificationId")]
    pub classification_id: String,
    pub title: String,
    pub rank: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DisplayGroupRank {
    /// The root category, e.g. `ce_display_on_website`.
    #[serde(rename = "websiteDisplayGroup")]
    pub website_display_group: String,
    pub title: String,
    pub rank: i64,
}

// ---------------------------------------------------------------------------------------
// Product Fees v0: getMyFeesEstimateForSKU.
// ---------------------------------------------------------------------------------------

/// `GetMyFeesEstimateRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GetMyFeesEstimateRequest {
    #[serde(rename = "FeesEstimateRequest")]
    pub fees_estimate_request: FeesEstimateRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeesEstimateRequest {
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: String,
    #[serde(rename = "IsAmazonFulfilled")]
    pub is_amazon_fulfilled: bool,
    #[serde(rename = "PriceToEstimateFees")]
    pub price_to_estimate_fees: PriceToEstimateFees,
    /// Our own id for the estimate, echoed back as `SellerInputIdentifier`.
    #[serde(rename = "Identifier")]
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceToEstimateFees {
    #[serde(rename = "ListingPrice")]
    pub listing_price: MoneyOut,
    #[serde(rename = "Shipping")]
    pub shipping: MoneyOut,
}

/// `MoneyType` as we write it: the amount as a JSON number with its exact digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoneyOut {
    #[serde(rename = "CurrencyCode")]
    pub currency_code: String,
    #[serde(rename = "Amount", serialize_with = "json_decimal::serialize")]
    pub amount: Decimal,
}

/// `GetMyFeesEstimateResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GetMyFeesEstimateResponse {
    pub payload: Option<GetMyFeesEstimateResult>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GetMyFeesEstimateResult {
    #[serde(rename = "FeesEstimateResult")]
    pub fees_estimate_result: FeesEstimateResult,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeesEstimateResult {
    /// `Success`, `ClientError` or `ServiceError`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "FeesEstimateIdentifier")]
    pub identifier: Option<FeesEstimateIdentifier>,
    #[serde(rename = "FeesEstimate")]
    pub fees_estimate: Option<FeesEstimate>,
    #[serde(rename = "Error")]
    pub error: Option<FeesEstimateError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeesEstimateIdentifier {
    #[serde(rename = "MarketplaceId")]
    pub marketplace_id: Option<String>,
    #[serde(rename = "IdType")]
    pub id_type: Option<String>,
    #[serde(rename = "IdValue")]
    pub id_value: Option<String>,
    #[serde(rename = "IsAmazonFulfilled")]
    pub is_amazon_fulfilled: Option<bool>,
    #[serde(rename = "SellerInputIdentifier")]
    pub seller_input_identifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeesEstimate {
    #[serde(rename = "TimeOfFeesEstimation")]
    pub time_of_fees_estimation: String,
    #[serde(rename = "TotalFeesEstimate")]
    pub total_fees_estimate: Option<Money>,
    #[serde(rename = "FeeDetailList", default)]
    pub fee_detail_list: Vec<FeeDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeeDetail {
    /// `ReferralFee`, `VariableClosingFee`, `FBAFees`, `DigitalServicesFee`...
    #[serde(rename = "FeeType")]
    pub fee_type: String,
    #[serde(rename = "FeeAmount")]
    pub fee_amount: Money,
    #[serde(rename = "FeePromotion")]
    pub fee_promotion: Option<Money>,
    #[serde(rename = "TaxAmount")]
    pub tax_amount: Option<Money>,
    #[serde(rename = "FinalFee")]
    pub final_fee: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeesEstimateError {
    #[serde(rename = "Type")]
    pub error_type: String,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// FBA Inventory v1: getInventorySummaries.
// ---------------------------------------------------------------------------------------

/// `GetInventorySummariesResponse`: `pagination` sits beside `payload`, not inside it.
#[derive(Debug, Deserialize)]
pub struct GetInventorySummariesResponse {
    pub payload: Option<GetInventorySummariesResult>,
    pub pagination: Option<Pagination>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Deserialize)]
pub struct GetInventorySummariesResult {
    pub granularity: Granularity,
    #[serde(rename = "inventorySummaries")]
    pub inventory_summaries: Vec<Box<RawValue>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Granularity {
    #[serde(rename = "granularityType")]
    pub granularity_type: Option<String>,
    #[serde(rename = "granularityId")]
    pub granularity_id: Option<String>,
}

/// `InventorySummary`; `inventoryDetails` only with `details=true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InventorySummary {
    pub asin: Option<String>,
    #[serde(rename = "fnSku")]
    pub fn_sku: Option<String>,
    #[serde(rename = "sellerSku")]
    pub seller_sku: Option<String>,
    pub condition: Option<String>,
    #[serde(rename = "inventoryDetails")]
    pub inventory_details: Option<InventoryDetails>,
    #[serde(rename = "lastUpdatedTime")]
    pub last_updated_time: Option<String>,
    #[serde(rename = "totalQuantity")]
    pub total_quantity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InventoryDetails {
    #[serde(rename = "fulfillableQuantity")]
    pub fulfillable_quantity: Option<i64>,
    #[serde(rename = "inboundWorkingQuantity")]
    pub inbound_working_quantity: Option<i64>,
    #[serde(rename = "inboundShippedQuantity")]
    pub inbound_shipped_quantity: Option<i64>,
    #[serde(rename = "inboundReceivingQuantity")]
    pub inbound_receiving_quantity: Option<i64>,
}
