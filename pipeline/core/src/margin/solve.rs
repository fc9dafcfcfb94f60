//! The reprice solve in integers: its first cent from the exact crossing, and its cent walk
//! on the lines as charged, both in `i64`/`i128` with every amount in ten-thousandths of the
//! money unit and every rate in millionths ([`IntegerTerms`]); the decimal computations
//! decide what these cannot.
//!
//! **Why the first cent is the same.** [`super::decimal_start`] finds where the margin
//! crosses the target share of revenue by evaluating the unrounded lines at prices 0 and 1
//! (28-digit decimals, VAT extracted by division) and dividing. The crossing is a ratio of
//! sums of products of the inputs, computed here exactly. Within the bounds of
//! [`IntegerTerms`] (amounts at most `10^5`, rates and VAT in `[0, 1]`, the target in
//! `[-1, 1]`) every value the decimal computation forms is below `10^7` in magnitude;
//! `rust_decimal` keeps such a result to at least 20 places (a 96-bit mantissa holds more
//! than 28 digits), so each of its additions, products and quotients is off the exact result
//! of its operands by at most `10^-20`, and products by rates and quotients by `1 + VAT` do
//! not enlarge earlier errors. Each line evaluation takes at most 18 such operations, so the
//! margins at prices 0 and 1 are within `2 × 10^-19` of exact and the revenues within
//! `3 × 10^-20`; the slope's denominator is then within `5 × 10^-19` and the numerator within
//! `3 × 10^-19` of exact. With the exact denominator at least `0.01` and the exact crossing
//! below `10^6` in magnitude (both checked here), the decimal crossing is within
//! `(3 × 10^-19 + 10^6 × 5 × 10^-19) / (0.01 - 5 × 10^-19) + 10^-20`, below `10^-10`, of the
//! exact one, and the commission compared with the minimum there (a rate times an amount)
//! within `10^-10` of its exact value. So wherever the exact crossing is at least `10^-8`
//! ([`UNDECIDED_WITHIN_INVERSE`]) from every cent, and the exact commission at least as far
//! from the minimum, both computations take the same regime and round up to the same cent;
//! elsewhere (exact crossings on a cent are common with round figures) the decimal
//! computation decides, as it always did.
//!
//! **Why the walk's answer is the same.** A line as charged is the exact value rounded half
//! away from zero to the cent: a product of mantissas rounded once
//! ([`money::charged_product`]), or a quotient (the VAT extraction, the subscription's
//! spread) that [`money::rounded_quotient`] rounds as the exact quotient is rounded within
//! its limits, which the bounds here keep to. Rounding the exact integer product or quotient
//! gives the same cents; sums of amounts of at most 4 places and the comparison with
//! `target × revenue` are exact both ways; only values enter the decision, so zeros' signs and
//! scales do not matter. A commission base excluding VAT (a 28-digit quotient, multiplied and
//! rounded again) and prices above the amount bound are left to the decimal lines.

use rust_decimal::Decimal;

use super::{ChannelFees, CommissionRegime, SaleTerms};
use crate::fees::CommissionBase;
use crate::money;

/// Where the cent walk starts: the first whole cent at or above the exact crossing, at least
/// one cent; `None` when no price reaches the target.
pub(super) type Start = Option<Decimal>;

/// Places of amounts (ten-thousandths) and rates (millionths).
const AMOUNT_DP: u32 = 4;
const RATE_DP: u32 = 6;
/// The bound on amounts (and on a walked price) in money units, and in ten-thousandths.
const AMOUNT_LIMIT: i64 = 100_000;
const AMOUNT_LIMIT_UNITS: i64 = AMOUNT_LIMIT * 10_000;
/// A rate of 1 in millionths.
const RATE_ONE: i64 = 1_000_000;
const CENTS_TO_AMOUNT: i64 = 100;
/// A rate times an amount, in cents: `10^(6 + 4 - 2)` units of the product per cent.
const RATE_AMOUNT_PER_CENT: u64 = 100_000_000;
/// The crossing's bound in cents (`10^6` money units).
const PRICE_LIMIT_CENTS: i128 = 100_000_000;
/// How close to a cent, or the commission to the minimum, the exact values must not be for
/// the decimal computation's result to be known: `10^-8` of a money unit, as its inverse, and
/// the same in cents.
const UNDECIDED_WITHIN_INVERSE: i128 = 100_000_000;
const UNDECIDED_WITHIN_INVERSE_CENTS: i128 = UNDECIDED_WITHIN_INVERSE / 100;

/// The sale's terms as integers, when every amount has at most 4 places and is at most
/// [`AMOUNT_LIMIT`] in magnitude (shipping, levies, the minimum commission, the marketplace's
/// fulfilment fee and the subscription not negative), and every rate (VAT, commission,
/// digital services fee, returns provision) has at most 6 places and lies in `[0, 1]`.
pub(super) struct IntegerTerms {
    shipping: i64,
    levies: i64,
    /// `10^6 × (1 + VAT)`.
    vat_factor: i64,
    commission_rate: i64,
    commission_minimum: i64,
    base: CommissionBase,
    /// Zero when the fee does not apply.
    dsf_rate: i64,
    dsf_applies: bool,
    marketplace_fulfilment_fee: i64,
    /// Handling and storage, the operational costs that do not depend on the price.
    handling_and_storage: i64,
    /// The monthly subscription and the units it is spread over (0 and 1 without one).
    monthly_subscription: i64,
    spread: i64,
    subscription_applies: bool,
    /// The subscription per unit as charged: the exact quotient rounded to the cent, as
    /// `rounded_quotient` rounds it (a divisor of at most `100 × 2^32`, within its limit).
    subscription_per_unit: i64,
    returns_provision_rate: i64,
}

/// What the reprice solve aims at: the fulfilment fee and product cost in ten-thousandths
/// (each at most the amount bound), and the target margin rate in millionths (in `[-1, 1]`).
pub(super) struct Goal {
    fulfilment_and_cost: i64,
    target_rate: i64,
}

impl Goal {
    pub(super) fn new(
        fulfilment_fee: Decimal,
        cost: Decimal,
        target_rate: Decimal,
    ) -> Option<Goal> {
        let amount = |value: Decimal| units_at_places(value, AMOUNT_DP, AMOUNT_LIMIT_UNITS);
        Some(Goal {
            fulfilment_and_cost: amount(fulfilment_fee)? + amount(cost)?,
            target_rate: units_at_places(target_rate, RATE_DP, RATE_ONE)?,
        })
    }
}

/// The lines as charged at one price that depend on it, in ten-thousandths, each a whole
/// number of cents.
struct ChargedLines {
    /// Positive.
    revenue: i64,
    proportional_commission: i64,
    /// The proportional commission raised to the minimum.
    commission: i64,
    digital_services_fee: i64,
    returns_provision: i64,
}

/// `value × 10^places` (`places` at most [`RATE_DP`]) when that is a whole number of
/// magnitude at most `limit`.
fn units_at_places(value: Decimal, places: u32, limit: i64) -> Option<i64> {
    const POWERS_OF_TEN: [i64; RATE_DP as usize + 1] =
        [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let power = POWERS_OF_TEN[places.checked_sub(value.scale())? as usize];
    let units = i64::try_from(value.mantissa()).ok()?.checked_mul(power)?;
    (units.unsigned_abs() <= limit.unsigned_abs()).then_some(units)
}

impl IntegerTerms {
    /// `marketplace_fulfilment_fee` is the part of the fulfilment fee the marketplace charges
    /// ([`super::fulfilment_fees`]); `None` beyond the bounds.
    pub(super) fn new(
        terms: &SaleTerms<'_>,
        marketplace_fulfilment_fee: Decimal,
    ) -> Option<IntegerTerms> {
        let amount = |value: Decimal| units_at_places(value, AMOUNT_DP, AMOUNT_LIMIT_UNITS);
        let non_negative = |value: Decimal| amount(value).filter(|units| *units >= 0);
        let rate =
            |value: Decimal| units_at_places(value, RATE_DP, RATE_ONE).filter(|units| *units >= 0);
        let schedule = terms.schedule;
        let rule = schedule.commission_rule(terms.category);
        let operational = terms.operational;
        let (monthly_subscription, spread, subscription_applies) = match (
            schedule.monthly_subscription_excl_vat,
            terms.expected_monthly_units,
        ) {
            (Some(monthly), Some(units)) if units > 0 => {
                (non_negative(monthly)?, i64::from(units), true)
            }
            _ => (0, 1, false),
        };
        let (dsf_rate, dsf_applies) = match schedule.digital_services_fee_rate {
            Some(dsf) if terms.digital_services_fee => (rate(dsf)?, true),
            _ => (0, false),
        };
        Some(IntegerTerms {
            shipping: non_negative(terms.shipping_incl_vat)?,
            levies: non_negative(terms.levies_incl_vat)?,
            vat_factor: RATE_ONE + rate(terms.vat_rate)?,
            commission_rate: rate(rule.rate)?,
            commission_minimum: non_negative(rule.minimum_excl_vat)?,
            base: schedule.commission_base,
            dsf_rate,
            dsf_applies,
            marketplace_fulfilment_fee: non_negative(marketplace_fulfilment_fee)?,
            handling_and_storage: amount(operational.handling_excl_vat)?
                + amount(operational.storage_excl_vat)?,
            monthly_subscription,
            spread,
            subscription_applies,
            subscription_per_unit: money::round_half_up(
                monthly_subscription as u64,
                spread as u64 * CENTS_TO_AMOUNT as u64,
            ) as i64
                * CENTS_TO_AMOUNT,
            returns_provision_rate: rate(operational.returns_provision_rate)?,
        })
    }

    /// [`super::decimal_start`], bit for bit; `None` where a decision or the cent is too
    /// close to call (see the module's documentation), which that computation then decides.
    ///
    /// With `X` the price in ten-thousandths and `10^6 (1 + VAT)`, rates and the target in
    /// millionths, `10^22 (1 + VAT) × spread × (margin - target × revenue)` is
    /// `spread × [(kept - target) 10^12 (X + S - L) - (10^6 + dsf) C(X) - dsf (10^6 + VAT)
    /// Fm 10^6 - (10^6 + VAT) G 10^12] - (10^6 + VAT) M 10^12`, where `kept` is
    /// `10^6 - returns rate`, `C(X)` is `10^16 (1 + VAT)` times the commission, `G` the fixed
    /// costs and `M` the monthly subscription; its root is the crossing. With the bounds of
    /// [`IntegerTerms`] and [`Goal`] every term is below `10^28` in magnitude and the bracket
    /// below `2 × 10^28`, so times the spread (below `2^32`) it stays below `10^38`, within
    /// an `i128`.
    pub(super) fn start(&self, goal: &Goal) -> Option<Start> {
        let wide = i128::from;
        let million = wide(RATE_ONE);
        let vat_factor = wide(self.vat_factor);
        let spread = wide(self.spread);
        let net_of_target = wide(RATE_ONE - self.returns_provision_rate - goal.target_rate);
        let with_fee = wide(RATE_ONE + self.dsf_rate);
        let shipping_less_levies = wide(self.shipping - self.levies);
        let costs =
            wide(self.dsf_rate) * vat_factor * wide(self.marketplace_fulfilment_fee) * million
                + vat_factor
                    * wide(self.handling_and_storage + goal.fulfilment_and_cost)
                    * million
                    * million;
        let subscription = vat_factor * wide(self.monthly_subscription) * million * million;
        // The commission base is (X + at_zero) / divisor, the divisor 10^6 (1 + VAT) for a
        // base excluding VAT and 10^6 otherwise; 10^16 (1 + VAT) × the rate times the base
        // is then `commission_per_unit × (X + at_zero)`, the divisor cancelling (1 + VAT).
        let rate = wide(self.commission_rate);
        let (base_at_zero, base_divisor, commission_per_unit) = match self.base {
            CommissionBase::PricePlusShippingInclVat => {
                (wide(self.shipping), million, rate * vat_factor)
            }
            CommissionBase::PricePlusShippingExclVat => {
                (wide(self.shipping), vat_factor, rate * million)
            }
            CommissionBase::PriceInclVat => (0, million, rate * vat_factor),
        };
        // The decimal denominator is `slope / (10^12 (10^6 + VAT) spread)`, at least 0.01:
        // 100 × slope at least this.
        let slope_floor = million * million * vat_factor * spread;
        for regime in [CommissionRegime::Proportional, CommissionRegime::Minimum] {
            // C(X) = commission_slope × X + commission_at_zero.
            let (commission_slope, commission_at_zero) = match regime {
                CommissionRegime::Minimum => {
                    (0, vat_factor * wide(self.commission_minimum) * million)
                }
                _ => (commission_per_unit, commission_per_unit * base_at_zero),
            };
            let slope = spread * (net_of_target * million * million - with_fee * commission_slope);
            if slope.abs() * 100 < slope_floor {
                return None;
            }
            if slope < 0 {
                continue;
            }
            let numerator = subscription
                - spread
                    * (net_of_target * million * million * shipping_less_levies
                        - with_fee * commission_at_zero
                        - costs);
            // The crossing, X = numerator / slope, in cents: numerator / (100 slope).
            let per_cent = slope * 100;
            let below = numerator.div_euclid(per_cent);
            if below.abs() > PRICE_LIMIT_CENTS {
                return None;
            }
            let above_minimum =
                self.commission_above_minimum(numerator, slope, below, base_at_zero, base_divisor)?;
            let regime_holds = match regime {
                CommissionRegime::Proportional => above_minimum,
                _ => !above_minimum,
            };
            if regime_holds {
                return first_cent(numerator, per_cent, below).map(Some);
            }
        }
        Some(None)
    }

    /// Whether the proportional commission at the crossing `numerator / slope` (price in
    /// ten-thousandths, its floor in cents `below`) is above the minimum, `None` when it is
    /// within `10^-8` of a money unit of it, where the decimal computation's comparison is not
    /// known. With `X` a price in ten-thousandths, the commission less the minimum is
    /// `(rate × (X + at_zero) - minimum × divisor) / (10^4 × divisor)`, increasing in `X`: its
    /// values at the crossing's cent and the next usually decide, in products that fit an
    /// `i128`; near the minimum, the crossing's own value decides.
    fn commission_above_minimum(
        &self,
        numerator: i128,
        slope: i128,
        below: i128,
        base_at_zero: i128,
        base_divisor: i128,
    ) -> Option<bool> {
        let rate = i128::from(self.commission_rate);
        let minimum = i128::from(self.commission_minimum) * base_divisor;
        let window = UNDECIDED_WITHIN_INVERSE / 10_000;
        let gap_at_price = |price: i128| rate * (price + base_at_zero) - minimum;
        if gap_at_price(below * CENTS_TO_AMOUNT as i128) * window > base_divisor {
            return Some(true);
        }
        if gap_at_price((below + 1) * CENTS_TO_AMOUNT as i128) * window < -base_divisor {
            return Some(false);
        }
        // The crossing's own gap, times its denominator `slope`.
        let gap = rate
            .checked_mul(numerator.checked_add(base_at_zero.checked_mul(slope)?)?)?
            .checked_sub(minimum.checked_mul(slope)?)?;
        if gap.checked_abs()?.checked_mul(window)? <= slope.checked_mul(base_divisor)? {
            return None;
        }
        Some(gap > 0)
    }

    /// The lines as charged at `price` (ten-thousandths, not negative), as the decimal lines
    /// compute them (see the module's documentation); `None` for a revenue of zero or less,
    /// and for a commission base excluding VAT, which the decimal lines then compute.
    fn charged_lines(&self, price: i64) -> Option<ChargedLines> {
        let base = match self.base {
            CommissionBase::PricePlusShippingInclVat => price + self.shipping,
            CommissionBase::PriceInclVat => price,
            CommissionBase::PricePlusShippingExclVat => return None,
        };
        let revenue_incl_vat = price + self.shipping - self.levies;
        if revenue_incl_vat <= 0 {
            return None;
        }
        // (revenue incl. VAT / 10^4) / (factor / 10^6), in cents.
        let revenue_cents = money::round_half_up(
            revenue_incl_vat as u64 * 10u64.pow(AMOUNT_DP),
            self.vat_factor as u64,
        ) as i64;
        if revenue_cents == 0 {
            return None;
        }
        let revenue = revenue_cents * CENTS_TO_AMOUNT;
        let charged = |rate: i64, amount: i64| {
            money::round_half_up(rate as u64 * amount as u64, RATE_AMOUNT_PER_CENT) as i64
                * CENTS_TO_AMOUNT
        };
        let proportional_commission = charged(self.commission_rate, base);
        let commission = proportional_commission.max(self.commission_minimum);
        Some(ChargedLines {
            revenue,
            proportional_commission,
            commission,
            digital_services_fee: charged(
                self.dsf_rate,
                commission + self.marketplace_fulfilment_fee,
            ),
            returns_provision: charged(self.returns_provision_rate, revenue),
        })
    }

    /// Whether the margin as charged at `cents` reaches the goal (a revenue of zero or less
    /// never does), as the decimal lines answer; `None` for a commission base excluding VAT
    /// and a price beyond the bounds, which they then decide.
    pub(super) fn reaches(&self, goal: &Goal, cents: i128) -> Option<bool> {
        if self.base == CommissionBase::PricePlusShippingExclVat {
            return None;
        }
        let price = i64::try_from(cents)
            .ok()
            .filter(|cents| (1..=AMOUNT_LIMIT * CENTS_TO_AMOUNT).contains(cents))?
            * CENTS_TO_AMOUNT;
        let Some(lines) = self.charged_lines(price) else {
            return Some(false);
        };
        let net_margin = lines.revenue
            - lines.commission
            - lines.digital_services_fee
            - self.subscription_per_unit
            - lines.returns_provision
            - self.handling_and_storage
            - goal.fulfilment_and_cost;
        Some(
            i128::from(net_margin) * i128::from(RATE_ONE)
                >= i128::from(goal.target_rate) * i128::from(lines.revenue),
        )
    }

    /// [`super::channel_fees`] at `price_incl_vat`, bit for bit, each line as charged built
    /// as the money helpers build it (the cents padded to the money scale) or, a zero or a
    /// line the terms take as they are, taken or computed as the decimal lines do; `None` for
    /// a price beyond the bounds, a revenue of zero or less (an error there) and a commission
    /// base excluding VAT, which the decimal lines then compute.
    pub(super) fn channel_fees(
        &self,
        terms: &SaleTerms<'_>,
        price_incl_vat: Decimal,
        (fulfilment_fee, marketplace_fulfilment_fee): (Decimal, Decimal),
    ) -> Option<ChannelFees> {
        let price = units_at_places(price_incl_vat, AMOUNT_DP, AMOUNT_LIMIT_UNITS)
            .filter(|price| *price >= 0)?;
        let lines = self.charged_lines(price)?;
        let money_of = |units: i64| Decimal::new(units, money::MONEY_SCALE);
        let schedule = terms.schedule;
        let rule = schedule.commission_rule(terms.category);
        let revenue_excl_vat = money_of(lines.revenue);
        let charged_or = |units: i64, decimal: &dyn Fn() -> Decimal| {
            if units > 0 {
                money_of(units)
            } else {
                decimal()
            }
        };
        // `Decimal::max` keeps the proportional commission on a tie, as here.
        let commission_excl_vat = if lines.proportional_commission >= self.commission_minimum {
            charged_or(lines.proportional_commission, &|| {
                money::charged_product(
                    rule.rate,
                    schedule.commission_base.amount(
                        price_incl_vat,
                        terms.shipping_incl_vat,
                        terms.vat_rate,
                    ),
                )
            })
        } else {
            rule.minimum_excl_vat
        };
        let digital_services_fee_excl_vat = match schedule.digital_services_fee_rate {
            Some(rate) if self.dsf_applies => charged_or(lines.digital_services_fee, &|| {
                money::charged_product(rate, commission_excl_vat + marketplace_fulfilment_fee)
            }),
            _ => Decimal::ZERO,
        };
        let subscription_per_unit_excl_vat = match (
            schedule.monthly_subscription_excl_vat,
            terms.expected_monthly_units,
        ) {
            (Some(monthly), Some(units)) if self.subscription_applies => {
                charged_or(self.subscription_per_unit, &|| {
                    money::fixed(
                        money::rounded_quotient(monthly, Decimal::from(units), money::CENT_DP),
                        money::MONEY_SCALE,
                    )
                })
            }
            _ => Decimal::ZERO,
        };
        let operational = terms.operational;
        // Handling and storage (at most 4 places each) plus a positive provision: the sum at
        // the money scale, the largest of the three scales, as the decimal sum gives it; a
        // zero provision or total goes through the decimal sum.
        let operational_cost = self.handling_and_storage + lines.returns_provision;
        let operational_cost_excl_vat = if lines.returns_provision > 0 && operational_cost != 0 {
            money_of(operational_cost)
        } else {
            operational.handling_excl_vat
                + operational.storage_excl_vat
                + charged_or(lines.returns_provision, &|| {
                    money::charged_product(operational.returns_provision_rate, revenue_excl_vat)
                })
        };
        Some(ChannelFees {
            price_incl_vat,
            revenue_excl_vat,
            commission_excl_vat,
            digital_services_fee_excl_vat,
            fulfilment_fee_excl_vat: fulfilment_fee,
            subscription_per_unit_excl_vat,
            operational_cost_excl_vat,
        })
    }
}

/// The first whole cent at or above `numerator / per_cent` (`per_cent` positive, `below` the
/// floor of the quotient), at least one cent; `None` within `10^-8` of a money unit of a cent.
fn first_cent(numerator: i128, per_cent: i128, below: i128) -> Option<Decimal> {
    let past = numerator - below * per_cent;
    if past * UNDECIDED_WITHIN_INVERSE_CENTS <= per_cent
        || (per_cent - past) * UNDECIDED_WITHIN_INVERSE_CENTS <= per_cent
    {
        return None;
    }
    // At most 10^8 + 1 cents by the price bound.
    Some(Decimal::new((below as i64 + 1).max(1), money::CENT_DP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::Category;
    use crate::channel::Channel;
    use crate::fees::{FeeSchedule, Parcel};
    use crate::margin::test_grid::{AT, Grid};
    use crate::margin::{
        CommissionRegime, Fulfilment, MarginError, OperationalCosts, Precision, ProductCost,
        channel_fees, decimal_start, fulfilment_fees, lines, price_for_margin_rate,
    };
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    /// The integer start, `None` where it leaves the start to the decimal computation.
    fn exact_start(
        terms: &SaleTerms<'_>,
        cost: Decimal,
        target: Decimal,
        fulfilment: (Decimal, Decimal),
    ) -> Option<Start> {
        IntegerTerms::new(terms, fulfilment.1)?.start(&Goal::new(fulfilment.0, cost, target)?)
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
            1 => Just(Decimal::ZERO),
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
            // Only where the integer path answers: elsewhere the decimal computation is what
            // runs.
            let fulfilment = fulfilment_fees(&terms).unwrap();
            if let Some(exact) = exact_start(&terms, sale.cost, sale.target, fulfilment) {
                let decimal = decimal_start(&terms, sale.cost, sale.target).unwrap();
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
            let (Some(walk), Some(goal)) = (
                IntegerTerms::new(&terms, fulfilment.1),
                Goal::new(fulfilment.0, sale.cost, sale.target),
            ) else {
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
                let Some(integer) = walk.reaches(&goal, price) else {
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

    proptest! {
        /// Wherever the integer lines answer, every line is the decimal lines', value and
        /// scale and sign.
        #[test]
        fn integer_channel_fees_are_the_decimal_lines(
            grid in grids(),
            sale in sales(),
            price in prop_oneof![amount(100_000), amount(20_000_000)],
        ) {
            let schedules = grid.schedules();
            let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
            let terms = terms(&sale, schedule);
            let fulfilment = fulfilment_fees(&terms).unwrap();
            let Some(integer) = IntegerTerms::new(&terms, fulfilment.1)
                .and_then(|integer| integer.channel_fees(&terms, price, fulfilment))
            else {
                return Ok(());
            };
            let decimal =
                lines(&terms, price, Precision::Charged, CommissionRegime::AsCharged).unwrap();
            let bits = |fees: &ChannelFees| {
                [
                    fees.price_incl_vat,
                    fees.revenue_excl_vat,
                    fees.commission_excl_vat,
                    fees.digital_services_fee_excl_vat,
                    fees.fulfilment_fee_excl_vat,
                    fees.subscription_per_unit_excl_vat,
                    fees.operational_cost_excl_vat,
                ]
                .map(|line| line.serialize())
            };
            prop_assert_eq!(bits(&integer), bits(&decimal), "at {}: {:?} {:?}", price, grid, sale);
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

    #[test]
    fn a_target_the_margin_only_just_cannot_outgrow_has_no_price() {
        // Commission 7% of the price excl. VAT and a 93% target: the margin's slope is exactly
        // the target's, which the 28-digit lines make a hair steeper; dividing by that hair
        // overflowed a decimal and panicked.
        let grid = Grid {
            base: "price_plus_shipping_excl_vat",
            rate: dec!(0.07),
            minimum: Decimal::ZERO,
            dsf: None,
            monthly: None,
            fba_fee: Decimal::ZERO,
        };
        let sale = Sale {
            vat_rate: dec!(0.087),
            shipping: Decimal::ZERO,
            levies: Decimal::ZERO,
            carrier: None,
            dsf_applies: false,
            units: None,
            operational: OperationalCosts::NONE,
            cost: dec!(793.14),
            target: dec!(0.93),
        };
        let schedules = grid.schedules();
        let schedule = schedules.in_force(Channel::Amazon, AT).unwrap();
        let terms = terms(&sale, schedule);
        let cost = ProductCost {
            unit_cost_excl_vat: sale.cost,
            source: "erp_standard_cost".to_owned(),
            observed_at: AT,
        };
        assert_eq!(
            price_for_margin_rate(&terms, &cost, sale.target).unwrap(),
            None
        );
    }
}
