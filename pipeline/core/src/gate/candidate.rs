//! One decoded input record of any contract, gated against the state of its reference:
//! the single dispatch the processor, the connectors and the test oracle share.

use hub_schemas::records::{CostSignal, OfferSignal, ProductReference, StockSignal};

use crate::channel::Channel;
use crate::gate::{GateConfig, check_cost, check_offer, check_product, check_stock};
use crate::gtin::normalise_gtin;
use crate::reason::{Quarantine, ReasonCode};
use crate::state::{ReferenceState, Signal};

/// A record of one of the input contracts, decoded but not yet gated.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidate {
    Product(ProductReference),
    Offer(OfferSignal),
    Stock(StockSignal),
    Cost(CostSignal),
}

impl Candidate {
    /// The GTIN as the source wrote it (not yet normalised).
    pub fn gtin(&self) -> &str {
        match self {
            Candidate::Product(product) => &product.gtin,
            Candidate::Offer(offer) => &offer.gtin,
            Candidate::Stock(stock) => &stock.gtin,
            Candidate::Cost(cost) => &cost.gtin,
        }
    }

    /// The key of the reference's state: the GTIN normalised to GTIN-13, `None` when it is
    /// not a valid GTIN (the gate will quarantine the record).
    pub fn state_key(&self) -> Option<String> {
        normalise_gtin(self.gtin()).ok()
    }

    /// Gates the record at `now` against `state`, the state of its reference (`None` for a
    /// reference not seen yet): prices are checked for implausible jumps against the last
    /// accepted value of the same offer or cost line.
    pub fn check(
        &self,
        state: Option<&ReferenceState>,
        now: i64,
        config: &GateConfig,
    ) -> Result<Signal, Quarantine> {
        match self {
            Candidate::Product(product) => check_product(product, now, config)
                .into_result()
                .map(Signal::Product),
            Candidate::Offer(offer) => {
                let previous = offer
                    .channel
                    .parse::<Channel>()
                    .ok()
                    .and_then(|channel| state?.offer(channel));
                let offer = check_offer(offer, previous, now, config).into_result()?;
                let channel = offer.channel.parse::<Channel>().map_err(|error| {
                    Quarantine::new(ReasonCode::UnknownChannel, error.to_string())
                })?;
                Ok(Signal::Offer(channel, offer))
            }
            Candidate::Stock(stock) => check_stock(stock, now, config)
                .into_result()
                .map(Signal::Stock),
            Candidate::Cost(cost) => {
                let previous = state.and_then(|state| state.cost_line(cost));
                check_cost(cost, previous, now, config)
                    .into_result()
                    .map(Signal::Cost)
            }
        }
    }
}
