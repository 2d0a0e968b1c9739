"""The anomalyd command against a real server: output for people and --json, exit codes."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from anomalyd_client.cli import main
from anomalyd_client.local import LocalServer

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(server: LocalServer, capsys: pytest.CaptureFixture[str]) -> Run:
    """Runs `anomalyd --target <server> ARGS...`; returns (exit code, stdout, stderr)."""

    def run_main(*args: str) -> tuple[int, str, str]:
        code = main(["--target", server.target, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run_main


def test_a_job_from_put_to_delete(run: Run, job_id: str, ndjson_file: Path) -> None:
    code, out, _ = run(
        "put-job",
        job_id,
        "-d",
        "mean(value) by host",
        "-d",
        "count",
        "--bucket-span",
        "15m",
        "--influencer",
        "host",
        "--group",
        "cli",
    )
    assert code == 0
    assert "mean(value) by host; count" in out and "15m" in out
    code, out, _ = run("jobs", "cli")
    assert code == 0 and out.splitlines()[0].split() == [
        "JOB_ID",
        "BUCKET_SPAN",
        "DETECTORS",
        "INFLUENCERS",
        "GROUPS",
        "CREATED",
    ]
    assert out.splitlines()[1].startswith(job_id)
    code, out, _ = run("open", job_id)
    assert code == 0 and out.startswith(f"opened {job_id} on ")

    code, out, _ = run("post", job_id, str(ndjson_file))
    assert code == 0 and "processed_record_count" in out and " 10\n" in out
    code, out, _ = run("flush", job_id, "--advance-time", "2023-11-14T23:00:00Z", "--json")
    assert code == 0 and json.loads(out) == {
        "flushed": True,
        "last_finalized_bucket_end": "2023-11-14T23:00:00Z",
    }
    assert run("close", job_id) == (0, f"closed {job_id}\n", "")
    code, out, _ = run("--json", "stats", job_id)
    [stats] = json.loads(out)
    assert stats["state"] == "closed" and stats["data_counts"]["processed_record_count"] == 10
    assert run("delete", job_id) == (0, f"deleted {job_id}\n", "")


def test_post_reads_stdin(
    run: Run, job_id: str, ndjson_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("put-job", job_id, "-d", "count")
    run("open", job_id)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ndjson_file.read_bytes())))
    code, out, _ = run("post", job_id, "-", "--json")
    assert code == 0 and json.loads(out)["processed_record_count"] == 10


def test_delete_without_waiting_prints_a_task(run: Run, job_id: str) -> None:
    run("put-job", job_id, "-d", "count")
    code, out, _ = run("delete", job_id, "--no-wait", "--json")
    task_id = json.loads(out)["task_id"]
    code, out, _ = run("task", task_id)
    assert code == 0 and "delete_job" in out and job_id in out


def test_update_job_changes_only_what_it_names_and_reset_empties_the_job(run: Run, job_id: str, ndjson_file: Path) -> None:
    run("put-job", job_id, "-d", "mean(value) by host", "-d", "count", "--group", "cli", "--description", "kept")
    code, out, _ = run("update-job", job_id, "--detector-description", "1=requests", "--results-retention-days", "30")
    assert (code, out) == (0, f"updated {job_id}: mean(value) by host; requests\n")
    [job] = json.loads(run("--json", "jobs", job_id)[1])
    assert (job["description"], job["groups"], job["results_retention_days"]) == ("kept", ["cli"], 30)
    assert run("update-job", job_id, "--no-groups", "--json")[0] == 0
    assert json.loads(run("--json", "jobs", job_id)[1])[0]["groups"] == []
    with pytest.raises(SystemExit):  # not INDEX=TEXT: argparse's usage error
        run("update-job", job_id, "--detector-description", "x")
    run("open", job_id)
    run("post", job_id, str(ndjson_file))
    assert run("reset", job_id)[2].startswith("error: FAILED_PRECONDITION JOB_OPEN: ")
    run("close", job_id)
    assert run("reset", job_id) == (0, f"reset {job_id}\n", "")
    [stats] = json.loads(run("--json", "stats", job_id)[1])
    assert stats["data_counts"]["processed_record_count"] == 0


@pytest.mark.parametrize(
    ("args", "exit_code", "stderr"),
    [
        (["open", "no-such-job"], 15, "error: NOT_FOUND JOB_NOT_FOUND: "),
        (["put-job", "BAD", "-d", "count"], 13, "error: INVALID_ARGUMENT INVALID_JOB_CONFIG: "),
        (["close", "nothing*", "--no-allow-no-match"], 15, "error: NOT_FOUND JOB_NOT_FOUND: "),
        (["post", "no-such-job", "/nonexistent.ndjson"], 1, "error: [Errno 2]"),
    ],
)
def test_failures_print_code_and_reason_and_exit_non_zero(
    run: Run, args: list[str], exit_code: int, stderr: str
) -> None:
    code, out, err = run(*args)
    assert (code, out) == (exit_code, "")
    assert err.startswith(stderr)


def test_an_existing_job_is_already_exists(run: Run, job_id: str) -> None:
    assert run("put-job", job_id, "-d", "count")[0] == 0
    code, _, err = run("put-job", job_id, "-d", "count")
    assert code == 16 and err.startswith("error: ALREADY_EXISTS JOB_ALREADY_EXISTS")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["put-job", "x", "-d", "mean(x"], "expected ')'"),
        (["put-job", "x"], "--detector"),
        (["put-job", "x", "-d", "count", "--bucket-span", "5 minutes"], "not a duration"),
        (["flush", "x", "--start", "yesterday"], "not a time"),
        (["jobs", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and complaint in capsys.readouterr().err


def test_target_and_json_work_after_the_command(
    server: LocalServer, job_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["put-job", job_id, "-d", "count", "--target", server.target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["job_id"] == job_id


def test_target_defaults_to_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANOMALYD_TARGET", server.target)
    assert main(["jobs", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


def test_results_commands_print_tables_and_pages(run: Run, job_id: str, ndjson_file: Path) -> None:
    run("put-job", job_id, "-d", "max(value)", "--influencer", "value", "--group", "cli-results")
    run("open", job_id)
    run("post", job_id, str(ndjson_file))
    run("flush", job_id, "--advance-time", "2023-11-14T22:20:00Z")  # finalises both buckets
    run("close", job_id)
    code, out, _ = run("buckets", job_id, "--size", "1")
    assert code == 0 and out.split()[:4] == ["TIMESTAMP", "ANOMALY_SCORE", "EVENT_COUNT", "INTERIM"]
    assert out.splitlines()[1].startswith("2023-11-14T22:10:00Z") and "(1 of 2;" in out
    code, out, _ = run("buckets", job_id, "--json", "--start", "2023-11-14T22:15:00Z")
    assert [b["timestamp"] for b in json.loads(out)["buckets"]] == ["2023-11-14T22:15:00Z"]
    for command in ("records", "influencers"):
        code, out, _ = run(command, job_id, "--json", "--sort", "timestamp")
        assert code == 0 and set(json.loads(out)) == {command, "count"}
    code, out, _ = run("overall-buckets", "cli-results")
    assert code == 0 and out.split()[:3] == ["TIMESTAMP", "OVERALL_SCORE", "JOBS"]
    code, _, err = run("records", job_id, "--sort", "bogus")
    assert code == 13 and err.startswith("error: INVALID_ARGUMENT INVALID_REQUEST")


def test_serve_hands_its_arguments_to_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    assert "usage: anomalyd serve" in capsys.readouterr().out
