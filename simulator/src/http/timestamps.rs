//! Times as the simulated APIs write them: RFC 3339 UTC, and when a product page last
//! changed (the modification date the offer APIs filter on).

use hub_schemas::records::EpochMillis;

use super::state::MarketState;
use crate::market::ChannelMarket;

/// `2026-11-28T09:30:00.25Z`; an instant outside the representable range (never produced
/// by the simulation) as its milliseconds.
pub(super) fn rfc3339(at: EpochMillis) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(|_| at.to_string(), |time| time.to_string())
}

/// When the product page last changed: its last emitted offer, else the catalogue's date.
pub(super) fn page_updated_at(market: &MarketState, page: &ChannelMarket) -> EpochMillis {
    page.last_accepted
        .as_ref()
        .map_or(market.catalogue().as_of, |offer| offer.observed_at)
}
