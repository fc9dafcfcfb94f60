//! The seven factors: each turns part of the situation into a raw value in its own unit, a
//! normalised value in [0, 1], a confidence in [0, 1] (0 when an input it needs is missing,
//! otherwise the freshness of the stalest input it used) and a one-line explanation.
//! Missing inputs are never replaced by defaults: the factor scores 0 and says what is
//! missing. `docs/scoring.md` gives every curve.

use std::cell::OnceCell;

use rust_decimal::Decimal;

use crate::margin::{ChannelFees, Margin};
use crate::money::{
    self, Amount, CappedShare, Fixed, Joined, LINE_CAPACITY, Percent, Piece, append, text,
    unit_interval,
};
use crate::profile::{Normalisation, WeightProfile};
use crate::score::freshness::{Confidence, FreshnessShown, Freshnesses, Input, InputAge};
use crate::score::velocity::SalesRankCurve;
use crate::score::{PriceBasis, Situation};

/// One factor's outcome before weighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorValue {
    pub raw_value: Option<Decimal>,
    pub normalised: Decimal,
    pub confidence: Confidence,
    pub explanation: String,
}

impl FactorValue {
    fn missing(inputs: &[&str]) -> Self {
        Self {
            raw_value: None,
            normalised: Decimal::ZERO,
            confidence: Confidence::Zero,
            explanation: text!("missing ", Joined(inputs), ": contributes nothing"),
        }
    }
}

/// The parts of the factors' explanations that depend only on the weight profile's
/// normalisation (the points where factors saturate), rendered once when the profile is
/// loaded instead of for every record, and appended where the factors rendered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdTexts {
    /// `"; full score at 25.0% and 40.00"`: the amount's currency, which depends on the
    /// channel, follows per record (an [`Amount`] is its digits, a space and the currency).
    margin_full_score: String,
    /// `"; 0 at 15.0% above"`.
    price_gap_zero: String,
    /// `" units/day for us; 0.5 at 1 units/day"`.
    units_half: String,
    /// `" days of cover (full at 30)"`.
    cover_full: String,
    /// `"; 0 at 35.0%"`.
    channel_cost_zero: String,
    /// `"; 0 at 15.0%"`.
    operational_cost_zero: String,
}

impl ThresholdTexts {
    pub fn new(n: &Normalisation) -> Self {
        Self {
            margin_full_score: text!(
                "; full score at ",
                Percent(n.margin_rate_for_full_score),
                " and ",
                Fixed(n.net_margin_for_full_score, money::CENT_DP)
            ),
            price_gap_zero: text!("; 0 at ", Percent(n.price_gap_for_zero_score), " above"),
            units_half: text!(
                " units/day for us; 0.5 at ",
                n.units_per_day_for_half_score.normalize(),
                " units/day"
            ),
            cover_full: text!(
                " days of cover (full at ",
                n.days_of_cover_for_full_score.normalize(),
                ")"
            ),
            channel_cost_zero: text!("; 0 at ", Percent(n.channel_cost_share_for_zero_score)),
            operational_cost_zero: text!(
                "; 0 at ",
                Percent(n.operational_cost_share_for_zero_score)
            ),
        }
    }
}

/// Sellers the page's sales are shared with, us included.
fn sellers_sharing_sales(situation: &Situation<'_>) -> Option<i64> {
    let market = &situation.market;
    let listed_offers = i64::from(market.offer_count?.max(0));
    let ours_to_come = i64::from(market.listing.is_none());
    Some((listed_offers + ours_to_come).max(1))
}

/// Units sold per day on the page, and our share of them (the page's sellers sharing them,
/// ours alone when the offer count is missing), unrounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Velocity {
    pub page: Decimal,
    pub ours: Decimal,
}

impl Velocity {
    fn new(situation: &Situation<'_>, curve: &SalesRankCurve, rank: i64) -> Self {
        let page = curve.units_per_day(rank);
        let sharing = sellers_sharing_sales(situation).unwrap_or(1);
        Velocity {
            page,
            ours: page / Decimal::from(sharing),
        }
    }
}

/// The [`Velocity`] as exact fractions, for the outputs of market attractiveness and
/// availability rounded at once in integers: the page's units per day is
/// `numerator / page_denominator` and ours `numerator / ours_denominator`.
///
/// Why the outputs round as the decimal computation does. Every decimal operation of that
/// computation (a quotient, a sum, a product) is exact or off by at most `10^-26 v + 10^-28`
/// from the exact result `v` of its computed operands: at least 27 significant digits, or
/// 28 places (the products of the curve's points by ranks, and the sums with the lead
/// time, are exact within the limits). The integer paths are only taken for values of at
/// least `10^-6` (our units per day, the normalised values, the days of cover and its share
/// of the full cover, the readiness and its product with the depth; each checked or implied
/// by another check), where that is at most a relative `1.001 × 10^-22` per operation.
/// Between two points of the curve, the interpolated difference, off by as much relative
/// to itself, is at most 1,000 times the result ([`SalesRankCurve::exact_units_per_day`]),
/// which adds `10^-23`. The longest chain (the page's units per day: two operations; our
/// share: one; days of cover: one; its share of the full cover: one; the clamp to 1, which
/// only brings the value nearer; the product with the readiness, itself one operation: two)
/// therefore stays within a relative `10^-21` of the exact fraction, and so does
/// `x / (x + h)`, whose relative error is at most `x`'s and two operations'.
/// [`money::round_half_up_far_from_midpoint`] only rounds an exact fraction lying farther
/// than a relative `10^-18` from every midpoint, which the decimal result therefore cannot
/// cross; nearer (a midpoint included), and beyond the limits, the decimal computation
/// decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExactVelocity {
    numerator: u128,
    page_denominator: u128,
    ours_denominator: u128,
}

/// `10^6`: the smallest value the integer paths take is `10^-6`.
const MILLION: u128 = 1_000_000;

impl ExactVelocity {
    fn new(curve: &SalesRankCurve, rank: i64, sellers: i64) -> Option<Self> {
        let (numerator, page_denominator) = curve.exact_units_per_day(rank)?;
        let ours_denominator = page_denominator.checked_mul(u128::try_from(sellers).ok()?)?;
        // Our units per day at least 10^-6.
        if numerator.checked_mul(MILLION)? < ours_denominator {
            return None;
        }
        Some(Self {
            numerator,
            page_denominator,
            ours_denominator,
        })
    }

    /// `fixed(page, dp)`.
    fn page_fixed(&self, dp: u32) -> Option<Decimal> {
        rounded_fraction(self.numerator, self.page_denominator, dp)
    }

    /// `fixed(ours, dp)`.
    fn ours_fixed(&self, dp: u32) -> Option<Decimal> {
        rounded_fraction(self.numerator, self.ours_denominator, dp)
    }

    /// `rate(ours / (ours + half))`, market attractiveness's normalised value.
    fn share_of_half_score(&self, half: Decimal) -> Option<Decimal> {
        let (half_numerator, half_denominator) = exact_fraction(half)?;
        let ours = self.numerator.checked_mul(half_denominator)?;
        let whole = half_numerator
            .checked_mul(self.ours_denominator)?
            .checked_add(ours)?;
        // At least 10^-6.
        if ours.checked_mul(MILLION)? < whole {
            return None;
        }
        rounded_fraction(ours, whole, money::RATE_SCALE)
    }

    /// `fixed(units / ours, dp)`, the days of cover; `units` at least 1.
    fn cover_fixed(&self, units: i64, dp: u32) -> Option<Decimal> {
        let units = u128::try_from(units).ok().filter(|units| *units >= 1)?;
        rounded_fraction(
            units.checked_mul(self.ours_denominator)?,
            self.numerator,
            dp,
        )
    }

    /// `rate(readiness × unit_interval(units / ours / full_cover))`, availability's
    /// normalised value, the readiness `readiness.0 / readiness.1`; `units` at least 1.
    fn readiness_times_depth(
        &self,
        readiness: (u128, u128),
        units: i64,
        full_cover: Decimal,
    ) -> Option<Decimal> {
        let (readiness_numerator, readiness_denominator) = readiness;
        let units = u128::try_from(units).ok().filter(|units| *units >= 1)?;
        let (full_numerator, full_denominator) = exact_fraction(full_cover)?;
        // Readiness at least 10^-6 (and at most 1).
        if readiness_numerator.checked_mul(MILLION)? < readiness_denominator
            || readiness_numerator > readiness_denominator
        {
            return None;
        }
        // depth = cover / full = units × ours_denominator × full_denominator
        //                        / (numerator × full_numerator)
        let depth_numerator = units
            .checked_mul(self.ours_denominator)?
            .checked_mul(full_denominator)?;
        let depth_denominator = self.numerator.checked_mul(full_numerator)?;
        let (numerator, denominator) = if depth_numerator >= depth_denominator {
            (readiness_numerator, readiness_denominator)
        } else {
            (
                readiness_numerator.checked_mul(depth_numerator)?,
                readiness_denominator.checked_mul(depth_denominator)?,
            )
        };
        // At least 10^-6.
        if numerator.checked_mul(MILLION)? < denominator {
            return None;
        }
        rounded_fraction(numerator, denominator, money::RATE_SCALE)
    }
}

/// A positive threshold of the profile as `(mantissa, 10^scale)`, within the integer
/// paths' arithmetic (at most 6 places, a mantissa below `10^13`).
fn exact_fraction(value: Decimal) -> Option<(u128, u128)> {
    let mantissa = u128::try_from(value.mantissa()).ok()?;
    let scale = value.scale();
    (mantissa > 0 && mantissa < 10_000_000_000_000 && scale <= money::RATE_SCALE)
        .then(|| (mantissa, 10u128.pow(scale)))
}

/// `numerator / denominator` rounded to `dp` places as [`money::fixed`] rounds (a positive
/// value, so a positive result), where [`money::round_half_up_far_from_midpoint`] decides.
fn rounded_fraction(numerator: u128, denominator: u128, dp: u32) -> Option<Decimal> {
    let rounded = money::round_half_up_far_from_midpoint(numerator, denominator, dp)?;
    Decimal::try_from_i128_with_scale(i128::try_from(rounded).ok()?, dp).ok()
}

/// What every factor may read, computed once per evaluation.
pub struct FactorInputs<'s, 'a> {
    pub situation: &'s Situation<'a>,
    pub profile: &'s WeightProfile,
    pub price: Option<PriceBasis>,
    pub fees: Option<&'s ChannelFees>,
    pub margin: Option<&'s Margin>,
    /// `Some(None)`: computed and unreachable; `None`: not computed (inputs missing, or a
    /// listed reference keeps its price).
    pub target_price: Option<Option<Decimal>>,
    /// Filled by the first factor that reads it: start with `OnceCell::new()`.
    pub velocity: OnceCell<Velocity>,
    /// What the confidences and data freshness read; a factor's [`Confidence`] names the
    /// freshnesses it is made of, and [`Freshnesses::weighted_confidence`] weighs them.
    pub freshness: Freshnesses,
    /// The missing inputs that prevent the channel fees, for explanations.
    pub fee_blockers: &'s [&'static str],
    /// The missing inputs that prevent a margin, for explanations.
    pub margin_blockers: &'s [&'static str],
}

impl FactorInputs<'_, '_> {
    fn currency(&self) -> &str {
        self.situation.currency
    }

    pub fn margin_potential(&self) -> FactorValue {
        let Some(margin) = self.margin else {
            return FactorValue::missing(self.margin_blockers);
        };
        let n = self.profile.normalisation();
        let price = self.price.expect("a margin is computed at a price");
        let currency = self.currency();
        let explanation = text!(
            "net margin ",
            Amount(margin.net_margin_excl_vat, currency),
            " (",
            Percent(margin.margin_rate),
            " of revenue excl. VAT) at ",
            price.basis.label(),
            " ",
            Amount(price.price_incl_vat, currency),
            self.profile.threshold_texts().margin_full_score.as_str(),
            " ",
            currency
        );
        FactorValue {
            raw_value: Some(margin.margin_rate),
            // The mean of the rate and amount parts, already rounded and clamped as `evaluate`
            // would round and clamp it.
            normalised: money::mean_of_capped_shares(
                (margin.margin_rate, n.margin_rate_for_full_score),
                (margin.net_margin_excl_vat, n.net_margin_for_full_score),
            ),
            confidence: Confidence::OFFER_AND_COST,
            explanation,
        }
    }

    pub fn price_competitiveness(&self) -> FactorValue {
        let market = &self.situation.market;
        let references = [
            ("buy box", market.buy_box_incl_vat),
            ("lowest offer", market.lowest_landed_incl_vat),
        ];
        if references.iter().all(|(_, price)| price.is_none()) {
            return FactorValue::missing(&["competitor_price"]);
        }
        let (ours, ours_label, confidence) = match (&market.listing, self.target_price) {
            (Some(listing), _) => (
                listing.price_incl_vat + listing.shipping_incl_vat,
                "our landed price",
                Confidence::OFFER,
            ),
            (None, Some(Some(target))) => (
                target,
                "our price at target margin",
                Confidence::OFFER_AND_COST,
            ),
            (None, Some(None)) => {
                return FactorValue {
                    raw_value: None,
                    normalised: Decimal::ZERO,
                    confidence: Confidence::OFFER_AND_COST,
                    explanation: "not listed and no price reaches the target margin on this \
                                  channel"
                        .into(),
                };
            }
            (None, None) => return FactorValue::missing(self.margin_blockers),
        };
        let gap_for_zero = self.profile.normalisation().price_gap_for_zero_score;
        let currency = self.currency();
        let mut explanation = text!(ours_label, " ", Amount(ours, currency), ": ");
        let mut gaps = [Decimal::ZERO; 2];
        let mut compared = 0;
        for (label, reference) in references {
            let Some(reference) = reference.filter(|price| *price > Decimal::ZERO) else {
                continue;
            };
            let gap = money::relative_gap(ours, reference);
            gaps[compared] = gap;
            if compared > 0 {
                explanation.push_str(", ");
            }
            append!(
                &mut explanation,
                SignedPercent(gap),
                " vs ",
                label,
                " ",
                Amount(reference, currency)
            );
            compared += 1;
        }
        if compared == 0 {
            return FactorValue::missing(&["competitor_price"]);
        }
        explanation.push_str(&self.profile.threshold_texts().price_gap_zero);
        // Each compared price scores what is left of 1 once its gap is taken as a share of
        // the gap that scores zero; the mean of the scores comes already rounded and clamped,
        // as `evaluate` would round and clamp it, or from the decimal computation where the
        // integer one cannot decide.
        let scores = gaps.map(|gap| CappedShare::Complement((gap, gap_for_zero)));
        let normalised = money::rounded_mean_of_capped(&scores[..compared]).unwrap_or_else(|| {
            let sum = gaps[..compared].iter().fold(Decimal::ZERO, |sum, gap| {
                sum + (Decimal::ONE - unit_interval(*gap / gap_for_zero))
            });
            sum / Decimal::from(compared)
        });
        FactorValue {
            raw_value: Some(gaps[0]),
            normalised,
            confidence,
            explanation,
        }
    }

    /// Our expected units per day on this channel, when the rank and its curve are known.
    pub fn expected_units_per_day(&self) -> Option<Decimal> {
        let curve = self.situation.rank_curve?;
        let rank = self.situation.market.sales_rank?;
        Some(self.velocity_on(curve, rank).ours)
    }

    /// The [`Velocity`] at the page's sales rank on its curve, computed once per evaluation
    /// (market attractiveness and availability both read it).
    fn velocity_on(&self, curve: &SalesRankCurve, rank: i64) -> Velocity {
        *self
            .velocity
            .get_or_init(|| Velocity::new(self.situation, curve, rank))
    }

    /// Sellers the page's sales are shared with, us included.
    fn sellers_sharing_sales(&self) -> Option<i64> {
        sellers_sharing_sales(self.situation)
    }

    /// The [`ExactVelocity`] at the page's sales rank, when the rank and its curve are known
    /// and the integer paths can take it.
    fn exact_velocity(&self) -> Option<ExactVelocity> {
        let curve = self.situation.rank_curve?;
        let rank = self.situation.market.sales_rank?;
        ExactVelocity::new(curve, rank, self.sellers_sharing_sales().unwrap_or(1))
    }

    pub fn market_attractiveness(&self) -> FactorValue {
        let market = &self.situation.market;
        let Some(rank) = market.sales_rank else {
            return FactorValue::missing(&["sales_rank"]);
        };
        let Some(curve) = self.situation.rank_curve else {
            return FactorValue::missing(&["sales_rank_curve"]);
        };
        // The decimals only where an integer path leaves a value to them.
        let decimal = || self.velocity_on(curve, rank);
        let exact = self.exact_velocity();
        let sharing = self.sellers_sharing_sales();
        let half = self.profile.normalisation().units_per_day_for_half_score;
        let page_shown = exact
            .and_then(|exact| exact.page_fixed(2))
            .unwrap_or_else(|| money::fixed(decimal().page, 2));
        let mut explanation = text!(
            "sales rank ",
            rank,
            ": about ",
            page_shown,
            " units/day on the page, "
        );
        match sharing {
            Some(sellers) => append!(&mut explanation, "shared by ", sellers, " sellers"),
            None => explanation.push_str("offer count missing, assumed ours alone"),
        }
        let ours_shown = exact
            .and_then(|exact| exact.ours_fixed(2))
            .unwrap_or_else(|| money::fixed(decimal().ours, 2));
        append!(
            &mut explanation,
            ": ",
            ours_shown,
            self.profile.threshold_texts().units_half.as_str()
        );
        FactorValue {
            raw_value: Some(
                exact
                    .and_then(|exact| exact.ours_fixed(money::RATE_SCALE))
                    .unwrap_or_else(|| money::rate(decimal().ours)),
            ),
            normalised: exact
                .and_then(|exact| exact.share_of_half_score(half))
                .unwrap_or_else(|| {
                    let ours = decimal().ours;
                    ours / (ours + half)
                }),
            confidence: if sharing.is_some() {
                Confidence::OFFER
            } else {
                Confidence::Zero
            },
            explanation,
        }
    }

    pub fn availability(&self) -> FactorValue {
        let Some(supply) = &self.situation.supply else {
            return FactorValue::missing(&["stock"]);
        };
        let n = self.profile.normalisation();
        let supplier_units = supply.supplier_units.unwrap_or(0);
        let supplier_can_deliver = supply.supplier_units.is_none_or(|units| units > 0);
        let mut explanation = String::with_capacity(LINE_CAPACITY);
        // The readiness as a decimal, and as an exact fraction where the integer path can
        // take it (`None` when it is 0: the decimal product is then a zero).
        let (readiness, exact_readiness, lead_time_missing) = if supply.own_units > 0 {
            append!(&mut explanation, supply.own_units, " units in our stock");
            (Decimal::ONE, Some((1, 1)), false)
        } else {
            match (supplier_can_deliver, supply.supplier_lead_time_days) {
                (true, Some(days)) => {
                    let days = Decimal::from(days.max(0));
                    append!(
                        &mut explanation,
                        "none in our stock, supplier delivers in ",
                        days,
                        " days"
                    );
                    let half = n.lead_time_days_for_half_score;
                    let exact = exact_fraction(half).and_then(|(numerator, denominator)| {
                        let days = u128::try_from(days.mantissa()).ok()?;
                        Some((
                            numerator,
                            days.checked_mul(denominator)?.checked_add(numerator)?,
                        ))
                    });
                    (half / (half + days), exact, false)
                }
                (true, None) => {
                    explanation.push_str("none in our stock, supplier lead time missing");
                    (Decimal::ZERO, None, true)
                }
                (false, _) => {
                    explanation.push_str("out of stock everywhere");
                    (Decimal::ZERO, None, false)
                }
            }
        };
        explanation.push_str("; ");
        let units = supply.own_units.saturating_add(supplier_units);
        let full_cover = n.days_of_cover_for_full_score;
        let exact = self.exact_velocity();
        // Our units per day is positive whenever the integer paths take it.
        let per_day = || {
            self.expected_units_per_day()
                .filter(|per_day| *per_day > Decimal::ZERO)
        };
        let normalised = if exact.is_some() || per_day().is_some() {
            let cover = || {
                let per_day = per_day().expect("positive: the integer paths' limits, or checked");
                Decimal::from(units) / per_day
            };
            let cover_shown = exact
                .and_then(|exact| exact.cover_fixed(units, 1))
                .unwrap_or_else(|| money::fixed(cover(), 1));
            append!(
                &mut explanation,
                cover_shown,
                self.profile.threshold_texts().cover_full.as_str()
            );
            exact
                .zip(exact_readiness)
                .and_then(|(exact, exact_readiness)| {
                    exact.readiness_times_depth(exact_readiness, units, full_cover)
                })
                .unwrap_or_else(|| readiness * unit_interval(cover() / full_cover))
        } else {
            explanation.push_str("days of cover unknown (no sales velocity)");
            readiness * Decimal::ONE
        };
        FactorValue {
            raw_value: Some(Decimal::from(units)),
            normalised,
            confidence: if lead_time_missing {
                Confidence::Zero
            } else {
                Confidence::Stalest(&[Input::Stock])
            },
            explanation,
        }
    }

    /// `zero_text` is `zero_at`'s part of the explanation, from [`ThresholdTexts`].
    fn cost_share(
        &self,
        cost: Decimal,
        what: &str,
        zero_at: Decimal,
        zero_text: &str,
    ) -> FactorValue {
        let fees = self.fees.expect("cost shares are computed with fees");
        let share = money::rounded_quotient(cost, fees.revenue_excl_vat, money::RATE_SCALE);
        let currency = self.currency();
        FactorValue {
            raw_value: Some(share),
            // Already at the rate scale and in [0, 1], as `evaluate` would round and clamp it.
            normalised: money::rounded_complement(share, zero_at),
            confidence: Confidence::OFFER,
            explanation: text!(
                what,
                " ",
                Amount(cost, currency),
                " = ",
                Percent(share),
                " of revenue excl. VAT ",
                Amount(fees.revenue_excl_vat, currency),
                zero_text
            ),
        }
    }

    pub fn channel_cost_share(&self) -> FactorValue {
        match self.fees {
            Some(fees) => self.cost_share(
                fees.channel_costs_excl_vat(),
                "channel fees",
                self.profile
                    .normalisation()
                    .channel_cost_share_for_zero_score,
                &self.profile.threshold_texts().channel_cost_zero,
            ),
            None => FactorValue::missing(self.fee_blockers),
        }
    }

    pub fn operational_cost_share(&self) -> FactorValue {
        match self.fees {
            Some(fees) => self.cost_share(
                fees.operational_cost_excl_vat,
                "operational cost",
                self.profile
                    .normalisation()
                    .operational_cost_share_for_zero_score,
                &self.profile.threshold_texts().operational_cost_zero,
            ),
            None => FactorValue::missing(self.fee_blockers),
        }
    }

    pub fn data_freshness(&self) -> FactorValue {
        let inputs = [
            ("offer", Input::Offer),
            ("stock", Input::Stock),
            ("cost", Input::Cost),
        ];
        let mut oldest: Option<InputAge> = None;
        let mut explanation = String::with_capacity(LINE_CAPACITY);
        for (index, (name, input)) in inputs.into_iter().enumerate() {
            if index > 0 {
                explanation.push_str(", ");
            }
            match self.freshness.of(input) {
                Some(freshness) => {
                    let age = freshness.age;
                    if oldest.is_none_or(|oldest| age.millis > oldest.millis) {
                        oldest = Some(age);
                    }
                    append!(
                        &mut explanation,
                        name,
                        " ",
                        age.hours_fixed(1),
                        "h old (",
                        FreshnessShown(freshness),
                        ")"
                    );
                }
                None => append!(&mut explanation, name, " missing (0)"),
            }
        }
        explanation.push_str("; raw = oldest age in hours");
        FactorValue {
            // `rate` of the oldest age in hours, which hours increasing with the milliseconds
            // makes the age of the most milliseconds.
            raw_value: oldest.map(|age| age.hours_fixed(money::RATE_SCALE)),
            // The mean freshness already rounded (and clamped) as `evaluate` would round it;
            // the confidence reads the mean unrounded.
            normalised: self.freshness.mean_rate(),
            confidence: Confidence::MeanFreshness,
            explanation,
        }
    }
}

/// A relative gap as a percentage, with its sign also when positive (`+3.2%`).
struct SignedPercent(Decimal);

impl Piece for SignedPercent {
    fn append_to(&self, line: &mut String) {
        // `self.0 > Decimal::ZERO`, read off the sign and mantissa instead of aligning two
        // decimals to compare them.
        if !self.0.is_sign_negative() && !self.0.is_zero() {
            line.push('+');
        }
        Percent(self.0).append_to(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signed_percentages_carry_a_plus_exactly_when_above_zero() {
        for (mantissa, scale, negative) in [
            (0, 0, false),
            (0, 6, true),
            (0, 6, false),
            (1, 28, false),
            (1, 28, true),
            (31_250, 6, false),
            (50_000, 6, true),
        ] {
            let mut gap = Decimal::from_i128_with_scale(mantissa, scale);
            gap.set_sign_negative(negative);
            let sign = if gap > Decimal::ZERO { "+" } else { "" };
            assert_eq!(
                text!(SignedPercent(gap)),
                text!(sign, Percent(gap)),
                "{gap:?}"
            );
        }
    }

    /// Thresholds as profiles write them: positive, a few places, now and then many.
    fn any_threshold() -> impl Strategy<Value = Decimal> {
        (1i64..=i64::MAX, 0u32..=28, 0u32..=12).prop_map(|(mantissa, scale, digits)| {
            Decimal::new(mantissa % 10i64.pow(digits).max(2), scale.min(digits + 2))
        })
    }

    /// Curves as categories configure them: a few points, units per day with a few places.
    fn any_curve() -> impl Strategy<Value = SalesRankCurve> {
        (
            1i64..=1_000,
            prop::collection::vec(1i64..=100_000, 0..5),
            prop::collection::vec((1i64..=1_000_000, 0u32..=4), 1..6),
        )
            .prop_map(|(first, gaps, units)| {
                let mut units: Vec<Decimal> = units
                    .into_iter()
                    .map(|(mantissa, scale)| Decimal::new(mantissa, scale))
                    .collect();
                units.sort_unstable_by(|a, b| b.cmp(a));
                let mut ranks = vec![first];
                for gap in gaps {
                    ranks.push(ranks[ranks.len() - 1] + gap);
                }
                let points: Vec<(i64, Decimal)> = ranks.into_iter().zip(units).collect();
                SalesRankCurve::from_points(&points).expect("ranks increase, units do not")
            })
    }

    /// Profile thresholds: a few places, now and then many.
    fn any_profile_threshold() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            4 => (1i64..=5_000, 0u32..=3).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
            1 => (1i64..=i64::MAX, 0u32..=12).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
        ]
    }

    /// The decimal computation the integer paths replace, as the factors computed it.
    struct DecimalVelocity {
        page: Decimal,
        ours: Decimal,
    }

    impl DecimalVelocity {
        fn new(curve: &SalesRankCurve, rank: i64, sellers: i64) -> Self {
            let page = curve.units_per_day(rank);
            Self {
                page,
                ours: page / Decimal::from(sellers),
            }
        }
    }

    #[test]
    fn exact_velocity_takes_the_integer_paths_on_the_default_curve() {
        let curve = SalesRankCurve::from_points(&[
            (1, Decimal::from(300)),
            (10, Decimal::from(120)),
            (100, Decimal::from(30)),
            (1000, Decimal::from(6)),
            (10000, Decimal::new(8, 1)),
            (100000, Decimal::new(8, 2)),
        ])
        .unwrap();
        for (rank, sellers) in [(1, 1), (37, 3), (4_321, 7), (250_000, 12)] {
            let exact = ExactVelocity::new(&curve, rank, sellers).expect("within the limits");
            let decimal = DecimalVelocity::new(&curve, rank, sellers);
            assert_eq!(
                exact
                    .ours_fixed(money::RATE_SCALE)
                    .map(|value| value.serialize()),
                Some(money::rate(decimal.ours).serialize())
            );
            let half = Decimal::ONE;
            assert_eq!(
                exact
                    .share_of_half_score(half)
                    .map(|value| value.serialize()),
                Some(money::rate(decimal.ours / (decimal.ours + half)).serialize())
            );
        }
    }

    #[test]
    fn exact_velocity_leaves_midpoints_to_the_decimals() {
        // 0.125 units a day is a midpoint of 2 places; 0.0625 shared by 2 a midpoint of 3.
        let curve = SalesRankCurve::from_points(&[(1, Decimal::new(125, 3))]).unwrap();
        let exact = ExactVelocity::new(&curve, 1, 2).unwrap();
        assert_eq!(exact.page_fixed(2), None);
        assert_eq!(exact.ours_fixed(3), None);
        assert!(exact.ours_fixed(2).is_some());
    }

    proptest! {
        /// Every output of the integer paths, where they give one, against the decimal
        /// computation of market attractiveness and availability.
        #[test]
        fn exact_velocity_rounds_as_the_decimal_computation(
            curve in any_curve(),
            rank in prop_oneof![1i64..=1_000, 1i64..=10_000_000],
            sellers in 1i64..=60,
            half in any_profile_threshold(),
            full_cover in any_profile_threshold(),
            units in prop_oneof![0i64..=20, 0i64..=1_000_000],
            lead in prop::option::of((any_profile_threshold(), 0i64..=120)),
        ) {
            let decimal = DecimalVelocity::new(&curve, rank, sellers);
            let Some(exact) = ExactVelocity::new(&curve, rank, sellers) else {
                return Ok(());
            };
            let same = |integer: Option<Decimal>, decimal: Decimal| {
                integer.is_none_or(|integer| integer.serialize() == decimal.serialize())
            };
            prop_assert!(same(exact.page_fixed(2), money::fixed(decimal.page, 2)));
            prop_assert!(same(exact.ours_fixed(2), money::fixed(decimal.ours, 2)));
            prop_assert!(same(exact.ours_fixed(money::RATE_SCALE), money::rate(decimal.ours)));
            prop_assert!(same(
                exact.share_of_half_score(half),
                money::rate(unit_interval(decimal.ours / (decimal.ours + half))),
            ));
            let cover = Decimal::from(units) / decimal.ours;
            prop_assert!(same(exact.cover_fixed(units, 1), money::fixed(cover, 1)));
            let (readiness, exact_readiness) = match lead {
                None => (Decimal::ONE, Some((1, 1))),
                Some((lead_half, days)) => {
                    let days = Decimal::from(days);
                    let exact = exact_fraction(lead_half).map(|(numerator, denominator)| {
                        (numerator, days.mantissa() as u128 * denominator + numerator)
                    });
                    (lead_half / (lead_half + days), exact)
                }
            };
            if let Some(exact_readiness) = exact_readiness {
                prop_assert!(same(
                    exact.readiness_times_depth(exact_readiness, units, full_cover),
                    money::rate(unit_interval(
                        readiness * unit_interval(cover / full_cover)
                    )),
                ), "{:?} {} {} {} {:?}", exact, units, full_cover, readiness, exact_readiness);
            }
        }


        /// Every text rendered once per profile is byte for byte the pieces each record
        /// rendered before, whatever the thresholds and the currency.
        #[test]
        fn threshold_texts_render_as_the_pieces_they_replace(
            values in prop::array::uniform8(any_threshold()),
            currency in prop::sample::select(vec!["EUR", "USD", "GBP"]),
        ) {
            let n = Normalisation {
                margin_rate_for_full_score: values[0],
                net_margin_for_full_score: values[1],
                price_gap_for_zero_score: values[2],
                units_per_day_for_half_score: values[3],
                lead_time_days_for_half_score: values[4],
                days_of_cover_for_full_score: values[5],
                channel_cost_share_for_zero_score: values[6],
                operational_cost_share_for_zero_score: values[7],
            };
            let texts = ThresholdTexts::new(&n);
            prop_assert_eq!(
                text!(texts.margin_full_score.as_str(), " ", currency),
                text!(
                    "; full score at ",
                    Percent(n.margin_rate_for_full_score),
                    " and ",
                    Amount(n.net_margin_for_full_score, currency),
                )
            );
            prop_assert_eq!(
                texts.price_gap_zero,
                text!("; 0 at ", Percent(n.price_gap_for_zero_score), " above")
            );
            prop_assert_eq!(
                texts.units_half,
                text!(
                    " units/day for us; 0.5 at ",
                    n.units_per_day_for_half_score.normalize(),
                    " units/day"
                )
            );
            prop_assert_eq!(
                texts.cover_full,
                text!(
                    " days of cover (full at ",
                    n.days_of_cover_for_full_score.normalize(),
                    ")"
                )
            );
            prop_assert_eq!(
                texts.channel_cost_zero,
                text!("; 0 at ", Percent(n.channel_cost_share_for_zero_score))
            );
            prop_assert_eq!(
                texts.operational_cost_zero,
                text!("; 0 at ", Percent(n.operational_cost_share_for_zero_score))
            );
        }
    }
}
