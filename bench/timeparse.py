"""Per-value cost of reading record times with a time_format, beside another revision's parser.

    python bench/timeparse.py [--baseline REV] [--values 100000] [--repeat 5]

Each scenario is a column of distinct times in one pattern, read by time_parser(pattern) as a
job's uploads read them; the figure is the best of --repeat runs in microseconds per value.
With --baseline, core/timeparse.py of that git revision (a self-contained module before the
Java pattern compiler; anomalyd.core.javatime of this tree otherwise) reads the same columns in
the same process, and a pattern it refuses or a column it raises on is reported as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service")]

PATH = "service/anomalyd/core/timeparse.py"
LONDON = zoneinfo.ZoneInfo("Europe/London")
# pattern -> how a time is written in it
SCENARIOS: dict[str, Callable[[dt.datetime], str]] = {
    "yyyy-MM-dd'T'HH:mm:ss.SSSXXX": lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(timespec="milliseconds"),
    "yyyy-MM-dd HH:mm:ss": lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
    "yyyyMMddHHmmss": lambda t: t.strftime("%Y%m%d%H%M%S"),
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX": lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
    "dd/MMM/yyyy:HH:mm:ss Z": lambda t: t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
    "MMM dd HH:mm:ss": lambda t: t.strftime("%b %d %H:%M:%S"),
    "yyyy-MM-dd HH:mm:ss zzz": lambda t: t.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S Europe/London"),
}


def load(source: str, name: str) -> ModuleType:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location(name, file.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cost(time_parser: Callable[[str], Any], pattern: str, values: list[str], repeat: int) -> str:
    """Microseconds per value, or why there is no figure."""
    try:
        parse = time_parser(pattern)
    except ValueError:
        return "refused"
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            _, invalid = parse(values)
        except Exception as err:  # the figure is what happened
            return f"raises {type(err).__name__}"
        best = min(best, time.perf_counter() - start)
    bad = int(np.count_nonzero(invalid))
    return f"{best / len(values) * 1e6:6.2f}" + (f" ({bad} invalid)" if bad else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git revision whose timeparse.py to run beside")
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from anomalyd.core.timeparse import time_parser

    baseline = None
    if args.baseline:
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{args.baseline}:{PATH}"], capture_output=True, text=True, check=True).stdout
        baseline = load(source, "baseline_timeparse").time_parser
    rng = np.random.default_rng(7)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    seconds = rng.integers(0, 365 * 86_400, args.values).tolist()
    micros = rng.integers(0, 1_000_000, args.values).tolist()
    moments = [start + dt.timedelta(seconds=s, microseconds=u) for s, u in zip(seconds, micros, strict=True)]
    print(f"{'pattern':38s} {'us/value':>10s}" + (f"   {args.baseline} us/value" if baseline else ""))
    for pattern, write in SCENARIOS.items():
        values = [write(t) for t in moments]
        line = f"{pattern:38s} {cost(time_parser, pattern, values, args.repeat):>10s}"
        if baseline is not None:
            line += f"   {cost(baseline, pattern, values, args.repeat)}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
