-- Score history: every version of every (gtin, channel) score, with the margin lines as
-- columns (all NULL when the margin could not be computed) and the factors as a Nested
-- column, so `ARRAY JOIN factors` explains a score in SQL.
CREATE TABLE IF NOT EXISTS scores
(
    gtin String,
    channel LowCardinality(String),
    version Int64,
    score Decimal(9, 4),
    confidence Decimal(9, 4),
    factors Nested
    (
        name LowCardinality(String),
        raw_value Nullable(Decimal(18, 6)),
        normalised Decimal(9, 6),
        weight Decimal(9, 6),
        contribution Decimal(9, 4),
        explanation String
    ),
    missing_inputs Array(LowCardinality(String)),
    margin_currency LowCardinality(Nullable(String)),
    margin_price_incl_vat Nullable(Decimal(18, 4)),
    margin_shipping_incl_vat Nullable(Decimal(18, 4)),
    margin_levies_incl_vat Nullable(Decimal(18, 4)),
    margin_revenue_excl_vat Nullable(Decimal(18, 4)),
    margin_commission_excl_vat Nullable(Decimal(18, 4)),
    margin_digital_services_fee_excl_vat Nullable(Decimal(18, 4)),
    margin_fulfilment_method LowCardinality(Nullable(String)),
    margin_fulfilment_fee_excl_vat Nullable(Decimal(18, 4)),
    margin_subscription_per_unit_excl_vat Nullable(Decimal(18, 4)),
    margin_operational_cost_excl_vat Nullable(Decimal(18, 4)),
    margin_product_cost_excl_vat Nullable(Decimal(18, 4)),
    margin_product_cost_source Nullable(String),
    margin_net_margin_excl_vat Nullable(Decimal(18, 4)),
    margin_rate Nullable(Decimal(18, 6)),
    margin_roi Nullable(Decimal(18, 6)),
    action LowCardinality(String),
    action_rule String,
    target_price_incl_vat Nullable(Decimal(18, 4)),
    weights_profile LowCardinality(String),
    weights_version LowCardinality(String),
    fee_schedule_version LowCardinality(String),
    offer_observed_at Nullable(DateTime64(3, 'UTC')),
    stock_observed_at Nullable(DateTime64(3, 'UTC')),
    cost_observed_at Nullable(DateTime64(3, 'UTC')),
    scored_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(scored_at)
ORDER BY (gtin, channel, version)
SETTINGS non_replicated_deduplication_window = 1000;

-- The latest score per (gtin, channel): the highest version survives merges (read with
-- FINAL for an exact answer before they run).
CREATE TABLE IF NOT EXISTS scores_current AS scores
ENGINE = ReplacingMergeTree(version)
ORDER BY (gtin, channel);

-- Fed from `scores` by a materialized view rather than written by the sink: one write path,
-- so the current table can never hold a score the history lacks, and the sink needs no
-- second consumer of hub.scores.current. A deduplicated (retried) insert into `scores` is
-- not pushed to the view either, and ReplacingMergeTree(version) absorbs any replay.
CREATE MATERIALIZED VIEW IF NOT EXISTS scores_current_mv TO scores_current
AS SELECT * FROM scores;
