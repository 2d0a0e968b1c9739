"""Splitting a byte stream cut at given points: what the splitter tests and its fuzz harness compare."""

from __future__ import annotations

import itertools
from typing import Any

from anomalyd.core.documents import DocumentSplitter
from anomalyd.core.errors import AnomalydError, ChunkTooLarge


def outcome(data: bytes, cuts: list[int], limit: int = 1 << 20) -> tuple[list[dict[str, Any]], int, bool]:
    """Records, malformed documents and whether a document was refused, with data cut at cuts.

    Raises:
        AssertionError: the splitter raised a domain error other than ChunkTooLarge.
    """
    splitter = DocumentSplitter(max_document_bytes=limit)
    records: list[dict[str, Any]] = []
    malformed = 0
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
