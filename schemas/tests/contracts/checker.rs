//! apache-avro's schema compatibility checker, made usable on schemas with decimals.
//! A child module of the fake registry (which checks BACKWARD compatibility on register) so
//! that including `fake_registry.rs` elsewhere brings it along.

use apache_avro::Schema;
use apache_avro::schema::{SchemaKind, UnionSchema};
use apache_avro::schema_compatibility::SchemaCompatibility;

/// `writer` with every decimal replaced by its underlying type.
fn without_decimals(schema: &Schema) -> Schema {
    match schema {
        Schema::Decimal(decimal) => without_decimals(&decimal.inner),
        Schema::Record(record) => {
            let mut record = record.clone();
            for field in &mut record.fields {
                field.schema = without_decimals(&field.schema);
            }
            Schema::Record(record)
        }
        Schema::Union(union) => Schema::Union(
            UnionSchema::new(union.variants().iter().map(without_decimals).collect())
                .expect("lowering decimals keeps union branches distinct"),
        ),
        Schema::Array(array) => {
            let mut array = array.clone();
            array.items = Box::new(without_decimals(&array.items));
            Schema::Array(array)
        }
        Schema::Map(map) => {
            let mut map = map.clone();
            map.types = Box::new(without_decimals(&map.types));
            Schema::Map(map)
        }
        other => other.clone(),
    }
}

/// Decimals at the same place in both schemas whose precision or scale differ: by the
/// specification they then do not match, and the data would change meaning.
fn decimal_mismatches(writer: &Schema, reader: &Schema, path: &str, problems: &mut Vec<String>) {
    let same_kind = |a: &Schema, b: &Schema| SchemaKind::from(a) == SchemaKind::from(b);
    match (writer, reader) {
        (Schema::Decimal(old), Schema::Decimal(new))
            if (old.precision, old.scale) != (new.precision, new.scale) =>
        {
            problems.push(format!(
                "{path}: decimal({}, {}) became decimal({}, {})",
                old.precision, old.scale, new.precision, new.scale
            ));
        }
        (Schema::Record(old), Schema::Record(new)) => {
            for field in &old.fields {
                if let Some(&index) = new.lookup.get(&field.name) {
                    let field_path = format!("{path}.{}", field.name);
                    decimal_mismatches(
                        &field.schema,
                        &new.fields[index].schema,
                        &field_path,
                        problems,
                    );
                }
            }
        }
        (Schema::Union(old), Schema::Union(new)) => {
            for branch in old.variants() {
                for candidate in new.variants().iter().filter(|c| same_kind(branch, c)) {
                    decimal_mismatches(branch, candidate, path, problems);
                }
            }
        }
        (Schema::Union(old), new) => {
            for branch in old.variants().iter().filter(|b| same_kind(b, new)) {
                decimal_mismatches(branch, new, path, problems);
            }
        }
        (old, Schema::Union(new)) => {
            for candidate in new.variants().iter().filter(|c| same_kind(old, c)) {
                decimal_mismatches(old, candidate, path, problems);
            }
        }
        (Schema::Array(old), Schema::Array(new)) => {
            decimal_mismatches(&old.items, &new.items, &format!("{path}[]"), problems);
        }
        (Schema::Map(old), Schema::Map(new)) => {
            decimal_mismatches(&old.types, &new.types, &format!("{path}{{}}"), problems);
        }
        _ => {}
    }
}

/// apache-avro's compatibility checker, made usable on schemas with decimals: in 0.21 its
/// `match_schemas` has no decimal arm and answers `Inconclusive` for decimal against the
/// very same decimal. Decimals are compared by the specification's rule (they match when
/// precision and scale match) and the rest by the checker, on the underlying types.
pub fn checker_problems(writer: &Schema, reader: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    decimal_mismatches(writer, reader, "", &mut problems);
    if let Err(error) =
        SchemaCompatibility::can_read(&without_decimals(writer), &without_decimals(reader))
    {
        problems.push(error.to_string());
    }
    problems
        .into_iter()
        .map(|problem| format!("compatibility checker: {problem}"))
        .collect()
}
