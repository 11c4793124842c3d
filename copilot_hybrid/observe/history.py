"""The request history: one SQLite table (stdlib sqlite3) in the data directory.

WAL mode, so that the dashboard and `copilot-hybrid requests` read while the
proxy writes. Only the recorder's thread writes (batched, one transaction per
batch), and after each batch the oldest rows beyond `max_rows` are deleted,
so the file stays bounded. The file is created 0600: with `--history-text`
it holds (redacted) prompt text.

The history is a log, not a store of record: a file from another schema
version is dropped and started afresh.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from copilot_hybrid import config
from copilot_hybrid.observe.record import HISTORY_FIELDS, RequestRecord

SCHEMA_VERSION: Final = 1
TABLE: Final = "requests"
BUSY_TIMEOUT_MS: Final = 5000


def _sql_type(annotation: str) -> str:
    if "float" in annotation:
        return "REAL"
    if "int" in annotation or "bool" in annotation:
        return "INTEGER"
    return "TEXT"


_TYPES: Final = {f.name: _sql_type(str(f.type)) for f in dataclasses.fields(RequestRecord)}
_COLUMNS: Final = ", ".join(f"{name} {_TYPES[name]}" for name in HISTORY_FIELDS)
_INSERT: Final = f"INSERT INTO {TABLE} ({', '.join(HISTORY_FIELDS)}) VALUES ({', '.join('?' for _ in HISTORY_FIELDS)})"  # noqa: S608 - column names are ours


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


class History:
    """The writer side. `open()` and `write()` run on the recorder's thread."""

    def __init__(self, path: Path, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError("the history must keep at least one row")
        self.path = path
        self.max_rows = max_rows
        self._connection: sqlite3.Connection | None = None

    def open(self) -> None:
        config.ensure_private_dir(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        connection = _connect(self.path)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")  # WAL: durable except for the last commits on power loss
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
        connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, {_COLUMNS})")
        connection.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_time ON {TABLE} (time)")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.commit()
        self._connection = connection

    def write(self, records: Sequence[RequestRecord]) -> None:
        """Inserts a batch and trims the table to `max_rows`, in one transaction."""
        if self._connection is None:
            self.open()
        connection = self._connection
        assert connection is not None
        with connection:
            connection.executemany(_INSERT, [_row(r) for r in records])
            newest = connection.execute(f"SELECT MAX(id) FROM {TABLE}").fetchone()[0] or 0  # noqa: S608
            connection.execute(f"DELETE FROM {TABLE} WHERE id <= ?", (newest - self.max_rows,))  # noqa: S608

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _row(record: RequestRecord) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in (getattr(record, n) for n in HISTORY_FIELDS))


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    result = {name: row[name] for name in HISTORY_FIELDS}
    result["stream"] = bool(result["stream"])
    return result


def _status_clause(status: str) -> tuple[str, list[Any]]:
    """`2xx`/`4xx`/`5xx`, `error` (>= 400) or one exact status."""
    text = status.strip().lower()
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        low = int(text[0]) * 100
        return "status >= ? AND status < ?", [low, low + 100]
    if text == "error":
        return "status >= ?", [400]
    if text.isdigit():
        return "status = ?", [int(text)]
    raise ValueError(f"unknown status filter {status!r}: use a code, 2xx, 4xx, 5xx or error")


def read_rows(
    path: Path,
    *,
    limit: int = 100,
    since: float | None = None,
    model: str | None = None,
    route: str | None = None,
    status: str | None = None,
    columns: Iterable[str] = HISTORY_FIELDS,
) -> list[dict[str, Any]]:
    """The newest `limit` matching rows, oldest first; [] when there is no history yet."""
    if not path.exists():
        return []
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append("time >= ?")
        params.append(since)
    if model:
        clauses.append("(requested_model = ? OR resolved_model = ?)")
        params += [model, model]
    if route:
        clauses.append("route = ?")
        params.append(route)
    if status:
        clause, values = _status_clause(status)
        clauses.append(clause)
        params += values
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    connection = _connect(path)
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = 1")
        rows = connection.execute(
            f"SELECT * FROM {TABLE} {where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - clauses are ours, values bound
            [*params, max(0, limit)],
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        connection.close()
    wanted = list(columns)
    return [{k: v for k, v in _as_dict(row).items() if k in wanted} for row in reversed(rows)]


def distinct_values(path: Path, column: str, limit: int = 100) -> list[str]:
    """The values of `column` in the history (filter choices), most frequent first."""
    if column not in HISTORY_FIELDS:
        raise ValueError(f"unknown history column {column!r}")
    if not path.exists():
        return []
    connection = _connect(path)
    try:
        rows = connection.execute(
            f"SELECT {column}, COUNT(*) AS n FROM {TABLE} WHERE {column} IS NOT NULL "  # noqa: S608 - checked above
            f"GROUP BY {column} ORDER BY n DESC LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        connection.close()
    return [str(row[0]) for row in rows]
