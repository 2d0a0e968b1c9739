"""What makes an open job outlive its process: the journal, snapshots, retention, restore.

Every change to a job's model is a JournalEntry applied by apply(), live and on replay alike;
a snapshot is the model's state after a journal sequence number, and a restore is the newest
usable snapshot followed by the journal after it.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib

from anomalyd import VERSION
from anomalyd.bucket_time import DAY_MS, now_ms
from anomalyd.core.batch_codec import decode_batch
from anomalyd.core.config import JobConfig
from anomalyd.core.domain import EMPTY_SNAPSHOT_ID, JobStatus, JournalEntry, SnapshotMeta, copy_status
from anomalyd.core.errors import RestoreFailed
from anomalyd.core.open_job import OpenJob
from anomalyd.core.repository import Repository
from anomalyd.core.retention import expired
from anomalyd.engine import renormalise
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec
from anomalyd.engine.results import BucketResult

log = logging.getLogger(__name__)

# Elasticsearch's default renormalization_window_days: 30 days or 100 buckets, the longer.
DEFAULT_RENORMALIZATION_DAYS, DEFAULT_RENORMALIZATION_BUCKETS = 30, 100


def apply(analyzer: JobAnalyzer, entry: JournalEntry) -> list[BucketResult]:
    """Apply a journal entry to an analyzer; the results of the buckets it finalises."""
    if entry.reset is not None:
        analyzer.reset_buckets(*entry.reset)
    if entry.batch is not None:
        analyzer.add(decode_batch(entry.batch))
    if entry.skip_ms is not None:
        analyzer.skip_to(entry.skip_ms)
    return [] if entry.finalize_ms is None else analyzer.finalize_until(entry.finalize_ms)


def close_description() -> str:
    """The description of the snapshot a close takes, as Elasticsearch words it."""
    when = dt.datetime.fromtimestamp(now_ms() / 1000, dt.UTC).isoformat(timespec="seconds")
    return f"State persisted due to job close at {when}"


class Persistence:
    """Journals, snapshots and restores the jobs of a Repository."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    # --- the journal ---------------------------------------------------------------------

    def apply(self, job: OpenJob, entry: JournalEntry) -> list[BucketResult]:
        """Apply a journal entry to a job (its lock held); the results it finalises, plus renormalised ones when due.

        Renormalisation is due when a finalised bucket raised a normaliser's maximum by over
        10 %. It is decided here, live, and never during replay, whose results were stored,
        renormalised, with the entry.
        """
        if entry.finalize_ms is None:  # no bucket is finalised: no result, nothing to renormalise
            apply(job.analyzer, entry)
            return []
        before = job.analyzer.score_normalisers().maxima()
        results = apply(job.analyzer, entry)
        if results:
            for result, took_ms in zip(results, job.analyzer.last_processing_ms, strict=True):
                job.status.timing.add(took_ms, result.timestamp_ms + result.bucket_span_s * 1000)
        if not results or not renormalise.due(before, job.analyzer.score_normalisers().maxima()):
            return results
        changed = {r.timestamp_ms: r for r in self._renormalised(job, results)}
        job.renormalised_pending = True
        return [changed.pop(r.timestamp_ms, r) for r in results] + list(changed.values())

    def commit(self, job: OpenJob, entry: JournalEntry, results: list[BucketResult], *, durable: bool = False) -> None:
        """Journal an applied entry (unless empty) with its results and the job's status, atomically.

        While the job holds its journal back, an entry that stores and replaces no result waits
        for the job's next write instead (Repository.hold).
        """
        journaled = None if entry == JournalEntry() else entry
        pending, job.renormalised_pending = job.renormalised_pending, False
        if job.holding_journal and journaled is not None and not results and not job.status.interim_ms and not durable:
            self.repository.hold(job.config.job_id, job.status, journaled)
        else:
            self.repository.commit(job.config.job_id, job.status, journaled, results, durable=durable)
        job.rescorable.add(results)
        if (end := job.analyzer.last_finalized_end_ms) is not None:
            job.rescorable.drop_before(end - renormalization_window_ms(job.config))
        if pending:
            job.renormalised_at = self._renormalisation_point(job)

    # --- restore -------------------------------------------------------------------------

    def restore(self, config: JobConfig, status: JobStatus) -> JobAnalyzer:
        """The analyzer as it was: a snapshot, then the journal entries after it.

        The active snapshot is tried first; if its state is damaged, an older snapshot whose
        journal is still complete, then the journal from the start. The job's results are the
        same either way; status.restore_note says what happened.

        Raises:
            RestoreFailed: no snapshot and journal together restore the job.
        """
        spec = config.analysis_spec()
        snapshots = {s.snapshot_id: s for s in self.repository.snapshots(config.job_id)}
        active = snapshots.get(status.model_snapshot_id)
        # After a revert to the empty model, no older snapshot continues the journal.
        older = [] if status.model_snapshot_id == EMPTY_SNAPSHOT_ID else sorted(
            (s for s in snapshots.values() if active is None or s.journal_sequence < active.journal_sequence),
            key=lambda s: s.journal_sequence, reverse=True,
        )
        candidates: list[SnapshotMeta | None] = [*([active] if active else []), *older, None]
        problems = []
        for snapshot in candidates:
            try:
                analyzer = self.replay(config.job_id, spec, snapshot, status.journal_sequence, status.journal_start)
            except Exception as err:  # a damaged snapshot or journal: try the next one
                name = "the empty model" if snapshot is None else f"snapshot {snapshot.snapshot_id}"
                problems.append(f"{name}: {err}")
                log.warning("job %s: cannot restore from %s: %s", config.job_id, name, err)
                continue
            status.restore_note = "; ".join(problems)
            return analyzer
        raise RestoreFailed(
            f"job {config.job_id!r} cannot be restored: {'; '.join(problems)}", jobId=config.job_id
        )

    def replay(
        self, job_id: str, spec: AnalysisSpec, snapshot: SnapshotMeta | None, end_sequence: int, empty_start: int = 0
    ) -> JobAnalyzer:
        """A snapshot's model (the empty one for None) with the journal after it, up to end_sequence, applied.

        The empty model's journal starts at empty_start (JobStatus.journal_start).
        """
        start = empty_start if snapshot is None else snapshot.journal_sequence
        entries = self.repository.journal(job_id, start)
        numbers = [n for n, _ in entries]
        if numbers != list(range(start, end_sequence)):
            raise ValueError(f"journal entries {start}..{end_sequence - 1} are not all present")
        if snapshot is None:
            analyzer = JobAnalyzer(spec)
        else:
            state = self.repository.snapshot_state(job_id, snapshot.snapshot_id)
            if state is None or zlib.crc32(state) != snapshot.checksum:
                raise ValueError("its stored state is missing or fails its checksum")
            analyzer = JobAnalyzer.from_state(spec, state)
        for _, entry in entries:
            apply(analyzer, entry)
        return analyzer

    # --- snapshots and retention --------------------------------------------------------

    def snapshot(self, job: OpenJob, description: str, *, retain: bool = False, always: bool = False) -> SnapshotMeta | None:
        """Snapshot a job (its lock held), then apply retention; None when nothing changed since the active snapshot."""
        job_id, status = job.config.job_id, job.status
        snapshots = self.repository.snapshots(job_id)
        active = next((s for s in snapshots if s.snapshot_id == status.model_snapshot_id), None)
        if not always and status.journal_sequence == (status.journal_start if active is None else active.journal_sequence):
            return None
        # Elasticsearch renormalises when it persists quantiles; re-scoring is idempotent, so
        # a snapshot whose timing differs between runs leaves the same scores, and one right
        # after a renormalisation, with no entry and no change of window since, is skipped.
        point = self._renormalisation_point(job)
        if point != job.renormalised_at:
            if changed := self._renormalised(job, []):
                self.repository.rewrite_results(job_id, changed)
            job.renormalised_at = point
        state = job.analyzer.to_state()
        meta = _describe(job, state, snapshots, description, retain)
        status.model_snapshot_id = meta.snapshot_id
        # Journal entries before the previous snapshot go: that one stays a complete fallback.
        self.repository.save_snapshot(job_id, meta, state, status, 0 if active is None else active.journal_sequence)
        job.last_snapshot_ms = meta.timestamp_ms
        self._apply_retention(job, [*snapshots, meta], meta.snapshot_id)
        return meta

    def _apply_retention(self, job: OpenJob, snapshots: list[SnapshotMeta], active_id: str) -> None:
        """Delete the snapshots and results the job's retention settings let go."""
        config = job.config
        doomed = expired(
            snapshots, active_id=active_id,
            retention_days=config.model_snapshot_retention_days,
            daily_after_days=config.daily_model_snapshot_retention_after_days,
        )
        if doomed:
            self.repository.delete_snapshots(config.job_id, doomed)
        finalized = job.analyzer.last_finalized_end_ms
        if config.results_retention_days is not None and finalized is not None:
            # Elasticsearch counts back from the newest bucket's start, so 0 days keeps that bucket.
            newest_ms = finalized - config.bucket_span_ms
            self.repository.expire_results(config.job_id, newest_ms - config.results_retention_days * DAY_MS)

    @staticmethod
    def _renormalisation_point(job: OpenJob) -> tuple[int, int | None, int]:
        """What a renormalisation's outcome depends on besides the normalisers' state and stored results.

        The journal sequence stands for both: each entry that finalises buckets (and so moves
        the normalisers or stores results) is journaled; with it, the window's end and length.
        """
        return job.status.journal_sequence, job.analyzer.last_finalized_end_ms, renormalization_window_ms(job.config)

    def _renormalised(self, job: OpenJob, fresh: list[BucketResult]) -> list[BucketResult]:
        """The results of the renormalisation window whose scores change with the current normalisers.

        Args:
            job: the job (its lock held).
            fresh: results finalised but not yet stored; they replace stored ones of their buckets.

        Returns:
            Re-scored copies of the stored and fresh results that change.
        """
        end = job.analyzer.last_finalized_end_ms
        if end is None:
            return []
        start = end - renormalization_window_ms(job.config)
        replaced = {r.timestamp_ms for r in fresh}
        stored = [r for r in self._rescorable_stored(job, start) if r.timestamp_ms not in replaced]
        in_window = stored + [r for r in fresh if r.timestamp_ms >= start]
        return renormalise.renormalise(job.analyzer.score_normalisers(), in_window)

    def _rescorable_stored(self, job: OpenJob, start_ms: int) -> list[BucketResult]:
        """The job's stored results from start_ms on that renormalisation may change, oldest first.

        The first call after the job opens (or after the window grew) reads the whole window;
        later ones read the buckets job.rescorable names.
        """
        job_id = job.config.job_id
        times = job.rescorable.since(start_ms)
        if times is None:
            found = [r for r in self.repository.full_results(job_id, start_ms) if renormalise.rescorable(r)]
            job.rescorable.reset(start_ms, (r.timestamp_ms for r in found))
            return found
        return [r for r in self.repository.results_at(job_id, times) if renormalise.rescorable(r)]


def renormalization_window_ms(config: JobConfig) -> int:
    """How far back from the last finalised bucket renormalisation re-scores results (ms)."""
    days = config.renormalization_window_days
    if days is not None:
        return days * DAY_MS
    return max(DEFAULT_RENORMALIZATION_DAYS * DAY_MS, DEFAULT_RENORMALIZATION_BUCKETS * config.bucket_span_ms)


def _describe(job: OpenJob, state: bytes, snapshots: list[SnapshotMeta], description: str, retain: bool) -> SnapshotMeta:
    """A new snapshot of state; its id is the epoch second now, after every existing one of the job."""
    now = now_ms()
    number = now // 1000
    if snapshots:
        number = max(number, int(snapshots[-1].snapshot_id) + 1)
    finalized = job.analyzer.last_finalized_end_ms
    return SnapshotMeta(
        snapshot_id=str(number),
        timestamp_ms=now,
        description=description,
        journal_sequence=job.status.journal_sequence,
        ingest=copy_status(job.status).ingest,
        latest_record_time_ms=job.status.ingest.totals.latest_record_timestamp,
        latest_result_time_ms=None if finalized is None else finalized - job.config.bucket_span_ms,
        model_size=job.analyzer.model_size_stats(),
        size_bytes=len(state),
        checksum=zlib.crc32(state),
        retain=retain,
        min_version=VERSION,
    )
