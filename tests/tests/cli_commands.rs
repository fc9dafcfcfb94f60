//! The `hub` binary's foundation commands, run as an operator runs them, against the local
//! engines: `topics ensure`, `sample`, `migrate` twice, `config show` with secrets set, and
//! `hub quote` as a shell pipeline uses it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

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

/// Fnac Darty's own example (`config/fees/fnac_darty.toml`): 6.5% of EUR 425 + EUR 49.
const FNAC_DARTY_EXAMPLE: &str = r#"{"channel": "fnac_darty", "category": "large_appliances",
    "price_incl_vat": "425", "shipping_incl_vat": "49", "vat_rate": "0.20",
    "product_cost_excl_vat": "250", "currency": "EUR"}"#;

/// Runs `hub quote` on `request`; with `reader_gone`, standard output is closed before the
/// request is written, as `hub quote | head -c 0` would leave it.
fn quote(request: &str, reader_gone: bool) -> Result<Output> {
    let mut child = Command::new(hub_binary())
        .arg("quote")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if reader_gone {
        drop(child.stdout.take());
    }
    let mut stdin = child.stdin.take().expect("piped standard input");
    stdin.write_all(request.as_bytes())?;
    drop(stdin);
    Ok(child.wait_with_output()?)
}

#[test]
fn quote_answers_one_json_object_and_refuses_a_bad_field_with_status_2() -> Result<()> {
    let answer: serde_json::Value =
        serde_json::from_str(&succeeded("quote", &quote(FNAC_DARTY_EXAMPLE, false)?)?)?;
    ensure!(
        answer["commission_excl_vat"] == "30.8100",
        "commission: {answer:#}"
    );
    for key in [
        "net_margin_excl_vat",
        "score",
        "factors",
        "action",
        "weights_version",
    ] {
        ensure!(answer.get(key).is_some(), "{key} missing: {answer:#}");
    }

    let refused = quote(&FNAC_DARTY_EXAMPLE.replace("\"425\"", "\"-425\""), false)?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        refused.status.code() == Some(2),
        "a bad request exits with 2, not {}: {stderr}",
        refused.status
    );
    ensure!(
        stderr.contains("price_incl_vat"),
        "the field is named: {stderr}"
    );
    ensure!(refused.stdout.is_empty(), "nothing on standard output");
    Ok(())
}

#[test]
fn quote_whose_reader_has_gone_ends_quietly() -> Result<()> {
    let output = quote(FNAC_DARTY_EXAMPLE, true)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success() && !stderr.contains("panicked"),
        "hub quote with its standard output closed exited with {}: {stderr}",
        output.status
    );
    Ok(())
}
