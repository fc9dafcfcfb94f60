//! `hub process` as a child process, configured through the environment exactly as an
//! operator would, so that tests can kill it (SIGKILL) or stop it (SIGTERM).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use hub::config::Config;

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
        // Port 0: several processors run side by side in one test.
        ("HUB_METRICS__LISTEN".into(), "127.0.0.1:0".into()),
        ("HUB_LOG__FORMAT".into(), "json".into()),
        ("RUST_LOG".into(), "info".into()),
    ]
}

/// Starts `hub process` with `config`, its logs (JSON lines) going to `log`.
pub fn spawn_processor(config: &Config, log: &Path) -> Result<Child> {
    let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    Command::new(hub_binary())
        .arg("process")
        .env_clear()
        .envs(processor_environment(config))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .context("starting hub process")
}

/// Sends SIGTERM and waits: the processor must finish its batch, commit and exit 0.
pub fn stop_gracefully(mut child: Child) -> Result<()> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .context("sending SIGTERM")?;
    anyhow::ensure!(status.success(), "kill -TERM failed");
    let exit = child.wait()?;
    anyhow::ensure!(
        exit.success(),
        "hub process exited with {exit} after SIGTERM"
    );
    Ok(())
}

/// The partitions a processor's log says it restored from the changelog.
pub fn restored_partitions(log: &Path) -> Result<Vec<i64>> {
    let text = std::fs::read_to_string(log)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| {
            entry["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("partition state restored"))
        })
        .filter_map(|entry| entry["partition"].as_i64())
        .collect())
}
