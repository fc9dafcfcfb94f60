//! `hub quote`: the economics of one hypothetical sale, from one JSON object to one JSON
//! object. The binary's CLI reads stdin, calls [`quote_json`] (or [`quote`]), prints the
//! result and exits 2 on error.
//!
//! A quote charges exactly the costs in its request plus the channel's fee schedule in force
//! at `observed_at` (or `now`): no provision, amortisation or handling cost is added unless
//! the request names a seller `profile`. Unknown fields are refused, and decimals are
//! strings or integers, never floats (see [`crate::money::exact`]).

use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, Label, Levy, LevyKind, OfferSignal, ProductReference,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::channel::Channel;
use crate::fees::{FeeError, Parcel};
use crate::gate::{self, GateConfig, Verdict};
use crate::margin::{Fulfilment, FulfilmentMethod, MarginError, OperationalCosts, ProductCost};
use crate::money::{self, exact};
use crate::profile::bundle::UnknownProfile;
use crate::profile::{ChannelTerms, EconomicsConfig};
use crate::score::{self, Listing, Market, Observations, Situation, Supply};

/// One quote request. Optional fields left out are missing inputs, named in the answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub channel: Channel,
    pub category: Category,
    /// The item price the buyer pays, VAT and levies included.
    #[serde(deserialize_with = "exact::deserialize")]
    pub price_incl_vat: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    pub shipping_incl_vat: Decimal,
    /// VAT rate as a fraction: "0.20" for 20%.
    #[serde(deserialize_with = "exact::deserialize")]
    pub vat_rate: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    pub product_cost_excl_vat: Decimal,
    pub currency: String,
    /// GTIN-13 of the item, for the quality gate; without it the gate checks the request as
    /// a hypothetical item numbered [`HYPOTHETICAL_GTIN`].
    pub gtin: Option<String>,
    /// `merchant` (default) or `fba`.
    pub fulfilment: Option<FulfilmentMethod>,
    /// Merchant fulfilment: what the carrier charges us per parcel; absent, the seller
    /// profile's for the channel, or nothing without a profile.
    #[serde(default, deserialize_with = "exact::option")]
    pub shipping_cost_excl_vat: Option<Decimal>,
    /// FBA: the packed unit.
    pub weight_g: Option<u32>,
    #[serde(default, deserialize_with = "exact::option")]
    pub length_cm: Option<Decimal>,
    #[serde(default, deserialize_with = "exact::option")]
    pub width_cm: Option<Decimal>,
    #[serde(default, deserialize_with = "exact::option")]
    pub height_cm: Option<Decimal>,
    /// Our own cost per unit besides product and channel; replaces the profile's if both.
    #[serde(default, deserialize_with = "exact::option")]
    pub operational_cost_excl_vat: Option<Decimal>,
    /// DEEE eco-participation included in the price, VAT included: passed through.
    #[serde(default, deserialize_with = "exact::option")]
    pub eco_participation: Option<Decimal>,
    #[serde(default, deserialize_with = "exact::option")]
    pub buy_box_price_incl_vat: Option<Decimal>,
    /// Lowest competing landed price (price + shipping).
    #[serde(default, deserialize_with = "exact::option")]
    pub lowest_price_incl_vat: Option<Decimal>,
    /// Offers on the page, ours included.
    pub offer_count: Option<u32>,
    pub sales_rank: Option<u32>,
    /// Units we hold.
    pub stock: Option<u32>,
    /// Days for the supplier to deliver more; given, the supplier is taken to have units.
    pub lead_time_days: Option<u32>,
    /// When the prices were seen (epoch ms); absent means `now`.
    pub observed_at: Option<EpochMillis>,
    /// A seller profile whose provisions, amortisation and fulfilment defaults apply.
    pub profile: Option<String>,
}

/// A GS1 restricted-circulation number (prefix 20-29 is never a traded item), so a quote
/// without a GTIN passes the gate's identity rule and is checked on its amounts and dates.
pub const HYPOTHETICAL_GTIN: &str = "2000000000008";

/// The quality gate's verdict on the records the request describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualityVerdict {
    pub accepted: bool,
    /// `product_reference`, `offer_signal` or `cost_signal` when refused.
    pub record: Option<String>,
    pub reason_code: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteFactor {
    pub name: String,
    pub raw: Option<Decimal>,
    pub normalised: Decimal,
    pub weight: Decimal,
    pub contribution: Decimal,
    pub explanation: String,
}

/// The answer: every money amount a decimal string at scale 4, rates at scale 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteResponse {
    pub channel: Channel,
    /// The category the channel charges under.
    pub category: Category,
    pub currency: String,
    pub price_incl_vat: Decimal,
    pub shipping_incl_vat: Decimal,
    pub levies_incl_vat: Decimal,
    pub revenue_excl_vat: Decimal,
    pub commission_excl_vat: Decimal,
    /// The commission as invoiced, VAT included (recoverable, not in the margin).
    pub commission_incl_vat: Decimal,
    pub digital_services_fee_excl_vat: Decimal,
    pub fulfilment_method: FulfilmentMethod,
    pub fba_tier: Option<String>,
    pub fulfilment_fee_excl_vat: Decimal,
    pub subscription_per_unit_excl_vat: Decimal,
    pub operational_cost_excl_vat: Decimal,
    pub product_cost_excl_vat: Decimal,
    pub net_margin_excl_vat: Decimal,
    pub margin_rate: Decimal,
    pub roi: Decimal,
    pub score: Decimal,
    pub confidence: Decimal,
    pub factors: Vec<QuoteFactor>,
    pub missing_inputs: Vec<String>,
    pub action: String,
    pub action_rule: String,
    pub target_price_incl_vat: Option<Decimal>,
    pub fee_schedule_version: String,
    pub weights_profile: String,
    pub weights_version: String,
    pub seller_profile: Option<String>,
    pub quality: QualityVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("request is not a valid quote: {0}")]
    Json(String),
    #[error("field {field}: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error("field profile: {0}")]
    Profile(#[from] UnknownProfile),
    #[error("{0}")]
    Fees(#[from] FeeError),
    #[error("{0}")]
    Margin(MarginError),
}

fn field(field: &'static str, problem: impl Into<String>) -> QuoteError {
    QuoteError::Field {
        field,
        problem: problem.into(),
    }
}

/// The largest amount a quote takes: far beyond any sale (the quality gate's price ceiling
/// is reported in the verdict), and small enough that no sum or product of a quote's amounts
/// overflows `Decimal`.
const LARGEST_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// The longest packed side a quote takes, in cm.
const LONGEST_SIDE_CM: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// A money input: non-negative, at most [`LARGEST_AMOUNT`] and the contract's four decimals.
fn amount(name: &'static str, value: Decimal) -> Result<Decimal, QuoteError> {
    if value < Decimal::ZERO
        || value > LARGEST_AMOUNT
        || value.normalize().scale() > money::MONEY_SCALE
    {
        return Err(field(
            name,
            format!(
                "{value} must be a non-negative amount up to {LARGEST_AMOUNT} with at most 4 decimals"
            ),
        ));
    }
    Ok(value)
}

/// Parses a request, quotes it and renders the answer, for the CLI.
pub fn quote_json(
    request_json: &str,
    config: &EconomicsConfig,
    gate_config: &GateConfig,
    now: EpochMillis,
) -> Result<String, QuoteError> {
    let request: QuoteRequest =
        serde_json::from_str(request_json).map_err(|error| QuoteError::Json(error.to_string()))?;
    let response = quote(&request, config, gate_config, now)?;
    serde_json::to_string_pretty(&response).map_err(|error| QuoteError::Json(error.to_string()))
}

/// Quotes one sale under the configuration's `default` weight profile.
pub fn quote(
    request: &QuoteRequest,
    config: &EconomicsConfig,
    gate_config: &GateConfig,
    now: EpochMillis,
) -> Result<QuoteResponse, QuoteError> {
    let at = request.observed_at.unwrap_or(now);
    let weights = config.weights("default")?;
    let seller = request
        .profile
        .as_deref()
        .map(|name| config.seller(name))
        .transpose()?;
    let schedule = config.fees.in_force(request.channel, at)?;
    if *request.currency != *schedule.currency {
        return Err(field(
            "currency",
            format!(
                "{:?} differs from the {} fee schedule's {}; quote in {}",
                request.currency, request.channel, schedule.currency, schedule.currency
            ),
        ));
    }
    if request.vat_rate < Decimal::ZERO || request.vat_rate >= Decimal::ONE {
        return Err(field(
            "vat_rate",
            format!(
                "{} must be a fraction in [0, 1), e.g. \"0.20\"",
                request.vat_rate
            ),
        ));
    }
    let price_incl_vat = amount("price_incl_vat", request.price_incl_vat)?;
    let shipping_incl_vat = amount("shipping_incl_vat", request.shipping_incl_vat)?;
    let product_cost_excl_vat = amount("product_cost_excl_vat", request.product_cost_excl_vat)?;
    let levies_incl_vat = request
        .eco_participation
        .map(|levy| amount("eco_participation", levy))
        .transpose()?
        .unwrap_or(Decimal::ZERO);
    let fulfilment = fulfilment(
        request,
        seller.map(|seller| seller.channel(request.channel)),
    )?;
    let operational = match (request.operational_cost_excl_vat, seller) {
        (Some(cost), _) => OperationalCosts {
            handling_excl_vat: amount("operational_cost_excl_vat", cost)?,
            ..OperationalCosts::NONE
        },
        (None, Some(seller)) => seller.operational,
        (None, None) => OperationalCosts::NONE,
    };
    let buy_box_incl_vat = request
        .buy_box_price_incl_vat
        .map(|price| amount("buy_box_price_incl_vat", price))
        .transpose()?;
    let lowest_landed_incl_vat = request
        .lowest_price_incl_vat
        .map(|price| amount("lowest_price_incl_vat", price))
        .transpose()?;
    let to_i32 = |name: &'static str, value: u32| {
        i32::try_from(value).map_err(|_| field(name, format!("{value} is too large")))
    };

    let categories = config.categories(request.channel);
    let product_cost = ProductCost {
        unit_cost_excl_vat: money::money(product_cost_excl_vat),
        source: "request".to_owned(),
        observed_at: at,
    };
    let landed = price_incl_vat + shipping_incl_vat;
    let situation = Situation {
        channel: request.channel,
        currency: &schedule.currency,
        schedule,
        fee_category: request.category,
        vat_rate: request.vat_rate,
        levies_incl_vat,
        fulfilment: Some(fulfilment),
        digital_services_fee: seller.is_none_or(|seller| seller.digital_services_fee),
        expected_monthly_units: seller
            .and_then(|seller| seller.channel(request.channel).expected_monthly_units),
        operational,
        market: Market {
            listing: Some(Listing {
                price_incl_vat,
                shipping_incl_vat,
            }),
            buy_box_incl_vat,
            // A quote prices a listing we would hold: at or under the buy box we take it.
            we_own_buy_box: buy_box_incl_vat.map(|buy_box| landed <= buy_box),
            lowest_landed_incl_vat,
            offer_count: request
                .offer_count
                .map(|count| to_i32("offer_count", count))
                .transpose()?,
            sales_rank: request.sales_rank.map(i64::from),
        },
        supply: supply(request),
        product_cost: Some(product_cost),
        rank_curve: categories.rank_curve(request.category),
        observed: Observations {
            offer: Some(at),
            stock: (request.stock.is_some() || request.lead_time_days.is_some()).then_some(at),
            cost: Some(at),
        },
        at,
        missing: Vec::new(),
        // A quote prices a hypothetical listing, not a reference a source archived.
        archived_by: None,
    };
    let evaluation = score::evaluate(&situation, weights).map_err(|error| match error {
        MarginError::NonPositiveProductCost { .. } => {
            field("product_cost_excl_vat", format!("{error}"))
        }
        MarginError::NonPositiveRevenue { .. } => field("price_incl_vat", format!("{error}")),
        MarginError::NoFbaTable { .. } => field("fulfilment", format!("{error}")),
    })?;
    let computed = evaluation
        .margin
        .expect("a quote always has a price, a fulfilment and a product cost");
    let fees = computed.fees;
    let fba_tier = match fulfilment {
        Fulfilment::Fba(parcel) => schedule
            .fba
            .as_ref()
            .map(|table| table.tier_for(&parcel).name.clone()),
        Fulfilment::Merchant { .. } => None,
    };
    Ok(QuoteResponse {
        channel: request.channel,
        category: request.category,
        currency: schedule.currency.to_string(),
        price_incl_vat: money::money(price_incl_vat),
        shipping_incl_vat: money::money(shipping_incl_vat),
        levies_incl_vat: money::money(levies_incl_vat),
        revenue_excl_vat: money::money(fees.revenue_excl_vat),
        commission_excl_vat: money::money(fees.commission_excl_vat),
        commission_incl_vat: money::money(schedule.fee_incl_vat(fees.commission_excl_vat)),
        digital_services_fee_excl_vat: money::money(fees.digital_services_fee_excl_vat),
        fulfilment_method: fulfilment.method(),
        fba_tier,
        fulfilment_fee_excl_vat: money::money(fees.fulfilment_fee_excl_vat),
        subscription_per_unit_excl_vat: money::money(fees.subscription_per_unit_excl_vat),
        operational_cost_excl_vat: money::money(fees.operational_cost_excl_vat),
        product_cost_excl_vat: money::money(computed.product_cost_excl_vat),
        net_margin_excl_vat: money::money(computed.net_margin_excl_vat),
        margin_rate: computed.margin_rate,
        roi: computed.roi,
        score: evaluation.score,
        confidence: evaluation.confidence,
        factors: evaluation
            .factors
            .into_iter()
            .map(|factor| QuoteFactor {
                name: factor.factor.key().to_owned(),
                raw: factor.value.raw_value,
                normalised: factor.value.normalised,
                weight: factor.weight,
                contribution: factor.contribution,
                explanation: factor.value.explanation,
            })
            .collect(),
        missing_inputs: evaluation
            .missing_inputs
            .into_iter()
            .map(Label::into_owned)
            .collect(),
        action: evaluation.recommendation.action.key().to_owned(),
        action_rule: evaluation.recommendation.rule,
        target_price_incl_vat: evaluation.recommendation.target_price_incl_vat,
        fee_schedule_version: schedule.version.to_string(),
        weights_profile: weights.name.to_string(),
        weights_version: weights.version.to_string(),
        seller_profile: seller.map(|seller| format!("{}@{}", seller.name, seller.version)),
        quality: quality_verdict(request, at, now, gate_config),
    })
}

/// The request's fulfilment, else the seller profile's for the channel (method and carrier
/// cost), else merchant fulfilment at no carrier cost: without a profile only the input is
/// charged.
fn fulfilment(
    request: &QuoteRequest,
    profile_terms: Option<&ChannelTerms>,
) -> Result<Fulfilment, QuoteError> {
    let method = request
        .fulfilment
        .or(profile_terms.map(|terms| terms.fulfilment))
        .unwrap_or(FulfilmentMethod::Merchant);
    match method {
        FulfilmentMethod::Merchant => {
            if request.weight_g.is_some() || request.length_cm.is_some() {
                return Err(field(
                    "fulfilment",
                    "weight_g and dimensions only price FBA; set \"fulfilment\": \"fba\"",
                ));
            }
            Ok(Fulfilment::Merchant {
                shipping_cost_excl_vat: match request.shipping_cost_excl_vat {
                    Some(cost) => amount("shipping_cost_excl_vat", cost)?,
                    None => profile_terms
                        .map_or(Decimal::ZERO, |terms| terms.merchant_shipping_cost_excl_vat),
                },
            })
        }
        FulfilmentMethod::Fba => {
            if request.shipping_cost_excl_vat.is_some() {
                return Err(field(
                    "shipping_cost_excl_vat",
                    "with fba Amazon ships and charges its FBA fee; drop shipping_cost_excl_vat",
                ));
            }
            let weight_g = request
                .weight_g
                .ok_or_else(|| field("weight_g", "fba needs the packed weight in grams"))?;
            let side = |name: &'static str, value: Option<Decimal>| {
                let value = value.ok_or_else(|| field(name, "fba needs the packed dimensions"))?;
                if value <= Decimal::ZERO || value > LONGEST_SIDE_CM {
                    return Err(field(
                        name,
                        format!("{value} must be positive and at most {LONGEST_SIDE_CM} cm"),
                    ));
                }
                Ok(value)
            };
            Ok(Fulfilment::Fba(Parcel::from_cm(
                Decimal::from(weight_g),
                [
                    side("length_cm", request.length_cm)?,
                    side("width_cm", request.width_cm)?,
                    side("height_cm", request.height_cm)?,
                ],
            )))
        }
    }
}

fn supply(request: &QuoteRequest) -> Option<Supply> {
    if request.stock.is_none() && request.lead_time_days.is_none() {
        return None;
    }
    Some(Supply {
        own_units: i64::from(request.stock.unwrap_or(0)),
        supplier_units: None,
        supplier_lead_time_days: request
            .lead_time_days
            .map(|days| i32::try_from(days).unwrap_or(i32::MAX)),
    })
}

/// Runs the quality gate on the reference, offer and cost the request describes, in that
/// order; the first refusal is the verdict, as in the pipeline.
fn quality_verdict(
    request: &QuoteRequest,
    observed_at: EpochMillis,
    now: EpochMillis,
    gate_config: &GateConfig,
) -> QualityVerdict {
    let gtin = request
        .gtin
        .clone()
        .unwrap_or_else(|| HYPOTHETICAL_GTIN.to_owned());
    let source = "hub.quote".to_owned();
    let product = ProductReference {
        gtin: gtin.clone(),
        sku: "quote".to_owned(),
        title: "quote".to_owned(),
        brand: None,
        category: request.category.key().to_owned(),
        vat_rate: request.vat_rate,
        weight_g: request.weight_g.and_then(|grams| i32::try_from(grams).ok()),
        length_mm: None,
        width_mm: None,
        height_mm: None,
        levies: request
            .eco_participation
            .map(|amount_incl_vat| Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat,
            })
            .into_iter()
            .collect(),
        source: source.clone(),
        updated_at: observed_at,
        active: true,
    };
    let offer = OfferSignal {
        gtin: gtin.clone(),
        channel: request.channel.key().to_owned(),
        currency: request.currency.clone(),
        our_price_incl_vat: Some(request.price_incl_vat),
        our_shipping_incl_vat: Some(request.shipping_incl_vat),
        buy_box_price_incl_vat: request.buy_box_price_incl_vat,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: request.lowest_price_incl_vat,
        offer_count: request
            .offer_count
            .and_then(|count| i32::try_from(count).ok()),
        sales_rank: request.sales_rank.map(i64::from),
        marketplace_category: None,
        source: source.clone(),
        request_id: None,
        observed_at,
    };
    let cost = CostSignal {
        gtin,
        cost_kind: CostKind::ErpStandardCost,
        supplier_id: None,
        unit_cost_excl_vat: request.product_cost_excl_vat,
        currency: request.currency.clone(),
        moq: None,
        valid_from: None,
        valid_to: None,
        lead_time_days: None,
        source,
        request_id: None,
        observed_at,
    };
    let refusals = [
        (
            "product_reference",
            gate::check_product(&product, now, gate_config).reason_and_detail(),
        ),
        (
            "offer_signal",
            gate::check_offer(&offer, None, now, gate_config).reason_and_detail(),
        ),
        (
            "cost_signal",
            gate::check_cost(&cost, None, now, gate_config).reason_and_detail(),
        ),
    ];
    match refusals
        .into_iter()
        .find_map(|(record, refusal)| refusal.map(|refusal| (record, refusal)))
    {
        Some((record, (reason, detail))) => QualityVerdict {
            accepted: false,
            record: Some(record.to_owned()),
            reason_code: Some(reason),
            detail: Some(detail),
        },
        None => QualityVerdict {
            accepted: true,
            record: None,
            reason_code: None,
            detail: None,
        },
    }
}

trait Refusal {
    fn reason_and_detail(self) -> Option<(String, String)>;
}

impl<T> Refusal for Verdict<T> {
    fn reason_and_detail(self) -> Option<(String, String)> {
        self.into_result()
            .err()
            .map(|quarantine| (quarantine.reason.as_str().to_owned(), quarantine.detail))
    }
}
