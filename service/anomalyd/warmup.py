"""Compile every kernel, or load it from the cache, before the first request needs it.

    python -m anomalyd.warmup

`make` and the container image run this once after installing, so that the cache is filled; a
server runs it when it starts, before it restores jobs, where loading the cached kernels takes
well under a second. Each layer warms its own kernels: the engine its models, the domain its
flat-line reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from anomalyd.core import flat_lines
from anomalyd.engine import warmup as engine

_PARTS: tuple[tuple[str, Callable[[], float]], ...] = (
    ("engine kernels", engine.warm_up),
    ("flat-line reader", flat_lines.warm_up),
)


def warm_up() -> Iterator[tuple[str, float]]:
    """Warm each part in turn.

    Yields:
        The part's name and the seconds it took.
    """
    for name, warm in _PARTS:
        yield name, warm()


if __name__ == "__main__":
    for part, seconds in warm_up():
        print(f"{part} ready in {seconds:.1f} s")
