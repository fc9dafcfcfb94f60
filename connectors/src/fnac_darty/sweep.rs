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

/// A full `offers_query` read (modified from the beginning up to `window_max`) under way,
/// and the offers it, and the incremental sync meanwhile, have read.
#[derive(Debug, Clone)]
pub struct Rebuild {
    pub position: OffersCursor,
    pub window_max: i64,
    read: BTreeMap<String, OwnOffer>,
}

/// Our offers read so far, by EAN, in the order the sweep prices them.
#[derive(Debug, Clone, Default)]
pub struct OfferIndex {
    by_ean: BTreeMap<String, OwnOffer>,
    /// Whether a full read ended since the sweep under way started.
    current: bool,
    rebuild: Option<Rebuild>,
}

impl OfferIndex {
    /// Records the current version of offers just read.
    pub fn record(&mut self, offers: &[OwnOffer]) {
        for offer in offers {
            self.by_ean.insert(offer.gtin.clone(), offer.clone());
            if let Some(rebuild) = &mut self.rebuild {
                rebuild.read.insert(offer.gtin.clone(), offer.clone());
            }
        }
    }

    /// A sweep starts: the index is to be read whole again, so that offers gone from the
    /// shop since the last full read leave it.
    pub fn outdate(&mut self) {
        self.current = false;
        self.rebuild = None;
    }

    /// Whether the index holds every offer of ours as of the sweep under way.
    pub fn is_current(&self) -> bool {
        self.current
    }

    /// The full read under way, opened at `now` when none is.
    pub fn rebuild(&mut self, now: i64) -> &Rebuild {
        self.rebuild.get_or_insert_with(|| Rebuild {
            position: OffersCursor::default(),
            window_max: now,
            read: BTreeMap::new(),
        })
    }

    /// The full read goes on at `position`, or ended (`done`): what it read replaces the
    /// index.
    pub fn rebuild_advanced(&mut self, position: OffersCursor, done: bool) {
        let Some(rebuild) = &mut self.rebuild else {
            return;
        };
        if done {
            self.by_ean = std::mem::take(&mut rebuild.read);
            self.current = true;
            self.rebuild = None;
        } else {
            rebuild.position = position;
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
    fn a_full_read_replaces_the_index_with_what_it_and_the_sync_meanwhile_read() {
        let mut index = OfferIndex::default();
        index.record(&[offer("10", 1), offer("20", 1)]);
        index.outdate();
        assert!(!index.is_current());
        let opened = index.rebuild(1_000).window_max;
        assert_eq!(
            index.rebuild(5_000).window_max,
            opened,
            "one read at a time"
        );
        index.record(&[offer("30", 1)]);
        index.rebuild_advanced(
            OffersCursor {
                paging: 2,
                ..OffersCursor::default()
            },
            false,
        );
        assert_eq!(index.rebuild(5_000).position.paging, 2);
        // Read by the incremental sync during the full read: kept.
        index.record(&[offer("40", 1)]);
        index.rebuild_advanced(OffersCursor::default(), true);
        assert!(index.is_current());
        let gtins: Vec<String> = index
            .batch_after(None, 10)
            .into_iter()
            .map(|offer| offer.gtin)
            .collect();
        assert_eq!(gtins, ["30", "40"], "10 and 20 are gone from the shop");
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
