"""How well a NAB threshold transfers, over many random halves of the corpus rather than one.

bench/nab.py --cross-check scores one fixed split (alternate files per category), which is a
single draw: on ../shared/nab a file with many false alarms (cpu_utilization_asg_misconfiguration)
pulls its half's best threshold up, and that one draw's loss moves by several points when a
single window or alarm row crosses the threshold. This module draws many stratified random
halves (each category's files shuffled, then alternated), chooses the best threshold on each half
as the scorer's --threshold-sweep does, applies it to the other half, and reports the mean and
median loss per profile: a figure a score change can be judged by without fitting one split.

The sweep needs every half's raw score at every threshold. Each row's gain when it joins the
detections is the scorer's own rule (see score.py's sweep()): a false alarm adds its weighted
cost, a window row adds the rise of its window's best credit over the rows scoring above it. So
a half's raw score at threshold t is its base (every window missed) plus the gains of its rows
scoring at least t, and a half's whole curve is one sort. check() compares these curves with
score.py's sweep over the whole corpus, so a change to the scorer cannot go unnoticed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def load_scorer(path: Path) -> ModuleType:
    """The NAB scorer (score.py) as a module."""
    spec = importlib.util.spec_from_file_location("nab_scorer", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FileGains:
    """One file's rows as the sweep sees them, for one profile.

    Attributes:
        scores: shape (k,), the anomaly scores of its scorable rows.
        gains: shape (k,), each row's gain in raw score when it joins the detections.
        base: the file's raw score with no detection (every window missed).
        null: the raw score of a detector that never fires.
        perfect: the raw score of a perfect detector.
    """

    scores: np.ndarray
    gains: np.ndarray
    base: float
    null: float
    perfect: float


def file_gains(scorer: ModuleType, scored: Any, scores: np.ndarray, profile: dict[str, float]) -> FileGains:
    """The gains of one file's scorable rows under one profile (score.py's sweep rule)."""
    outside = scored.scorable & (scored.win < 0)
    parts, gains = [scores[outside]], [profile["fp"] * scored.shape[outside]]
    base = 0.0
    for k in scored.counted:
        base -= profile["fn"]
        rows = scored.scorable & (scored.win == k)
        credit = profile["tp"] * scored.shape[rows]
        order = np.argsort(-scores[rows], kind="stable")
        best = np.maximum.accumulate(credit[order])
        gain = np.empty_like(credit)
        gain[order] = best - np.concatenate(([-profile["fn"]], best[:-1]))
        parts.append(scores[rows])
        gains.append(gain)
    null, perfect = scorer.baselines([scored], profile)
    return FileGains(np.concatenate(parts), np.concatenate(gains), base, null, perfect)


def curve(files: Sequence[FileGains]) -> tuple[np.ndarray, np.ndarray]:
    """Every threshold that matters (descending, from 'never') and the NAB score at each."""
    scores = np.concatenate([f.scores for f in files])
    gains = np.concatenate([f.gains for f in files])
    base = sum(f.base for f in files)
    null, perfect = sum(f.null for f in files), sum(f.perfect for f in files)
    order = np.argsort(-scores, kind="stable")
    scores, running = scores[order], base + np.cumsum(gains[order])
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    thresholds = np.concatenate(([np.inf], scores[ends]))
    raw = np.concatenate(([base], running[ends]))
    return thresholds, 100.0 * (raw - null) / (perfect - null)


def best(thresholds: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """The swept threshold of a curve (the highest of equally good ones, as score.py picks) and its score."""
    j = int(np.argmax(values))
    return float(thresholds[j]), float(values[j])


def score_at(thresholds: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """A curve's NAB score at a fixed threshold."""
    return float(values[np.flatnonzero(thresholds >= threshold)[-1]])


def random_halves(categories: Sequence[str], count: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Splits of the files (given by their category) in two, stratified: each category's files shuffled and alternated."""
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        members.setdefault(category, []).append(i)
    splits = []
    for _ in range(count):
        halves: tuple[list[int], list[int]] = ([], [])
        for category in sorted(members):
            shuffled = rng.permutation(members[category]).tolist()
            first = int(rng.integers(2))  # which half takes an odd category's extra file
            for j, i in enumerate(shuffled):
                halves[(j + first) % 2].append(i)
        splits.append(halves)
    return splits


def transfer_losses(gains: Sequence[FileGains], splits: Sequence[tuple[list[int], list[int]]]) -> np.ndarray:
    """Each half's swept score less its score at the other half's threshold, both ways round, for every split."""
    losses = []
    for a, b in splits:
        curves = [curve([gains[i] for i in half]) for half in (a, b)]
        chosen = [best(*c) for c in curves]
        for mine, other in ((0, 1), (1, 0)):
            losses.append(chosen[mine][1] - score_at(*curves[mine], chosen[other][0]))
    return np.array(losses)


def check(scorer: ModuleType, corpus: Sequence[Any], scores: Sequence[np.ndarray], gains: Sequence[FileGains], profile: dict[str, float]) -> None:
    """Fail unless the curves give score.py's own swept threshold and raw score over the whole corpus."""
    threshold, raw = scorer.sweep(list(corpus), list(scores), profile)
    mine, value = best(*curve(gains))
    null, perfect = scorer.baselines(list(corpus), profile)
    if mine != threshold or abs(value - 100.0 * (raw - null) / (perfect - null)) > 1e-9:
        raise SystemExit(f"nab_transfer disagrees with the scorer's sweep: {mine}, {value} against {threshold}, {raw}")


def report(scorer_path: Path, data: Path, windows: Path, results: Path, count: int, seed: int) -> None:
    """Print the mean and median transfer loss per profile over count random stratified splits."""
    scorer = load_scorer(scorer_path)
    corpus = scorer.load_corpus(str(data), str(windows))
    scores = [scorer.load_scores(str(results), f, "", False) for f in corpus]
    splits = random_halves([str(Path(f.rel).parent) for f in corpus], count, seed)
    print(f"transfer over {count} random stratified splits (seed {seed}), loss = swept - transferred, both ways round:")
    for name, profile in scorer.PROFILES.items():
        gains = [file_gains(scorer, f, s, profile) for f, s in zip(corpus, scores, strict=True)]
        check(scorer, corpus, scores, gains, profile)
        losses = transfer_losses(gains, splits)
        print(f"  {name:<20} mean loss {losses.mean():5.2f}  median {np.median(losses):5.2f}  "
              f"90th percentile {np.percentile(losses, 90):5.2f}  within 2 points {np.mean(losses <= 2.0):4.0%}")
