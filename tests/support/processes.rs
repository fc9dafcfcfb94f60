//! `hub process` as a child process, configured through the environment exactly as an
//! operator would, so that tests can kill it (SIGKILL) or stop it (SIGTERM); or as a task of
//! the test's runtime when the test only needs it running.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use hub::config::Config;
use hub::processor::ProcessorError;
use hub::task::StoppableTask;

use crate::hub_binary;

/// The `HUB_*` variables that give a child process `config`'s Kafka, scoring and
/// processor settings.
pub fn processor_environment(config: &Config) -> Vec<(String, String)> {
    let fx = &config.scoring.fx;
    let rates: Vec<String> = fx
        .rates
        .iter()
        .map(|(currency, rate)| format!("{currency} = \"{rate}\""))
        .collect();
    vec![
        (
            "HUB_KAFKA__BOOTSTRAP_SERVERS".into(),
            config.kafka.bootstrap_servers.clone(),
        ),
        (
            "HUB_KAFKA__TOPIC_PREFIX".into(),
            config.kafka.topic_prefix.clone(),
        ),
        ("HUB_KAFKA__GROUP_ID".into(), config.kafka.group_id.clone()),
        (
            "HUB_KAFKA__PARTITIONS".into(),
            config.kafka.partitions.to_string(),
        ),
        (
            "HUB_SCORING__FX".into(),
            format!(
                "{{ base = \"{}\", rates = {{ {} }} }}",
                fx.base,
                rates.join(", ")
            ),
        ),
        (
            "HUB_PROCESSOR__MAX_BATCH_RECORDS".into(),
            config.processor.max_batch_records.to_string(),
        ),
        (
            "HUB_PROCESSOR__LINGER_MS".into(),
            config.processor.linger_ms.to_string(),
        ),
        ("HUB_LOG__FORMAT".into(), "json".into()),
        ("RUST_LOG".into(), "info".into()),
    ]
}

/// A running `hub process`; killed when dropped, so a failing test leaves no process.
pub struct ProcessorChild {
    child: Child,
    metrics_url: String,
}

impl Drop for ProcessorChild {
    fn drop(&mut self) {
        // Already exited when stopped or killed by the test: nothing to do then.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ProcessorChild {
    /// Where this process serves its Prometheus metrics.
    pub fn metrics_url(&self) -> &str {
        &self.metrics_url
    }

    /// Input records this process has handled and committed, from its own metrics.
    pub async fn records_completed(&self) -> Result<u64> {
        let text = reqwest::get(&self.metrics_url).await?.text().await?;
        Ok(text
            .lines()
            .find(|line| {
                line.starts_with("hub_component_sent_events_total")
                    && line.contains("component_id=\"processor\"")
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok())
            .map_or(0, |value| value as u64))
    }

    /// Waits until this process has completed at least `records` input records.
    pub async fn wait_for_progress(&self, records: u64, wait: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // The metrics endpoint is not up for the first moments of the process.
            if self.records_completed().await.unwrap_or(0) >= records {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "hub process did not complete {records} records within {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no flush, no commit, as a crash.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM and waits: the processor must finish its batch, commit and exit 0.
    pub fn stop_gracefully(mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("sending SIGTERM")?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = self.child.wait()?;
        anyhow::ensure!(
            exit.success(),
            "hub process exited with {exit} after SIGTERM"
        );
        Ok(())
    }
}

/// Starts `hub process` with `config`, its logs (JSON lines) going to `log` and its
/// metrics on a free loopback port.
pub fn spawn_processor(config: &Config, log: &Path) -> Result<ProcessorChild> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    spawn_processor_serving_metrics_on(config, log, &format!("127.0.0.1:{port}"))
}

/// Starts `hub process` as [`spawn_processor`] does, its metrics on `listen` (`host:port`).
pub fn spawn_processor_serving_metrics_on(
    config: &Config,
    log: &Path,
    listen: &str,
) -> Result<ProcessorChild> {
    let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new(hub_binary())
        .arg("process")
        .env_clear()
        .envs(processor_environment(config))
        .env("HUB_METRICS__LISTEN", listen)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .context("starting hub process")?;
    Ok(ProcessorChild {
        child,
        metrics_url: format!("http://{listen}/metrics"),
    })
}

/// The `partitions`/`partition` field of every JSON log line of `log` whose message starts
/// with `message`, in order.
fn logged_fields(log: &Path, message: &str, field: &str) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(log)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| {
            entry["message"]
                .as_str()
                .is_some_and(|logged| logged.starts_with(message))
        })
        .map(|entry| entry[field].clone())
        .collect())
}

/// The partitions a processor's log says it was last assigned (empty before any).
pub fn assigned_partitions(log: &Path) -> Result<Vec<i64>> {
    Ok(logged_fields(log, "partitions assigned", "partitions")?
        .last()
        .and_then(|partitions| partitions.as_str().map(str::to_owned))
        .map(|partitions| {
            partitions
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter_map(|partition| partition.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default())
}

/// The partitions a processor's log says it restored from the changelog.
pub fn restored_partitions(log: &Path) -> Result<Vec<i64>> {
    Ok(logged_fields(log, "partition state restored", "partition")?
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect())
}

/// The processor (`hub::processor::run`) as a task of the test's runtime.
pub fn start_processor(config: &Config) -> StoppableTask<ProcessorError> {
    let config = config.clone();
    StoppableTask::spawn(|shutdown| async move { hub::processor::run(&config, shutdown).await })
}
