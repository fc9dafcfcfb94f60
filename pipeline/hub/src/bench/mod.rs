//! `hub bench`: figures of the streaming path end to end, through the configured broker
//! and the processor's own code (`processor::run`, the code of `hub process`, as a task of
//! this process), on a synthetic market from `hub-market-sim`.
//!
//! - Throughput: N records are published first, then the processor is started and timed
//!   until its consumer group has committed every one of them (it commits only once the
//!   outputs of a batch are acknowledged): records/s, scores/s.
//! - Latency: after a warm-up (the catalogue and its initial sync, published and
//!   processed), market changes are published at a fixed rate for a fixed time, and every
//!   score of the timed phase is matched with the input it came from through the
//!   correlation id the processor copies onto it: percentiles of the time from handing the
//!   input to the producer to the score being written, and to a consumer reading it.
//!
//! Every run uses topics of its own (`<topic_prefix>.*`, refused if any exists) and consumer
//! groups named after them, so it neither reads nor disturbs anything else, and it removes
//! only those topics at the end.
//!
//! Records carry the simulated time as their Kafka timestamp (the processor's "now"). A
//! broker refuses timestamps too far ahead of its clock (nisshi answers `InvalidTimestamp`)
//! and its retention deletes old ones, so the market starts a day before the wall clock,
//! with simulated steps short enough that the longest run allowed stays behind it.

mod latency;
mod report;
mod stats;
mod throughput;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_market_sim::{
    Catalogue, CatalogueError, CatalogueParams, MarketEvent, MarketSimulation, Phase,
    SimulationError, SimulationParams,
};
use hub_schemas::{Topic, TopicNames};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

use crate::config::{Config, KafkaConfig};
use crate::demo::{self, BrokerError, OffsetReader, Span};
use crate::kafka::{self, KafkaAdapterError};
use crate::market_feed::{FeedError, MarketFeed, products_topic_key};
use crate::processor::{self, ProcessorError};
use crate::task::StoppableTask;
use crate::wiring::{self, WiringError};

pub use report::{BenchReport, Cleanup, LatencyReport, Measurement, Progress, ThroughputReport};
pub use stats::Percentiles;

/// Most records a throughput run publishes: about a minute of preload here.
pub const MAX_RECORDS: u64 = 5_000_000;
/// Highest fixed rate, records per second.
pub const MAX_RATE: u64 = 20_000;
/// Longest timed phase of a latency run.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// Most references in the catalogue.
pub const MAX_REFERENCES: usize = 100_000;

/// How far before the wall clock the market starts. The simulated clock advances by at most
/// `SNAPSHOT_STEP_MS` per initial-sync record (about ten per reference) and twice the mean
/// change gap per market change: at most about 14 hours for the largest throughput run
/// (5,000,000 x 10 ms) and 7 hours for the fastest, longest latency run (20,000/s x 600 s
/// x 2 ms), plus 20 minutes of initial sync for 100,000 references.
const MARKET_LEAD_MS: i64 = 24 * 3_600_000;
/// Simulated time between two initial-sync records.
const SNAPSHOT_STEP_MS: i64 = 1;
/// Mean simulated time between two market changes in a throughput run.
const THROUGHPUT_CHANGE_GAP_MS: i64 = 5;

/// How often the processor's committed offsets are read while it works: the resolution of
/// the throughput's end time.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How long the processor, or the reader of its scores, may make no progress at all before
/// the run gives up: longer than a consumer group's join and a changelog restore.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the broker may take to answer the first metadata request.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// The topics the processor consumes.
const INPUT_TOPICS: [Topic; 4] = [
    Topic::ReferenceProducts,
    Topic::SignalsOffers,
    Topic::SignalsStock,
    Topic::SignalsCosts,
];

#[derive(Debug, Clone, PartialEq)]
pub struct BenchParams {
    /// Prefix of this run's topics and consumer groups; no topic may have it yet.
    pub topic_prefix: String,
    /// Product references in the catalogue.
    pub references: usize,
    /// Seed of the catalogue and of the market's moves.
    pub seed: u64,
    /// Share of published records that are corrupt (quarantined by the processor).
    pub corrupt_rate: f64,
    /// Leave the run's topics on the broker, to inspect them.
    pub keep_topics: bool,
    pub mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Publish `records` records, then time the processor through them.
    Throughput { records: u64 },
    /// Publish market changes at `rate` records/s for `duration`, and time every score.
    Latency { rate: u64, duration: Duration },
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{name} is {value}: expected {expected}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "the Kafka broker at {bootstrap_servers} does not answer: {source}; start the local one \
         with `scripts/services up`, or set kafka.bootstrap_servers (HUB_KAFKA__BOOTSTRAP_SERVERS)"
    )]
    BrokerUnreachable {
        bootstrap_servers: String,
        source: KafkaError,
    },
    #[error(
        "topics with the prefix {prefix} exist already ({existing:?}): a bench run only uses \
         topics it creates; choose another --topic-prefix"
    )]
    TopicsExist {
        prefix: String,
        existing: Vec<String>,
    },
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error("generating the catalogue: {0}")]
    Catalogue(#[from] CatalogueError),
    #[error("starting the market simulation: {0}")]
    Simulation(#[from] SimulationError),
    #[error(
        "scoring.fx.base is {configured}: the simulated suppliers' exchange rates are in EUR; \
         run the bench with scoring.fx.base = \"EUR\""
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
    #[error("processor: {0}")]
    Processor(#[from] ProcessorError),
    #[error("the processor stopped before the bench asked it to; its log lines above say why")]
    ProcessorEnded,
    #[error(
        "no progress for {seconds} s: {what} is at {done} of {total} records; check the log \
         lines above and that the broker answers (scripts/services status)"
    )]
    Stalled {
        seconds: u64,
        what: &'static str,
        done: u64,
        total: u64,
    },
    #[error(
        "the scores of the timed phase were not all read within {seconds} s of the processor \
         committing their inputs; check that the broker answers (scripts/services status)"
    )]
    ScoresUnread { seconds: u64 },
    #[error(
        "reading the scores of the timed phase: {0}; is the broker up (scripts/services status)?"
    )]
    ScoreReader(KafkaError),
    #[error(
        "the score at {topic} partition {partition} offset {offset} cannot be matched with an \
         input of the timed phase: {problem}; the processor no longer copies its input's \
         correlation id and timestamp as the bench expects"
    )]
    UnmatchedScore {
        topic: String,
        partition: i32,
        offset: i64,
        problem: String,
    },
    #[error("interrupted: the processor was stopped after its current batch")]
    Interrupted,
}

impl From<BrokerError> for BenchError {
    fn from(error: BrokerError) -> Self {
        BenchError::Broker(Box::new(error))
    }
}

impl BenchParams {
    fn validate(&self) -> Result<(), BenchError> {
        let invalid = |name, value: String, expected| {
            Err(BenchError::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !(1..=MAX_REFERENCES).contains(&self.references) {
            return invalid(
                "--references",
                self.references.to_string(),
                "between 1 and 100,000",
            );
        }
        if !(0.0..=1.0).contains(&self.corrupt_rate) {
            return invalid(
                "--corrupt-rate",
                self.corrupt_rate.to_string(),
                "a share between 0 and 1, e.g. 0.01",
            );
        }
        match self.mode {
            Mode::Throughput { records } if !(1..=MAX_RECORDS).contains(&records) => {
                invalid("--records", records.to_string(), "between 1 and 5,000,000")
            }
            Mode::Latency { rate, .. } if !(1..=MAX_RATE).contains(&rate) => {
                invalid("--rate", rate.to_string(), "between 1 and 20,000 records/s")
            }
            Mode::Latency { duration, .. } if duration.is_zero() || duration > MAX_DURATION => {
                invalid(
                    "--duration",
                    format!("{} s", duration.as_secs()),
                    "between 1 and 600 seconds",
                )
            }
            _ => Ok(()),
        }
    }
}

/// Runs one measurement with `config`'s broker and processor settings on the topics of
/// `params.topic_prefix`, reporting progress to `on_progress`. `interrupt` (SIGINT,
/// SIGTERM) stops it cleanly; the run's topics are removed either way unless kept.
pub async fn run(
    config: &Config,
    params: &BenchParams,
    interrupt: impl Future<Output = ()>,
    mut on_progress: impl FnMut(Progress),
) -> Result<BenchReport, BenchError> {
    params.validate()?;
    let mut config = config.clone();
    config.kafka.topic_prefix = params.topic_prefix.clone();
    config.kafka.group_id = params.topic_prefix.clone();
    let topics = wiring::topic_names(&config).map_err(WiringError::from)?;
    let topics_on_broker = broker_topics(&config.kafka).await?;
    let existing = run_topics(&config.kafka, &topics_on_broker);
    if !existing.is_empty() {
        return Err(BenchError::TopicsExist {
            prefix: params.topic_prefix.clone(),
            existing,
        });
    }
    let simulation = {
        let params = params.clone();
        tokio::task::spawn_blocking(move || market(&params))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?
    };
    let configured_base = config.scoring.fx.base.clone();
    demo::use_catalogue_fx_rates(&mut config.scoring, simulation.catalogue()).map_err(|_| {
        BenchError::FxBase {
            configured: configured_base,
        }
    })?;
    on_progress(Progress::Started {
        mode: params.mode,
        references: params.references,
        topic_prefix: params.topic_prefix.clone(),
    });
    let load_average = load_average();
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let config = Arc::new(config);

    let mut processor = RunningProcessor::default();
    tokio::pin!(interrupt);
    let outcome = tokio::select! {
        outcome = measure(&config, &topics, simulation, params.mode, &mut processor, &mut on_progress) => outcome,
        () = &mut interrupt => Err(BenchError::Interrupted),
    };
    let stopped = processor.stop().await;
    let cleanup = if params.keep_topics {
        Cleanup::Kept
    } else {
        remove_run_topics(&config.kafka).await
    };
    let measurement = match (outcome, stopped) {
        // The processor's own error says more than "it ended".
        (Err(BenchError::ProcessorEnded), Err(error)) => return Err(error),
        (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
        (Ok(measurement), Ok(())) => measurement,
    };
    Ok(BenchReport {
        bootstrap_servers: config.kafka.bootstrap_servers.clone(),
        local_broker: config.kafka.bootstrap_servers == KafkaConfig::default().bootstrap_servers,
        topics_on_broker: topics_on_broker.len(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        load_average,
        topic_prefix: params.topic_prefix.clone(),
        partitions: config.kafka.partitions,
        processor: config.processor.clone(),
        references: params.references,
        seed: params.seed,
        corrupt_rate: params.corrupt_rate,
        measurement,
        cleanup,
    })
}

async fn measure(
    config: &Arc<Config>,
    topics: &TopicNames,
    simulation: MarketSimulation,
    mode: Mode,
    processor: &mut RunningProcessor,
    on_progress: &mut impl FnMut(Progress),
) -> Result<Measurement, BenchError> {
    let (encoder, _) = wiring::codec(config).await?;
    let producer = kafka::producer_config(&config.kafka)
        .create()
        .map_err(|source| BenchError::Producer {
            bootstrap_servers: config.kafka.bootstrap_servers.clone(),
            source,
        })?;
    let mut publisher = Publisher {
        simulation,
        feed: MarketFeed::new(producer, encoder),
        product_keys: HashSet::new(),
        skipped_products: 0,
    };
    let run = RunContext {
        config,
        topics,
        committed: OffsetReader::new(&config.kafka, &processor::consumer_group(&config.kafka))?,
    };
    match mode {
        Mode::Throughput { records } => {
            throughput::run(&run, &mut publisher, records, processor, on_progress)
                .await
                .map(Measurement::Throughput)
        }
        Mode::Latency { rate, duration } => {
            latency::run(&run, &mut publisher, rate, duration, processor, on_progress)
                .await
                .map(Measurement::Latency)
        }
    }
}

/// What both measurements work with.
struct RunContext<'a> {
    config: &'a Arc<Config>,
    topics: &'a TopicNames,
    /// Reads the end offsets of the run's topics and what the processor's group committed.
    committed: OffsetReader,
}

impl RunContext<'_> {
    fn names(&self, topics: &[Topic]) -> Vec<String> {
        topics
            .iter()
            .map(|topic| self.topics.name(*topic).to_owned())
            .collect()
    }

    fn input_names(&self) -> Vec<String> {
        self.names(&INPUT_TOPICS)
    }

    fn output_names(&self) -> Vec<String> {
        self.names(&[Topic::ScoresHistory, Topic::Quarantine])
    }

    /// Waits until the processor has committed every record of `inputs`, reporting progress.
    async fn wait_processed(
        &self,
        inputs: &Span,
        processor: &RunningProcessor,
        on_progress: &mut impl FnMut(Progress),
    ) -> Result<Processing, BenchError> {
        let total = inputs.total();
        let mut first_commit = None;
        let mut last_change = (Instant::now(), 0);
        let mut last_report = Instant::now();
        loop {
            processor.check()?;
            let processed = inputs.passed(&self.committed.committed(&inputs.end).await?);
            let now = Instant::now();
            if processed > 0 && first_commit.is_none() {
                first_commit = Some((now, processed));
            }
            if processed == total {
                return Ok(Processing {
                    first_commit,
                    done_at: now,
                });
            }
            if processed != last_change.1 {
                last_change = (now, processed);
            } else if now.duration_since(last_change.0) >= STALL_TIMEOUT {
                return Err(BenchError::Stalled {
                    seconds: STALL_TIMEOUT.as_secs(),
                    what: "the processor",
                    done: processed,
                    total,
                });
            }
            if now.duration_since(last_report) >= PROGRESS_EVERY {
                on_progress(Progress::Processing { processed, total });
                last_report = now;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// When the processor's group committed records of a span: first, and all of them.
struct Processing {
    /// When a first commit was seen, and how many records it covered.
    first_commit: Option<(Instant, u64)>,
    done_at: Instant,
}

/// The synthetic market published through the broker, each key of the compacted products
/// topic once. A compacting broker keeps only a key's latest record (the local one compacts
/// every few seconds, whatever the segment), so a second product record could erase an
/// unread first one and the processor would see fewer records than were published. The
/// demo instead waits for the processor before such a record; a fixed-rate publisher
/// cannot wait, and a preload has no processor to wait for, so the bench leaves those
/// records out: corrupt re-syncs of a product, and the rare archivals and restorations of
/// one (`Change::Archival`), which the bench does not measure.
struct Publisher {
    simulation: MarketSimulation,
    feed: MarketFeed,
    product_keys: HashSet<String>,
    skipped_products: u64,
}

impl Publisher {
    /// The market's next event that can be published.
    fn next_event(&mut self) -> MarketEvent {
        loop {
            let event = self.simulation.next_event();
            let first_of_its_key =
                products_topic_key(&event).is_none_or(|key| self.product_keys.insert(key));
            if first_of_its_key {
                return event;
            }
            self.skipped_products += 1;
        }
    }

    /// Publishes `event` with the simulated time as its Kafka timestamp, as the demo does,
    /// and returns its sequence number, which its correlation id carries.
    async fn publish(&mut self, event: &MarketEvent) -> Result<u64, FeedError> {
        let sequence = self.feed.published();
        self.feed.publish(event, self.simulation.now()).await?;
        Ok(sequence)
    }

    fn published(&self) -> u64 {
        self.feed.published()
    }

    fn phase(&self) -> Phase {
        self.simulation.phase()
    }
}

/// The catalogue and its market, starting `MARKET_LEAD_MS` before the wall clock. At a
/// fixed rate of up to 1,000 records/s the simulated clock moves about as fast as the wall
/// clock.
fn market(params: &BenchParams) -> Result<MarketSimulation, BenchError> {
    let start_at = demo::wall_clock_millis() - MARKET_LEAD_MS;
    let mean_change_gap_ms = match params.mode {
        Mode::Throughput { .. } => THROUGHPUT_CHANGE_GAP_MS,
        Mode::Latency { rate, .. } => (1_000 / rate as i64).max(1),
    };
    let catalogue = Catalogue::generate(&CatalogueParams {
        seed: params.seed,
        references: params.references,
        as_of: start_at,
        ..CatalogueParams::default()
    })?;
    Ok(MarketSimulation::new(
        catalogue,
        SimulationParams {
            seed: params.seed,
            start_at,
            corrupt_rate: params.corrupt_rate,
            snapshot_step_ms: SNAPSHOT_STEP_MS,
            mean_change_gap_ms,
            ..SimulationParams::default()
        },
    )?)
}

/// The processor of the run once started: the code of `hub process` as a task of this
/// process, stopped through its shutdown future as SIGTERM would stop it.
#[derive(Default)]
struct RunningProcessor(Option<StoppableTask<ProcessorError>>);

impl RunningProcessor {
    fn start(&mut self, config: &Arc<Config>) {
        let config = Arc::clone(config);
        self.0 = Some(StoppableTask::spawn(|shutdown| async move {
            processor::run(&config, shutdown).await
        }));
    }

    /// An error when the processor has ended: it runs until stopped, so an end is a failure.
    fn check(&self) -> Result<(), BenchError> {
        match &self.0 {
            Some(started) if started.is_finished() => Err(BenchError::ProcessorEnded),
            _ => Ok(()),
        }
    }

    async fn stop(&mut self) -> Result<(), BenchError> {
        if let Some(started) = self.0.take() {
            started.stop().await?;
        }
        Ok(())
    }
}

/// The names of the topics on the broker; the first request of a run, so it is also the
/// check that the broker answers.
async fn broker_topics(kafka: &KafkaConfig) -> Result<Vec<String>, BenchError> {
    let unreachable = |source| BenchError::BrokerUnreachable {
        bootstrap_servers: kafka.bootstrap_servers.clone(),
        source,
    };
    let client: BaseConsumer = kafka::base_client_config(kafka)
        .create()
        .map_err(unreachable)?;
    let metadata = tokio::task::spawn_blocking(move || client.fetch_metadata(None, BROKER_TIMEOUT))
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
        .map_err(unreachable)?;
    Ok(metadata
        .topics()
        .iter()
        .map(|topic| topic.name().to_owned())
        .collect())
}

/// The topics of `names` that belong to the run: its contract topics and the processor's
/// changelog all start with `<topic_prefix>.`.
fn run_topics(kafka: &KafkaConfig, names: &[String]) -> Vec<String> {
    let prefix = format!("{}.", kafka.topic_prefix);
    names
        .iter()
        .filter(|name| name.starts_with(&prefix))
        .cloned()
        .collect()
}

/// Removes the run's topics. A failure leaves them on the broker and is reported, not
/// raised: the figures are valid either way.
async fn remove_run_topics(kafka: &KafkaConfig) -> Cleanup {
    let removal = async {
        let names = run_topics(
            kafka,
            &broker_topics(kafka).await.map_err(|e| e.to_string())?,
        );
        let admin: AdminClient<DefaultClientContext> = kafka::base_client_config(kafka)
            .create()
            .map_err(|error| error.to_string())?;
        let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT));
        let results = admin
            .delete_topics(&names_ref, &options)
            .await
            .map_err(|error| error.to_string())?;
        let refused: Vec<String> = results
            .into_iter()
            .filter_map(|result| result.err())
            .map(|(topic, code)| format!("{topic}: {code}"))
            .collect();
        if refused.is_empty() {
            Ok(names.len())
        } else {
            Err(format!("the broker refused {}", refused.join(", ")))
        }
    };
    match removal.await {
        Ok(removed) => Cleanup::Removed(removed),
        Err(reason) => Cleanup::Failed(reason),
    }
}

/// The 1, 5 and 15 minute load averages (Linux): figures on a shared machine depend on them.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let averages: Vec<&str> = text.split_whitespace().take(3).collect();
    (averages.len() == 3).then(|| averages.join(" "))
}
