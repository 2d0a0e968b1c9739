"""TLS, mutual TLS and API keys through a real server subprocess, the Python client and the CLI."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from anomalyd_client import AnomalydError, Client
from anomalyd_client.cli import main
from anomalyd_client.local import LocalServer
from tests.certs import Pki, make_pki

T0 = 1_699_999_800  # epoch s, on a 5-minute boundary
ROWS = [{"time": T0 + 60 * i, "value": i % 7} for i in range(600)]


def cli(*args: str | Path) -> tuple[int, str, str]:
    """Runs the real `anomalyd` command line; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def refused(call: Callable[[], object]) -> AnomalydError:
    with pytest.raises(AnomalydError) as err:
        call()
    return err.value


def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates of a CA that the servers do not trust."""
    return make_pki(tmp_path_factory.mktemp("stranger"), "stranger")


def tls_args(pki: Pki) -> list[str]:
    return ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]


# --- TLS and mutual TLS ----------------------------------------------------------------------


def test_tls_serves_clients_that_trust_its_ca_and_no_others(tmp_path: Path, pki: Pki, stranger: Pki) -> None:
    with LocalServer(tmp_path / "data", args=tls_args(pki)) as server:
        with Client(server.target, timeout=10, ca_file=pki.ca) as client:
            assert client.health() == "SERVING" and client.get_jobs() == []
        with Client(server.target, timeout=5) as plaintext:
            assert refused(plaintext.get_jobs).code == grpc.StatusCode.UNAVAILABLE
        with Client(server.target, timeout=5, ca_file=stranger.ca) as untrusting:
            assert refused(untrusting.get_jobs).code == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_needs_a_client_certificate_of_its_client_ca(tmp_path: Path, pki: Pki, stranger: Pki) -> None:
    with LocalServer(tmp_path / "data", args=[*tls_args(pki), "--tls-client-ca", str(pki.ca)]) as server:
        mine = {"cert_file": pki.client_cert, "key_file": pki.client_key}
        with Client(server.target, timeout=10, ca_file=pki.ca, **mine) as client:
            assert client.get_jobs() == []
        with Client(server.target, timeout=5, ca_file=pki.ca) as anonymous:
            assert refused(anonymous.get_jobs).code == grpc.StatusCode.UNAVAILABLE
        theirs = {"cert_file": stranger.client_cert, "key_file": stranger.client_key}
        with Client(server.target, timeout=5, ca_file=pki.ca, **theirs) as impostor:
            assert refused(impostor.get_jobs).code == grpc.StatusCode.UNAVAILABLE


def _start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "anomalyd.server", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ANOMALYD_")} | env
    return subprocess.run(command, capture_output=True, text=True, timeout=30, env=environment)


def test_bad_tls_and_keys_settings_stop_the_start_with_a_message_that_echoes_no_file(tmp_path: Path, pki: Pki) -> None:
    secret = tmp_path / "secret.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nTOPSECRETCONTENT\n-----END PRIVATE KEY-----\n")
    cases: list[tuple[list[str], dict[str, str], str]] = [
        (["--tls-cert", str(pki.server_cert)], {}, "--tls-cert and --tls-key go together"),
        ([], {"ANOMALYD_TLS_KEY": str(pki.server_key)}, "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", str(pki.ca)], {}, "--tls-client-ca needs --tls-cert and --tls-key"),
        (["--tls-cert", str(pki.server_cert), "--tls-key", str(tmp_path / "missing.pem")], {}, "cannot read --tls-key"),
        (["--tls-cert", str(secret), "--tls-key", str(pki.server_key)], {}, "not a PEM certificate"),
        (["--tls-cert", str(pki.server_cert), "--tls-key", str(secret)], {}, "not a PEM certificate"),
        ([*tls_args(pki), "--tls-client-ca", str(secret)], {}, "--tls-client-ca"),
        (["--keys-file", str(tmp_path / "no-keys.json")], {}, "cannot read keys file"),
        (["--keys-file", str(secret)], {}, "not an anomalyd keys file"),
    ]
    for args, env, message in cases:
        started = _start(tmp_path, *args, **env)
        assert started.returncode != 0, (args, env)
        assert message in started.stderr, (args, env, started.stderr)
        assert "TOPSECRET" not in started.stderr + started.stdout and "Traceback" not in started.stderr


# --- API keys --------------------------------------------------------------------------------


@dataclass
class Keyed:
    """A TLS server that requires API keys, and the keys made for it with the CLI."""

    server: LocalServer
    keys_file: Path
    ca: Path
    manage: str
    monitor: str

    def client(self, api_key: str | None = None) -> Client:
        return Client(self.server.target, timeout=30, ca_file=self.ca, api_key=api_key)


def create_key(keys_file: Path, role: str) -> str:
    code, credential, _ = cli("keys", "create", "--role", role, "--keys-file", keys_file, "--name", f"test {role}")
    assert code == 0
    return credential.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Keyed]:
    directory = tmp_path_factory.mktemp("keyed")
    keys_file = directory / "keys.json"
    manage, monitor = create_key(keys_file, "manage"), create_key(keys_file, "monitor")
    with LocalServer(directory / "data", args=[*tls_args(pki), "--keys-file", str(keys_file)]) as server:
        yield Keyed(server, keys_file, pki.ca, manage, monitor)


def test_the_keys_file_holds_no_secret(keyed: Keyed) -> None:
    stored = keyed.keys_file.read_text()
    for credential in (keyed.manage, keyed.monitor):
        _, _, secret = base64.b64decode(credential).decode().partition(":")
        assert secret not in stored and credential not in stored
    assert oct(keyed.keys_file.stat().st_mode & 0o777) == "0o600"
    code, out, _ = cli("keys", "list", "--keys-file", keyed.keys_file)
    assert code == 0 and out.split()[:4] == ["ID", "ROLE", "NAME", "CREATED"] and "monitor" in out


def test_calls_without_a_valid_key_are_unauthenticated(keyed: Keyed) -> None:
    with keyed.client() as anonymous:
        err = refused(anonymous.get_jobs)
    assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_REQUIRED")
    forged = base64.b64encode(b"someid:somesecret").decode()
    for bad in ("!!!", forged, keyed.manage[:-4] + "AAA="):
        with keyed.client(bad) as client:
            err = refused(lambda c=client: c.put_job("nope", detectors=["count"]))
        assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")


def test_health_and_reflection_answer_without_a_key(keyed: Keyed) -> None:
    with keyed.client() as anonymous:
        assert anonymous.health() == "SERVING"
    credentials = grpc.ssl_channel_credentials(keyed.ca.read_bytes())
    with grpc.secure_channel(keyed.server.target, credentials) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        [response] = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    assert "anomalyd.v1.JobService" in {s.name for s in response.list_services_response.service}


def test_a_manage_key_runs_a_job_from_put_to_delete(keyed: Keyed) -> None:
    with keyed.client(keyed.manage) as client:
        client.put_job("managed", detectors=["mean(value)"], bucket_span="5m")
        client.open_job("managed")
        counts = client.post_data("managed", iter(ROWS), chunk_bytes=4096)  # a stream of many messages
        assert counts["processed_record_count"] == len(ROWS)
        client.flush_job("managed", advance_time=T0 + 60 * len(ROWS))
        assert client.get_buckets("managed")["count"] > 0
        assert client.get_records("managed")["count"] >= 0
        client.close_job("managed")
        task = client.delete_job("managed", wait_for_completion=False)["task_id"]
        eventually(lambda: client.get_task(task)["done"])
        assert client.get_jobs() == []


def test_a_monitor_key_reads_but_cannot_change(keyed: Keyed) -> None:
    with keyed.client(keyed.manage) as manager:
        manager.put_job("watched", detectors=["count"])
    with keyed.client(keyed.monitor) as client:
        assert [job["job_id"] for job in client.get_jobs("watched")] == ["watched"]
        assert client.get_job_stats("watched")[0]["state"] == "closed"
        assert client.get_buckets("watched")["count"] == 0 and client.get_records("watched")["count"] == 0
        for change in (
            lambda: client.put_job("mine", detectors=["count"]),
            lambda: client.open_job("watched"),
            lambda: client.post_data("watched", iter(ROWS[:10])),
            lambda: client.delete_job("watched"),
        ):
            err = refused(change)
            assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "INSUFFICIENT_PRIVILEGES")
            assert err.metadata["privilege"] == "manage" and err.metadata["role"] == "monitor"
    with keyed.client(keyed.manage) as manager:
        assert manager.get_job_stats("watched")[0]["state"] == "closed"
        manager.delete_job("watched")


def test_the_cli_works_over_tls_with_a_key(keyed: Keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    connect = ["--target", keyed.server.target, "--tls-ca", str(keyed.ca)]
    code, out, err = cli(*connect, "--api-key", keyed.manage, "put-job", "cli-tls", "-d", "count")
    assert code == 0 and "cli-tls" in out
    monkeypatch.setenv("ANOMALYD_API_KEY", keyed.monitor)
    code, out, err = cli(*connect, "jobs")
    assert code == 0 and "cli-tls" in out
    code, out, err = cli(*connect, "delete", "cli-tls")
    assert code == 10 + grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert err.startswith("error: PERMISSION_DENIED INSUFFICIENT_PRIVILEGES") and keyed.monitor not in out + err
    monkeypatch.delenv("ANOMALYD_API_KEY")
    code, out, err = cli(*connect, "jobs")
    assert code == 10 + grpc.StatusCode.UNAUTHENTICATED.value[0] and "API_KEY_REQUIRED" in err
    assert cli(*connect, "--api-key", keyed.manage, "delete", "cli-tls")[0] == 0


def test_keys_added_and_deleted_while_serving_take_effect_without_a_restart(keyed: Keyed) -> None:
    credential = create_key(keyed.keys_file, "monitor")

    def accepted() -> bool:
        with keyed.client(credential) as client:
            try:
                client.get_jobs()
            except AnomalydError as err:
                assert err.reason == "API_KEY_INVALID"
                return False
            return True

    eventually(accepted)
    key_id = base64.b64decode(credential).decode().partition(":")[0]
    code, out, _ = cli("keys", "delete", key_id, "--keys-file", keyed.keys_file)
    assert (code, out) == (0, f"deleted API key {key_id}\n")
    eventually(lambda: not accepted())
    with keyed.client(keyed.monitor) as client:  # the other keys are untouched
        client.get_jobs()


def test_the_server_log_names_refusals_but_no_credential(keyed: Keyed) -> None:
    log = keyed.server.log_path.read_text()
    assert "refused /anomalyd.v1.JobService/PutJob: INSUFFICIENT_PRIVILEGES" in log
    for credential in (keyed.manage, keyed.monitor):
        secret = base64.b64decode(credential).decode().partition(":")[2]
        assert credential not in log and secret not in log
