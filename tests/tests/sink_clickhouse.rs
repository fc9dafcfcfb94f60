//! `hub sink` end to end: records produced to the real local broker, stored by the sink in
//! ClickHouse (the chdb stand-in), through outages and restarts. Every test has its own topic
//! prefix, consumer group and database.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clickhouse::Client;
use hub::config::Config;
use hub_integration_tests::{clickhouse_url, drop_database, local_broker_config, unique_name};
use hub_schemas::records::{
    CostKind, CostSignal, FactorContribution, Levy, LevyKind, OfferSignal, ProductReference,
    QuarantinedRecord, ReferenceScore, StockSignal, StockSource,
};
use hub_schemas::{AvroRecord, Encoder, Topic, TopicNames};
use hub_sink_clickhouse::rows::{
    CostSignalRow, OfferSignalRow, ProductRow, QuarantineRow, ScoreRow, StockSignalRow,
};
use hub_sink_clickhouse::{KafkaPosition, SinkRow, Sourced};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use rust_decimal::Decimal;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(120);
const DEFAULT_PYTHON: &str = "/root/.local/share/sourcing-hub/venv/bin/python";
const TABLES: [&str; 6] = [
    ProductRow::TABLE,
    OfferSignalRow::TABLE,
    StockSignalRow::TABLE,
    CostSignalRow::TABLE,
    ScoreRow::TABLE,
    QuarantineRow::TABLE,
];

/// One time for every record of the test process, within the signal tables' TTL, so a
/// record can be built again identically to compare it with what was stored.
fn recently() -> i64 {
    static AT: LazyLock<i64> = LazyLock::new(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        i64::try_from(now.as_millis()).expect("millis fit i64")
    });
    *AT
}

/// A configuration of its own: topic prefix, group and database; small batches so that a
/// run makes many of them.
fn test_config(clickhouse: &str) -> Config {
    let mut config = local_broker_config("sink", 3);
    config.clickhouse.url = clickhouse.to_owned();
    config.clickhouse.database = unique_name("hub_sink_run");
    config.sink.batch_max_rows = 7;
    config.sink.batch_max_delay_ms = 300;
    config.sink.retry_initial_backoff_ms = 50;
    config.sink.retry_max_backoff_ms = 400;
    config.sink.retry_max_attempts = 3;
    config.sink.statistics_interval_ms = 1_000;
    config
}

/// A migrated database and the test's topics, with a client and a producer on them.
async fn prepare(config: &Config) -> (Client, Producer) {
    let client = hub::wiring::clickhouse(config).client();
    hub_sink_clickhouse::migrate(&client, &config.clickhouse.database)
        .await
        .expect("migrations apply on a fresh database");
    let topics = hub::wiring::topic_names(config).expect("valid prefix");
    hub::kafka::ensure_topics(&config.kafka, &topics.specs())
        .await
        .expect("topics created");
    (client, Producer::new(config))
}

fn gtin(n: usize) -> String {
    format!("37601{n:08}")
}

fn product(n: usize) -> ProductReference {
    ProductReference {
        gtin: gtin(n),
        sku: format!("SKU-{n}"),
        title: format!("Produit n°{n} \u{1F4FA}"),
        brand: Some("Acer".into()),
        category: "computers".into(),
        vat_rate: Decimal::new(20, 2),
        weight_g: Some(2_400),
        length_mm: None,
        width_mm: Some(330),
        height_mm: Some(80),
        levies: vec![Levy {
            kind: LevyKind::DeeeEcoParticipation,
            amount_incl_vat: Decimal::new(100 + n as i64, 2),
        }],
        source: "odoo.product.product".into(),
        updated_at: recently(),
        active: true,
    }
}

fn offer(n: usize) -> OfferSignal {
    OfferSignal {
        gtin: gtin(n),
        channel: "amazon".into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(Decimal::new(64_999 + n as i64, 2)),
        our_shipping_incl_vat: Some(Decimal::ZERO),
        buy_box_price_incl_vat: Some(Decimal::new(62_990, 2)),
        we_own_buy_box: Some(n.is_multiple_of(2)),
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: Some(Decimal::new(499, 2)),
        lowest_landed_price_incl_vat: Some(Decimal::new(62_489, 2)),
        offer_count: Some(7),
        sales_rank: Some(1_284),
        marketplace_category: Some("Informatique".into()),
        source: "amazon.getItemOffers".into(),
        request_id: Some(format!("req-{n}")),
        observed_at: recently(),
    }
}

fn stock(n: usize) -> StockSignal {
    StockSignal {
        gtin: gtin(n),
        stock_source: StockSource::Erp,
        location: Some("WH-LYON".into()),
        quantity: n as i64,
        incoming_quantity: Some(100),
        lead_time_days: Some(2),
        source: "odoo.stock.quant".into(),
        request_id: None,
        observed_at: recently(),
    }
}

fn cost(n: usize) -> CostSignal {
    CostSignal {
        gtin: gtin(n),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some("grossiste-ouest".into()),
        unit_cost_excl_vat: Decimal::new(4_312_500 + n as i64, 4),
        currency: "EUR".into(),
        moq: Some(5),
        valid_from: None,
        valid_to: None,
        lead_time_days: Some(4),
        source: "odoo.product.supplierinfo".into(),
        request_id: None,
        observed_at: recently(),
    }
}

fn score(n: usize) -> ReferenceScore {
    ReferenceScore {
        gtin: gtin(n),
        channel: "amazon".into(),
        version: n as i64 + 1,
        score: Decimal::new(612_500, 4),
        confidence: Decimal::new(8_750, 4),
        factors: vec![FactorContribution {
            name: "availability".into(),
            raw_value: Some(Decimal::new(42, 0)),
            normalised: Decimal::ONE,
            weight: Decimal::new(4, 1),
            contribution: Decimal::new(40, 0),
            explanation: "42 in stock".into(),
        }],
        missing_inputs: vec!["cost".into()],
        margin: None,
        action: "watch".into(),
        action_rule: "missing cost".into(),
        target_price_incl_vat: None,
        weights_profile: "default".into(),
        weights_version: "2024-02".into(),
        fee_schedule_version: "amazon-2024-01".into(),
        offer_observed_at: Some(recently()),
        stock_observed_at: None,
        cost_observed_at: None,
        scored_at: recently(),
    }
}

fn quarantined(n: usize) -> QuarantinedRecord {
    QuarantinedRecord {
        source: "hub.signals.offers".into(),
        record_type: "offer_signal".into(),
        original_topic: Some("hub.signals.offers".into()),
        original_partition: Some(1),
        original_offset: Some(n as i64),
        key: Some(gtin(n).into_bytes()),
        raw: vec![0x00, 0xff, n as u8],
        gtin: None,
        reason_code: "INVALID_GTIN".into(),
        detail: format!("record {n}"),
        observed_at: recently(),
    }
}

struct Producer {
    producer: FutureProducer,
    encoder: Encoder,
}

impl Producer {
    fn new(config: &Config) -> Self {
        let topics = TopicNames::new(&config.kafka.topic_prefix).expect("valid prefix");
        Producer {
            producer: hub::kafka::producer_config(&config.kafka)
                .create()
                .expect("producer"),
            encoder: Encoder::single_object(topics),
        }
    }

    async fn send(&self, topic: Topic, key: Option<&str>, payload: &[u8]) {
        let name = self.encoder.topics().name(topic);
        let mut message = FutureRecord::to(name).payload(payload);
        if let Some(key) = key {
            message = message.key(key);
        }
        self.producer
            .send(message, WAIT)
            .await
            .map_err(|(error, _)| error)
            .unwrap_or_else(|error| panic!("producing to {name}: {error}"));
    }

    async fn produce<R: AvroRecord>(&self, topic: Topic, records: impl IntoIterator<Item = R>) {
        for record in records {
            let payload = self.encoder.encode(topic, &record).expect("encodes");
            self.send(topic, record.key().as_deref(), &payload).await;
        }
    }

    /// `n` records of every contract the sink stores, numbered from `first`; returns how
    /// many rows each table must end with.
    async fn every_contract(&self, first: usize, n: usize) -> BTreeMap<&'static str, u64> {
        let range = first..first + n;
        self.produce(Topic::ReferenceProducts, range.clone().map(product))
            .await;
        self.produce(Topic::SignalsOffers, range.clone().map(offer))
            .await;
        self.produce(Topic::SignalsStock, range.clone().map(stock))
            .await;
        self.produce(Topic::SignalsCosts, range.clone().map(cost))
            .await;
        self.produce(Topic::ScoresHistory, range.clone().map(score))
            .await;
        self.produce(Topic::Quarantine, range.map(quarantined))
            .await;
        TABLES.iter().map(|table| (*table, n as u64)).collect()
    }
}

/// Runs the sink until `until` resolves, then stops it as SIGTERM does and checks that it
/// stopped cleanly.
async fn run_sink_until(config: &Config, until: impl Future<Output = ()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let sink = hub::sink::run(config, async {
        let _ = stopped.await;
    });
    tokio::pin!(sink);
    tokio::select! {
        ended = &mut sink => panic!("the sink stopped by itself: {ended:?}"),
        () = until => {}
    }
    stop.send(()).expect("the sink still runs");
    tokio::time::timeout(WAIT, sink)
        .await
        .expect("the sink stops within the timeout")
        .expect("the sink stops cleanly");
}

/// Runs the sink until `until` resolves and drops it there, mid-flight, as a crash would:
/// no flush, no commit.
async fn crash_sink_when(config: &Config, until: impl Future<Output = ()>) {
    tokio::select! {
        ended = hub::sink::run(config, std::future::pending()) => {
            panic!("the sink stopped by itself: {ended:?}")
        }
        () = until => {}
    }
}

async fn counts(client: &Client) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for table in TABLES {
        let count = client
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one::<u64>()
            .await
            .unwrap_or_else(|error| panic!("counting {table}: {error}"));
        counts.insert(table, count);
    }
    counts
}

/// Rows stored more than once: the same Kafka position in a table twice.
async fn duplicates(client: &Client) -> BTreeMap<&'static str, i64> {
    let mut duplicates = BTreeMap::new();
    for table in TABLES {
        let extra = client
            .query(&format!(
                "SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset) FROM {table}"
            ))
            .fetch_one::<i64>()
            .await
            .unwrap_or_else(|error| panic!("counting duplicates in {table}: {error}"));
        duplicates.insert(table, extra);
    }
    duplicates
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_counts(client: &Client, expected: &BTreeMap<&'static str, u64>) {
    let mut last = BTreeMap::new();
    let started = Instant::now();
    loop {
        last = match tokio::time::timeout(Duration::from_secs(10), counts(client)).await {
            Ok(counts) => counts,
            Err(_) => last,
        };
        if &last == expected {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "rows per table: expected {expected:?}, ClickHouse holds {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn assert_no_duplicates(client: &Client) {
    let duplicates = duplicates(client).await;
    assert!(
        duplicates.values().all(|&extra| extra == 0),
        "rows stored twice: {duplicates:?}"
    );
}

/// The stored row of `record` compares equal to the row converted from it at its position.
async fn assert_stored_as<Rec, Row>(
    client: &Client,
    record: Rec,
    convert: impl Fn(Sourced<Rec>) -> Row,
) where
    Row: SinkRow + clickhouse::RowRead + std::fmt::Debug + PartialEq,
    Rec: HasGtin,
{
    let rows = client
        .query(&format!(
            "SELECT ?fields FROM {} WHERE gtin = ?",
            Row::TABLE
        ))
        .bind(record.gtin())
        .fetch_all::<Row>()
        .await
        .unwrap_or_else(|error| panic!("reading {}: {error}", Row::TABLE));
    assert_eq!(
        rows.len(),
        1,
        "one {} row for gtin {}",
        Row::TABLE,
        record.gtin()
    );
    let stored = &rows[0];
    let position: KafkaPosition = stored.position();
    assert_eq!(stored, &convert(Sourced::new(record, position)));
}

trait HasGtin {
    fn gtin(&self) -> String;
}

macro_rules! has_gtin {
    ($($record:ty),*) => {$(
        impl HasGtin for $record {
            fn gtin(&self) -> String {
                self.gtin.clone()
            }
        }
    )*};
}
has_gtin!(
    ProductReference,
    OfferSignal,
    StockSignal,
    CostSignal,
    ReferenceScore
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_contract_is_stored_once_with_its_values() {
    let config = test_config(&clickhouse_url());
    let (client, producer) = prepare(&config).await;
    let expected = producer.every_contract(0, 20).await;

    run_sink_until(&config, wait_for_counts(&client, &expected)).await;
    assert_no_duplicates(&client).await;

    // Sampled values: every column equal to the row converted from what was produced, at
    // the position it was stored from.
    assert_stored_as(&client, product(3), |sourced| {
        ProductRow::try_from(sourced).unwrap()
    })
    .await;
    assert_stored_as(&client, offer(5), |sourced| {
        OfferSignalRow::try_from(sourced).unwrap()
    })
    .await;
    assert_stored_as(&client, stock(7), StockSignalRow::from).await;
    assert_stored_as(&client, cost(11), |sourced| {
        CostSignalRow::try_from(sourced).unwrap()
    })
    .await;
    assert_stored_as(&client, score(13), |sourced| {
        ScoreRow::try_from(sourced).unwrap()
    })
    .await;
    let quarantine = client
        .query("SELECT ?fields FROM quarantine WHERE detail = 'record 17'")
        .fetch_one::<QuarantineRow>()
        .await
        .unwrap();
    assert_eq!(
        quarantine,
        QuarantineRow::from(Sourced::new(quarantined(17), quarantine.position()))
    );

    // Offsets were committed at shut down: a second run with the group stores nothing more.
    run_sink_until(&config, tokio::time::sleep(Duration::from_secs(5))).await;
    assert_eq!(counts(&client).await, expected);
    drop_database(&client, &config.clickhouse.database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_record_is_quarantined_with_its_raw_bytes() {
    let config = test_config(&clickhouse_url());
    let (client, producer) = prepare(&config).await;
    let garbage = b"\xc3\x01 this is not an offer";
    producer
        .send(Topic::SignalsOffers, Some("3760145620019"), garbage)
        .await;
    producer.produce(Topic::SignalsOffers, [offer(1)]).await;

    let mut expected: BTreeMap<_, _> = TABLES.iter().map(|table| (*table, 0)).collect();
    expected.insert(OfferSignalRow::TABLE, 1);
    expected.insert(QuarantineRow::TABLE, 1);
    run_sink_until(&config, wait_for_counts(&client, &expected)).await;

    let row = client
        .query("SELECT ?fields FROM quarantine")
        .fetch_one::<QuarantineRow>()
        .await
        .unwrap();
    let offers_topic = format!("{}.signals.offers", config.kafka.topic_prefix);
    assert_eq!(row.reason_code, "UNDECODABLE");
    assert_eq!(row.raw, garbage);
    assert_eq!(row.key.as_deref(), Some(&b"3760145620019"[..]));
    assert_eq!(row.record_type, "offer_signal");
    assert_eq!(row.original_topic.as_deref(), Some(offers_topic.as_str()));
    assert_eq!(row.original_partition, Some(row.kafka_partition));
    assert_eq!(row.original_offset, Some(row.kafka_offset));
    assert_eq!(row.kafka_topic, offers_topic);
    assert!(row.detail.contains(&offers_topic), "{}", row.detail);
    drop_database(&client, &config.clickhouse.database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_sink_restarted_with_its_group_loses_and_duplicates_nothing() {
    let config = test_config(&clickhouse_url());
    let (client, producer) = prepare(&config).await;
    let expected = producer.every_contract(0, 40).await;

    crash_sink_when(
        &config,
        wait_for("a few batches stored", async || {
            counts(&client).await.values().sum::<u64>() >= 60
        }),
    )
    .await;
    let after_crash = counts(&client).await;
    assert!(
        after_crash.values().sum::<u64>() < expected.values().sum::<u64>(),
        "the crash came too late to test anything: {after_crash:?}"
    );

    run_sink_until(&config, wait_for_counts(&client, &expected)).await;
    assert_no_duplicates(&client).await;

    // The worst crash: everything stored, nothing committed. A group without offsets reads
    // every record again; each is recognised in ClickHouse and none is stored twice.
    let mut uncommitted = config.clone();
    uncommitted.sink.group_id = unique_name("sink_fresh_group");
    let every_record = expected.values().sum::<u64>() as i64;
    run_sink_until(
        &uncommitted,
        wait_for("the fresh group to commit every record", async || {
            committed_records(&uncommitted).await == every_record
        }),
    )
    .await;
    assert_eq!(counts(&client).await, expected);
    assert_no_duplicates(&client).await;
    drop_database(&client, &config.clickhouse.database).await;
}

/// How many records the sink's group committed, over every partition of its topics.
async fn committed_records(config: &Config) -> i64 {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let group = config.sink.group_id(&config.kafka.group_id);
        let consumer: BaseConsumer = hub::kafka::consumer_config(&config.kafka, &group)
            .create()
            .expect("consumer");
        let topics = hub::wiring::topic_names(&config).expect("valid prefix");
        let mut partitions = TopicPartitionList::new();
        for topic in [
            Topic::ReferenceProducts,
            Topic::SignalsOffers,
            Topic::SignalsStock,
            Topic::SignalsCosts,
            Topic::ScoresHistory,
            Topic::Quarantine,
        ] {
            for partition in 0..config.kafka.partitions {
                partitions.add_partition(topics.name(topic), partition);
            }
        }
        consumer
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("committed offsets")
            .elements()
            .iter()
            .map(|element| match element.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            })
            .sum()
    })
    .await
    .expect("reading committed offsets did not panic")
}

/// A ClickHouse stand-in of the test's own, on a free port with its own data directory, so
/// it can be stopped without disturbing other tests.
struct OwnStandIn {
    port: u16,
    data_dir: PathBuf,
    process: Option<Child>,
}

impl OwnStandIn {
    fn new() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let data_dir = std::env::temp_dir().join(unique_name("sink_standin"));
        OwnStandIn {
            port,
            data_dir,
            process: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let python = std::env::var("HUB_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_owned());
        let server =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../devtools/clickhouse-http/server.py");
        let child = Command::new(&python)
            .arg(&server)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--data-dir",
            ])
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {python} {}: {error}", server.display()));
        self.process = Some(child);
        let url = format!("{}/ping", self.url());
        wait_for("the own ClickHouse stand-in to answer", async || {
            reqwest::get(&url)
                .await
                .is_ok_and(|response| response.status().is_success())
        })
        .await;
    }

    /// Stops it as SIGTERM does in production, and waits until it has exited.
    fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "SIGTERM delivered");
            child.wait().expect("stand-in exits");
        }
    }
}

impl Drop for OwnStandIn {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_a_while_loses_and_duplicates_nothing() {
    let mut standin = OwnStandIn::new();
    standin.start().await;
    let config = test_config(&standin.url());
    let (client, producer) = prepare(&config).await;
    let before = producer.every_contract(0, 20).await;

    let mut expected = before.clone();
    for count in expected.values_mut() {
        *count += 30;
    }
    run_sink_until(&config, async {
        wait_for_counts(&client, &before).await;
        standin.stop();
        producer.every_contract(20, 30).await;
        // Long enough for every attempt of a batch to fail and consumption to pause.
        tokio::time::sleep(Duration::from_secs(4)).await;
        standin.start().await;
        wait_for_counts(&client, &expected).await;
    })
    .await;
    assert_no_duplicates(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sink_joining_while_the_first_holds_batches_stores_nothing_twice() {
    let mut config = test_config(&clickhouse_url());
    // Batches wait long enough for the second sink to join while the first still holds the
    // rows of partitions it is about to lose.
    config.sink.batch_max_rows = 10_000;
    config.sink.batch_max_delay_ms = 10_000;
    let (client, producer) = prepare(&config).await;
    let expected = producer.every_contract(0, 40).await;

    let (stop_first, first_stopped) = oneshot::channel::<()>();
    let first = tokio::spawn({
        let config = config.clone();
        async move {
            hub::sink::run(&config, async {
                let _ = first_stopped.await;
            })
            .await
        }
    });
    // Time for the first sink to join the group and batch what the topics hold; nothing can
    // be stored before its batches are due.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        counts(&client).await.values().all(|&rows| rows == 0),
        "the first sink stored rows before the second joined: nothing left to test"
    );
    run_sink_until(&config, wait_for_counts(&client, &expected)).await;
    stop_first.send(()).expect("the first sink still runs");
    tokio::time::timeout(WAIT, first)
        .await
        .expect("the first sink stops within the timeout")
        .expect("the first sink's task ends")
        .expect("the first sink stops cleanly");
    assert_eq!(counts(&client).await, expected);
    assert_no_duplicates(&client).await;
    drop_database(&client, &config.clickhouse.database).await;
}
