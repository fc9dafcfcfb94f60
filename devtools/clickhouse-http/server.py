#!/usr/bin/env python3
"""Development stand-in for ClickHouse's HTTP interface, backed by chdb.

chdb embeds the current ClickHouse engine as a library; this module puts the subset of
ClickHouse's HTTP protocol that the official Rust crate (`clickhouse` 0.15) and Python's
clickhouse-connect use in front of it, so local runs and CI exercise the real SQL dialect,
storage engines and binary formats without a ClickHouse server package. It is never used
in production: docker/ runs the real server there. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import email.parser
import email.policy
import gzip
import json
import logging
import lzma
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import lz4.block
import lz4.frame
import zstandard
from chdb.session import Session
from clickhouse_cityhash.cityhash import CityHash128

LOG = logging.getLogger("clickhouse-http")

# ClickHouse error codes this module raises itself (names as in ClickHouse's ErrorCodes.cpp).
SYNTAX_ERROR = 62
UNKNOWN_SETTING = 115
CHECKSUM_DOESNT_MATCH = 40
UNKNOWN_COMPRESSION_METHOD = 89
CANNOT_DECOMPRESS = 271
READONLY = 164
HTTP_LENGTH_REQUIRED = 381
UNKNOWN_FORMAT = 73
NOT_IMPLEMENTED = 48
AUTHENTICATION_FAILED = 516
STD_EXCEPTION = 1001
CANNOT_PARSE_INPUT_ASSERTION_FAILED = 27

ERROR_NAMES = {
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_SETTING: "UNKNOWN_SETTING",
    CHECKSUM_DOESNT_MATCH: "CHECKSUM_DOESNT_MATCH",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    CANNOT_DECOMPRESS: "CANNOT_DECOMPRESS",
    READONLY: "READONLY",
    HTTP_LENGTH_REQUIRED: "HTTP_LENGTH_REQUIRED",
    UNKNOWN_FORMAT: "UNKNOWN_FORMAT",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    STD_EXCEPTION: "STD_EXCEPTION",
    CANNOT_PARSE_INPUT_ASSERTION_FAILED: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
}

# The HTTP status ClickHouse's HTTPHandler answers for an exception code
# (exceptionCodeToHTTPStatus); anything else is 500.
HTTP_STATUS_BY_CODE = {
    # Client errors in the request itself.
    **dict.fromkeys(
        [
            6, 8, 25, 26, 27, 32, 38, 41, 43, 44, 53, 62, 69, 70, 72, 73, 80, 115, 117, 130,
            131, 167, 168, 169, 179, 190, 206, 269, 273, 351, 352, 377, 381, 457, 472,
        ],
        HTTPStatus.BAD_REQUEST,
    ),
    # Unknown objects.
    **dict.fromkeys([16, 46, 47, 60, 81, 83, 86, 107], HTTPStatus.NOT_FOUND),
    **dict.fromkeys([192, 193, 194, 516], HTTPStatus.UNAUTHORIZED),
    **dict.fromkeys([164, 497], HTTPStatus.FORBIDDEN),
    48: HTTPStatus.NOT_IMPLEMENTED,
    202: HTTPStatus.SERVICE_UNAVAILABLE,
    209: HTTPStatus.REQUEST_TIMEOUT,
    159: HTTPStatus.GATEWAY_TIMEOUT,
}

# URL parameters that steer the HTTP layer (or the client) rather than the query; ClickHouse
# accepts them without treating them as settings, so they are never sent to the engine as
# SET statements. `client_protocol_version` asks for Native blocks with block info, which
# chdb's formatter does not produce: clickhouse-connect probes for it and falls back.
TRANSPORT_PARAMS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "enable_http_compression",
    "http_zlib_compression_level",
    "http_native_compression_disable_checksumming_on_decompress",
    "http_wait_end_of_query",
    "http_response_buffer_size",
    "cancel_http_readonly_queries_on_client_close",
    "add_http_cors_header",
    "client_protocol_version",
    "role",
    "stacktrace",
    "readonly",
}

SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
READ_STATEMENTS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"}
CODE_IN_MESSAGE = re.compile(r"Code: (\d+)\. (.*)", re.DOTALL)

# Block compression methods of ClickHouse's native framing (CompressionMethodByte).
BLOCK_NONE = 0x02
BLOCK_LZ4 = 0x82
BLOCK_ZSTD = 0x90
BLOCK_HEADER = struct.Struct("<BII")
MAX_BLOCK = 1 << 20


class ClickHouseError(Exception):
    """An error answered the way ClickHouse does: a code, its name, and a message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_engine(cls, exc: Exception) -> "ClickHouseError":
        text = str(exc)
        found = CODE_IN_MESSAGE.search(text)
        if found is None:
            return cls(STD_EXCEPTION, f"DB::Exception: {text.strip()} (STD_EXCEPTION)")
        return cls(int(found.group(1)), found.group(2).strip())

    @classmethod
    def own(cls, code: int, text: str) -> "ClickHouseError":
        return cls(code, f"DB::Exception: {text}. ({ERROR_NAMES[code]})")

    def body(self, version: str) -> str:
        message = self.message
        if "(version " not in message:
            message = f"{message} (version {version} (official build))"
        return f"Code: {self.code}. {message}\n"

    def http_status(self) -> int:
        return int(HTTP_STATUS_BY_CODE.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR))


# --- SQL scanning -------------------------------------------------------------------------


@dataclass
class ScannedSql:
    """The shape of a statement, read with string literals and comments blanked out."""

    code: str
    first_keyword: str
    output_format: str | None


def scan_sql(sql: str) -> ScannedSql:
    """Blanks literals and comments so keyword searches cannot match inside them, and
    refuses several statements in one request as ClickHouse's HTTP interface does: chdb would
    run them all, and a migration that only works here would then fail in production."""
    out: list[str] = []
    i, n = 0, len(sql)
    terminated_at = None
    while i < n:
        ch = sql[i]
        if terminated_at is not None and not ch.isspace():
            if not (sql.startswith("--", i) or sql.startswith("/*", i)):
                raise ClickHouseError.own(
                    SYNTAX_ERROR, "Syntax error: Multi-statements are not allowed"
                )
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            out.append(ch + " " * (min(j, n) - i - 1) + ch if ch == "'" else sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif ch == ";":
            terminated_at = i
            i += 1
        else:
            out.append(ch)
            i += 1
    code = "".join(out)
    first = re.match(r"[\s(]*([A-Za-z]+)", code)
    fmt = re.search(r"\bFORMAT\s+([A-Za-z0-9_]+)(?:\s+SETTINGS\b.*)?\s*$", code, re.I | re.S)
    return ScannedSql(
        code=code,
        first_keyword=first.group(1).upper() if first else "",
        output_format=fmt.group(1) if fmt else None,
    )


INSERT_WITH_DATA = re.compile(
    rb"^\s*INSERT\s+INTO\s+(?P<target>.+?)\s+FORMAT\s+(?P<format>[A-Za-z0-9_]+)[ \t]*(?:\r?\n)?",
    re.I | re.S,
)


def split_insert(query: bytes) -> tuple[str, str, bytes] | None:
    """Splits `INSERT INTO <target> FORMAT <name><data>` into its parts. ClickHouse parses the
    statement and streams what follows the format name (after blanks and one newline) to the
    input format; chdb takes the same three parts through its streaming inserter, which,
    unlike its query call, accepts binary data."""
    found = INSERT_WITH_DATA.match(query)
    if found is None or found.group("format").upper() == b"VALUES":
        return None
    target = found.group("target").decode("utf-8")
    if "'" in target or '"' in target:
        # A quoted FORMAT word inside the target could fool the pattern; let the engine
        # parse such statements whole.
        return None
    return target, found.group("format").decode("ascii"), query[found.end() :]


# --- Compression ----------------------------------------------------------------------------


def block_checksum(data: bytes) -> bytes:
    # ClickHouse writes CityHash128's (first, second) words little-endian; this binding
    # returns them as one integer with `first` in the high half.
    value = CityHash128(data)
    return struct.pack("<QQ", value >> 64, value & 0xFFFFFFFFFFFFFFFF)


def decompress_blocks(data: bytes) -> bytes:
    """Reads ClickHouse's compressed block framing (`decompress=1`): per block a CityHash128
    (v1.0.2) checksum of the rest, a method byte, the compressed and uncompressed sizes."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 16 + BLOCK_HEADER.size:
            raise ClickHouseError.own(CANNOT_DECOMPRESS, "Truncated compressed block header")
        checksum = data[pos : pos + 16]
        method, compressed_size, size = BLOCK_HEADER.unpack_from(data, pos + 16)
        block = data[pos + 16 : pos + 16 + compressed_size]
        if len(block) != compressed_size or compressed_size < BLOCK_HEADER.size:
            raise ClickHouseError.own(CANNOT_DECOMPRESS, "Truncated compressed block")
        if block_checksum(block) != checksum:
            raise ClickHouseError.own(
                CHECKSUM_DOESNT_MATCH,
                "Checksum doesn't match: corrupted data. Reference: "
                f"{checksum.hex()}. Actual: {block_checksum(block).hex()}",
            )
        payload = block[BLOCK_HEADER.size :]
        try:
            if method == BLOCK_LZ4:
                out += lz4.block.decompress(payload, uncompressed_size=size)
            elif method == BLOCK_ZSTD:
                out += zstandard.ZstdDecompressor().decompress(payload, max_output_size=size)
            elif method == BLOCK_NONE:
                out += payload
            else:
                raise ClickHouseError.own(
                    UNKNOWN_COMPRESSION_METHOD, f"Unknown compression method: {method:#x}"
                )
        except (lz4.block.LZ4BlockError, zstandard.ZstdError) as exc:
            raise ClickHouseError.own(CANNOT_DECOMPRESS, f"Cannot decompress block: {exc}")
        pos += 16 + compressed_size
    return bytes(out)


def compress_blocks(data: bytes) -> bytes:
    """Writes ClickHouse's compressed block framing (`compress=1`), LZ4, 1 MiB blocks."""
    out = bytearray()
    for start in range(0, max(len(data), 1), MAX_BLOCK):
        chunk = data[start : start + MAX_BLOCK]
        payload = lz4.block.compress(chunk, store_size=False)
        block = BLOCK_HEADER.pack(BLOCK_LZ4, BLOCK_HEADER.size + len(payload), len(chunk)) + payload
        out += block_checksum(block) + block
    return bytes(out)


def decode_content(encoding: str, body: bytes) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity", "none"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "zstd":
            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
        if encoding == "lz4":
            return lz4.frame.decompress(body)
        if encoding in ("xz", "lzma"):
            return lzma.decompress(body)
        if encoding in ("bz2", "bzip2"):
            return bz2.decompress(body)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, RuntimeError) as exc:
        raise ClickHouseError.own(CANNOT_DECOMPRESS, f"Cannot decode {encoding} body: {exc}")
    raise ClickHouseError.own(UNKNOWN_COMPRESSION_METHOD, f"Unknown Content-Encoding: {encoding}")


def encode_content(encoding: str, body: bytes, level: int) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=min(max(level, 1), 9))
    if encoding == "deflate":
        return zlib.compress(body, min(max(level, 1), 9))
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=level).compress(body)
    if encoding == "lz4":
        return lz4.frame.compress(body)
    if encoding == "xz":
        return lzma.compress(body)
    if encoding == "bz2":
        return bz2.compress(body)
    raise ValueError(encoding)


RESPONSE_ENCODINGS = ("gzip", "deflate", "zstd", "lz4", "xz", "bz2")


def pick_response_encoding(accept: str) -> str | None:
    """The first encoding of the client's list that ClickHouse also offers."""
    for item in accept.split(","):
        name = item.split(";")[0].strip().lower()
        if name in RESPONSE_ENCODINGS:
            return name
    return None


# --- Formats ---------------------------------------------------------------------------------


def content_type(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if lower.startswith("json"):
        return (
            "application/x-ndjson; charset=UTF-8"
            if "eachrow" in lower or "lines" in lower
            else "application/json; charset=UTF-8"
        )
    if lower.startswith(("pretty", "vertical", "markdown", "values", "xml")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


# --- Engine -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    body: bytes
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_ns: int = 0


@dataclass
class Request:
    query: bytes
    database: str | None
    settings: dict[str, str]
    params: dict[str, str]
    default_format: str
    readonly: bool
    readonly_reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Engine:
    """One chdb session on the data directory, shared by every request thread.

    A chdb session has one current database and one set of session settings; a request's
    `database` and settings are applied with USE/SET and reset afterwards, so requests must
    not interleave. One lock serialises them: this is a development stand-in, not a server
    that needs concurrency inside the engine."""

    def __init__(self, data_dir: str):
        os.makedirs(data_dir, exist_ok=True)
        self._session = Session(data_dir)
        self._lock = threading.Lock()
        info = self._session.query("SELECT version(), timezone()", "TabSeparated")
        self.version, self.timezone = info.bytes().decode().strip().split("\t")

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def run(self, req: Request) -> tuple[Outcome, str]:
        """Runs one request; returns the outcome and the output format it was written in."""
        insert = split_insert(req.query)
        if insert is None:
            try:
                sql = req.query.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ClickHouseError.own(
                    CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                    f"Query is not valid UTF-8 and is not INSERT ... FORMAT with data: {exc}",
                )
            scanned = scan_sql(sql)
            statement = scanned.first_keyword
            fmt = scanned.output_format or req.default_format
        else:
            statement, fmt = "INSERT", req.default_format
        if req.readonly and statement not in READ_STATEMENTS:
            raise ClickHouseError.own(
                READONLY, f"Cannot execute query in readonly mode{req.readonly_reason}"
            )
        with self._lock:
            applied = []
            try:
                if req.database:
                    self._execute(f"USE {quote_identifier(req.database)}")
                for name, value in req.settings.items():
                    self._execute(f"SET {name} = {quote_literal(value)}")
                    applied.append(name)
                started = time.monotonic_ns()
                if insert is None:
                    outcome = self._query(sql, fmt, req.params)
                else:
                    outcome = self._insert(*insert)
                outcome.elapsed_ns = time.monotonic_ns() - started
                return outcome, fmt
            finally:
                for name in applied:
                    self._execute(f"SET {name} = DEFAULT")
                if req.database:
                    self._execute("USE default")

    def _execute(self, sql: str) -> None:
        try:
            self._session.query(sql, "TabSeparated")
        except Exception as exc:  # chdb raises RuntimeError subclasses carrying the code
            raise ClickHouseError.from_engine(exc) from None

    def _query(self, sql: str, fmt: str, params: dict[str, str]) -> Outcome:
        try:
            result = self._session.query(sql, fmt, params=params or None)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from None
        return Outcome(
            body=result.bytes(),
            read_rows=result.rows_read(),
            read_bytes=result.bytes_read(),
            written_rows=result.rows_written(),
            written_bytes=result.bytes_written(),
        )

    def _insert(self, target: str, fmt: str, data: bytes) -> Outcome:
        try:
            inserter = self._session.send_insert(f"INSERT INTO {target}", fmt)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from None
        try:
            if data:
                inserter.append(data)
            result = inserter.finish()
        except Exception as exc:
            inserter.cancel()
            raise ClickHouseError.from_engine(exc) from None
        return Outcome(body=b"", written_rows=result.rows_written, written_bytes=result.bytes_written)


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Credentials:
    user: str
    password: str


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Set on the class by serve() before the server starts.
    engine: Engine
    credentials: Credentials
    display_name = socket.gethostname()

    def version_string(self) -> str:
        return "ClickHouse"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the base)
        LOG.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        query_id = str(uuid.uuid4())
        self._accept = ""
        try:
            body = self._read_body()
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id") or query_id
            self._accept = (
                self.headers.get("Accept-Encoding", "")
                if params.get("enable_http_compression", "1") != "0"
                else ""
            )
            if url.path in ("/ping", "/replicas_status") or (
                url.path == "/" and "query" not in params and not body
            ):
                self._send(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path != "/":
                raise ClickHouseError.own(
                    NOT_IMPLEMENTED, f"There is no handle {url.path} on this development stand-in"
                )
            self._authenticate(params)
            req = self._build_request(params, body)
            outcome, fmt = self.engine.run(req)
            self._answer(outcome, fmt, params, query_id)
        except ClickHouseError as exc:
            self._fail(exc, query_id)
        except Exception as exc:  # an unexpected failure must still answer like ClickHouse
            LOG.exception("request failed")
            self._fail(ClickHouseError.own(STD_EXCEPTION, f"{type(exc).__name__}: {exc}"), query_id)

    def _read_body(self) -> bytes:
        if self.command == "GET":
            return b""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            raw = b"".join(parts)
        elif "Content-Length" in self.headers:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
        else:
            self.close_connection = True
            raise ClickHouseError.own(
                HTTP_LENGTH_REQUIRED,
                "The Transfer-Encoding is not chunked and there is no Content-Length header for POST request",
            )
        return decode_content(self.headers.get("Content-Encoding", ""), raw)

    def _authenticate(self, params: dict[str, str]) -> None:
        user, password = "default", ""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            decoded = base64.b64decode(auth[6:].strip()).decode("utf-8", "replace")
            user, _, password = decoded.partition(":")
        if "X-ClickHouse-User" in self.headers:
            user = self.headers["X-ClickHouse-User"]
            password = self.headers.get("X-ClickHouse-Key", "")
        if "user" in params:
            user, password = params["user"], params.get("password", "")
        if (user, password) != (self.credentials.user, self.credentials.password):
            raise ClickHouseError.own(
                AUTHENTICATION_FAILED,
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
            )

    def _build_request(self, params: dict[str, str], body: bytes) -> Request:
        if params.get("decompress") == "1":
            body = decompress_blocks(body)
        query = params.get("query", "").encode("utf-8")
        query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        ctype = self.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            form_query, form_params = parse_multipart(ctype, body)
            query = query + form_query if query else form_query
            query_params.update(form_params)
            body = b""
        if query and body:
            # ClickHouse reads the query parameter followed by a newline and the body.
            query = query + b"\n" + body
        elif body:
            query = body
        if not query.strip():
            raise ClickHouseError.own(SYNTAX_ERROR, "Empty query")
        settings = {}
        for name, value in params.items():
            if name in TRANSPORT_PARAMS or name.startswith("param_"):
                continue
            if not SETTING_NAME.match(name):
                raise ClickHouseError.own(UNKNOWN_SETTING, f"Unknown setting '{name}'")
            settings[name] = value
        readonly = params.get("readonly", "0") not in ("", "0")
        reason = ""
        if self.command == "GET":
            readonly = True
            reason = (
                ". For queries over HTTP, method GET implies readonly. "
                "You should use method POST for modifying queries"
            )
        return Request(
            query=query,
            database=params.get("database") or self.headers.get("X-ClickHouse-Database"),
            settings=settings,
            params=query_params,
            default_format=params.get("default_format")
            or self.headers.get("X-ClickHouse-Format")
            or "TabSeparated",
            readonly=readonly,
            readonly_reason=reason,
        )

    def _common_headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "Keep-Alive": "timeout=10",
        }

    def _answer(self, outcome: Outcome, fmt: str, params: dict[str, str], query_id: str) -> None:
        body = outcome.body
        headers = self._common_headers(query_id)
        headers["X-ClickHouse-Format"] = fmt
        headers["Content-Type"] = content_type(fmt)
        headers["X-ClickHouse-Summary"] = json.dumps(
            {
                "read_rows": str(outcome.read_rows),
                "read_bytes": str(outcome.read_bytes),
                "written_rows": str(outcome.written_rows),
                "written_bytes": str(outcome.written_bytes),
                "total_rows_to_read": str(outcome.read_rows),
                "result_rows": str(outcome.written_rows),
                "result_bytes": str(outcome.written_bytes),
                "elapsed_ns": str(outcome.elapsed_ns),
            },
            separators=(",", ":"),
        )
        if params.get("compress") == "1":
            body = compress_blocks(body)
        encoding = pick_response_encoding(self._accept)
        if encoding is not None:
            level = int(params.get("http_zlib_compression_level", "3") or "3")
            body = encode_content(encoding, body, level)
            headers["Content-Encoding"] = encoding
        self._send(HTTPStatus.OK, body, headers)

    def _fail(self, exc: ClickHouseError, query_id: str) -> None:
        LOG.info("query %s failed: Code: %s. %s", query_id, exc.code, exc.message.splitlines()[0])
        headers = self._common_headers(query_id)
        headers["X-ClickHouse-Exception-Code"] = str(exc.code)
        headers["Content-Type"] = "text/plain; charset=UTF-8"
        self._send(exc.http_status(), exc.body(self.engine.version).encode("utf-8"), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def parse_multipart(ctype: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    """The crate sends server-side parameters as a multipart form (fields `query` and
    `param_<name>`); external data tables, the other use of such forms, are not supported."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
    )
    query, params = b"", {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        value = part.get_payload(decode=True) or b""
        if name == "query":
            query = value
        elif name and name.startswith("param_"):
            params[name[6:]] = value.decode("utf-8")
        else:
            raise ClickHouseError.own(
                NOT_IMPLEMENTED,
                f"Multipart field {name!r} (external data) is not supported by the development stand-in",
            )
    return query, params


def serve(args: argparse.Namespace) -> None:
    engine = Engine(args.data_dir)
    Handler.engine = engine
    Handler.credentials = Credentials(args.user, args.password)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        LOG.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info(
        "ClickHouse HTTP stand-in ready on http://%s:%d (engine chdb %s, data %s)",
        args.host,
        args.port,
        engine.version,
        os.path.abspath(args.data_dir),
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
        LOG.info("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--data-dir", required=True, help="chdb data directory (kept across restarts)")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(args)


if __name__ == "__main__":
    main()
