"""The ClickHouse HTTP stand-in, seen by an independent client (clickhouse-connect, which
speaks the Native format) and by plain HTTP: it must answer as a ClickHouse server does.

Address from HUB_CLICKHOUSE_URL (default http://127.0.0.1:8123); start it with
`scripts/services up`.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import clickhouse_connect
import lz4.frame
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

URL = os.environ.get("HUB_CLICKHOUSE_URL", "http://127.0.0.1:8123").rstrip("/")
SERVER = Path(__file__).resolve().parents[2] / "devtools" / "clickhouse-http" / "server.py"


def post(body: bytes, headers: dict[str, str] | None = None, **params: str):
    """POSTs to the stand-in; returns (status, headers, body) for success and errors alike."""
    return post_to(URL, body, headers, **params)


def post_to(url: str, body: bytes, headers: dict[str, str] | None = None, **params: str):
    """POSTs to the stand-in at `url`; returns (status, headers, body) for success and errors
    alike."""
    query = f"?{urlencode(params)}" if params else ""
    request = urllib.request.Request(f"{url}/{query}", data=body, headers=headers or {})
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


def test_output_formats_the_clients_read(database):
    post(
        b"CREATE TABLE f (gtin String, price Decimal(18, 4)) ENGINE = MergeTree ORDER BY gtin",
        database=database,
    )
    status, _, body = post(
        b"INSERT INTO f VALUES ('3017620422003', 19.99), ('0000000000017', -0.0001)",
        database=database,
    )
    assert status == 200, body

    def select(fmt: str) -> tuple[str, bytes]:
        status, headers, body = post(
            f"SELECT gtin, price FROM f ORDER BY gtin FORMAT {fmt}".encode(), database=database
        )
        assert status == 200, body
        assert headers["X-ClickHouse-Format"] == fmt
        return headers["Content-Type"], body

    content_type, body = select("JSON")
    assert content_type.startswith("application/json")
    answer = json.loads(body)
    assert answer["meta"] == [
        {"name": "gtin", "type": "String"},
        {"name": "price", "type": "Decimal(18, 4)"},
    ]
    assert answer["data"] == [
        {"gtin": "0000000000017", "price": -0.0001},
        {"gtin": "3017620422003", "price": 19.99},
    ]
    assert answer["rows"] == 2
    _, body = select("JSONEachRow")
    assert [json.loads(line) for line in body.splitlines()] == answer["data"]
    _, body = select("JSONCompact")
    assert json.loads(body)["data"] == [["0000000000017", -0.0001], ["3017620422003", 19.99]]
    content_type, body = select("TabSeparatedWithNames")
    assert content_type.startswith("text/tab-separated-values")
    assert body == b"gtin\tprice\n0000000000017\t-0.0001\n3017620422003\t19.99\n"
    _, body = select("TSV")
    assert body == b"0000000000017\t-0.0001\n3017620422003\t19.99\n"

    # RowBinary: per row, the string's LEB128 length and bytes, then the Decimal64's
    # little-endian unscaled value.
    def row(gtin: str, unscaled: int) -> bytes:
        return bytes([len(gtin)]) + gtin.encode() + unscaled.to_bytes(8, "little", signed=True)

    rows = row("0000000000017", -1) + row("3017620422003", 199_900)
    content_type, body = select("RowBinary")
    assert content_type == "application/octet-stream"
    assert body == rows
    # RowBinaryWithNamesAndTypes (what the official Rust crate validates rows against):
    # the column count, the names, the types, then the rows.
    header = b"\x02" + b"\x04gtin\x05price" + b"\x06String\x0eDecimal(18, 4)"
    assert select("RowBinaryWithNamesAndTypes")[1] == header + rows


def test_lz4_request_body(database):
    post(b"CREATE TABLE z (n UInt32) ENGINE = MergeTree ORDER BY n", database=database)
    rows = "".join(f"{n}\n" for n in range(500)).encode()
    status, _, body = post(
        lz4.frame.compress(rows),
        {"Content-Encoding": "lz4"},
        database=database,
        query="INSERT INTO z FORMAT TabSeparated",
    )
    assert status == 200, body
    assert post(b"SELECT sum(n) FROM z", database=database)[2] == b"124750\n"


class PrivateStandin:
    """A stand-in of the test's own, on a free port, over a data directory it keeps across
    restarts, requiring a password."""

    USER, PASSWORD = "hub", "s3cret"

    def __init__(self, data_dir: str):
        self.data_dir = data_dir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(self.port), "--data-dir", self.data_dir,
             "--user", self.USER, "--password", self.PASSWORD],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                    if response.read() == b"Ok.\n":
                        return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"the private stand-in did not answer on {self.url} within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=30) == 0, "SIGTERM stops the stand-in cleanly"
        self.process = None

    def post(self, sql: bytes, headers: dict[str, str] | None = None, **params: str):
        return post_to(self.url, sql, headers, **params)


@pytest.fixture()
def private_standin(tmp_path):
    standin = PrivateStandin(str(tmp_path / "clickhouse"))
    standin.start()
    yield standin
    standin.stop()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth_and_the_other_credentials_clickhouse_accepts(private_standin):
    user, password = PrivateStandin.USER, PrivateStandin.PASSWORD
    for headers, params in [
        ({}, {}),
        (basic(user, "wrong"), {}),
        (basic("default", ""), {}),
    ]:
        status, answer, body = private_standin.post(b"SELECT 1", headers, **params)
        assert (status, answer["X-ClickHouse-Exception-Code"]) == (401, "516"), body
        assert b"Authentication failed" in body
    for headers, params in [
        (basic(user, password), {}),
        ({"X-ClickHouse-User": user, "X-ClickHouse-Key": password}, {}),
        ({}, {"user": user, "password": password}),
    ]:
        assert private_standin.post(b"SELECT 1", headers, **params)[:3:2] == (200, b"1\n")
    parts = urlsplit(private_standin.url)
    client = clickhouse_connect.get_client(
        host=parts.hostname, port=parts.port, username=user, password=password
    )
    assert client.command("SELECT 41 + 1") == 42
    client.close()


def test_tables_are_kept_in_the_data_directory_across_restarts(private_standin):
    auth = basic(PrivateStandin.USER, PrivateStandin.PASSWORD)
    for sql in [
        b"CREATE DATABASE kept",
        b"CREATE TABLE kept.t (n UInt32) ENGINE = MergeTree ORDER BY n",
        b"INSERT INTO kept.t VALUES (1), (2), (3)",
    ]:
        status, _, body = private_standin.post(sql, auth)
        assert status == 200, body
    private_standin.stop()
    private_standin.start()
    assert private_standin.post(b"SELECT sum(n) FROM kept.t", auth)[2] == b"6\n"
