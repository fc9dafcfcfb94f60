//! The cursor lag gauge (`hub_connector_cursor_lag_seconds{connector, operation}`) moves
//! where cursors are read and advanced: a poll that loads a cursor last advanced 90 s ago
//! sets it to about 90 s, and handing a page over with the next cursor brings it back to
//! about zero.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use hub_connectors::connector::{hand_over, load_cursor};
use hub_connectors::machinery::{ConnectorMetrics, Cursor, CursorKey, CursorStore};
use hub_connectors::names::CURSOR_LAG;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// The gauge of `key`, in seconds.
fn cursor_lag(snapshotter: &Snapshotter, key: &CursorKey) -> f64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(metric, _, _, value)| {
            let key_of = metric.key();
            let labelled = |name: &str, expected: &str| {
                key_of
                    .labels()
                    .any(|label| label.key() == name && label.value() == expected)
            };
            let ours = key_of.name() == CURSOR_LAG
                && labelled("connector", &key.connector)
                && labelled("operation", &key.operation);
            match value {
                DebugValue::Gauge(seconds) if ours => Some(seconds.into_inner()),
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("no {CURSOR_LAG} gauge for {key}"))
}

#[test]
fn the_gauge_grows_with_a_stale_cursor_and_drops_when_it_advances() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let key = CursorKey::new("fnac_darty", "offers_query");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let mut cursors = MemoryCursorStore::default();
            let stale = Cursor {
                value: "page 3".to_owned(),
                advanced_at: now_ms() - 90_000,
            };
            cursors.save(&key, &stale).await.expect("saved");

            let loaded = load_cursor(&mut cursors, &key).await.expect("loaded");
            assert_eq!(loaded, Some(stale));
            let lag = cursor_lag(&snapshotter, &key);
            assert!((90.0..100.0).contains(&lag), "lag {lag} s");

            let next = Cursor {
                value: "page 4".to_owned(),
                advanced_at: now_ms(),
            };
            let mut sink = CollectingSink::default();
            hand_over(
                &ConnectorMetrics::new("fnac_darty"),
                &key,
                Vec::new(),
                &next,
                &mut cursors,
                &mut sink,
            )
            .await
            .expect("handed over");
            assert_eq!(sink.records().count(), 0, "an empty page reaches no sink");
            let lag = cursor_lag(&snapshotter, &key);
            assert!((0.0..5.0).contains(&lag), "lag {lag} s after the advance");
        });
    });
}
