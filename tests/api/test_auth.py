"""API keys and the authorization decision, without a server: the keys file, reloads, roles."""

from __future__ import annotations

import base64
import importlib
import os
import pkgutil
import stat
import threading
from pathlib import Path

import pytest

import anomalyd.v1
from anomalyd.api import keystore
from anomalyd.api.auth import METHOD_PRIVILEGES, ROLE_PRIVILEGES, Authorizer
from anomalyd.api.keystore import KeyStore, create_key, delete_key, read_keys
from anomalyd.core.errors import ApiKeyInvalid, ApiKeyRequired, InsufficientPrivileges

PUT_JOB = "/anomalyd.v1.JobService/PutJob"
GET_JOBS = "/anomalyd.v1.JobService/GetJobs"


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def auth(credential: str) -> list[tuple[str, str]]:
    return [("authorization", f"ApiKey {credential}")]


def test_every_rpc_of_anomalyd_v1_has_a_privilege_and_every_entry_an_rpc() -> None:
    methods = set()
    for module in pkgutil.iter_modules(anomalyd.v1.__path__):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(f"anomalyd.v1.{module.name}").DESCRIPTOR
            for service in descriptor.services_by_name.values():
                methods |= {f"/{service.full_name}/{method.name}" for method in service.methods}
    assert len(methods) >= 18
    assert set(METHOD_PRIVILEGES) == methods
    assert set(METHOD_PRIVILEGES.values()) <= set().union(*ROLE_PRIVILEGES.values())


def test_the_keys_file_holds_hashes_only_with_mode_0600(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.json")
    key, credential = create_key(path, role="manage", name="ci")
    key_id, secret = keystore.decode_credential(credential)
    assert key_id == key.id and base64.b64decode(credential) == f"{key.id}:{secret}".encode()
    assert len(secret) >= 43  # 32 random bytes
    assert secret not in Path(path).read_text() and credential not in Path(path).read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_keys(path) == [key] and key.hash.startswith("ssha256$")
    assert keystore.verify_secret(secret, key.hash) and not keystore.verify_secret(secret + "x", key.hash)
    # The salt makes two hashes of one secret differ.
    assert keystore.hash_secret(secret) != keystore.hash_secret(secret)


def test_concurrent_creates_keep_every_key_and_delete_removes_one(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.json")

    def create_five() -> None:
        for _ in range(5):
            create_key(path, role="monitor")

    threads = [threading.Thread(target=create_five) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    keys = read_keys(path)
    assert len({k.id for k in keys}) == 40
    assert delete_key(path, keys[7].id) == keys[7]
    assert read_keys(path) == keys[:7] + keys[8:]
    with pytest.raises(ValueError, match="no key"):
        delete_key(path, keys[7].id)
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("content", "complaint"), [(b"not json", "not an anomalyd keys file"), (b'{"keys": [{"id": 1}]}', "keys file")]
)
def test_a_garbled_keys_file_is_refused_without_echoing_it(tmp_path: Path, content: bytes, complaint: str) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=complaint) as err:
        KeyStore(str(path))
    assert "not json" not in str(err.value)
    with pytest.raises(ValueError):
        create_key(str(path), role="manage")


@pytest.mark.parametrize("credential", ["", "!!!", base64.b64encode(b"no-colon").decode(), base64.b64encode(b":x").decode()])
def test_a_credential_that_is_not_base64_of_id_and_secret_is_refused(credential: str) -> None:
    with pytest.raises(ValueError):
        keystore.decode_credential(credential)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[str, Clock, Authorizer]:
    path = str(tmp_path / "keys.json")
    create_key(path, role="manage")  # the file exists before the store reads it
    clock = Clock()
    return path, clock, Authorizer(KeyStore(path, clock=clock))


def test_roles_grant_their_privileges(keys: tuple[str, Clock, Authorizer]) -> None:
    path, clock, authorizer = keys
    _, manage = create_key(path, role="manage")
    monitor_key, monitor = create_key(path, role="monitor")
    clock.now += 1
    assert authorizer.authorize(PUT_JOB, auth(manage)) is not None
    assert authorizer.authorize(GET_JOBS, auth(manage)) is not None
    assert authorizer.authorize(GET_JOBS, auth(monitor)) == monitor_key
    with pytest.raises(InsufficientPrivileges) as err:
        authorizer.authorize(PUT_JOB, auth(monitor))
    assert err.value.metadata == {"privilege": "manage", "role": "monitor", "keyId": monitor_key.id, "method": PUT_JOB}
    # Deny by default: a method missing from the table is refused to every key.
    with pytest.raises(InsufficientPrivileges):
        authorizer.authorize("/anomalyd.v1.JobService/ForecastJob", auth(manage))


@pytest.mark.parametrize(
    "method", ["/grpc.health.v1.Health/Check", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"]
)
def test_health_and_reflection_need_no_key(keys: tuple[str, Clock, Authorizer], method: str) -> None:
    assert keys[2].authorize(method, []) is None


def test_a_missing_or_garbled_key_is_unauthenticated(keys: tuple[str, Clock, Authorizer]) -> None:
    path, clock, authorizer = keys
    key, credential = create_key(path, role="manage")
    clock.now += 1
    with pytest.raises(ApiKeyRequired):
        authorizer.authorize(GET_JOBS, [("x-other", "1")])
    _, secret = keystore.decode_credential(credential)
    for metadata in (
        [("authorization", f"Bearer {credential}")],
        [("authorization", "ApiKey !!!")],
        auth(keystore.encode_credential(key.id, secret + "x")),
        auth(keystore.encode_credential("unknown", secret)),
        [*auth(credential), *auth(credential)],
    ):
        with pytest.raises(ApiKeyInvalid) as err:
            authorizer.authorize(GET_JOBS, metadata)
        assert secret not in str(err.value) and credential not in str(err.value)
    # The scheme is case-insensitive, as HTTP's are.
    assert authorizer.authorize(GET_JOBS, [("authorization", f"apikey {credential}")]) == key


def test_keys_added_and_deleted_take_effect_after_the_next_check(keys: tuple[str, Clock, Authorizer]) -> None:
    path, clock, authorizer = keys
    key, credential = create_key(path, role="monitor")
    with pytest.raises(ApiKeyInvalid):  # the file is checked at most once a second
        authorizer.authorize(GET_JOBS, auth(credential))
    clock.now += 1
    assert authorizer.authorize(GET_JOBS, auth(credential)) == key
    delete_key(path, key.id)
    clock.now += 1
    with pytest.raises(ApiKeyInvalid):
        authorizer.authorize(GET_JOBS, auth(credential))


def test_an_unreadable_keys_file_leaves_no_valid_key(keys: tuple[str, Clock, Authorizer]) -> None:
    path, clock, authorizer = keys
    _, credential = create_key(path, role="manage")
    clock.now += 1
    assert authorizer.authorize(GET_JOBS, auth(credential))
    Path(path).write_text("{garbled")
    clock.now += 1
    with pytest.raises(ApiKeyInvalid):
        authorizer.authorize(GET_JOBS, auth(credential))
    os.unlink(path)
    clock.now += 1
    with pytest.raises(ApiKeyInvalid):
        authorizer.authorize(GET_JOBS, auth(credential))
