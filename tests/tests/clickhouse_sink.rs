//! The ClickHouse sink against a real engine: the chdb-backed stand-in locally and in CI
//! (`scripts/services up`), the real server in docker/. Every test works in its own database.

use clickhouse::Client;
use hub_integration_tests::{clickhouse_url, drop_database, run_on_default_database, unique_name};
use hub_schemas::records::{
    CostKind, CostSignal, FactorContribution, Levy, LevyKind, MarginBreakdown, OfferSignal,
    ProductReference, QuarantinedRecord, ReferenceScore, StockSignal, StockSource,
};
use hub_sink_clickhouse::migrations::{MIGRATIONS, applied_migrations};
use hub_sink_clickhouse::rows::{
    CostSignalRow, OfferSignalRow, ProductRow, QuarantineRow, ScoreRow, StockSignalRow,
};
use hub_sink_clickhouse::{
    BatchWriter, ConnectionConfig, KafkaPosition, MigrationError, Retry, RetryPolicy, SinkRow,
    Sourced, WriteError, WriterConfig, migrate,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::time::Duration;

/// 2024-02-29T23:59:59.123Z: a leap day, with milliseconds, one millisecond before March.
/// Only for tables without TTL: the signal histories drop rows older than 400 days.
const OBSERVED_AT: i64 = 1_709_251_199_123;

/// A time within the signal tables' TTL, with milliseconds.
fn recently() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_millis()).expect("millis fit i64") / 1000 * 1000 - 86_400_000 + 123
}

async fn require_standin(url: &str) {
    let ping = reqwest::get(format!("{url}/ping")).await;
    let answered = matches!(&ping, Ok(response) if response.status().is_success());
    assert!(
        answered,
        "ClickHouse does not answer on {url} ({ping:?}): run `scripts/services up`"
    );
}

fn connection(database: &str) -> ConnectionConfig {
    ConnectionConfig {
        url: clickhouse_url(),
        user: None,
        password: None,
        database: database.into(),
    }
}

/// A migrated database of its own, and a client on it configured as in production.
async fn migrated_database() -> (Client, String) {
    require_standin(&clickhouse_url()).await;
    let database = unique_name("hub_sink");
    let client = connection(&database).client();
    migrate(&client, &database)
        .await
        .expect("migrations apply on a fresh database");
    (client, database)
}

/// An empty database of its own, no migration applied, and a client on it.
async fn empty_database(base: &str) -> (Client, String) {
    require_standin(&clickhouse_url()).await;
    let database = unique_name(base);
    let client = connection(&database).client();
    run_on_default_database(&client, &format!("CREATE DATABASE {database}")).await;
    (client, database)
}

fn position(topic: &str, offset: i64) -> KafkaPosition {
    KafkaPosition {
        topic: topic.into(),
        partition: 2,
        offset,
    }
}

fn fast_writer<R: SinkRow>(client: &Client, max_attempts: u32) -> BatchWriter<R> {
    BatchWriter::new(
        client.clone(),
        WriterConfig {
            max_rows: 10_000,
            max_delay: Duration::from_secs(60),
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
                max_attempts,
            },
        },
    )
}

async fn store<R: SinkRow>(client: &Client, rows: Vec<R>) {
    let mut writer = fast_writer::<R>(client, 1);
    for row in rows {
        writer.write(row).await.expect("row buffered");
    }
    let receipt = writer
        .flush()
        .await
        .expect("batch stored")
        .expect("batch was not empty");
    assert_eq!(receipt.table, R::TABLE);
}

async fn read_back<R: clickhouse::RowOwned + clickhouse::RowRead>(
    client: &Client,
    table: &str,
) -> Vec<R> {
    client
        .query(&format!(
            "SELECT ?fields FROM {table} ORDER BY kafka_offset"
        ))
        .fetch_all::<R>()
        .await
        .expect("rows read back with validation")
}

async fn strings(client: &Client, sql: &str) -> Vec<String> {
    client
        .query(sql)
        .fetch_all::<String>()
        .await
        .expect("query answers strings")
}

fn product(gtin: &str) -> ProductReference {
    ProductReference {
        gtin: gtin.into(),
        sku: "SKU-Ω-1".into(),
        title: "Télévision 55\" \u{1F4FA} \t tab".into(),
        brand: Some("Åcme".into()),
        category: "tv".into(),
        vat_rate: dec!(0.055),
        weight_g: Some(15_300),
        length_mm: Some(1_230),
        width_mm: None,
        height_mm: Some(-1),
        levies: vec![
            Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat: dec!(10.0000),
            },
            Levy {
                kind: LevyKind::PrivateCopy,
                amount_incl_vat: dec!(0.0001),
            },
        ],
        source: "odoo.product.product".into(),
        updated_at: OBSERVED_AT,
        active: true,
    }
}

fn offer(gtin: &str) -> OfferSignal {
    OfferSignal {
        gtin: gtin.into(),
        channel: "amazon".into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(dec!(99999999999999.9999)),
        our_shipping_incl_vat: Some(dec!(0)),
        buy_box_price_incl_vat: Some(dec!(-0.0001)),
        we_own_buy_box: Some(false),
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: Some(dec!(4.99)),
        lowest_landed_price_incl_vat: Some(dec!(-99999999999999.9999)),
        offer_count: Some(i32::MAX),
        sales_rank: Some(i64::MAX),
        marketplace_category: None,
        source: "amazon.getItemOffers".into(),
        request_id: Some("req-1".into()),
        observed_at: recently(),
    }
}

fn stock(gtin: &str) -> StockSignal {
    StockSignal {
        gtin: gtin.into(),
        stock_source: StockSource::Fba,
        location: Some("FR".into()),
        quantity: -3,
        incoming_quantity: None,
        lead_time_days: Some(0),
        source: "amazon.fbaInventory".into(),
        request_id: None,
        observed_at: recently(),
    }
}

fn cost(gtin: &str) -> CostSignal {
    CostSignal {
        gtin: gtin.into(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some("sup-42".into()),
        unit_cost_excl_vat: dec!(1234.5678),
        currency: "USD".into(),
        moq: Some(12),
        valid_from: Some(OBSERVED_AT),
        valid_to: None,
        lead_time_days: Some(21),
        source: "supplier.pricelist".into(),
        request_id: Some("file-7".into()),
        observed_at: recently() + 1,
    }
}

fn factor(
    name: &'static str,
    raw: Option<Decimal>,
    normalised: Decimal,
    weight: Decimal,
    contribution: Decimal,
) -> FactorContribution {
    FactorContribution {
        name: name.into(),
        raw_value: raw,
        normalised,
        weight,
        contribution,
        explanation: format!("{name} explained"),
    }
}

fn score(gtin: &str, version: i64, with_margin: bool) -> ReferenceScore {
    ReferenceScore {
        gtin: gtin.into(),
        channel: "cdiscount".into(),
        version,
        score: dec!(61.2500),
        confidence: dec!(0.8750),
        factors: vec![
            factor(
                "margin_potential",
                Some(dec!(-12.345678)),
                dec!(0.400000),
                dec!(0.5),
                dec!(20.0000),
            ),
            factor("availability", None, dec!(1), dec!(0.412500), dec!(41.2500)),
        ],
        missing_inputs: if with_margin {
            vec![]
        } else {
            vec!["cost".into()]
        },
        margin: with_margin.then(|| MarginBreakdown {
            currency: "EUR".into(),
            price_incl_vat: dec!(119.99),
            shipping_incl_vat: dec!(0),
            levies_incl_vat: dec!(2.5),
            revenue_excl_vat: dec!(97.9083),
            commission_excl_vat: dec!(14.69),
            digital_services_fee_excl_vat: dec!(0.44),
            fulfilment_method: "fba".into(),
            fulfilment_fee_excl_vat: dec!(4.12),
            subscription_per_unit_excl_vat: dec!(0.0339),
            operational_cost_excl_vat: dec!(1.5),
            product_cost_excl_vat: dec!(60),
            product_cost_source: "supplier:sup-42".into(),
            net_margin_excl_vat: dec!(17.1144),
            margin_rate: dec!(0.174800),
            roi: dec!(-1234.285240),
        }),
        action: "reprice".into(),
        action_rule: "margin_rate < 0.18".into(),
        target_price_incl_vat: Some(dec!(121.49)),
        weights_profile: "default".into(),
        weights_version: "2024-02".into(),
        fee_schedule_version: "cdiscount-2024-01".into(),
        offer_observed_at: Some(OBSERVED_AT),
        stock_observed_at: None,
        cost_observed_at: Some(OBSERVED_AT - 1),
        scored_at: OBSERVED_AT + version,
    }
}

fn quarantined() -> QuarantinedRecord {
    QuarantinedRecord {
        source: "hub.signals.offers".into(),
        record_type: "offer_signal".into(),
        original_topic: Some("hub.signals.offers".into()),
        original_partition: Some(0),
        original_offset: Some(41),
        key: Some(b"3017620422003".to_vec()),
        // Not UTF-8: the raw Avro bytes must come back untouched.
        raw: vec![0x00, 0xff, 0xfe, b'\n', b'\t', 0x80, 0x00],
        gtin: None,
        reason_code: "GTIN_CHECK_DIGIT".into(),
        detail: "gtin 3017620422004: check digit 4, expected 3".into(),
        observed_at: recently(),
    }
}

#[tokio::test]
async fn migrations_apply_once_and_are_recorded() {
    let (client, database) = migrated_database().await;

    let again = migrate(&client, &database)
        .await
        .expect("second run is a no-op");
    assert!(again.applied.is_empty(), "nothing applied twice: {again:?}");
    assert_eq!(
        again.already_applied,
        MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>()
    );

    let recorded = applied_migrations(&client, &database)
        .await
        .expect("schema_migrations readable");
    let expected: Vec<_> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned(), m.checksum()))
        .collect();
    let actual: Vec<_> = recorded
        .iter()
        .map(|r| (r.version, r.name.clone(), r.checksum.clone()))
        .collect();
    assert_eq!(actual, expected);
    let raw_count = strings(&client, "SELECT toString(count()) FROM schema_migrations").await;
    assert_eq!(
        raw_count,
        vec![MIGRATIONS.len().to_string()],
        "one row per migration, not two"
    );

    let tables = strings(
        &client,
        &format!("SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name"),
    )
    .await;
    assert_eq!(
        tables,
        [
            "cost_signals",
            "offer_signals",
            "products",
            "quarantine",
            "quarantine_records",
            "schema_migrations",
            "score_versions",
            "score_versions_mv",
            "scores",
            "scores_current",
            "scores_current_mv",
            "stock_signals",
        ]
    );
    drop_database(&client, &database).await;
}

/// What the contract asks of each table: its engine (with its version column), its
/// partitions, its sorting key, its retention, and LowCardinality for channels and sources.
#[tokio::test]
async fn tables_have_the_engines_partitions_retention_and_column_types_of_the_contract() {
    let (client, database) = migrated_database().await;
    let described = strings(
        &client,
        &format!(
            "SELECT concat(name, ' | ', splitByString(' PARTITION BY', splitByString(' ORDER BY', engine_full)[1])[1], \
             ' | ', partition_key, ' | ', sorting_key, ' | ', \
             if(position(engine_full, 'TTL toDateTime(observed_at) + toIntervalDay(400)') > 0, '400 days', 'kept')) \
             FROM system.tables WHERE database = '{database}' AND engine NOT IN ('MaterializedView', 'View') \
             ORDER BY name"
        ),
    )
    .await;
    assert_eq!(
        described,
        [
            "cost_signals | MergeTree | toYYYYMM(observed_at) | gtin, cost_kind, observed_at | 400 days",
            "offer_signals | MergeTree | toYYYYMM(observed_at) | gtin, channel, observed_at | 400 days",
            "products | ReplacingMergeTree(updated_at) |  | gtin | kept",
            "quarantine | MergeTree | toYYYYMM(observed_at) | reason_code, observed_at | 400 days",
            "schema_migrations | ReplacingMergeTree(applied_at) |  | version | kept",
            "score_versions | ReplacingMergeTree | toYYYYMM(scored_at) | gtin, channel, version | kept",
            "scores | MergeTree | toYYYYMM(scored_at) | gtin, channel, version | kept",
            "scores_current | ReplacingMergeTree(version) | tuple() | gtin, channel | kept",
            "stock_signals | MergeTree | toYYYYMM(observed_at) | gtin, stock_source, observed_at | 400 days",
        ]
    );

    let not_low_cardinality = strings(
        &client,
        &format!(
            "SELECT concat(table, '.', name, ' ', type) FROM system.columns \
             WHERE database = '{database}' AND name IN ('channel', 'source', 'stock_source', 'cost_kind') \
             AND type != 'LowCardinality(String)' ORDER BY table, name"
        ),
    )
    .await;
    assert_eq!(not_low_cardinality, Vec::<String>::new());
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn a_changed_applied_migration_is_refused() {
    let (client, database) = migrated_database().await;
    // Record version 1 again, later and with another checksum, as if its file had been
    // edited after being applied.
    client
        .query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES (1, 'products', 'edited', now64(3) + 60)",
        )
        .execute()
        .await
        .expect("tampering row inserted");

    let error = migrate(&client, &database)
        .await
        .expect_err("a changed checksum is refused");
    assert!(
        matches!(&error, MigrationError::ChecksumMismatch { version: 1, applied, .. } if applied == "edited"),
        "{error}"
    );
    assert_eq!(error.retry(), Retry::Fatal);
    assert!(error.to_string().contains("0001_products"), "{error}");
    drop_database(&client, &database).await;
}

/// A products table made before migration 0007 gets `active`, true for the rows it already
/// held: they came from references their source still sold.
#[tokio::test]
async fn products_stored_before_migration_0007_read_as_active() {
    let (client, database) = empty_database("hub_sink").await;
    for migration in MIGRATIONS.iter().filter(|m| m.version < 7) {
        for statement in migration.statements() {
            client
                .query(&statement)
                .execute()
                .await
                .unwrap_or_else(|error| panic!("{}: {error}", migration.name));
        }
    }
    client
        .query(
            "INSERT INTO products (gtin, sku, title, category, vat_rate, source, updated_at, \
             kafka_topic, kafka_partition, kafka_offset) VALUES ('3017620422003', 'SKU-1', \
             'Télévision', 'tv', 0.2, 'odoo.product.product', now64(3), \
             'hub.reference.products', 0, 1)",
        )
        .execute()
        .await
        .expect("a product stored before 0007");

    let report = migrate(&client, &database)
        .await
        .expect("the migrations apply over the older schema");
    assert!(report.applied.contains(&7), "{report:?}");
    assert_eq!(
        strings(&client, "SELECT toString(active) FROM products").await,
        ["true"]
    );
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn products_round_trip_exactly() {
    let (client, database) = migrated_database().await;
    let rows: Vec<ProductRow> = ["3017620422003", "0000000000017"]
        .into_iter()
        .enumerate()
        .map(|(i, gtin)| {
            // The second reference was archived at its source (column `active`, 0007).
            let reference = ProductReference {
                active: i == 0,
                ..product(gtin)
            };
            ProductRow::try_from(Sourced::new(
                reference,
                position("hub.reference.products", i as i64),
            ))
            .expect("product fits its columns")
        })
        .collect();
    store(&client, rows.clone()).await;

    assert_eq!(read_back::<ProductRow>(&client, "products").await, rows);
    let text = strings(
        &client,
        "SELECT concat(toString(vat_rate), ' ', toString(levies.amount_incl_vat), ' ', \
         toString(updated_at), ' ', title) FROM products ORDER BY kafka_offset LIMIT 1",
    )
    .await;
    assert_eq!(
        text,
        ["0.055 [10,0.0001] 2024-02-29 23:59:59.123 Télévision 55\" \u{1F4FA} \t tab"]
    );
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn signals_round_trip_exactly() {
    let (client, database) = migrated_database().await;
    let gtin = "3017620422003";

    let offers = vec![
        OfferSignalRow::try_from(Sourced::new(offer(gtin), position("hub.signals.offers", 7)))
            .expect("offer fits"),
    ];
    let stocks = vec![StockSignalRow::from(Sourced::new(
        stock(gtin),
        position("hub.signals.stock", 8),
    ))];
    let costs = vec![
        CostSignalRow::try_from(Sourced::new(cost(gtin), position("hub.signals.costs", 9)))
            .expect("cost fits"),
    ];
    store(&client, offers.clone()).await;
    store(&client, stocks.clone()).await;
    store(&client, costs.clone()).await;

    assert_eq!(
        read_back::<OfferSignalRow>(&client, "offer_signals").await,
        offers
    );
    assert_eq!(
        read_back::<StockSignalRow>(&client, "stock_signals").await,
        stocks
    );
    assert_eq!(
        read_back::<CostSignalRow>(&client, "cost_signals").await,
        costs
    );

    // The server itself sees the exact decimal values, not just the same integers back.
    let seen = strings(
        &client,
        "SELECT concat(toString(assumeNotNull(our_price_incl_vat)), ' ', \
         toString(assumeNotNull(buy_box_price_incl_vat)), ' ', \
         toString(assumeNotNull(lowest_landed_price_incl_vat)), ' ', \
         toString(isNull(lowest_listing_price_incl_vat)), ' ', \
         toString(toUnixTimestamp64Milli(observed_at)), ' ', toTypeName(observed_at)) \
         FROM offer_signals",
    )
    .await;
    assert_eq!(
        seen,
        [format!(
            "99999999999999.9999 -0.0001 -99999999999999.9999 1 {} DateTime64(3, 'UTC')",
            offers[0].observed_at
        )]
    );
    let cost_seen = strings(
        &client,
        "SELECT concat(toString(unit_cost_excl_vat), ' ', toString(assumeNotNull(valid_from)), ' ', \
         cost_kind) FROM cost_signals",
    )
    .await;
    assert_eq!(
        cost_seen,
        ["1234.5678 2024-02-29 23:59:59.123 SUPPLIER_PRICE"]
    );
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn scores_round_trip_and_explain_themselves_in_sql() {
    let (client, database) = migrated_database().await;
    let gtin = "3017620422003";
    let rows: Vec<ScoreRow> = [(1, false), (3, true), (2, true)]
        .into_iter()
        .map(|(version, with_margin)| {
            ScoreRow::try_from(Sourced::new(
                score(gtin, version, with_margin),
                position("hub.scores.history", 100 + version),
            ))
            .expect("score fits")
        })
        .collect();
    store(&client, rows.clone()).await;

    let mut by_offset = rows.clone();
    by_offset.sort_by_key(|row| row.kafka_offset);
    assert_eq!(read_back::<ScoreRow>(&client, "scores").await, by_offset);
    assert_eq!(
        by_offset[0].margin_rate, None,
        "no margin: all margin lines are NULL"
    );

    // The materialized view keeps the highest version per (gtin, channel).
    let current = client
        .query("SELECT ?fields FROM scores_current FINAL")
        .fetch_all::<ScoreRow>()
        .await
        .expect("scores_current readable");
    assert_eq!(current, vec![rows[1].clone()]);

    // The factors explain the score: their contributions add up to it.
    let explained = strings(
        &client,
        "SELECT concat(toString(version), ' ', toString(any(score)), ' ', toString(sum(factors.contribution)), ' ', \
         arrayStringConcat(groupArray(factors.name), ',')) \
         FROM scores ARRAY JOIN factors WHERE version = 3 GROUP BY version",
    )
    .await;
    assert_eq!(explained, ["3 61.25 61.25 margin_potential,availability"]);
    let margin = strings(
        &client,
        "SELECT toString(assumeNotNull(margin_roi)) FROM scores WHERE version = 3",
    )
    .await;
    assert_eq!(margin, ["-1234.28524"]);
    drop_database(&client, &database).await;
}

/// The current table keeps one row per (gtin, channel) once merged, even when its versions
/// were scored in different months (it once had the history's monthly partitions, and a
/// replacing merge never crosses a partition).
#[tokio::test]
async fn scores_current_keeps_one_row_per_pair_across_months() {
    let (client, database) = migrated_database().await;
    let gtin = "3017620422003";
    let rows: Vec<ScoreRow> = [1, 2]
        .into_iter()
        .map(|version| {
            let mut record = score(gtin, version, true);
            // 2024-02-29T23:59:59.124Z, then a day later in March.
            record.scored_at = OBSERVED_AT + 1 + (version - 1) * 86_400_000;
            ScoreRow::try_from(Sourced::new(
                record,
                position("hub.scores.history", 200 + version),
            ))
            .expect("score fits")
        })
        .collect();
    store(&client, rows.clone()).await;
    client
        .query("OPTIMIZE TABLE scores_current FINAL")
        .execute()
        .await
        .expect("merge");
    let current = client
        .query("SELECT ?fields FROM scores_current")
        .fetch_all::<ScoreRow>()
        .await
        .expect("scores_current readable");
    assert_eq!(
        current,
        vec![rows[1].clone()],
        "only the newer version, without FINAL"
    );
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn quarantine_keeps_raw_bytes() {
    let (client, database) = migrated_database().await;
    let rows = vec![QuarantineRow::from(Sourced::new(
        quarantined(),
        position("hub.quarantine", 5),
    ))];
    store(&client, rows.clone()).await;
    assert_eq!(
        read_back::<QuarantineRow>(&client, "quarantine").await,
        rows
    );
    let hex = strings(&client, "SELECT hex(raw) FROM quarantine").await;
    assert_eq!(hex, ["00FFFE0A098000"]);
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn quarantine_records_holds_one_row_per_refused_record() {
    let (client, database) = migrated_database().await;
    // The gate's refusal of hub.signals.offers 0@41, published again by a processor
    // replaying its batch after a crash; and a connector's refusal, which has no original
    // record, published twice.
    let mut from_connector = quarantined();
    from_connector.source = "amazon.getItemOffers".into();
    (
        from_connector.original_topic,
        from_connector.original_partition,
        from_connector.original_offset,
    ) = (None, None, None);
    let rows = vec![
        QuarantineRow::from(Sourced::new(quarantined(), position("hub.quarantine", 5))),
        QuarantineRow::from(Sourced::new(quarantined(), position("hub.quarantine", 9))),
        QuarantineRow::from(Sourced::new(
            from_connector.clone(),
            position("hub.quarantine", 6),
        )),
        QuarantineRow::from(Sourced::new(from_connector, position("hub.quarantine", 7))),
    ];
    store(&client, rows).await;
    let engine = strings(
        &client,
        &format!(
            "SELECT engine FROM system.tables WHERE database = '{database}' AND name = 'quarantine_records'"
        ),
    )
    .await;
    assert_eq!(engine, ["View"], "a view: nothing is stored twice");
    let per_source = strings(
        &client,
        "SELECT concat(source, ' ', toString(count())) FROM quarantine_records \
         GROUP BY source ORDER BY source",
    )
    .await;
    assert_eq!(
        per_source,
        ["amazon.getItemOffers 2", "hub.signals.offers 1"]
    );
    let stored = strings(&client, "SELECT toString(count()) FROM quarantine").await;
    assert_eq!(stored, ["4"], "the table keeps every copy");
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn a_value_that_would_be_rounded_is_refused_before_insert() {
    let mut record = offer("3017620422003");
    record.our_price_incl_vat = Some(dec!(19.99999));
    let error = OfferSignalRow::try_from(Sourced::new(record, position("hub.signals.offers", 3)))
        .expect_err("five decimals do not fit Decimal(18, 4)");
    assert_eq!(error.column, "our_price_incl_vat");
    assert!(
        error.to_string().contains("hub.signals.offers/2@3"),
        "{error}"
    );
}

#[tokio::test]
async fn a_replayed_batch_is_stored_once() {
    let (client, database) = migrated_database().await;
    let batch: Vec<StockSignalRow> = (0..50)
        .map(|offset| {
            StockSignalRow::from(Sourced::new(
                stock("3017620422003"),
                position("hub.signals.stock", offset),
            ))
        })
        .collect();

    let mut first = fast_writer::<StockSignalRow>(&client, 1);
    let mut second = fast_writer::<StockSignalRow>(&client, 1);
    for row in &batch {
        first.write(row.clone()).await.expect("buffered");
    }
    // The replay arrives in another order: same messages, same token.
    for row in batch.iter().rev() {
        second.write(row.clone()).await.expect("buffered");
    }
    let stored = first
        .flush()
        .await
        .expect("first insert")
        .expect("non-empty");
    let replayed = second
        .flush()
        .await
        .expect("replayed insert")
        .expect("non-empty");
    assert_eq!(stored.dedup_token, replayed.dedup_token);
    assert_eq!(
        stored.dedup_token,
        "stock_signals:50:hub.signals.stock/2/0-49"
    );

    let count = strings(&client, "SELECT toString(count()) FROM stock_signals").await;
    assert_eq!(count, ["50"], "the replayed batch added no rows");

    // A batch with one more message is a different batch and is stored.
    let mut grown = fast_writer::<StockSignalRow>(&client, 1);
    for offset in 0..51 {
        grown
            .write(StockSignalRow::from(Sourced::new(
                stock("3017620422003"),
                position("hub.signals.stock", offset),
            )))
            .await
            .expect("buffered");
    }
    grown.flush().await.expect("grown batch stored");
    let count = strings(&client, "SELECT toString(count()) FROM stock_signals").await;
    assert_eq!(count, ["101"]);
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn batches_are_bounded_by_rows_and_by_time() {
    let (client, database) = migrated_database().await;
    let mut writer = BatchWriter::<OfferSignalRow>::new(
        client.clone(),
        WriterConfig {
            max_rows: 4_000,
            max_delay: Duration::from_millis(200),
            ..WriterConfig::default()
        },
    );
    let mut receipts = Vec::new();
    for offset in 0..10_000 {
        let row = OfferSignalRow::try_from(Sourced::new(
            offer("3017620422003"),
            position("hub.signals.offers", offset),
        ))
        .expect("offer fits");
        receipts.extend(writer.write(row).await.expect("batch stored when full"));
    }
    assert_eq!(
        receipts.iter().map(|r| r.rows).collect::<Vec<_>>(),
        [4_000, 4_000]
    );
    assert_eq!(writer.pending_rows(), 2_000);
    assert_eq!(writer.flush_if_due().await.expect("not due yet"), None);

    tokio::time::sleep(writer.time_left().expect("rows are pending")).await;
    let last = writer
        .flush_if_due()
        .await
        .expect("due batch stored")
        .expect("it was due");
    assert_eq!(
        (
            last.rows,
            last.ranges[0].first_offset,
            last.ranges[0].last_offset
        ),
        (2_000, 8_000, 9_999)
    );
    assert_eq!(writer.time_left(), None);

    let count = strings(&client, "SELECT toString(count()) FROM offer_signals").await;
    assert_eq!(count, ["10000"]);
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn a_bad_query_returns_clickhouse_error_text_and_code() {
    let (client, database) = migrated_database().await;
    let error = client
        .query("SELECT no_such_column FROM products")
        .execute()
        .await
        .expect_err("unknown column");
    let text = error.to_string();
    assert!(text.contains("Code: 47. DB::Exception:"), "{text}");
    assert!(text.contains("UNKNOWN_IDENTIFIER"), "{text}");
    assert_eq!(hub_sink_clickhouse::error::exception_code(&error), Some(47));
    assert_eq!(hub_sink_clickhouse::error::classify(&error), Retry::Fatal);

    let raw = reqwest::Client::new()
        .post(format!("{}/?database={database}", clickhouse_url()))
        .body("SELECT no_such_column FROM products")
        .send()
        .await
        .expect("stand-in answers");
    assert_eq!(raw.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(raw.headers()["X-ClickHouse-Exception-Code"], "47");
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn a_fatal_insert_error_fails_fast_and_keeps_the_batch() {
    let (client, database) = empty_database("hub_sink_unmigrated").await;
    // No migration: the table does not exist.
    let mut writer = fast_writer::<QuarantineRow>(&client, 5);
    writer
        .write(QuarantineRow::from(Sourced::new(
            quarantined(),
            position("hub.quarantine", 1),
        )))
        .await
        .expect("buffered");
    let error = writer.flush().await.expect_err("unknown table");
    assert!(
        matches!(
            &error,
            WriteError::Fatal {
                table: "quarantine",
                rows: 1,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.retry(), Retry::Fatal);
    assert!(error.to_string().contains("UNKNOWN_TABLE"), "{error}");
    assert_eq!(writer.pending_rows(), 1, "the batch is kept for the caller");
    drop_database(&client, &database).await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried_with_backoff_then_reported() {
    // A port nothing listens on: connection refused, a retryable failure.
    let config = ConnectionConfig {
        url: "http://127.0.0.1:9".into(),
        user: None,
        password: None,
        database: "sourcing_hub".into(),
    };
    let mut writer = fast_writer::<QuarantineRow>(&config.client(), 3);
    writer
        .write(QuarantineRow::from(Sourced::new(
            quarantined(),
            position("hub.quarantine", 1),
        )))
        .await
        .expect("buffered");
    let started = std::time::Instant::now();
    let error = writer.flush().await.expect_err("nothing listens");
    assert!(
        matches!(&error, WriteError::RetriesExhausted { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(error.retry(), Retry::Retryable);
    // Two waits: 20 ms then 40 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(writer.pending_rows(), 1);
}

#[tokio::test]
async fn compressed_requests_and_answers_work_as_in_production() {
    let (client, database) = migrated_database().await;
    // The production client compresses inserts in LZ4 blocks with CityHash checksums and asks
    // for LZ4 answers; a large batch spans several compressed blocks.
    let rows: Vec<QuarantineRow> = (0..3_000)
        .map(|offset| {
            let mut record = quarantined();
            record.raw = (0..512).map(|i| ((i * offset) % 251) as u8).collect();
            QuarantineRow::from(Sourced::new(record, position("hub.quarantine", offset)))
        })
        .collect();
    store(&client, rows.clone()).await;
    assert_eq!(
        read_back::<QuarantineRow>(&client, "quarantine").await,
        rows
    );

    // And the stand-in really checks what it is sent: a corrupted block is refused.
    let mut corrupted = vec![0_u8; 16];
    corrupted.extend_from_slice(&[0x82, 13, 0, 0, 0, 4, 0, 0, 0, 0x40, b'a', b'b', b'c']);
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/?database={database}&decompress=1&query=INSERT%20INTO%20quarantine%20FORMAT%20RowBinary",
            clickhouse_url()
        ))
        .body(corrupted)
        .send()
        .await
        .expect("stand-in answers");
    assert_eq!(refused.headers()["X-ClickHouse-Exception-Code"], "40");

    let answer = reqwest::Client::new()
        .post(format!("{}/", clickhouse_url()))
        .header("Accept-Encoding", "lz4")
        .body("SELECT 1")
        .send()
        .await
        .expect("stand-in answers");
    assert_eq!(answer.headers()["Content-Encoding"], "lz4");
    drop_database(&client, &database).await;
}
