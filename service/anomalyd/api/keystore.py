"""API keys: the credential format, the keys file, and the check of a presented key.

A credential is base64 of "id:secret", as Elasticsearch encodes its API keys; clients send it
as the gRPC metadata `authorization: ApiKey <credential>`. The keys file (JSON) holds each
key's id, name, role, creation time and a salted SHA-256 of its secret, never the secret.

Secrets are 32 random bytes, so a slow password hash (PBKDF2, bcrypt) would buy nothing: it
slows the guessing of low-entropy passwords, and 2^256 candidates cannot be guessed at any
speed. A fast hash needs no cache of verified keys either (Elasticsearch keeps one because its
stored hash is slow). The salt keeps two files with the same secret from matching.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import msgspec

log = logging.getLogger(__name__)

HASH_ALGORITHM = "ssha256"
_SECRET_BYTES = 32
_SALT_BYTES = 16
# 20 hex characters, as long as the ids of Elasticsearch's API keys; hex, so that an id never
# starts with "-", which `anomalyd keys delete ID` would read as an option.
_ID_BYTES = 10
_FILE_VERSION = 1


class ApiKey(msgspec.Struct, frozen=True):
    """A key as stored: everything but its secret.

    Attributes:
        id: the public part of the credential; names the key in listings and errors.
        name: what the key is for, free text.
        role: the role whose privileges the key grants.
        creation_time: when it was created, ISO 8601 UTC.
        hash: "ssha256$<salt>$<digest>", both base64, the digest over salt + secret.
    """

    id: str
    name: str
    role: str
    creation_time: str
    hash: str


class _KeysFile(msgspec.Struct):
    version: int = _FILE_VERSION
    keys: list[ApiKey] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(_KeysFile)


def encode_credential(key_id: str, secret: str) -> str:
    """The credential a client presents: base64 of "id:secret"."""
    return base64.b64encode(f"{key_id}:{secret}".encode()).decode("ascii")


def decode_credential(credential: str) -> tuple[str, str]:
    """The (id, secret) of a credential.

    Raises:
        ValueError: it is not base64 of "id:secret"; the message never holds the credential.
    """
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("the credential is not base64 of id:secret") from None
    key_id, colon, secret = decoded.partition(":")
    if not (key_id and colon and secret):
        raise ValueError("the credential is not base64 of id:secret")
    return key_id, secret


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """The stored form of a secret: algorithm, salt and salted SHA-256 digest."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.sha256(salt + secret.encode()).digest()
    return "$".join((HASH_ALGORITHM, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_secret(secret: str, stored: str) -> bool:
    """Whether secret matches a stored hash, compared in constant time."""
    algorithm, _, rest = stored.partition("$")
    salt_text, _, digest_text = rest.partition("$")
    if algorithm != HASH_ALGORITHM:
        return False
    try:
        salt, digest = base64.b64decode(salt_text, validate=True), base64.b64decode(digest_text, validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(hashlib.sha256(salt + secret.encode()).digest(), digest)


def read_keys(path: str) -> list[ApiKey]:
    """The keys in a keys file.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a keys file (the message names the bad part, not its content).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return _DECODER.decode(raw).keys
    except msgspec.DecodeError as err:
        raise ValueError(f"{path} is not an anomalyd keys file: {err}") from None


def create_key(path: str, *, role: str, name: str = "") -> tuple[ApiKey, str]:
    """Adds a new random key to a keys file, creating the file (mode 0600) if need be.

    Args:
        path: the keys file.
        role: the key's role; the caller checks that it is one the server knows.
        name: what the key is for.

    Returns:
        The stored key and its credential, which exists nowhere else: show it once.

    Raises:
        OSError: the file cannot be read or written.
        ValueError: the file is not a keys file.
    """
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    key = ApiKey(id=key_id, name=name, role=role, creation_time=now, hash=hash_secret(secret))
    _update(path, lambda keys: [*keys, key])
    return key, encode_credential(key_id, secret)


def delete_key(path: str, key_id: str) -> ApiKey:
    """Removes a key from a keys file; a server using the file refuses it within a second or so.

    Raises:
        OSError: the file cannot be read or written.
        ValueError: no key has this id, or the file is not a keys file.
    """
    deleted: list[ApiKey] = []

    def without(keys: list[ApiKey]) -> list[ApiKey]:
        deleted.extend(k for k in keys if k.id == key_id)
        if not deleted:
            raise ValueError(f"no key {key_id!r} in {path}")
        return [k for k in keys if k.id != key_id]

    _update(path, without)
    return deleted[0]


def _update(path: str, change: Callable[[list[ApiKey]], list[ApiKey]]) -> None:
    """Read, change and atomically replace the keys file, one writer at a time."""
    with _locked(path):
        try:
            keys = read_keys(path)
        except FileNotFoundError:
            keys = []
        encoded = msgspec.json.format(msgspec.json.encode(_KeysFile(keys=change(keys))), indent=2) + b"\n"
        directory = os.path.dirname(os.path.abspath(path))
        # mkstemp creates the file with mode 0600; the replace keeps readers from ever seeing
        # half a file, and a crash leaves the old file whole.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".keys-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(encoded)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    # The keys file itself is replaced on every write, so the lock lives beside it: two
    # `keys create` at once must not each append to the same old list.
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class KeyStore:
    """The keys of a keys file, reloaded when the file changes (checked at most every check_s).

    A file that disappears or cannot be read leaves no valid key until it is fixed: failing
    closed, with the reason in the log.

    Args:
        path: the keys file.
        check_s: how often the file is checked for a change, in seconds.
        clock: monotonic seconds, for tests.

    Raises:
        OSError: the file cannot be read at start.
        ValueError: it is not a keys file.
    """

    def __init__(self, path: str, *, check_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._check_s = check_s
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._signature: tuple[int, int, int] | None = _signature(os.stat(path))
            self._keys = {k.id: k for k in read_keys(path)}
        except OSError as err:
            raise OSError(err.errno, f"cannot read keys file {path}: {err.strerror} (see: anomalyd keys create)") from None
        self._checked = clock()
        log.info("%d API keys from %s", len(self._keys), path)

    def verify(self, key_id: str, secret: str) -> ApiKey | None:
        """The key with this id if secret is its secret, else None."""
        key = self._current().get(key_id)
        if key is None:
            return None
        return key if verify_secret(secret, key.hash) else None

    def _current(self) -> dict[str, ApiKey]:
        with self._lock:
            now = self._clock()
            if now - self._checked >= self._check_s:
                self._checked = now
                self._reload_if_changed()
            return self._keys

    def _reload_if_changed(self) -> None:
        try:
            signature = _signature(os.stat(self.path))
        except OSError as err:
            if self._signature is not None:
                log.error("keys file %s unreadable (%s); refusing every API key until it is back", self.path, err.strerror)
            self._signature, self._keys = None, {}
            return
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._keys = {k.id: k for k in read_keys(self.path)}
        except (OSError, ValueError) as err:
            log.error("cannot reload keys file (%s); refusing every API key until it is fixed", err)
            self._keys = {}
            return
        log.info("reloaded %d API keys from %s", len(self._keys), self.path)


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    # The inode changes with every atomic replace, so two writes within the file system's
    # mtime granularity are still seen.
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
