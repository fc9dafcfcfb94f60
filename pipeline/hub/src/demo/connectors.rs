//! Connectors running in the background as `hub connect` runs them (the same
//! `connect::run_observed`), stopped as SIGTERM stops them, their sweeps counted.

use hub_connectors::connector::Connector;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::connect::{self, ConnectError, Sweeps};

pub struct RunningConnectors {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ConnectError>>,
    sweeps: watch::Receiver<Sweeps>,
}

impl RunningConnectors {
    pub fn start(config: &Config, connectors: Vec<Box<dyn Connector>>) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (sweeps_sender, sweeps) = watch::channel(Sweeps::new());
        let config = config.clone();
        let task = tokio::spawn(async move {
            connect::run_observed(
                &config,
                connectors,
                async {
                    // A dropped sender (the caller failed) stops the connectors as well.
                    stopped.await.ok();
                },
                sweeps_sender,
            )
            .await
        });
        RunningConnectors {
            stop: Some(stop),
            task,
            sweeps,
        }
    }

    /// Whether the connectors stopped by themselves: one could not go on (credentials
    /// refused, invalid configuration), and `hub connect` stops them all then.
    pub fn has_stopped(&self) -> bool {
        self.task.is_finished()
    }

    /// Complete sweeps of every connector so far, summed.
    pub fn sweeps(&self) -> u64 {
        self.sweeps.borrow().values().sum()
    }

    /// Sends the stop signal (as SIGTERM does) and waits: each connector finishes its poll
    /// in flight, so every page read is acknowledged by the broker and its cursor saved.
    pub async fn stop(mut self) -> Result<(), ConnectError> {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        (&mut self.task)
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}
