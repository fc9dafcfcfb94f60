//! The seven factors: each turns part of the situation into a raw value in its own unit, a
//! normalised value in [0, 1], a confidence in [0, 1] (0 when an input it needs is missing,
//! otherwise the freshness of the stalest input it used) and a one-line explanation.
//! Missing inputs are never replaced by defaults: the factor scores 0 and says what is
//! missing. `docs/scoring.md` gives every curve.

use rust_decimal::Decimal;

use crate::margin::{ChannelFees, Margin};
use crate::money::{self, display_amount, display_percent, unit_interval};
use crate::profile::WeightProfile;
use crate::score::{PriceBasis, Situation};

/// One factor's outcome before weighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorValue {
    pub raw_value: Option<Decimal>,
    pub normalised: Decimal,
    pub confidence: Decimal,
    pub explanation: String,
}

impl FactorValue {
    fn missing(inputs: &[&str]) -> Self {
        Self {
            raw_value: None,
            normalised: Decimal::ZERO,
            confidence: Decimal::ZERO,
            explanation: format!("missing {}: contributes nothing", inputs.join(", ")),
        }
    }
}

/// Freshness of an input of `age_ms` whose half-life is `half_life_hours`:
/// `h / (h + age)`, 1 when just observed, 1/2 at one half-life, 1/3 at two. A rational
/// curve rather than an exponential keeps it exact in decimals and cheap.
pub fn freshness(age_ms: i64, half_life_hours: Decimal) -> Decimal {
    let age_hours = Decimal::from(age_ms.max(0)) / Decimal::from(3_600_000);
    half_life_hours / (half_life_hours + age_hours)
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
    pub offer_freshness: Option<Decimal>,
    pub stock_freshness: Option<Decimal>,
    pub cost_freshness: Option<Decimal>,
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
        let n = &self.profile.normalisation;
        let rate_part = unit_interval(margin.margin_rate / n.margin_rate_for_full_score);
        let amount_part = unit_interval(margin.net_margin_excl_vat / n.net_margin_for_full_score);
        let price = self.price.expect("a margin is computed at a price");
        FactorValue {
            raw_value: Some(margin.margin_rate),
            normalised: (rate_part + amount_part) / Decimal::TWO,
            confidence: min_of(&[self.offer_freshness, self.cost_freshness]),
            explanation: format!(
                "net margin {} ({} of revenue excl. VAT) at {} {}; full score at {} and {}",
                display_amount(margin.net_margin_excl_vat, self.currency()),
                display_percent(margin.margin_rate),
                price.basis.label(),
                display_amount(price.price_incl_vat, self.currency()),
                display_percent(n.margin_rate_for_full_score),
                display_amount(n.net_margin_for_full_score, self.currency()),
            ),
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
                min_of(&[self.offer_freshness]),
            ),
            (None, Some(Some(target))) => (
                target,
                "our price at target margin",
                min_of(&[self.offer_freshness, self.cost_freshness]),
            ),
            (None, Some(None)) => {
                return FactorValue {
                    raw_value: None,
                    normalised: Decimal::ZERO,
                    confidence: min_of(&[self.offer_freshness, self.cost_freshness]),
                    explanation: "not listed and no price reaches the target margin on this \
                                  channel"
                        .into(),
                };
            }
            (None, None) => return FactorValue::missing(self.margin_blockers),
        };
        let gap_for_zero = self.profile.normalisation.price_gap_for_zero_score;
        let mut parts = Vec::with_capacity(2);
        let mut raw_value = None;
        let mut sum = Decimal::ZERO;
        for (label, reference) in references {
            let Some(reference) = reference.filter(|price| *price > Decimal::ZERO) else {
                continue;
            };
            let gap = money::rate(ours / reference - Decimal::ONE);
            raw_value.get_or_insert(gap);
            sum += Decimal::ONE - unit_interval(gap / gap_for_zero);
            parts.push(format!(
                "{} vs {label} {}",
                signed_percent(gap),
                display_amount(reference, self.currency())
            ));
        }
        if parts.is_empty() {
            return FactorValue::missing(&["competitor_price"]);
        }
        FactorValue {
            raw_value,
            normalised: sum / Decimal::from(parts.len()),
            confidence,
            explanation: format!(
                "{ours_label} {}: {}; 0 at {} above",
                display_amount(ours, self.currency()),
                parts.join(", "),
                display_percent(gap_for_zero)
            ),
        }
    }

    /// Our expected units per day on this channel, when the rank and its curve are known.
    pub fn expected_units_per_day(&self) -> Option<Decimal> {
        let market = &self.situation.market;
        let curve = self.situation.rank_curve?;
        let velocity = curve.units_per_day(market.sales_rank?);
        Some(velocity / Decimal::from(self.sellers_sharing_sales().unwrap_or(1)))
    }

    /// Sellers the page's sales are shared with, us included.
    fn sellers_sharing_sales(&self) -> Option<i64> {
        let market = &self.situation.market;
        let listed_offers = i64::from(market.offer_count?.max(0));
        let ours_to_come = i64::from(market.listing.is_none());
        Some((listed_offers + ours_to_come).max(1))
    }

    pub fn market_attractiveness(&self) -> FactorValue {
        let market = &self.situation.market;
        let Some(rank) = market.sales_rank else {
            return FactorValue::missing(&["sales_rank"]);
        };
        let Some(curve) = self.situation.rank_curve else {
            return FactorValue::missing(&["sales_rank_curve"]);
        };
        let velocity = curve.units_per_day(rank);
        let sharing = self.sellers_sharing_sales();
        let ours = velocity / Decimal::from(sharing.unwrap_or(1));
        let half = self.profile.normalisation.units_per_day_for_half_score;
        let share_text = match sharing {
            Some(sellers) => format!("shared by {sellers} sellers"),
            None => "offer count missing, assumed ours alone".into(),
        };
        FactorValue {
            raw_value: Some(money::rate(ours)),
            normalised: ours / (ours + half),
            confidence: if sharing.is_some() {
                min_of(&[self.offer_freshness])
            } else {
                Decimal::ZERO
            },
            explanation: format!(
                "sales rank {rank}: about {} units/day on the page, {share_text}: {} units/day \
                 for us; 0.5 at {} units/day",
                money::fixed(velocity, 2),
                money::fixed(ours, 2),
                half.normalize()
            ),
        }
    }

    pub fn availability(&self) -> FactorValue {
        let Some(supply) = &self.situation.supply else {
            return FactorValue::missing(&["stock"]);
        };
        let n = &self.profile.normalisation;
        let supplier_units = supply.supplier_units.unwrap_or(0);
        let supplier_can_deliver = supply.supplier_units.is_none_or(|units| units > 0);
        let (readiness, readiness_text, lead_time_missing) = if supply.own_units > 0 {
            (
                Decimal::ONE,
                format!("{} units in our stock", supply.own_units),
                false,
            )
        } else {
            match (supplier_can_deliver, supply.supplier_lead_time_days) {
                (true, Some(days)) => {
                    let days = Decimal::from(days.max(0));
                    (
                        n.lead_time_days_for_half_score / (n.lead_time_days_for_half_score + days),
                        format!("none in our stock, supplier delivers in {days} days"),
                        false,
                    )
                }
                (true, None) => (
                    Decimal::ZERO,
                    "none in our stock, supplier lead time missing".into(),
                    true,
                ),
                (false, _) => (Decimal::ZERO, "out of stock everywhere".into(), false),
            }
        };
        let units = supply.own_units + supplier_units;
        let (depth, depth_text) = match self.expected_units_per_day() {
            Some(per_day) if per_day > Decimal::ZERO => {
                let cover = Decimal::from(units) / per_day;
                (
                    unit_interval(cover / n.days_of_cover_for_full_score),
                    format!(
                        "{} days of cover (full at {})",
                        money::fixed(cover, 1),
                        n.days_of_cover_for_full_score.normalize()
                    ),
                )
            }
            _ => (
                Decimal::ONE,
                "days of cover unknown (no sales velocity)".into(),
            ),
        };
        FactorValue {
            raw_value: Some(Decimal::from(units)),
            normalised: readiness * depth,
            confidence: if lead_time_missing {
                Decimal::ZERO
            } else {
                min_of(&[self.stock_freshness])
            },
            explanation: format!("{readiness_text}; {depth_text}"),
        }
    }

    fn cost_share(&self, cost: Decimal, what: &str, zero_at: Decimal) -> FactorValue {
        let fees = self.fees.expect("cost shares are computed with fees");
        let share = money::rate(cost / fees.revenue_excl_vat);
        FactorValue {
            raw_value: Some(share),
            normalised: Decimal::ONE - unit_interval(share / zero_at),
            confidence: min_of(&[self.offer_freshness]),
            explanation: format!(
                "{what} {} = {} of revenue excl. VAT {}; 0 at {}",
                display_amount(cost, self.currency()),
                display_percent(share),
                display_amount(fees.revenue_excl_vat, self.currency()),
                display_percent(zero_at)
            ),
        }
    }

    pub fn channel_cost_share(&self) -> FactorValue {
        match self.fees {
            Some(fees) => self.cost_share(
                fees.channel_costs_excl_vat(),
                "channel fees",
                self.profile.normalisation.channel_cost_share_for_zero_score,
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
                    .normalisation
                    .operational_cost_share_for_zero_score,
            ),
            None => FactorValue::missing(self.fee_blockers),
        }
    }

    pub fn data_freshness(&self) -> FactorValue {
        let observed = self.situation.observed;
        let inputs = [
            ("offer", observed.offer, self.offer_freshness),
            ("stock", observed.stock, self.stock_freshness),
            ("cost", observed.cost, self.cost_freshness),
        ];
        let mut sum = Decimal::ZERO;
        let mut oldest_age_ms: Option<i64> = None;
        let mut parts = Vec::with_capacity(inputs.len());
        for (name, at, fresh) in inputs {
            match (at, fresh) {
                (Some(at), Some(fresh)) => {
                    let age_ms = (self.situation.at - at).max(0);
                    oldest_age_ms = Some(oldest_age_ms.map_or(age_ms, |oldest| oldest.max(age_ms)));
                    sum += fresh;
                    parts.push(format!(
                        "{name} {}h old ({})",
                        money::fixed(Decimal::from(age_ms) / Decimal::from(3_600_000), 1),
                        money::fixed(fresh, 2)
                    ));
                }
                _ => parts.push(format!("{name} missing (0)")),
            }
        }
        let normalised = sum / Decimal::from(inputs.len());
        FactorValue {
            raw_value: oldest_age_ms
                .map(|age_ms| money::rate(Decimal::from(age_ms) / Decimal::from(3_600_000))),
            normalised,
            confidence: normalised,
            explanation: format!("{}; raw = oldest age in hours", parts.join(", ")),
        }
    }
}

/// The lowest of the freshnesses, 0 if any is missing.
fn min_of(values: &[Option<Decimal>]) -> Decimal {
    values
        .iter()
        .map(|value| value.unwrap_or(Decimal::ZERO))
        .min()
        .unwrap_or(Decimal::ZERO)
}

fn signed_percent(fraction: Decimal) -> String {
    if fraction > Decimal::ZERO {
        format!("+{}", display_percent(fraction))
    } else {
        display_percent(fraction)
    }
}
