-- Every score version once. Processing is at least once: after a crash the processor
-- replays its uncommitted batch and emits the same versions again (byte-identical), so
-- `scores` may hold a version twice. This table keeps one row per (gtin, channel, version)
-- once merged, and exactly one with FINAL: the history to count and audit versions on.
CREATE TABLE IF NOT EXISTS score_versions AS scores
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(scored_at)
ORDER BY (gtin, channel, version);

CREATE MATERIALIZED VIEW IF NOT EXISTS score_versions_mv TO score_versions
AS SELECT * FROM scores;

-- The history stored before this migration. A re-run after an interruption inserts it
-- again, which the engine absorbs like any replayed version.
INSERT INTO score_versions SELECT * FROM scores;
