r"""Scores anomalyd on a NAB-style corpus through the real gRPC server, or the engine alone.

    python bench/nab.py --data ../shared/nab/data --results /tmp/nab-out \\
        --windows ../shared/nab/windows.json --threshold-sweep [--in-process] [--cross-check]

For every CSV under --data (NAB's `timestamp,value`, any folder layout) it creates a job with
one mean(value) detector and a bucket span of the file's median sampling interval, streams the
rows in file order with PostData, finalises the last bucket, reads the records back and writes
--results/<same relative path> with columns timestamp,value,anomaly_score, where anomaly_score
is the row's bucket's initial_record_score / 100 (0 without a record). With --windows it prints
the NAB scores of the set using the scorer beside the windows file (or --scorer).

--in-process runs the same job on a JobAnalyzer in this process (--workers processes, one file
each at a time), with the server's order rule (a row in a bucket before the latest row's bucket
is dropped, latency 0) and its finalisation after every message: the same scores, without gRPC
and storage, for sweeps over settings. Confirm a final figure through the server.

--cross-check measures how well a threshold transfers: the files are split in two (alternate
files within each category, in name order), the threshold is chosen on one part with the
scorer's --threshold-sweep --save-thresholds and applied to the other with --thresholds, both
ways round; it prints each part's swept and transferred scores per profile. That split is one
draw, so it then prints the mean and median loss over --splits random stratified splits
(bench/nab_transfer.py), the figure to judge a change's transfer by.

The initial score is the one the job reported when the bucket closed. record_score may since
have been lowered by renormalisation, which reads later data, and NAB scores each row from that
row and earlier ones only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import nab_transfer
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service"), str(REPO / "clients/python")]

from ingest import cpu_seconds  # noqa: E402

from anomalyd.engine.analyzer import JobAnalyzer  # noqa: E402
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch  # noqa: E402
from anomalyd.v1 import column_batch_pb2, job_pb2, job_service_pb2_grpc, results_service_pb2_grpc  # noqa: E402
from anomalyd.v1 import job_service_pb2 as pb  # noqa: E402
from anomalyd.v1 import results_service_pb2 as rpb  # noqa: E402
from anomalyd_client.local import LocalServer  # noqa: E402

BATCH = 10_000
RECORD_PAGE = 10_000


def read_series(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """The file's raw timestamp and value texts, epoch ms and values."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = [r["timestamp"] for r in rows]
    texts = [r["value"] for r in rows]
    times = np.array(
        [int(dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp() * 1000) for s in stamps],
        dtype=np.int64,
    )
    return stamps, texts, times, np.array(texts, dtype=np.float64)


def sampling_interval_s(times_ms: np.ndarray) -> int:
    """The median positive step between rows, in whole seconds (at least 1)."""
    steps = np.diff(times_ms)
    steps = steps[steps > 0]
    return max(1, round(float(np.median(steps)) / 1000)) if len(steps) else 60


def job_id_for(relative: Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", str(relative.with_suffix("")).lower()).strip("-")[:40]
    return f"nab-{stem}-{hashlib.sha1(str(relative).encode()).hexdigest()[:8]}"


def score_file(jobs, results, path: Path, relative: Path) -> tuple[list[str], list[str], np.ndarray]:
    stamps, texts, times, values = read_series(path)
    span_s = sampling_interval_s(times)
    job_id = job_id_for(relative)
    detector = job_pb2.Detector(function="mean", field_name="value")
    jobs.PutJob(pb.PutJobRequest(job=job_pb2.Job(job_id=job_id, analysis_config=job_pb2.AnalysisConfig(
        bucket_span={"seconds": span_s}, detectors=[detector]),
        data_description=job_pb2.DataDescription(time_format="epoch_ms"))), timeout=60)
    jobs.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=600)

    def messages():
        for i in range(0, len(times), BATCH):
            batch = column_batch_pb2.ColumnBatch(
                times=times[i:i + BATCH],
                numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=values[i:i + BATCH])],
            )
            yield pb.PostDataRequest(job_id=job_id if i == 0 else "", columns=batch)

    jobs.PostData(messages(), timeout=3600)
    last_bucket_end_s = (int(times.max()) // 1000 // span_s + 1) * span_s
    jobs.FlushJob(pb.FlushJobRequest(job_id=job_id, advance_time={"seconds": last_bucket_end_s}), timeout=600)
    scores: dict[int, float] = {}
    start = None
    while True:  # page through time: Elasticsearch caps a page window at 10,000 results
        request = rpb.GetRecordsRequest(job_id=job_id, sort="timestamp", desc=False, page=rpb.Page(size=RECORD_PAGE))
        if start is not None:
            request.start.FromMilliseconds(start)
        page = results.GetRecords(request, timeout=600).records
        for record in page:
            at = record.timestamp.ToMilliseconds()
            scores[at] = max(scores.get(at, 0.0), record.initial_record_score)
        if len(page) < RECORD_PAGE:
            break
        start = page[-1].timestamp.ToMilliseconds() + 1
    jobs.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=600)
    jobs.DeleteJob(pb.DeleteJobRequest(job_id=job_id), timeout=600)
    span_ms = span_s * 1000
    row_scores = np.array([scores.get(int(t) // span_ms * span_ms, 0.0) / 100 for t in times])
    return stamps, texts, row_scores


def accepted_rows(times: np.ndarray, span_ms: int) -> np.ndarray:
    """The rows the server's ingest accepts at latency 0: none in a bucket before the latest row's."""
    running = np.maximum.accumulate(times)
    return times >= running // span_ms * span_ms


def score_file_in_process(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """score_file() on a JobAnalyzer in this process: the records' initial scores per row."""
    stamps, texts, times, values = read_series(path)
    span_ms = sampling_interval_s(times) * 1000
    job = JobAnalyzer(AnalysisSpec(bucket_span_ms=span_ms, detectors=(DetectorSpec("mean", field_name="value"),)))
    keep = accepted_rows(times, span_ms)
    latest = np.maximum.accumulate(times)
    scores: dict[int, float] = {}

    def collect(results: list) -> None:
        for bucket in results:
            for record in bucket.records:
                scores[bucket.timestamp_ms] = max(scores.get(bucket.timestamp_ms, 0.0), record.initial_record_score)

    for i in range(0, len(times), BATCH):
        t, v = times[i:i + BATCH], values[i:i + BATCH]
        k = keep[i:i + BATCH]
        job.add(RecordBatch(times=t[k], numbers={"value": v[k]}))
        collect(job.finalize_until(int(latest[i:i + BATCH][-1]) // span_ms * span_ms))
    collect(job.finalize_until((int(times.max()) // span_ms + 1) * span_ms))
    row_scores = np.array([scores.get(int(t) // span_ms * span_ms, 0.0) / 100 for t in times])
    return stamps, texts, row_scores


def write_results(out: Path, stamps: list[str], texts: list[str], scores: np.ndarray) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        writer.writerows(zip(stamps, texts, (f"{s:.6f}" for s in scores), strict=True))


def halves(files: list[Path], data: Path) -> tuple[list[Path], list[Path]]:
    """The files split in two: alternate files within each category (folder), in name order."""
    parts: tuple[list[Path], list[Path]] = ([], [])
    by_folder: dict[Path, list[Path]] = {}
    for path in sorted(files):
        by_folder.setdefault(path.relative_to(data).parent, []).append(path)
    for folder in sorted(by_folder):
        for k, path in enumerate(by_folder[folder]):
            parts[k % 2].append(path)
    return parts


def cross_check(scorer: Path, data: Path, windows: Path, results: Path, files: list[Path]) -> None:
    """Choose the threshold on one half, score the other with it, both ways round; print both."""
    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for name, part in zip("AB", halves(files, data), strict=True):
            root = Path(tmp) / name
            for path in part:
                link = root / path.relative_to(data)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path.resolve())
            dirs.append(root)
        base = [sys.executable, str(scorer), "--windows", str(windows), "--results", str(results)]
        report: dict[str, dict] = {}
        for name, root in zip("AB", dirs, strict=True):
            swept, saved = Path(tmp) / f"{name}-swept.json", Path(tmp) / f"{name}-thresholds.json"
            subprocess.run([*base, "--data", str(root), "--threshold-sweep", "--json", str(swept),
                            "--save-thresholds", str(saved)], check=True, capture_output=True)
            report[name] = json.loads(swept.read_text())
        for name, other in (("A", "B"), ("B", "A")):
            moved = Path(tmp) / f"{name}-from-{other}.json"
            subprocess.run([*base, "--data", str(dirs["AB".index(name)]), "--thresholds",
                            str(Path(tmp) / f"{other}-thresholds.json"), "--json", str(moved)],
                           check=True, capture_output=True)
            transferred = json.loads(moved.read_text())
            print(f"cross-check half {name} ({len(report[name]['files'])} files, {report[name]['windows']} windows), "
                  f"threshold from half {other}:")
            for profile, swept_profile in report[name]["profiles"].items():
                got = transferred["profiles"][profile]
                print(f"  {profile:<20} swept {swept_profile['score']:7.2f} (thr {swept_profile['threshold']:.4f})"
                      f"  transferred {got['score']:7.2f} (thr {got['threshold']:.4f})"
                      f"  loss {swept_profile['score'] - got['score']:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--windows", type=Path, help="NAB windows JSON: score the results with the NAB scorer")
    parser.add_argument("--scorer", type=Path, help="the NAB scorer (default: score.py beside --windows)")
    parser.add_argument("--target", help="an anomalyd server to use (default: start a local one)")
    parser.add_argument("--threshold-sweep", action="store_true", help="passed to the scorer")
    parser.add_argument("--threshold", type=float, help="passed to the scorer")
    parser.add_argument("--in-process", action="store_true", help="run the engine in this process, not a server")
    parser.add_argument("--workers", type=int, default=1, help="processes for --in-process")
    parser.add_argument("--cross-check", action="store_true", help="threshold transfer between two halves (needs --windows)")
    parser.add_argument("--splits", type=int, default=200, help="random splits for --cross-check's mean transfer loss")
    args = parser.parse_args()

    files = sorted(p for p in args.data.rglob("*.csv"))
    if not files:
        parser.error(f"no CSV files under {args.data}")
    if args.in_process:
        began = time.perf_counter()
        with contextlib.ExitStack() as stack:
            if args.workers > 1:
                pool = stack.enter_context(multiprocessing.get_context("fork").Pool(args.workers))
                outcomes = pool.imap(score_file_in_process, files, chunksize=1)
            else:
                outcomes = map(score_file_in_process, files)
            rows = 0
            for path, (stamps, texts, scores) in zip(files, outcomes, strict=True):
                relative = path.relative_to(args.data)
                rows += len(stamps)
                write_results(args.results / relative, stamps, texts, scores)
                print(f"{relative}: {len(stamps)} rows, max score {scores.max():.3f}", flush=True)
        elapsed = time.perf_counter() - began
        print(f"{len(files)} files, {rows:,} rows in {elapsed:.1f}s ({rows / elapsed:,.0f} rows/s in process)")
    else:
        serve(args, files)
    if args.windows:
        scorer = args.scorer or args.windows.parent / "score.py"
        command = [sys.executable, str(scorer), "--data", str(args.data), "--windows", str(args.windows), "--results", str(args.results)]
        if args.threshold is not None:
            command += ["--threshold", str(args.threshold)]
        elif args.threshold_sweep:
            command += ["--threshold-sweep"]
        subprocess.run(command, check=True)
        if args.cross_check:
            cross_check(scorer, args.data, args.windows, args.results, files)
            nab_transfer.report(scorer, args.data, args.windows, args.results, args.splits, seed=0)


def serve(args: argparse.Namespace, files: list[Path]) -> None:
    """Score every file through a server (args.target, or a local one)."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        local = None if args.target else stack.enter_context(LocalServer(Path(tmp) / "server"))
        target = args.target or local.target
        channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 256 << 20)])
        jobs = job_service_pb2_grpc.JobServiceStub(channel)
        results = results_service_pb2_grpc.ResultsServiceStub(channel)
        began, cpu_began = time.perf_counter(), server_cpu_seconds(local)
        rows = 0
        for path in files:
            relative = path.relative_to(args.data)
            stamps, texts, scores = score_file(jobs, results, path, relative)
            rows += len(stamps)
            write_results(args.results / relative, stamps, texts, scores)
            print(f"{relative}: {len(stamps)} rows, max score {scores.max():.3f}", flush=True)
        elapsed = time.perf_counter() - began
        cpu = "" if local is None else f"; {rows / (server_cpu_seconds(local) - cpu_began):,.0f} rows/s of the server's CPU time"
        print(f"{len(files)} files, {rows:,} rows in {elapsed:.1f}s ({rows / elapsed:,.0f} rows/s through the server{cpu})")


def server_cpu_seconds(local: LocalServer | None) -> float:
    """The local server's CPU time so far (s; 0 for another server): on a busy machine it varies less than wall time."""
    return 0.0 if local is None or local.pid is None else cpu_seconds(local.pid)


if __name__ == "__main__":
    main()
