//! The server's shared state: the market simulation behind a lock, the fault plan and the
//! request counters. Locks are held for a computation, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hub_core::channel::Channel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::faults::{
    Bucket, Decision, FaultConfig, FaultConfigError, Malformer, ThrottleCause, draw,
};
use super::odoo::OdooJournal;
use super::stats::{MarketStats, OperationStats, SimStats};
use super::{Credentials, SimServerConfig, SimServerError};
use crate::catalogue::{Catalogue, CatalogueReference};
use crate::market::ChannelMarket;
use crate::simulation::{MarketEvent, MarketSimulation, Phase, ReferenceState, SimulationParams};

/// A handle on the running simulator, cheap to clone: every route and the market clock
/// share one.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    market: Mutex<MarketState>,
    faults: Mutex<FaultState>,
    stats: Mutex<BTreeMap<String, OperationStats>>,
    started: Instant,
    /// The hash of the sound content each file (by operation and name) was last served
    /// with: a file is malformed the same way at every download of that content, and
    /// counted malformed when its content changes.
    files_served: Mutex<HashMap<(&'static str, String), u64>>,
    credentials: Credentials,
    placeholder_share: f64,
    seed: u64,
}

/// The market as the routes read it.
pub(crate) struct MarketState {
    simulation: MarketSimulation,
    changes: u64,
    by_gtin: HashMap<String, usize>,
    /// What the simulated Odoo records of the market's changes.
    odoo: OdooJournal,
}

impl MarketState {
    pub(crate) fn catalogue(&self) -> &Catalogue {
        self.simulation.catalogue()
    }

    pub(crate) fn reference(&self, index: usize) -> &CatalogueReference {
        &self.simulation.catalogue().references[index]
    }

    /// The catalogue entry with this GTIN-13.
    pub(crate) fn reference_index(&self, gtin: &str) -> Option<usize> {
        self.by_gtin.get(gtin).copied()
    }

    /// Stock, costs and product pages of catalogue entry `index` as they are now.
    pub(crate) fn state(&self, index: usize) -> &ReferenceState {
        &self.simulation.states[index]
    }

    /// The product page of catalogue entry `index` on `channel`, when it is listed there.
    pub(crate) fn page(&self, index: usize, channel: Channel) -> Option<&ChannelMarket> {
        self.simulation.states[index]
            .markets
            .iter()
            .find(|market| market.channel == channel)
    }

    pub(crate) fn simulated_now(&self) -> i64 {
        self.simulation.now()
    }

    pub(crate) fn odoo(&self) -> &OdooJournal {
        &self.odoo
    }

    /// Applies one market change, recording it in the simulated Odoo.
    fn next_change(&mut self) {
        let event = self.simulation.next_event();
        let gtin = match &event {
            MarketEvent::Product(product) => &product.gtin,
            MarketEvent::Stock(stock) => &stock.gtin,
            MarketEvent::Cost(cost) => &cost.gtin,
            _ => return,
        };
        if let Some(&index) = self.by_gtin.get(gtin) {
            self.odoo.record(index, &event);
        }
    }
}

struct FaultState {
    config: FaultConfig,
    /// When `config` was applied, since the server started: fault windows count from it.
    applied_at: Duration,
    rng: ChaCha8Rng,
    buckets: HashMap<&'static str, Bucket>,
    /// Until when each operation asked clients to wait with `Retry-After`.
    retry_after_until: HashMap<&'static str, Duration>,
}

/// One product page of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSummary {
    pub gtin: String,
    /// Whether we have an offer on the page.
    pub ours: bool,
    /// Whether our warehouse (the ERP) has the reference in stock: marketplaces that take
    /// their quantity from it (Mirakl) list our offer inactive otherwise.
    pub in_stock: bool,
    pub competitors: usize,
}

/// What a route needs to know about the faults of the request it serves.
#[derive(Debug, Clone)]
pub struct OperationContext {
    pub(crate) operation: &'static str,
    malformed_rate: f64,
    seed: u64,
}

impl OperationContext {
    /// The malformer of this request; hand it back with [`Simulator::record_malformed`].
    pub fn malformer(&self) -> Malformer {
        Malformer::new(self.malformed_rate, self.seed)
    }
}

impl Simulator {
    pub fn new(config: SimServerConfig) -> Result<Simulator, SimServerError> {
        config.faults.validate()?;
        if !(0.0..=1.0).contains(&config.placeholder_share) {
            return Err(SimServerError::InvalidParameter {
                field: "placeholder_share",
                value: config.placeholder_share.to_string(),
                expected: "a share in [0, 1]",
            });
        }
        let catalogue = Catalogue::generate(&config.catalogue)?;
        let mut simulation = MarketSimulation::new(
            catalogue,
            SimulationParams {
                seed: config.market_seed,
                start_at: config.catalogue.as_of,
                // The server corrupts what it serves in the API's own terms (malformed
                // elements, placeholders), not by emitting corrupt records.
                corrupt_rate: 0.0,
                mean_change_gap_ms: config.mean_change_gap_ms,
                ..SimulationParams::default()
            },
        )?;
        // The initial sync phases emit the catalogue without moving the market: skip them
        // so that every later step is a market change.
        while simulation.phase() != Phase::Changes {
            simulation.next_event();
        }
        let odoo = OdooJournal::new(
            simulation.catalogue(),
            simulation
                .states
                .iter()
                .map(|state| (state.erp.quantity, state.erp.incoming))
                .collect(),
        );
        let by_gtin = simulation
            .catalogue()
            .references
            .iter()
            .enumerate()
            .map(|(index, reference)| (reference.product.gtin.clone(), index))
            .collect();
        Ok(Simulator {
            inner: Arc::new(Inner {
                market: Mutex::new(MarketState {
                    simulation,
                    changes: 0,
                    by_gtin,
                    odoo,
                }),
                faults: Mutex::new(FaultState {
                    rng: ChaCha8Rng::seed_from_u64(config.faults.seed),
                    config: config.faults,
                    applied_at: Duration::ZERO,
                    buckets: HashMap::new(),
                    retry_after_until: HashMap::new(),
                }),
                stats: Mutex::new(BTreeMap::new()),
                started: Instant::now(),
                files_served: Mutex::new(HashMap::new()),
                credentials: config.credentials,
                placeholder_share: config.placeholder_share,
                seed: config.market_seed,
            }),
        })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The generated catalogue, for tests that compare what was served with what arrived.
    pub fn catalogue(&self) -> Catalogue {
        self.market().catalogue().clone()
    }

    /// The product pages of `channel` as they are now, in catalogue order: what a complete
    /// read of that marketplace must find.
    pub fn pages(&self, channel: Channel) -> Vec<PageSummary> {
        let market = self.market();
        (0..market.catalogue().references.len())
            .filter_map(|index| {
                let page = market.page(index, channel)?;
                Some(PageSummary {
                    gtin: market.reference(index).product.gtin.clone(),
                    ours: page.ours.is_some(),
                    in_stock: market.state(index).erp.quantity > 0,
                    competitors: page.competitors.len(),
                })
            })
            .collect()
    }

    /// Applies `changes` market changes (repricing, buy box moves, stock-outs...).
    pub fn advance(&self, changes: u64) {
        let mut market = self.market();
        for _ in 0..changes {
            market.next_change();
        }
        market.changes += changes;
    }

    /// Replaces the fault plan; its windows count from now.
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), FaultConfigError> {
        config.validate()?;
        let now = self.inner.started.elapsed();
        let mut faults = self.faults();
        faults.rng = ChaCha8Rng::seed_from_u64(config.seed);
        faults.config = config;
        faults.applied_at = now;
        faults.buckets.clear();
        Ok(())
    }

    pub fn faults_config(&self) -> FaultConfig {
        self.faults().config.clone()
    }

    pub fn stats(&self) -> SimStats {
        let market = {
            let market = self.market();
            MarketStats {
                changes: market.changes,
                simulated_now: market.simulated_now(),
                references: market.catalogue().references.len(),
            }
        };
        SimStats {
            uptime_ms: self.uptime_ms(),
            market,
            operations: self.lock_stats().clone(),
        }
    }

    /// Milliseconds since the simulator started: the clock of its page tokens.
    pub(crate) fn uptime_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// A share of pages show a marketplace's known placeholder offers (a zero price, an
    /// inactive offer); decided per page from the seed, so it is stable across requests.
    pub(crate) fn shows_placeholder(&self, page_key: u64) -> bool {
        let mut rng = ChaCha8Rng::seed_from_u64(self.inner.seed ^ page_key.rotate_left(17));
        draw(&mut rng, self.inner.placeholder_share)
    }

    pub(crate) fn market(&self) -> MutexGuard<'_, MarketState> {
        self.inner.market.lock().expect("market lock poisoned")
    }

    fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.inner.faults.lock().expect("fault lock poisoned")
    }

    fn lock_stats(&self) -> MutexGuard<'_, BTreeMap<String, OperationStats>> {
        self.inner.stats.lock().expect("stats lock poisoned")
    }

    /// Counts the request and decides its fate, with the delay to apply first.
    pub(crate) fn admit(&self, operation: &'static str) -> (Decision, Duration) {
        let now = self.inner.started.elapsed();
        let mut faults = self.faults();
        let mut all_stats = self.lock_stats();
        let stats = all_stats.entry(operation.to_owned()).or_default();
        stats.record_arrival(now.as_millis() as u64);
        if faults
            .retry_after_until
            .get(operation)
            .is_some_and(|until| now < *until)
        {
            stats.retry_after_violations += 1;
        }
        let plan = faults.config.for_operation(operation).clone();
        let since_applied = now.saturating_sub(faults.applied_at);
        let delay = Duration::from_millis(plan.delay_ms);
        let throttle =
            if let Some(failing) = plan.failing.filter(|f| f.window.contains(since_applied)) {
                stats.failed += 1;
                return (
                    Decision::Fail {
                        status: failing.status,
                    },
                    delay,
                );
            } else if plan
                .storm
                .is_some_and(|storm| storm.contains(since_applied))
            {
                stats.throttled_in_storm += 1;
                Some((plan.retry_after_secs, ThrottleCause::Storm))
            } else if let Some(wait) = plan.rate_limit.and_then(|limit| {
                faults
                    .buckets
                    .entry(operation)
                    .or_insert_with(|| Bucket::full(&limit, now))
                    .take(&limit, now)
                    .err()
            }) {
                stats.over_rate_limit += 1;
                Some((
                    wait.as_secs_f64().ceil().max(1.0) as u64,
                    ThrottleCause::RateLimit,
                ))
            } else if draw(&mut faults.rng, plan.throttle_rate) {
                stats.throttled_at_rate += 1;
                Some((plan.retry_after_secs, ThrottleCause::Rate))
            } else {
                None
            };
        let decision = match throttle {
            Some((retry_after_secs, cause)) => {
                faults
                    .retry_after_until
                    .insert(operation, now + Duration::from_secs(retry_after_secs));
                Decision::Throttle {
                    retry_after_secs,
                    cause,
                }
            }
            None => Decision::Serve {
                malformed_rate: plan.malformed_rate,
                seed: faults.rng.random(),
            },
        };
        (decision, delay)
    }

    pub(crate) fn context(
        operation: &'static str,
        malformed_rate: f64,
        seed: u64,
    ) -> OperationContext {
        OperationContext {
            operation,
            malformed_rate,
            seed,
        }
    }

    pub(crate) fn record_response(&self, operation: &'static str, status: u16) {
        let mut stats = self.lock_stats();
        *stats
            .entry(operation.to_owned())
            .or_default()
            .responses
            .entry(status)
            .or_insert(0) += 1;
    }

    /// Counts the placeholder offers a route served (see [`OperationStats::placeholder_offers`]).
    pub fn record_placeholders(&self, context: &OperationContext, placeholders: u64) {
        if placeholders > 0 {
            self.lock_stats()
                .entry(context.operation.to_owned())
                .or_default()
                .placeholder_offers += placeholders;
        }
    }

    /// The malformer of file `name` served with the sound content `sound`: its choices
    /// depend on the content and the fault seed only, so every download of the same content
    /// is malformed the same way, as a file written once. Says whether the file's content
    /// changed since its last download (or this is its first): only then are its malformed
    /// lines counted ([`Simulator::record_malformed`]), as a client reads a file again only
    /// when it changed.
    pub(crate) fn file_malformer(
        &self,
        context: &OperationContext,
        name: &str,
        sound: &str,
    ) -> (Malformer, bool) {
        let mut hasher = DefaultHasher::new();
        sound.hash(&mut hasher);
        let content = hasher.finish();
        let fault_seed = self.faults().config.seed;
        let previous = self
            .inner
            .files_served
            .lock()
            .expect("served files lock poisoned")
            .insert((context.operation, name.to_owned()), content);
        (
            Malformer::new(context.malformed_rate, fault_seed ^ content),
            previous != Some(content),
        )
    }

    /// Counts the elements a route served malformed.
    pub fn record_malformed(&self, context: &OperationContext, malformer: &Malformer) {
        let malformed = malformer.malformed();
        if malformed > 0 {
            self.lock_stats()
                .entry(context.operation.to_owned())
                .or_default()
                .malformed_elements += malformed;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::catalogue::CatalogueParams;

    #[test]
    fn a_file_is_malformed_alike_at_every_download_and_counted_when_its_content_changes() {
        let simulator = Simulator::new(SimServerConfig {
            catalogue: CatalogueParams {
                references: 10,
                ..CatalogueParams::default()
            },
            ..SimServerConfig::default()
        })
        .expect("simulator");
        // Each download is a request of its own, with its own seed.
        let download = |request_seed: u64, sound: &str| {
            let context = Simulator::context("supplier.prices_csv", 0.5, request_seed);
            let (mut malformer, counted) = simulator.file_malformer(&context, "ouest", sound);
            let mut lines: Vec<Value> = (0..40)
                .map(|line| json!({"EAN": line.to_string(), "Stock": "3"}))
                .collect();
            for line in &mut lines {
                malformer.malform(line, &["EAN", "Stock"]);
            }
            (lines, counted)
        };
        let (first, counted) = download(1, "version 1");
        assert!(counted, "a first download is counted");
        assert!(
            first
                .iter()
                .any(|line| line["Stock"] != "3" || line["EAN"].is_array())
        );
        let (again, counted) = download(2, "version 1");
        assert_eq!(again, first, "the same file, malformed alike");
        assert!(!counted, "the same file is not counted twice");
        let (rewritten, counted) = download(3, "version 2");
        assert!(counted, "a rewritten file is counted");
        assert_ne!(rewritten, first);
        assert!(
            download(4, "version 1").1,
            "back to an earlier content: a change too"
        );
    }
}
