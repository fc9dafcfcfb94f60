//! The processor and the sink as tasks of the demo's runtime: the same `processor::run` and
//! `sink::run` that `hub process` and `hub sink` serve, each stopped through its shutdown
//! future as SIGTERM would stop it, so each finishes its batch and commits.

use std::sync::Arc;

use super::DemoError;
use crate::config::Config;
use crate::processor::{self, ProcessorError};
use crate::sink::{self, SinkError};
use crate::task::StoppableTask;

pub struct Services {
    processor: StoppableTask<ProcessorError>,
    sink: StoppableTask<SinkError>,
}

impl Services {
    pub fn start(config: &Arc<Config>) -> Services {
        let processor_config = Arc::clone(config);
        let sink_config = Arc::clone(config);
        Services {
            processor: StoppableTask::spawn(|shutdown| async move {
                processor::run(&processor_config, shutdown).await
            }),
            sink: StoppableTask::spawn(|shutdown| async move {
                sink::run(&sink_config, shutdown).await
            }),
        }
    }

    /// An error when the processor or the sink has ended: they run until stopped, so an end
    /// means they failed, and the demo cannot complete without them.
    pub fn check(&self) -> Result<(), DemoError> {
        if self.processor.is_finished() {
            return Err(DemoError::ComponentEnded("processor"));
        }
        if self.sink.is_finished() {
            return Err(DemoError::ComponentEnded("sink"));
        }
        Ok(())
    }

    /// Stops both, the processor first so the sink still stores its last outputs, and
    /// returns the first error either ended with.
    pub async fn stop(self) -> Result<(), DemoError> {
        let processor = self.processor.stop().await;
        let sink = self.sink.stop().await;
        processor?;
        sink?;
        Ok(())
    }
}
