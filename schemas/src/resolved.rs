//! apache-avro's writer and reader with their schema resolved once, not per record.
//!
//! `to_avro_datum` and `from_avro_datum` resolve the schema's named types again on every
//! call (twice when writing: once to validate, once to encode), which for the nested score
//! record costs about as much as the encoding itself. The single-object writer and reader
//! keep a resolved schema; apache-avro 0.21 offers no other public API that does.

use std::sync::{LazyLock, Mutex, PoisonError};

use apache_avro::headers::HeaderBuilder;
use apache_avro::types::Value;
use apache_avro::{GenericSingleObjectReader, GenericSingleObjectWriter, Schema};

use crate::contract::Contract;
use crate::framing::{DatumError, SINGLE_OBJECT_MAGIC};

/// A header given as bytes. apache-avro's default header fingerprints its own canonical
/// form, which departs from the specification's (see `canonical.rs`), so the contracts'
/// single-object header is built from our fingerprint; a datum reader reads no header.
struct FixedHeader(Vec<u8>);

impl HeaderBuilder for FixedHeader {
    fn build_header(&self) -> Vec<u8> {
        self.0.clone()
    }
}

/// Reads bare Avro datums written with one schema, whose named types were resolved when
/// the reader was built.
pub(crate) struct DatumReader(GenericSingleObjectReader);

impl std::fmt::Debug for DatumReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatumReader")
    }
}

impl DatumReader {
    pub(crate) fn new(writer_schema: &Schema) -> Result<Self, apache_avro::Error> {
        GenericSingleObjectReader::new_with_header_builder(
            writer_schema.clone(),
            FixedHeader(Vec::new()),
        )
        .map(DatumReader)
    }

    /// The value of `datum`, which must hold exactly one datum.
    pub(crate) fn read(&self, datum: &[u8]) -> Result<Value, DatumError> {
        let mut rest = datum;
        let value = self
            .0
            .read_value(&mut rest)
            .map_err(DatumError::Malformed)?;
        if !rest.is_empty() {
            return Err(DatumError::TrailingBytes(rest.len()));
        }
        Ok(value)
    }
}

/// The resolved writer and reader of one contract's current schema.
struct ContractCodec {
    contract: Contract,
    /// Writes the single-object header then the datum. Writing needs `&mut`: encoders on
    /// every thread share this one, each holding it for one record's encoding.
    writer: Mutex<GenericSingleObjectWriter>,
    reader: DatumReader,
}

fn single_object_writer(contract: Contract) -> GenericSingleObjectWriter {
    let mut header = SINGLE_OBJECT_MAGIC.to_vec();
    header.extend_from_slice(&contract.fingerprint().0);
    // The embedded schemas are parsed and resolved by every test run: a failure is a
    // broken build, not bad input.
    GenericSingleObjectWriter::new_with_capacity_and_header_builder(
        contract.schema(),
        1024,
        FixedHeader(header),
    )
    .unwrap_or_else(|error| panic!("embedded schema {}: {error}", contract.file_name()))
}

static CODECS: LazyLock<Vec<ContractCodec>> = LazyLock::new(|| {
    Contract::ALL
        .into_iter()
        .map(|contract| ContractCodec {
            contract,
            writer: Mutex::new(single_object_writer(contract)),
            reader: DatumReader::new(contract.schema()).unwrap_or_else(|error| {
                panic!("embedded schema {}: {error}", contract.file_name())
            }),
        })
        .collect()
});

fn codec(contract: Contract) -> &'static ContractCodec {
    let codec = &CODECS[contract.index()];
    debug_assert_eq!(codec.contract, contract);
    codec
}

/// Appends `value`, a `contract` record, to `out` in single-object encoding (header, then
/// datum), validating it against the contract's schema first.
pub(crate) fn write_single_object(
    contract: Contract,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), apache_avro::Error> {
    let mut writer = codec(contract)
        .writer
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    writer
        .write_value_ref(value, out)
        .map(drop)
        .inspect_err(|_| {
            // A write that fails half-way leaves its bytes in apache-avro's buffer, which then
            // refuses every later write: start again from a fresh writer.
            *writer = single_object_writer(contract);
        })
}

/// Reads one datum written with `contract`'s current schema.
pub(crate) fn read_current(contract: Contract, datum: &[u8]) -> Result<Value, DatumError> {
    codec(contract).reader.read(datum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::AvroRecord;
    use crate::records::{StockSignal, StockSource};

    fn stock() -> StockSignal {
        StockSignal {
            gtin: "3017620422003".into(),
            stock_source: StockSource::Supplier,
            location: Some("Lyon".into()),
            quantity: 12,
            incoming_quantity: None,
            lead_time_days: Some(3),
            source: "supplier:acme".into(),
            request_id: None,
            observed_at: 1_767_225_600_123,
        }
    }

    #[test]
    fn resolved_once_writes_and_reads_what_the_per_call_functions_do() {
        let contract = Contract::StockSignal;
        let value = stock().to_avro().expect("a valid record");
        let mut out = Vec::new();
        write_single_object(contract, &value, &mut out).expect("written");
        let datum = apache_avro::to_avro_datum(contract.schema(), value.clone()).expect("written");
        assert_eq!(out[..2], SINGLE_OBJECT_MAGIC);
        assert_eq!(out[2..10], contract.fingerprint().0);
        assert_eq!(out[10..], datum[..]);
        assert_eq!(read_current(contract, &datum).expect("read"), value);
        let mut long = datum.clone();
        long.push(0);
        assert!(matches!(
            read_current(contract, &long),
            Err(DatumError::TrailingBytes(1))
        ));
    }

    #[test]
    fn a_refused_value_leaves_the_writer_usable() {
        let contract = Contract::StockSignal;
        let mut out = Vec::new();
        write_single_object(contract, &Value::Record(Vec::new()), &mut out)
            .expect_err("an empty record is not a StockSignal");
        assert!(out.is_empty(), "nothing written for a refused value");
        let value = stock().to_avro().expect("a valid record");
        write_single_object(contract, &value, &mut out).expect("the next record is written");
        assert_eq!(
            StockSignal::from_avro(read_current(contract, &out[10..]).unwrap()).unwrap(),
            stock()
        );
    }
}
