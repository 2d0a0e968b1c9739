"""`anomalyd demo`: a local server, a farequote-like job, a week of data with planted incidents.

Starts `python -m anomalyd.server` in a subprocess, creates the job, streams the generated
records through PostData, closes the job, prints the data counts, then the top anomalies and
the best score the job gave each planted incident.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from anomalyd_client import datagen
from anomalyd_client.client import Client, Document
from anomalyd_client.console import ProgressLine, fields, size, table, text
from anomalyd_client.detector import Detector
from anomalyd_client.local import LocalServer

JOB_ID = "demo-responsetimes"
DETECTORS = ("mean(responsetime) by airline", "count by airline")
BUCKET_SPAN = dt.timedelta(minutes=5)
DEFAULT_DIR = Path(".anomalyd-demo")
# Written into the demo directory, so that only a directory the demo made is ever wiped.
_MARKER = ".anomalyd-demo"
_TOP_ANOMALIES = 15


def run(data_dir: Path = DEFAULT_DIR, *, hours: int = 7 * 24, seed: int = 0) -> None:
    """Runs the demo end to end, printing as it goes.

    Args:
        data_dir: wiped first, then used for the server's data and log.
        hours: how much data to generate.
        seed: the data's random seed.

    Raises:
        FileExistsError: data_dir is a non-empty directory the demo did not make.
        RuntimeError: the server did not start.
        AnomalydError: a call failed.
    """
    records, incidents = datagen.generate(seed, hours=hours)
    _prepare(data_dir)
    print(
        f"generated {len(records):,} requests to {len(datagen.AIRLINES)} airlines over "
        f"{hours} h from {text(datagen.START)}, with {len(incidents)} planted incidents"
    )
    with LocalServer(data_dir) as server, Client(server.target) as client:
        print(f"started anomalyd on {server.target} (data and log in {data_dir})")
        client.put_job(
            JOB_ID,
            detectors=DETECTORS,
            bucket_span=BUCKET_SPAN,
            influencers=["airline"],
            description="Airline fare-service response times (demo)",
        )
        client.open_job(JOB_ID)
        print(f"created and opened {JOB_ID}: {'; '.join(DETECTORS)}, {text(BUCKET_SPAN)} buckets")
        progress = ProgressLine()
        started = time.monotonic()
        try:
            counts = client.post_data(JOB_ID, records, progress=progress)
        finally:
            progress.finish()
        elapsed = time.monotonic() - started
        print(
            f"posted {size(counts['input_bytes'])} in {elapsed:.1f} s "
            f"({len(records) / elapsed:,.0f} records/s)"
        )
        client.close_job(JOB_ID)
        print(f"closed {JOB_ID}\n\ndata counts:\n{fields(_counts_summary(counts))}\n")
        _report(client, incidents)


def _prepare(data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / _MARKER).exists():
        raise FileExistsError(
            f"{data_dir} is not empty and was not made by the demo; not wiping it"
        )
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / _MARKER).touch()


def _counts_summary(counts: Document) -> Document:
    keys = (
        "processed_record_count",
        "input_bytes",
        "invalid_date_count",
        "missing_field_count",
        "out_of_order_timestamp_count",
        "bucket_count",
        "empty_bucket_count",
        "sparse_bucket_count",
        "earliest_record_timestamp",
        "latest_record_timestamp",
    )
    return {key: counts[key] for key in keys}


def _report(client: Client, incidents: list[datagen.Incident]) -> None:
    top = client.get_records(JOB_ID, size=_TOP_ANOMALIES)["records"]
    print(f"top {len(top)} anomalies:")
    print(
        table(
            ("TIME", "AIRLINE", "FUNCTION", "ACTUAL", "TYPICAL", "SCORE", "PLANTED"),
            [
                (
                    record["timestamp"],
                    record["by_field_value"] or "-",
                    Detector(record["function"], record["field_name"]).shorthand(),
                    record["actual"],
                    record["typical"],
                    record["record_score"],
                    next((f"#{i}" for i, x in enumerate(incidents, 1) if _matches(record, x)), ""),
                )
                for record in top
            ],
        )
    )
    print("\nplanted incidents and the best score the job gave each:")
    print(
        table(
            ("", "START", "END", "AIRLINE", "FIELD", "CHANGE", "KIND", "BEST_SCORE"),
            [
                (
                    f"#{i}",
                    x.start,
                    x.end,
                    x.airline,
                    x.field,
                    f"x{x.factor:g}",
                    x.kind,
                    _best_score(client, x),
                )
                for i, x in enumerate(incidents, 1)
            ],
        )
    )


def _best_score(client: Client, incident: datagen.Incident) -> float | None:
    # Records come highest score first, so the first page holds the best match.
    records = client.get_records(JOB_ID, start=incident.start, end=incident.end, size=1000)
    return max(
        (r["record_score"] for r in records["records"] if _matches(r, incident)), default=None
    )


def _matches(record: Document, incident: datagen.Incident) -> bool:
    """Whether a record is about an incident: same airline and field, in its time."""
    return (
        record["by_field_value"] == incident.airline
        and (record["field_name"] or "count") == incident.field
        and incident.start <= record["timestamp"] < incident.end
    )
