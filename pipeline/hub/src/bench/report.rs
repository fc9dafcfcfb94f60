//! What a bench run measured, and how it reads on a terminal.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use super::Mode;
use super::stats::{Percentiles, rate};
use crate::config::ProcessorConfig;
use crate::demo::thousands;

/// Progress of a run, reported as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started {
        mode: Mode,
        references: usize,
        topic_prefix: String,
    },
    Publishing {
        stage: &'static str,
        published: u64,
        total: Option<u64>,
    },
    Processing {
        processed: u64,
        total: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub bootstrap_servers: String,
    /// The broker is the local one of `scripts/services` (its default address).
    pub local_broker: bool,
    /// Topics the broker held when the run started. The local broker's fetches and
    /// maintenance slow down as topics pile up (every test run leaves its own), so figures
    /// taken on a broker holding thousands are not comparable with a fresh one's.
    pub topics_on_broker: usize,
    /// CPU cores this process may use.
    pub cores: usize,
    /// Load averages (1, 5, 15 min) when the run started, where the system reports them.
    pub load_average: Option<String>,
    pub topic_prefix: String,
    pub partitions: i32,
    pub processor: ProcessorConfig,
    pub references: usize,
    pub seed: u64,
    pub corrupt_rate: f64,
    pub measurement: Measurement,
    pub cleanup: Cleanup,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Throughput(ThroughputReport),
    Latency(LatencyReport),
}

/// What happened to the run's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Kept,
    Removed(usize),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputReport {
    /// Records published (and acknowledged by the broker) before the processor started.
    pub published: u64,
    /// Corrupt product re-syncs the market emitted and the bench left out (their key was
    /// already on the compacted products topic).
    pub skipped_products: u64,
    pub publish_elapsed: Duration,
    /// Records on the input topics, all committed by the processor at the end.
    pub processed: u64,
    /// From starting the processor to its group having committed every input.
    pub processing_elapsed: Duration,
    /// When the first commit was seen after starting the processor, and the records it
    /// covered: before it, the group formed and the processor read its first batch.
    pub first_commit: Option<(Duration, u64)>,
    /// Scores written (each to scores.current and to scores.history).
    pub scores: u64,
    pub quarantined: u64,
}

impl ThroughputReport {
    pub fn records_per_second(&self) -> Option<f64> {
        rate(self.processed, self.processing_elapsed)
    }

    pub fn scores_per_second(&self) -> Option<f64> {
        rate(self.scores, self.processing_elapsed)
    }

    /// Records/s from the first commit seen to the last: the processor's pace once running.
    pub fn records_per_second_after_first_commit(&self) -> Option<f64> {
        let (at, records) = self.first_commit?;
        rate(
            self.processed - records,
            self.processing_elapsed.saturating_sub(at),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// Records of the catalogue and its initial sync, processed before the timed phase.
    pub warm_up_records: u64,
    pub target_rate: u64,
    pub duration: Duration,
    /// Records published in the timed phase.
    pub published: u64,
    /// Records/s between the first and the last record of the timed phase.
    pub achieved_rate: Option<f64>,
    /// Records of the timed phase on the input topics, all committed by the processor.
    pub processed: u64,
    /// Corrupt product re-syncs left out, warm-up included (see the throughput report).
    pub skipped_products: u64,
    /// Scores the timed phase's inputs led to, on scores.history.
    pub scores: u64,
    /// Of those, the scores the reader read and matched with their input.
    pub scores_read: u64,
    /// Inputs of the timed phase that led to at least one score.
    pub scored_inputs: u64,
    pub quarantined: u64,
    /// From handing the input to the producer to the score's Kafka timestamp, which the
    /// processor's producer sets when it produces the score.
    pub to_score_written: Option<Percentiles>,
    /// From handing the input to the producer to a consumer of scores.history receiving
    /// the score.
    pub to_score_read: Option<Percentiles>,
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn per_second(value: Option<f64>) -> String {
    value.map_or_else(
        || "n/a (no time elapsed)".to_owned(),
        |value| format!("{}/s", thousands(value.round() as u64)),
    )
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}

impl Display for Progress {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Started {
                mode,
                references,
                topic_prefix,
            } => {
                match mode {
                    Mode::Throughput { records } => {
                        write!(f, "throughput over {} records", thousands(*records))?
                    }
                    Mode::Latency { rate, duration } => write!(
                        f,
                        "latency at {} records/s for {}",
                        thousands(*rate),
                        seconds(*duration)
                    )?,
                }
                write!(
                    f,
                    "; catalogue of {} references; topics {topic_prefix}.*",
                    thousands(*references as u64)
                )
            }
            Progress::Publishing {
                stage,
                published,
                total,
            } => {
                write!(f, "{stage}: published {}", thousands(*published))?;
                match total {
                    Some(total) => write!(f, " of {} records", thousands(*total)),
                    None => f.write_str(" records"),
                }
            }
            Progress::Processing { processed, total } => write!(
                f,
                "processor committed {} of {} records",
                thousands(*processed),
                thousands(*total)
            ),
        }
    }
}

impl Display for BenchReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let title = match self.measurement {
            Measurement::Throughput(_) => "throughput",
            Measurement::Latency(_) => "latency at a fixed rate",
        };
        writeln!(f, "== hub bench: {title} ==")?;
        write!(f, "broker      {}", self.bootstrap_servers)?;
        if self.local_broker {
            write!(
                f,
                " (the local broker of scripts/services: nisshi, a Kafka-protocol broker with SQLite storage, not Apache Kafka)"
            )?;
        }
        writeln!(f, ", holding {} topics at the start", self.topics_on_broker)?;
        write!(f, "machine     {} cores", self.cores)?;
        if let Some(load) = &self.load_average {
            write!(f, ", load average {load} at the start")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "topics      {}.*, {} partitions; processor in this process (the code of hub process), batches of at most {} records, linger {} ms",
            self.topic_prefix,
            self.partitions,
            thousands(self.processor.max_batch_records as u64),
            self.processor.linger_ms
        )?;
        writeln!(
            f,
            "market      {} references, seed {}, corrupt rate {}, simulated clock a day behind the wall clock",
            thousands(self.references as u64),
            self.seed,
            self.corrupt_rate
        )?;
        match &self.measurement {
            Measurement::Throughput(report) => report.fmt(f)?,
            Measurement::Latency(report) => report.fmt(f)?,
        }
        match &self.cleanup {
            Cleanup::Kept => writeln!(f, "cleanup     topics kept: {}.*", self.topic_prefix),
            Cleanup::Removed(topics) => {
                writeln!(f, "cleanup     the run's {topics} topics removed")
            }
            Cleanup::Failed(reason) => writeln!(
                f,
                "cleanup     the run's topics {}.* could not be removed: {reason}",
                self.topic_prefix
            ),
        }
    }
}

impl Display for ThroughputReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "published   {} records in {} ({}), acknowledged by the broker before the processor started{}",
            thousands(self.published),
            seconds(self.publish_elapsed),
            per_second(rate(self.published, self.publish_elapsed)),
            skipped(self.skipped_products)
        )?;
        writeln!(
            f,
            "processed   {} records, all committed {} after the processor started: {}",
            thousands(self.processed),
            seconds(self.processing_elapsed),
            per_second(self.records_per_second())
        )?;
        match self.first_commit {
            Some((_, records)) if records == self.processed => writeln!(
                f,
                "            the first commit seen covered every record: no steady pace to tell apart"
            )?,
            Some((at, records)) => writeln!(
                f,
                "            first commit seen {} after the start ({} records); {} from there to the last",
                seconds(at),
                thousands(records),
                per_second(self.records_per_second_after_first_commit())
            )?,
            None => {}
        }
        writeln!(
            f,
            "scores      {} written to scores.current and to scores.history: {}",
            thousands(self.scores),
            per_second(self.scores_per_second())
        )?;
        writeln!(f, "quarantine  {} records", thousands(self.quarantined))
    }
}

impl Display for LatencyReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "warm-up     {} records (catalogue and initial sync) published and processed before the timed phase{}",
            thousands(self.warm_up_records),
            skipped(self.skipped_products)
        )?;
        writeln!(
            f,
            "published   {} market changes at a target of {}/s for {}: {} achieved",
            thousands(self.published),
            thousands(self.target_rate),
            seconds(self.duration),
            per_second(self.achieved_rate)
        )?;
        writeln!(
            f,
            "processed   {} records, all committed; {} scores from {} of them, {} read back and matched; {} quarantined",
            thousands(self.processed),
            thousands(self.scores),
            thousands(self.scored_inputs),
            thousands(self.scores_read),
            thousands(self.quarantined)
        )?;
        writeln!(
            f,
            "latency     per score, from handing its input to the producer (nearest rank):"
        )?;
        writeln!(
            f,
            "            {:<44} {:>10} {:>10} {:>10} {:>10}",
            "", "p50", "p90", "p99", "max"
        )?;
        for (what, percentiles) in [
            (
                "to the score written (its Kafka timestamp)",
                &self.to_score_written,
            ),
            ("to the score read by a consumer", &self.to_score_read),
        ] {
            match percentiles {
                Some(p) => writeln!(
                    f,
                    "            {what:<44} {:>10} {:>10} {:>10} {:>10}",
                    millis(p.p50),
                    millis(p.p90),
                    millis(p.p99),
                    millis(p.max)
                )?,
                None => writeln!(f, "            {what:<44} no score in the timed phase")?,
            }
        }
        Ok(())
    }
}

fn skipped(products: u64) -> String {
    if products == 0 {
        String::new()
    } else {
        format!(
            "; {} product re-syncs (corrupt ones, archivals) left out (their key was already on the compacted products topic)",
            thousands(products)
        )
    }
}
