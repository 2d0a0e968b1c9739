"""The influencer scorer: a job's influencer values, their scores and the per-field bucket influencers.

An influencer value is credited with the smallest record probability among the series whose
rows in the bucket carry that value. One normaliser row per influencer field turns those
probabilities into influencer scores; it learns the field's largest raw score of each bucket,
and 0 for a bucket without anomalies, so that a field's first anomaly meets a history.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import kernel
from anomalyd.engine.detector_scorer import LN_RECORD, Leaf
from anomalyd.engine.memory import KEY_BYTES, MemoryAccount
from anomalyd.engine.normaliser import Normaliser, normalise1, update1
from anomalyd.engine.records import RecordBatch
from anomalyd.engine.results import BucketInfluencer, InfluencerResult
from anomalyd.engine.state import Arrays
from anomalyd.engine.stats import FloatArray, raw_score1


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
        # Per field, the last batch's values and their ids when all have one (see _table).
        self._tables: list[tuple[tuple[str, ...], NDArray[np.int32]] | None] = [None for _ in fields]
        self.bytes = 0

    def ids(self, batch: RecordBatch, account: MemoryAccount) -> NDArray[np.int32]:
        """Shape (n, fields): each record's value id per field, -1 where missing or not tracked.

        A value never seen takes its bytes from the account; one that does not fit is not tracked.
        """
        columns = [self._field_ids(k, name, batch, account) for k, name in enumerate(self.fields)]
        if len(columns) == 1:  # the usual one field: a view, which the buffer copies, not np.stack's copy
            return columns[0][:, None]
        return np.stack(columns, axis=1) if columns else np.zeros((len(batch), 0), np.int32)

    def _field_ids(self, k: int, name: str, batch: RecordBatch, account: MemoryAccount) -> NDArray[np.int32]:
        column = batch.strings.get(name)
        if column is None:
            return np.full(len(batch), -1, np.int32)
        return self._table(k, column.values, account)[column.codes]

    def _table(self, k: int, values: tuple[str, ...], account: MemoryAccount) -> NDArray[np.int32]:
        """The ids of field k's values, -1 where not tracked, and a last entry -1 (code -1, missing) after them.

        Streams repeat their values batch after batch: a table in which every value has an id is
        kept and serves the next batch of the same values, which then costs no dictionary look-up.
        """
        kept = self._tables[k]
        if kept is not None and (kept[0] is values or kept[0] == values):
            return kept[1]
        known, names = self._ids[k], self.names[k]
        ids = np.empty(len(values) + 1, np.int32)
        ids[-1] = -1  # code -1 (missing) indexes this last entry
        for i, value in enumerate(values):
            if value not in known:
                cost = len(value) + KEY_BYTES
                if not account.admit(cost):  # over model_memory_limit: the value is not tracked
                    ids[i] = -1
                    continue
                known[value] = len(names)
                names.append(value)
                self.bytes += cost
            ids[i] = known[value]
        self._tables[k] = (values, ids) if (ids[:-1] >= 0).all() else None
        return ids

    def of_records(self, rows: Arrays, d: int, series: NDArray[np.intp], n_series: int) -> list[list[tuple[str, list[str]]]]:
        """The influencer values of each of detector d's series in a bucket's rows: (field, values) for fields with values.

        Args:
            rows: the bucket's buffer rows.
            d: the detector.
            series: shape (r,), distinct series of the detector (its records').
            n_series: the detector's number of series.
        """
        fields = len(self.fields)
        ptr = np.zeros(len(series) * fields + 1, np.intp)
        values = _values_of_series(rows["series"], d, rows["influence"], np.asarray(series, np.intp), n_series, ptr).tolist()
        bounds = ptr.tolist()
        out = []
        for j in range(len(series)):
            at = j * fields
            out.append([
                (name, [self.names[k][v] for v in values[bounds[at + k]:bounds[at + k + 1]]])
                for k, name in enumerate(self.fields) if bounds[at + k + 1] > bounds[at + k]
            ])
        return out

    def score(
        self, b: int, leaves: list[Leaf], hits: list[NDArray[np.intp]], series_counts: list[int], rows: Arrays, interim: bool
    ) -> tuple[list[InfluencerResult], list[BucketInfluencer]]:
        """Influencer results and per-field bucket influencers of bucket b; learn unless interim.

        Args:
            b: bucket start, epoch ms.
            leaves: each detector's scored series.
            hits: each leaf's hits() rows.
            series_counts: each detector's number of series.
            rows: the bucket's buffer rows.
            interim: whether the bucket is still open.
        """
        results: list[InfluencerResult] = []
        fields: list[BucketInfluencer] = []
        bucket = b // self.span
        norm = self.normaliser
        for k, name in enumerate(self.fields):
            # Each value's least ln p, 0 until credited, and the values in the order first credited.
            best, order, n = np.zeros(len(self.names[k])), np.empty(len(self.names[k]), np.intp), 0
            for d, (leaf, hot) in enumerate(zip(leaves, hits, strict=True)):
                if len(hot):  # (the detectors' leaves give series as intp or int32: one compiled signature)
                    n = _credit(rows["series"], d, rows["influence"], k, np.asarray(leaf.series, np.intp), leaf.ln_p, hot,
                                series_counts[d], best, order, n)
            rated = np.empty((3, n))
            _rate_values(norm.state(), norm.decay, k, best, order[:n], bucket, not interim, rated)
            if not n:
                continue
            ln_ps, raws, field_scores = rated.tolist()
            for v, lp, sc in zip(order[:n].tolist(), ln_ps, field_scores, strict=True):
                results.append(InfluencerResult(b, name, self.names[k][v], sc, sc, math.exp(lp), interim))
            top = max(field_scores)
            fields.append(BucketInfluencer(name, top, top, max(raws), math.exp(min(ln_ps))))
        return results, fields

    def load(self, normaliser: Arrays, names: list[list[str]]) -> None:
        """Restore the normaliser's arrays and the values seen (self.names as written)."""
        self.normaliser.load(normaliser)
        self.names = [list(v) for v in names]
        self._ids = [{v: i for i, v in enumerate(values)} for values in self.names]
        self._tables = [None for _ in self.fields]
        self.bytes = sum(len(v) + KEY_BYTES for values in self.names for v in values)


@kernel
def _values_of_series(
    series: NDArray[np.int32], d: int, influence: NDArray[np.int32], wanted: NDArray[np.intp], n_series: int,
    ptr: NDArray[np.intp],
) -> NDArray[np.int64]:
    """The distinct influencer value ids of the rows of each wanted series of detector d, per field, ascending.

    One pass over the rows, each mapped to its place among wanted through a table, then one sort of
    the (place, field, value) keys: a bucket's 500 records cost no more than one.

    Args:
        series: shape (n, detectors), the rows' series (-1: skipped).
        d: the detector's column.
        influence: shape (n, fields), the rows' value ids (-1: missing).
        wanted: shape (r,), distinct series below n_series.
        n_series: the detector's number of series.
        ptr: shape (r * fields + 1,), zeros, written: wanted[j]'s ids of field k are ids[ptr[j * fields + k]:ptr[j * fields + k + 1]].

    Returns:
        ids (an array: the ptr, whose size the caller knows, is passed in, as each array returned costs its boxing).
    """
    fields = influence.shape[1]
    place = np.full(n_series, -1, np.int64)
    for j in range(len(wanted)):
        place[wanted[j]] = j
    keys = np.empty(len(series) * fields, np.int64)
    n = 0
    for r in range(len(series)):
        s = series[r, d]
        j = place[s] if s >= 0 else -1
        if j < 0:
            continue
        for k in range(fields):
            if influence[r, k] >= 0:
                keys[n] = (j * fields + k) << 32 | influence[r, k]
                n += 1
    keys = np.sort(keys[:n])
    ids = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            ids[m] = keys[i] & 0xFFFFFFFF
            ptr[(keys[i] >> 32) + 1] += 1
            m += 1
    for g in range(1, len(ptr)):
        ptr[g] += ptr[g - 1]
    return ids[:m]


@kernel
def _credit(
    series: NDArray[np.int32], d: int, influence: NDArray[np.int32], k: int, leaf_series: NDArray[np.intp],
    leaf_ln_p: FloatArray, hot: NDArray[np.intp], n_series: int, best: FloatArray, order: NDArray[np.intp], n: int,
) -> int:
    """Credit the values of field k in detector d's rows with the least ln p of the anomalous series behind them.

    Args:
        series: shape (n, detectors), the rows' series (-1: skipped).
        d: the detector's column.
        influence: shape (n, fields), the rows' value ids (-1: missing).
        k: the field's column.
        leaf_series: the detector's Leaf series.
        leaf_ln_p: their ln p.
        hot: the leaf's anomalous rows.
        n_series: the detector's number of series.
        best: each value's least ln p so far, 0 for none (ln p below LN_RECORD is negative), updated.
        order: the values credited, in the order first credited: n of them so far, appended to.
        n: the number in order.

    Returns:
        The number in order now.
    """
    ln_p_of = np.zeros(n_series)
    for h in hot:
        ln_p_of[leaf_series[h]] = leaf_ln_p[h]
    for r in range(len(series)):
        s, v = series[r, d], influence[r, k]
        if s < 0 or v < 0 or not ln_p_of[s] < LN_RECORD:
            continue
        if best[v] == 0.0:
            order[n] = v
            n += 1
        best[v] = min(best[v], ln_p_of[s])
    return n


@kernel
def _rate_values(
    norm: tuple[Any, ...], decay: float, k: int, best: FloatArray, values: NDArray[np.intp], bucket: int, learn: bool,
    out: FloatArray,
) -> None:
    """The ln p, raw and normalised scores of field k's credited values; learns the field's largest raw score (0 without values) if asked.

    Args:
        norm: the influencer Normaliser's state() (a row and group per field).
        decay: its decay per bucket.
        k: the field's row.
        best: each value's least ln p.
        values: the values credited.
        bucket: the bucket index.
        learn: update the normaliser (a final bucket).
        out: shape (3, len(values)), written: the ln p, raw and normalised scores (arrays returned cost their boxing).
    """
    hist, epoch, hmax, hmax_last = norm
    ln_p, raw, scores = out[0], out[1], out[2]
    top = 0.0
    for i in range(len(values)):
        ln_p[i] = best[values[i]]
        raw[i] = raw_score1(ln_p[i])
        scores[i] = normalise1(hist, epoch, hmax, hmax_last, decay, k, k, raw[i], ln_p[i], bucket)
        top = max(top, raw[i])
    if learn:
        update1(hist, epoch, hmax, hmax_last, decay, k, k, top, bucket)
