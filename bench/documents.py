"""DocumentSplitter throughput and peak memory, beside another revision's in the same run.

    python bench/documents.py [--baseline REV] [--repeat 5] [--baseline-timeout 180]

Each scenario feeds its messages to a fresh splitter; the figure is the best of --repeat runs
(MB/s of input), and peak memory is traced (tracemalloc) in one more run, as a multiple of the
input. With --baseline, the splitter of that git revision runs the same scenarios in a child
process, so a scenario it cannot finish (an exception, or over --baseline-timeout) is reported
as such.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service")]

KIB = 1 << 10
MIB = 1 << 20
PATH = "service/anomalyd/core/documents.py"


def ndjson(records: int = 60_000, seed: int = 7) -> list[bytes]:
    """Lines as bench/ingest.py sends them, in messages of whole lines, about 1 MiB each."""
    rng = np.random.default_rng(seed)
    airline = rng.integers(0, 20, records).tolist()
    responsetime = rng.gamma(4.0, 30.0, records).round(3).tolist()
    lines = [b'{"time":%d,"airline":"A%02d","responsetime":%r}' % (1_500_000_000 + i, a, r)
             for i, (a, r) in enumerate(zip(airline, responsetime, strict=True))]
    data = b"\n".join(lines) + b"\n"
    messages, start = [], 0
    while start < len(data):
        end = data.find(b"\n", min(start + MIB, len(data) - 1)) + 1
        messages.append(data[start:end])
        start = end
    return messages


def big_document() -> bytes:
    """One 0.9 MiB document with 30,000 fields, under the default 1 MiB limit."""
    fields = b",".join(b'"field%d":"value %d"' % (i, i) for i in range(30_000))
    return b'{"time":1500000000,' + fields + b"}\n"


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


SCENARIOS: dict[str, Callable[[], list[bytes]]] = {
    "plain NDJSON, 1 MiB messages": ndjson,
    "0.9 MiB document, 1 KiB messages": lambda: pieces(big_document(), KIB),
    "1 MiB line, no newline": lambda: [b'{"time":1500000000,"message":"' + b"x" * (MIB - 40) + b'"}'],
    "documents side by side, one line": lambda: [b'{"time":1500000000,"value":1.5} ' * (MIB // 32)],
    "deep nesting, 1 MiB": lambda: [(b'{"time":1,"value":2}\n' + b'{"a":' * 2_000 + b"1" + b"}" * 2_000 + b"\n") * 85],
}


def splitter_module(revision: str | None) -> ModuleType:
    """documents.py of revision (the working tree's if None), imported as its own module."""
    if revision is None:
        from anomalyd.core import documents

        return documents
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:{PATH}"], check=True,
                            capture_output=True, text=True).stdout
    name = f"documents_{revision.replace('/', '_').replace('~', '_')}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))  # type: ignore[arg-type]
    sys.modules[name] = module
    exec(compile(source, f"{revision}:{PATH}", "exec"), module.__dict__)
    return module


def split(module: ModuleType, messages: list[bytes]) -> tuple[int, int]:
    """Records and malformed documents of messages through a fresh splitter."""
    splitter = module.DocumentSplitter(max_document_bytes=MIB)
    records = malformed = 0
    for message in [*messages, None]:
        documents = splitter.feed(message) if message is not None else splitter.finish()
        records += len(documents.records)
        malformed += documents.malformed
    return records, malformed


def measure(revision: str | None, name: str, repeat: int) -> dict[str, object]:
    """The figures of one scenario: MB/s (best of repeat), peak memory, records, malformed."""
    module = splitter_module(revision)
    messages = SCENARIOS[name]()
    size = sum(map(len, messages))
    try:
        best, spent = float("inf"), 0.0
        for _ in range(repeat):
            began = time.perf_counter()
            counts = split(module, messages)
            best = min(best, time.perf_counter() - began)
            spent += time.perf_counter() - began
            if spent > 10:  # a slow one is measured well enough
                break
        tracemalloc.start()
        split(module, messages)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    except Exception as err:  # the old splitter's failures are figures too
        return {"error": f"{type(err).__name__}: {str(err)[:60]}"}
    return {"mb_s": size / 1e6 / best, "peak": peak / size, "records": counts[0], "malformed": counts[1]}


def _child(revision: str | None, name: str, repeat: int, results: multiprocessing.Queue) -> None:
    results.put(measure(revision, name, repeat))


def measure_apart(revision: str, name: str, repeat: int, timeout_s: float) -> dict[str, object]:
    """Figures of measure(), taken in a child process and given up after timeout_s."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(revision, name, repeat, results))
    child.start()
    child.join(timeout_s)
    if child.is_alive():
        child.terminate()
        child.join()
        return {"error": f"not done in {timeout_s:.0f} s"}
    return results.get() if not results.empty() else {"error": f"exit code {child.exitcode}"}


def row(label: str, figures: dict[str, object]) -> str:
    if "error" in figures:
        return f"  {label:<9} {figures['error']}"
    return (f"  {label:<9} {figures['mb_s']:>8.2f} MB/s  peak {figures['peak']:>6.1f}x input  "
            f"records {figures['records']:>6}  malformed {figures['malformed']:>4}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git revision to compare with, e.g. HEAD~3")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-timeout", type=float, default=180.0)
    parser.add_argument("--only", help="run the scenarios whose name holds this text")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    figures = {}
    for name in SCENARIOS:
        if args.only and args.only not in name:
            continue
        size = sum(map(len, SCENARIOS[name]()))
        print(f"{name} ({size / 1e6:.2f} MB)")
        if args.baseline:
            old = measure_apart(args.baseline, name, args.repeat, args.baseline_timeout)
            print(row(args.baseline, old))
        new = measure(None, name, args.repeat)
        print(row("this tree", new))
        figures[name] = {"baseline": old, "new": new} if args.baseline else {"new": new}
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
