"""The influencer scorer: a job's influencer values, their scores and the per-field bucket influencers.

An influencer value is credited with the smallest record probability among the series whose
rows in the bucket carry that value. One normaliser row per influencer field turns those
probabilities into influencer scores; it learns the field's largest raw score of each bucket,
and 0 for a bucket without anomalies, so that a field's first anomaly meets a history.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.detector_scorer import LN_RECORD, Leaf
from anomalyd.engine.memory import KEY_BYTES, MemoryAccount
from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.records import RecordBatch
from anomalyd.engine.results import BucketInfluencer, InfluencerResult
from anomalyd.engine.state import Arrays
from anomalyd.engine.stats import raw_score


class InfluencerScorer:
    """The values seen of each influencer field, and their scoring.

    Args:
        fields: the influencer field names.
        span_ms: the bucket span.
        decay: the normaliser's decay per bucket.

    Example:
        >>> from anomalyd.engine.records import StringColumn
        >>> scorer = InfluencerScorer(("user",), span_ms=60_000, decay=0.999)
        >>> batch = RecordBatch(np.zeros(3, np.int64), strings={"user": StringColumn(np.array([1, -1, 0], np.int32), ("x", "y"))})
        >>> account = MemoryAccount(1 << 20)
        >>> account.open_batch(used=0)
        >>> scorer.ids(batch, account)[:, 0].tolist(), scorer.names
        ([1, -1, 0], [['x', 'y']])
    """

    def __init__(self, fields: tuple[str, ...], *, span_ms: int, decay: float) -> None:
        self.fields = fields
        self.span = span_ms
        self.normaliser = Normaliser(len(fields), decay_per_bucket=decay)
        self.names: list[list[str]] = [[] for _ in fields]
        self._ids: list[dict[str, int]] = [{} for _ in fields]
        self.bytes = 0

    def ids(self, batch: RecordBatch, account: MemoryAccount) -> NDArray[np.int32]:
        """Shape (n, fields): each record's value id per field, -1 where missing or not tracked.

        A value never seen takes its bytes from the account; one that does not fit is not tracked.
        """
        columns = [self._field_ids(k, name, batch, account) for k, name in enumerate(self.fields)]
        return np.stack(columns, axis=1) if columns else np.zeros((len(batch), 0), np.int32)

    def _field_ids(self, k: int, name: str, batch: RecordBatch, account: MemoryAccount) -> NDArray[np.int32]:
        column = batch.strings.get(name)
        if column is None:
            return np.full(len(batch), -1, np.int32)
        known, names = self._ids[k], self.names[k]
        ids = np.empty(len(column.values) + 1, np.int32)
        ids[-1] = -1  # code -1 (missing) indexes this last entry
        for i, value in enumerate(column.values):
            if value not in known:
                cost = len(value) + KEY_BYTES
                if not account.admit(cost):  # over model_memory_limit: the value is not tracked
                    ids[i] = -1
                    continue
                known[value] = len(names)
                names.append(value)
                self.bytes += cost
            ids[i] = known[value]
        return ids[column.codes]

    def of_records(self, rows: Arrays) -> Callable[[int, int], list[tuple[str, list[str]]]]:
        """A lookup of the influencer values of series s of detector d in a bucket's rows, per field.

        Rows are grouped by series once per detector, so a bucket's 500 records cost one sort.
        """
        grouped: dict[int, tuple[NDArray[np.intp], NDArray[np.int32]]] = {}

        def lookup(d: int, s: int) -> list[tuple[str, list[str]]]:
            if not self.fields:
                return []
            if d not in grouped:
                series = rows["series"][:, d]
                order = np.argsort(series, kind="stable")
                grouped[d] = order, series[order]
            order, ordered = grouped[d]
            lo, hi = np.searchsorted(ordered, [s, s + 1])
            mine = order[lo:hi]
            out = []
            for k, name in enumerate(self.fields):
                ids = np.unique(rows["influence"][mine, k])
                values = [self.names[k][v] for v in ids.tolist() if v >= 0]
                if values:
                    out.append((name, values))
            return out

        return lookup

    def score(
        self, b: int, leaves: list[Leaf], series_counts: list[int], rows: Arrays, interim: bool
    ) -> tuple[list[InfluencerResult], list[BucketInfluencer]]:
        """Influencer results and per-field bucket influencers of bucket b; learn unless interim.

        Args:
            b: bucket start, epoch ms.
            leaves: each detector's scored series.
            series_counts: each detector's number of series.
            rows: the bucket's buffer rows.
            interim: whether the bucket is still open.
        """
        results: list[InfluencerResult] = []
        fields: list[BucketInfluencer] = []
        bucket = b // self.span
        for k, name in enumerate(self.fields):
            best: dict[int, float] = {}
            for d, leaf in enumerate(leaves):
                hot = leaf.anomalous()
                if not len(hot):
                    continue
                ln_p_of = np.zeros(series_counts[d])
                ln_p_of[leaf.series[hot]] = leaf.ln_p[hot]
                series = rows["series"][:, d]
                values = rows["influence"][:, k]
                use = (series >= 0) & (values >= 0)
                pair_ln_p = ln_p_of[series[use]]
                hit = pair_ln_p < LN_RECORD
                for v, lp in zip(values[use][hit].tolist(), pair_ln_p[hit].tolist(), strict=True):
                    best[v] = min(best.get(v, 0.0), lp)
            field_row = np.array([k], np.intp)
            if not best:
                if not interim:
                    self.normaliser.update(field_row, field_row, np.zeros(1), bucket=bucket)
                continue
            ids = np.array(list(best))
            ln_p = np.array(list(best.values()))
            raw = raw_score(ln_p)
            row = np.full(len(ids), k, np.intp)
            scores = self.normaliser.normalise(row, row, raw, ln_p, bucket=bucket)
            if not interim:
                self.normaliser.update(field_row, field_row, raw.max(keepdims=True), bucket=bucket)
            for v, lp, sc in zip(ids.tolist(), ln_p.tolist(), scores.tolist(), strict=True):
                results.append(InfluencerResult(b, name, self.names[k][v], sc, sc, math.exp(lp), interim))
            top = int(np.argmax(raw))
            fields.append(
                BucketInfluencer(name, float(scores.max()), float(scores.max()), float(raw[top]), math.exp(ln_p.min()))
            )
        return results, fields

    def load(self, normaliser: Arrays, names: list[list[str]]) -> None:
        """Restore the normaliser's arrays and the values seen (self.names as written)."""
        self.normaliser.load(normaliser)
        self.names = [list(v) for v in names]
        self._ids = [{v: i for i, v in enumerate(values)} for values in self.names]
        self.bytes = sum(len(v) + KEY_BYTES for values in self.names for v in values)
