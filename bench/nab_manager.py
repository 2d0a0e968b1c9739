"""The NAB corpus through an in-process JobManager on LMDB: the server's work without gRPC, split engine / rest.

    python bench/nab_manager.py --data ../shared/nab/data [--rounds 3]

Each file goes as bench/nab.py sends it (a mean(value) job, 10,000-row column messages, a flush
past the last bucket, a close), into one JobManager over a store in a temporary directory. It
prints rows per second of CPU time (open to close), the CPU time of the engine (the journal
entries' application: add and finalize_until) and that of the rest (ingest counts, journal and
result writes, renormalisation, snapshots). CPU time, not wall time: on a busy machine it
varies much less.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service")]

from nab import BATCH, read_series, sampling_interval_s  # noqa: E402

from anomalyd.core import persistence  # noqa: E402
from anomalyd.core.config import DetectorConfig, JobConfig  # noqa: E402
from anomalyd.core.jobs import JobManager  # noqa: E402
from anomalyd.core.repository import Repository  # noqa: E402
from anomalyd.engine.records import RecordBatch  # noqa: E402
from anomalyd.storage.lmdb_store import LmdbStore  # noqa: E402


def engine_timed() -> list[float]:
    """Wrap persistence.apply to add its CPU time (s) to the returned one-item list."""
    spent = [0.0]
    apply = persistence.apply

    def timed(analyzer, entry):  # type: ignore[no-untyped-def]
        began = time.process_time()
        try:
            return apply(analyzer, entry)
        finally:
            spent[0] += time.process_time() - began

    persistence.apply = timed
    return spent


def run(files: list[Path], engine: list[float]) -> tuple[int, float, float]:
    """Rows, CPU seconds in all and CPU seconds of the engine, for one pass over files."""
    engine[0] = 0.0
    rows, total = 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        store = LmdbStore(tmp)
        manager = JobManager(Repository(store), max_document_bytes=1 << 20, max_open_jobs=2)
        for k, path in enumerate(files):
            _, _, times, values = read_series(path)
            span_s = sampling_interval_s(times)
            job_id = f"nab-{k}"
            detector = DetectorConfig("mean", field_name="value")
            manager.put_job(JobConfig(job_id, detectors=(detector,), bucket_span_s=span_s, time_format="epoch_ms"))
            began = time.process_time()
            manager.open_job(job_id)
            stream = manager.stream(job_id)
            for i in range(0, len(times), BATCH):
                t = times[i:i + BATCH]
                stream.post_columns(RecordBatch(times=t, numbers={"value": values[i:i + BATCH]}), np.zeros(len(t), bool), 0)
            stream.finish()
            stream.release()
            manager.flush(job_id, advance_time_ms=(int(times.max()) // 1000 // span_s + 1) * span_s * 1000)
            manager.close(job_id, allow_no_match=False, force=False, timeout_s=None)
            total += time.process_time() - began
            rows += len(times)
        store.close()
    return rows, total, engine[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    files = sorted(args.data.rglob("*.csv"))
    engine = engine_timed()
    for _ in range(args.rounds):
        rows, total, engine_s = run(files, engine)
        print(f"{len(files)} files, {rows:,} rows: {rows / total:,.0f} rows/s of CPU time; "
              f"engine {engine_s:.2f} s, the rest {total - engine_s:.2f} s of {total:.2f} s")


if __name__ == "__main__":
    main()
