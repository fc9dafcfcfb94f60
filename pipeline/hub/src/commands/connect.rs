//! `hub connect <source>` / `hub connect --all`: runs connectors until SIGINT or SIGTERM,
//! serving metrics. `hub connectors status`: one line per connector and operation, from
//! the compacted cursor and health topics.

use std::collections::BTreeMap;

use anyhow::Context;
use hub_connectors::config::{CONNECTORS, build, build_configured};

use crate::config::Config;
use crate::connect::health::ConnectorHealth;
use crate::connect::{self, cursors, health};
use crate::{telemetry, wiring};

pub async fn run(config: &Config, source: Option<&str>) -> anyhow::Result<()> {
    let connectors = match source {
        Some(name) => vec![build(name, &config.connectors)?],
        None => {
            let connectors = build_configured(&config.connectors)?;
            anyhow::ensure!(
                !connectors.is_empty(),
                "no connector is configured: add a [connectors.<source>] section (sources: {CONNECTORS:?})"
            );
            connectors
        }
    };
    telemetry::install_metrics_exporter(config.metrics.listen)?;
    connect::run(config, connectors, telemetry::shutdown_signal()).await?;
    Ok(())
}

pub async fn status(config: &Config) -> anyhow::Result<()> {
    let topics = wiring::topic_names(config)?;
    let prefix = topics.prefix();
    let cursors = cursors::read_all(&config.kafka, &connect::cursors_topic(prefix))
        .await
        .context(
            "reading the connectors' cursors (has `hub connect` or `hub topics ensure` run?)",
        )?;
    let healths: BTreeMap<String, ConnectorHealth> =
        health::read_all(&config.kafka, &connect::health_topic(prefix))
            .await
            .context("reading the connectors' health reports")?
            .into_iter()
            .map(|health| (health.connector.clone(), health))
            .collect();
    let now = connect::publish::wall_clock_millis();
    let stale_after = 3 * config.connect.health_interval_ms as i64;
    let mut rows = vec![[
        "CONNECTOR".to_owned(),
        "OPERATION".to_owned(),
        "CURSOR".to_owned(),
        "CURSOR AGE".to_owned(),
        "LAST SUCCESS".to_owned(),
        "BREAKER".to_owned(),
        "STATE".to_owned(),
        "LAST ERROR".to_owned(),
    ]];
    let mut listed: Vec<(String, Option<cursors::StoredCursor>)> = cursors
        .into_iter()
        .map(|cursor| (cursor.connector.clone(), Some(cursor)))
        .collect();
    for connector in healths.keys() {
        if !listed.iter().any(|(name, _)| name == connector) {
            listed.push((connector.clone(), None));
        }
    }
    for name in config.connectors.configured() {
        if !listed.iter().any(|(listed_name, _)| listed_name == name) {
            listed.push((name.to_owned(), None));
        }
    }
    listed.sort_by(|a, b| {
        (&a.0, a.1.as_ref().map(|c| &c.operation)).cmp(&(&b.0, b.1.as_ref().map(|c| &c.operation)))
    });
    for (connector, cursor) in listed {
        let health = healths.get(&connector);
        rows.push([
            connector.clone(),
            cursor
                .as_ref()
                .map_or("-".to_owned(), |c| c.operation.clone()),
            cursor.as_ref().map_or("-".to_owned(), |c| c.value.clone()),
            cursor
                .as_ref()
                .map_or("-".to_owned(), |c| age(now, c.advanced_at)),
            health
                .and_then(|h| h.last_success_at)
                .map_or("never".to_owned(), |at| format!("{} ago", age(now, at))),
            health.map_or("-".to_owned(), |h| h.breaker.clone()),
            health.map_or("never ran".to_owned(), |h| state(h, now, stale_after)),
            health
                .and_then(|h| h.last_error.clone().zip(h.last_error_at))
                .map_or("-".to_owned(), |(error, at)| {
                    format!("{} ago: {}", age(now, at), truncate(&error, 100))
                }),
        ]);
    }
    super::write_stdout(format_args!("{}", table(&rows)))?;
    Ok(())
}

fn state(health: &ConnectorHealth, now: i64, stale_after: i64) -> String {
    let since = age(now, health.updated_at);
    if !health.running {
        format!("stopped {since} ago")
    } else if now - health.updated_at > stale_after {
        // A running connector reports every health interval: silence means it died.
        format!("silent for {since} (crashed?)")
    } else {
        format!("running (report {since} ago)")
    }
}

/// `now - at` in the largest whole unit: `42s`, `7m`, `3h`, `2d`.
fn age(now: i64, at: i64) -> String {
    let seconds = (now - at).max(0) / 1_000;
    match seconds {
        ..120 => format!("{seconds}s"),
        120..7_200 => format!("{}m", seconds / 60),
        7_200..172_800 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_the_largest_whole_unit() {
        assert_eq!(age(61_000, 0), "61s");
        assert_eq!(age(600_000, 0), "10m");
        assert_eq!(age(4 * 3_600_000, 0), "4h");
        assert_eq!(age(3 * 86_400_000, 0), "3d");
        assert_eq!(age(0, 5_000), "0s");
    }

    #[test]
    fn a_running_connector_that_stopped_reporting_is_silent() {
        let health = ConnectorHealth {
            connector: "mirakl".into(),
            breaker: "closed".into(),
            running: true,
            updated_at: 0,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            signals: 0,
            rejected: 0,
        };
        assert!(state(&health, 1_000, 30_000).starts_with("running"));
        assert!(state(&health, 60_000, 30_000).starts_with("silent"));
        let stopped = ConnectorHealth {
            running: false,
            ..health
        };
        assert!(state(&stopped, 60_000, 30_000).starts_with("stopped"));
    }

    #[test]
    fn table_columns_align() {
        let rows = [
            ["A".to_owned(), "BB".to_owned()],
            ["long".to_owned(), "x".to_owned()],
        ];
        assert_eq!(table(&rows), "A     BB\nlong  x\n");
    }
}
