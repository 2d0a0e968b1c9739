"""The server image (deploy/image), run with podman as the Kubernetes manifests run it.

Read-only root, every capability dropped, no privilege escalation, the image's own uid, LMDB on a
podman volume, JSON logs and metrics: a job takes data, SIGTERM (podman stop) closes it
gracefully, and a new container over the same volume reopens it with the same counts. `make test`
builds the image first (deploy/deploy.mk); without it these tests fail rather than skip.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import anomalyd
from anomalyd.v1 import model_snapshot_service_pb2, model_snapshot_service_pb2_grpc
from anomalyd_client import Client
from tests.certs import make_pki
from tests.conftest import REPO

BUILD = REPO / "deploy" / "build"
# What the image build wrote (deploy/image/build.sh): podman's settings for this machine and
# the id of the image.
CONTAINERS_CONF = BUILD / "containers.conf"
IMAGE_ID = BUILD / "image-id"
HOSTS = 20
RECORDS = [{"time": 1_700_000_000 + 15 * i, "host": f"h{i % HOSTS}", "value": float(i % 97)} for i in range(20_000)]

pytestmark = pytest.mark.timeout(600)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def image() -> str:
    assert IMAGE_ID.exists() and CONTAINERS_CONF.exists(), (
        f"the image is not built ({IMAGE_ID} is missing): run make test, or deploy/image/build.sh"
    )
    image_id = IMAGE_ID.read_text().strip()
    assert podman("image", "exists", image_id, check=False).returncode == 0, (
        f"podman has no image {image_id}: run deploy/image/build.sh again"
    )
    return image_id


@dataclass
class Container:
    """One run of the image: its name and the address it serves on."""

    name: str
    target: str
    metrics: str

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def messages(self) -> list[str]:
        """The messages of its log, every line of which is a JSON object."""
        lines = [line for line in self.logs().splitlines() if line.strip()]
        return [json.loads(line)["message"] for line in lines]


@pytest.fixture
def volume() -> Iterator[Callable[[], str]]:
    """Makes podman volumes, removed at the end."""
    names: list[str] = []

    def make() -> str:
        names.append(f"anomalyd-test-{secrets.token_hex(4)}")
        podman("volume", "create", names[-1])
        return names[-1]

    try:
        yield make
    finally:
        for name in names:
            podman("volume", "rm", "--force", name, check=False)


@pytest.fixture
def run(image: str) -> Iterator[Callable[..., Container]]:
    """Starts the image over a volume on a free loopback port; every container goes at the end."""
    names: list[str] = []

    def start(volume: str, *args: str, options: tuple[str, ...] = (), wait: bool = True) -> Container:
        name = f"anomalyd-test-{secrets.token_hex(4)}"
        names.append(name)
        port, metrics = free_port(), free_port()
        podman(
            "run", "--detach", "--name", name, "--network", "host",
            # As the Kubernetes manifests run it: securityContext and an emptyDir-like /tmp.
            "--read-only", "--read-only-tmpfs", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--volume", f"{volume}:/var/lib/anomalyd",
            "--env", f"ANOMALYD_LISTEN=127.0.0.1:{port}",
            "--env", f"ANOMALYD_METRICS_LISTEN=127.0.0.1:{metrics}",
            "--env", "ANOMALYD_LOG_FORMAT=json",
            *options, image, *args,
        )  # fmt: skip
        container = Container(name, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics}/metrics")
        if wait:
            wait_serving(container)
        return container

    try:
        yield start
    finally:
        for name in names:
            podman("rm", "--force", "--time", "0", name, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(target: str, service: str) -> str:
    with grpc.insecure_channel(target) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        except grpc.RpcError as err:
            return str(err.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def wait_serving(container: Container, timeout_s: float = 90) -> None:
    """Waits until the readiness service ("") is SERVING, as the readiness probe does."""
    deadline = time.monotonic() + timeout_s
    while True:
        if health(container.target, "") == "SERVING":
            return
        state = podman("inspect", "--format", "{{.State.Status}}", container.name).stdout.strip()
        assert state == "running", f"the container is {state}:\n{container.logs()}"
        assert time.monotonic() < deadline, f"not SERVING after {timeout_s} s:\n{container.logs()}"
        time.sleep(0.2)


def snapshots(target: str, job_id: str) -> int:
    with grpc.insecure_channel(target) as channel:
        stub = model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(channel)
        request = model_snapshot_service_pb2.GetModelSnapshotsRequest(job_id=job_id)
        return int(stub.GetModelSnapshots(request, timeout=10).count)


def test_the_image_runs_as_its_fixed_uid_with_labels(image: str) -> None:
    config = podman("image", "inspect", "--format", "{{json .Config.User}} {{json .Config.Labels}}", image).stdout
    assert config.startswith('"10001:10001"')
    assert f'"org.opencontainers.image.version":"{anomalyd.VERSION}"' in config
    assert '"org.opencontainers.image.revision":"' in config
    # No installer or compiler came along.
    missing = podman("run", "--rm", "--entrypoint", "sh", image, "-c", "command -v pip pip3 gcc cc apt-get dpkg", check=False)
    assert missing.stdout.split() in ([], ["/usr/bin/apt-get", "/usr/bin/dpkg"]), missing.stdout


# Warms the kernels as a server does at start, then names every kernel numba had to compile.
COMPILED_AT_START = """
import sys
from numba.core.registry import CPUDispatcher
from anomalyd.warmup import warm_up
list(warm_up())
kernels = {id(v): v for m in list(sys.modules.values()) if m and m.__name__.startswith("anomalyd.")
           for v in vars(m).values() if isinstance(v, CPUDispatcher)}
print(len(kernels), sorted(k.__name__ for k in kernels.values() if k.stats.cache_misses))
"""


def test_the_kernels_load_from_the_image_not_compiled(image: str) -> None:
    # A server compiling its kernels would wait about 10 s before its first bucket.
    done = podman(
        "run", "--rm", "--read-only", "--read-only-tmpfs", "--entrypoint", "python", image, "-c", COMPILED_AT_START
    )  # fmt: skip
    count, compiled = done.stdout.split(" ", 1)
    assert int(count) > 10 and compiled.strip() == "[]", done.stdout


def feed(container: Container) -> dict[str, Any]:
    """Creates and opens the job k8s and streams RECORDS into it; its stats after."""
    with Client(container.target, timeout=30) as client:
        client.put_job("k8s", detectors=["mean(value) by host"], bucket_span="5m")
        client.open_job("k8s")
        counts = client.post_data("k8s", RECORDS)
        assert counts["processed_record_count"] == len(RECORDS)
        [stats] = client.get_job_stats("k8s")
    return stats


def same_job(before: dict[str, Any], container: Container) -> None:
    with Client(container.target, timeout=30) as client:
        [after] = client.get_job_stats("k8s")
    assert after["state"] == "opened"
    assert after["data_counts"]["processed_record_count"] == len(RECORDS)
    for field in ("processed_record_count", "input_field_count", "bucket_count", "out_of_order_timestamp_count"):
        assert after["data_counts"][field] == before["data_counts"][field], field
    assert after["node"] == before["node"]  # the node id lives in the volume


def test_sigterm_closes_the_job_and_a_new_container_reopens_it(run: Callable[..., Container], volume: Callable[[], str]) -> None:
    data = volume()
    first = run(data, "--max-open-jobs", "8")  # flags after the image go to `anomalyd serve`
    before = feed(first)
    assert snapshots(first.target, "k8s") == 0
    # What the probes ask: the kubelet's gRPC probes, and the exec probe of the TLS overlay.
    assert health(first.target, "liveness") == "SERVING"
    for service in ("", "liveness"):
        assert podman("exec", first.name, "anomalyd-probe", "--service", service, check=False).returncode == 0
    with urllib.request.urlopen(first.metrics, timeout=10) as response:
        metrics = response.read().decode()
    assert "anomalyd_open_jobs 1.0" in metrics
    assert 'anomalyd_job_processed_records_total{job_id="k8s"} 20000.0' in metrics

    stop = podman("stop", "--time", "60", first.name, timeout=90)
    assert stop.returncode == 0
    exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", first.name).stdout.strip()
    messages = first.messages()
    assert exit_code == "0", messages
    assert "job k8s closed" in messages  # gracefully: not "closed by force"

    second = run(data)
    same_job(before, second)
    # The graceful close persisted the model: a snapshot that a SIGKILL would not have left.
    assert snapshots(second.target, "k8s") >= 1
    assert any(m.startswith("job k8s opened") for m in second.messages())


def test_an_online_backup_serves_the_same_jobs(image: str, run: Callable[..., Container], volume: Callable[[], str]) -> None:
    data, restored = volume(), volume()
    running = run(data)
    before = feed(running)
    # deploy/README.md's backup, while the server runs: LMDB copies a consistent snapshot.
    copy = (
        "import lmdb, os, sys; os.makedirs(sys.argv[1]); "
        "lmdb.open('/var/lib/anomalyd/lmdb', readonly=True).copy(sys.argv[1], compact=True)"
    )
    podman("exec", running.name, "python", "-c", copy, "/var/lib/anomalyd/backup")
    # The restore: the copy as lmdb/data.mdb of a new volume, without a lock file.
    podman(
        "run", "--rm", "--volume", f"{data}:/backup:ro", "--volume", f"{restored}:/var/lib/anomalyd",
        "--entrypoint", "sh", image, "-c", "mkdir lmdb && cp /backup/backup/data.mdb lmdb/",
    )  # fmt: skip
    same_job(before, run(restored))


def test_under_mutual_tls_the_exec_probe_asks_what_the_kubelet_cannot(
    tmp_path: Path, run: Callable[..., Container], volume: Callable[[], str]
) -> None:
    # The TLS component's settings, with files as its Secrets hold them: readable by the server.
    secrets_dir = tmp_path / "tls"
    pki = make_pki(secrets_dir)
    keys = secrets_dir / "keys.json"
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "anomalyd"), "keys", "create", "--role", "manage", "--keys-file", str(keys), "--name", "t"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for path in (secrets_dir, *secrets_dir.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    inside = {path: f"/etc/anomalyd/tls/{Path(path).name}" for path in vars(pki).values()}
    settings = {
        "ANOMALYD_TLS_CERT": inside[pki.server_cert],
        "ANOMALYD_TLS_KEY": inside[pki.server_key],
        "ANOMALYD_TLS_CLIENT_CA": inside[pki.ca],
        "ANOMALYD_KEYS_FILE": "/etc/anomalyd/tls/keys.json",
        "ANOMALYD_PROBE_CA": inside[pki.ca],
        "ANOMALYD_PROBE_SERVER_NAME": "localhost",  # the test certificate's name
        "ANOMALYD_PROBE_CERT": inside[pki.client_cert],
        "ANOMALYD_PROBE_KEY": inside[pki.client_key],
    }
    options = ["--volume", f"{secrets_dir}:/etc/anomalyd/tls:ro"]
    for name, value in settings.items():
        options += ["--env", f"{name}={value}"]
    container = run(volume(), options=tuple(options), wait=False)

    def probe(*args: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", *args, container.name, "anomalyd-probe", "--service", "", check=False)

    deadline = time.monotonic() + 90
    while probe().returncode != 0:
        assert time.monotonic() < deadline, f"the exec probe never passed:\n{probe().stderr}\n{container.logs()}"
        time.sleep(0.5)
    assert podman("exec", container.name, "anomalyd-probe", "--service", "liveness", check=False).returncode == 0
    # The kubelet's gRPC probe speaks plaintext, which a TLS server does not answer.
    assert health(container.target, "liveness") == "UNAVAILABLE"
    # Without a client certificate the server refuses the probe's handshake.
    assert probe("--env", "ANOMALYD_PROBE_CERT=", "--env", "ANOMALYD_PROBE_KEY=").returncode == 1
