-- Records refused by the quality gate, with their original bytes so they can be replayed
-- after a fix. Same retention as the signals they mostly come from.
CREATE TABLE IF NOT EXISTS quarantine
(
    source LowCardinality(String),
    record_type LowCardinality(String),
    original_topic LowCardinality(Nullable(String)),
    original_partition Nullable(Int32),
    original_offset Nullable(Int64),
    key Nullable(String),
    raw String,
    gtin Nullable(String),
    reason_code LowCardinality(String),
    detail String,
    observed_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (reason_code, observed_at)
TTL toDateTime(observed_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;
