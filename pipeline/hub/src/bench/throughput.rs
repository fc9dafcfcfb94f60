//! Throughput: the records are all on the broker before the processor starts, so the
//! processor is timed alone, as when it catches up with a backlog.

use std::time::Instant;

use hub_schemas::Topic;

use super::{
    BenchError, PROGRESS_EVERY, Progress, Publisher, RunContext, RunningProcessor, ThroughputReport,
};
use crate::demo::{Positions, Span};

pub(super) async fn run(
    run: &RunContext<'_>,
    publisher: &mut Publisher,
    records: u64,
    processor: &mut RunningProcessor,
    on_progress: &mut impl FnMut(Progress),
) -> Result<ThroughputReport, BenchError> {
    let publish_started = Instant::now();
    let mut last_report = publish_started;
    while publisher.published() < records {
        let event = publisher.next_event();
        publisher.publish(&event).await?;
        if last_report.elapsed() >= PROGRESS_EVERY {
            on_progress(Progress::Publishing {
                stage: "preload",
                published: publisher.published(),
                total: Some(records),
            });
            last_report = Instant::now();
        }
    }
    publisher.feed.flush().await?;
    let publish_elapsed = publish_started.elapsed();

    // The topics are the run's own: everything on them was published above.
    let inputs = Span {
        start: Positions::default(),
        end: run.committed.end_offsets(&run.input_names()).await?,
    };
    let processor_started = Instant::now();
    processor.start(run.config);
    let processing = run.wait_processed(&inputs, processor, on_progress).await?;
    // The processor commits inputs only once their outputs are acknowledged: the output
    // topics now hold everything it wrote for them.
    let outputs = Span {
        start: Positions::default(),
        end: run.committed.end_offsets(&run.output_names()).await?,
    };
    Ok(ThroughputReport {
        published: publisher.published(),
        skipped_products: publisher.skipped_products,
        publish_elapsed,
        processed: inputs.total(),
        processing_elapsed: processing.done_at - processor_started,
        first_commit: processing
            .first_commit
            .map(|(at, records)| (at - processor_started, records)),
        scores: outputs.records(run.topics.name(Topic::ScoresHistory)),
        quarantined: outputs.records(run.topics.name(Topic::Quarantine)),
    })
}
