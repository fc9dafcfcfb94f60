//! The demo's market: the simulator's catalogue and clock placed so that a run ends before
//! the wall clock and after the previous run, and the simulator serving it on loopback.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_market_sim::http::{
    FaultConfig, Faults, MarketClock, RunningSimulator, SimServerConfig, SimServerError, Simulator,
};
use hub_market_sim::{Catalogue, CatalogueParams};
use hub_schemas::records::EpochMillis;

use super::{DemoError, DemoParams};
use crate::config::ScoringConfig;

/// Market changes per reference after the initial sync, when not given: enough for
/// repricing, buy box rotations, sales and stock-outs on most references.
pub const DEFAULT_CHANGES_PER_REFERENCE: u64 = 5;
/// Mean simulated time between two market changes. Connectors stamp most observations with
/// the wall clock, suppliers' files and Odoo rows with the simulated one: a short gap keeps
/// the whole simulated run within a few seconds per thousand references, so it can end a
/// little before the wall clock (nothing observed in the future) and start after the
/// previous run ended.
const CHANGE_GAP_MS: i64 = 1;
/// How far before the wall clock the simulated market ends.
const END_BEFORE_WALL_CLOCK_MS: i64 = 60_000;

pub fn wall_clock_millis() -> EpochMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Where the simulated market changes start: early enough that `changes` changes end
/// before `wall_clock`. A re-run started later than the length of a run's
/// simulated span (a second per thousand changes) starts after everything the previous run
/// observed, so its records supersede it.
pub fn market_start(wall_clock: EpochMillis, changes: u64) -> EpochMillis {
    let span = i64::try_from(changes)
        .unwrap_or(i64::MAX)
        .saturating_mul(CHANGE_GAP_MS);
    wall_clock
        .saturating_sub(span)
        .saturating_sub(END_BEFORE_WALL_CLOCK_MS)
}

/// The simulator of the demo's market, serving on a free loopback port, moved only by the
/// demo (`Simulator::advance`), its market changes starting at `changes_start`. The
/// simulator's clock first runs through the catalogue's initial sync (a paced snapshot, a
/// span that grows with the catalogue), so the catalogue is dated that span earlier.
pub async fn start_simulator(
    params: &DemoParams,
    changes_start: EpochMillis,
) -> Result<RunningSimulator, DemoError> {
    let first = new_simulator(params, changes_start).await?;
    let sync_span = first.stats().market.simulated_now - changes_start;
    let simulator = if sync_span > 0 {
        new_simulator(params, changes_start - sync_span).await?
    } else {
        first
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    Ok(simulator.start(loopback, MarketClock::OnRequest).await?)
}

async fn new_simulator(params: &DemoParams, as_of: EpochMillis) -> Result<Simulator, DemoError> {
    let config = SimServerConfig {
        catalogue: CatalogueParams {
            seed: params.catalogue_seed,
            references: params.references,
            as_of,
            ..CatalogueParams::default()
        },
        market_seed: params.seed,
        mean_change_gap_ms: CHANGE_GAP_MS,
        clock: MarketClock::OnRequest,
        faults: FaultConfig {
            seed: params.seed,
            default: Faults {
                malformed_rate: params.malformed_rate,
                ..Faults::default()
            },
            ..FaultConfig::default()
        },
        ..SimServerConfig::default()
    };
    tokio::task::spawn_blocking(move || Simulator::new(config))
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
        .map_err(|error| match error {
            SimServerError::Faults(fault) if fault.field == "malformed_rate" => {
                DemoError::InvalidParameter {
                    name: "--malformed-rate",
                    value: fault.value,
                    expected: "a share between 0 and 1, e.g. 0.01",
                }
            }
            other => DemoError::Simulator(other),
        })
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

pub fn per_second(records: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        (records as f64 / seconds).round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: EpochMillis = 1_795_000_000_000;

    #[test]
    fn the_market_ends_before_the_wall_clock_and_a_later_run_starts_after_it() {
        let changes = 50_000;
        let start = market_start(WALL, changes);
        let end = start + changes as i64 * CHANGE_GAP_MS;
        assert_eq!(end, WALL - END_BEFORE_WALL_CLOCK_MS);
        // A run takes longer than its simulated span: the next one starts after this one.
        let next_run = WALL + changes as i64 * CHANGE_GAP_MS;
        assert!(market_start(next_run, changes) >= end);
    }
}
