"""Throughput and state size of the anomaly-detection engine (JobAnalyzer), without gRPC.

For 1, 1,000 and 100,000 series of one ``mean(x) by s`` detector, feeds one record per series
per 5-minute bucket, finalising each bucket as the next begins, and prints microseconds per
bucket (wall clock, and the process's CPU time, steadier on a shared machine) and records per
second (after the series exist and a warm-up), model bytes and serialised state bytes per
series, and the time to write and load the state. Each count runs
young (a few buckets old) and old (28 days of a daily pattern with noise: seasonal components,
full rings and score histograms). An old job of many series is 100 series learned for 28 days
and copied: its state is tiled, with every series renamed, so the copies cost what real series
of that age cost.

    PYTHONPATH=service python bench/engine.py [--series 1,1000,100000] [--records 400000] [--backfill 5]

With --baseline DIR (another checkout, e.g. a worktree of main), the series lines instead time
this engine and DIR's side by side in one process, bucket by bucket in alternating order on the
same data (each engine learns its own old state), and print both CPU times, their ratio and
whether the two wrote the same records. DIR's engine is copied once under the temp dir as the
package anomalyd_baseline; its kernels are warmed up before timing (compiled the first time, a few
minutes, then cached).

The farequote line (--farequote messages) times the production shape of a sparse upload: ``mean(x)
by s`` with s an influencer, 19 series and about 100 records a bucket at random times, added a
message of 1,000 records (10 buckets) at a time as bench/ingest.py's sparse NDJSON sends them,
after 300 buckets of learning (beside DIR's engine with --baseline, alternating as above).

Then the backfill line times one series whose every add and finalize_until closes 10,000
buckets at once (a message of history), as bench/nab.py sends them.

Last, the functions of a record's text, place or time (--value-functions, at --value-series
series): ``dc(port) by s`` and the others, young, four records a series a bucket (texts from
100 ports, places around a city), each beside ``count by s`` over the very same records in the
same run, with the ratio of their times (``_over`` names ``lat_long`` and ``time_of_day`` over s, a
series being an entity of the population); and population analysis (--population): ``sum(x) over
s`` with 10,000 and 100,000 entities a bucket (one record each) past warm-up, beside the young
``mean(x) by s`` job of as many series timed in the same run; and the rare lines (--rare):
``rare by s`` (that many values a bucket, each seen in 90 % of buckets, and 10 new ones a bucket)
and ``rare by s over h`` (that many over values a bucket, each using its own 2 of 1,000 by values,
0.1 % of them another one), beside the young ``mean(x) by s`` of as many series timed in the same
run, with model bytes per series (a series of the population case is an (over, by) pair).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from anomalyd.engine import analyzer as this_analyzer
from anomalyd.engine import records as this_records
from anomalyd.engine import state as this_state
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from anomalyd.engine.state import Arrays, pack, unpack
from anomalyd.engine.warmup import warm_up

SPAN = 300_000
DAY_BUCKETS = 86_400_000 // SPAN
OLD_DAYS = 28
T0 = 1_700_000_000_000 // SPAN * SPAN
_BASE = 100  # series learned for 28 days before an old job is tiled


@dataclass(frozen=True)
class Engine:
    """The modules of an engine: this checkout's, or another's loaded beside it (--baseline)."""

    name: str
    analyzer: ModuleType
    records: ModuleType
    state: ModuleType

    @property
    def spec(self) -> Any:
        """The benchmark's job, mean(x) by s, in this engine's classes."""
        return self.records.AnalysisSpec(
            bucket_span_ms=SPAN, detectors=(self.records.DetectorSpec("mean", field_name="x", by_field_name="s"),),
            model_memory_limit_bytes=1 << 40,
        )


THIS = Engine("this", this_analyzer, this_records, this_state)
SPEC = THIS.spec


def baseline_engine(tree: Path) -> Engine:
    """The engine of the checkout at tree, imported as anomalyd_baseline from a copy with its imports renamed."""
    source = tree / "service" / "anomalyd"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(source.rglob("*.py")))).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / "anomalyd-bench-baseline" / digest
    package = root / "anomalyd_baseline"
    if not package.is_dir():
        staging = root / f"staging-{time.time_ns()}"
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__"))
        for module in staging.rglob("*.py"):
            module.write_text(re.sub(r"\banomalyd\b", "anomalyd_baseline", module.read_text()))
        try:
            staging.rename(package)  # whole or not at all
        except OSError:  # another run renamed its copy first
            shutil.rmtree(staging)
    sys.path.insert(0, str(root))
    importlib.import_module("anomalyd_baseline.engine.warmup").warm_up()
    modules = (importlib.import_module(f"anomalyd_baseline.engine.{name}") for name in ("analyzer", "records", "state"))
    return Engine("baseline", *modules)


class Feed:
    """One record per series per bucket: a daily wave plus noise."""

    def __init__(self, series: int, seed: int = 0, engine: Engine = THIS) -> None:
        self.rng = np.random.default_rng(seed)
        self.records = engine.records
        self.names = engine.records.StringColumn(np.arange(series, dtype=np.int32), tuple(f"series-{k}" for k in range(series)))
        self.series = series

    def bucket(self, job: Any, b: int) -> list[Any]:
        """Add bucket b's records to job and close it; its results."""
        times = np.full(self.series, T0 + b * SPAN + SPAN // 2, np.int64)
        wave = 10.0 * np.sin(2 * np.pi * (b % DAY_BUCKETS) / DAY_BUCKETS)
        x = 100.0 + wave + 3.0 * self.rng.standard_normal(self.series)
        job.add(self.records.RecordBatch(times=times, numbers={"x": x}, strings={"s": self.names}))
        return list(job.finalize_until(T0 + (b + 1) * SPAN))


class FarequoteFeed:
    """About 100 records a bucket at random times over 19 airlines, the airline an influencer, 10 buckets a message."""

    airlines = 19
    buckets_per_message = 10

    def __init__(self, engine: Engine = THIS) -> None:
        self.rng = np.random.default_rng(3)
        self.records = engine.records
        self.names = tuple(f"airline-{k}" for k in range(self.airlines))
        self.spec = engine.records.AnalysisSpec(
            bucket_span_ms=SPAN, detectors=(engine.records.DetectorSpec("mean", field_name="x", by_field_name="s"),),
            influencers=("s",), model_memory_limit_bytes=1 << 40,
        )

    def message(self, job: Any, m: int) -> list[Any]:
        """Add message m's records (buckets 10m to 10m + 9) to job and close their buckets; their results."""
        n = int(self.rng.poisson(100 * self.buckets_per_message))
        times = np.sort(T0 + m * self.buckets_per_message * SPAN + self.rng.integers(0, self.buckets_per_message * SPAN, n))
        airline = self.records.StringColumn(self.rng.integers(0, self.airlines, n).astype(np.int32), self.names)
        job.add(self.records.RecordBatch(times=times, numbers={"x": self.rng.gamma(4.0, 50.0, n)}, strings={"s": airline}))
        return list(job.finalize_until(T0 + (m + 1) * self.buckets_per_message * SPAN))


def farequote(engine: Engine = THIS, learned: int = 30) -> tuple[Any, FarequoteFeed, int]:
    """A farequote-shaped job past its first `learned` messages, its feed, and the next message."""
    feed = FarequoteFeed(engine)
    job = engine.analyzer.JobAnalyzer(feed.spec)
    for m in range(learned):
        feed.message(job, m)
    return job, feed, learned


def tiled(state: bytes, copies: int, engine: Engine = THIS) -> bytes:
    """The state of a one-detector job with its series repeated copies times, renamed series-0...

    Per-series arrays are repeated; the seasonal component pools and their spreads too, each copy's
    slots moved to its own pool rows.
    """
    arrays, meta = engine.state.unpack(state)
    n = len(arrays["d0.keys.ids"])
    out: Arrays = {}
    for name, a in arrays.items():
        if not name.startswith("d0.") or name.endswith(".point"):
            out[name] = a
        elif ".seasonality.pool" in name or ".seasonality.spread" in name:
            out[name] = np.concatenate([a] * copies)
        elif name.endswith(".seasonality.slot"):
            pool_rows = [len(arrays[name.replace("slot", f"pool_used{k}")]) for k in range(a.shape[1])]
            shift = np.arange(copies)[:, None, None] * np.array(pool_rows)[None, None, :]
            out[name] = np.where(a >= 0, a[None] + shift, -1).reshape(-1, a.shape[1]).astype(a.dtype)
        elif name == "d0.norm.hist":  # the filled bins in row order: the copies' rows follow each other
            out[name] = np.tile(a, copies)
        elif len(a) == n:
            out[name] = np.concatenate([a] * copies)
        else:
            out[name] = a
    out["d0.keys.ids"] = np.arange(n * copies, dtype=np.int32)[:, None]
    meta["split_values"] = [[[f"series-{k}" for k in range(n * copies)]]]
    return pack(out, meta)


def young(series: int, engine: Engine = THIS) -> tuple[Any, Feed, int]:
    job, feed = engine.analyzer.JobAnalyzer(engine.spec), Feed(series, engine=engine)
    for b in range(3):
        feed.bucket(job, b)
    return job, feed, 3


_learned: dict[tuple[str, int], bytes] = {}


def old(series: int, engine: Engine = THIS) -> tuple[Any, Feed, int]:
    base = min(series, _BASE)
    buckets = OLD_DAYS * DAY_BUCKETS
    if (engine.name, base) not in _learned:
        job, feed = engine.analyzer.JobAnalyzer(engine.spec), Feed(base, engine=engine)
        for b in range(buckets):
            feed.bucket(job, b)
        _learned[engine.name, base] = job.to_state()
    learned = _learned[engine.name, base]
    job = engine.analyzer.JobAnalyzer.from_state(engine.spec, tiled(learned, series // base, engine) if series > base else learned)
    return job, Feed(series, seed=1, engine=engine), buckets


def bench(series: int, records: int, age: str) -> dict[str, float]:
    """Time about `records` records (at least 20 buckets) into a young or old job."""
    job, feed, b0 = (young if age == "young" else old)(series)
    timed = max(20, records // series)
    start, cpu = time.perf_counter(), time.process_time()
    for b in range(b0, b0 + timed):
        feed.bucket(job, b)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    state = job.to_state()
    saved = time.perf_counter() - start
    start = time.perf_counter()
    JobAnalyzer.from_state(SPEC, state)
    loaded = time.perf_counter() - start
    return {
        "records_per_s": timed * series / elapsed,
        "us_per_bucket": 1e6 * elapsed / timed,
        "cpu_us_per_bucket": 1e6 * cpu / timed,
        "model_bytes_per_series": job.model_size_stats().model_bytes / series,
        "state_bytes_per_series": len(state) / series,
        "to_state_s": saved,
        "from_state_s": loaded,
    }


def compare(jobs: list[tuple[Any, Callable[[Any, int], list[Any]], int]], timed: int) -> tuple[float, float, bool]:
    """CPU us a step of two engines' jobs on the same steps, each step timed in turn (alternating which goes first).

    Args:
        jobs: each engine's job, the feed's step (a bucket or a message: it adds records and closes
            buckets) and the first step to time.
        timed: steps to time.

    Returns:
        Each engine's CPU us a step, and whether their results were the same (as their reprs).
    """
    first = jobs[0][2]
    cpu, same = [0.0, 0.0], True
    for k in range(first, first + timed):
        results = ["", ""]
        for e in (0, 1) if k % 2 else (1, 0):
            job, step, _ = jobs[e]
            start = time.process_time()
            out = step(job, k)
            cpu[e] += time.process_time() - start
            results[e] = repr(out)
        same &= results[0] == results[1]
    return 1e6 * cpu[0] / timed, 1e6 * cpu[1] / timed, same


def backfill(buckets_per_call: int, calls: int) -> tuple[float, float]:
    """Microseconds per bucket (wall clock, CPU) of one series when each add and finalize_until closes many buckets."""
    job, feed = JobAnalyzer(SPEC), Feed(1)
    total = buckets_per_call * (calls + 1)
    b = np.arange(total)
    times = T0 + b * SPAN + SPAN // 2
    x = 100.0 + 10.0 * np.sin(2 * np.pi * (b % DAY_BUCKETS) / DAY_BUCKETS) + 3.0 * feed.rng.standard_normal(total)
    codes = np.zeros(total, np.int32)

    def call(k: int) -> None:
        part = slice(k * buckets_per_call, (k + 1) * buckets_per_call)
        strings = {"s": StringColumn(codes[part], feed.names.values)}
        job.add(RecordBatch(times=times[part], numbers={"x": x[part]}, strings=strings))
        job.finalize_until(T0 + (k + 1) * buckets_per_call * SPAN)

    call(0)  # a young job's first day
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(1, calls + 1):
        call(k)
    buckets = calls * buckets_per_call
    return 1e6 * (time.perf_counter() - start) / buckets, 1e6 * (time.process_time() - cpu) / buckets


_VALUE_DETECTORS = {
    "dc": DetectorSpec("dc", field_name="f", by_field_name="s"),
    "info_content": DetectorSpec("info_content", field_name="f", by_field_name="s"),
    "lat_long": DetectorSpec("lat_long", field_name="f", by_field_name="s"),
    "time_of_day": DetectorSpec("time_of_day", by_field_name="s"),
    "lat_long_over": DetectorSpec("lat_long", field_name="f", over_field_name="s"),
    "time_of_day_over": DetectorSpec("time_of_day", over_field_name="s"),
}
_PER_SERIES = 4  # records a series a bucket in the value-function cases


def value_batches(series: int, buckets: int, function: str) -> list[RecordBatch]:
    """Buckets of _PER_SERIES records a series: field f a port (or a place near Paris), at random times."""
    rng = np.random.default_rng(2)
    names = tuple(f"series-{k}" for k in range(series))
    texts = tuple(f"{48.8 + rng.normal(0, 0.05):.4f},{2.3 + rng.normal(0, 0.05):.4f}" for _ in range(100)) \
        if function.startswith("lat_long") else tuple(str(port) for port in range(1000, 1100))
    out = []
    for b in range(buckets):
        n = series * _PER_SERIES
        times = T0 + b * SPAN + rng.integers(0, SPAN, n)
        codes = np.repeat(np.arange(series, dtype=np.int32), _PER_SERIES)
        strings = {"s": StringColumn(codes, names), "f": StringColumn(rng.integers(0, 100, n).astype(np.int32), texts)}
        out.append(RecordBatch(times=np.sort(times), strings=strings))
    return out


def value_bench(series: int, function: str, buckets: int = 20) -> tuple[float, float, float]:
    """Microseconds per bucket of `function` and of count over the same records, and the function's model bytes a series."""
    batches = value_batches(series, buckets + 3, function)
    timing = []
    for detector in (_VALUE_DETECTORS[function], DetectorSpec("count", by_field_name="s")):
        job = JobAnalyzer(AnalysisSpec(bucket_span_ms=SPAN, detectors=(detector,), model_memory_limit_bytes=1 << 40))
        for b in range(3):  # the series exist
            job.add(batches[b])
            job.finalize_until(T0 + (b + 1) * SPAN)
        start = time.perf_counter()
        for b in range(3, buckets + 3):
            job.add(batches[b])
            job.finalize_until(T0 + (b + 1) * SPAN)
        timing.append((1e6 * (time.perf_counter() - start) / buckets, job.model_size_stats().model_bytes / series))
    return timing[0][0], timing[1][0], timing[0][1]


def population(entities: int, timed: int = 20) -> dict[str, float]:
    """Microseconds per bucket and model bytes per entity of sum(x) over s, one record per entity a bucket."""
    spec = AnalysisSpec(
        bucket_span_ms=SPAN, detectors=(DetectorSpec("sum", field_name="x", over_field_name="s"),),
        model_memory_limit_bytes=1 << 40,
    )
    job, feed = JobAnalyzer(spec), Feed(entities)
    warm = job.warmup + 1
    for b in range(warm):
        feed.bucket(job, b)
    start = time.perf_counter()
    for b in range(warm, warm + timed):
        feed.bucket(job, b)
    elapsed = time.perf_counter() - start
    return {"us_per_bucket": 1e6 * elapsed / timed, "model_bytes_per_entity": job.model_size_stats().model_bytes / entities,
            "state_bytes_per_entity": len(job.to_state()) / entities}


def bench_rare(entities: int, *, over: bool, buckets: int = 30) -> tuple[float, float]:
    """Microseconds per bucket and model bytes per series of a rare detector, after 25 buckets of learning.

    Args:
        entities: by values a bucket (plain), or over values a bucket (over).
        over: time ``rare by s over h`` instead of ``rare by s``.
        buckets: buckets timed.
    """
    rng = np.random.default_rng(0)
    spec = AnalysisSpec(
        bucket_span_ms=SPAN, model_memory_limit_bytes=1 << 40,
        detectors=(DetectorSpec("rare", by_field_name="s", over_field_name="h" if over else ""),),
    )
    job = JobAnalyzer(spec)
    names = tuple(f"value-{k}" for k in range(entities + 10 * (25 + buckets)))
    hosts = tuple(f"host-{k}" for k in range(entities))
    elapsed = 0.0
    for b in range(25 + buckets):
        if over:
            h = np.repeat(np.arange(entities, dtype=np.int32), 2)
            s = np.stack([h[::2] % 1_000, h[::2] * 7 % 1_000], axis=1).ravel().astype(np.int32)
            s[rng.random(len(s)) < 0.001] = 999  # a few pairs new a bucket
            strings = {"s": StringColumn(s, names), "h": StringColumn(h, hosts)}
        else:
            s = np.concatenate([np.flatnonzero(rng.random(entities) < 0.9), entities + 10 * b + np.arange(10)]).astype(np.int32)
            strings = {"s": StringColumn(s, names)}
        start = time.perf_counter()
        job.add(RecordBatch(times=np.full(len(s), T0 + b * SPAN, np.int64), strings=strings))
        job.finalize_until(T0 + (b + 1) * SPAN)
        elapsed += time.perf_counter() - start if b >= 25 else 0.0
    series = len(unpack(job.to_state())[0]["d0.keys.ids"])
    return 1e6 * elapsed / buckets, job.model_size_stats().model_bytes / series


def series_lines(series_counts: str, ages: str, records: int) -> None:
    """Print bench() of each series count and age."""
    print(f"{'series':>8} {'age':>6} {'us/bucket':>10} {'cpu us':>7} {'records/s':>11} {'model B/series':>15} {'state B/series':>15} "
          f"{'to_state s':>10} {'from_state s':>12}")
    for series in map(int, series_counts.split(",")):
        for age in ages.split(","):
            r = bench(series, records, age)
            print(f"{series:>8} {age:>6} {r['us_per_bucket']:>10.0f} {r['cpu_us_per_bucket']:>7.0f} {r['records_per_s']:>11.0f} "
                  f"{r['model_bytes_per_series']:>15.0f} {r['state_bytes_per_series']:>15.0f} "
                  f"{r['to_state_s']:>10.2f} {r['from_state_s']:>12.2f}", flush=True)


def compare_lines(series_counts: str, ages: str, records: int, baseline: Path) -> None:
    """Print compare() of this engine and baseline's for each series count and age."""
    engines = (THIS, baseline_engine(baseline))
    print(f"{'series':>8} {'age':>6} {'cpu us':>9} {'baseline':>9} {'ratio':>6}  same records")
    for series in map(int, series_counts.split(",")):
        for age in ages.split(","):
            jobs = [(young if age == "young" else old)(series, engine) for engine in engines]
            own, base, same = compare([(job, feed.bucket, b0) for job, feed, b0 in jobs], max(20, records // series))
            print(f"{series:>8} {age:>6} {own:>9.0f} {base:>9.0f} {own / base:>6.3f}  {'yes' if same else 'NO'}", flush=True)


def farequote_line(messages: int, baseline: Path | None) -> None:
    """Print the farequote shape's CPU us a bucket, beside baseline's engine when given."""
    shape = "farequote shape: mean(x) by s, s an influencer, 19 series, ~100 records a bucket, 10 buckets a message"
    per_message = FarequoteFeed.buckets_per_message
    if baseline:
        jobs = [farequote(engine) for engine in (THIS, baseline_engine(baseline))]
        own, base, same = compare([(job, feed.message, m0) for job, feed, m0 in jobs], messages)
        print(f"{shape}: {own / per_message:.0f} us CPU/bucket, baseline {base / per_message:.0f} ({own / base:.3f}), "
              f"same records: {'yes' if same else 'NO'}", flush=True)
        return
    job, feed, m0 = farequote()
    cpu = time.process_time()
    for m in range(m0, m0 + messages):
        feed.message(job, m)
    us = 1e6 * (time.process_time() - cpu) / (messages * per_message)
    print(f"{shape}: {us:.0f} us CPU/bucket ({100 / us * 1e6:.0f} records/s)", flush=True)


def main() -> None:
    """Run the benchmark and print one line per series count and age."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1,1000,100000", help="comma-separated series counts")
    parser.add_argument("--ages", default="young,old", help="young, old or both")
    parser.add_argument("--records", type=int, default=400_000, help="timed records per run (at least 20 buckets)")
    parser.add_argument("--backfill", type=int, default=5, help="calls of 10,000 one-series buckets to time (0: none)")
    parser.add_argument("--value-functions", default="dc,info_content,lat_long,time_of_day,lat_long_over,time_of_day_over",
                        help="comma-separated functions of text, places or times to time ('' for none)")
    parser.add_argument("--value-series", default="10000,100000", help="their series counts")
    parser.add_argument("--population", default="10000,100000", help="comma-separated entities a bucket ('' for none)")
    parser.add_argument("--rare", default="10000,100000", help="entities a bucket of the rare lines ('' for none)")
    parser.add_argument("--farequote", type=int, default=300, help="messages of the farequote line to time (0: none)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose engine the series and farequote lines time beside this one")
    args = parser.parse_args()
    print(f"engine kernels ready in {warm_up():.1f} s")
    if args.baseline:
        compare_lines(args.series, args.ages, args.records, args.baseline)
    else:
        series_lines(args.series, args.ages, args.records)
    if args.farequote:
        farequote_line(args.farequote, args.baseline)
    if args.backfill:
        wall, cpu = backfill(10_000, args.backfill)
        print(f"backfill: 1 series, 10,000 buckets a call: {wall:.0f} us/bucket (CPU {cpu:.0f})")
    for function in filter(None, args.value_functions.split(",")):
        for series in map(int, args.value_series.split(",")):
            own, count, model_bytes = value_bench(series, function)
            split = "over" if _VALUE_DETECTORS[function].over_field_name else "by"
            print(f"{function.removesuffix('_over')} {split} s, {series} series x {_PER_SERIES} records: {own:.0f} us/bucket, "
                  f"count by s over the same records {count:.0f} us/bucket (x{own / count:.2f}), "
                  f"model {model_bytes:.0f} B/series", flush=True)
    for entities in (int(n) for n in args.population.split(",") if n):
        pop, base = population(entities), bench(entities, 20 * entities, "young")
        print(f"population: sum(x) over s, {entities} entities: {pop['us_per_bucket']:.0f} us/bucket "
              f"({pop['us_per_bucket'] / base['us_per_bucket']:.2f}x mean(x) by s young {base['us_per_bucket']:.0f}), "
              f"model {pop['model_bytes_per_entity']:.0f} B/entity ({base['model_bytes_per_series']:.0f} B/series), "
              f"state {pop['state_bytes_per_entity']:.0f} B/entity", flush=True)
    for entities in (int(n) for n in args.rare.split(",") if n):
        baseline = bench(entities, 20 * entities, "young")["us_per_bucket"]
        for over in (False, True):
            us, per_series = bench_rare(entities, over=over)
            print(f"rare{' over h' if over else ''}: rare by s, {entities} entities: {us:.0f} us/bucket "
                  f"({us / baseline:.2f}x mean(x) by s young {baseline:.0f}), model {per_series:.0f} B/series", flush=True)


if __name__ == "__main__":
    main()
