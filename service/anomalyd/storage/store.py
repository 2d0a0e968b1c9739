"""The storage interface: tables of byte keys and values, changed in transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class StorageError(Exception):
    """A write could not be committed: the disk is full or failing. Nothing of it was stored."""


class Transaction(Protocol):
    """One read or write transaction over the store's tables."""

    def get(self, table: bytes, key: bytes) -> bytes | None:
        """The value at key, or None."""
        ...

    def put(self, table: bytes, key: bytes, value: bytes) -> None:
        """Store value at key (write transactions only)."""
        ...

    def put_many(self, table: bytes, items: list[tuple[bytes, bytes]]) -> None:
        """Store each (key, value) as put() does, in one call (write transactions only)."""
        ...

    def delete(self, table: bytes, key: bytes) -> bool:
        """Remove key; True if it was there (write transactions only)."""
        ...

    def scan(
        self, table: bytes, prefix: bytes = b"", start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with prefix, in key order, from start (inclusive) if given."""
        ...

    def last_key(self, table: bytes, prefix: bytes) -> bytes | None:
        """The largest key that starts with prefix, or None."""
        ...


class Store(Protocol):
    """A transactional key-value store."""

    def view(self, work: Callable[[Transaction], T]) -> T:
        """Run work in a read transaction and return its result."""
        ...

    def update(self, work: Callable[[Transaction], T], *, durable: bool = False) -> T:
        """Run work in a write transaction and commit it.

        work may be called more than once (when the store grows), so it must only act through
        the transaction. With durable=True the commit is on disk when this returns; otherwise
        it survives a crash of the process but not necessarily of the machine.

        Raises:
            StorageError: the transaction could not be committed.
        """
        ...

    def sync(self) -> None:
        """Flush every committed transaction to disk."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...
