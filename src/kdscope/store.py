"""A Parquet result store that heals: one small file per computed point, keyed by what was computed.

Layout of a store folder ``DIR``::

    DIR/points/<key>.parquet     one row each, written atomically
    DIR/table.parquet            optional: rows merged by :meth:`ResultStore.compact`
    DIR/claims/<key>.claim       a point being computed right now (pid and host of the writer)
    DIR/corrupt/                 unreadable point files moved aside (with a warning), never deleted

Keys come from :func:`kdscope.keys.point_key` (kind, readable label, canonical hash).  Each row
holds the record plus ``key``, ``kind``, ``kdscope_version`` and ``timestamp``.

Guarantees:

* **Atomic writes.**  A point is written to a temporary file in the same folder and moved into
  place with ``os.replace`` (atomic on POSIX).  A run killed at any moment leaves the complete
  point or none.  Files get the ordinary permissions of the user's umask (0644 typically).
* **Healing.**  An empty, truncated or otherwise unreadable point file is moved to ``corrupt/``
  with a :class:`StoreWarning` and counts as missing, so the next run recomputes it.  Temporary
  files left by killed writers are removed when a store is opened (:data:`STALE_TMP_SECONDS`).
* **Compute once.**  :meth:`ResultStore.claim` creates ``claims/<key>.claim`` with ``O_EXCL``:
  of two processes sharing a store, one computes a point and the other waits for it.  A claim of
  a dead process (same host), or older than :data:`STALE_CLAIM_SECONDS`, is ignored.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from kdscope.claims import STALE_CLAIM_SECONDS, Claims, pid_alive
from kdscope.keys import kind_of, point_key

__all__ = ["STALE_CLAIM_SECONDS", "ResultStore", "StoreWarning", "point_key", "write_table", "atomic_write", "META_COLUMNS"]

META_COLUMNS = ("key", "kind", "kdscope_version", "timestamp")
#: A temporary file of a dead process (or any older than an hour) is removed when a store is opened.
STALE_TMP_SECONDS = 3600.0
_POINTS, _TABLE, _CLAIMS, _CORRUPT = "points", "table.parquet", "claims", "corrupt"


class StoreWarning(UserWarning):
    """Something in a result store was repaired: a corrupt point moved aside, a stale claim ignored."""


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    """Write ``path`` atomically: ``write(binary file object)`` into a temporary file, then ``os.replace``.

    The temporary file is named ``.<name>.<pid>.<random>.tmp`` in the same folder (so a killed
    writer's leftovers can be recognised) and gets the umask's permissions before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _storable(value: Any) -> Any:
    """Scalars stay; lists, tuples and dicts become JSON text (one Parquet cell each)."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value))
    return value


def _plain(v: Any) -> Any:
    """JSON-ready copy: numpy scalars as Python ones, tuples as lists, dict keys as text (numbers unchanged)."""
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


class ResultStore:
    """A folder of Parquet point files keyed by computation (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The store folder; created on first write.  Opening cleans stale temporary files.

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
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"ResultStore: {str(self.root)!r} is a file, not a folder.")
        self._table_cache: tuple[float, dict[str, dict]] | None = None
        self._claim_folder = Claims(self.root / _CLAIMS)
        self.clean_stale_tmp()

    # ----------------------------------------------------------------- paths
    @property
    def points_dir(self) -> Path:
        return self.root / _POINTS

    @property
    def table_path(self) -> Path:
        return self.root / _TABLE

    @property
    def claims_dir(self) -> Path:
        return self.root / _CLAIMS

    def _point_path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith(".") or "\0" in key:
            raise ValueError(f"ResultStore: a key must be a non-empty file-name-safe string; got {key!r}.")
        return self.points_dir / f"{key}.parquet"

    # ------------------------------------------------------------ read/write
    def put(self, record: Mapping[str, Any], key: str, kind: str | None = None) -> None:
        """Store ``record`` under ``key``, atomically (replaces an existing point of that key).

        The row gets the columns ``key``, ``kind`` (argument, else the record's 'kind', else the
        key's kind), ``kdscope_version`` and ``timestamp`` (UTC, seconds since the epoch).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from kdscope import __version__

        path = self._point_path(key)
        row = {k: _storable(v) for k, v in record.items() if k not in META_COLUMNS}
        row["key"] = key
        row["kind"] = kind or record.get("kind") or kind_of(key)
        row["kdscope_version"] = __version__
        row["timestamp"] = time.time()
        table = pa.Table.from_pylist([row])
        atomic_write(path, lambda fh: pq.write_table(table, fh))

    def has(self, key: str) -> bool:
        """True if a readable point of this key exists (a corrupt file is moved aside: False)."""
        path = self._point_path(key)
        if path.exists():
            return self._read_point(path, footer_only=True) is not None
        return key in self._table_rows()

    def get(self, key: str) -> dict | None:
        """The stored row of ``key`` as a dict (JSON cells decoded back), or None."""
        path = self._point_path(key)
        if path.exists():
            row = self._read_point(path)
            if row is not None:
                return _decode(row)
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
        """Every stored row (latest per key), decoded; corrupt point files are moved aside."""
        rows = dict(self._table_rows())
        for p in self._point_files():
            row = self._read_point(p)
            if row is not None:
                rows[p.stem] = row
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
        """Merge the point files into ``table.parquet`` (atomically) and remove them; returns the row count."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self._point_files()
        rows = dict(self._table_rows())
        read = []
        for p in files:
            row = self._read_point(p)
            if row is not None:
                rows[p.stem] = row
                read.append(p)
        if not rows:
            return 0
        table = pa.Table.from_pylist([rows[k] for k in sorted(rows)])
        atomic_write(self.table_path, lambda fh: pq.write_table(table, fh))
        for p in read:
            p.unlink(missing_ok=True)
        self._table_cache = None
        return len(rows)

    # ------------------------------------------------------------ healing
    def clean_stale_tmp(self) -> list[Path]:
        """Remove temporary files of writers that died (or any older than :data:`STALE_TMP_SECONDS`)."""
        removed = []
        now = time.time()
        for folder, pattern in ((self.points_dir, ".*.tmp"), (self.root, f".{Path(_TABLE).stem}.*.tmp")):
            if not folder.is_dir():
                continue
            for p in folder.glob(pattern):
                try:
                    age = now - p.stat().st_mtime
                except FileNotFoundError:
                    continue
                parts = p.name.rsplit(".", 3)
                pid = int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else None
                dead = pid is not None and pid != os.getpid() and not pid_alive(pid)
                if dead or age > STALE_TMP_SECONDS or (pid is None and age > 60.0):
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed

    def _quarantine(self, path: Path, reason: str) -> None:
        """Move an unreadable file to ``corrupt/`` and warn (the point then counts as missing)."""
        dest_dir = self.root / _CORRUPT
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        try:
            os.replace(path, dest)
        except FileNotFoundError:  # another reader moved it first
            return
        warnings.warn(f"result store {str(self.root)!r}: {path.name} is unreadable ({reason}); moved to "
                      f"{dest_dir.name}/{dest.name}, the point will be recomputed.", StoreWarning, stacklevel=3)

    def _read_point(self, path: Path, footer_only: bool = False) -> dict | None:
        """The one row of a point file, or None after quarantining a corrupt one (footer_only: any dict)."""
        import pyarrow.parquet as pq

        try:
            if path.stat().st_size == 0:
                raise ValueError("empty file")
            if footer_only:
                n = pq.ParquetFile(path).metadata.num_rows
                if n != 1:
                    raise ValueError(f"{n} rows instead of 1")
                return {}
            rows = pq.read_table(path).to_pylist()
            if len(rows) != 1:
                raise ValueError(f"{len(rows)} rows instead of 1")
            return rows[0]
        except FileNotFoundError:
            return None
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError ... for a damaged file
            self._quarantine(path, f"{type(exc).__name__}: {exc}")
            return None

    # ------------------------------------------------------------- claims
    def claim(self, key: str) -> bool:
        """Claim ``key`` for computation by this process (see :class:`kdscope.claims.Claims`): False if taken."""
        self._point_path(key)  # validates the key
        return self._claim_folder.claim(key)

    def claim_owner(self, key: str) -> dict | None:
        """The claim of ``key`` ({'pid', 'host', 'time'}), or None when unclaimed."""
        return self._claim_folder.owner(key)

    def claimed_by_other(self, key: str) -> bool:
        """True while another live process holds the claim of ``key``."""
        return self._claim_folder.held_by_other(key)

    def release(self, key: str) -> None:
        """Drop this process's claim of ``key`` (no effect when it holds none)."""
        self._claim_folder.release(key)

    def release_all(self) -> None:
        """Drop every claim this store object holds (end of a run, or an interruption)."""
        self._claim_folder.release_all()

    # -------------------------------------------------------------- helpers
    def _point_files(self) -> list[Path]:
        if not self.points_dir.is_dir():
            return []
        return sorted(p for p in self.points_dir.glob("*.parquet") if not p.name.startswith("."))

    def _table_rows(self) -> dict[str, dict]:
        import pyarrow.parquet as pq

        path = self.table_path
        if not path.exists():
            return {}
        mtime = path.stat().st_mtime
        if self._table_cache is None or self._table_cache[0] != mtime:
            try:
                rows = {r["key"]: r for r in pq.read_table(path).to_pylist()}
            except Exception as exc:
                self._quarantine(path, f"{type(exc).__name__}: {exc}")
                self._table_cache = None
                return {}
            self._table_cache = (mtime, rows)
        return self._table_cache[1]


def write_table(df, path: str | os.PathLike) -> Path:
    """Write a tidy DataFrame to Parquet atomically (tmp file + ``os.replace``); list / dict cells as JSON text."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            df[c] = df[c].map(_storable)
    return atomic_write(path, lambda fh: df.to_parquet(fh, index=False))


def write_figure(fig, stem: str | os.PathLike, formats=("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``<stem>.<ext>`` for each format: vector PDF, PNG at the house resolution
    (:data:`kdscope.figures.style.SAVE_DPI`), cropped to the drawn content so outside legends are kept."""
    from kdscope.figures.style import SAVE_DPI

    paths = []
    for ext in formats:
        path = Path(f"{stem}.{ext}")
        fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight")
        paths.append(path)
    return paths


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
