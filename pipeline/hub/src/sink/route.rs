//! From a consumed record to the row of its table: the topics the sink reads, the table each
//! feeds, and one batching writer per table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clickhouse::Client;
use hub_core::reason::{Provenance, Quarantine, ReasonCode, RecordType};
use hub_schemas::records::{
    CostSignal, OfferSignal, ProductReference, QuarantinedRecord, ReferenceScore, StockSignal,
};
use hub_schemas::{DecodeError, Decoder, Topic, TopicNames};
use hub_sink_clickhouse::rows::{
    ConversionError, CostSignalRow, OfferSignalRow, ProductRow, QuarantineRow, ScoreRow,
    StockSignalRow,
};
use hub_sink_clickhouse::{
    BatchReceipt, BatchWriter, KafkaPosition, SinkRow, Sourced, WriteError, WriterConfig,
};

/// A topic the sink consumes. `scores.current` is not one: its table is fed from `scores`
/// by a materialized view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Products,
    Offers,
    Stock,
    Costs,
    ScoresHistory,
    Quarantine,
}

impl Input {
    pub const ALL: [Input; 6] = [
        Input::ScoresHistory,
        Input::Products,
        Input::Offers,
        Input::Stock,
        Input::Costs,
        Input::Quarantine,
    ];

    pub fn topic(self) -> Topic {
        match self {
            Input::Products => Topic::ReferenceProducts,
            Input::Offers => Topic::SignalsOffers,
            Input::Stock => Topic::SignalsStock,
            Input::Costs => Topic::SignalsCosts,
            Input::ScoresHistory => Topic::ScoresHistory,
            Input::Quarantine => Topic::Quarantine,
        }
    }

    /// The table its records are stored in when they decode.
    pub fn table(self) -> Table {
        match self {
            Input::Products => Table::Products,
            Input::Offers => Table::OfferSignals,
            Input::Stock => Table::StockSignals,
            Input::Costs => Table::CostSignals,
            Input::ScoresHistory => Table::Scores,
            Input::Quarantine => Table::Quarantine,
        }
    }

    /// Every table a record of this topic can land in, so a restart can tell which of its
    /// offsets are already stored.
    pub fn tables(self) -> Vec<Table> {
        let mut tables = vec![self.table()];
        if self.table() != Table::Quarantine {
            tables.push(Table::Quarantine);
        }
        tables
    }

    fn record_type(self) -> RecordType {
        match self {
            Input::Products => RecordType::ProductReference,
            Input::Offers => RecordType::OfferSignal,
            Input::Stock => RecordType::StockSignal,
            Input::Costs => RecordType::CostSignal,
            // The quarantine vocabulary has no type for these two contracts.
            Input::ScoresHistory | Input::Quarantine => RecordType::Unknown,
        }
    }

    /// The input a full topic name belongs to.
    pub fn of(topics: &TopicNames, name: &str) -> Option<Input> {
        let topic = topics.topic(name)?;
        Input::ALL.into_iter().find(|input| input.topic() == topic)
    }
}

/// A ClickHouse table the sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Products,
    OfferSignals,
    StockSignals,
    CostSignals,
    Scores,
    Quarantine,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Products,
        Table::OfferSignals,
        Table::StockSignals,
        Table::CostSignals,
        Table::Scores,
        Table::Quarantine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Products => ProductRow::TABLE,
            Table::OfferSignals => OfferSignalRow::TABLE,
            Table::StockSignals => StockSignalRow::TABLE,
            Table::CostSignals => CostSignalRow::TABLE,
            Table::Scores => ScoreRow::TABLE,
            Table::Quarantine => QuarantineRow::TABLE,
        }
    }

    /// The `component_id` of the table's writer in metrics.
    pub fn component_id(self) -> String {
        format!("clickhouse.{}", self.name())
    }
}

/// A row ready for its table's writer.
#[derive(Debug)]
pub enum Row {
    Product(ProductRow),
    Offer(OfferSignalRow),
    Stock(StockSignalRow),
    Cost(CostSignalRow),
    /// Boxed: a score row is several times larger than the others.
    Score(Box<ScoreRow>),
    Quarantine(QuarantineRow),
}

impl Row {
    pub fn table(&self) -> Table {
        match self {
            Row::Product(_) => Table::Products,
            Row::Offer(_) => Table::OfferSignals,
            Row::Stock(_) => Table::StockSignals,
            Row::Cost(_) => Table::CostSignals,
            Row::Score(_) => Table::Scores,
            Row::Quarantine(_) => Table::Quarantine,
        }
    }
}

/// Why a record cannot become a row of its own table.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The writer schema could not be fetched from the registry: the record itself may be
    /// fine, so it is retried rather than quarantined.
    #[error("{0}")]
    RegistryUnavailable(DecodeError),
    #[error("{0}")]
    Decode(DecodeError),
    #[error("{0}")]
    Convert(#[from] ConversionError),
}

impl From<DecodeError> for Rejection {
    fn from(error: DecodeError) -> Self {
        match &error {
            DecodeError::Registry { cause, .. } if cause.is_retryable() => {
                Rejection::RegistryUnavailable(error)
            }
            _ => Rejection::Decode(error),
        }
    }
}

/// A consumed record, as the sink needs it.
pub struct Consumed<'a> {
    pub input: Input,
    pub position: KafkaPosition,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// Decodes the record with its topic's contract and converts it to its table's row.
pub async fn to_row(decoder: &Decoder, record: &Consumed<'_>) -> Result<Row, Rejection> {
    let topic = record.input.topic();
    let position = record.position.clone();
    let payload = record.payload;
    Ok(match record.input {
        Input::Products => {
            let decoded: ProductReference = decoder.decode(topic, payload).await?;
            Row::Product(ProductRow::try_from(Sourced::new(decoded, position))?)
        }
        Input::Offers => {
            let decoded: OfferSignal = decoder.decode(topic, payload).await?;
            Row::Offer(OfferSignalRow::try_from(Sourced::new(decoded, position))?)
        }
        Input::Stock => {
            let decoded: StockSignal = decoder.decode(topic, payload).await?;
            Row::Stock(StockSignalRow::from(Sourced::new(decoded, position)))
        }
        Input::Costs => {
            let decoded: CostSignal = decoder.decode(topic, payload).await?;
            Row::Cost(CostSignalRow::try_from(Sourced::new(decoded, position))?)
        }
        Input::ScoresHistory => {
            let decoded: ReferenceScore = decoder.decode(topic, payload).await?;
            Row::Score(Box::new(ScoreRow::try_from(Sourced::new(
                decoded, position,
            ))?))
        }
        Input::Quarantine => {
            let decoded: QuarantinedRecord = decoder.decode(topic, payload).await?;
            Row::Quarantine(QuarantineRow::from(Sourced::new(decoded, position)))
        }
    })
}

/// The quarantine row of a record that cannot be stored in its own table: its raw bytes,
/// key and position, so it can be replayed once its producer or the contract is fixed.
pub fn quarantine_row(record: &Consumed<'_>, rejection: &Rejection) -> QuarantineRow {
    let gtin = match rejection {
        Rejection::Convert(error) => Some(error.key.clone()),
        Rejection::Decode(_) | Rejection::RegistryUnavailable(_) => None,
    };
    let position = &record.position;
    let quarantined = Quarantine::new(ReasonCode::Undecodable, rejection.to_string()).into_record(
        record.payload.to_vec(),
        gtin,
        Provenance::from_topic(
            position.topic.clone(),
            record.input.record_type(),
            position.partition,
            position.offset,
            record.key.map(<[u8]>::to_vec),
        ),
        now_millis(),
    );
    QuarantineRow::from(Sourced::new(quarantined, position.clone()))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Calls `$body` with `$writer` bound to the writer of `$table`: the writers have six
/// different row types, so they cannot sit in one collection.
macro_rules! with_writer {
    ($writers:expr, $table:expr, |$writer:ident| $body:expr) => {
        match $table {
            Table::Products => {
                let $writer = &mut $writers.products;
                $body
            }
            Table::OfferSignals => {
                let $writer = &mut $writers.offers;
                $body
            }
            Table::StockSignals => {
                let $writer = &mut $writers.stock;
                $body
            }
            Table::CostSignals => {
                let $writer = &mut $writers.costs;
                $body
            }
            Table::Scores => {
                let $writer = &mut $writers.scores;
                $body
            }
            Table::Quarantine => {
                let $writer = &mut $writers.quarantine;
                $body
            }
        }
    };
}

/// One batching writer per table.
pub struct Writers {
    products: BatchWriter<ProductRow>,
    offers: BatchWriter<OfferSignalRow>,
    stock: BatchWriter<StockSignalRow>,
    costs: BatchWriter<CostSignalRow>,
    scores: BatchWriter<ScoreRow>,
    quarantine: BatchWriter<QuarantineRow>,
}

impl Writers {
    pub fn new(client: &Client, config: &WriterConfig) -> Self {
        Writers {
            products: BatchWriter::new(client.clone(), config.clone()),
            offers: BatchWriter::new(client.clone(), config.clone()),
            stock: BatchWriter::new(client.clone(), config.clone()),
            costs: BatchWriter::new(client.clone(), config.clone()),
            scores: BatchWriter::new(client.clone(), config.clone()),
            quarantine: BatchWriter::new(client.clone(), config.clone()),
        }
    }

    /// Buffers the row; sends its table's batch when full.
    pub async fn write(&mut self, row: Row) -> Result<Option<BatchReceipt>, WriteError> {
        match row {
            Row::Product(row) => self.products.write(row).await,
            Row::Offer(row) => self.offers.write(row).await,
            Row::Stock(row) => self.stock.write(row).await,
            Row::Cost(row) => self.costs.write(row).await,
            Row::Score(row) => self.scores.write(*row).await,
            Row::Quarantine(row) => self.quarantine.write(row).await,
        }
    }

    pub async fn flush(&mut self, table: Table) -> Result<Option<BatchReceipt>, WriteError> {
        with_writer!(self, table, |writer| writer.flush().await)
    }

    pub async fn flush_if_due(&mut self, table: Table) -> Result<Option<BatchReceipt>, WriteError> {
        with_writer!(self, table, |writer| writer.flush_if_due().await)
    }

    /// Drops the rows of a revoked partition from every batch not sent yet, and names the
    /// tables whose batches no longer hold any (see [`BatchWriter::drop_partition`]).
    pub fn drop_partition(&mut self, topic: &str, partition: i32) -> Vec<Table> {
        Table::ALL
            .into_iter()
            .filter(|&table| {
                with_writer!(self, table, |writer| writer
                    .drop_partition(topic, partition))
            })
            .collect()
    }

    pub fn pending_rows(&mut self, table: Table) -> usize {
        with_writer!(self, table, |writer| writer.pending_rows())
    }

    /// Time until the first table's batch is due; `None` when nothing is buffered.
    pub fn next_due(&mut self) -> Option<Duration> {
        Table::ALL
            .into_iter()
            .filter_map(|table| with_writer!(self, table, |writer| writer.time_left()))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use hub_schemas::{Encoder, Framing};

    use super::*;

    fn consumed(input: Input, payload: &[u8]) -> Consumed<'_> {
        Consumed {
            input,
            position: KafkaPosition {
                topic: TopicNames::default().name(input.topic()).to_owned(),
                partition: 4,
                offset: 17,
            },
            key: Some(b"3760145620019"),
            payload,
        }
    }

    #[test]
    fn every_input_has_its_own_topic_and_table() {
        let names = TopicNames::default();
        for input in Input::ALL {
            assert_eq!(Input::of(&names, names.name(input.topic())), Some(input));
            assert_eq!(input.tables()[0], input.table());
            assert!(input.tables().contains(&Table::Quarantine));
        }
        assert_eq!(Input::of(&names, names.name(Topic::ScoresCurrent)), None);
        let tables: std::collections::BTreeSet<_> = Input::ALL.map(Input::table).into();
        assert_eq!(tables.len(), Table::ALL.len());
    }

    #[tokio::test]
    async fn an_undecodable_record_becomes_a_quarantine_row_with_its_raw_bytes() {
        let decoder = Decoder::new(&Framing::SingleObject, TopicNames::default());
        let payload = b"not avro at all";
        let record = consumed(Input::Offers, payload);
        let rejection = to_row(&decoder, &record).await.unwrap_err();
        assert!(matches!(rejection, Rejection::Decode(_)), "{rejection:?}");
        let row = quarantine_row(&record, &rejection);
        assert_eq!(row.reason_code, "UNDECODABLE");
        assert_eq!(row.raw, payload);
        assert_eq!(row.key.as_deref(), Some(&b"3760145620019"[..]));
        assert_eq!(row.record_type, "offer_signal");
        assert_eq!(row.original_topic.as_deref(), Some("hub.signals.offers"));
        assert_eq!(
            (row.original_partition, row.original_offset),
            (Some(4), Some(17))
        );
        assert_eq!(
            (
                row.kafka_topic.as_str(),
                row.kafka_partition,
                row.kafka_offset
            ),
            ("hub.signals.offers", 4, 17)
        );
        assert!(row.detail.contains("hub.signals.offers"), "{}", row.detail);
    }

    #[tokio::test]
    async fn a_record_of_another_contract_is_refused_not_misread() {
        let names = TopicNames::default();
        let encoder = Encoder::single_object(names.clone());
        let decoder = Decoder::new(&Framing::SingleObject, names);
        let stock = StockSignal {
            gtin: "3760145620019".into(),
            stock_source: hub_schemas::records::StockSource::Erp,
            location: None,
            quantity: 3,
            incoming_quantity: None,
            lead_time_days: None,
            source: "erp".into(),
            request_id: None,
            observed_at: 1_700_000_000_000,
        };
        let payload = encoder.encode(Topic::SignalsStock, &stock).unwrap();
        let row = to_row(&decoder, &consumed(Input::Stock, &payload))
            .await
            .unwrap();
        assert_eq!(row.table(), Table::StockSignals);
        let error = to_row(&decoder, &consumed(Input::Offers, &payload))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Rejection::Decode(DecodeError::WrongContract { .. })),
            "{error}"
        );
    }
}
