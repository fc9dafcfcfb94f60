-- One row per refused record. A processor that restarts after a crash handles its
-- uncommitted batch again and publishes its refusals again, at other positions of
-- hub.quarantine, so `quarantine` can hold a record's refusal more than once (identical but
-- for that position). This view keeps one per original record: per original topic,
-- partition and offset, or, for a connector's refusal (no original record in Kafka), per
-- position in hub.quarantine. Counts and lists read it; `quarantine` keeps every copy.
CREATE VIEW IF NOT EXISTS quarantine_records AS
SELECT *
FROM quarantine
LIMIT 1 BY
    ifNull(original_topic, kafka_topic),
    ifNull(original_partition, kafka_partition),
    ifNull(original_offset, kafka_offset);
