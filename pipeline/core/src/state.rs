//! Join state of one product reference: its stable data and the latest volatile signals of
//! every channel, stock location and cost line, with the input positions it reflects.
//!
//! Versions are counted so that they do not depend on how the processor interleaved its
//! input topics: a channel's score version is the number of changes that can affect that
//! channel (product, stock and cost changes, plus that channel's own offer changes). Two
//! runs over the same topics therefore end on the same versions, whatever the fetch timing.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use hub_schemas::records::{
    CostKind, CostSignal, OfferSignal, ProductReference, StockSignal, StockSource,
};
use serde::{Deserialize, Serialize};

use crate::channel::Channel;

/// A gated, normalised signal about one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Product(ProductReference),
    Offer(Channel, OfferSignal),
    Stock(StockSignal),
    Cost(CostSignal),
}

impl Signal {
    pub fn gtin(&self) -> &str {
        match self {
            Signal::Product(product) => &product.gtin,
            Signal::Offer(_, offer) => &offer.gtin,
            Signal::Stock(stock) => &stock.gtin,
            Signal::Cost(cost) => &cost.gtin,
        }
    }
}

/// Where a signal was read: the input topic and offset (the partition is the state's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPosition<'a> {
    pub topic: &'a str,
    pub offset: i64,
}

/// Which of the reference's channel scores a signal can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffectedChannels {
    /// Product, stock and cost changes concern every channel the reference is offered on.
    All,
    One(Channel),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The state changed: re-score the affected channels.
    Applied(AffectedChannels),
    /// The state already reflects this input position (a redelivery after a restore): the
    /// state is untouched and nothing is re-emitted, because the processor writes the
    /// changelog that records a position only after that record's outputs were
    /// acknowledged.
    AlreadyApplied,
    /// Older than what the state holds for the same offer, stock line or cost line: kept
    /// out so a late or replayed observation never overwrites a newer one.
    Superseded,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceState {
    pub product: Option<ProductReference>,
    pub offers: BTreeMap<Channel, OfferSignal>,
    /// One line per (stock source, location), sorted.
    pub stock: Vec<StockSignal>,
    /// One line per (cost kind, supplier), sorted.
    pub costs: Vec<CostSignal>,
    /// Changes that affect every channel: product, stock and cost.
    pub shared_changes: i64,
    /// Offer changes per channel.
    pub offer_changes: BTreeMap<Channel, i64>,
    /// Highest offset applied per input topic, for recognising redeliveries.
    pub applied_offsets: BTreeMap<String, i64>,
    /// The scoring revision (weights and fee schedules published by `hub rescore`) the
    /// reference's scores were last computed under; 0 before any was published.
    #[serde(default)]
    pub scoring_revision: u32,
}

impl ReferenceState {
    pub fn apply(&mut self, signal: Signal, position: InputPosition<'_>) -> ApplyOutcome {
        let affected = match &signal {
            Signal::Offer(channel, _) => AffectedChannels::One(*channel),
            Signal::Product(_) | Signal::Stock(_) | Signal::Cost(_) => AffectedChannels::All,
        };
        if self.has_applied(&position) {
            return ApplyOutcome::AlreadyApplied;
        }
        self.applied_offsets
            .insert(position.topic.to_owned(), position.offset);
        let changed = match signal {
            Signal::Product(product) => {
                replace_if_newer(&mut self.product, product, |held| held.updated_at)
            }
            Signal::Offer(channel, offer) => {
                let mut held = self.offers.remove(&channel);
                let changed = replace_if_newer(&mut held, offer, |offer| offer.observed_at);
                if let Some(offer) = held {
                    self.offers.insert(channel, offer);
                }
                changed
            }
            Signal::Stock(stock) => upsert_line(
                &mut self.stock,
                stock,
                |a, b| stock_line(a).cmp(&stock_line(b)),
                |line| line.observed_at,
            ),
            Signal::Cost(cost) => upsert_line(
                &mut self.costs,
                cost,
                |a, b| cost_line(a).cmp(&cost_line(b)),
                |line| line.observed_at,
            ),
        };
        if !changed {
            return ApplyOutcome::Superseded;
        }
        match affected {
            AffectedChannels::All => self.shared_changes += 1,
            AffectedChannels::One(channel) => *self.offer_changes.entry(channel).or_default() += 1,
        }
        ApplyOutcome::Applied(affected)
    }

    /// Whether the state already reflects the input record at `position`.
    pub fn has_applied(&self, position: &InputPosition<'_>) -> bool {
        self.applied_offsets
            .get(position.topic)
            .is_some_and(|applied| *applied >= position.offset)
    }

    /// The channels this reference has an offer signal on: the ones it is scored on.
    pub fn offered_channels(&self) -> impl Iterator<Item = Channel> + '_ {
        self.offers.keys().copied()
    }

    /// The channels a change must re-score.
    pub fn channels_to_rescore(&self, affected: AffectedChannels) -> Vec<Channel> {
        match affected {
            AffectedChannels::All => self.offered_channels().collect(),
            AffectedChannels::One(channel) if self.offers.contains_key(&channel) => vec![channel],
            AffectedChannels::One(_) => Vec::new(),
        }
    }

    /// The version of `channel`'s score: the scoring revision in the high 32 bits, so that a
    /// re-score under new weights or fees moves every version forward, and the number of
    /// state changes that can affect the channel in the low 32 bits. Both are counts, so
    /// the version does not depend on when the processor saw the revision.
    pub fn score_version(&self, channel: Channel) -> i64 {
        let changes = self.shared_changes + self.offer_changes.get(&channel).copied().unwrap_or(0);
        (i64::from(self.scoring_revision) << 32) + changes
    }

    /// The last accepted offer on `channel`, for the quality gate's jump check.
    pub fn offer(&self, channel: Channel) -> Option<&OfferSignal> {
        self.offers.get(&channel)
    }

    /// The last accepted stock line for the same source and location as `stock`.
    pub fn stock_line(&self, stock: &StockSignal) -> Option<&StockSignal> {
        let key = stock_line(stock);
        self.stock.iter().find(|line| stock_line(line) == key)
    }

    /// The last accepted cost line for the same kind and supplier as `cost`.
    pub fn cost_line(&self, cost: &CostSignal) -> Option<&CostSignal> {
        let key = cost_line(cost);
        self.costs.iter().find(|line| cost_line(line) == key)
    }
}

fn stock_line(stock: &StockSignal) -> (StockSource, Option<&str>) {
    (stock.stock_source, stock.location.as_deref())
}

fn cost_line(cost: &CostSignal) -> (u8, Option<&str>) {
    let kind = match cost.cost_kind {
        CostKind::SupplierPrice => 0,
        CostKind::ErpStandardCost => 1,
    };
    (kind, cost.supplier_id.as_deref())
}

/// Keeps `incoming` unless `held` was observed later; equal times take the incoming value,
/// because within one partition a later offset is the later word of the source.
fn replace_if_newer<T>(held: &mut Option<T>, incoming: T, observed_at: impl Fn(&T) -> i64) -> bool {
    if held
        .as_ref()
        .is_some_and(|held| observed_at(held) > observed_at(&incoming))
    {
        return false;
    }
    *held = Some(incoming);
    true
}

/// Replaces the line `incoming` belongs to (per `line_order`), or inserts it in order.
fn upsert_line<T>(
    lines: &mut Vec<T>,
    incoming: T,
    line_order: impl Fn(&T, &T) -> Ordering,
    observed_at: impl Fn(&T) -> i64,
) -> bool {
    match lines.binary_search_by(|line| line_order(line, &incoming)) {
        Ok(index) => {
            if observed_at(&lines[index]) > observed_at(&incoming) {
                return false;
            }
            lines[index] = incoming;
        }
        Err(index) => lines.insert(index, incoming),
    }
    true
}
