"""An atheris (libFuzzer) harness for the document splitter; tests/core/test_documents_fuzz.py runs it briefly.

    python tests/core/fuzz_documents.py [CORPUS_DIR ...] [-runs=N] [-max_len=N] [libFuzzer flags]

Each input is a document size limit, cut points and a byte stream. It fails on any exception
but a domain error (AnomalydError), and when the stream cut at those points gives other records,
malformed counts or refusals than the stream in one piece.
"""

from __future__ import annotations

import itertools
import sys

import atheris

with atheris.instrument_imports():
    from anomalyd.core.documents import DocumentSplitter
    from anomalyd.core.errors import AnomalydError, ChunkTooLarge


def outcome(data: bytes, cuts: list[int], limit: int) -> tuple[list[dict], int, bool]:
    """Records, malformed documents and whether a document was refused."""
    splitter = DocumentSplitter(max_document_bytes=limit)
    records, malformed = [], 0
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    try:
        for start, end in itertools.pairwise(bounds):
            documents = splitter.feed(data[start:end])
            records += documents.records
            malformed += documents.malformed
        documents = splitter.finish()
    except ChunkTooLarge:
        return records, malformed, True
    except AnomalydError:
        raise AssertionError("the splitter raises ChunkTooLarge only") from None
    return records + documents.records, malformed + documents.malformed, False


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
