//! The BACKWARD guard: the current schemas must read data written with every version of
//! them ever committed, checked with apache-avro's compatibility checker and by actually
//! writing sample data with the old schema and reading it into the current Rust records.

use std::path::{Path, PathBuf};
use std::process::Command;

use apache_avro::Schema;
use apache_avro::schema::SchemaKind;
use apache_avro::types::Value;
use hub_schemas::records::{
    CostSignal, OfferSignal, ProductReference, QuarantinedRecord, ReferenceScore, StockSignal,
};
use hub_schemas::{Contract, read_datum};

use crate::fake_registry::checker::checker_problems;

fn git(root: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run git ({error}): the BACKWARD guard needs git and the repository history"
            )
        });
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("git prints UTF-8 here")
}

/// The repository root and the path of `schemas/avro` inside it.
fn repository() -> (PathBuf, PathBuf) {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = PathBuf::from(git(&crate_dir, &["rev-parse", "--show-toplevel"]).trim());
    let root = root.canonicalize().expect("the repository root exists");
    let avro_dir = crate_dir
        .canonicalize()
        .expect("the crate directory exists")
        .join("avro");
    let relative = avro_dir
        .strip_prefix(&root)
        .expect("the crate lives inside its repository")
        .to_path_buf();
    assert_eq!(
        git(&root, &["rev-parse", "--is-shallow-repository"]).trim(),
        "false",
        "this is a shallow clone, which hides earlier schema versions: run `git fetch --unshallow`"
    );
    (root, relative)
}

/// Every committed text of `contract`'s file, newest first, with its commit.
fn committed_versions(root: &Path, avro_dir: &Path, contract: Contract) -> Vec<(String, String)> {
    let path = avro_dir.join(contract.file_name());
    let path = path.to_str().expect("UTF-8 path");
    git(
        root,
        &["log", "--format=%H", "--diff-filter=AM", "--", path],
    )
    .lines()
    .map(|commit| {
        (
            commit.to_owned(),
            git(root, &["show", &format!("{commit}:{path}")]),
        )
    })
    .collect()
}

/// Values of `schema` that visit every field: one taking every optional branch and filling
/// every collection, one leaving them empty.
fn sample_values(schema: &Schema) -> [Value; 2] {
    [sample(schema, true), sample(schema, false)]
}

fn sample(schema: &Schema, full: bool) -> Value {
    match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Boolean(full),
        Schema::Int => Value::Int(if full { i32::MAX } else { -1 }),
        Schema::Long => Value::Long(if full { i64::MAX } else { -1 }),
        Schema::Float => Value::Float(1.5),
        Schema::Double => Value::Double(-2.25),
        Schema::String => Value::String(
            if full {
                "Bouilloire 1,7 L – inox"
            } else {
                ""
            }
            .into(),
        ),
        Schema::Bytes => Value::Bytes(if full { vec![0, 0xff, 0x10] } else { vec![] }),
        Schema::TimestampMillis => Value::TimestampMillis(1_767_225_600_000),
        Schema::Decimal(decimal) => {
            // The largest value of the type, or a small negative one, in the shortest bytes.
            let digits = u32::try_from(decimal.precision).expect("small precision");
            let unscaled: i128 = if full { 10i128.pow(digits) - 1 } else { -5 };
            let bytes = unscaled.to_be_bytes();
            let skip = bytes
                .windows(2)
                .take_while(|w| (w[0] == 0 && w[1] < 0x80) || (w[0] == 0xff && w[1] >= 0x80))
                .count();
            Value::Decimal(apache_avro::Decimal::from(&bytes[skip..]))
        }
        Schema::Enum(enum_schema) => {
            let index = if full {
                enum_schema.symbols.len() - 1
            } else {
                0
            };
            Value::Enum(index as u32, enum_schema.symbols[index].clone())
        }
        Schema::Union(union) => {
            let variants = union.variants();
            let index = variants
                .iter()
                .position(|variant| matches!(variant, Schema::Null) != full)
                .unwrap_or(0);
            Value::Union(index as u32, Box::new(sample(&variants[index], full)))
        }
        Schema::Array(array) => Value::Array(if full {
            vec![sample(&array.items, true), sample(&array.items, false)]
        } else {
            vec![]
        }),
        Schema::Record(record) => Value::Record(
            record
                .fields
                .iter()
                .map(|field| (field.name.clone(), sample(&field.schema, full)))
                .collect(),
        ),
        other => panic!(
            "no sample for Avro {:?} yet: extend `sample` in the BACKWARD guard",
            SchemaKind::from(other)
        ),
    }
}

/// Every reason why data written with `writer` could not be read with `reader`: the
/// checker's verdict, then the sample round trips through `read` (which decodes with the
/// writer schema and resolves to the reader).
fn backward_problems(
    writer: &Schema,
    reader: &Schema,
    read: impl Fn(&Schema, &[u8]) -> Result<(), String>,
) -> Vec<String> {
    let mut problems = checker_problems(writer, reader);
    for (index, value) in sample_values(writer).into_iter().enumerate() {
        match apache_avro::to_avro_datum(writer, value) {
            Ok(datum) => {
                if let Err(error) = read(writer, &datum) {
                    problems.push(format!(
                        "sample {index} written with the old schema: {error}"
                    ));
                }
            }
            Err(error) => problems.push(format!(
                "sample {index} does not fit the old schema: {error}"
            )),
        }
    }
    problems
}

/// Reads `datum` into the contract's Rust record: the consumers' real decoding path.
fn read_record(contract: Contract, writer: &Schema, datum: &[u8]) -> Result<(), String> {
    let result = match contract {
        Contract::ProductReference => read_datum::<ProductReference>(writer, datum).map(drop),
        Contract::OfferSignal => read_datum::<OfferSignal>(writer, datum).map(drop),
        Contract::StockSignal => read_datum::<StockSignal>(writer, datum).map(drop),
        Contract::CostSignal => read_datum::<CostSignal>(writer, datum).map(drop),
        Contract::ReferenceScore => read_datum::<ReferenceScore>(writer, datum).map(drop),
        Contract::QuarantinedRecord => read_datum::<QuarantinedRecord>(writer, datum).map(drop),
    };
    result.map_err(|error| error.to_string())
}

#[test]
fn every_committed_version_of_every_contract_is_readable_by_the_current_schema() {
    let (root, avro_dir) = repository();
    let mut checked = 0;
    for contract in Contract::ALL {
        let versions = committed_versions(&root, &avro_dir, contract);
        if versions.is_empty() {
            eprintln!(
                "{} has no committed version yet: nothing to stay compatible with",
                contract.file_name()
            );
        }
        for (commit, text) in versions {
            let old = Schema::parse_str(&text).unwrap_or_else(|error| {
                panic!(
                    "{} at {commit} is not valid Avro: {error}",
                    contract.file_name()
                )
            });
            let problems = backward_problems(&old, contract.schema(), |writer, datum| {
                read_record(contract, writer, datum)
            });
            assert!(
                problems.is_empty(),
                "{} is not BACKWARD compatible with its version at commit {commit}:\n  {}\n\
                 Make the change compatible (new fields need a default, enum symbols stay, types \
                 only widen), see schemas/README.md",
                contract.file_name(),
                problems.join("\n  ")
            );
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no committed schema version found: is the repository history missing?"
    );
}

fn stock_signal_with(extra_field: &str) -> Schema {
    let text = Contract::StockSignal.avsc().replacen(
        r#""fields": ["#,
        &format!(r#""fields": [{extra_field},"#),
        1,
    );
    Schema::parse_str(&text).expect("the edited schema is valid Avro")
}

fn resolve_with(reader: &Schema) -> impl Fn(&Schema, &[u8]) -> Result<(), String> + '_ {
    |writer, datum| {
        apache_avro::from_avro_datum(writer, &mut &datum[..], Some(reader))
            .map(drop)
            .map_err(|error| error.to_string())
    }
}

#[test]
fn the_guard_fails_on_a_new_required_field() {
    let old = Contract::StockSignal.schema();
    let breaking = stock_signal_with(r#"{"name": "warehouse_zone", "type": "string"}"#);
    let problems = backward_problems(old, &breaking, resolve_with(&breaking));
    assert_eq!(problems.len(), 3, "checker and both samples: {problems:#?}");
    assert!(
        problems[0].starts_with("compatibility checker") && problems[0].contains("warehouse_zone"),
        "{problems:#?}"
    );
    assert!(
        problems[1..].iter().all(|p| p.contains("warehouse_zone")),
        "{problems:#?}"
    );
}

#[test]
fn the_guard_fails_on_a_removed_enum_symbol() {
    let old = Contract::StockSignal.schema();
    let text = Contract::StockSignal
        .avsc()
        .replace(r#"["SUPPLIER", "ERP", "FBA"]"#, r#"["SUPPLIER", "ERP"]"#);
    let breaking = Schema::parse_str(&text).expect("valid Avro");
    let problems = backward_problems(old, &breaking, resolve_with(&breaking));
    assert!(
        problems[0].starts_with("compatibility checker"),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("sample 0")),
        "FBA cannot be read: {problems:#?}"
    );
}

#[test]
fn the_guard_accepts_a_new_optional_field_with_a_default() {
    let old = Contract::StockSignal.schema();
    let evolved = stock_signal_with(
        r#"{"name": "warehouse_zone", "type": ["null", "string"], "default": null}"#,
    );
    let problems = backward_problems(old, &evolved, resolve_with(&evolved));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_guard_fails_on_a_changed_decimal_scale() {
    let old = Contract::CostSignal.schema();
    let text = Contract::CostSignal.avsc().replace(
        r#""precision": 18, "scale": 4"#,
        r#""precision": 18, "scale": 2"#,
    );
    let changed = Schema::parse_str(&text).expect("valid Avro");
    let problems = checker_problems(old, &changed);
    assert_eq!(
        problems,
        ["compatibility checker: .unit_cost_excl_vat: decimal(18, 4) became decimal(18, 2)"]
    );
    assert!(checker_problems(old, old).is_empty());
}
