//! Connectors running in the background as `hub connect` runs them (the same
//! `connect::run_observed`), stopped as SIGTERM stops them, their sweeps counted.

use hub_connectors::connector::Connector;
use tokio::sync::watch;

use crate::config::Config;
use crate::connect::{self, ConnectError, Sweeps};
use crate::task::StoppableTask;

pub struct RunningConnectors {
    task: StoppableTask<ConnectError>,
    sweeps: watch::Receiver<Sweeps>,
}

impl RunningConnectors {
    pub fn start(config: &Config, connectors: Vec<Box<dyn Connector>>) -> Self {
        let (sweeps_sender, sweeps) = watch::channel(Sweeps::new());
        let config = config.clone();
        let task = StoppableTask::spawn(|shutdown| async move {
            connect::run_observed(&config, connectors, shutdown, sweeps_sender).await
        });
        RunningConnectors { task, sweeps }
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
    pub async fn stop(self) -> Result<(), ConnectError> {
        self.task.stop().await
    }
}
