//! `hub demo`: the whole platform on a synthetic market, in one process.
//!
//! A catalogue of product references (`hub-market-sim`) with its suppliers, competitors and
//! about 1% corrupt records is published through the broker as connectors would publish
//! it; the processor and the sink run as tasks of this process (the code of `hub process`
//! and `hub sink`); the demo waits until the processor has committed every published record
//! and the sink every output, then reads the results back from ClickHouse: the top
//! priorities with their explanation, the best channel per reference, the quarantine by
//! reason next to what the simulator corrupted, and the SQL that produced them.
//!
//! It uses the configured topics, consumer groups and database, so dashboards show the demo
//! data. A re-run adds a new simulation run of the same catalogue, its simulated clock
//! starting after the latest observation stored, so every record supersedes the previous
//! run's and every score gets a new version. `scripts/services down` and removing
//! `.hub/data` start from nothing.

mod market;
mod positions;
mod render;
mod report;
mod services;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::Client;
use hub_market_sim::{CatalogueError, EmissionCounts, SimulationError};
use hub_schemas::records::EpochMillis;
use hub_sink_clickhouse::MigrationError;
use rdkafka::error::KafkaError;

use crate::config::Config;
use crate::kafka::{self, KafkaAdapterError};
use crate::market_feed::FeedError;
use crate::processor::{self, ProcessorError};
use crate::sink::SinkError;
use crate::wiring::{self, WiringError};
use market::Volume;
pub use positions::{BrokerError, OffsetReader, Positions, Span};
use report::RunTopics;
use services::Services;

pub use market::DEFAULT_CHANGES_PER_REFERENCE;
pub use market::{use_catalogue_fx_rates, wall_clock_millis};
pub use positions::sql_string;
pub(crate) use render::thousands;
pub use report::{
    BestChannelExample, BestChannels, Findings, Priority, ProductSummary, Query, ReasonCount,
    SinkRefusal,
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
    /// Records to publish; `None`: the catalogue's initial sync, then
    /// `DEFAULT_CHANGES_PER_REFERENCE` market changes per reference.
    pub events: Option<u64>,
    /// Share of published records that are corrupt.
    pub corrupt_rate: f64,
    /// Seed of the market's moves (and of its corruption).
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
    #[error("generating the catalogue: {0}")]
    Catalogue(#[from] CatalogueError),
    #[error("starting the market simulation: {0}")]
    Simulation(SimulationError),
    #[error(
        "scoring.fx.base is {configured}: the simulated suppliers' exchange rates are in EUR; \
         run the demo with scoring.fx.base = \"EUR\""
    )]
    FxBase { configured: String },
    #[error("creating the Kafka producer for {bootstrap_servers}: {source}")]
    Producer {
        bootstrap_servers: String,
        source: KafkaError,
    },
    #[error(transparent)]
    Feed(#[from] FeedError),
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
        "the processor has not read {behind} records of {topic} for {seconds} s, and \
         publishing more would let the broker compact them away unread; check the log lines \
         above and that the broker answers (scripts/services status)"
    )]
    ProcessorBehind {
        seconds: u64,
        topic: String,
        behind: i64,
    },
    #[error("interrupted: the processor and the sink were stopped after their current batch")]
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
        catalogue_as_of: EpochMillis,
        market_starts_at: EpochMillis,
        topic_prefix: String,
        database: String,
    },
    Publishing {
        published: u64,
        per_second: u64,
        stage: String,
    },
    Published {
        published: u64,
        per_second: u64,
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
    pub catalogue_as_of: EpochMillis,
    pub market_started_at: EpochMillis,
    pub market_ended_at: EpochMillis,
    /// What the simulator emitted: good records per kind, corrupt per reason, offer pairs.
    pub emitted: EmissionCounts,
    pub publish_duration: Duration,
    /// From the first record published to the last output stored.
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

    let latest = latest_observation(&client).await?;
    let start_at = market::start_at(latest, market::wall_clock_millis());
    let simulation_params = params.clone();
    let mut simulation =
        tokio::task::spawn_blocking(move || market::simulation(&simulation_params, start_at))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?;
    let mut config = config.clone();
    market::use_catalogue_fx_rates(&mut config.scoring, simulation.catalogue())?;
    let config = Arc::new(config);
    let catalogue_as_of = simulation.catalogue().as_of;
    on_progress(Progress::Started {
        references: params.references,
        catalogue_as_of,
        market_starts_at: start_at,
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
    let mut feed = market::feed(&config).await?;

    let volume = match params.events {
        Some(records) => Volume::Records(records),
        None => Volume::SyncThenChanges(
            DEFAULT_CHANGES_PER_REFERENCE.saturating_mul(params.references as u64),
        ),
    };
    let started = Instant::now();
    let services = Services::start(&config);
    tokio::pin!(interrupt);
    let outcome = tokio::select! {
        outcome = async {
            let mut guard = market::CompactionGuard::new(
                &processor_offsets,
                &run_topics.products,
            );
            let publish_duration = market::publish(
                &mut simulation,
                &mut feed,
                volume,
                &mut guard,
                &services,
                &mut on_progress,
            )
            .await?;
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
            Ok::<_, DemoError>((publish_duration, span))
        } => outcome,
        () = &mut interrupt => Err(DemoError::Interrupted),
    };
    let stopped = services.stop().await;
    let (publish_duration, span) = match (outcome, stopped) {
        // The component's own error says more than "it ended".
        (Err(DemoError::ComponentEnded(_)), Err(error)) => return Err(error),
        (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
        (Ok(done), Ok(())) => done,
    };
    let pipeline_duration = started.elapsed();
    on_progress(Progress::Done {
        elapsed: pipeline_duration,
    });

    let findings =
        report::read(&client, &span, &run_topics, simulation.counts(), params.top).await?;
    Ok(DemoReport {
        params: params.clone(),
        database: connection.database.clone(),
        catalogue_as_of,
        market_started_at: start_at,
        market_ended_at: simulation.now(),
        emitted: simulation.counts().clone(),
        publish_duration,
        pipeline_duration,
        records: all_topics
            .iter()
            .map(|topic| (topic.clone(), span.records(topic)))
            .collect(),
        findings,
    })
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

/// The latest observation already stored by an earlier run, if any: this run's market
/// starts after it.
async fn latest_observation(client: &Client) -> Result<Option<EpochMillis>, DemoError> {
    let latest: i64 = client
        .query(
            "SELECT max(latest) FROM (\
             SELECT toUnixTimestamp64Milli(max(observed_at)) AS latest FROM offer_signals \
             UNION ALL SELECT toUnixTimestamp64Milli(max(observed_at)) FROM stock_signals \
             UNION ALL SELECT toUnixTimestamp64Milli(max(observed_at)) FROM cost_signals)",
        )
        .fetch_one()
        .await
        .map_err(|source| DemoError::Query {
            title: "latest observation stored",
            source,
        })?;
    // An empty table's max is the epoch.
    Ok((latest > 0).then_some(latest))
}
