//! The index of our offers the competitor pricing sweep prices, pure (where the sweep stands
//! is a [`PeriodicSweep`](crate::machinery::PeriodicSweep)). See the connector's module documentation for how
//! the sweep runs alongside the incremental offers sync.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::OffersCursor;
use super::mapping::OwnOffer;

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
}
