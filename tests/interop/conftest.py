"""The clients in other languages, driven through their interop drivers (clients/INTEROP.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anomalyd_client import datagen
from anomalyd_client.local import LocalServer
from tests.conftest import REPO

LANGUAGES = ("go", "typescript", "java")


@dataclass(frozen=True)
class Driver:
    """One client's interop driver, bound to a server."""

    language: str
    path: Path
    options: tuple[str, ...]

    def run(self, *args: str, timeout: float = 300) -> list[dict[str, Any]]:
        """Runs a command to its end; its JSON lines (an error's exits 3)."""
        done = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout)
        assert done.returncode in (0, 3), f"{self.language} {args[0]} exited {done.returncode}: {done.stderr}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Starts a command with a pipe to its stdin and from its stdout."""
        return subprocess.Popen(self.argv(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def argv(self, *args: str) -> list[str]:
        assert self.path.exists(), f"the {self.language} interop driver is not built: run make test ({self.path})"
        return [str(self.path), *self.options, *args]


def driver(language: str, target: str, *options: str) -> Driver:
    return Driver(language, REPO / "clients" / language / "build" / "interop", ("--target", target, *options))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One real server for the interop tests."""
    with LocalServer(tmp_path_factory.mktemp("interop")) as running:
        yield running


@pytest.fixture(scope="session")
def airline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of the demo's airline data with its planted incidents, as NDJSON."""
    records, _ = datagen.generate(seed=3, hours=48)
    path = tmp_path_factory.mktemp("data") / "airlines.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
