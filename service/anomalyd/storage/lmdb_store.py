"""The Store on LMDB: one environment under the data directory, one named database a table."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import lmdb

from anomalyd.storage import keys
from anomalyd.storage.store import StorageError

T = TypeVar("T")
log = logging.getLogger(__name__)

_INITIAL_MAP_SIZE = 64 << 20


class _LmdbTransaction:
    def __init__(self, txn: lmdb.Transaction, tables: dict[bytes, lmdb._Database], max_key_bytes: int) -> None:
        self._txn = txn
        self._tables = tables
        self._max_key_bytes = max_key_bytes

    def get(self, table: bytes, key: bytes) -> bytes | None:
        if not self._storable(key):
            return None  # a key LMDB cannot hold (an empty or 10 KB id) is a key that is not there
        value = self._txn.get(key, db=self._tables[table])
        return None if value is None else bytes(value)

    def put(self, table: bytes, key: bytes, value: bytes) -> None:
        self._txn.put(key, value, db=self._tables[table])

    def put_many(self, table: bytes, items: list[tuple[bytes, bytes]]) -> None:
        # One C loop: a put through this class and py-lmdb's keyword arguments costs ~1 us in Python.
        if items:
            self._txn.cursor(db=self._tables[table]).putmulti(items)

    def delete(self, table: bytes, key: bytes) -> bool:
        return self._storable(key) and bool(self._txn.delete(key, db=self._tables[table]))

    def _storable(self, key: bytes) -> bool:
        return 0 < len(key) <= self._max_key_bytes

    def scan(
        self, table: bytes, prefix: bytes = b"", start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        cursor = self._txn.cursor(db=self._tables[table])
        if not cursor.set_range(max(start or b"", prefix)):
            return
        for key, value in cursor:
            found = bytes(key)
            if not found.startswith(prefix):
                return
            yield found, bytes(value)

    def last_key(self, table: bytes, prefix: bytes) -> bytes | None:
        cursor = self._txn.cursor(db=self._tables[table])
        above = _successor(prefix)
        # The key before the first one above every key with the prefix, or the table's last.
        found = cursor.prev() if above is not None and cursor.set_range(above) else cursor.last()
        key = bytes(cursor.key()) if found else b""
        return key if found and key.startswith(prefix) else None


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string above every string that starts with prefix; None if there is none."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


class LmdbStore:
    """A Store in an LMDB environment that doubles its map whenever it fills.

    Writes are serialised by one lock, as LMDB allows one writer anyway; reads take no part in
    it, so a query never waits for an ingest's commit: a read transaction sees the last commit
    before it began. Growing the map requires that no transaction is active, so a grow waits
    for the reads under way and holds new ones back until it is done.
    """

    def __init__(self, path: str, *, map_size: int = _INITIAL_MAP_SIZE) -> None:
        os.makedirs(path, exist_ok=True)
        # sync=False: commits reach the OS page cache, which survives a crash of the process;
        # durable updates and sync() add the fsync where an acknowledgement needs it.
        try:
            self._env = lmdb.open(
                path, map_size=map_size, max_dbs=len(keys.ALL_TABLES), sync=False, metasync=False
            )
        except lmdb.Error as err:
            raise StorageError(f"cannot open the LMDB environment in {path}: {err}") from err
        info = self._env.info()
        self._check_not_truncated(path, info["last_pgno"])
        if info["map_size"] < map_size:
            self._env.set_mapsize(map_size)
        self._tables = {name: self._env.open_db(name) for name in keys.ALL_TABLES}
        self._max_key_bytes = self._env.max_key_size()
        self._lock = threading.RLock()  # the writer's
        self._readers = 0
        self._held_back = False
        self._reads = threading.Condition()  # guards _readers and _held_back

    def _check_not_truncated(self, path: str, last_page: int) -> None:
        """Refuse a data file shorter than its pages: reading them would kill the process (SIGBUS)."""
        data = os.path.join(path, "data.mdb")
        needed = (last_page + 1) * self._env.stat()["psize"]
        size = os.path.getsize(data)
        if size < needed:
            self._env.close()
            raise StorageError(
                f"{data} is damaged: it holds {size} bytes but its pages reach {needed}, so it was truncated; "
                "restore the data directory from a backup"
            )

    def view(self, work: Callable[[_LmdbTransaction], T]) -> T:
        """Run work in a read transaction (see Store.view)."""
        with self._reads:
            self._reads.wait_for(lambda: not self._held_back)
            self._readers += 1
        try:
            with self._env.begin(buffers=False) as txn:
                return work(_LmdbTransaction(txn, self._tables, self._max_key_bytes))
        finally:
            with self._reads:
                self._readers -= 1
                self._reads.notify_all()

    def update(self, work: Callable[[_LmdbTransaction], T], *, durable: bool = False) -> T:
        """Run work in a write transaction, growing the map when it fills (see Store.update)."""
        with self._lock:
            while True:
                try:
                    with self._env.begin(write=True) as txn:
                        result = work(_LmdbTransaction(txn, self._tables, self._max_key_bytes))
                except lmdb.MapFullError:
                    self._grow()
                    continue
                except lmdb.Error as err:
                    # The message reaches clients (a job's failure_reason, an upload's status),
                    # so the path goes to the log only.
                    log.error("cannot write to %s: %s", self._env.path(), err)
                    raise StorageError(f"the store refused a write: {err}") from err
                if durable:
                    self._env.sync(True)
                return result

    def sync(self) -> None:
        """Flush every committed transaction to disk."""
        with self._lock:
            self._env.sync(True)

    def close(self) -> None:
        """Flush and release the environment."""
        with self._lock, self._no_reads():
            self._env.sync(True)
            self._env.close()

    @contextlib.contextmanager
    def _no_reads(self) -> Iterator[None]:
        """Wait for the read transactions under way, and hold new ones back meanwhile."""
        with self._reads:
            self._held_back = True
            self._reads.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._reads:
                self._held_back = False
                self._reads.notify_all()

    def _grow(self) -> None:
        """Double the map (the writer's lock held), with no read transaction active."""
        size = self._env.info()["map_size"] * 2
        log.info("LMDB map full; growing it to %d MiB", size >> 20)
        try:
            with self._no_reads():
                self._env.set_mapsize(size)
        except lmdb.Error as err:
            log.error("cannot grow %s to %d MiB: %s", self._env.path(), size >> 20, err)
            raise StorageError(f"the store cannot grow to {size >> 20} MiB: {err}") from err
