-- `scores_current` was created `AS scores`, which also copied the history's monthly
-- partitions, and a ReplacingMergeTree replaces a row by a newer version only within one
-- partition: a (gtin, channel) scored in two months kept both rows for good, seen by every
-- read without FINAL and never merged away. The current table holds one row per pair and
-- needs no partitions. CREATE OR REPLACE swaps it atomically; the materialized view names
-- its target, so it feeds the new table from then on. The latest score of every pair is then
-- copied from the history; a row the view adds meanwhile is a version the history holds too,
-- and merges with it. Both statements can run again.
CREATE OR REPLACE TABLE scores_current AS scores
ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (gtin, channel);

INSERT INTO scores_current
SELECT * FROM scores
ORDER BY gtin, channel, version DESC
LIMIT 1 BY gtin, channel;
