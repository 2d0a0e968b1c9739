"""A bounded atheris run over the document splitter (tests/core/fuzz_documents.py), as CI can afford."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from anomalyd.core.documents import MAX_DEPTH

pytest.importorskip("atheris")

HARNESS = Path(__file__).with_name("fuzz_documents.py")
# Inputs start as one byte of limit, one of cut count and the stream: documents and hostile ones.
SEEDS = [
    b'{"time": 1, "a": {"b": [1, 2]}}\n{"time": 2}',
    b'{"a":"\\ud800"} {"b":"x\\"y"}\r\n}}] 42 "open\n{"c":1e400}',
    b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1) + b'\n{"n":1' + b"0" * 320 + b"}",
]


@pytest.mark.timeout(120)
def test_atheris_finds_no_failure_in_a_bounded_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(b"\xff\x03" + seed)
    result = subprocess.run(
        [sys.executable, str(HARNESS), str(corpus), "-runs=3000", "-seed=1", "-max_len=2048",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, timeout=100,
    )
    assert result.returncode == 0, result.stderr[-4000:]
