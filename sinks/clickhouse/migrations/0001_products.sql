-- Stable reference data, one row per GTIN once merged: the newest `updated_at` wins, so a
-- replayed or re-consumed reference never goes back in time. Read with FINAL (or argMax)
-- when exactness matters before background merges have run.
CREATE TABLE IF NOT EXISTS products
(
    gtin String,
    sku String,
    title String,
    brand LowCardinality(Nullable(String)),
    category LowCardinality(String),
    vat_rate Decimal(9, 6),
    weight_g Nullable(Int32),
    length_mm Nullable(Int32),
    width_mm Nullable(Int32),
    height_mm Nullable(Int32),
    levies Nested
    (
        kind LowCardinality(String),
        amount_incl_vat Decimal(18, 4)
    ),
    source LowCardinality(String),
    updated_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY gtin
SETTINGS non_replicated_deduplication_window = 1000;
