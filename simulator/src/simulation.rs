//! The market in motion: a simulated clock, and one event per call — first the catalogue,
//! then a snapshot of every cost, stock line and product page, then a stream of changes —
//! with corrupt records mixed in at a configured rate.

use std::collections::{BTreeMap, BTreeSet};

use hub_core::channel::Channel;
use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, OfferSignal, ProductReference, StockSignal, StockSource,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::catalogue::{Catalogue, MILLIS_PER_DAY, end_of_day, start_of_day};
use crate::gtin::pick_weighted;
use crate::ids::{file_line, uuid};
use crate::market::ChannelMarket;
use crate::money::{decimal, round_cents};

const MILLIS_PER_HOUR: i64 = 3_600_000;

/// Odoo's default warehouse stock location.
pub const ERP_LOCATION: &str = "WH/Stock";
/// Amazon.fr's marketplace id, where FBA stock is counted.
pub const FBA_LOCATION: &str = "A13V1IB3VIYZZH";
pub const FBA_SOURCE: &str = "amazon.getInventorySummaries";
pub const ERP_SOURCE: &str = "odoo.product.product";

/// How long after the catalogue's date a simulation may start: the snapshot must observe
/// every price list inside its validity window.
pub const MAX_START_DELAY_MS: i64 = 7 * MILLIS_PER_DAY;

/// The connector operation that reports a channel's product pages.
pub fn offer_source(channel: Channel) -> &'static str {
    match channel {
        Channel::Amazon => "amazon.getItemOffers",
        Channel::Cdiscount => "cdiscount.offers",
        Channel::FnacDarty => "fnac_darty.pricing_query",
        Channel::Mirakl => "mirakl.P11",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulationParams {
    pub seed: u64,
    /// Simulated time of the first event, epoch milliseconds; between the catalogue's
    /// `as_of` and `MAX_START_DELAY_MS` after it.
    pub start_at: EpochMillis,
    /// Share of emitted records that are corrupt, in [0, 1].
    pub corrupt_rate: f64,
    /// Simulated time between two snapshot records (a connector's paced initial sync).
    pub snapshot_step_ms: i64,
    /// Mean simulated time between two market changes (uniform in [0, 2 x mean]).
    pub mean_change_gap_ms: i64,
    /// How far ahead of the simulated clock an `OBSERVED_IN_FUTURE` record is stamped:
    /// a source that sent local summer time as UTC is two hours ahead. A gate whose clock
    /// runs ahead of the simulated one by this much will accept those records.
    pub future_skew_ms: i64,
}

impl Default for SimulationParams {
    fn default() -> Self {
        SimulationParams {
            seed: 7,
            // Six hours after the default catalogue's date.
            start_at: 1_740_981_600_000,
            corrupt_rate: 0.01,
            snapshot_step_ms: 20,
            mean_change_gap_ms: 500,
            future_skew_ms: 2 * MILLIS_PER_HOUR,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulationError {
    #[error(
        "simulation start {start_at} is outside [{earliest}, {latest}]: between the catalogue's \
         date and {MAX_START_DELAY_MS} ms after it, and before its first price list expires"
    )]
    StartOutsideCatalogue {
        start_at: EpochMillis,
        earliest: EpochMillis,
        latest: EpochMillis,
    },
    #[error("simulation parameter {field} is {value}: {expected}")]
    InvalidParameter {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The topic family a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Product,
    Offer,
    Stock,
    Cost,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Product,
        RecordKind::Offer,
        RecordKind::Stock,
        RecordKind::Cost,
    ];
}

/// A record the quality gate must refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorruptRecord {
    Product(ProductReference),
    Offer(OfferSignal),
    Stock(StockSignal),
    Cost(CostSignal),
    /// Bytes for the topic of `kind` that are not an Avro record at all, keyed by the GTIN
    /// the source was asked about: Apache Kafka refuses keyless records on a compacted topic.
    Raw {
        kind: RecordKind,
        key: String,
        bytes: Vec<u8>,
    },
}

impl CorruptRecord {
    pub fn kind(&self) -> RecordKind {
        match self {
            CorruptRecord::Product(_) => RecordKind::Product,
            CorruptRecord::Offer(_) => RecordKind::Offer,
            CorruptRecord::Stock(_) => RecordKind::Stock,
            CorruptRecord::Cost(_) => RecordKind::Cost,
            CorruptRecord::Raw { kind, .. } => *kind,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    Product(ProductReference),
    Offer(OfferSignal),
    Stock(StockSignal),
    Cost(CostSignal),
    Corrupt {
        record: CorruptRecord,
        /// The reason code the quality gate must give (see `crate::reason`).
        expected_reason: &'static str,
    },
}

impl MarketEvent {
    pub fn kind(&self) -> RecordKind {
        match self {
            MarketEvent::Product(_) => RecordKind::Product,
            MarketEvent::Offer(_) => RecordKind::Offer,
            MarketEvent::Stock(_) => RecordKind::Stock,
            MarketEvent::Cost(_) => RecordKind::Cost,
            MarketEvent::Corrupt { record, .. } => record.kind(),
        }
    }
}

/// What has been emitted so far, for end-to-end assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmissionCounts {
    pub products: u64,
    pub offers: u64,
    pub stock: u64,
    pub costs: u64,
    /// Corrupt records per expected reason code.
    pub corrupt: BTreeMap<&'static str, u64>,
    /// Every (GTIN, channel) with at least one good offer signal: each must get a score.
    pub offer_pairs: BTreeSet<(String, Channel)>,
}

impl EmissionCounts {
    pub fn good(&self) -> u64 {
        self.products + self.offers + self.stock + self.costs
    }

    pub fn corrupt_total(&self) -> u64 {
        self.corrupt.values().sum()
    }

    pub fn corrupt_for(&self, reason: &str) -> u64 {
        self.corrupt.get(reason).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.good() + self.corrupt_total()
    }

    fn record(&mut self, event: &MarketEvent) {
        match event {
            MarketEvent::Product(_) => self.products += 1,
            MarketEvent::Offer(offer) => {
                self.offers += 1;
                let channel = offer
                    .channel
                    .parse::<Channel>()
                    .expect("good offers carry a channel key");
                if !self.offer_pairs.contains(&(offer.gtin.clone(), channel)) {
                    self.offer_pairs.insert((offer.gtin.clone(), channel));
                }
            }
            MarketEvent::Stock(_) => self.stock += 1,
            MarketEvent::Cost(_) => self.costs += 1,
            MarketEvent::Corrupt {
                expected_reason, ..
            } => *self.corrupt.entry(expected_reason).or_insert(0) += 1,
        }
    }
}

/// Where the simulation is in its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Emitting the product reference of catalogue entry `next`.
    Products { next: usize },
    /// Emitting the initial signals of catalogue entry `reference`, item `step`.
    Snapshot { reference: usize, step: usize },
    /// Emitting market changes, forever.
    Changes,
}

#[derive(Debug, Clone)]
pub(crate) struct SupplierLine {
    pub supplier: usize,
    pub unit_cost: Decimal,
    pub currency: &'static str,
    pub moq: i32,
    pub lead_time_days: i32,
    pub valid_from: EpochMillis,
    pub valid_to: EpochMillis,
    pub quantity: i64,
    pub last_cost: Option<CostSignal>,
}

#[derive(Debug, Clone)]
pub(crate) struct ErpLine {
    pub quantity: i64,
    pub incoming: i64,
    pub standard_cost: Decimal,
    pub last_cost: Option<CostSignal>,
}

#[derive(Debug, Clone)]
pub(crate) struct FbaLine {
    pub quantity: i64,
    pub inbound: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ReferenceState {
    pub markets: Vec<ChannelMarket>,
    pub supplier_lines: Vec<SupplierLine>,
    pub erp: ErpLine,
    pub fba: Option<FbaLine>,
    /// False while the distributor has the product archived in its ERP.
    pub active: bool,
}

/// One stock line of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StockLine {
    Supplier(usize),
    Erp,
    Fba,
}

impl ReferenceState {
    pub(crate) fn stock_lines(&self) -> Vec<StockLine> {
        (0..self.supplier_lines.len())
            .map(StockLine::Supplier)
            .chain([StockLine::Erp])
            .chain(self.fba.as_ref().map(|_| StockLine::Fba))
            .collect()
    }
}

/// One record of a reference's initial snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SnapshotItem {
    SupplierCost(usize),
    ErpCost,
    Stock(StockLine),
    Offer(usize),
}

fn snapshot_item(state: &ReferenceState, step: usize) -> Option<SnapshotItem> {
    let suppliers = state.supplier_lines.len();
    let stock_lines = state.stock_lines();
    let mut step = step;
    if step < suppliers {
        return Some(SnapshotItem::SupplierCost(step));
    }
    step -= suppliers;
    if step == 0 {
        return Some(SnapshotItem::ErpCost);
    }
    step -= 1;
    if let Some(&line) = stock_lines.get(step) {
        return Some(SnapshotItem::Stock(line));
    }
    step -= stock_lines.len();
    (step < state.markets.len()).then_some(SnapshotItem::Offer(step))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    CompetitorReprice,
    OurReprice,
    CompetitorEntry,
    BuyBoxRotation,
    PriceWar,
    SalesRankDrift,
    Sale,
    StockOut,
    Replenishment,
    SupplierRepricing,
    StandardCostUpdate,
    /// A product archived in the ERP, or an archived one restored.
    Archival,
}

/// Relative frequencies of market changes: competitor repricing dominates, as on real
/// marketplaces; purchase costs move rarely.
const CHANGES: [(Change, u32); 12] = [
    (Change::CompetitorReprice, 30),
    (Change::OurReprice, 6),
    (Change::CompetitorEntry, 5),
    (Change::BuyBoxRotation, 6),
    (Change::PriceWar, 1),
    (Change::SalesRankDrift, 12),
    (Change::Sale, 15),
    (Change::StockOut, 4),
    (Change::Replenishment, 6),
    (Change::SupplierRepricing, 5),
    (Change::StandardCostUpdate, 2),
    (Change::Archival, 1),
];

/// Share of archivals that restore an archived product, while one is: most archived products
/// come back (archived by mistake, back in the range), so only a few are archived at a time.
const RESTORE_SHARE: f64 = 0.9;

/// Share of competitor repricings that hit a page at war, while one is.
const WAR_FOCUS: f64 = 0.4;

/// The market simulation. Deterministic: the same catalogue and parameters give the same
/// events. Market moves and corruption draw from separate random streams and corrupt
/// records neither move the clock nor touch the market, so the good records of a run do not
/// depend on `corrupt_rate`.
pub struct MarketSimulation {
    pub(crate) catalogue: Catalogue,
    pub(crate) params: SimulationParams,
    pub(crate) market_rng: ChaCha8Rng,
    pub(crate) corruption_rng: ChaCha8Rng,
    pub(crate) now: EpochMillis,
    pub(crate) phase: Phase,
    pub(crate) states: Vec<ReferenceState>,
    wars: Vec<(usize, usize)>,
    counts: EmissionCounts,
}

impl MarketSimulation {
    pub fn new(
        catalogue: Catalogue,
        params: SimulationParams,
    ) -> Result<MarketSimulation, SimulationError> {
        if !(0.0..=1.0).contains(&params.corrupt_rate) {
            return Err(SimulationError::InvalidParameter {
                field: "corrupt_rate",
                value: params.corrupt_rate.to_string(),
                expected: "a share in [0, 1]",
            });
        }
        for (field, value) in [
            ("snapshot_step_ms", params.snapshot_step_ms),
            ("mean_change_gap_ms", params.mean_change_gap_ms),
            ("future_skew_ms", params.future_skew_ms),
        ] {
            if value < 0 {
                return Err(SimulationError::InvalidParameter {
                    field,
                    value: value.to_string(),
                    expected: "at least 0",
                });
            }
        }
        let earliest = catalogue.as_of;
        let latest =
            (catalogue.as_of + MAX_START_DELAY_MS).min(catalogue.price_lists_valid_until());
        if params.start_at < earliest || params.start_at > latest {
            return Err(SimulationError::StartOutsideCatalogue {
                start_at: params.start_at,
                earliest,
                latest,
            });
        }
        let mut market_rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut corruption_rng = ChaCha8Rng::seed_from_u64(params.seed);
        corruption_rng.set_stream(1);
        let states = catalogue
            .references
            .iter()
            .map(|reference| initial_state(&mut market_rng, reference))
            .collect();
        Ok(MarketSimulation {
            now: params.start_at,
            params,
            catalogue,
            market_rng,
            corruption_rng,
            phase: Phase::Products { next: 0 },
            states,
            wars: Vec::new(),
            counts: EmissionCounts::default(),
        })
    }

    /// The simulated clock: the `observed_at` of the latest good record.
    pub fn now(&self) -> EpochMillis {
        self.now
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn counts(&self) -> &EmissionCounts {
        &self.counts
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The last good offer signal of catalogue entry `reference` on `channel`: what the
    /// quality gate holds as the previous accepted prices of that page.
    pub fn last_offer(&self, reference: usize, channel: Channel) -> Option<&OfferSignal> {
        self.states
            .get(reference)?
            .markets
            .iter()
            .find(|market| market.channel == channel)?
            .last_accepted
            .as_ref()
    }

    pub fn next_event(&mut self) -> MarketEvent {
        let event = if self.corruption_rng.random_bool(self.params.corrupt_rate) {
            self.corrupt_event()
        } else {
            self.good_event()
        };
        self.counts.record(&event);
        event
    }

    fn good_event(&mut self) -> MarketEvent {
        match self.phase {
            Phase::Products { next } => {
                let product = self.catalogue.references[next].product.clone();
                self.phase = if next + 1 < self.catalogue.references.len() {
                    Phase::Products { next: next + 1 }
                } else {
                    Phase::Snapshot {
                        reference: 0,
                        step: 0,
                    }
                };
                MarketEvent::Product(product)
            }
            Phase::Snapshot { reference, step } => {
                let item = snapshot_item(&self.states[reference], step)
                    .expect("the cursor always points at an existing item");
                self.phase = if snapshot_item(&self.states[reference], step + 1).is_some() {
                    Phase::Snapshot {
                        reference,
                        step: step + 1,
                    }
                } else if reference + 1 < self.states.len() {
                    Phase::Snapshot {
                        reference: reference + 1,
                        step: 0,
                    }
                } else {
                    Phase::Changes
                };
                self.now += self.params.snapshot_step_ms;
                match item {
                    SnapshotItem::SupplierCost(line) => self.emit_supplier_cost(reference, line),
                    SnapshotItem::ErpCost => self.emit_erp_cost(reference),
                    SnapshotItem::Stock(line) => self.emit_stock(reference, line),
                    SnapshotItem::Offer(market) => self.emit_offer(reference, market),
                }
            }
            Phase::Changes => {
                self.now += self
                    .market_rng
                    .random_range(0..=2 * self.params.mean_change_gap_ms);
                self.change()
            }
        }
    }

    fn change(&mut self) -> MarketEvent {
        let weights: Vec<u32> = CHANGES.iter().map(|&(_, weight)| weight).collect();
        let change = CHANGES[pick_weighted(&mut self.market_rng, &weights)].0;
        let reference = self.market_rng.random_range(0..self.states.len());
        let market = self
            .market_rng
            .random_range(0..self.states[reference].markets.len());
        let now = self.now;
        let rng = &mut self.market_rng;
        match change {
            Change::CompetitorReprice => {
                self.wars
                    .retain(|&(r, m)| self.states[r].markets[m].at_war(now));
                let (reference, market) = match self.wars.first() {
                    Some(_) if rng.random_bool(WAR_FOCUS) => {
                        self.wars[rng.random_range(0..self.wars.len())]
                    }
                    _ => (reference, market),
                };
                self.states[reference].markets[market].reprice_competitor(rng, now);
                self.emit_offer(reference, market)
            }
            Change::OurReprice => {
                self.states[reference].markets[market].reprice_ours(rng);
                self.emit_offer(reference, market)
            }
            Change::CompetitorEntry => {
                self.states[reference].markets[market].competitor_enters_or_leaves(rng);
                self.emit_offer(reference, market)
            }
            Change::BuyBoxRotation => {
                self.states[reference].markets[market].rotate_buy_box(rng);
                self.emit_offer(reference, market)
            }
            Change::PriceWar => {
                let page = &mut self.states[reference].markets[market];
                if !page.at_war(now) {
                    self.wars.push((reference, market));
                }
                page.war_until = now + rng.random_range(2 * MILLIS_PER_HOUR..=12 * MILLIS_PER_HOUR);
                page.reprice_competitor(rng, now);
                self.emit_offer(reference, market)
            }
            Change::SalesRankDrift => {
                // Only Amazon publishes ranks; elsewhere a poll just re-observes the page.
                let market = self.states[reference]
                    .markets
                    .iter()
                    .position(|page| page.sales_rank.is_some())
                    .unwrap_or(market);
                self.states[reference].markets[market].drift_sales_rank(rng);
                self.emit_offer(reference, market)
            }
            Change::Sale => {
                let state = &mut self.states[reference];
                let sold = rng.random_range(1..=3);
                let line = match state.fba.as_mut() {
                    Some(fba) if rng.random_bool(0.5) => {
                        fba.quantity = (fba.quantity - sold).max(0);
                        StockLine::Fba
                    }
                    _ => {
                        state.erp.quantity = (state.erp.quantity - sold).max(0);
                        StockLine::Erp
                    }
                };
                self.emit_stock(reference, line)
            }
            Change::StockOut => {
                let lines = self.states[reference].stock_lines();
                let line = lines[rng.random_range(0..lines.len())];
                let state = &mut self.states[reference];
                match line {
                    StockLine::Supplier(index) => state.supplier_lines[index].quantity = 0,
                    StockLine::Erp => state.erp.quantity = 0,
                    StockLine::Fba => {
                        if let Some(fba) = state.fba.as_mut() {
                            fba.quantity = 0;
                        }
                    }
                }
                self.emit_stock(reference, line)
            }
            Change::Replenishment => {
                let lines = self.states[reference].stock_lines();
                let line = lines[rng.random_range(0..lines.len())];
                let state = &mut self.states[reference];
                match line {
                    StockLine::Supplier(index) => {
                        state.supplier_lines[index].quantity = rng.random_range(20..=1_500);
                    }
                    StockLine::Erp => {
                        let received = if state.erp.incoming > 0 {
                            state.erp.incoming
                        } else {
                            rng.random_range(5..=60)
                        };
                        state.erp.quantity += received;
                        state.erp.incoming = if rng.random_bool(0.3) {
                            rng.random_range(5..=100)
                        } else {
                            0
                        };
                    }
                    StockLine::Fba => {
                        if let Some(fba) = state.fba.as_mut() {
                            fba.quantity += fba.inbound.max(rng.random_range(5..=30));
                            fba.inbound = 0;
                        }
                    }
                }
                self.emit_stock(reference, line)
            }
            Change::SupplierRepricing => {
                let state = &mut self.states[reference];
                let index = rng.random_range(0..state.supplier_lines.len());
                let line = &mut state.supplier_lines[index];
                let cents = decimal_to_cents(line.unit_cost);
                let moved = round_cents(cents as f64 * (0.95 + 0.12 * rng.random::<f64>()));
                line.unit_cost = decimal(moved.max(1));
                line.valid_from = start_of_day(now);
                line.valid_to = end_of_day(now + rng.random_range(90..=180) * MILLIS_PER_DAY);
                self.emit_supplier_cost(reference, index)
            }
            Change::StandardCostUpdate => {
                let erp = &mut self.states[reference].erp;
                let cents = decimal_to_cents(erp.standard_cost);
                let moved = round_cents(cents as f64 * (0.97 + 0.07 * rng.random::<f64>()));
                erp.standard_cost = decimal(moved.max(1));
                self.emit_erp_cost(reference)
            }
            Change::Archival => {
                let archived: Vec<usize> = (0..self.states.len())
                    .filter(|&index| !self.states[index].active)
                    .collect();
                let reference = if !archived.is_empty() && rng.random_bool(RESTORE_SHARE) {
                    archived[rng.random_range(0..archived.len())]
                } else {
                    reference
                };
                let state = &mut self.states[reference];
                state.active = !state.active;
                self.emit_product(reference)
            }
        }
    }

    /// The product reference of catalogue entry `reference` as its ERP holds it now, written
    /// at the simulated now.
    fn emit_product(&self, reference: usize) -> MarketEvent {
        MarketEvent::Product(ProductReference {
            active: self.states[reference].active,
            updated_at: self.now,
            ..self.catalogue.references[reference].product.clone()
        })
    }

    pub(crate) fn gtin(&self, reference: usize) -> &str {
        &self.catalogue.references[reference].product.gtin
    }

    fn emit_offer(&mut self, reference: usize, market: usize) -> MarketEvent {
        let request_id = uuid(&mut self.market_rng);
        let offer = self.offer_signal(reference, market, request_id);
        self.states[reference].markets[market].last_accepted = Some(offer.clone());
        MarketEvent::Offer(offer)
    }

    pub(crate) fn offer_signal(
        &self,
        reference: usize,
        market: usize,
        request_id: String,
    ) -> OfferSignal {
        let page = &self.states[reference].markets[market];
        page.signal(
            self.gtin(reference),
            offer_source(page.channel),
            request_id,
            self.now,
        )
    }

    fn emit_supplier_cost(&mut self, reference: usize, line: usize) -> MarketEvent {
        let request_id = self.supplier_request_id(reference, line, true);
        let cost = self.supplier_cost(reference, line, request_id);
        self.states[reference].supplier_lines[line].last_cost = Some(cost.clone());
        MarketEvent::Cost(cost)
    }

    fn emit_erp_cost(&mut self, reference: usize) -> MarketEvent {
        let request_id = uuid(&mut self.market_rng);
        let cost = self.erp_cost(reference, request_id);
        self.states[reference].erp.last_cost = Some(cost.clone());
        MarketEvent::Cost(cost)
    }

    fn emit_stock(&mut self, reference: usize, line: StockLine) -> MarketEvent {
        let request_id = match line {
            StockLine::Supplier(index) => self.supplier_request_id(reference, index, false),
            StockLine::Erp | StockLine::Fba => uuid(&mut self.market_rng),
        };
        MarketEvent::Stock(self.stock_signal(reference, line, request_id))
    }

    /// Supplier files are identified by file and line; supplier prices kept in Odoo by the
    /// RPC call's request id. The market stream draws the id, so only good records use it.
    fn supplier_request_id(&mut self, reference: usize, line: usize, price: bool) -> String {
        let supplier =
            &self.catalogue.suppliers[self.states[reference].supplier_lines[line].supplier];
        if price && supplier.price_source() != supplier.file_source() {
            uuid(&mut self.market_rng)
        } else {
            file_line(&supplier.id, self.now, reference)
        }
    }

    pub(crate) fn supplier_cost(
        &self,
        reference: usize,
        line: usize,
        request_id: String,
    ) -> CostSignal {
        let line = &self.states[reference].supplier_lines[line];
        let supplier = &self.catalogue.suppliers[line.supplier];
        CostSignal {
            gtin: self.gtin(reference).to_owned(),
            cost_kind: CostKind::SupplierPrice,
            supplier_id: Some(supplier.id.clone()),
            unit_cost_excl_vat: line.unit_cost,
            currency: line.currency.to_owned(),
            moq: Some(line.moq),
            valid_from: Some(line.valid_from),
            valid_to: Some(line.valid_to),
            lead_time_days: Some(line.lead_time_days),
            source: supplier.price_source(),
            request_id: Some(request_id),
            observed_at: self.now,
        }
    }

    pub(crate) fn erp_cost(&self, reference: usize, request_id: String) -> CostSignal {
        CostSignal {
            gtin: self.gtin(reference).to_owned(),
            cost_kind: CostKind::ErpStandardCost,
            supplier_id: None,
            unit_cost_excl_vat: self.states[reference].erp.standard_cost,
            currency: "EUR".to_owned(),
            moq: None,
            valid_from: None,
            valid_to: None,
            lead_time_days: None,
            source: ERP_SOURCE.to_owned(),
            request_id: Some(request_id),
            observed_at: self.now,
        }
    }

    pub(crate) fn stock_signal(
        &self,
        reference: usize,
        line: StockLine,
        request_id: String,
    ) -> StockSignal {
        let state = &self.states[reference];
        let gtin = self.gtin(reference).to_owned();
        let (stock_source, location, quantity, incoming_quantity, lead_time_days, source) =
            match line {
                StockLine::Supplier(index) => {
                    let line = &state.supplier_lines[index];
                    let supplier = &self.catalogue.suppliers[line.supplier];
                    (
                        StockSource::Supplier,
                        supplier.id.clone(),
                        line.quantity,
                        None,
                        Some(line.lead_time_days),
                        supplier.file_source(),
                    )
                }
                StockLine::Erp => (
                    StockSource::Erp,
                    ERP_LOCATION.to_owned(),
                    state.erp.quantity,
                    Some(state.erp.incoming),
                    None,
                    ERP_SOURCE.to_owned(),
                ),
                StockLine::Fba => {
                    let fba = state
                        .fba
                        .as_ref()
                        .expect("FBA lines exist only with FBA stock");
                    (
                        StockSource::Fba,
                        FBA_LOCATION.to_owned(),
                        fba.quantity,
                        Some(fba.inbound),
                        None,
                        FBA_SOURCE.to_owned(),
                    )
                }
            };
        StockSignal {
            gtin,
            stock_source,
            location: Some(location),
            quantity,
            incoming_quantity,
            lead_time_days,
            source,
            request_id: Some(request_id),
            observed_at: self.now,
        }
    }
}

impl Iterator for MarketSimulation {
    type Item = MarketEvent;

    /// Never ends: the market keeps moving. Use `take`.
    fn next(&mut self) -> Option<MarketEvent> {
        Some(self.next_event())
    }
}

fn decimal_to_cents(amount: Decimal) -> i64 {
    let cents = (amount * Decimal::ONE_HUNDRED).round();
    i64::try_from(cents).expect("model amounts are whole cents far below i64::MAX")
}

fn initial_state(
    rng: &mut ChaCha8Rng,
    reference: &crate::catalogue::CatalogueReference,
) -> ReferenceState {
    let market_price = decimal_to_cents(reference.market_price_incl_vat);
    let weight_g = reference.product.weight_g.unwrap_or(1);
    let markets = reference
        .listings
        .iter()
        .map(|listing| {
            ChannelMarket::open(
                rng,
                listing.channel,
                listing.marketplace_category,
                market_price,
                weight_g,
                listing.we_sell,
                listing.fulfilled_by_amazon,
            )
        })
        .collect();
    let supplier_lines = reference
        .supplier_offers
        .iter()
        .map(|offer| SupplierLine {
            supplier: offer.supplier,
            unit_cost: offer.unit_cost_excl_vat,
            currency: offer.currency,
            moq: offer.moq,
            lead_time_days: offer.lead_time_days,
            valid_from: offer.valid_from,
            valid_to: offer.valid_to,
            quantity: if rng.random_bool(0.1) {
                0
            } else {
                let draw: f64 = rng.random();
                1 + round_cents(draw * draw * 1_500.0)
            },
            last_cost: None,
        })
        .collect();
    let erp = ErpLine {
        quantity: if rng.random_bool(0.25) {
            0
        } else {
            rng.random_range(1..=120)
        },
        incoming: if rng.random_bool(0.6) {
            0
        } else {
            rng.random_range(5..=100)
        },
        standard_cost: reference.erp_standard_cost,
        last_cost: None,
    };
    let fba = reference
        .listings
        .iter()
        .any(|listing| listing.fulfilled_by_amazon)
        .then(|| FbaLine {
            quantity: rng.random_range(0..=60),
            inbound: if rng.random_bool(0.3) {
                rng.random_range(10..=50)
            } else {
                0
            },
        });
    ReferenceState {
        markets,
        supplier_lines,
        erp,
        fba,
        active: true,
    }
}
