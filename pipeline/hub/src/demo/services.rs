//! The processor and the sink as tasks of the demo's runtime: the same `processor::run` and
//! `sink::run` that `hub process` and `hub sink` serve, each stopped through its shutdown
//! future as SIGTERM would stop it, so each finishes its batch and commits.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::DemoError;
use crate::config::Config;
use crate::processor::{self, ProcessorError};
use crate::sink::{self, SinkError};

/// A running component: its stop signal and its task.
struct Running<E> {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), E>>,
}

impl<E: Send + 'static> Running<E> {
    fn finished(&self) -> bool {
        self.task.is_finished()
    }

    async fn stop(self) -> Result<(), E> {
        // The task may already have ended (with an error): then nobody listens any more.
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}

pub struct Services {
    processor: Running<ProcessorError>,
    sink: Running<SinkError>,
}

impl Services {
    pub fn start(config: &Arc<Config>) -> Services {
        let (stop_processor, processor_stopped) = oneshot::channel::<()>();
        let processor_config = Arc::clone(config);
        let processor = tokio::spawn(async move {
            processor::run(&processor_config, async {
                // A dropped sender (the demo failed) stops the processor as well.
                let _ = processor_stopped.await;
            })
            .await
        });
        let (stop_sink, sink_stopped) = oneshot::channel::<()>();
        let sink_config = Arc::clone(config);
        let sink = tokio::spawn(async move {
            sink::run(&sink_config, async {
                let _ = sink_stopped.await;
            })
            .await
        });
        Services {
            processor: Running {
                stop: stop_processor,
                task: processor,
            },
            sink: Running {
                stop: stop_sink,
                task: sink,
            },
        }
    }

    /// An error when the processor or the sink has ended: they run until stopped, so an end
    /// means they failed, and the demo cannot complete without them.
    pub fn check(&self) -> Result<(), DemoError> {
        if self.processor.finished() {
            return Err(DemoError::ComponentEnded("processor"));
        }
        if self.sink.finished() {
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
