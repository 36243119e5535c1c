"""A Parquet result store: one small file per computed point, keyed by what was computed.

Layout of a store folder ``DIR``::

    DIR/points/<key>.parquet     one row each, written atomically
    DIR/table.parquet            optional: rows merged by :meth:`ResultStore.compact`

A key names a computation completely: the kind (``'theory'``, ``'sim'``,
``'theory-optlam-t'`` ...), the Setting hash (:meth:`Setting.key`) and a hash
of the remaining parameters (simulation ``d`` and seeds, solver options).
Build it with :func:`point_key`.  Each row holds the record (Setting fields,
observables, status) plus ``key``, ``kind``, ``kdscope_version`` and
``timestamp``.

Atomicity: a point is written to a temporary file in the same folder and moved
into place with ``os.replace``, which is atomic on POSIX.  A run killed at any
moment therefore leaves either the complete point file or no point at all (a
stray ``*.tmp`` file, which readers ignore), never a corrupt or duplicate row;
re-running the same command finds the finished points and skips them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

__all__ = ["ResultStore", "point_key", "write_table", "META_COLUMNS"]

META_COLUMNS = ("key", "kind", "kdscope_version", "timestamp")
_POINTS = "points"
_TABLE = "table.parquet"


def _canonical(value: Any) -> Any:
    """A JSON-stable form of a key parameter (dataclasses become dicts, floats keep repr)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _canonical(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def point_key(setting, kind: str = "theory", **params: Any) -> str:
    """The store key of one computation: ``'<kind>-<setting hash>[-<params hash>]'``.

    Parameters
    ----------
    setting : kdscope.Setting
        The problem; its 16-hex-digit :meth:`Setting.key` is part of the key.
    kind : str
        What was computed: 'theory', 'sim', 'theory-optlam-t' ...  Letters,
        digits and dashes only.
    **params
        Everything else that changes the result (``d``, ``seeds``, solver
        options as a dataclass, optimisation bounds).  ``None`` values are
        dropped, so ``point_key(s, 'theory', options=None)`` equals
        ``point_key(s, 'theory')``.

    Examples
    --------
    >>> from kdscope import Setting
    >>> point_key(Setting(), "sim", d=100, seeds=3) == point_key(Setting(), "sim", seeds=3, d=100)
    True
    """
    if not kind or not all(c.isalnum() or c == "-" for c in kind):
        raise ValueError(f"point_key: 'kind' must be letters, digits and dashes; got {kind!r}.")
    key = f"{kind}-{setting.key()}"
    extra = {k: v for k, v in params.items() if v is not None}
    if extra:
        payload = json.dumps(_canonical(extra), sort_keys=True, default=repr)
        key += "-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    return key


def _storable(value: Any) -> Any:
    """Scalars stay; lists, tuples and dicts become JSON text (one Parquet cell each)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_canonical(value))
    return value


class ResultStore:
    """A folder of Parquet point files keyed by computation (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The store folder; created on first write.

    Examples
    --------
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.put({"alpha": 2.0, "eps_t": 0.1}, "theory-demo")
    >>> store.has("theory-demo"), store.get("theory-demo")["eps_t"]
    (True, 0.1)
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._table_cache: tuple[float, dict[str, dict]] | None = None

    # ----------------------------------------------------------------- paths
    @property
    def points_dir(self) -> Path:
        return self.root / _POINTS

    @property
    def table_path(self) -> Path:
        return self.root / _TABLE

    def _point_path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"ResultStore: a key must be a non-empty file-name-safe string; got {key!r}.")
        return self.points_dir / f"{key}.parquet"

    # ------------------------------------------------------------ read/write
    def put(self, record: Mapping[str, Any], key: str, kind: str | None = None) -> None:
        """Store ``record`` under ``key``, atomically (replaces an existing point of that key).

        The row gets the columns ``key``, ``kind`` (argument, else the record's
        'kind', else the key's prefix before its Setting hash),
        ``kdscope_version`` and ``timestamp`` (UTC, seconds since the epoch).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from kdscope import __version__

        path = self._point_path(key)
        row = {k: _storable(v) for k, v in record.items() if k not in META_COLUMNS}
        row["key"] = key
        row["kind"] = kind or record.get("kind") or _kind_of(key)
        row["kdscope_version"] = __version__
        row["timestamp"] = time.time()
        table = pa.Table.from_pylist([row])
        self.points_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.points_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def has(self, key: str) -> bool:
        """True if a finished point of this key exists (point file or compacted table)."""
        return self._point_path(key).exists() or key in self._table_rows()

    def get(self, key: str) -> dict | None:
        """The stored row of ``key`` as a dict (JSON cells decoded back), or None."""
        path = self._point_path(key)
        if path.exists():
            return _decode(_read_rows(path)[0])
        row = self._table_rows().get(key)
        return None if row is None else _decode(dict(row))

    def keys(self) -> list[str]:
        """All stored keys (point files and compacted table), sorted."""
        ks = set(self._table_rows())
        ks.update(p.stem for p in self._point_files())
        return sorted(ks)

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: str) -> bool:
        return self.has(key)

    def records(self) -> Iterator[dict]:
        """Every stored row (latest per key), decoded."""
        rows = dict(self._table_rows())
        for p in self._point_files():
            rows[p.stem] = _read_rows(p)[0]
        for key in sorted(rows):
            yield _decode(dict(rows[key]))

    def frame(self, kind: str | None = None):
        """All rows as a tidy pandas DataFrame (one row per key), optionally of one ``kind``."""
        import pandas as pd

        rows = [r for r in self.records() if kind is None or r.get("kind") == kind]
        df = pd.DataFrame(rows)
        if len(df):
            cols = [c for c in df.columns if c not in META_COLUMNS] + [c for c in META_COLUMNS if c in df.columns]
            df = df[cols]
        return df

    def compact(self) -> int:
        """Merge the point files into ``table.parquet`` (atomically) and remove them.

        Returns the number of rows in the table.  A point file written while
        compacting is kept (only files read are removed).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self._point_files()
        rows = dict(self._table_rows())
        for p in files:
            rows[p.stem] = _read_rows(p)[0]
        if not rows:
            return 0
        table = pa.Table.from_pylist([rows[k] for k in sorted(rows)])
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".table.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.table_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        for p in files:
            p.unlink(missing_ok=True)
        self._table_cache = None
        return len(rows)

    # -------------------------------------------------------------- helpers
    def _point_files(self) -> list[Path]:
        if not self.points_dir.is_dir():
            return []
        return sorted(p for p in self.points_dir.glob("*.parquet") if not p.name.startswith("."))

    def _table_rows(self) -> dict[str, dict]:
        path = self.table_path
        if not path.exists():
            return {}
        mtime = path.stat().st_mtime
        if self._table_cache is None or self._table_cache[0] != mtime:
            self._table_cache = (mtime, {r["key"]: r for r in _read_rows(path)})
        return self._table_cache[1]


def write_table(df, path: str | os.PathLike) -> Path:
    """Write a tidy DataFrame to Parquet atomically (tmp file + ``os.replace``); list / dict cells as JSON text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            df[c] = df[c].map(_storable)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _kind_of(key: str) -> str:
    """The kind prefix of a :func:`point_key` key (the parts before the 16-hex-digit Setting hash)."""
    parts = key.split("-")
    for i, part in enumerate(parts):
        if i > 0 and len(part) == 16 and all(c in "0123456789abcdef" for c in part):
            return "-".join(parts[:i])
    return parts[0]


def _read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _decode(row: dict) -> dict:
    """Undo :func:`_storable` for JSON list/dict cells; NaN stays NaN."""
    for k, v in row.items():
        if isinstance(v, str) and v[:1] in "[{":
            try:
                row[k] = json.loads(v)
            except ValueError:
                pass
        elif isinstance(v, float) and math.isnan(v):
            row[k] = math.nan
    return row
