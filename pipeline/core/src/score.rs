//! The explainable score of one reference on one channel, in [0, 100], and the entry point
//! the stream processor calls ([`score_reference`]).
//!
//! The score is the sum of seven contributions, each `100 × weight × normalised factor`
//! rounded to four decimals (the published scale), so the published contributions add up to
//! the published score exactly. Same inputs, same bytes: no clock, no float, no hash-order
//! dependence; the time a score describes is an explicit `now` or the newest input's time.

pub mod factors;
pub mod freshness;
pub mod velocity;

use std::cell::OnceCell;
use std::sync::Arc;

use hub_schemas::records::{
    CostSignal, EpochMillis, FactorContribution, Label, OfferSignal, ProductReference,
    ReferenceScore, StockSignal, StockSource,
};
use rust_decimal::Decimal;

use crate::action::{self, Recommendation};
use crate::category::{Category, UnknownCategory};
use crate::channel::Channel;
use crate::fees::{FeeError, FeeSchedule, Parcel};
use crate::margin::{
    self, ChannelFees, Fulfilment, FulfilmentMethod, Margin, MarginError, OperationalCosts,
    PricedTerms, ProductCost, SaleTerms,
};
use crate::money::{self, FxError, FxRates};
use crate::profile::{EconomicsConfig, SellerProfile, WeightProfile};
use factors::{FactorInputs, FactorValue};
use freshness::{Freshness, Freshnesses, InputAge};
use velocity::SalesRankCurve;

/// The factors of the score, in the order explanations list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Factor {
    MarginPotential,
    PriceCompetitiveness,
    MarketAttractiveness,
    Availability,
    ChannelCostShare,
    OperationalCostShare,
    DataFreshness,
}

impl Factor {
    pub const ALL: [Factor; 7] = [
        Factor::MarginPotential,
        Factor::PriceCompetitiveness,
        Factor::MarketAttractiveness,
        Factor::Availability,
        Factor::ChannelCostShare,
        Factor::OperationalCostShare,
        Factor::DataFreshness,
    ];

    pub const KEYS: &'static str = "margin_potential, price_competitiveness, \
        market_attractiveness, availability, channel_cost_share, operational_cost_share, \
        data_freshness";

    pub fn key(self) -> &'static str {
        match self {
            Factor::MarginPotential => "margin_potential",
            Factor::PriceCompetitiveness => "price_competitiveness",
            Factor::MarketAttractiveness => "market_attractiveness",
            Factor::Availability => "availability",
            Factor::ChannelCostShare => "channel_cost_share",
            Factor::OperationalCostShare => "operational_cost_share",
            Factor::DataFreshness => "data_freshness",
        }
    }

    pub fn from_key(key: &str) -> Option<Factor> {
        Factor::ALL.into_iter().find(|factor| factor.key() == key)
    }
}

/// Our own offer on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub price_incl_vat: Decimal,
    pub shipping_incl_vat: Decimal,
}

/// What the channel shows for the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Market {
    /// `None`: we have no offer on the channel.
    pub listing: Option<Listing>,
    /// Landed (price + shipping) buy box price.
    pub buy_box_incl_vat: Option<Decimal>,
    pub we_own_buy_box: Option<bool>,
    pub lowest_landed_incl_vat: Option<Decimal>,
    /// Offers on the page, ours included when listed.
    pub offer_count: Option<i32>,
    pub sales_rank: Option<i64>,
}

/// Units we can sell on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    /// In our warehouse, plus at Amazon for the Amazon channel.
    pub own_units: i64,
    /// At suppliers; `None` when the supplier's quantity is not known but it delivers.
    pub supplier_units: Option<i64>,
    /// The shortest lead time of a supplier that has units.
    pub supplier_lead_time_days: Option<i32>,
}

/// When each kind of input was observed; `None` when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observations {
    pub offer: Option<EpochMillis>,
    pub stock: Option<EpochMillis>,
    pub cost: Option<EpochMillis>,
}

/// Which price a margin is computed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    OurPrice,
    BuyBox,
    LowestOffer,
}

impl PriceSource {
    pub fn label(self) -> &'static str {
        match self {
            PriceSource::OurPrice => "our price",
            PriceSource::BuyBox => "the buy box price",
            PriceSource::LowestOffer => "the lowest offer's price",
        }
    }
}

/// The price a reference is evaluated at: ours when listed, else what the market pays
/// (the landed buy box, else the lowest landed offer, shipping included in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceBasis {
    pub basis: PriceSource,
    pub price_incl_vat: Decimal,
    pub shipping_incl_vat: Decimal,
}

/// The inputs of one evaluation, already joined and checked; shared by the stream
/// processor ([`score_reference`]) and `hub quote` so both apply the same rules.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub channel: Channel,
    /// The channel's currency: prices, fees and the product cost are all in it.
    pub currency: &'a str,
    pub schedule: &'a FeeSchedule,
    /// The category the channel charges under.
    pub fee_category: Category,
    pub vat_rate: Decimal,
    pub levies_incl_vat: Decimal,
    /// `None` when fulfilment cannot be priced (FBA without the parcel's dimensions).
    pub fulfilment: Option<Fulfilment>,
    pub digital_services_fee: bool,
    pub expected_monthly_units: Option<u32>,
    pub operational: OperationalCosts,
    pub market: Market,
    /// `None` when no stock line is known.
    pub supply: Option<Supply>,
    pub product_cost: Option<ProductCost>,
    pub rank_curve: Option<&'a SalesRankCurve>,
    pub observed: Observations,
    /// The moment the score describes.
    pub at: EpochMillis,
    /// Inputs found missing while joining (e.g. `product_dimensions`, `category_mapping`).
    pub missing: Vec<&'static str>,
    /// The source that archived the reference (`ProductReference::active` false), when one
    /// did: it is no longer sold, whatever its margin.
    pub archived_by: Option<&'a str>,
}

/// One weighted factor, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorScore {
    pub factor: Factor,
    pub value: FactorValue,
    pub weight: Decimal,
    pub contribution: Decimal,
}

/// Everything one evaluation concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub price: Option<PriceBasis>,
    pub fees: Option<ChannelFees>,
    pub margin: Option<Margin>,
    pub factors: Vec<FactorScore>,
    /// Sum of the contributions, scale 4, in [0, 100].
    pub score: Decimal,
    /// Weighted confidence of the factors, scale 4, in [0, 1].
    pub confidence: Decimal,
    /// Sorted, without duplicates.
    pub missing_inputs: Vec<Label>,
    pub recommendation: Recommendation,
}

impl Situation<'_> {
    fn terms(&self, price: &PriceBasis) -> Option<SaleTerms<'_>> {
        Some(SaleTerms {
            schedule: self.schedule,
            category: self.fee_category,
            vat_rate: self.vat_rate,
            shipping_incl_vat: price.shipping_incl_vat,
            levies_incl_vat: self.levies_incl_vat,
            fulfilment: self.fulfilment?,
            digital_services_fee: self.digital_services_fee,
            expected_monthly_units: self.expected_monthly_units,
            operational: self.operational,
        })
    }

    fn price_basis(&self) -> Option<PriceBasis> {
        let market = &self.market;
        if let Some(listing) = market.listing {
            return Some(PriceBasis {
                basis: PriceSource::OurPrice,
                price_incl_vat: listing.price_incl_vat,
                shipping_incl_vat: listing.shipping_incl_vat,
            });
        }
        let landed = |basis, price: Option<Decimal>| {
            price
                .filter(|price| *price > Decimal::ZERO)
                .map(|price_incl_vat| PriceBasis {
                    basis,
                    price_incl_vat,
                    shipping_incl_vat: Decimal::ZERO,
                })
        };
        landed(PriceSource::BuyBox, market.buy_box_incl_vat)
            .or_else(|| landed(PriceSource::LowestOffer, market.lowest_landed_incl_vat))
    }
}

/// Evaluates a situation under a weight profile: margin, factors, score, confidence and
/// recommended action.
pub fn evaluate(
    situation: &Situation<'_>,
    profile: &WeightProfile,
) -> Result<Evaluation, MarginError> {
    let price = situation.price_basis();
    let terms = price.as_ref().and_then(|price| situation.terms(price));
    // Prepared once for the lines at the price and the reprice solve.
    let priced = terms.as_ref().map(PricedTerms::new).transpose()?;
    let fees = match (&priced, &price) {
        (Some(priced), Some(price)) => Some(priced.channel_fees(price.price_incl_vat)?),
        _ => None,
    };
    let computed_margin = match (fees, &situation.product_cost) {
        (Some(fees), Some(cost)) => Some(margin::margin_with_fees(fees, cost)?),
        _ => None,
    };
    // The target price serves two readers: competitiveness of a reference we do not list,
    // and the reprice rule. A listed reference that keeps its price needs neither.
    let target_margin_rate = profile.actions.target_margin_rate;
    let target_price_needed = match (&situation.market.listing, &computed_margin) {
        (None, _) => true,
        (Some(_), Some(listed)) => {
            listed.net_margin_excl_vat >= Decimal::ZERO
                && (situation.market.we_own_buy_box == Some(false)
                    || listed.margin_rate < target_margin_rate)
        }
        (Some(_), None) => false,
    };
    let target_price = match (&priced, &situation.product_cost) {
        (Some(priced), Some(cost)) if target_price_needed => {
            Some(priced.price_for_margin_rate(cost, target_margin_rate)?)
        }
        _ => None,
    };

    let mut fee_blockers: Vec<&'static str> = situation.missing.clone();
    if price.is_none() {
        fee_blockers.push(if situation.observed.offer.is_some() {
            "offer_price"
        } else {
            "offer"
        });
    }
    let mut margin_blockers = fee_blockers.clone();
    if situation.product_cost.is_none() {
        margin_blockers.push("product_cost");
    }

    let at = situation.at;
    let observed = situation.observed;
    let half_lives = &profile.freshness;
    let fresh = |observed: Option<EpochMillis>, half_life| {
        observed.map(|observed| Freshness::new(InputAge::new(at - observed), half_life))
    };
    let inputs = FactorInputs {
        situation,
        profile,
        price,
        fees: fees.as_ref(),
        margin: computed_margin.as_ref(),
        target_price,
        velocity: OnceCell::new(),
        freshness: Freshnesses {
            offer: fresh(observed.offer, half_lives.offer_hours),
            stock: fresh(observed.stock, half_lives.stock_hours),
            cost: fresh(observed.cost, half_lives.cost_hours),
        },
        fee_blockers: &fee_blockers,
        margin_blockers: &margin_blockers,
    };

    // Room for the margin's blockers and the five more inputs that can be found missing
    // below, so that the list is allocated once, and then published as it is.
    let mut missing_inputs: Vec<Label> = Vec::with_capacity(margin_blockers.len() + 5);
    missing_inputs.extend(margin_blockers.iter().map(|input| Label::Borrowed(input)));
    let mut missing = |input: &'static str| missing_inputs.push(Label::Borrowed(input));
    let market = &situation.market;
    if market.buy_box_incl_vat.is_none() && market.lowest_landed_incl_vat.is_none() {
        missing("competitor_price");
    }
    if market.sales_rank.is_none() {
        missing("sales_rank");
    } else if situation.rank_curve.is_none() {
        missing("sales_rank_curve");
    }
    if market.offer_count.is_none() {
        missing("offer_count");
    }
    match &situation.supply {
        None => missing("stock"),
        Some(supply) if supply.own_units <= 0 && supply.supplier_lead_time_days.is_none() => {
            if supply.supplier_units.is_none_or(|units| units > 0) {
                missing("supplier_lead_time");
            }
        }
        Some(_) => {}
    }
    if market.listing.is_some() && market.we_own_buy_box.is_none() {
        missing("we_own_buy_box");
    }
    missing_inputs.sort_unstable();
    missing_inputs.dedup();

    let mut score = Decimal::ZERO;
    let factors: Vec<FactorScore> = Factor::ALL
        .into_iter()
        .map(|factor| {
            let mut value = match factor {
                Factor::MarginPotential => inputs.margin_potential(),
                Factor::PriceCompetitiveness => inputs.price_competitiveness(),
                Factor::MarketAttractiveness => inputs.market_attractiveness(),
                Factor::Availability => inputs.availability(),
                Factor::ChannelCostShare => inputs.channel_cost_share(),
                Factor::OperationalCostShare => inputs.operational_cost_share(),
                Factor::DataFreshness => inputs.data_freshness(),
            };
            value.normalised = money::rate(money::unit_interval(value.normalised));
            value.raw_value = value.raw_value.map(money::rate);
            let weight = profile.weight(factor);
            let contribution = money::contribution(weight, value.normalised);
            score += contribution;
            FactorScore {
                factor,
                value,
                weight,
                contribution,
            }
        })
        .collect();
    let confidence = inputs.freshness.weighted_confidence(
        factors
            .iter()
            .map(|factor| (factor.weight, factor.value.confidence)),
    );

    let recommendation = action::recommend(&action::Decision {
        situation,
        price: price.as_ref(),
        margin: computed_margin.as_ref(),
        target_price,
        target_margin_rate,
        margin_blockers: &margin_blockers,
    });

    Ok(Evaluation {
        price,
        fees,
        margin: computed_margin,
        factors,
        score: money::fixed(score, money::SCORE_SCALE),
        confidence,
        missing_inputs,
        recommendation,
    })
}

/// The joined inputs of one reference on one channel, as the stream processor holds them,
/// and the configuration they are scored under.
#[derive(Debug, Clone, Copy)]
pub struct ScoringInput<'a> {
    pub reference: &'a ProductReference,
    pub channel: Channel,
    /// The latest offer signal of this reference on this channel, if any.
    pub offer: Option<&'a OfferSignal>,
    /// The latest line per (stock source, location); every channel reads the same lines.
    pub stock: &'a [StockSignal],
    /// The latest line per (cost kind, supplier); the cheapest valid one is used.
    pub costs: &'a [CostSignal],
    /// Fee schedules and category maps.
    pub config: &'a EconomicsConfig,
    pub weights: &'a WeightProfile,
    pub seller: &'a SellerProfile,
    /// Rates into the channel's currency for cost lines in other currencies.
    pub fx: &'a FxRates,
    /// The record's version (see `reference_score.avsc`): the caller's state counter.
    pub version: i64,
    /// The moment to score at; `None` uses the newest input's observation time.
    pub now: Option<EpochMillis>,
}

/// Why a reference could not be scored at all (as opposed to scored with missing inputs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("reference {gtin}: category: {source}")]
    Category {
        gtin: String,
        source: UnknownCategory,
    },
    #[error(
        "reference {gtin}: the offer signal is for channel {found:?} but was joined to {expected}; \
         the processor's join key is wrong"
    )]
    OfferChannel {
        gtin: String,
        expected: Channel,
        found: String,
    },
    #[error(
        "reference {gtin} on {channel}: offer currency {offer_currency} differs from the fee \
         schedule's {schedule_currency}; add a schedule in {offer_currency} or fix the connector"
    )]
    Currency {
        gtin: String,
        channel: Channel,
        offer_currency: String,
        schedule_currency: String,
    },
    #[error("reference {gtin}: {source}")]
    Fees { gtin: String, source: FeeError },
    #[error("reference {gtin}: cost lines: {source}")]
    Fx { gtin: String, source: FxError },
    #[error("reference {gtin} on {channel}: {source}")]
    Margin {
        gtin: String,
        channel: Channel,
        source: MarginError,
    },
}

/// Scores one reference on one channel: the `ReferenceScore` exactly as it is published on
/// `hub.scores.current` and `hub.scores.history`.
pub fn score_reference(input: &ScoringInput<'_>) -> Result<ReferenceScore, ScoringError> {
    let reference = input.reference;
    let gtin = || reference.gtin.clone();
    let channel = input.channel;
    let reference_category: Category =
        reference
            .category
            .parse()
            .map_err(|source| ScoringError::Category {
                gtin: gtin(),
                source,
            })?;
    if let Some(offer) = input.offer
        && offer.channel != channel.key()
    {
        return Err(ScoringError::OfferChannel {
            gtin: gtin(),
            expected: channel,
            found: offer.channel.clone(),
        });
    }

    let stock_observed = input.stock.iter().map(|line| line.observed_at).max();
    let at = input.now.unwrap_or_else(|| {
        [
            Some(reference.updated_at),
            input.offer.map(|offer| offer.observed_at),
            stock_observed,
            input.costs.iter().map(|line| line.observed_at).max(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(reference.updated_at)
    });

    let schedule =
        input
            .config
            .fees
            .in_force(channel, at)
            .map_err(|source| ScoringError::Fees {
                gtin: gtin(),
                source,
            })?;
    let currency = input
        .offer
        .map_or(&*schedule.currency, |offer| &offer.currency);
    if currency != &*schedule.currency {
        return Err(ScoringError::Currency {
            gtin: gtin(),
            channel,
            offer_currency: currency.to_owned(),
            schedule_currency: schedule.currency.to_string(),
        });
    }
    let product_cost =
        margin::select_product_cost(input.costs, currency, input.fx, at).map_err(|source| {
            ScoringError::Fx {
                gtin: gtin(),
                source,
            }
        })?;

    let mut missing = Vec::new();
    let categories = input.config.categories(channel);
    let fee_category = match input
        .offer
        .and_then(|offer| offer.marketplace_category.as_deref())
    {
        Some(name) => categories.hub_category(name).unwrap_or_else(|| {
            missing.push("category_mapping");
            reference_category
        }),
        None => reference_category,
    };
    let terms = input.seller.channel(channel);
    let fulfilment = match terms.fulfilment {
        FulfilmentMethod::Merchant => Some(Fulfilment::Merchant {
            shipping_cost_excl_vat: terms.merchant_shipping_cost_excl_vat,
        }),
        FulfilmentMethod::Fba => {
            let parcel = match (
                reference.weight_g,
                reference.length_mm,
                reference.width_mm,
                reference.height_mm,
            ) {
                (Some(weight), Some(length), Some(width), Some(height)) => Some(Parcel::new(
                    Decimal::from(weight),
                    [length, width, height].map(Decimal::from),
                )),
                _ => None,
            };
            if parcel.is_none() {
                missing.push("product_dimensions");
            }
            parcel.map(Fulfilment::Fba)
        }
    };

    let market = input.offer.map_or_else(Market::default, |offer| Market {
        listing: offer.our_price_incl_vat.map(|price_incl_vat| Listing {
            price_incl_vat,
            shipping_incl_vat: offer.our_shipping_incl_vat.unwrap_or(Decimal::ZERO),
        }),
        buy_box_incl_vat: offer.buy_box_price_incl_vat,
        we_own_buy_box: offer.we_own_buy_box,
        lowest_landed_incl_vat: offer.lowest_landed_price_incl_vat.or_else(|| {
            offer
                .lowest_listing_price_incl_vat
                .map(|price| price + offer.lowest_shipping_incl_vat.unwrap_or(Decimal::ZERO))
        }),
        offer_count: offer.offer_count,
        sales_rank: offer.sales_rank,
    });

    let situation = Situation {
        channel,
        currency,
        schedule,
        fee_category,
        vat_rate: reference.vat_rate,
        levies_incl_vat: reference
            .levies
            .iter()
            .map(|levy| levy.amount_incl_vat)
            .sum(),
        fulfilment,
        digital_services_fee: input.seller.digital_services_fee,
        expected_monthly_units: terms.expected_monthly_units,
        operational: input.seller.operational,
        market,
        supply: supply_for(channel, input.stock),
        observed: Observations {
            offer: input.offer.map(|offer| offer.observed_at),
            stock: stock_observed,
            cost: product_cost.as_ref().map(|cost| cost.observed_at),
        },
        product_cost,
        rank_curve: categories.rank_curve(fee_category),
        at,
        missing,
        archived_by: (!reference.active).then_some(reference.source.as_str()),
    };
    let evaluation =
        evaluate(&situation, input.weights).map_err(|source| ScoringError::Margin {
            gtin: gtin(),
            channel,
            source,
        })?;
    Ok(to_reference_score(input, situation, evaluation))
}

/// Stock usable on `channel`: our warehouse everywhere, Amazon's warehouses only on Amazon.
fn supply_for(channel: Channel, stock: &[StockSignal]) -> Option<Supply> {
    if stock.is_empty() {
        return None;
    }
    let mut supply = Supply {
        own_units: 0,
        supplier_units: Some(0),
        supplier_lead_time_days: None,
    };
    for line in stock {
        let units = line.quantity.max(0);
        match line.stock_source {
            StockSource::Erp => supply.own_units = supply.own_units.saturating_add(units),
            StockSource::Fba if channel == Channel::Amazon => {
                supply.own_units = supply.own_units.saturating_add(units)
            }
            StockSource::Fba => {}
            StockSource::Supplier => {
                supply.supplier_units = supply
                    .supplier_units
                    .map(|total| total.saturating_add(units));
                if units > 0
                    && let Some(days) = line.lead_time_days
                {
                    supply.supplier_lead_time_days = Some(
                        supply
                            .supplier_lead_time_days
                            .map_or(days, |shortest| shortest.min(days)),
                    );
                }
            }
        }
    }
    Some(supply)
}

fn to_reference_score(
    input: &ScoringInput<'_>,
    mut situation: Situation<'_>,
    evaluation: Evaluation,
) -> ReferenceScore {
    // The record takes the cost's source as it is rather than a copy.
    let margin = match (
        &evaluation.margin,
        &evaluation.price,
        situation.product_cost.take(),
    ) {
        (Some(computed), Some(price), Some(cost)) => situation
            .terms(price)
            .map(|terms| margin::breakdown(computed, &terms, cost.source)),
        _ => None,
    };
    ReferenceScore {
        gtin: input.reference.gtin.clone(),
        channel: input.channel.key().into(),
        version: input.version,
        score: evaluation.score,
        confidence: evaluation.confidence,
        factors: evaluation
            .factors
            .into_iter()
            .map(|factor| FactorContribution {
                name: factor.factor.key().into(),
                raw_value: factor.value.raw_value,
                normalised: factor.value.normalised,
                weight: factor.weight,
                contribution: factor.contribution,
                explanation: factor.value.explanation,
            })
            .collect(),
        missing_inputs: evaluation.missing_inputs,
        margin,
        action: evaluation.recommendation.action.key().into(),
        action_rule: evaluation.recommendation.rule,
        target_price_incl_vat: evaluation.recommendation.target_price_incl_vat,
        weights_profile: Arc::clone(&input.weights.name),
        weights_version: Arc::clone(&input.weights.version),
        fee_schedule_version: Arc::clone(&situation.schedule.version),
        offer_observed_at: situation.observed.offer,
        stock_observed_at: situation.observed.stock,
        cost_observed_at: situation.observed.cost,
        scored_at: situation.at,
    }
}
