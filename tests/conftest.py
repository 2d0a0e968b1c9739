"""Fixtures: the real anomalyd server, in-process or as a subprocess, and clients of it."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import settings

from anomalyd.server import Server, Settings
from anomalyd.v1 import job_pb2, job_service_pb2_grpc
from anomalyd_client.local import LocalServer

REPO = Path(__file__).resolve().parents[1]
# Fuzz harnesses are programs a test runs (atheris takes over the process), not test modules:
# --doctest-modules must not import them.
collect_ignore_glob = ["*/fuzz_*.py"]

# Examples are not timed: the first call of an engine kernel may compile it.
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--write-golden", action="store_true", help="rewrite golden files from the code as it is")


@dataclass
class Running:
    """A server and a stub bound to it."""

    server: Server
    stub: job_service_pb2_grpc.JobServiceStub
    channel: grpc.Channel
    target: str


@contextlib.contextmanager
def serving(data_dir: Path, **settings: Any) -> Iterator[Running]:
    """A real server on 127.0.0.1:0 over data_dir, with Settings overrides, stopped at the end."""
    server = Server(Settings(data_dir=str(data_dir), listen="127.0.0.1:0", grace_s=1, **settings))
    server.start()
    target = f"127.0.0.1:{server.port}"
    channel = grpc.insecure_channel(target)
    try:
        yield Running(server, job_service_pb2_grpc.JobServiceStub(channel), channel, target)
    finally:
        channel.close()
        server.stop()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """A real server on 127.0.0.1:0 with an LMDB directory under tmp_path."""
    with serving(tmp_path / "data") as server:
        yield server


@pytest.fixture
def stub(running: Running) -> job_service_pb2_grpc.JobServiceStub:
    """A JobService stub of the in-process server."""
    return running.stub


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[LocalServer]:
    """A restartable server subprocess over one data directory; killed at the end if running."""
    server = LocalServer(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The one ErrorInfo of a failed call."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no rich status in {err}"
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return info


def error_reason(err: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call."""
    return error_info(err).reason


def job(job_id: str, *detectors: job_pb2.Detector, span_s: int = 300, **fields: object) -> job_pb2.Job:
    """A Job message with the given detectors (a count detector if none)."""
    from google.protobuf import duration_pb2

    analysis = job_pb2.AnalysisConfig(
        bucket_span=duration_pb2.Duration(seconds=span_s),
        detectors=list(detectors) or [job_pb2.Detector(function="count")],
    )
    if "latency_s" in fields:
        analysis.latency.seconds = int(fields.pop("latency_s"))  # type: ignore[call-overload]
    for name in ("influencers",):
        if name in fields:
            analysis.influencers.extend(fields.pop(name))  # type: ignore[arg-type]
    return job_pb2.Job(job_id=job_id, analysis_config=analysis, **fields)  # type: ignore[arg-type]
