//! Exact per-unit margin of one reference on one channel, and the price that reaches a
//! target margin rate.
//!
//! Every fee is computed as the marketplace charges it: the rate times its base, rounded
//! once to the cent with [`money::COMMERCIAL_ROUNDING`], then raised to the per-item minimum.
//! VAT on fees is recoverable, so the margin uses fees excluding VAT. Totals are exact sums
//! of the rounded lines. `docs/margin.md` works through every line with the published grids.

use std::sync::Arc;

use hub_schemas::records::{CostKind, CostSignal, EpochMillis, MarginBreakdown};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::channel::Channel;
use crate::fees::{FbaTier, FeeSchedule, Parcel};
use crate::money::{self, FxError, FxRates};

#[cfg(test)]
mod properties;
mod solve;
#[cfg(test)]
mod test_grid;

/// Who ships the parcel to the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentMethod {
    Merchant,
    Fba,
}

impl FulfilmentMethod {
    pub fn key(self) -> &'static str {
        match self {
            FulfilmentMethod::Merchant => "merchant",
            FulfilmentMethod::Fba => "fba",
        }
    }
}

/// The fulfilment of one sale with what it needs to be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    /// We ship: the carrier's price per parcel, excl. VAT.
    Merchant { shipping_cost_excl_vat: Decimal },
    /// Amazon ships: its fee follows the parcel's size tier.
    Fba(Parcel),
}

impl Fulfilment {
    pub fn method(&self) -> FulfilmentMethod {
        match self {
            Fulfilment::Merchant { .. } => FulfilmentMethod::Merchant,
            Fulfilment::Fba(_) => FulfilmentMethod::Fba,
        }
    }
}

/// The distributor's own per-unit costs besides the product and the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationalCosts {
    pub handling_excl_vat: Decimal,
    /// Share of revenue excl. VAT set aside for returns.
    pub returns_provision_rate: Decimal,
    pub storage_excl_vat: Decimal,
}

impl OperationalCosts {
    /// No operational cost: what `hub quote` charges unless told otherwise.
    pub const NONE: OperationalCosts = OperationalCosts {
        handling_excl_vat: Decimal::ZERO,
        returns_provision_rate: Decimal::ZERO,
        storage_excl_vat: Decimal::ZERO,
    };
}

/// Everything that prices a sale except the item price itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleTerms<'a> {
    pub schedule: &'a FeeSchedule,
    /// The category the marketplace charges under.
    pub category: Category,
    pub vat_rate: Decimal,
    pub shipping_incl_vat: Decimal,
    /// Eco-participation and private copy levies included in the price: passed through.
    pub levies_incl_vat: Decimal,
    pub fulfilment: Fulfilment,
    /// Whether Amazon's digital services fee applies to this seller.
    pub digital_services_fee: bool,
    /// Spreads the schedule's monthly subscription; `None` spreads nothing.
    pub expected_monthly_units: Option<u32>,
    pub operational: OperationalCosts,
}

impl SaleTerms<'_> {
    /// The FBA tier of the parcel, when Amazon fulfils.
    pub fn fba_tier(&self) -> Result<Option<&FbaTier>, MarginError> {
        match &self.fulfilment {
            Fulfilment::Merchant { .. } => Ok(None),
            Fulfilment::Fba(parcel) => {
                let table = self
                    .schedule
                    .fba
                    .as_ref()
                    .ok_or_else(|| MarginError::NoFbaTable {
                        channel: self.schedule.channel,
                        version: self.schedule.version.to_string(),
                    })?;
                Ok(Some(table.tier_for(parcel)))
            }
        }
    }
}

/// The per-unit lines that depend on the price, excl. VAT, each rounded as charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFees {
    pub price_incl_vat: Decimal,
    pub revenue_excl_vat: Decimal,
    pub commission_excl_vat: Decimal,
    pub digital_services_fee_excl_vat: Decimal,
    pub fulfilment_fee_excl_vat: Decimal,
    pub subscription_per_unit_excl_vat: Decimal,
    pub operational_cost_excl_vat: Decimal,
}

impl ChannelFees {
    /// What the channel takes: commission, digital services fee, fulfilment, subscription.
    pub fn channel_costs_excl_vat(&self) -> Decimal {
        self.commission_excl_vat
            + self.digital_services_fee_excl_vat
            + self.fulfilment_fee_excl_vat
            + self.subscription_per_unit_excl_vat
    }

    fn net_margin_excl_vat(&self, product_cost_excl_vat: Decimal) -> Decimal {
        self.revenue_excl_vat
            - self.channel_costs_excl_vat()
            - self.operational_cost_excl_vat
            - product_cost_excl_vat
    }
}

/// The margin of one unit sold at one price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margin {
    pub fees: ChannelFees,
    pub product_cost_excl_vat: Decimal,
    pub net_margin_excl_vat: Decimal,
    /// Net margin / revenue excl. VAT, at the rate scale.
    pub margin_rate: Decimal,
    /// Net margin / product cost, at the rate scale.
    pub roi: Decimal,
}

/// The landed product cost chosen among the cost lines, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductCost {
    /// In the channel's currency, at the money scale.
    pub unit_cost_excl_vat: Decimal,
    /// `supplier:<id>` or `erp_standard_cost`.
    pub source: String,
    pub observed_at: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarginError {
    #[error(
        "price {price_incl_vat} + shipping {shipping_incl_vat} - levies {levies_incl_vat} (VAT \
         included) leaves no revenue; the price must exceed the levies it includes"
    )]
    NonPositiveRevenue {
        price_incl_vat: Decimal,
        shipping_incl_vat: Decimal,
        levies_incl_vat: Decimal,
    },
    #[error(
        "product cost {unit_cost_excl_vat} ({cost_source}) is not positive; the quality gate should \
         have quarantined this cost line, check its source"
    )]
    NonPositiveProductCost {
        unit_cost_excl_vat: Decimal,
        cost_source: String,
    },
    #[error(
        "fulfilment by Amazon was asked for on {channel}, whose fee schedule {version:?} has no \
         [schedule.fba] table; use merchant fulfilment or add the table"
    )]
    NoFbaTable { channel: Channel, version: String },
}

/// Whether lines are rounded as charged, or kept exact (only to find where the margin
/// crosses a target, which the rounded computation then confirms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Charged,
    Exact,
}

/// Which side of the per-item minimum the commission is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommissionRegime {
    AsCharged,
    Proportional,
    Minimum,
}

fn lines(
    terms: &SaleTerms<'_>,
    price_incl_vat: Decimal,
    precision: Precision,
    regime: CommissionRegime,
) -> Result<ChannelFees, MarginError> {
    let rounded_product = |a: Decimal, b: Decimal| match precision {
        Precision::Charged => money::charged_product(a, b),
        Precision::Exact => a * b,
    };
    let schedule = terms.schedule;
    let revenue_incl_vat = price_incl_vat + terms.shipping_incl_vat - terms.levies_incl_vat;
    let revenue_excl_vat = match precision {
        Precision::Charged => money::charged_excl_vat(revenue_incl_vat, terms.vat_rate),
        Precision::Exact => money::excl_vat(revenue_incl_vat, terms.vat_rate),
    };
    let rule = schedule.commission_rule(terms.category);
    let proportional = rounded_product(
        rule.rate,
        schedule
            .commission_base
            .amount(price_incl_vat, terms.shipping_incl_vat, terms.vat_rate),
    );
    let commission_excl_vat = match regime {
        CommissionRegime::AsCharged => proportional.max(rule.minimum_excl_vat),
        CommissionRegime::Proportional => proportional,
        CommissionRegime::Minimum => rule.minimum_excl_vat,
    };
    let (fulfilment_fee_excl_vat, marketplace_fulfilment_fee) = fulfilment_fees(terms)?;
    let digital_services_fee_excl_vat = match schedule.digital_services_fee_rate {
        Some(rate) if terms.digital_services_fee => {
            rounded_product(rate, commission_excl_vat + marketplace_fulfilment_fee)
        }
        _ => Decimal::ZERO,
    };
    let subscription_per_unit_excl_vat = match (
        schedule.monthly_subscription_excl_vat,
        terms.expected_monthly_units,
    ) {
        (Some(monthly), Some(units)) if units > 0 => match precision {
            // `charged(monthly / units)` as `charged_excl_vat` computes its own: the quotient
            // rounded to the cent at once (`rounded_quotient`, bit for bit `fixed` of the
            // 28-digit quotient), then padded, without the 28-digit division.
            Precision::Charged => money::fixed(
                money::rounded_quotient(monthly, Decimal::from(units), money::CENT_DP),
                money::MONEY_SCALE,
            ),
            Precision::Exact => monthly / Decimal::from(units),
        },
        _ => Decimal::ZERO,
    };
    let operational = terms.operational;
    let operational_cost_excl_vat = operational.handling_excl_vat
        + operational.storage_excl_vat
        + rounded_product(operational.returns_provision_rate, revenue_excl_vat);
    Ok(ChannelFees {
        price_incl_vat,
        revenue_excl_vat,
        commission_excl_vat,
        digital_services_fee_excl_vat,
        fulfilment_fee_excl_vat,
        subscription_per_unit_excl_vat,
        operational_cost_excl_vat,
    })
}

/// The fulfilment fee, and the part of it the marketplace charges (on which Amazon's digital
/// services fee applies): FBA's tier fee for both, or our carrier's price and nothing.
fn fulfilment_fees(terms: &SaleTerms<'_>) -> Result<(Decimal, Decimal), MarginError> {
    Ok(match &terms.fulfilment {
        Fulfilment::Merchant {
            shipping_cost_excl_vat,
        } => (*shipping_cost_excl_vat, Decimal::ZERO),
        Fulfilment::Fba(_) => {
            let fee = terms
                .fba_tier()?
                .map_or(Decimal::ZERO, |tier| tier.fee_excl_vat);
            (fee, fee)
        }
    })
}

/// The channel's lines for one unit sold at `price_incl_vat` (levies included): see
/// [`PricedTerms::channel_fees`].
pub fn channel_fees(
    terms: &SaleTerms<'_>,
    price_incl_vat: Decimal,
) -> Result<ChannelFees, MarginError> {
    PricedTerms::new(terms)?.channel_fees(price_incl_vat)
}

/// Sale terms with what every price of the sale shares worked out once: the fulfilment
/// fees, and the terms in integers when they are of ordinary size. A caller that prices the
/// same sale more than once (the lines at a price, then the reprice solve) prepares them
/// once.
pub struct PricedTerms<'t, 'a> {
    terms: &'t SaleTerms<'a>,
    /// The fulfilment fee, and the part of it the marketplace charges ([`fulfilment_fees`]).
    fulfilment: (Decimal, Decimal),
    integer: Option<solve::IntegerTerms>,
}

impl<'t, 'a> PricedTerms<'t, 'a> {
    pub fn new(terms: &'t SaleTerms<'a>) -> Result<Self, MarginError> {
        let fulfilment = fulfilment_fees(terms)?;
        Ok(PricedTerms {
            terms,
            fulfilment,
            integer: solve::IntegerTerms::new(terms, fulfilment.1),
        })
    }

    /// The channel's lines for one unit sold at `price_incl_vat` (levies included), in
    /// integers when the terms and price are of ordinary size
    /// (`solve::IntegerTerms::channel_fees`, bit for bit the decimal lines).
    pub fn channel_fees(&self, price_incl_vat: Decimal) -> Result<ChannelFees, MarginError> {
        let terms = self.terms;
        if let Some(fees) = self
            .integer
            .as_ref()
            .and_then(|integer| integer.channel_fees(terms, price_incl_vat, self.fulfilment))
        {
            return Ok(fees);
        }
        let fees = lines(
            terms,
            price_incl_vat,
            Precision::Charged,
            CommissionRegime::AsCharged,
        )?;
        if fees.revenue_excl_vat <= Decimal::ZERO {
            return Err(MarginError::NonPositiveRevenue {
                price_incl_vat,
                shipping_incl_vat: terms.shipping_incl_vat,
                levies_incl_vat: terms.levies_incl_vat,
            });
        }
        Ok(fees)
    }

    /// [`price_for_margin_rate`](fn@price_for_margin_rate) on terms already prepared.
    pub fn price_for_margin_rate(
        &self,
        product_cost: &ProductCost,
        target_rate: Decimal,
    ) -> Result<Option<Decimal>, MarginError> {
        let terms = self.terms;
        let cost = product_cost.unit_cost_excl_vat;
        let integer =
            self.integer
                .as_ref()
                .zip(solve::Goal::new(self.fulfilment.0, cost, target_rate));
        let start = match integer
            .as_ref()
            .and_then(|(integer, goal)| integer.start(goal))
        {
            Some(start) => start,
            None => decimal_start(terms, cost, target_rate)?,
        };
        let Some(start) = start else {
            return Ok(None);
        };
        // The cent walk below prices the sale, which `margin` refuses at a non-positive cost.
        positive_product_cost(product_cost)?;
        let price_of = |cents: i128| Decimal::from_i128_with_scale(cents, money::CENT_DP);
        // The net margin against the target share of revenue: the margin rate and ROI that
        // `margin` also computes (two divisions) are not needed to compare.
        let reaches = |cents: i128| -> Result<bool, MarginError> {
            if let Some(reaches) = integer
                .as_ref()
                .and_then(|(integer, goal)| integer.reaches(goal, cents))
            {
                return Ok(reaches);
            }
            match self.channel_fees(price_of(cents)) {
                Ok(fees) => {
                    Ok(fees.net_margin_excl_vat(cost) >= target_rate * fees.revenue_excl_vat)
                }
                Err(MarginError::NonPositiveRevenue { .. }) => Ok(false),
                Err(error) => Err(error),
            }
        };
        // A whole number of cents, the start being rounded up to the cent.
        let mut cents = start.mantissa() * 10i128.pow(money::CENT_DP - start.scale());
        let mut steps = 0;
        while !reaches(cents)? {
            cents += 1;
            steps += 1;
            if steps > MAX_CENT_STEPS {
                return Ok(None);
            }
        }
        while cents > 1 && reaches(cents - 1)? {
            cents -= 1;
            steps += 1;
            if steps > MAX_CENT_STEPS {
                break;
            }
        }
        Ok(Some(money::money(price_of(cents))))
    }
}

/// The margin of one unit sold at `price_incl_vat` whose landed cost is `product_cost`.
pub fn margin(
    terms: &SaleTerms<'_>,
    price_incl_vat: Decimal,
    product_cost: &ProductCost,
) -> Result<Margin, MarginError> {
    let product_cost_excl_vat = positive_product_cost(product_cost)?;
    let fees = channel_fees(terms, price_incl_vat)?;
    Ok(margin_of(fees, product_cost_excl_vat))
}

/// [`margin`] from the channel's lines already computed at the price (by
/// [`channel_fees`]), so a caller that needs both computes the lines once.
pub fn margin_with_fees(
    fees: ChannelFees,
    product_cost: &ProductCost,
) -> Result<Margin, MarginError> {
    Ok(margin_of(fees, positive_product_cost(product_cost)?))
}

fn positive_product_cost(product_cost: &ProductCost) -> Result<Decimal, MarginError> {
    let product_cost_excl_vat = product_cost.unit_cost_excl_vat;
    if product_cost_excl_vat <= Decimal::ZERO {
        return Err(MarginError::NonPositiveProductCost {
            unit_cost_excl_vat: product_cost_excl_vat,
            cost_source: product_cost.source.clone(),
        });
    }
    Ok(product_cost_excl_vat)
}

fn margin_of(fees: ChannelFees, product_cost_excl_vat: Decimal) -> Margin {
    let net_margin_excl_vat = fees.net_margin_excl_vat(product_cost_excl_vat);
    Margin {
        fees,
        product_cost_excl_vat,
        net_margin_excl_vat,
        margin_rate: money::rounded_quotient(
            net_margin_excl_vat,
            fees.revenue_excl_vat,
            money::RATE_SCALE,
        ),
        roi: money::rounded_quotient(
            net_margin_excl_vat,
            product_cost_excl_vat,
            money::RATE_SCALE,
        ),
    }
}

/// How far the cent-by-cent confirmation may walk from the exact solution. Rounding moves
/// the margin by a few cents at most, so this bound is only reached if the fee lines stop
/// being monotonic, and then the target is reported unreachable rather than looping.
const MAX_CENT_STEPS: u32 = 10_000;

/// The lowest listing price incl. VAT (whole cents, at least 0.01) at which the margin rate
/// reaches `target_rate` given the fee rules (minimum fees included), or `None` when no
/// price reaches it (the channel's proportional fees and provisions take more than
/// `1 - target_rate`).
///
/// The margin is affine in the price on each side of the commission minimum, so the exact
/// crossing is solved on each side and the side whose commission regime holds there is
/// kept; the rounded computation then confirms the cent.
pub fn price_for_margin_rate(
    terms: &SaleTerms<'_>,
    product_cost: &ProductCost,
    target_rate: Decimal,
) -> Result<Option<Decimal>, MarginError> {
    // The only error the lines can raise, raised first as the decimal solve raised it.
    PricedTerms::new(terms)?.price_for_margin_rate(product_cost, target_rate)
}

/// The first cent the walk of [`price_for_margin_rate`] tries: the exact crossing of the
/// target (at least one cent) rounded up to the cent, or `None` when no price reaches it,
/// solved with 28-digit decimals. [`solve::IntegerTerms::start`] gives the same cent in
/// integers, and leaves to this computation the crossings too close to a cent for it to say
/// which cent this one gives.
fn decimal_start(
    terms: &SaleTerms<'_>,
    cost: Decimal,
    target_rate: Decimal,
) -> Result<solve::Start, MarginError> {
    let rule = terms.schedule.commission_rule(terms.category);
    for regime in [CommissionRegime::Proportional, CommissionRegime::Minimum] {
        let at = |price| lines(terms, price, Precision::Exact, regime);
        let (at_zero, at_one) = (at(Decimal::ZERO)?, at(Decimal::ONE)?);
        let margin_at_zero = at_zero.net_margin_excl_vat(cost);
        let margin_slope = at_one.net_margin_excl_vat(cost) - margin_at_zero;
        let revenue_slope = at_one.revenue_excl_vat - at_zero.revenue_excl_vat;
        let denominator = margin_slope - target_rate * revenue_slope;
        if denominator <= Decimal::ZERO {
            continue;
        }
        // A margin exactly as steep as the target's share, which the 28-digit lines can make
        // a hair steeper, puts the crossing beyond any decimal: no price reaches the target.
        let Some(price) =
            (target_rate * at_zero.revenue_excl_vat - margin_at_zero).checked_div(denominator)
        else {
            continue;
        };
        let proportional_commission = rule.rate
            * terms
                .schedule
                .commission_base
                .amount(price, terms.shipping_incl_vat, terms.vat_rate);
        let regime_holds = match regime {
            CommissionRegime::Proportional => proportional_commission >= rule.minimum_excl_vat,
            _ => proportional_commission <= rule.minimum_excl_vat,
        };
        if regime_holds {
            return Ok(Some(
                price
                    .max(Decimal::new(1, money::CENT_DP))
                    .round_dp_with_strategy(
                        money::CENT_DP,
                        rust_decimal::RoundingStrategy::ToPositiveInfinity,
                    ),
            ));
        }
    }
    Ok(None)
}

/// The published breakdown, every amount at the contract's scale, in the fee schedule's
/// currency (the sale's prices and the product cost are converted into it before).
pub fn breakdown(
    margin: &Margin,
    terms: &SaleTerms<'_>,
    product_cost_source: impl Into<String>,
) -> MarginBreakdown {
    let fees = &margin.fees;
    MarginBreakdown {
        currency: Arc::clone(&terms.schedule.currency),
        price_incl_vat: money::money(fees.price_incl_vat),
        shipping_incl_vat: money::money(terms.shipping_incl_vat),
        levies_incl_vat: money::money(terms.levies_incl_vat),
        revenue_excl_vat: money::money(fees.revenue_excl_vat),
        commission_excl_vat: money::money(fees.commission_excl_vat),
        digital_services_fee_excl_vat: money::money(fees.digital_services_fee_excl_vat),
        fulfilment_method: terms.fulfilment.method().key().into(),
        fulfilment_fee_excl_vat: money::money(fees.fulfilment_fee_excl_vat),
        subscription_per_unit_excl_vat: money::money(fees.subscription_per_unit_excl_vat),
        operational_cost_excl_vat: money::money(fees.operational_cost_excl_vat),
        product_cost_excl_vat: money::money(margin.product_cost_excl_vat),
        product_cost_source: product_cost_source.into(),
        net_margin_excl_vat: money::money(margin.net_margin_excl_vat),
        margin_rate: margin.margin_rate,
        roi: margin.roi,
    }
}

/// The landed cost to use at time `at`: the cheapest supplier price valid then (validity
/// bounds inclusive, open when absent), converted into `currency`; failing that, the most
/// recently observed ERP standard cost. Ties go to the lowest supplier id, then the latest
/// observation, so the choice never depends on the order of the lines.
///
/// A line in a currency the fx table lacks is an error naming the currency, even if another
/// line would win: the comparison would otherwise silently skip a possibly cheaper offer.
pub fn select_product_cost(
    costs: &[CostSignal],
    currency: &str,
    fx: &FxRates,
    at: EpochMillis,
) -> Result<Option<ProductCost>, FxError> {
    let mut best_supplier: Option<(Decimal, &CostSignal)> = None;
    let mut latest_erp: Option<&CostSignal> = None;
    for line in costs {
        match line.cost_kind {
            CostKind::SupplierPrice => {
                let valid = line.valid_from.is_none_or(|from| from <= at)
                    && line.valid_to.is_none_or(|to| at <= to);
                if !valid {
                    continue;
                }
                let converted =
                    money::money(fx.convert(line.unit_cost_excl_vat, &line.currency, currency)?);
                let better = best_supplier.is_none_or(|(best, chosen)| {
                    (
                        converted,
                        &line.supplier_id,
                        std::cmp::Reverse(line.observed_at),
                    ) < (
                        best,
                        &chosen.supplier_id,
                        std::cmp::Reverse(chosen.observed_at),
                    )
                });
                if better {
                    best_supplier = Some((converted, line));
                }
            }
            CostKind::ErpStandardCost => {
                let later = latest_erp.is_none_or(|chosen| {
                    (line.observed_at, line.unit_cost_excl_vat)
                        > (chosen.observed_at, chosen.unit_cost_excl_vat)
                });
                if later {
                    latest_erp = Some(line);
                }
            }
        }
    }
    if let Some((unit_cost_excl_vat, line)) = best_supplier {
        return Ok(Some(ProductCost {
            unit_cost_excl_vat,
            source: [
                "supplier:",
                line.supplier_id.as_deref().unwrap_or("unknown"),
            ]
            .concat(),
            observed_at: line.observed_at,
        }));
    }
    latest_erp
        .map(|line| {
            Ok(ProductCost {
                unit_cost_excl_vat: money::money(fx.convert(
                    line.unit_cost_excl_vat,
                    &line.currency,
                    currency,
                )?),
                source: "erp_standard_cost".to_owned(),
                observed_at: line.observed_at,
            })
        })
        .transpose()
}
