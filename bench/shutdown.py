"""How long a graceful stop and a restart take for a big open job: sizes Kubernetes' grace period.

One job of `mean(value) by host` with --series hosts gets --buckets buckets of data for each,
then the server gets SIGTERM (which finalises buckets and persists every model) and is started
again over the same data, and the same after SIGKILL (the restart then replays the journal).
Prints seconds for each; deploy/kubernetes/base/statefulset.yaml's terminationGracePeriodSeconds
and startupProbe come from these figures.

    .venv/bin/python bench/shutdown.py --series 10000 100000
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from anomalyd_client import Client
from anomalyd_client.local import LocalServer

SPAN_S = 300
START_S = 1_700_000_000


def records(series: int, buckets: int) -> Iterator[bytes]:
    """NDJSON in time order: one record per host per minute, in chunks of about 1 MB."""
    chunk: list[bytes] = []
    for minute in range(buckets * SPAN_S // 60):
        t = START_S + 60 * minute
        chunk.extend(b'{"time":%d,"host":"h%d","value":%d}\n' % (t, h, (h + minute) % 50) for h in range(series))
        if len(chunk) >= 20_000:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)


def measure(series: int, buckets: int, data_dir: Path) -> None:
    server = LocalServer(data_dir, start_timeout=3600, stop_timeout=3600)
    with Client(server.start(), timeout=3600) as client:
        client.put_job("big", detectors=["mean(value) by host"], bucket_span=f"{SPAN_S}s", model_memory_limit="16gb")
        client.open_job("big")
        start = time.monotonic()
        counts = client.post_data("big", records(series, buckets))
        post_s = time.monotonic() - start
        [stats] = client.get_job_stats("big")
    print(
        f"{series:,} series, {buckets} buckets: {counts['processed_record_count']:,} records posted in {post_s:.1f} s, "
        f"model {stats['model_size_stats']['model_bytes'] / 1e6:.0f} MB" if stats.get("model_size_stats") else "",
        flush=True,
    )
    for how in (signal.SIGTERM, signal.SIGKILL):
        start = time.monotonic()
        code = server.stop(how)
        stop_s = time.monotonic() - start
        start = time.monotonic()
        with Client(server.start(), timeout=3600) as client:
            [stats] = client.get_job_stats("big")
        restart_s = time.monotonic() - start
        print(f"  {how.name}: stopped in {stop_s:.1f} s (exit {code}), serving again in {restart_s:.1f} s ({stats['state']})", flush=True)
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--buckets", type=int, default=3, help="5-minute buckets of data per series")
    args = parser.parse_args()
    for series in args.series:
        with tempfile.TemporaryDirectory() as tmp:
            measure(series, args.buckets, Path(tmp))


if __name__ == "__main__":
    main()
