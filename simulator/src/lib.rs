//! A synthetic, self-consistent market for Sourcing Hub: a catalogue of product references
//! with their channels, suppliers, costs and exchange rates, and a simulation that streams
//! the signals the connectors would produce — product references, then a snapshot of costs,
//! stock and offers, then competitor repricing, buy box changes, stock-outs, supplier price
//! changes and sales-rank drift — with corrupt records tagged with the reason code the
//! quality gate must give them.
//!
//! Pure and deterministic: no I/O, no clock, no async. The same seeds and parameters give the
//! same catalogue and the same event sequence.
//!
//! ```
//! use hub_market_sim::{Catalogue, CatalogueParams, MarketEvent, MarketSimulation, SimulationParams};
//!
//! let catalogue = Catalogue::generate(&CatalogueParams { references: 50, ..CatalogueParams::default() })?;
//! let mut market = MarketSimulation::new(catalogue, SimulationParams::default())?;
//! for event in market.by_ref().take(1_000) {
//!     if let MarketEvent::Corrupt { expected_reason, .. } = event {
//!         assert!(hub_market_sim::reason::ALL.contains(&expected_reason));
//!     }
//! }
//! assert_eq!(market.counts().total(), 1_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalogue;
mod corrupt;
mod gtin;
#[cfg(feature = "http")]
pub mod http;
mod ids;
mod kinds;
mod market;
mod money;
pub mod reason;
mod simulation;

pub use catalogue::{
    Catalogue, CatalogueError, CatalogueParams, CatalogueReference, FxRate, Listing,
    PRODUCT_SOURCE, PriceFeed, Supplier, SupplierOffer,
};
pub use gtin::{GtinOrigin, check_digit, is_valid_gtin13};
pub use simulation::{
    CorruptRecord, ERP_LOCATION, ERP_SOURCE, EmissionCounts, FBA_LOCATION, FBA_SOURCE,
    MAX_START_DELAY_MS, MarketEvent, MarketSimulation, Phase, RecordKind, SimulationError,
    SimulationParams, offer_source,
};
