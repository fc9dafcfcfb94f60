//! Splitting a supplier file into rows the mapping reads: a CSV line keyed by its header, or a
//! JSON object flattened to dotted paths (`"stock.available"`). Each row keeps the bytes it
//! came from, so a row that cannot be mapped is quarantined as the supplier wrote it.

use std::collections::BTreeMap;

use encoding_rs::Encoding;
use hub_core::mapping::SupplierMapping;
use serde_json::value::RawValue;

/// One row of a supplier file, before mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// Where the row is in its file: `L<line>` for CSV (line 1 is the header), a JSON pointer
    /// (`/items/3`) for JSON.
    pub locator: String,
    /// The row's number for mapping errors: the CSV line, or the JSON element's index + 1.
    pub number: u64,
    pub fields: BTreeMap<String, String>,
    /// The row's bytes as received (a CSV line without its terminator, a JSON element).
    pub raw: Vec<u8>,
}

/// A row, or a part of the file that is not a readable row (a CSV line that does not decode
/// in the mapping's encoding or has more fields than the header, a JSON element that is not
/// an object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRead {
    Row(FeedRow),
    Unreadable {
        locator: String,
        problem: String,
        raw: Vec<u8>,
    },
}

/// A file whose rows cannot be found at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedFileError {
    #[error("the CSV header {problem}")]
    CsvHeader { problem: String },
    #[error("CSV line {line} cannot be split: {problem}")]
    Csv { line: u64, problem: String },
    #[error("the JSON document does not decode in {encoding}")]
    JsonEncoding { encoding: &'static str },
    #[error("the file is not a JSON document: {problem}")]
    Json { problem: String },
    #[error("the JSON document has no array of records at {path:?} (mapping's json_records)")]
    JsonRecords { path: String },
}

/// Reads a CSV file with the mapping's delimiter and encoding. The file is split on its raw
/// bytes (the encodings a mapping may name keep ASCII delimiters and quotes as they are) and
/// each field is decoded on its own, so one badly encoded line is refused alone.
pub fn csv_rows(
    mapping: &SupplierMapping,
    delimiter: char,
    bytes: &[u8],
) -> Result<Vec<RowRead>, FeedFileError> {
    let encoding = mapping.file_encoding();
    let bytes = without_utf8_bom(encoding, bytes);
    let delimiter = u8::try_from(delimiter).map_err(|_| FeedFileError::CsvHeader {
        problem: format!("cannot be split on the non-ASCII delimiter {delimiter:?}"),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);

    let mut header_record = csv::ByteRecord::new();
    let has_header = reader
        .read_byte_record(&mut header_record)
        .map_err(|error| FeedFileError::CsvHeader {
            problem: error.to_string(),
        })?;
    if !has_header {
        return Err(FeedFileError::CsvHeader {
            problem: "is missing: the file is empty".to_owned(),
        });
    }
    let header = header_record
        .iter()
        .map(|name| decode(encoding, name).map(|name| name.trim().to_owned()))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| FeedFileError::CsvHeader {
            problem: format!("does not decode in {}", encoding.name()),
        })?;

    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|error| FeedFileError::Csv {
                line: reader.position().line(),
                problem: error.to_string(),
            })?;
        if !more {
            break;
        }
        // The record's position can sit on the end of the previous line (the `\n` of a `\r\n`)
        // or on blank lines the reader skipped: its bytes and line start after them.
        let start = record
            .position()
            .map_or_else(|| reader.position().byte(), csv::Position::byte);
        let end = reader.position().byte();
        let (skipped_lines, raw) = line_bytes(&bytes[position(start)..position(end)]);
        let line = record.position().map_or(0, csv::Position::line) + skipped_lines;
        let raw = raw.to_vec();
        let locator = format!("L{line}");
        if record
            .iter()
            .all(|field| field.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if record.len() > header.len() {
            rows.push(RowRead::Unreadable {
                locator,
                problem: format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    header.len()
                ),
                raw,
            });
            continue;
        }
        let decoded: Option<BTreeMap<String, String>> = header
            .iter()
            .zip(record.iter())
            .map(|(name, value)| decode(encoding, value).map(|value| (name.clone(), value)))
            .collect();
        match decoded {
            Some(fields) => rows.push(RowRead::Row(FeedRow {
                locator,
                number: line,
                fields,
                raw,
            })),
            None => rows.push(RowRead::Unreadable {
                locator,
                problem: format!("does not decode in {}", encoding.name()),
                raw,
            }),
        }
    }
    Ok(rows)
}

/// Reads a JSON feed: the array at the mapping's `json_records` path (or the document itself),
/// each object flattened to dotted paths. Numbers keep the digits the supplier wrote (they
/// never go through a float).
pub fn json_rows(mapping: &SupplierMapping, bytes: &[u8]) -> Result<Vec<RowRead>, FeedFileError> {
    let encoding = mapping.file_encoding();
    let text =
        decode(encoding, without_utf8_bom(encoding, bytes)).ok_or(FeedFileError::JsonEncoding {
            encoding: encoding.name(),
        })?;
    let document: Box<RawValue> =
        serde_json::from_str(&text).map_err(|error| FeedFileError::Json {
            problem: error.to_string(),
        })?;
    let path = mapping.json_records.as_deref().unwrap_or("");
    let records_error = || FeedFileError::JsonRecords {
        path: path.to_owned(),
    };
    let mut records = document;
    for key in path.split('.').filter(|key| !key.is_empty()) {
        let mut object: BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(records.get()).map_err(|_| records_error())?;
        records = object.remove(key).ok_or_else(records_error)?;
    }
    let elements: Vec<Box<RawValue>> =
        serde_json::from_str(records.get()).map_err(|_| records_error())?;

    let pointer_base: String = path
        .split('.')
        .filter(|key| !key.is_empty())
        .map(|key| format!("/{key}"))
        .collect();
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| {
            let locator = format!("{pointer_base}/{index}");
            let raw = element.get().as_bytes().to_vec();
            let mut fields = BTreeMap::new();
            match flatten(element.get(), "", &mut fields) {
                Ok(true) => RowRead::Row(FeedRow {
                    locator,
                    number: index as u64 + 1,
                    fields,
                    raw,
                }),
                Ok(false) => RowRead::Unreadable {
                    locator,
                    problem: "is not a JSON object".to_owned(),
                    raw,
                },
                Err(error) => RowRead::Unreadable {
                    locator,
                    problem: format!("is not valid JSON: {error}"),
                    raw,
                },
            }
        })
        .collect())
}

/// Adds `raw`'s leaves to `fields` under dotted paths; `Ok(false)` when `raw` is a scalar at
/// the top. Nulls are left out (an absent field), scalars keep their JSON text (strings
/// unquoted), arrays index their elements (`"prices.0.amount"`).
fn flatten(
    raw: &str,
    prefix: &str,
    fields: &mut BTreeMap<String, String>,
) -> Result<bool, serde_json::Error> {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') {
        let object: BTreeMap<String, Box<RawValue>> = serde_json::from_str(raw)?;
        for (key, value) in object {
            flatten(value.get(), &join(&key), fields)?;
        }
        return Ok(true);
    }
    if trimmed.starts_with('[') {
        let array: Vec<Box<RawValue>> = serde_json::from_str(raw)?;
        for (index, value) in array.iter().enumerate() {
            flatten(value.get(), &join(&index.to_string()), fields)?;
        }
        return Ok(true);
    }
    if prefix.is_empty() {
        return Ok(false);
    }
    if trimmed.starts_with('"') {
        fields.insert(prefix.to_owned(), serde_json::from_str::<String>(raw)?);
    } else if trimmed.trim_end() != "null" {
        fields.insert(prefix.to_owned(), trimmed.trim_end().to_owned());
    }
    Ok(true)
}

fn decode(encoding: &'static Encoding, bytes: &[u8]) -> Option<String> {
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

/// Spreadsheet exports often start UTF-8 files with a byte order mark, which would otherwise
/// become part of the first column's name.
fn without_utf8_bom<'a>(encoding: &'static Encoding, bytes: &'a [u8]) -> &'a [u8] {
    if encoding == encoding_rs::UTF_8 {
        bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
    } else {
        bytes
    }
}

/// A record's bytes without the line terminators around them, and how many line feeds came
/// before them.
fn line_bytes(bytes: &[u8]) -> (u64, &[u8]) {
    let is_terminator = |byte: &u8| *byte == b'\n' || *byte == b'\r';
    let start = bytes
        .iter()
        .position(|byte| !is_terminator(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !is_terminator(byte))
        .map_or(start, |last| last + 1);
    let skipped_lines = bytes[..start].iter().filter(|&&byte| byte == b'\n').count();
    (skipped_lines as u64, &bytes[start..end])
}

/// A reader position is a byte offset into the slice it reads, so it fits `usize`.
fn position(offset: u64) -> usize {
    usize::try_from(offset).expect("a CSV position is an offset into an in-memory slice")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(extra: &str) -> SupplierMapping {
        SupplierMapping::from_toml_str(&format!(
            "supplier_id = \"s\"\nsource = \"supplier.s\"\ncurrency = \"EUR\"\n{extra}\n\
             [columns]\ngtin = \"ean\"\nunit_cost = \"price\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn csv_rows_keep_their_line_bytes_and_refuse_extra_fields_alone() {
        let mapping = mapping("csv_delimiter = \";\"");
        let rows = csv_rows(
            &mapping,
            ';',
            b"ean;price\r\n3760123456784;1,5\r\n\r\n1;2;3\r\n\"4006381333931\";\"2\"",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        let RowRead::Row(first) = &rows[0] else {
            panic!("{:?}", rows[0])
        };
        assert_eq!(first.locator, "L2");
        assert_eq!(first.raw, b"3760123456784;1,5");
        assert_eq!(first.fields["price"], "1,5");
        assert!(matches!(&rows[1], RowRead::Unreadable { locator, raw, .. }
            if locator == "L4" && raw == b"1;2;3"));
        let RowRead::Row(last) = &rows[2] else {
            panic!("{:?}", rows[2])
        };
        assert_eq!(last.fields["ean"], "4006381333931");
        assert_eq!(last.raw, b"\"4006381333931\";\"2\"");
    }

    #[test]
    fn invalid_utf8_refuses_only_its_line() {
        let mapping = mapping("csv_delimiter = \";\"");
        let rows = csv_rows(&mapping, ';', b"ean;price\n1;\xE9\n2;3\n").unwrap();
        assert!(matches!(&rows[0], RowRead::Unreadable { problem, raw, .. }
            if problem.contains("UTF-8") && raw == b"1;\xE9"));
        assert!(matches!(&rows[1], RowRead::Row(row) if row.fields["ean"] == "2"));
    }

    #[test]
    fn json_numbers_keep_their_digits_and_nulls_are_absent() {
        let mapping = mapping("json_records = \"data.items\"");
        let rows = json_rows(
            &mapping,
            br#"{"data": {"items": [{"ean": "1", "p": {"net": 12.10, "x": null}, "tags": [1e2]}, 7]}}"#,
        )
        .unwrap();
        let RowRead::Row(row) = &rows[0] else {
            panic!("{:?}", rows[0])
        };
        assert_eq!(row.locator, "/data/items/0");
        assert_eq!(row.fields["p.net"], "12.10");
        assert_eq!(row.fields["tags.0"], "1e2");
        assert!(!row.fields.contains_key("p.x"));
        assert!(matches!(&rows[1], RowRead::Unreadable { raw, .. } if raw == b"7"));
    }

    #[test]
    fn a_json_document_without_the_records_array_is_a_file_error() {
        let mapping = mapping("json_records = \"items\"");
        assert_eq!(
            json_rows(&mapping, br#"{"products": []}"#),
            Err(FeedFileError::JsonRecords {
                path: "items".to_owned()
            })
        );
        assert!(matches!(
            json_rows(&mapping, b"{not json"),
            Err(FeedFileError::Json { .. })
        ));
    }
}
