//! The competitor pricing sweep's state, pure: where the sweep stands (persisted as a cursor)
//! and the index of our offers it prices. See the connector's module documentation for how
//! the sweep runs alongside the incremental offers sync.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::OffersCursor;
use super::mapping::OwnOffer;

/// Where the competitor pricing sweep stands, persisted as the sweep cursor's JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SweepCursor {
    /// No sweep under way: the next one starts at `due_at` (epoch ms).
    Waiting { due_at: i64 },
    /// A sweep under way. It prices our EANs in ascending order; `after` is the last one
    /// priced and handed over (none: none yet), so a restart resumes right after it.
    Sweeping { after: Option<String> },
}

impl SweepCursor {
    /// Waiting one interval from `now`: after a sweep ended, and for a connector that never
    /// swept (its initial full sync prices every offer).
    pub fn wait_from(now: i64, interval_ms: u64) -> Self {
        SweepCursor::Waiting {
            due_at: now.saturating_add_unsigned(interval_ms),
        }
    }

    /// A sweep under way at `now`: the one in progress, or a new one when the wait is over.
    pub fn under_way_at(&self, now: i64) -> Option<Option<&str>> {
        match self {
            SweepCursor::Waiting { due_at } if now < *due_at => None,
            SweepCursor::Waiting { .. } => Some(None),
            SweepCursor::Sweeping { after } => Some(after.as_deref()),
        }
    }
}

/// Whether the index holds every offer of ours, or is being rebuilt by a full read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexCompleteness {
    /// Only the offers the incremental sync read since the connector started.
    Partial,
    /// A full `offers_query` read (modified from the beginning up to `window_max`) under way.
    Rebuilding {
        position: OffersCursor,
        window_max: i64,
    },
    /// Every offer: a full read ended, and the incremental sync has added every later change.
    Whole,
}

/// Our offers read so far, by EAN, in the order the sweep prices them.
#[derive(Debug, Clone)]
pub struct OfferIndex {
    by_ean: BTreeMap<String, OwnOffer>,
    pub completeness: IndexCompleteness,
}

impl Default for OfferIndex {
    fn default() -> Self {
        OfferIndex {
            by_ean: BTreeMap::new(),
            completeness: IndexCompleteness::Partial,
        }
    }
}

impl OfferIndex {
    /// Records the current version of offers just read.
    pub fn record(&mut self, offers: &[OwnOffer]) {
        for offer in offers {
            self.by_ean.insert(offer.gtin.clone(), offer.clone());
        }
    }

    /// The next `size` offers after EAN `after` (from the first when none).
    pub fn batch_after(&self, after: Option<&str>, size: usize) -> Vec<OwnOffer> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_ean
            .range::<str, _>((start, Bound::Unbounded))
            .take(size)
            .map(|(_, offer)| offer.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn offer(gtin: &str, price: i64) -> OwnOffer {
        OwnOffer {
            gtin: gtin.to_owned(),
            sku: format!("SKU-{gtin}"),
            price: Decimal::new(price, 2),
        }
    }

    #[test]
    fn batches_follow_each_other_in_ean_order_from_any_ean() {
        let mut index = OfferIndex::default();
        index.record(&[offer("30", 1), offer("10", 1), offer("20", 1)]);
        index.record(&[offer("20", 2)]);
        let gtins = |batch: Vec<OwnOffer>| batch.into_iter().map(|o| o.gtin).collect::<Vec<_>>();
        assert_eq!(gtins(index.batch_after(None, 2)), ["10", "20"]);
        assert_eq!(gtins(index.batch_after(Some("20"), 2)), ["30"]);
        // An EAN gone from the index still places the sweep: it resumes after it.
        assert_eq!(gtins(index.batch_after(Some("15"), 5)), ["20", "30"]);
        assert!(index.batch_after(Some("30"), 5).is_empty());
        assert_eq!(
            index.batch_after(Some("10"), 1)[0].price,
            Decimal::new(2, 2)
        );
    }

    #[test]
    fn a_sweep_starts_when_due_and_its_cursor_reads_back() {
        let waiting = SweepCursor::wait_from(1_000, 500);
        assert_eq!(waiting.under_way_at(1_499), None);
        assert_eq!(waiting.under_way_at(1_500), Some(None));
        let sweeping = SweepCursor::Sweeping {
            after: Some("3711317402018".to_owned()),
        };
        assert_eq!(sweeping.under_way_at(0), Some(Some("3711317402018")));
        for cursor in [waiting, sweeping, SweepCursor::Sweeping { after: None }] {
            let text = serde_json::to_string(&cursor).expect("serialisable");
            let read: SweepCursor = serde_json::from_str(&text).expect("reads back");
            assert_eq!(read, cursor);
        }
    }
}
