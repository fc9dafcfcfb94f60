//! When each of our offers on a marketplace was last changed, on the wall clock, as the
//! marketplace's back office dates it (Octopia's `updatedAt`, Fnac Darty's modification
//! date): a change to our price, shipping or quantity dates the offer; the competitors on
//! its product page do not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hub_core::channel::Channel;
use hub_schemas::records::EpochMillis;

use super::state::MarketState;
use super::timestamps::epoch_millis;

/// What the back office holds of one of our offers: a change to any is a change of the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OfferVersion {
    price: i64,
    shipping: i64,
    quantity: i64,
}

#[derive(Debug, Clone, Copy)]
struct Dated {
    version: OfferVersion,
    changed_at: EpochMillis,
}

#[derive(Debug, Default)]
struct Dates {
    by_index: HashMap<usize, Dated>,
    /// The newest date given so far: a new one comes after it.
    newest: EpochMillis,
}

/// The change date of each of our offers on one channel, by catalogue index.
#[derive(Clone)]
pub(super) struct OwnOfferDates {
    channel: Channel,
    dates: Arc<Mutex<Dates>>,
}

impl OwnOfferDates {
    /// Dates every offer of ours on `channel` in `market` at `opened_at`.
    pub(super) fn open(
        market: &MarketState,
        channel: Channel,
        opened_at: EpochMillis,
    ) -> OwnOfferDates {
        let by_index = own_offers(market, channel)
            .map(|(index, version)| {
                let dated = Dated {
                    version,
                    changed_at: opened_at,
                };
                (index, dated)
            })
            .collect();
        OwnOfferDates {
            channel,
            dates: Arc::new(Mutex::new(Dates {
                by_index,
                newest: opened_at,
            })),
        }
    }

    /// Every offer of ours with its change date, dating now those that changed (or
    /// appeared) since they were last served. A new date is later than every date given
    /// before, so a client that asks for what changed after the newest date it read misses
    /// nothing, however fast the changes come.
    pub(super) fn changed_at(&self, market: &MarketState) -> Vec<(EpochMillis, usize)> {
        let mut dates = self.dates.lock().expect("offer dates lock poisoned");
        let now = epoch_millis(SystemTime::now()).max(dates.newest + 1);
        let mut dated_now = false;
        let served = own_offers(market, self.channel)
            .map(|(index, version)| {
                let dated = dates.by_index.entry(index).or_insert(Dated {
                    version,
                    changed_at: now,
                });
                if dated.version != version {
                    *dated = Dated {
                        version,
                        changed_at: now,
                    };
                }
                dated_now |= dated.changed_at == now;
                (dated.changed_at, index)
            })
            .collect();
        if dated_now {
            dates.newest = now;
        }
        served
    }
}

/// Our offers on `channel` (catalogue index) and what the back office holds of them; a
/// quantity is never shown below zero.
fn own_offers(
    market: &MarketState,
    channel: Channel,
) -> impl Iterator<Item = (usize, OfferVersion)> + '_ {
    (0..market.catalogue().references.len()).filter_map(move |index| {
        let ours = market.page(index, channel)?.ours?;
        Some((
            index,
            OfferVersion {
                price: ours.listing,
                shipping: ours.shipping,
                quantity: market.state(index).erp.quantity.max(0),
            },
        ))
    })
}
