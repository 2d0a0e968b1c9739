"""A job's NDJSON read path alone: DocumentSplitter and RecordReader over bench/ingest.py's messages.

    python bench/reader.py [--records 100000] [--repeat 7]

Reads each shape's 1,000-record messages as a job of ``mean(responsetime) by airline`` does:
as dict records (a splitter without the job's fields, the path of any other document), as typed
rows (the job's fields) and as flat columns (the job's compiled flat-line reader, its usual
path), and prints records a second, best of --repeat runs, in alternation so that all three see
the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service"), str(REPO / "bench")]

from ingest import SHAPES, dataset, ndjson_messages  # noqa: E402

from anomalyd.core.config import DetectorConfig, JobConfig  # noqa: E402
from anomalyd.core.documents import DocumentSplitter  # noqa: E402
from anomalyd.core.ingest import RecordReader  # noqa: E402

CONFIG = JobConfig(
    "bench",
    detectors=(DetectorConfig(function="mean", field_name="responsetime", by_field_name="airline"),),
    influencers=("airline",),
)


def read_all(reader: RecordReader, messages: list[bytes], path: str) -> float:
    """Seconds to split and read every message with a new splitter taking the given path."""
    fields = () if path == "dict records" else reader.row_fields
    flat = reader.flat_lines if path == "flat columns" else None
    splitter = DocumentSplitter(max_document_bytes=1 << 20, fields=fields, flat=flat)
    began = time.perf_counter()
    for message in messages:
        reader.read_documents(splitter.feed(message))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    reader = RecordReader(CONFIG)
    print(f"{args.records:,} records a shape, 1,000 a message; best of {args.repeat}")
    paths = ("dict records", "typed rows", "flat columns")
    print(f"{'shape':<8}" + "".join(f"{path + ' rec/s':>20}" for path in paths))
    for shape, (airlines, step_ms) in SHAPES.items():
        messages = ndjson_messages(*dataset(args.records, airlines, step_ms), 1_000)
        best = dict.fromkeys(paths, float("inf"))
        for _ in range(args.repeat):
            for path in paths:
                best[path] = min(best[path], read_all(reader, messages, path))
        print(f"{shape:<8}" + "".join(f"{args.records / best[path]:>20,.0f}" for path in paths))


if __name__ == "__main__":
    main()
