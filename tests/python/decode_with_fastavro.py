"""Decode Sourcing Hub payloads with fastavro, an implementation independent of ours.

Usage: decode_with_fastavro.py CASE_DIR

CASE_DIR/manifest.json lists cases written by tests/tests/contracts_fastavro.rs:
  {"name", "schema_file", "framing": "single_object" | "confluent", "schema_id"?,
   "payload_file", "expected"}
For each case the framing is stripped and checked (magic bytes, and fastavro's own
CRC-64-AVRO fingerprint of the schema for single-object; the schema id for Confluent),
the datum is decoded with fastavro.schemaless_reader and compared with the expected
record: decimals exactly (expected as strings, decoded at the schema's scale), timestamps
as epoch milliseconds, bytes as byte arrays. Exits 1 on any mismatch, naming case and field.
"""

import datetime
import decimal
import io
import json
import pathlib
import sys

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class Mismatch(Exception):
    pass


def epoch_millis(value):
    if isinstance(value, datetime.datetime):
        # Integer arithmetic on timedelta: exact, unlike total_seconds().
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    return value


def compare(schema, decoded, expected, path, named):
    """Walks the writer schema alongside both values."""
    if isinstance(schema, list):
        if expected is None:
            if decoded is not None:
                raise Mismatch(f"{path}: expected null, decoded {decoded!r}")
            return
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:
            raise Mismatch(f"{path}: only [null, T] unions are used by the contracts")
        compare(branches[0], decoded, expected, path, named)
        return
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            schema = {"type": schema}
        else:
            schema = named[schema]
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        compare(kind, decoded, expected, path, named)
        return
    logical = schema.get("logicalType")
    if kind == "record":
        named[schema["name"]] = schema
        for field in schema["fields"]:
            name = field["name"]
            compare(field["type"], decoded[name], expected[name], f"{path}.{name}", named)
        extra = set(decoded) - {f["name"] for f in schema["fields"]}
        if extra:
            raise Mismatch(f"{path}: unexpected fields {sorted(extra)}")
    elif kind == "enum":
        named[schema["name"]] = schema
        if decoded != expected:
            raise Mismatch(f"{path}: expected symbol {expected!r}, decoded {decoded!r}")
    elif kind == "array":
        if len(decoded) != len(expected):
            raise Mismatch(f"{path}: expected {len(expected)} items, decoded {len(decoded)}")
        for index, (item, want) in enumerate(zip(decoded, expected)):
            compare(schema["items"], item, want, f"{path}[{index}]", named)
    elif kind == "bytes" and logical == "decimal":
        if not isinstance(decoded, decimal.Decimal):
            raise Mismatch(f"{path}: decoded {decoded!r} is not a decimal")
        if decoded.as_tuple().exponent != -schema["scale"]:
            raise Mismatch(f"{path}: decoded {decoded} is not at the schema's scale {schema['scale']}")
        if len(decoded.as_tuple().digits) > schema["precision"]:
            raise Mismatch(f"{path}: decoded {decoded} exceeds precision {schema['precision']}")
        if decoded != decimal.Decimal(expected):
            raise Mismatch(f"{path}: expected {expected}, decoded {decoded}")
    elif kind == "bytes":
        if decoded != bytes(expected):
            raise Mismatch(f"{path}: expected {bytes(expected)!r}, decoded {decoded!r}")
    elif kind == "long" and logical == "timestamp-millis":
        if epoch_millis(decoded) != expected:
            raise Mismatch(f"{path}: expected {expected} ms, decoded {decoded!r}")
    elif kind in ("int", "long"):
        if type(decoded) is not int or decoded != expected:
            raise Mismatch(f"{path}: expected {expected!r}, decoded {decoded!r}")
    elif kind in ("string", "boolean"):
        if type(decoded) is not type(expected) or decoded != expected:
            raise Mismatch(f"{path}: expected {expected!r}, decoded {decoded!r}")
    else:
        raise Mismatch(f"{path}: the comparison does not know Avro type {kind!r}")


def strip_framing(case, payload, parsed):
    if case["framing"] == "single_object":
        if payload[:2] != SINGLE_OBJECT_MAGIC:
            raise Mismatch(f"single-object magic is {payload[:2].hex()}, expected c301")
        # fastavro's hex is the 8 fingerprint bytes in the order the header carries them.
        expected = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        if payload[2:10] != expected:
            raise Mismatch(
                f"header fingerprint {payload[2:10].hex()} differs from fastavro's {expected.hex()}"
            )
        return payload[10:]
    if case["framing"] == "confluent":
        if payload[:1] != CONFLUENT_MAGIC:
            raise Mismatch(f"Confluent magic byte is {payload[:1].hex()}, expected 00")
        schema_id = int.from_bytes(payload[1:5], "big")
        if schema_id != case["schema_id"]:
            raise Mismatch(f"schema id {schema_id}, expected {case['schema_id']}")
        return payload[5:]
    raise Mismatch(f"unknown framing {case['framing']!r}")


def check(case_dir, case):
    schema = json.loads((case_dir / case["schema_file"]).read_text(encoding="utf-8"))
    parsed = parse_schema(schema)
    payload = (case_dir / case["payload_file"]).read_bytes()
    datum = strip_framing(case, payload, parsed)
    stream = io.BytesIO(datum)
    decoded = fastavro.schemaless_reader(stream, parsed, None)
    if stream.tell() != len(datum):
        raise Mismatch(f"{len(datum) - stream.tell()} bytes left after the datum")
    compare(schema, decoded, case["expected"], schema["name"], {})


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    case_dir = pathlib.Path(sys.argv[1])
    cases = json.loads((case_dir / "manifest.json").read_text(encoding="utf-8"))
    if not cases:
        sys.exit("manifest.json lists no case: nothing was checked")
    failures = 0
    for case in cases:
        label = f"{case['name']} ({case['framing']})"
        try:
            check(case_dir, case)
        except Mismatch as mismatch:
            failures += 1
            print(f"MISMATCH {label}: {mismatch}")
        else:
            print(f"ok {label}")
    print(f"fastavro {fastavro.__version__}: {len(cases) - failures} cases decoded as expected, {failures} mismatched")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
