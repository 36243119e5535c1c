"""Compute-once claims: a folder of ``<key>.claim`` files, each created with ``O_EXCL`` by the process computing it.

Of several processes that share a result store, the first to create a key's claim file computes
the point; the others see the claim and wait for the point instead of computing it again.  A claim
holds the owner's pid, host and the time.  It is *stale*, and taken over, when its process is dead
(same host) or when it is older than :data:`STALE_CLAIM_SECONDS` (an owner on another host that we
cannot check).  A process killed with ``kill -9`` leaves its claims behind; they are stale at once.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

__all__ = ["Claims", "pid_alive", "STALE_CLAIM_SECONDS"]

#: A claim older than this (six hours) is ignored even when its process may live on another host.
STALE_CLAIM_SECONDS = 6 * 3600.0
_HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - exists, owned by someone else
        return True
    return True


class Claims:
    """The claim files of one folder (created on the first claim)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._held: set[str] = set()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.claim"

    def _mine(self, owner: dict) -> bool:
        return owner.get("pid") == os.getpid() and owner.get("host") == _HOST

    def claim(self, key: str) -> bool:
        """Claim ``key``: True if this process holds it now, False if another live process does."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                owner = self.owner(key)
                if owner is not None and self._mine(owner):
                    self._held.add(key)
                    return True
                if owner is not None and not self.stale(owner):
                    return False
                path.unlink(missing_ok=True)  # stale: take it over
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": _HOST, "time": time.time()}, fh)
            self._held.add(key)
            return True
        return False

    def owner(self, key: str) -> dict | None:
        """The claim of ``key`` ({'pid', 'host', 'time'}; 'partial' while being written), or None."""
        path = self._path(key)
        try:
            text = path.read_text()
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            owner = json.loads(text)
            return owner if isinstance(owner, dict) else {"time": mtime, "partial": True}
        except ValueError:
            return {"time": mtime, "partial": True}

    @staticmethod
    def stale(owner: dict) -> bool:
        """True when the claim's process is dead (same host) or the claim is too old to trust."""
        age = time.time() - float(owner.get("time", 0.0) or 0.0)
        if owner.get("partial"):
            return age > 10.0
        if owner.get("host") == _HOST and isinstance(owner.get("pid"), int):
            return not pid_alive(owner["pid"]) or age > STALE_CLAIM_SECONDS
        return age > STALE_CLAIM_SECONDS

    def held_by_other(self, key: str) -> bool:
        """True while another live process holds the claim of ``key``."""
        owner = self.owner(key)
        return owner is not None and not self._mine(owner) and not self.stale(owner)

    def release(self, key: str) -> None:
        """Remove this process's claim of ``key`` (no effect when it holds none)."""
        if key in self._held:
            self._held.discard(key)
            self._path(key).unlink(missing_ok=True)

    def release_all(self) -> None:
        """Remove every claim this object holds."""
        for key in list(self._held):
            self.release(key)
