//! The demo's market: a catalogue and a simulation placed on the simulated clock so that a
//! run follows the previous one, and the loop that publishes it through the broker.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hub_market_sim::{
    Catalogue, CatalogueParams, CorruptRecord, MarketEvent, MarketSimulation, Phase,
    SimulationError, SimulationParams,
};
use hub_schemas::AvroRecord;
use hub_schemas::records::EpochMillis;

use super::positions::OffsetReader;
use super::services::Services;
use super::{DemoError, DemoParams, Progress, STALL_TIMEOUT};
use crate::config::ScoringConfig;
use crate::market_feed::MarketFeed;
use crate::wiring;

/// How far before the wall clock a first run starts its simulated clock. A default run
/// covers several simulated hours; starting two days back keeps all of it in the past (no
/// record stamped ahead of the broker's clock) and well inside the signal tables' 400-day
/// TTL and the topics' retention.
const FIRST_RUN_LEAD_MS: i64 = 2 * 24 * 3_600_000;
/// Gap between the latest observation already stored and a re-run's first record.
const RERUN_GAP_MS: i64 = 60_000;
/// Market changes published per reference after the initial sync, when `--events` is not
/// given: enough for repricing, buy box rotations, sales and stock-outs on most references.
pub const DEFAULT_CHANGES_PER_REFERENCE: u64 = 5;
/// How often publishing progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How often the processor's position is polled while the publisher waits for it: short,
/// since the publisher is idle meanwhile.
const CATCH_UP_POLL: Duration = Duration::from_millis(20);

/// When the simulated market of this run starts: two days before the wall clock on a
/// first run; on a re-run, just after the latest observation already stored, so that every
/// record is newer than the state the processor holds and every score gets a new version.
pub fn start_at(latest_stored: Option<EpochMillis>, wall_clock: EpochMillis) -> EpochMillis {
    let first_run = wall_clock - FIRST_RUN_LEAD_MS;
    latest_stored.map_or(first_run, |latest| first_run.max(latest + RERUN_GAP_MS))
}

pub fn wall_clock_millis() -> EpochMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The catalogue and its simulation starting at `start_at`, with the simulator's default
/// distance between the catalogue's date and the first record.
pub fn simulation(
    params: &DemoParams,
    start_at: EpochMillis,
) -> Result<MarketSimulation, DemoError> {
    let catalogue_defaults = CatalogueParams::default();
    let simulation_defaults = SimulationParams::default();
    let lead = simulation_defaults.start_at - catalogue_defaults.as_of;
    let catalogue = Catalogue::generate(&CatalogueParams {
        seed: params.catalogue_seed,
        references: params.references,
        as_of: start_at - lead,
        ..catalogue_defaults
    })?;
    let simulation = MarketSimulation::new(
        catalogue,
        SimulationParams {
            seed: params.seed,
            start_at,
            corrupt_rate: params.corrupt_rate,
            ..simulation_defaults
        },
    )
    .map_err(|error| match error {
        SimulationError::InvalidParameter {
            field: "corrupt_rate",
            value,
            ..
        } => DemoError::InvalidParameter {
            name: "--corrupt-rate",
            value,
            expected: "a share between 0 and 1, e.g. 0.01",
        },
        other => DemoError::Simulation(other),
    })?;
    Ok(simulation)
}

/// The catalogue's exchange rates in the scoring configuration, so that suppliers quoting in
/// USD or GBP are converted as the buyers' rate table says.
pub fn use_catalogue_fx_rates(
    scoring: &mut ScoringConfig,
    catalogue: &Catalogue,
) -> Result<(), DemoError> {
    const CATALOGUE_BASE: &str = "EUR";
    if scoring.fx.base != CATALOGUE_BASE {
        return Err(DemoError::FxBase {
            configured: scoring.fx.base.clone(),
        });
    }
    for rate in &catalogue.fx_rates {
        scoring
            .fx
            .rates
            .insert(rate.currency.to_owned(), rate.eur_per_unit);
    }
    Ok(())
}

/// How many records to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volume {
    /// Exactly this many records, whatever phase the market is in.
    Records(u64),
    /// The catalogue's initial sync, then this many market changes.
    SyncThenChanges(u64),
}

impl Volume {
    fn done(self, published: u64, changes: u64, phase: Phase) -> bool {
        match self {
            Volume::Records(records) => published >= records,
            Volume::SyncThenChanges(wanted) => phase == Phase::Changes && changes >= wanted,
        }
    }
}

/// Keeps the publisher from superseding, on the compacted products topic, a record the
/// processor has not read yet. A compacting broker keeps only the latest record per key; the
/// local one (nisshi) compacts every few seconds whatever the segment, so a corrupt re-sync
/// published while the processor lags would erase the good product before it is joined (or
/// the reverse, erasing a corrupt record before it is quarantined). Before publishing a
/// second product record with a key still unread, the publisher waits for the processor.
pub struct CompactionGuard<'a> {
    processor: &'a OffsetReader,
    topic: Vec<String>,
    unread_keys: HashSet<String>,
}

impl<'a> CompactionGuard<'a> {
    pub fn new(processor: &'a OffsetReader, products_topic: &str) -> Self {
        CompactionGuard {
            processor,
            topic: vec![products_topic.to_owned()],
            unread_keys: HashSet::new(),
        }
    }

    /// Waits, when `event` would supersede an unread product record, until the processor has
    /// committed everything published on the products topic.
    async fn before(
        &mut self,
        event: &MarketEvent,
        feed: &mut MarketFeed,
        services: &Services,
    ) -> Result<(), DemoError> {
        let key = match event {
            MarketEvent::Product(product)
            | MarketEvent::Corrupt {
                record: CorruptRecord::Product(product),
                ..
            } => product.key(),
            _ => None,
        };
        let Some(key) = key else { return Ok(()) };
        if self.unread_keys.contains(&key) {
            feed.flush().await?;
            let end = self.processor.end_offsets(&self.topic).await?;
            let mut progress = (Instant::now(), None);
            loop {
                services.check()?;
                let committed = self.processor.committed(&end).await?;
                let behind: i64 = end
                    .iter()
                    .map(|(topic, partition, end)| {
                        (end - committed.get(topic, partition).unwrap_or(0)).max(0)
                    })
                    .sum();
                if behind == 0 {
                    break;
                }
                if progress.1 != Some(behind) {
                    progress = (Instant::now(), Some(behind));
                } else if progress.0.elapsed() >= STALL_TIMEOUT {
                    return Err(DemoError::ProcessorBehind {
                        seconds: STALL_TIMEOUT.as_secs(),
                        topic: self.topic[0].clone(),
                        behind,
                    });
                }
                tokio::time::sleep(CATCH_UP_POLL).await;
            }
            self.unread_keys.clear();
        }
        self.unread_keys.insert(key);
        Ok(())
    }
}

/// Publishes the market through the broker until `volume` is reached, waits for the
/// broker's acknowledgements, and reports progress every second, checking there that the
/// processor and the sink still run.
pub async fn publish(
    simulation: &mut MarketSimulation,
    feed: &mut MarketFeed,
    volume: Volume,
    guard: &mut CompactionGuard<'_>,
    services: &Services,
    on_progress: &mut impl FnMut(Progress),
) -> Result<Duration, DemoError> {
    let started = Instant::now();
    let mut last_report = (started, 0_u64);
    let mut changes = 0_u64;
    let references = simulation.catalogue().references.len();
    while !volume.done(feed.published(), changes, simulation.phase()) {
        let phase = simulation.phase();
        let event = simulation.next_event();
        guard.before(&event, feed, services).await?;
        feed.publish(&event, simulation.now()).await?;
        if phase == Phase::Changes {
            changes += 1;
        }
        let now = Instant::now();
        if now.duration_since(last_report.0) >= PROGRESS_EVERY {
            services.check()?;
            let published = feed.published();
            on_progress(Progress::Publishing {
                published,
                per_second: per_second(published - last_report.1, now - last_report.0),
                stage: stage(simulation.phase(), references, changes),
            });
            last_report = (now, published);
        }
    }
    feed.flush().await?;
    let elapsed = started.elapsed();
    on_progress(Progress::Published {
        published: feed.published(),
        per_second: per_second(feed.published(), elapsed),
        elapsed,
    });
    Ok(elapsed)
}

/// Where the market is, for progress lines.
fn stage(phase: Phase, references: usize, changes: u64) -> String {
    match phase {
        Phase::Products { next } => format!("catalogue: product {next} of {references}"),
        Phase::Snapshot { reference, .. } => {
            format!("initial sync: reference {reference} of {references}")
        }
        Phase::Changes => format!("market changes: {changes}"),
    }
}

pub fn per_second(records: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        (records as f64 / seconds).round() as u64
    } else {
        0
    }
}

/// The demo's framing and topics, as every command builds them.
pub async fn feed(config: &crate::config::Config) -> Result<MarketFeed, DemoError> {
    let (encoder, _) = wiring::codec(config).await?;
    let producer = crate::kafka::producer_config(&config.kafka)
        .create()
        .map_err(|source| DemoError::Producer {
            bootstrap_servers: config.kafka.bootstrap_servers.clone(),
            source,
        })?;
    Ok(MarketFeed::new(producer, encoder))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: EpochMillis = 1_795_000_000_000;

    #[test]
    fn a_first_run_starts_two_days_back_and_a_rerun_after_what_is_stored() {
        assert_eq!(start_at(None, WALL), WALL - FIRST_RUN_LEAD_MS);
        let long_ago = WALL - 30 * 24 * 3_600_000;
        assert_eq!(start_at(Some(long_ago), WALL), WALL - FIRST_RUN_LEAD_MS);
        let recent = WALL - 3_600_000;
        assert_eq!(start_at(Some(recent), WALL), recent + RERUN_GAP_MS);
    }

    #[test]
    fn the_default_volume_waits_for_the_end_of_the_initial_sync() {
        let volume = Volume::SyncThenChanges(2);
        let sync = Phase::Snapshot {
            reference: 3,
            step: 0,
        };
        assert!(!volume.done(1_000, 0, sync));
        assert!(!volume.done(1_000, 1, Phase::Changes));
        assert!(volume.done(1_000, 2, Phase::Changes));
        assert!(Volume::Records(10).done(10, 0, sync));
    }
}
