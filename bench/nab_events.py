r"""Which rows of a NAB run score in a band, and whose windows or false alarms they are.

    python bench/nab_events.py --data ../shared/nab/data --windows ../shared/nab/windows.json \\
        --results /tmp/nab-out --low 0.69 --high 0.73 [--baseline /tmp/nab-before]

A threshold that transfers badly between bench/nab.py --cross-check's halves sits where a few
rows decide it: one half's weakest window hits against the other's strongest false alarms. This
prints, per file with a scorable row scoring in [--low, --high), its half (A or B, as the
cross-check splits), the best score of each labelled window, and each such row as
row:score and W<k> (in window k) or FP(<cost>) (a false alarm and its weight in the scorer's
penalty, -1 far from any window). With --baseline it prints instead, for every file, each
window's best score and the false-alarm rows at or above --low before and now.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from nab import halves
from nab_transfer import load_scorer


def window_bests(scored: Any, scores: np.ndarray) -> list[float]:
    """The best scorable score of each counted window of a file."""
    return [float(scores[scored.scorable & (scored.win == k)].max()) for k in scored.counted]


def band_rows(scored: Any, scores: np.ndarray, low: float, high: float) -> list[str]:
    """The scorable rows scoring in [low, high), each as row:score and its window or false-alarm cost."""
    rows = np.flatnonzero(scored.scorable & (scores >= low) & (scores < high))
    return [
        f"{i}:{scores[i]:.3f}" + (f"W{scored.win[i]}" if scored.win[i] >= 0 else f"FP({scored.shape[i]:+.2f})")
        for i in rows.tolist()
    ]


def false_alarms(scored: Any, scores: np.ndarray, low: float) -> int:
    """The scorable rows outside every window scoring at least low."""
    return int((scored.scorable & (scored.win < 0) & (scores >= low)).sum())


def report(scorer: ModuleType, corpus: list[Any], half: dict[str, str], args: argparse.Namespace) -> None:
    """Print the band's rows per file, or with a baseline each file's windows and false alarms before and now."""
    for scored in corpus:
        now = scorer.load_scores(str(args.results), scored, "")
        if args.baseline is not None:
            before = scorer.load_scores(str(args.baseline), scored, "")
            windows = " ".join(
                f"W{k}:{a:.2f}->{b:.2f}"
                for k, a, b in zip(scored.counted, window_bests(scored, before), window_bests(scored, now), strict=True)
            )
            alarms = f"{false_alarms(scored, before, args.low):3d}->{false_alarms(scored, now, args.low):3d}"
            print(f"[{half[scored.rel]}] {scored.rel:60s} fp {alarms}  {windows}")
            continue
        rows = band_rows(scored, now, args.low, args.high)
        if rows:
            windows = " ".join(f"W{k}={best:.3f}" for k, best in zip(scored.counted, window_bests(scored, now), strict=True))
            print(f"[{half[scored.rel]}] {scored.rel}  {windows}\n    " + " ".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--windows", required=True, type=Path)
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--low", type=float, required=True, help="the band's lowest score")
    parser.add_argument("--high", type=float, default=1.01, help="the score above the band (default: none)")
    parser.add_argument("--baseline", type=Path, help="another run's results to compare with")
    parser.add_argument("--scorer", type=Path, help="the NAB scorer (default: score.py beside --windows)")
    args = parser.parse_args()
    scorer = load_scorer(args.scorer or args.windows.parent / "score.py")
    corpus = scorer.load_corpus(str(args.data), str(args.windows))
    parts = halves(sorted(args.data.rglob("*.csv")), args.data)
    half = {str(p.relative_to(args.data)): name for name, part in zip("AB", parts, strict=True) for p in part}
    report(scorer, corpus, half, args)


if __name__ == "__main__":
    main()
