"""An atheris (libFuzzer) harness for the document splitter; tests/core/test_documents_fuzz.py runs it briefly.

    python tests/core/fuzz_documents.py [CORPUS_DIR ...] [-runs=N] [-max_len=N] [libFuzzer flags]

Each input is a document size limit, cut points and a byte stream. It fails on any exception
but a domain error (AnomalydError), and when the stream cut at those points gives other records,
malformed counts or refusals than the stream in one piece.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from splitting import outcome  # beside this file, which python puts first on sys.path


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    limit = provider.ConsumeIntInRange(4, 600)
    cuts = [provider.ConsumeIntInRange(0, 4096) for _ in range(provider.ConsumeIntInRange(0, 8))]
    stream = provider.ConsumeBytes(provider.remaining_bytes())
    whole = outcome(stream, [], limit)
    if outcome(stream, cuts, limit) != whole:
        raise AssertionError(f"cuts {cuts} change what {stream!r} gives")
    if len(stream) <= 256 and outcome(stream, list(range(len(stream))), limit) != whole:
        raise AssertionError(f"one-byte messages change what {stream!r} gives")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
