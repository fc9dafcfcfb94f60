//! `hub demo`: the whole platform on a simulated market, in one process.
//!
//! The simulator's HTTP server (`hub simulate`'s, `hub_market_sim::http`) serves a catalogue
//! of product references through every source's API (Amazon SP-API, Octopia for
//! Cdiscount, Fnac Darty, Mirakl, Odoo, the suppliers' price files), with a share of
//! payload elements malformed and marketplaces' placeholder offers. Every connector reads
//! it as `hub connect --all` does (`connect::run_observed`, see [`sources`] for their
//! configuration), publishing to the broker: the product references come from Odoo, the
//! ERP's master data, like costs and stock. The processor and the sink run as tasks of this
//! process (the code of `hub process` and `hub sink`).
//!
//! # When the demo is done
//!
//! A connector's *sweep* is its polls from its start up to the first one that reports the
//! source caught up (`PollReport::caught_up`): every page read, every cursor saved after
//! its page was acknowledged by the broker. The market moves only between sweeps:
//!
//! 1. initial sync: every connector is started (as `hub connect <source>`: its own
//!    `connect::run_observed`, from the cursors saved on the cursors topic) and stopped as
//!    soon as it has completed one sweep (it finishes that poll, acknowledged and saved);
//! 2. market changes, in `changes_per_reference` rounds: each round applies as many market
//!    changes as there are references (`Simulator::advance`: repricing, buy box moves,
//!    stock-outs, supplier price changes), then runs every connector again from its saved
//!    cursors until it has completed one sweep, begun after the changes.
//!
//! The demo is done reading when the last round's last connector has stopped: each source
//! has been read exactly once to its end after the initial market and after each round of
//! changes, never more (a connector left running between rounds would sweep again and
//! again while waiting for the slowest, re-publishing what did not change).
//!
//! Then the demo waits until the processor has committed every record published in the run and the sink has
//! committed every record of the run on every topic it stores (on committed offsets, never
//! a fixed sleep), then reads the results back from ClickHouse: the top priorities with
//! their explanation, the best channel per reference, the quarantine by reason and by
//! source next to what the simulator served malformed (each source's connector must refuse
//! exactly its malformed elements and placeholder offers, one record each; the quality
//! gate's refusals of records published sound are counted apart), and the SQL that
//! produced them.
//!
//! It uses the configured topics, consumer groups and database, so dashboards show the demo
//! data. A re-run serves the same catalogue on a simulated clock that starts after the
//! previous run's (see `market::market_start`), so every record supersedes the previous
//! run's and every score gets a new version. `scripts/services down` and removing
//! `.hub/data` start from nothing.

mod connectors;
mod market;
mod positions;
mod render;
mod report;
mod services;
pub mod sources;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::Client;
use hub_connectors::machinery::ConnectorError;
use hub_market_sim::http::{SimServerError, SimStats};
use hub_schemas::records::EpochMillis;
use hub_sink_clickhouse::MigrationError;

use crate::config::Config;
use crate::connect::ConnectError;
use crate::kafka::{self, KafkaAdapterError};
use crate::processor::{self, ProcessorError};
use crate::sink::SinkError;
use crate::wiring::{self, WiringError};
pub use connectors::RunningConnectors;
pub use positions::{BrokerError, OffsetReader, Positions, Span};
use report::RunTopics;
use services::Services;
use sources::SimulatedSources;

pub use market::DEFAULT_CHANGES_PER_REFERENCE;
pub use market::{use_catalogue_fx_rates, wall_clock_millis};
pub use positions::sql_string;
pub(crate) use render::thousands;
pub use report::{
    BestChannelExample, BestChannels, Findings, Priority, ProductSummary, Query, ReasonCount,
    SinkRefusal, SourceCount,
};

/// How often the processor's and the sink's progress is polled while waiting for them.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often waiting progress is reported.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// How long the processor and the sink may make no progress at all before the demo gives
/// up: longer than the sink's longest retry backoff and than restoring a large changelog.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, PartialEq)]
pub struct DemoParams {
    /// Product references in the catalogue.
    pub references: usize,
    /// Rounds of market changes after the initial sync, each of as many changes as there
    /// are references.
    pub changes_per_reference: u64,
    /// Share of payload elements the simulated APIs serve malformed.
    pub malformed_rate: f64,
    /// Seed of the market's moves and of the malformed elements.
    pub seed: u64,
    /// Seed of the catalogue: the same seed gives the same references, so a re-run updates
    /// them rather than adding new ones.
    pub catalogue_seed: u64,
    /// Priorities shown.
    pub top: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{name} is {value}: expected {expected}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error("the simulator: {0}")]
    Simulator(#[from] SimServerError),
    #[error("configuring the connectors against the simulator: {0}")]
    Sources(#[from] ConnectorError),
    #[error("the connectors: {0}")]
    Connectors(#[from] ConnectError),
    #[error(
        "scoring.fx.base is {configured}: the simulated suppliers' exchange rates are in EUR; \
         run the demo with scoring.fx.base = \"EUR\""
    )]
    FxBase { configured: String },
    #[error(transparent)]
    Broker(Box<BrokerError>),
    #[error(
        "ClickHouse query \"{title}\" failed: {source}; is ClickHouse up (scripts/services \
         status) and the database migrated (hub migrate)?"
    )]
    Query {
        title: &'static str,
        source: clickhouse::error::Error,
    },
    #[error("processor: {0}")]
    Processor(#[from] ProcessorError),
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
    #[error("the {0} stopped before the demo asked it to; its log lines above say why")]
    ComponentEnded(&'static str),
    #[error(
        "the simulator served no request for {seconds} s in {stage}; still sweeping: \
         {waiting:?}; check the connectors' log lines above"
    )]
    SweepStalled {
        seconds: u64,
        stage: String,
        waiting: Vec<String>,
    },
    #[error(
        "no progress for {seconds} s: the processor has committed {processed} of {to_process} \
         published records and the sink {stored} of {to_store} records; check the log lines \
         above and that the broker and ClickHouse answer (scripts/services status)"
    )]
    Stalled {
        seconds: u64,
        processed: u64,
        to_process: u64,
        stored: u64,
        to_store: u64,
    },
    #[error(
        "interrupted: the processor and the sink were stopped after their current batch, the \
         connectors after their poll in flight"
    )]
    Interrupted,
}

impl From<BrokerError> for DemoError {
    fn from(error: BrokerError) -> Self {
        DemoError::Broker(Box::new(error))
    }
}

/// Progress of a run, reported as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started {
        references: usize,
        simulator: String,
        market_starts_at: EpochMillis,
        topic_prefix: String,
        database: String,
    },
    /// A stage of the reading is done: every connector has swept the market as it is.
    Swept {
        stage: String,
        elapsed: Duration,
    },
    /// Waiting for connectors to complete a sweep of the current stage.
    Sweeping {
        stage: String,
        waiting: Vec<String>,
    },
    /// Every stage is read; what remains is processing and storing.
    Read {
        elapsed: Duration,
    },
    Waiting {
        processed: u64,
        to_process: u64,
        stored: u64,
        /// Unknown until the processor has handled everything.
        to_store: Option<u64>,
    },
    Done {
        elapsed: Duration,
    },
}

/// What a run did and found.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoReport {
    pub params: DemoParams,
    /// The ClickHouse database the results are in.
    pub database: String,
    pub market_started_at: EpochMillis,
    pub market_ended_at: EpochMillis,
    /// Market changes applied after the initial sync.
    pub market_changes: u64,
    /// What the simulator served: requests, answers and malformed elements per operation.
    pub served: SimStats,
    /// From the first connector's start to the last one's stop.
    pub read_duration: Duration,
    /// From the connectors' start to the last output stored.
    pub pipeline_duration: Duration,
    /// Records of this run per topic, inputs and outputs.
    pub records: Vec<(String, u64)>,
    pub findings: Findings,
}

/// Runs the demo with `config`'s broker, topics, consumer groups and database, reporting
/// progress to `on_progress`. `interrupt` (SIGINT, SIGTERM) stops it cleanly.
pub async fn run(
    config: &Config,
    params: &DemoParams,
    interrupt: impl Future<Output = ()>,
    mut on_progress: impl FnMut(Progress),
) -> Result<DemoReport, DemoError> {
    if params.references == 0 {
        return Err(DemoError::InvalidParameter {
            name: "--references",
            value: "0".into(),
            expected: "at least 1 product reference",
        });
    }
    let topics = wiring::topic_names(config).map_err(WiringError::from)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let connection = wiring::clickhouse(config);
    let client = connection.client();
    hub_sink_clickhouse::migrate(&client, &connection.database).await?;

    let rounds = params.changes_per_reference;
    let changes_per_round = params.references as u64;
    let changes_start = market::market_start(
        market::wall_clock_millis(),
        rounds.saturating_mul(changes_per_round),
    );
    let simulator = market::start_simulator(params, changes_start).await?;
    let catalogue = simulator.simulator.catalogue();
    let mut config = config.clone();
    market::use_catalogue_fx_rates(&mut config.scoring, &catalogue)?;
    let config = Arc::new(config);
    let market_started_at = simulator.simulator.stats().market.simulated_now;
    on_progress(Progress::Started {
        references: params.references,
        simulator: simulator.base_url(),
        market_starts_at: market_started_at,
        topic_prefix: config.kafka.topic_prefix.clone(),
        database: connection.database.clone(),
    });

    let run_topics = RunTopics::new(&topics);
    let all_topics = run_topics.all();
    let processor_offsets =
        OffsetReader::new(&config.kafka, &processor::consumer_group(&config.kafka))?;
    let sink_offsets =
        OffsetReader::new(&config.kafka, &config.sink.group_id(&config.kafka.group_id))?;
    let start = processor_offsets.end_offsets(&all_topics).await?;

    let scratch = tempfile::tempdir().map_err(|error| {
        ConnectorError::config(
            "demo",
            format!("creating a directory for the connectors' files: {error}"),
        )
    })?;
    let sources = SimulatedSources::new(&simulator, scratch.path());
    let started = Instant::now();
    let services = Services::start(&config);
    tokio::pin!(interrupt);
    let outcome = tokio::select! {
        outcome = async {
            read_market(&config, &sources, &services, rounds, changes_per_round, &mut on_progress).await?;
            let read_duration = started.elapsed();
            on_progress(Progress::Read { elapsed: read_duration });
            let span = wait_until_stored(
                &services,
                &processor_offsets,
                &sink_offsets,
                &start,
                &run_topics,
                &client,
                &mut on_progress,
            )
            .await?;
            Ok::<_, DemoError>((read_duration, span))
        } => outcome,
        () = &mut interrupt => Err(DemoError::Interrupted),
    };
    let stopped = services.stop().await;
    let (read_duration, span) = match (outcome, stopped) {
        // The component's own error says more than "it ended".
        (Err(DemoError::ComponentEnded(_)), Err(error)) => return Err(error),
        (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
        (Ok(done), Ok(())) => done,
    };
    let pipeline_duration = started.elapsed();
    on_progress(Progress::Done {
        elapsed: pipeline_duration,
    });

    let served = simulator.simulator.stats();
    let pages = sources::offered_pairs(&simulator.simulator);
    let findings = report::read(&client, &span, &run_topics, &served, &pages, params.top).await?;
    simulator.stop().await?;
    Ok(DemoReport {
        params: params.clone(),
        database: connection.database.clone(),
        market_started_at,
        market_ended_at: served.market.simulated_now,
        market_changes: served.market.changes,
        served,
        read_duration,
        pipeline_duration,
        records: all_topics
            .iter()
            .map(|topic| (topic.clone(), span.records(topic)))
            .collect(),
        findings,
    })
}

/// Reads the market until the stop condition of the module documentation holds: the
/// initial sync, then `rounds` rounds of `changes_per_round` market changes, each swept once
/// by every connector.
async fn read_market(
    config: &Config,
    sources: &SimulatedSources<'_>,
    services: &Services,
    rounds: u64,
    changes_per_round: u64,
    on_progress: &mut impl FnMut(Progress),
) -> Result<(), DemoError> {
    let started = Instant::now();
    for round in 0..=rounds {
        let stage = if round == 0 {
            "the initial sync".to_owned()
        } else {
            sources.simulator().advance(changes_per_round);
            format!("market changes, round {round} of {rounds}")
        };
        sweep_once(config, sources, services, &stage, on_progress).await?;
        on_progress(Progress::Swept {
            stage,
            elapsed: started.elapsed(),
        });
    }
    Ok(())
}

/// Runs every connector from its saved cursors, each stopped once it has completed a sweep.
async fn sweep_once(
    config: &Config,
    sources: &SimulatedSources<'_>,
    services: &Services,
    stage: &str,
    on_progress: &mut impl FnMut(Progress),
) -> Result<(), DemoError> {
    let mut running: Vec<(String, RunningConnectors)> = sources
        .all()?
        .into_iter()
        .map(|connector| {
            let name = connector.name().to_owned();
            (name, RunningConnectors::start(config, vec![connector]))
        })
        .collect();
    let requests = || -> u64 {
        let stats = sources.simulator().stats();
        stats
            .operations
            .values()
            .map(|operation| operation.requests)
            .sum()
    };
    let mut last_change = (Instant::now(), requests());
    let mut last_report = Instant::now();
    while !running.is_empty() {
        services.check()?;
        let mut index = 0;
        while index < running.len() {
            let connector = &running[index].1;
            if connector.sweeps() > 0 || connector.has_stopped() {
                let (_, connector) = running.remove(index);
                // A connector that stopped by itself returns the error it stopped on.
                connector.stop().await?;
            } else {
                index += 1;
            }
        }
        if last_report.elapsed() >= REPORT_EVERY && !running.is_empty() {
            let waiting: Vec<String> = running.iter().map(|(name, _)| name.clone()).collect();
            let served = requests();
            if served != last_change.1 {
                last_change = (Instant::now(), served);
            } else if last_change.0.elapsed() >= STALL_TIMEOUT {
                return Err(DemoError::SweepStalled {
                    seconds: STALL_TIMEOUT.as_secs(),
                    stage: stage.to_owned(),
                    waiting,
                });
            }
            on_progress(Progress::Sweeping {
                stage: stage.to_owned(),
                waiting,
            });
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL_EVERY / 5).await;
    }
    Ok(())
}

/// Waits until the processor has committed every published input record, then until the
/// sink has committed every record of the run on every topic it stores (its commits follow
/// its inserts) and ClickHouse holds this run's score and quarantine rows. Returns the run's
/// span over all those topics.
async fn wait_until_stored(
    services: &Services,
    processor_offsets: &OffsetReader,
    sink_offsets: &OffsetReader,
    start: &Positions,
    topics: &RunTopics,
    client: &Client,
    on_progress: &mut impl FnMut(Progress),
) -> Result<Span, DemoError> {
    let input_end = processor_offsets.end_offsets(&topics.inputs).await?;
    let inputs_span = Span {
        start: start.of(&topics.inputs),
        end: input_end.clone(),
    };
    let to_process = inputs_span.total();
    let mut full_span: Option<Span> = None;
    let mut last_change = (Instant::now(), (0, 0));
    let mut last_report = Instant::now();
    loop {
        services.check()?;
        let processed = inputs_span.passed(&processor_offsets.committed(&input_end).await?);
        if processed == to_process && full_span.is_none() {
            // Everything the processor will write for this run is on the broker now.
            let mut end = input_end.clone();
            end.extend(processor_offsets.end_offsets(&topics.outputs()).await?);
            full_span = Some(Span {
                start: start.clone(),
                end,
            });
        }
        let stored = match &full_span {
            Some(span) => span.passed(&sink_offsets.committed(&span.end).await?),
            None => inputs_span.passed(&sink_offsets.committed(&input_end).await?),
        };
        let to_store = full_span.as_ref().map(Span::total);
        if let Some(span) = &full_span
            && Some(stored) == to_store
            && rows_are_visible(client, span, topics).await?
        {
            on_progress(Progress::Waiting {
                processed,
                to_process,
                stored,
                to_store,
            });
            return Ok(span.clone());
        }
        if (processed, stored) != last_change.1 {
            last_change = (Instant::now(), (processed, stored));
        } else if last_change.0.elapsed() >= STALL_TIMEOUT {
            return Err(DemoError::Stalled {
                seconds: STALL_TIMEOUT.as_secs(),
                processed,
                to_process,
                stored,
                to_store: to_store.unwrap_or(inputs_span.total()),
            });
        }
        if last_report.elapsed() >= REPORT_EVERY {
            on_progress(Progress::Waiting {
                processed,
                to_process,
                stored,
                to_store,
            });
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Whether ClickHouse returns every score and quarantine row of the run: the sink's commit
/// says they were inserted; this says the report's queries will see them.
async fn rows_are_visible(
    client: &Client,
    span: &Span,
    topics: &RunTopics,
) -> Result<bool, DemoError> {
    let (scores_topic, quarantine_topic) = (&topics.scores_history, &topics.quarantine);
    let sql = format!(
        "SELECT count() FROM (SELECT 1 FROM scores WHERE {} UNION ALL SELECT 1 FROM quarantine WHERE {})",
        span.sql_condition(scores_topic),
        span.sql_condition(quarantine_topic)
    );
    let rows: u64 = client
        .query(&sql)
        .fetch_one()
        .await
        .map_err(|source| DemoError::Query {
            title: "rows of this run's scores and quarantine",
            source,
        })?;
    Ok(rows == span.records(scores_topic) + span.records(quarantine_topic))
}
