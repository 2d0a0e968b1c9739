"""`anomalyd demo` end to end, against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomalyd_client.cli import main


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "demo"
    assert main(["demo", "--data-dir", str(data_dir), "--hours", "48"]) == 0
    out = capsys.readouterr().out
    assert "created and opened demo-responsetimes" in out
    assert "closed demo-responsetimes" in out
    processed = next(line for line in out.splitlines() if line.startswith("processed_record_count"))
    generated = out.split("generated ", 1)[1].split(" ", 1)[0].replace(",", "")
    assert processed.split()[-1] == generated
    assert "level shift" in out and "KLM" in out
    assert (data_dir / ".anomalyd-demo").exists()
    # A second run wipes what the first left.
    assert main(["demo", "--data-dir", str(data_dir), "--hours", "24"]) == 0


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--data-dir", str(tmp_path)]) == 1
    assert "not wiping it" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"
