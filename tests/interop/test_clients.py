"""Every client against a real server: same records as Python, one stream per job, errors intact.

Each test names the behaviour in any language; a client whose driver is not built fails, as a
missing toolchain must (make test builds them all).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from anomalyd_client import Client
from anomalyd_client.local import LocalServer
from tests.certs import make_pki
from tests.e2e.test_security import create_key
from tests.interop.conftest import LANGUAGES, Driver, driver

TOP_RECORDS = 10


def python_top_records(target: str, job_id: str, data: Path) -> list[dict[str, Any]]:
    """The example's flow through the Python client, its records as the drivers print them."""
    with Client(target, timeout=120) as client:
        client.put_job(job_id, detectors=["mean(responsetime) by airline"], bucket_span="5m", influencers=["airline"])
        client.open_job(job_id)
        client.post_data(job_id, data)
        client.flush_job(job_id)
        records = client.get_records(job_id, sort="record_score", desc=True, size=TOP_RECORDS)["records"]
        client.close_job(job_id)
        client.delete_job(job_id)
    return [
        {
            "timestamp": int(r["timestamp"].timestamp() * 1000),
            "record_score": r["record_score"],
            "probability": r["probability"],
            "function": r["function"],
            "by_field_value": r["by_field_value"],
            "actual": r["actual"],
            "typical": r["typical"],
        }
        for r in records
    ]


@pytest.fixture(scope="module")
def python_records(server: LocalServer, airline_file: Path) -> list[dict[str, Any]]:
    return python_top_records(server.target, "example-python", airline_file)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_example_reads_back_the_records_python_reads(server, airline_file, python_records, language) -> None:
    records = driver(language, server.target).run("example", "--job", f"example-{language}", "--file", str(airline_file))
    assert len(records) == TOP_RECORDS and "error" not in records[0], records[:1]
    for mine, theirs in zip(records, python_records, strict=True):
        assert {k: mine[k] for k in ("timestamp", "function", "by_field_value")} == {
            k: theirs[k] for k in ("timestamp", "function", "by_field_value")
        }
        for key in ("record_score", "probability"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9)
        for key in ("actual", "typical"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9)


def error_of(lines: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(lines) == 1 and "error" in lines[0], lines
    return lines[0]["error"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_error_reasons_arrive_intact(server, language) -> None:
    client = driver(language, server.target)
    missing = error_of(client.run("get-jobs", "--job", "no-such-job", "--allow-no-match", "false"))
    assert (missing["code"], missing["reason"], missing["metadata"]["jobId"]) == ("NOT_FOUND", "JOB_NOT_FOUND", "no-such-job")
    bad = error_of(client.run("put-job", "--job", f"bad-{language}", "--function", "nope"))
    assert (bad["code"], bad["reason"]) == ("INVALID_ARGUMENT", "INVALID_JOB_CONFIG")
    assert [field for field, _ in bad["field_violations"]] == ["analysis_config.detectors[0].function"]


def test_one_stream_per_job_across_languages(server, airline_file) -> None:
    job_id = "shared-stream"
    holder, *others = (driver(language, server.target) for language in ("go", "java", "typescript"))
    holder.run("put-job", "--job", job_id, "--function", "mean", "--field-name", "responsetime")
    holder.run("open", "--job", job_id)
    held = holder.start("post", "--job", job_id, "--file", str(airline_file), "--hold")
    try:
        assert held.stdout is not None and json.loads(held.stdout.readline()) == {"sent": True}
        for other in others:
            refused = error_of(other.run("post", "--job", job_id, "--file", str(airline_file)))
            assert (refused["code"], refused["reason"]) == ("ABORTED", "DATA_STREAM_ACTIVE"), other.language
    finally:
        out, _ = held.communicate("\n", timeout=120)
    counts = json.loads(out.splitlines()[-1])["data_counts"]
    lines = airline_file.read_text().count("\n")
    assert (counts["processed_record_count"], counts["input_record_count"]) == (lines, lines)
    assert counts["out_of_order_timestamp_count"] == counts["invalid_date_count"] == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_million_records_arrive_with_exact_counts(server, language) -> None:
    job_id = f"million-{language}"
    with Client(server.target, timeout=60) as client:
        client.put_job(job_id, detectors=["mean(responsetime) by airline"], bucket_span="5m")
        client.open_job(job_id)
    started = time.perf_counter()
    [result] = driver(language, server.target).run("bench", "--job", job_id, "--records", "1000000", timeout=600)
    assert (result["records"], result["processed_record_count"]) == (1_000_000, 1_000_000), result
    print(f"{language}: 1,000,000 records in {result['seconds']:.1f} s, {1e6 / result['seconds']:,.0f} records/s "
          f"({time.perf_counter() - started:.1f} s with the driver's start)")


def test_clients_speak_tls_with_an_api_key(tmp_path, airline_file) -> None:
    pki = make_pki(tmp_path / "pki")
    keys = tmp_path / "keys.json"
    credential = create_key(keys, "manage")
    server_args = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--keys-file", str(keys)]
    with LocalServer(tmp_path / "data", args=server_args) as server:
        for language in LANGUAGES:
            secure = driver(language, server.target, "--ca", str(pki.ca), "--api-key", credential)
            assert secure.run("get-jobs", "--job", "_all", "--allow-no-match", "true") == [{"job_ids": []}], language
            keyless = Driver(language, secure.path, ("--target", server.target, "--ca", str(pki.ca)))
            error = error_of(keyless.run("get-jobs", "--job", "_all", "--allow-no-match", "true"))
            assert (error["code"], error["reason"]) == ("UNAUTHENTICATED", "API_KEY_REQUIRED"), language
