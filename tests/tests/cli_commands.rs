//! The `hub` binary's foundation commands, run as an operator runs them, against the local
//! engines: `topics ensure`, `sample`, `migrate` twice, and `config show` with secrets set.

use std::process::{Command, Output};

use anyhow::{Result, ensure};
use hub_integration_tests::{clickhouse_url, hub_binary, kafka_bootstrap_servers, unique_name};

/// Runs `hub <args>` with only `env` (plus the engines' addresses) in its environment.
fn hub(args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let output = Command::new(hub_binary())
        .args(args)
        .env_clear()
        .env("HUB_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap_servers())
        .env("HUB_CLICKHOUSE__URL", clickhouse_url())
        .env("HUB_LOG__FORMAT", "json")
        .envs(env.iter().copied())
        .output()?;
    Ok(output)
}

fn succeeded(command: &str, output: &Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "hub {command} exited with {}:\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

#[test]
fn topics_ensure_then_sample_reads_back_every_input_contract_and_a_quarantined_record() -> Result<()>
{
    let prefix = unique_name("cli");
    let env = [("HUB_KAFKA__TOPIC_PREFIX", prefix.as_str())];
    let listed = succeeded("topics ensure", &hub(&["topics", "ensure"], &env)?)?;
    for suffix in [
        "reference.products",
        "signals.offers",
        "scores.current",
        "quarantine",
    ] {
        ensure!(
            listed.contains(&format!("{prefix}.{suffix}")),
            "hub topics ensure does not list {prefix}.{suffix}:\n{listed}"
        );
    }

    let printed = succeeded("sample", &hub(&["sample"], &env)?)?;
    let read_back: Vec<&str> = printed
        .lines()
        .filter(|line| line.ends_with("read back identical"))
        .collect();
    ensure!(read_back.len() == 5, "five records read back:\n{printed}");
    for suffix in [
        "reference.products",
        "signals.offers",
        "signals.stock",
        "signals.costs",
        "quarantine",
    ] {
        let topic = format!("{prefix}.{suffix} ");
        ensure!(
            read_back.iter().any(|line| line.starts_with(&topic)),
            "no record read back from {topic}:\n{printed}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn migrate_twice_applies_every_migration_once() -> Result<()> {
    let database = unique_name("hub_cli");
    let env = [("HUB_CLICKHOUSE__DATABASE", database.as_str())];
    let runs = [
        hub(&["migrate"], &env).and_then(|output| succeeded("migrate", &output)),
        hub(&["migrate"], &env).and_then(|output| succeeded("migrate (again)", &output)),
    ];
    reqwest::Client::new()
        .post(clickhouse_url())
        .body(format!("DROP DATABASE IF EXISTS {database}"))
        .send()
        .await?
        .error_for_status()?;
    let [first, second] = runs;
    let (first, second) = (first?, second?);
    let migrations = hub_sink_clickhouse::migrations::MIGRATIONS.len();
    let all: Vec<u32> = hub_sink_clickhouse::migrations::MIGRATIONS
        .iter()
        .map(|migration| migration.version)
        .collect();
    ensure!(
        first.contains(&format!(
            "database {database}: {migrations} migration(s) applied now {all:?}, 0 already applied"
        )),
        "first run: {first}"
    );
    ensure!(
        second.contains(&format!(
            "database {database}: 0 migration(s) applied now [], {migrations} already applied"
        )),
        "second run: {second}"
    );
    Ok(())
}

#[test]
fn config_show_masks_every_secret() -> Result<()> {
    let printed = succeeded(
        "config show",
        &hub(
            &["config", "show"],
            &[
                ("HUB_CLICKHOUSE__PASSWORD", "ch-s3cret"),
                ("HUB_KAFKA__SCHEMA_REGISTRY_PASSWORD", "sr-s3cret"),
                (
                    "HUB_KAFKA__CLIENT_PROPERTIES",
                    "{ \"sasl.password\" = \"kafka-s3cret\" }",
                ),
            ],
        )?,
    )?;
    for secret in ["ch-s3cret", "sr-s3cret", "kafka-s3cret"] {
        ensure!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    ensure!(printed.contains("password = \"***\""), "{printed}");
    Ok(())
}
