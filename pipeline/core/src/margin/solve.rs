//! The reprice solve's first cent, from the exact crossing computed in integers.
//!
//! [`super::decimal_start`] finds where the margin crosses the target share of revenue by
//! evaluating the unrounded lines at prices 0 and 1 (28-digit decimals, VAT extracted by
//! division) and dividing; that is about half of the solve's work. The crossing is a ratio of
//! sums of products of the inputs, so here it is computed exactly, as decimals held in `i128`
//! ([`Exact`]), and the walk starts from the same cent whenever the decimal computation's
//! error cannot have moved its result across a cent or a decision.
//!
//! **Why the cent is the same.** Inside the limits checked here (amounts at most `10^5`, rates and VAT in
//! `[0, 1]`, the target in `[-1, 1]`) every value the decimal computation forms is below
//! `10^7` in magnitude; `rust_decimal` keeps such a result to at least 20 places (a 96-bit
//! mantissa holds more than 28 digits), so each of its additions, products and quotients is
//! off the exact result of its operands by at most `10^-20`, and products by rates and
//! quotients by `1 + VAT` do not enlarge earlier errors. Each line evaluation takes at most
//! 18 such operations, so the margins at prices 0 and 1 are within `2 × 10^-19` of exact and
//! the revenues within `3 × 10^-20`; the slope's denominator is then within `5 × 10^-19` and
//! the numerator within `3 × 10^-19` of exact. With the exact denominator at least `0.01`
//! and the exact crossing below `10^6` in magnitude (both checked here), the decimal crossing
//! is within `(3 × 10^-19 + 10^6 × 5 × 10^-19) / (0.01 - 5 × 10^-19) + 10^-20`, below
//! `10^-10`, of the exact one, and the commission compared with the minimum there (a rate
//! times an amount) within `10^-10` of its exact value. So wherever the exact crossing is at
//! least `10^-8` ([`UNDECIDED_WITHIN_INVERSE`]) from every cent, and the exact commission at least as
//! far from the minimum, both computations take the same regime and round up to the same
//! cent; elsewhere (exact crossings on a cent are common with round figures) the decimal
//! computation decides, as it always did. Anything that overflows `i128` also goes back to it.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::{CommissionRegime, SaleTerms};
use crate::fees::CommissionBase;
use crate::money;

/// Where the cent walk starts: the first whole cent at or above the exact crossing, at least
/// one cent; `None` when no price reaches the target.
pub(super) type Start = Option<Decimal>;

/// [`super::decimal_start`], bit for bit, from the exact crossing; `None` where it cannot
/// tell which cent the decimal computation gives (see the module's documentation), which
/// that computation then decides.
/// `fulfilment_fees` are [`super::fulfilment_fees`]'s.
pub(super) fn exact_start(
    terms: &SaleTerms<'_>,
    cost: Decimal,
    target_rate: Decimal,
    (fulfilment_fee, marketplace_fulfilment_fee): (Decimal, Decimal),
) -> Option<Start> {
    Crossing::of(
        terms,
        cost,
        target_rate,
        fulfilment_fee,
        marketplace_fulfilment_fee,
    )
    .and_then(|crossing| crossing.start(target_rate))
}

/// A decimal held exactly, `units × 10^-scale`, for sums and products that `Decimal` would
/// round; every operation is checked and gives `None` on overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exact {
    units: i128,
    scale: u32,
}

/// `10^n` for every `n` an `i128` holds.
const POWERS_OF_TEN: [i128; 39] = {
    let mut powers = [1i128; 39];
    let mut n = 1;
    while n < powers.len() {
        powers[n] = powers[n - 1] * 10;
        n += 1;
    }
    powers
};

impl Exact {
    const ZERO: Exact = Exact::whole(0);
    const ONE: Exact = Exact::whole(1);

    const fn whole(units: i128) -> Exact {
        Exact { units, scale: 0 }
    }

    fn of(value: Decimal) -> Exact {
        Exact {
            units: value.mantissa(),
            scale: value.scale(),
        }
    }

    /// `units` at a scale at least the value's own.
    fn units_at(self, scale: u32) -> Option<i128> {
        let power = POWERS_OF_TEN.get(scale.checked_sub(self.scale)? as usize)?;
        product(self.units, *power)
    }

    /// Both values' units at their common scale.
    fn aligned(self, other: Exact) -> Option<(i128, i128)> {
        let scale = self.scale.max(other.scale);
        Some((self.units_at(scale)?, other.units_at(scale)?))
    }

    fn plus(self, other: Exact) -> Option<Exact> {
        let (a, b) = self.aligned(other)?;
        Some(Exact {
            units: a.checked_add(b)?,
            scale: self.scale.max(other.scale),
        })
    }

    fn minus(self, other: Exact) -> Option<Exact> {
        let (a, b) = self.aligned(other)?;
        Some(Exact {
            units: a.checked_sub(b)?,
            scale: self.scale.max(other.scale),
        })
    }

    fn times(self, other: Exact) -> Option<Exact> {
        let scale = self.scale + other.scale;
        if scale as usize >= POWERS_OF_TEN.len() {
            return None;
        }
        Some(Exact {
            units: product(self.units, other.units)?,
            scale,
        })
    }

    fn compare(self, other: Exact) -> Option<Ordering> {
        let (a, b) = self.aligned(other)?;
        Some(a.cmp(&b))
    }

    fn magnitude(self) -> Exact {
        Exact {
            units: self.units.abs(),
            ..self
        }
    }

    /// Whether `|self|` exceeds `10^-8 × reference` (a positive value): far enough from
    /// zero that the decimal computation's error cannot change its sign.
    fn clearly_beyond(self, reference: Exact) -> Option<bool> {
        let magnified = Exact {
            units: product(self.units.checked_abs()?, UNDECIDED_WITHIN_INVERSE)?,
            scale: self.scale,
        };
        Some(magnified.compare(reference)? == Ordering::Greater)
    }

    /// Whether `|self| ≤ bound`, `bounds` holding the bound at every scale.
    fn at_most(self, bounds: &[i128; 29]) -> bool {
        bounds
            .get(self.scale as usize)
            .is_some_and(|bound| self.units.unsigned_abs() <= bound.unsigned_abs())
    }

    /// Whether `0 ≤ self ≤ 1`.
    fn in_unit_interval(self) -> bool {
        self.units >= 0 && self.at_most(&ONE_AT_EVERY_SCALE)
    }
}

/// `a × b`, in one widening multiplication when both fit 64 bits (every amount, rate and
/// most of their products do), where `checked_mul` on `i128` is a library call.
fn product(a: i128, b: i128) -> Option<i128> {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(a), Ok(b)) => Some(i128::from(a) * i128::from(b)),
        _ => a.checked_mul(b),
    }
}

/// `bound × 10^scale` for every scale a decimal can have, for [`Exact::at_most`].
const fn at_every_scale(bound: i128) -> [i128; 29] {
    let mut bounds = [0i128; 29];
    let mut scale = 0;
    while scale < bounds.len() {
        bounds[scale] = bound * POWERS_OF_TEN[scale];
        scale += 1;
    }
    bounds
}

const ONE_AT_EVERY_SCALE: [i128; 29] = at_every_scale(1);
const AMOUNT_LIMIT_AT_EVERY_SCALE: [i128; 29] = at_every_scale(AMOUNT_LIMIT);

/// The bounds within which the module's error argument holds: inputs' amounts at most
/// `AMOUNT_LIMIT`, the crossing at most `PRICE_LIMIT` in magnitude, and the denominator
/// (margin slope less the target's share of the revenue slope) at least `0.01`.
const AMOUNT_LIMIT: i128 = 100_000;
const PRICE_LIMIT: i128 = 1_000_000;

/// How close to a cent, or the commission to the minimum, the exact values must not be for
/// the decimal computation's result to be known: `10^-8` of a money unit (its inverse, and
/// the same in cents).
const UNDECIDED_WITHIN_INVERSE: i128 = 100_000_000;
const UNDECIDED_WITHIN_INVERSE_CENTS: i128 = UNDECIDED_WITHIN_INVERSE / 100;

/// The crossing's affine pieces, each multiplied by `(1 + VAT) × units` (the subscription's
/// spread, 1 without one) so that no division is left: the margin is `a + b × price` and the
/// revenue `c + e × price`, excl. VAT, under the commission regime the caller picks.
struct Crossing {
    /// `1 + VAT`.
    vat_factor: Exact,
    /// The units the subscription is spread over, or 1.
    spread: Exact,
    revenue_at_zero: Exact,
    revenue_slope: Exact,
    /// The margin at price zero without the commission and the fee on it.
    margin_at_zero_before_commission: Exact,
    /// `(1 - returns provision rate) × spread`, the margin's slope without the commission.
    margin_slope_before_commission: Exact,
    /// `1 + DSF rate` (1 without it): what a unit of commission costs with the fee on it.
    commission_with_fee: Exact,
    rate: Exact,
    minimum: Exact,
    shipping: Exact,
    base: CommissionBase,
}

impl Crossing {
    fn of(
        terms: &SaleTerms<'_>,
        cost: Decimal,
        target_rate: Decimal,
        fulfilment_fee: Decimal,
        marketplace_fulfilment_fee: Decimal,
    ) -> Option<Crossing> {
        let schedule = terms.schedule;
        let rule = schedule.commission_rule(terms.category);
        let operational = terms.operational;
        let amounts = [
            terms.shipping_incl_vat,
            terms.levies_incl_vat,
            fulfilment_fee,
            operational.handling_excl_vat,
            operational.storage_excl_vat,
            cost,
            rule.minimum_excl_vat,
        ];
        let rates = [
            terms.vat_rate,
            rule.rate,
            operational.returns_provision_rate,
        ];
        let subscription = match (
            schedule.monthly_subscription_excl_vat,
            terms.expected_monthly_units,
        ) {
            (Some(monthly), Some(units)) if units > 0 => Some((monthly, units)),
            _ => None,
        };
        let dsf_rate = match schedule.digital_services_fee_rate {
            Some(rate) if terms.digital_services_fee => Some(rate),
            _ => None,
        };
        let target = Exact::of(target_rate);
        if !amounts
            .iter()
            .chain(subscription.as_ref().map(|(monthly, _)| monthly))
            .all(|amount| Exact::of(*amount).at_most(&AMOUNT_LIMIT_AT_EVERY_SCALE))
            || !rates
                .iter()
                .chain(dsf_rate.as_ref())
                .all(|rate| Exact::of(*rate).in_unit_interval())
            || !target.at_most(&ONE_AT_EVERY_SCALE)
        {
            return None;
        }
        let vat_factor = Exact::ONE.plus(Exact::of(terms.vat_rate))?;
        let spread = subscription.map_or(Exact::ONE, |(_, units)| Exact::whole(i128::from(units)));
        let shipping = Exact::of(terms.shipping_incl_vat);
        let shipping_less_levies = shipping.minus(Exact::of(terms.levies_incl_vat))?;
        let kept_share = Exact::ONE.minus(Exact::of(operational.returns_provision_rate))?;
        let dsf = dsf_rate.map_or(Exact::ZERO, Exact::of);
        // (1 + VAT) × the costs that do not depend on the price: fulfilment, the fee on the
        // marketplace's part of it, handling, storage and the product.
        let fixed_costs = Exact::of(fulfilment_fee)
            .plus(dsf.times(Exact::of(marketplace_fulfilment_fee))?)?
            .plus(Exact::of(operational.handling_excl_vat))?
            .plus(Exact::of(operational.storage_excl_vat))?
            .plus(Exact::of(cost))?
            .times(vat_factor)?;
        let mut margin_at_zero = kept_share
            .times(shipping_less_levies)?
            .minus(fixed_costs)?
            .times(spread)?;
        if let Some((monthly, _)) = subscription {
            margin_at_zero = margin_at_zero.minus(vat_factor.times(Exact::of(monthly))?)?;
        }
        Some(Crossing {
            vat_factor,
            spread,
            revenue_at_zero: spread.times(shipping_less_levies)?,
            revenue_slope: spread,
            margin_at_zero_before_commission: margin_at_zero,
            margin_slope_before_commission: kept_share.times(spread)?,
            commission_with_fee: Exact::ONE.plus(dsf)?,
            rate: Exact::of(rule.rate),
            minimum: Exact::of(rule.minimum_excl_vat),
            shipping,
            base: schedule.commission_base,
        })
    }

    /// The commission base at price `x` as `(slope × x + at_zero) / divisor`, the divisor
    /// being `1 + VAT` for a base excl. VAT and 1 otherwise, and `(1 + VAT) / divisor`, what
    /// the commission is multiplied by in the scaled margin.
    fn base(&self) -> (Exact, Exact, Exact, Exact) {
        match self.base {
            CommissionBase::PricePlusShippingInclVat => {
                (Exact::ONE, self.shipping, Exact::ONE, self.vat_factor)
            }
            CommissionBase::PricePlusShippingExclVat => {
                (Exact::ONE, self.shipping, self.vat_factor, Exact::ONE)
            }
            CommissionBase::PriceInclVat => (Exact::ONE, Exact::ZERO, Exact::ONE, self.vat_factor),
        }
    }

    /// The decimal solve's loop over the regimes, exactly; `None` when a decision or the
    /// cent is too close to call.
    fn start(&self, target_rate: Decimal) -> Option<Start> {
        let target = Exact::of(target_rate);
        let (base_slope, base_at_zero, base_divisor, commission_scale) = self.base();
        // 0.01 × (1 + VAT) × spread and the price limit, against the scaled denominator.
        let slope_floor = self
            .vat_factor
            .times(self.spread)?
            .times(Exact { units: 1, scale: 2 })?;
        let price_limit = Exact::whole(PRICE_LIMIT);
        for regime in [CommissionRegime::Proportional, CommissionRegime::Minimum] {
            // (1 + VAT) × the commission at price x: commission_slope × x + commission_at_zero.
            let (commission_slope, commission_at_zero) = match regime {
                CommissionRegime::Minimum => (Exact::ZERO, self.vat_factor.times(self.minimum)?),
                _ => (
                    self.rate.times(base_slope)?.times(commission_scale)?,
                    self.rate.times(base_at_zero)?.times(commission_scale)?,
                ),
            };
            let with_fee = |commission: Exact| {
                self.commission_with_fee
                    .times(commission)?
                    .times(self.spread)
            };
            let margin_at_zero = self
                .margin_at_zero_before_commission
                .minus(with_fee(commission_at_zero)?)?;
            let margin_slope = self
                .margin_slope_before_commission
                .minus(with_fee(commission_slope)?)?;
            // The crossing is numerator / denominator; the decimal computation's denominator
            // is this one divided by (1 + VAT) × spread, its sign decides whether the regime
            // can reach the target at all.
            let numerator = target.times(self.revenue_at_zero)?.minus(margin_at_zero)?;
            let denominator = margin_slope.minus(target.times(self.revenue_slope)?)?;
            if denominator.magnitude().compare(slope_floor)? == Ordering::Less {
                return None;
            }
            if denominator.units < 0 {
                continue;
            }
            if numerator
                .magnitude()
                .compare(price_limit.times(denominator)?)?
                == Ordering::Greater
            {
                return None;
            }
            // The proportional commission at the crossing less the minimum, both times
            // divisor × denominator.
            let gap = self
                .rate
                .times(
                    base_slope
                        .times(numerator)?
                        .plus(base_at_zero.times(denominator)?)?,
                )?
                .minus(self.minimum.times(base_divisor)?.times(denominator)?)?;
            if !gap.clearly_beyond(base_divisor.times(denominator)?)? {
                return None;
            }
            let regime_holds = match regime {
                CommissionRegime::Proportional => gap.units > 0,
                _ => gap.units < 0,
            };
            if regime_holds {
                let (numerator, denominator) = numerator.aligned(denominator)?;
                return first_cent(numerator, denominator).map(Some);
            }
        }
        Some(None)
    }
}

/// The first whole cent at or above `numerator / denominator` (money units, `denominator`
/// positive), at least one cent; `None` within [`UNDECIDED_WITHIN_INVERSE_CENTS`] of a cent.
fn first_cent(numerator: i128, denominator: i128) -> Option<Decimal> {
    let in_cents = product(numerator, 100)?;
    let below = in_cents.div_euclid(denominator);
    let past = in_cents.rem_euclid(denominator);
    if product(past, UNDECIDED_WITHIN_INVERSE_CENTS)? <= denominator
        || product(denominator - past, UNDECIDED_WITHIN_INVERSE_CENTS)? <= denominator
    {
        return None;
    }
    // Below 10^8 cents by the price limit.
    let cents = i64::try_from(below + 1).ok()?.max(1);
    Some(Decimal::new(cents, money::CENT_DP))
}

/// The walk's test, whether the margin as charged at a whole-cent price reaches the target
/// share of revenue, in `i64` ten-thousandths of the money unit: each line rounded to the
/// cent as [`money::charged_excl_vat`], [`money::charged_product`] and [`money::charged`]
/// round it, the margin summed and compared exactly as the decimals are.
///
/// Why it gives the decimal walk's answer: a line as charged is the exact value rounded half
/// away from zero to the cent (a product of mantissas rounded once; the VAT extraction and
/// the subscription's spread are quotients that [`money::rounded_quotient`] rounds as the
/// exact quotient is rounded, within its limits, which the bounds here keep to), so rounding
/// the exact integer product or quotient gives the same cents; sums of amounts at scales of at
/// most 4 and the comparison with `target × revenue` are exact both ways. Only values enter
/// the decision, so zeros' signs and scales do not matter. Built only when every amount is at
/// most `AMOUNT_LIMIT` and has at most 4 places, every rate (and the target) at most 6, and
/// the commission base is not a VAT-excluded amount (a 28-digit quotient multiplied and
/// rounded again); prices above `AMOUNT_LIMIT` go back to the decimal lines.
pub(super) struct CentWalk {
    shipping: i64,
    levies: i64,
    /// `10^6 × (1 + VAT)`.
    vat_factor: i64,
    commission_rate: i64,
    commission_minimum: i64,
    /// Whether the commission base includes the shipping.
    base_includes_shipping: bool,
    dsf_rate: i64,
    marketplace_fulfilment_fee: i64,
    /// Fulfilment, subscription per unit, handling, storage and the product: what the
    /// margin loses whatever the price.
    fixed_costs: i64,
    returns_provision_rate: i64,
    target_rate: i64,
}

/// `value × 10^places` when that is a whole number of magnitude at most `limit`.
fn units_at_places(value: Decimal, places: u32, limit: i64) -> Option<i64> {
    let power = POWERS_OF_TEN[places.checked_sub(value.scale())? as usize];
    let units = product(value.mantissa(), power)?;
    (units.unsigned_abs() <= u128::from(limit.unsigned_abs())).then_some(units as i64)
}

/// Places of the walk's amounts (ten-thousandths) and rates (millionths).
const WALK_AMOUNT_DP: u32 = 4;
const WALK_RATE_DP: u32 = 6;
const CENTS_TO_AMOUNT: i64 = 100;
const RATE_ONE: i64 = 1_000_000;
/// A rate times an amount, in cents: `10^(6 + 4 - 2)` units of the product per cent.
const RATE_AMOUNT_PER_CENT: u64 = 100_000_000;

impl CentWalk {
    pub(super) fn new(
        terms: &SaleTerms<'_>,
        cost: Decimal,
        target_rate: Decimal,
        (fulfilment_fee, marketplace_fulfilment_fee): (Decimal, Decimal),
    ) -> Option<CentWalk> {
        let schedule = terms.schedule;
        let base_includes_shipping = match schedule.commission_base {
            CommissionBase::PricePlusShippingInclVat => true,
            CommissionBase::PriceInclVat => false,
            CommissionBase::PricePlusShippingExclVat => return None,
        };
        let amount = |value: Decimal| {
            units_at_places(
                value,
                WALK_AMOUNT_DP,
                AMOUNT_LIMIT as i64 * 10i64.pow(WALK_AMOUNT_DP),
            )
        };
        let non_negative = |value: Decimal| amount(value).filter(|units| *units >= 0);
        let rate = |value: Decimal| {
            units_at_places(value, WALK_RATE_DP, RATE_ONE).filter(|units| *units >= 0)
        };
        let rule = schedule.commission_rule(terms.category);
        let operational = terms.operational;
        let subscription = match (
            schedule.monthly_subscription_excl_vat,
            terms.expected_monthly_units,
        ) {
            // The monthly amount spread over the units and charged: the exact quotient
            // rounded to the cent, as `rounded_quotient` rounds it (a divisor of at most
            // 100 × 2^32, below its limit of 10^12), in ten-thousandths.
            (Some(monthly), Some(units)) if units > 0 => {
                money::round_half_up(non_negative(monthly)? as u64, u64::from(units) * 100) as i64
                    * CENTS_TO_AMOUNT
            }
            _ => 0,
        };
        let dsf_rate = match schedule.digital_services_fee_rate {
            Some(dsf) if terms.digital_services_fee => rate(dsf)?,
            _ => 0,
        };
        Some(CentWalk {
            shipping: non_negative(terms.shipping_incl_vat)?,
            levies: non_negative(terms.levies_incl_vat)?,
            vat_factor: RATE_ONE + rate(terms.vat_rate)?,
            commission_rate: rate(rule.rate)?,
            commission_minimum: non_negative(rule.minimum_excl_vat)?,
            base_includes_shipping,
            dsf_rate,
            marketplace_fulfilment_fee: non_negative(marketplace_fulfilment_fee)?,
            fixed_costs: amount(fulfilment_fee)?
                + subscription
                + amount(operational.handling_excl_vat)?
                + amount(operational.storage_excl_vat)?
                + amount(cost)?,
            returns_provision_rate: rate(operational.returns_provision_rate)?,
            target_rate: units_at_places(target_rate, WALK_RATE_DP, RATE_ONE)?,
        })
    }

    /// Whether the margin at `cents` reaches the target (a revenue of zero or less never
    /// does); `None` for a price beyond the bounds, which the decimal lines then decide.
    pub(super) fn reaches(&self, cents: i128) -> Option<bool> {
        let price = i64::try_from(cents)
            .ok()
            .filter(|cents| (1..=AMOUNT_LIMIT as i64 * CENTS_TO_AMOUNT).contains(cents))?
            * CENTS_TO_AMOUNT;
        let revenue_incl_vat = price + self.shipping - self.levies;
        if revenue_incl_vat <= 0 {
            return Some(false);
        }
        // (revenue incl. VAT / 10^4) / (factor / 10^6) in cents.
        let revenue_cents = money::round_half_up(
            revenue_incl_vat as u64 * 10u64.pow(WALK_AMOUNT_DP),
            self.vat_factor as u64,
        ) as i64;
        if revenue_cents == 0 {
            return Some(false);
        }
        let revenue = revenue_cents * CENTS_TO_AMOUNT;
        let charged = |rate: i64, amount: i64| {
            money::round_half_up(rate as u64 * amount as u64, RATE_AMOUNT_PER_CENT) as i64
                * CENTS_TO_AMOUNT
        };
        let base = if self.base_includes_shipping {
            price + self.shipping
        } else {
            price
        };
        let commission = charged(self.commission_rate, base).max(self.commission_minimum);
        let digital_services_fee =
            charged(self.dsf_rate, commission + self.marketplace_fulfilment_fee);
        let returns_provision = charged(self.returns_provision_rate, revenue);
        let net_margin =
            revenue - commission - digital_services_fee - returns_provision - self.fixed_costs;
        Some(
            i128::from(net_margin) * i128::from(RATE_ONE)
                >= i128::from(self.target_rate) * i128::from(revenue),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::Category;
    use crate::channel::Channel;
    use crate::fees::{FeeSchedule, FeeSchedules, Parcel};
    use crate::margin::{
        Fulfilment, MarginError, OperationalCosts, channel_fees, decimal_start, fulfilment_fees,
    };
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    const AT: i64 = 1_748_736_000_000;

    /// A fee grid of the given shape, parsed like any file of config/fees/.
    #[derive(Debug, Clone)]
    struct Grid {
        base: &'static str,
        rate: Decimal,
        minimum: Decimal,
        dsf: Option<Decimal>,
        monthly: Option<Decimal>,
        fba_fee: Decimal,
    }

    impl Grid {
        fn schedules(&self) -> FeeSchedules {
            let mut text = format!(
                r#"
                channel = "amazon"
                [[schedule]]
                version = "test"
                valid_from = 2020-01-01
                currency = "EUR"
                fee_vat_rate = "0.20"
                commission_base = "{}"
                commission.default = {{ rate = "{}", minimum_excl_vat = "{}" }}
                "#,
                self.base, self.rate, self.minimum
            );
            if let Some(dsf) = self.dsf {
                text += &format!("digital_services_fee = {{ rate = \"{dsf}\" }}\n");
            }
            if let Some(monthly) = self.monthly {
                text += &format!("subscription = {{ monthly_excl_vat = \"{monthly}\" }}\n");
            }
            text += &format!(
                r#"
                [schedule.fba]
                dimensional_weight_divisor_cm3_per_kg = 5000
                [[schedule.fba.tier]]
                name = "all"
                fee_excl_vat = "{}"
                "#,
                self.fba_fee
            );
            let mut schedules = FeeSchedules::default();
            schedules
                .load_channel_file("amazon.toml", &text)
                .expect("test grid is valid");
            schedules
        }
    }

    #[derive(Debug, Clone)]
    struct Sale {
        vat_rate: Decimal,
        shipping: Decimal,
        levies: Decimal,
        carrier: Option<Decimal>,
        dsf_applies: bool,
        units: Option<u32>,
        operational: OperationalCosts,
        cost: Decimal,
        target: Decimal,
    }

    fn terms<'a>(sale: &Sale, schedule: &'a FeeSchedule) -> SaleTerms<'a> {
        SaleTerms {
            schedule,
            category: Category::Other,
            vat_rate: sale.vat_rate,
            shipping_incl_vat: sale.shipping,
            levies_incl_vat: sale.levies,
            fulfilment: match sale.carrier {
                Some(carrier) => Fulfilment::Merchant {
                    shipping_cost_excl_vat: carrier,
                },
                None => Fulfilment::Fba(Parcel::from_cm(Decimal::from(500), [Decimal::TEN; 3])),
            },
            digital_services_fee: sale.dsf_applies,
            expected_monthly_units: sale.units,
            operational: sale.operational,
        }
    }

    /// Amounts in cents, now and then with sub-cent digits (costs converted from another
    /// currency) or round figures, where exact crossings fall on cents.
    fn amount(max_cents: i64) -> impl Strategy<Value = Decimal> {
        prop_oneof![
            3 => (0..=max_cents).prop_map(|cents| Decimal::new(cents, 2)),
            1 => (0..=max_cents * 100).prop_map(|units| Decimal::new(units, 4)),
            1 => (0..=max_cents / 100).prop_map(Decimal::from),
        ]
    }

    fn rate(max_permille: i64) -> impl Strategy<Value = Decimal> {
        prop_oneof![
            3 => (0..=max_permille).prop_map(|permille| Decimal::new(permille, 3)),
            1 => (0..=max_permille / 10).prop_map(|percent| Decimal::new(percent, 2)),
            1 => (0..=max_permille * 1000).prop_map(|millionths| Decimal::new(millionths, 6)),
        ]
    }

    fn grids() -> impl Strategy<Value = Grid> {
        (
            prop::sample::select(vec![
                "price_plus_shipping_incl_vat",
                "price_plus_shipping_excl_vat",
                "price_incl_vat",
            ]),
            rate(300),
            amount(500).prop_map(|minimum| minimum.round_dp(2)),
            prop::option::of(rate(50)),
            prop::option::of(amount(10_000).prop_map(|monthly| monthly.round_dp(2))),
            amount(2_000).prop_map(|fee| fee.round_dp(2)),
        )
            .prop_map(|(base, rate, minimum, dsf, monthly, fba_fee)| Grid {
                base,
                rate,
                minimum,
                dsf,
                monthly,
                fba_fee,
            })
    }

    fn sales() -> impl Strategy<Value = Sale> {
        (
            (
                prop_oneof![
                    prop::sample::select(vec![
                        dec!(0),
                        dec!(0.055),
                        dec!(0.1),
                        dec!(0.2),
                        dec!(0.21)
                    ]),
                    rate(300),
                ],
                amount(5_000),
                amount(300),
                prop::option::of(amount(2_000)),
                any::<bool>(),
            ),
            (
                prop::option::of(prop_oneof![1u32..=5, 1u32..=1_000, Just(u32::MAX)]),
                amount(500),
                rate(100),
                amount(300),
            ),
            (
                prop_oneof![4 => amount(400_000), 1 => amount(20_000_000)],
                prop_oneof![
                    4 => (-200i64..=600).prop_map(|permille| Decimal::new(permille, 3)),
                    1 => (-2_000i64..=2_000).prop_map(|permille| Decimal::new(permille, 3)),
                ],
            ),
        )
            .prop_map(
                |(
                    (vat_rate, shipping, levies, carrier, dsf_applies),
                    (units, handling, returns_provision_rate, storage),
                    (cost, target),
                )| Sale {
                    vat_rate,
                    shipping,
                    levies,
                    carrier,
                    dsf_applies,
                    units,
                    operational: OperationalCosts {
                        handling_excl_vat: handling,
                        returns_provision_rate,
                        storage_excl_vat: storage,
                    },
                    cost,
                    target,
                },
            )
    }

    proptest! {
        /// Wherever the integer path gives a start, it is the decimal computation's, value
        /// and scale (the walk and the published price depend only on the value).
        #[test]
        fn exact_start_is_the_decimal_start(grid in grids(), sale in sales()) {
            let schedules = grid.schedules();
            let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
            let terms = terms(&sale, schedule);
            let decimal = decimal_start(&terms, sale.cost, sale.target).unwrap();
            if let Some(exact) = exact_start(&terms, sale.cost, sale.target, fulfilment_fees(&terms).unwrap()) {
                prop_assert_eq!(exact, decimal, "{:?} {:?}", grid, sale);
            }
        }
    }

    proptest! {
        /// Wherever the integer walk answers, the decimal lines as charged give the same
        /// answer, at prices around the crossing and anywhere else.
        #[test]
        fn cent_walk_reaches_as_the_decimal_lines(
            grid in grids(),
            sale in sales(),
            cents in prop_oneof![1i128..=100_000, 1i128..=20_000_000],
            offsets in prop::collection::vec(-3i128..=3, 1..4),
        ) {
            let schedules = grid.schedules();
            let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
            let terms = terms(&sale, schedule);
            let fulfilment = fulfilment_fees(&terms).unwrap();
            let Some(walk) = CentWalk::new(&terms, sale.cost, sale.target, fulfilment) else {
                return Ok(());
            };
            let near_crossing = exact_start(&terms, sale.cost, sale.target, fulfilment)
                .flatten()
                .map(|start| start.mantissa() * 10i128.pow(2 - start.scale()));
            for price in [Some(cents), near_crossing]
                .into_iter()
                .flatten()
                .flat_map(|price| offsets.iter().map(move |offset| price + offset))
                .filter(|price| *price >= 1)
            {
                let Some(integer) = walk.reaches(price) else {
                    continue;
                };
                let decimal = match channel_fees(&terms, Decimal::new(price as i64, 2)) {
                    Ok(fees) => {
                        fees.net_margin_excl_vat(sale.cost) >= sale.target * fees.revenue_excl_vat
                    }
                    Err(MarginError::NonPositiveRevenue { .. }) => false,
                    Err(error) => panic!("{error}"),
                };
                prop_assert_eq!(integer, decimal, "at {} cents: {:?} {:?}", price, grid, sale);
            }
        }
    }

    fn ordinary_grid() -> Grid {
        Grid {
            base: "price_plus_shipping_incl_vat",
            rate: dec!(0.15),
            minimum: dec!(0.30),
            dsf: Some(dec!(0.03)),
            monthly: Some(dec!(39.00)),
            fba_fee: dec!(4.90),
        }
    }

    fn ordinary_sale() -> Sale {
        Sale {
            vat_rate: dec!(0.20),
            shipping: dec!(4.99),
            levies: dec!(0.10),
            carrier: None,
            dsf_applies: true,
            units: Some(400),
            operational: OperationalCosts {
                handling_excl_vat: dec!(1.20),
                returns_provision_rate: dec!(0.02),
                storage_excl_vat: dec!(0.35),
            },
            cost: dec!(187.4321),
            target: dec!(0.12),
        }
    }

    #[test]
    fn ordinary_terms_take_the_integer_path_on_either_side_of_the_minimum() {
        for (minimum, cost) in [(dec!(0.30), dec!(187.4321)), (dec!(50), dec!(12.34))] {
            let grid = Grid {
                minimum,
                ..ordinary_grid()
            };
            let sale = Sale {
                cost,
                ..ordinary_sale()
            };
            let schedules = grid.schedules();
            let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
            let terms = terms(&sale, schedule);
            let exact = exact_start(
                &terms,
                sale.cost,
                sale.target,
                fulfilment_fees(&terms).unwrap(),
            );
            assert!(exact.is_some(), "{minimum} {cost}");
            assert_eq!(
                exact,
                Some(decimal_start(&terms, sale.cost, sale.target).unwrap())
            );
        }
    }

    /// With no VAT, fee, provision or target, the crossing is the cost exactly: a cent, where
    /// the decimal computation decides.
    #[test]
    fn a_crossing_on_a_cent_is_left_to_the_decimal_computation() {
        let grid = Grid {
            rate: Decimal::ZERO,
            minimum: Decimal::ZERO,
            dsf: None,
            monthly: None,
            ..ordinary_grid()
        };
        let sale = Sale {
            vat_rate: Decimal::ZERO,
            shipping: Decimal::ZERO,
            levies: Decimal::ZERO,
            carrier: Some(Decimal::ZERO),
            units: None,
            operational: OperationalCosts::NONE,
            cost: dec!(12.34),
            target: Decimal::ZERO,
            ..ordinary_sale()
        };
        let schedules = grid.schedules();
        let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
        let terms = terms(&sale, schedule);
        assert_eq!(
            exact_start(
                &terms,
                sale.cost,
                sale.target,
                fulfilment_fees(&terms).unwrap()
            ),
            None
        );
        assert_eq!(
            decimal_start(&terms, sale.cost, sale.target).unwrap(),
            Some(dec!(12.34))
        );
    }
}
