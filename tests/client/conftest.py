"""Fixtures: one anomalyd subprocess per test module, and a Client of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomalyd_client import Client
from anomalyd_client.local import LocalServer

T0 = 1_699_999_800  # epoch s, on a 5-minute boundary


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real server in a subprocess, shared by the tests of a module."""
    with LocalServer(tmp_path_factory.mktemp("anomalyd")) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Iterator[Client]:
    """A client of the module's server, with short deadlines."""
    with Client(server.target, timeout=30) as connected:
        yield connected


@pytest.fixture
def job_id(request: pytest.FixtureRequest) -> str:
    """A job id unique to the test, so tests can share a server."""
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[-64:].strip("-")


@pytest.fixture
def ndjson_file(tmp_path: Path) -> Path:
    """Ten records of a count job, a minute apart, as an NDJSON file."""
    path = tmp_path / "data.ndjson"
    path.write_text("".join(f'{{"time": {T0 + 60 * i}, "value": {i}}}\n' for i in range(10)))
    return path
