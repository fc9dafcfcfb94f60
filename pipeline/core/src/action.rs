//! The recommended action for one reference on one channel, with the rule that fired and
//! its threshold, and the choice of the best channel among a reference's results.
//!
//! Rules, first match wins (`docs/scoring.md`):
//! 0. archived at its source → `delist` when listed, `hold` otherwise: a reference no longer
//!    sold is never sourced nor listed, whatever its margin;
//! 1. margin unknown → `hold`, naming what is missing;
//! 2. listed with a negative net margin → `delist`;
//! 3. listed and losing the buy box or below the target margin rate → `reprice` to the
//!    lowest price reaching the target rate (or `hold` if no price reaches it);
//! 4. listed otherwise → `hold`;
//! 5. not listed, at or above the target rate at the market's price → `list` when we hold
//!    stock, `source` when we do not (`hold` while our stock is unknown);
//! 6. not listed and below the target rate → `hold`.

use hub_schemas::records::ReferenceScore;
use rust_decimal::Decimal;

use crate::margin::Margin;
use crate::money::{Amount, Joined, Percent, Piece, append, display_amount, text};
use crate::score::{PriceBasis, Situation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Source,
    List,
    Reprice,
    Hold,
    Delist,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Source => "source",
            Action::List => "list",
            Action::Reprice => "reprice",
            Action::Hold => "hold",
            Action::Delist => "delist",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub action: Action,
    /// The rule that fired, with the values and threshold it compared.
    pub rule: String,
    /// For `reprice`: the lowest price incl. VAT reaching the target margin rate.
    pub target_price_incl_vat: Option<Decimal>,
}

/// What the rules read.
pub struct Decision<'s, 'a> {
    pub situation: &'s Situation<'a>,
    pub price: Option<&'s PriceBasis>,
    pub margin: Option<&'s Margin>,
    /// `Some(None)`: no price reaches the target; `None`: not computed (inputs missing, or
    /// no rule needs it).
    pub target_price: Option<Option<Decimal>>,
    pub target_margin_rate: Decimal,
    pub margin_blockers: &'s [&'static str],
}

fn hold(rule: String) -> Recommendation {
    Recommendation {
        action: Action::Hold,
        rule,
        target_price_incl_vat: None,
    }
}

pub fn recommend(decision: &Decision<'_, '_>) -> Recommendation {
    let situation = decision.situation;
    if let Some(source) = situation.archived_by {
        return if situation.market.listing.is_some() {
            Recommendation {
                action: Action::Delist,
                rule: text!(
                    "archived at its source (",
                    source,
                    "): no longer sold, still listed"
                ),
                target_price_incl_vat: None,
            }
        } else {
            hold(text!(
                "archived at its source (",
                source,
                "): no longer sold, neither sourced nor listed"
            ))
        };
    }
    let currency = situation.currency;
    let (Some(margin), Some(price)) = (decision.margin, decision.price) else {
        return hold(text!(
            "margin unknown (missing ",
            Joined(decision.margin_blockers),
            ")"
        ));
    };
    let rate = margin.margin_rate;
    let target = decision.target_margin_rate;
    let at_price = AtPrice { price, currency };
    let versus_target = VersusTarget { rate, target };
    let market = &situation.market;

    if market.listing.is_some() {
        if margin.net_margin_excl_vat < Decimal::ZERO {
            return Recommendation {
                action: Action::Delist,
                rule: text!(
                    "net margin ",
                    Amount(margin.net_margin_excl_vat, currency),
                    " < 0 after all costs ",
                    at_price
                ),
                target_price_incl_vat: None,
            };
        }
        let losing_buy_box = market.we_own_buy_box == Some(false);
        if losing_buy_box || rate < target {
            let mut rule = text!(versus_target);
            if losing_buy_box {
                rule.push_str(" while not owning the buy box");
                if let Some(buy_box) = market.buy_box_incl_vat {
                    append!(&mut rule, " (", Amount(buy_box, currency), ")");
                }
            }
            append!(&mut rule, " ", at_price);
            return match decision.target_price {
                Some(Some(target_price)) => {
                    append!(
                        &mut rule,
                        "; lowest price at target margin ",
                        Amount(target_price, currency)
                    );
                    Recommendation {
                        action: Action::Reprice,
                        rule,
                        target_price_incl_vat: Some(target_price),
                    }
                }
                _ => {
                    rule.push_str("; no price reaches the target margin on this channel");
                    hold(rule)
                }
            };
        }
        let buy_box = match market.we_own_buy_box {
            Some(true) => "owning the buy box",
            _ => "buy box ownership unknown",
        };
        return hold(text!(
            "listed, ",
            buy_box,
            ", ",
            versus_target,
            " ",
            at_price
        ));
    }

    if rate < target {
        return hold(text!("not listed: ", versus_target, " ", at_price));
    }
    match situation.supply.map(|supply| supply.own_units) {
        Some(units) if units > 0 => Recommendation {
            action: Action::List,
            rule: text!(
                "not listed, ",
                units,
                " units in stock, ",
                versus_target,
                " ",
                at_price
            ),
            target_price_incl_vat: None,
        },
        Some(_) => Recommendation {
            action: Action::Source,
            rule: text!("not in stock, ", versus_target, " ", at_price),
            target_price_incl_vat: None,
        },
        None => hold(text!(
            "not listed, ",
            versus_target,
            " ",
            at_price,
            ", but our stock is unknown (missing stock)"
        )),
    }
}

/// `at our price 149.00 EUR`: the price the rules compared at.
struct AtPrice<'a> {
    price: &'a PriceBasis,
    currency: &'a str,
}

impl Piece for AtPrice<'_> {
    fn append_to(&self, line: &mut String) {
        append!(
            line,
            "at ",
            self.price.basis.label(),
            " ",
            Amount(self.price.price_incl_vat, self.currency)
        );
    }
}

/// `net margin rate 9.1% < target 12.0%`: the comparison the rules made.
struct VersusTarget {
    rate: Decimal,
    target: Decimal,
}

impl Piece for VersusTarget {
    fn append_to(&self, line: &mut String) {
        append!(
            line,
            "net margin rate ",
            Percent(self.rate),
            if self.rate < self.target {
                " < "
            } else {
                " >= "
            },
            "target ",
            Percent(self.target)
        );
    }
}

/// The channel a reference should go to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChannel {
    pub channel: String,
    pub reason: String,
}

/// Among one reference's per-channel scores, the highest-scoring channel where it makes a
/// positive net margin and is not to be delisted; ties go to the higher net margin, then to
/// the channel key, so the answer never depends on the order of `scores`. `None` when no
/// channel is profitable, or when the reference is archived at its source
/// (`reference_active` false, [`ProductReference::active`]): it is to be sold nowhere.
///
/// [`ProductReference::active`]: hub_schemas::records::ProductReference::active
pub fn best_channel(reference_active: bool, scores: &[ReferenceScore]) -> Option<BestChannel> {
    if !reference_active {
        return None;
    }
    let mut candidates: Vec<(&ReferenceScore, Decimal)> = scores
        .iter()
        .filter(|score| score.action != Action::Delist.key())
        .filter_map(|score| {
            let net = score.margin.as_ref()?.net_margin_excl_vat;
            (net > Decimal::ZERO).then_some((score, net))
        })
        .collect();
    candidates.sort_by(|(a, a_net), (b, b_net)| {
        b.score
            .cmp(&a.score)
            .then(b_net.cmp(a_net))
            .then(a.channel.cmp(&b.channel))
    });
    let (best, net) = candidates.first()?;
    let currency = best.margin.as_ref().map_or("", |margin| &*margin.currency);
    let runner_up = candidates.get(1).map_or_else(
        || "the only profitable channel".to_owned(),
        |(next, _)| format!("next {} at {}", next.channel, next.score),
    );
    Some(BestChannel {
        channel: best.channel.to_string(),
        reason: format!(
            "highest score {} with net margin {} ({runner_up}); action {}",
            best.score,
            display_amount(*net, currency),
            best.action
        ),
    })
}
