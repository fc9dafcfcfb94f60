"""The ClickHouse HTTP stand-in, seen by an independent client (clickhouse-connect, which
speaks the Native format) and by plain HTTP: it must answer as a ClickHouse server does.

Address from HUB_CLICKHOUSE_URL (default http://127.0.0.1:8123); start it with
`scripts/services up`.
"""

from __future__ import annotations

import datetime
import gzip
import os
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

URL = os.environ.get("HUB_CLICKHOUSE_URL", "http://127.0.0.1:8123").rstrip("/")


def post(body: bytes, headers: dict[str, str] | None = None, **params: str):
    """POSTs to the stand-in; returns (status, headers, body) for success and errors alike."""
    query = f"?{urlencode(params)}" if params else ""
    request = urllib.request.Request(f"{URL}/{query}", data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module", autouse=True)
def standin_reachable():
    try:
        with urllib.request.urlopen(f"{URL}/ping", timeout=5) as response:
            answer = response.read()
    except OSError as error:
        pytest.fail(f"ClickHouse does not answer on {URL} ({error}): run `scripts/services up`")
    assert answer == b"Ok.\n"


@pytest.fixture()
def database():
    name = f"standin_{uuid.uuid4().hex}"
    status, _, body = post(f"CREATE DATABASE {name}".encode())
    assert status == 200, body
    yield name
    post(f"DROP DATABASE IF EXISTS {name}".encode())


@pytest.fixture()
def client(database):
    parts = urlsplit(URL)
    connection = clickhouse_connect.get_client(
        host=parts.hostname, port=parts.port or 8123, database=database
    )
    yield connection
    connection.close()


def test_clickhouse_connect_inserts_and_selects_native(client):
    client.command(
        "CREATE TABLE prices (gtin String, channel LowCardinality(String), "
        "price Nullable(Decimal(18, 4)), rate Decimal(9, 6), observed_at DateTime64(3, 'UTC'), "
        "tags Array(String)) ENGINE = MergeTree ORDER BY (gtin, observed_at)"
    )
    observed = datetime.datetime(2024, 2, 29, 23, 59, 59, 123000)
    rows = [
        ["3017620422003", "amazon", Decimal("99999999999999.9999"), Decimal("0.055"), observed, ["a", "é"]],
        ["0000000000017", "cdiscount", None, Decimal("-0.000001"), observed, []],
    ]
    summary = client.insert(
        "prices", rows, column_names=["gtin", "channel", "price", "rate", "observed_at", "tags"]
    )
    assert summary.written_rows == 2

    result = client.query("SELECT * FROM prices ORDER BY gtin DESC")
    assert result.column_names == ("gtin", "channel", "price", "rate", "observed_at", "tags")
    assert [list(row) for row in result.result_rows] == rows
    text = client.command("SELECT toString(sum(rate)) FROM prices")
    assert text == "0.054999"


def test_errors_carry_clickhouse_text_and_code(client, database):
    with pytest.raises(DatabaseError) as raised:
        client.query("SELECT no_such_column FROM system.one")
    assert "Code: 47. DB::Exception:" in str(raised.value)
    assert "UNKNOWN_IDENTIFIER" in str(raised.value)

    status, headers, body = post(b"SELECT * FROM no_such_table", database=database)
    assert status == 404
    assert headers["X-ClickHouse-Exception-Code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception:")
    assert body.endswith(b"(official build))\n")

    status, headers, body = post(b"SELECT 1; SELECT 2")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (400, "62"), body


def test_gzip_request_body_and_compressed_answer(database):
    post(
        b"CREATE TABLE t (n UInt32, s String) ENGINE = MergeTree ORDER BY n", database=database
    )
    rows = "".join(f"{n}\tline {n}\n" for n in range(1000)).encode()
    status, _, body = post(
        gzip.compress(rows),
        {"Content-Encoding": "gzip"},
        database=database,
        query="INSERT INTO t FORMAT TabSeparated",
    )
    assert status == 200, body

    status, headers, body = post(
        b"SELECT count(), sum(n) FROM t FORMAT TabSeparated",
        {"Accept-Encoding": "gzip"},
        database=database,
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"1000\t499500\n"
    assert headers["X-ClickHouse-Format"] == "TabSeparated"


def test_get_is_read_only_and_settings_apply_per_request(database):
    request = urllib.request.Request(
        f"{URL}/?{urlencode({'query': 'CREATE TABLE x (a UInt8) ENGINE = Memory', 'database': database})}"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.headers["X-ClickHouse-Exception-Code"] == "164"

    status, _, body = post(b"SELECT getSetting('max_threads')", max_threads="3")
    assert (status, body) == (200, b"3\n")
    status, _, body = post(b"SELECT getSetting('max_threads') = 3")
    assert (status, body) == (200, b"0\n"), "a request's settings must not leak into the next"

    status, headers, _ = post(b"SELECT 1", no_such_setting="1")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (400, "115")
