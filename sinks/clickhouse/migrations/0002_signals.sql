-- Signal histories: every observation is kept (append-only MergeTree), partitioned by month
-- so retention drops whole partitions. The Kafka position columns identify each row's
-- source message, so a re-consumed message can be recognised and a batch's insert
-- deduplication token derived from them. `non_replicated_deduplication_window` enables
-- `insert_deduplication_token` on a non-replicated server (Replicated* tables always have it).
CREATE TABLE IF NOT EXISTS offer_signals
(
    gtin String,
    channel LowCardinality(String),
    currency LowCardinality(String),
    our_price_incl_vat Nullable(Decimal(18, 4)),
    our_shipping_incl_vat Nullable(Decimal(18, 4)),
    buy_box_price_incl_vat Nullable(Decimal(18, 4)),
    we_own_buy_box Nullable(Bool),
    lowest_listing_price_incl_vat Nullable(Decimal(18, 4)),
    lowest_shipping_incl_vat Nullable(Decimal(18, 4)),
    lowest_landed_price_incl_vat Nullable(Decimal(18, 4)),
    offer_count Nullable(Int32),
    sales_rank Nullable(Int64),
    marketplace_category Nullable(String),
    source LowCardinality(String),
    request_id Nullable(String),
    observed_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (gtin, channel, observed_at)
TTL toDateTime(observed_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS stock_signals
(
    gtin String,
    stock_source LowCardinality(String),
    location Nullable(String),
    quantity Int64,
    incoming_quantity Nullable(Int64),
    lead_time_days Nullable(Int32),
    source LowCardinality(String),
    request_id Nullable(String),
    observed_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (gtin, stock_source, observed_at)
TTL toDateTime(observed_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS cost_signals
(
    gtin String,
    cost_kind LowCardinality(String),
    supplier_id Nullable(String),
    unit_cost_excl_vat Decimal(18, 4),
    currency LowCardinality(String),
    moq Nullable(Int32),
    valid_from Nullable(DateTime64(3, 'UTC')),
    valid_to Nullable(DateTime64(3, 'UTC')),
    lead_time_days Nullable(Int32),
    source LowCardinality(String),
    request_id Nullable(String),
    observed_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (gtin, cost_kind, observed_at)
TTL toDateTime(observed_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;
