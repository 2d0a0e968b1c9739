"""The job lifecycle: put, open, stream, flush, close and delete, one state machine per job.

States follow Elasticsearch ML: closed -> opening -> opened -> closing -> closed, and failed
from any of them. A JobManager owns the open jobs of one server; everything it changes is
written through the Repository before the request that changed it returns.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fnmatch
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

from anomalyd import VERSION
from anomalyd.core import config as job_config
from anomalyd.core.config import JobConfig
from anomalyd.core.counts import BucketDiagnostics, DataCounts
from anomalyd.core.errors import (
    AnomalydError,
    DataStreamActive,
    InvalidRequest,
    JobAlreadyOpen,
    JobDeleting,
    JobFailed,
    JobNotFound,
    JobNotOpen,
    JobOpen,
    RestoreFailed,
    StorageUnavailable,
    StreamAborted,
    TaskNotFound,
    Timeout,
    TooManyOpenJobs,
)
from anomalyd.core.ingest import Ingestor, IngestState, ParsedRecords, Upload
from anomalyd.core.repository import (
    CLOSED,
    CLOSING,
    FAILED,
    OPENED,
    OPENING,
    JobStatus,
    JournalEntry,
    Repository,
    SnapshotMeta,
    Task,
    decode_batch,
    encode_batch,
)
from anomalyd.core.retention import DAY_MS, expired
from anomalyd.engine import renormalise
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, RecordBatch
from anomalyd.engine.results import BucketResult, ModelSizeStats
from anomalyd.storage.store import StorageError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30 * 60
MAX_TIMEOUT_S = 24 * 3600
# Elasticsearch's default renormalization_window_days: 30 days or 100 buckets, the longer.
DEFAULT_RENORMALIZATION_DAYS, DEFAULT_RENORMALIZATION_BUCKETS = 30, 100


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class JobStats:
    """A consistent view of one job for GetJobStats."""

    config: JobConfig
    status: JobStatus
    processed_field_count: int
    node: str
    model_size: ModelSizeStats | None


@dataclass(frozen=True, slots=True)
class OpenJobView:
    """An open job as metrics show it.

    Attributes:
        stats: its state, counts and model size.
        streaming: a data stream is active on it.
        restore_s: seconds its last open took to restore the model.
        snapshot_bytes: the size of its active model snapshot (0 without one).
        journal_entries: entries a restart would replay after that snapshot.
    """

    stats: JobStats
    streaming: bool
    restore_s: float
    snapshot_bytes: int
    journal_entries: int


@dataclass(frozen=True, slots=True)
class UploadCounts:
    """The counts of one finished upload."""

    counts: DataCounts
    processed_field_count: int


class OpenJob:
    """The in-memory runtime of an open job: its counts, its analysis and their locks."""

    def __init__(self, config: JobConfig, status: JobStatus, analyzer: JobAnalyzer, restore_s: float) -> None:
        self.config = config
        self.status = status
        self.restore_s = restore_s  # how long restoring its model took when it opened
        self.ingestor = Ingestor(config, status.ingest)
        self.analyzer = analyzer
        self.lock = threading.Lock()  # serialises the processing of this job's data
        self.streaming = False  # guarded by JobManager._lock
        self.forced = False
        self.closed = threading.Event()
        self.last_snapshot_ms = now_ms()


class JobManager:
    """Runs the jobs of one server.

    Args:
        repository: where jobs live.
        max_document_bytes: the largest JSON document a stream may hold.
        max_open_jobs: jobs open at once; opening one more fails with TooManyOpenJobs.
        node: the name this server reports as the node of its open jobs; its stored random id
            when empty.
    """

    def __init__(self, repository: Repository, *, max_document_bytes: int, max_open_jobs: int, node: str = "") -> None:
        self.repository = repository
        self.node = node or repository.node_id
        self._max_document_bytes = max_document_bytes
        self._max_open_jobs = max_open_jobs
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._open: dict[str, OpenJob] = {}
        self._deletes: dict[str, tuple[Task, threading.Event]] = {}

    # --- configuration -------------------------------------------------------------------

    def put_job(self, config: JobConfig) -> JobConfig:
        """Validate and store a new closed job."""
        config = msgspec.structs.replace(
            job_config.validate(config), create_time_ms=now_ms(), job_version=VERSION
        )
        self.repository.create_job(config, JobStatus(CLOSED, IngestState.new(config)))
        return config

    def get_jobs(self, expression: str, allow_no_match: bool) -> list[JobConfig]:
        """The jobs an expression matches, ordered by id."""
        jobs = {c.job_id: c for c in self.repository.jobs()}
        return [jobs[i] for i in self._resolve(expression, allow_no_match, jobs)]

    def get_stats(self, expression: str, allow_no_match: bool) -> list[JobStats]:
        """State and counts of the jobs an expression matches, ordered by id."""
        return [self._stats(c) for c in self.get_jobs(expression, allow_no_match)]

    def _stats(self, config: JobConfig) -> JobStats:
        with self._lock:
            job = self._open.get(config.job_id)
        if job is None:
            status = self.repository.status(config.job_id)
            model_size = status.model_size
        else:
            with job.lock:
                status = _copy(job.status)
                model_size = job.analyzer.model_size_stats()
        counts = status.ingest.totals
        fields = counts.processed_field_count(len(config.analysis_fields()))
        return JobStats(config, status, fields, self.node if job else "", model_size)

    def open_views(self) -> list[OpenJobView]:
        """What an operator watches of every open job: counts, model, stream, snapshot, restore."""
        with self._lock:
            jobs = [(job, job.streaming) for job in self._open.values()]
        views = []
        for job, streaming in jobs:
            stats = self._stats(job.config)
            active = next(
                (s for s in self.repository.snapshots(job.config.job_id) if s.snapshot_id == stats.status.model_snapshot_id),
                None,
            )
            views.append(
                OpenJobView(
                    stats=stats,
                    streaming=streaming,
                    restore_s=job.restore_s,
                    snapshot_bytes=0 if active is None else active.size_bytes,
                    journal_entries=stats.status.journal_sequence - (0 if active is None else active.journal_sequence),
                )
            )
        return views

    def _resolve(self, expression: str, allow_no_match: bool, jobs: dict[str, JobConfig]) -> list[str]:
        tokens = [t.strip() for t in expression.split(",") if t.strip()] or ["_all"]
        matched: set[str] = set()
        for token in tokens:
            wildcard = token in ("_all", "*") or "*" in token
            pattern = "*" if token == "_all" else token
            hits = {
                job_id
                for job_id, c in jobs.items()
                if _matches(pattern, job_id, wildcard) or any(_matches(pattern, g, wildcard) for g in c.groups)
            }
            if not hits and (not wildcard or not allow_no_match):
                raise JobNotFound(
                    f"no job or group matches {token!r}", jobId=token
                )
            matched |= hits
        return sorted(matched)

    # --- open ----------------------------------------------------------------------------

    def open_job(self, job_id: str, timeout_s: float | None = None) -> None:
        """Open a closed job; it restores its state and takes data."""
        _check_timeout(timeout_s)
        with self._lock:
            config = self.repository.job(job_id)
            status = self._current_status(job_id)
            if status.deleting:
                raise JobDeleting(f"job {job_id!r} is being deleted", jobId=job_id)
            if status.state == FAILED:
                raise JobFailed(
                    f"job {job_id!r} failed ({status.failure_reason}); force close it before opening it",
                    jobId=job_id,
                )
            if job_id in self._open or status.state != CLOSED:
                raise JobAlreadyOpen(f"job {job_id!r} is already {status.state}", jobId=job_id, state=status.state)
            if len(self._open) >= self._max_open_jobs:
                raise TooManyOpenJobs(
                    f"{self._max_open_jobs} jobs are open, the server's limit (max_open_jobs); close one before "
                    f"opening job {job_id!r}",
                    jobId=job_id,
                    limit=str(self._max_open_jobs),
                )
            status.state = OPENING
            # As in Elasticsearch, each open starts a new bucket-diagnostics window.
            status.ingest.diagnostics = BucketDiagnostics.for_job(config.bucket_span_ms, config.latency_ms)
            self.repository.save_status(job_id, status)
        self._bounded(lambda: self._start(config, status), timeout_s, f"open job {job_id!r}")

    def _start(self, config: JobConfig, status: JobStatus) -> OpenJob:
        started = time.monotonic()
        try:
            analyzer = self._restore(config, status)
        except RestoreFailed as err:
            status.state, status.failure_reason = FAILED, err.message
            self.repository.save_status(config.job_id, status)
            raise
        job = OpenJob(config, status, analyzer, time.monotonic() - started)
        status.state = OPENED
        status.open_time_ms = now_ms()
        status.reopen_on_start = False
        self.repository.save_status(config.job_id, status)
        with self._lock:
            self._open[config.job_id] = job
        log.info("job %s opened: its model restored in %.2f s", config.job_id, job.restore_s)
        return job

    def _restore(self, config: JobConfig, status: JobStatus) -> JobAnalyzer:
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
        older = sorted(
            (s for s in snapshots.values() if active is None or s.journal_sequence < active.journal_sequence),
            key=lambda s: s.journal_sequence, reverse=True,
        )
        candidates: list[SnapshotMeta | None] = [*([active] if active else []), *older, None]
        problems = []
        for snapshot in candidates:
            try:
                analyzer = self._replay(config.job_id, spec, snapshot, status.journal_sequence)
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

    def _replay(self, job_id: str, spec: AnalysisSpec, snapshot: SnapshotMeta | None, end_sequence: int) -> JobAnalyzer:
        start = 0 if snapshot is None else snapshot.journal_sequence
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

    # --- snapshots -----------------------------------------------------------------------

    def create_snapshot(self, job_id: str, *, description: str, retain: bool) -> SnapshotMeta:
        """Snapshot an open job's model now."""
        job = self._open_job(job_id)
        with job.lock:
            meta = self._snapshot(job, description or "State persisted on request", retain=retain, always=True)
        assert meta is not None  # always snapshots
        return meta

    def persist_due(self, now: int | None = None) -> None:
        """Snapshot every open job whose background_persist_interval has passed."""
        now = now_ms() if now is None else now
        with self._lock:
            jobs = list(self._open.values())
        for job in jobs:
            if now - job.last_snapshot_ms >= job.config.background_persist_interval_s * 1000:
                with job.lock:
                    if not job.forced:
                        self._snapshot(job, "State persisted due to background persist")
                job.last_snapshot_ms = now

    def _snapshot(self, job: OpenJob, description: str, *, retain: bool = False, always: bool = False) -> SnapshotMeta | None:
        """Snapshot a job (its lock held); None when nothing changed since the active snapshot."""
        job_id, status = job.config.job_id, job.status
        snapshots = self.repository.snapshots(job_id)
        active = next((s for s in snapshots if s.snapshot_id == status.model_snapshot_id), None)
        if not always and status.journal_sequence == (0 if active is None else active.journal_sequence):
            return None
        now = now_ms()
        number = now // 1000
        if snapshots:
            number = max(number, int(snapshots[-1].snapshot_id) + 1)
        # Elasticsearch renormalises when it persists quantiles; re-scoring is idempotent, so
        # a snapshot whose timing differs between runs leaves the same scores.
        if changed := self._renormalised(job, []):
            self.repository.rewrite_results(job_id, changed)
        state = job.analyzer.to_state()
        finalized = job.analyzer.last_finalized_end_ms
        meta = SnapshotMeta(
            snapshot_id=str(number),
            timestamp_ms=now,
            description=description,
            journal_sequence=status.journal_sequence,
            ingest=_copy(status).ingest,
            latest_record_time_ms=status.ingest.totals.latest_record_timestamp,
            latest_result_time_ms=None if finalized is None else finalized - job.config.bucket_span_ms,
            model_size=job.analyzer.model_size_stats(),
            size_bytes=len(state),
            checksum=zlib.crc32(state),
            retain=retain,
            min_version=VERSION,
        )
        status.model_snapshot_id = meta.snapshot_id
        # Journal entries before the previous snapshot go: that one stays a complete fallback.
        self.repository.save_snapshot(job_id, meta, state, status, 0 if active is None else active.journal_sequence)
        job.last_snapshot_ms = now
        doomed = expired(
            [*snapshots, meta], active_id=meta.snapshot_id,
            retention_days=job.config.model_snapshot_retention_days,
            daily_after_days=job.config.daily_model_snapshot_retention_after_days,
        )
        if doomed:
            self.repository.delete_snapshots(job_id, doomed)
        if job.config.results_retention_days is not None and finalized is not None:
            # Elasticsearch counts back from the newest bucket's start, so 0 days keeps that bucket.
            newest_ms = finalized - job.config.bucket_span_ms
            self.repository.expire_results(job_id, newest_ms - job.config.results_retention_days * DAY_MS)
        return meta

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
        days = job.config.renormalization_window_days
        window = DAY_MS * days if days is not None else max(
            DAY_MS * DEFAULT_RENORMALIZATION_DAYS, DEFAULT_RENORMALIZATION_BUCKETS * job.config.bucket_span_ms
        )
        start = end - window
        replaced = {r.timestamp_ms for r in fresh}
        stored = [r for r in self.repository.full_results(job.config.job_id, start) if r.timestamp_ms not in replaced]
        in_window = stored + [r for r in fresh if r.timestamp_ms >= start]
        return renormalise.renormalise(job.analyzer.score_normalisers(), in_window)

    def _finalized(self, job: OpenJob, entry: JournalEntry) -> list[BucketResult]:
        """Apply a journal entry; the results it finalises, plus renormalised ones when due.

        Renormalisation is due when a finalised bucket raised a normaliser's maximum by over
        10 %. It is decided here, at a journaled finalisation, and never during replay (apply()),
        whose results were stored, renormalised, with the entry.
        """
        before = job.analyzer.score_normalisers().maxima()
        results = apply(job.analyzer, entry)
        if not results or not renormalise.due(before, job.analyzer.score_normalisers().maxima()):
            return results
        changed = {r.timestamp_ms: r for r in self._renormalised(job, results)}
        return [changed.pop(r.timestamp_ms, r) for r in results] + list(changed.values())

    def status(self, job_id: str) -> JobStatus:
        """A job's current status (a copy)."""
        with self._lock:
            job = self._open.get(job_id)
        if job is None:
            return self.repository.status(job_id)
        with job.lock:
            return _copy(job.status)

    @contextlib.contextmanager
    def transition(self, job_id: str) -> Iterator[JobStatus]:
        """The stored status of a job, with opening, closing and deleting held off meanwhile."""
        with self._lock:
            yield self._current_status(job_id)

    # --- data ----------------------------------------------------------------------------

    def stream(self, job_id: str) -> DataStream:
        """The one data stream of an open job; release() it when the upload ends, however it ends.

        A force close does not cut the transport: the stream's next message, or its end, fails
        with StreamAborted, so that its client learns why.
        """
        with self._lock:
            job = self._open.get(job_id)
            if job is None or job.status.state != OPENED:
                state = self.repository.status(job_id).state if job is None else job.status.state
                raise JobNotOpen(
                    f"job {job_id!r} is {state}; open it before sending data", jobId=job_id, state=state
                )
            if job.streaming:
                raise DataStreamActive(
                    f"another data stream is active on job {job_id!r}; a job takes one stream at a time",
                    jobId=job_id,
                )
            job.streaming = True
        return DataStream(self, job)

    def end_stream(self, job: OpenJob) -> None:
        """Let a job take another data stream."""
        with self._lock:
            job.streaming = False
            self._changed.notify_all()

    def flush(
        self,
        job_id: str,
        *,
        calc_interim: bool = False,
        start_ms: int | None = None,
        end_ms: int | None = None,
        advance_time_ms: int | None = None,
        skip_time_ms: int | None = None,
    ) -> int | None:
        """Process buffered data, then skip, advance and compute interim results, in that order.

        As in Elasticsearch, calc_interim's end needs a start, and a start alone means one
        second from it.

        Returns:
            The end of the last finalised bucket (epoch ms), or None.
        """
        if (start_ms is not None or end_ms is not None) and not calc_interim:
            raise InvalidRequest("start and end can only be used with calc_interim", jobId=job_id)
        if end_ms is not None and start_ms is None:
            raise InvalidRequest("Invalid flush parameters: 'start' has not been specified", jobId=job_id)
        if start_ms is not None and end_ms is None:
            end_ms = start_ms + 1000  # Elasticsearch's TimeRange: one second from start
        if start_ms is not None and end_ms is not None and end_ms < start_ms:
            raise InvalidRequest("end must not be before start", jobId=job_id)
        if advance_time_ms is not None and skip_time_ms is not None and advance_time_ms <= skip_time_ms:
            raise InvalidRequest("advance_time must be later than skip_time", jobId=job_id)
        job = self._open_job(job_id)
        with job.lock:
            entry = JournalEntry()
            if skip_time_ms is not None:
                job.ingestor.skip(skip_time_ms)
                entry.skip_ms = skip_time_ms
            if advance_time_ms is not None:
                job.ingestor.advance(advance_time_ms)
            entry.finalize_ms = self._finalize_point(job)
            results = self._finalized(job, entry)
            if calc_interim:
                results += job.analyzer.interim(start_ms, end_ms)
            # A flush acknowledges its results: they must outlive the machine, not only the process.
            self.repository.commit(job_id, job.status, entry if entry != JournalEntry() else None, results, durable=True)
            return job.status.ingest.finalized_end_ms

    @staticmethod
    def _finalize_point(job: OpenJob) -> int | None:
        """The end to finalise the analysis to, when the ingestor has finalised past it."""
        end = job.status.ingest.finalized_end_ms
        done = job.analyzer.last_finalized_end_ms
        return end if end is not None and (done is None or end > done) else None

    def _open_job(self, job_id: str) -> OpenJob:
        with self._lock:
            job = self._open.get(job_id)
            if job is None or job.status.state not in (OPENED, CLOSING):
                state = self.repository.status(job_id).state if job is None else job.status.state
                raise JobNotOpen(f"job {job_id!r} is {state}; open it first", jobId=job_id, state=state)
            return job

    # --- close ---------------------------------------------------------------------------

    def close(self, expression: str, *, allow_no_match: bool, force: bool, timeout_s: float | None) -> list[str]:
        """Close the jobs an expression matches; returns their ids."""
        _check_timeout(timeout_s)
        jobs = {c.job_id: c for c in self.repository.jobs()}
        ids = self._resolve(expression, allow_no_match, jobs)
        with self._lock:
            statuses = {i: self._current_status(i) for i in ids}
            failed = sorted(i for i, s in statuses.items() if s.state == FAILED)
            if failed and not force:
                raise JobFailed(
                    f"job {failed[0]!r} failed; use force close", jobId=failed[0]
                )
            closing = [i for i in ids if statuses[i].state != CLOSED]

        def close_all() -> None:
            for job_id in closing:
                self._close(job_id, force=force)

        self._bounded(close_all, timeout_s, f"close {expression!r}")
        return ids

    def _current_status(self, job_id: str) -> JobStatus:
        job = self._open.get(job_id)
        return job.status if job is not None else self.repository.status(job_id)

    def _close(self, job_id: str, *, force: bool, reopen_on_start: bool = False) -> None:
        with self._lock:
            job = self._open.get(job_id)
            if job is None:
                status = self.repository.status(job_id)
                if status.state != CLOSED:  # failed, or a transition a crash interrupted
                    status.state, status.open_time_ms = CLOSED, None
                    self.repository.save_status(job_id, status)
                return
            if force:
                job.forced = True
            elif job.status.state == CLOSING:
                closing = True
            else:
                closing = False
                job.status.state = CLOSING
                self.repository.save_status(job_id, job.status)
            if not force:
                while job.streaming and not job.forced:
                    self._changed.wait()
        if not force and closing:
            job.closed.wait()
            return
        with job.lock:
            job.status.state = CLOSED
            job.status.open_time_ms = None
            job.status.reopen_on_start = reopen_on_start
            job.status.model_size = job.analyzer.model_size_stats()
            if force or not self._snapshot(job, f"State persisted due to job close at {_iso(now_ms())}"):
                self.repository.save_status(job_id, job.status)
        with self._lock:
            if self._open.get(job_id) is job:
                del self._open[job_id]
            job.closed.set()
        log.info("job %s closed%s", job_id, " by force" if force else "")

    def fail(self, job: OpenJob, reason: str) -> None:
        """Put a job in the failed state after an unexpected error; force close it to recover.

        The job's memory may be ahead of its store after the error, so it takes the stored
        status back; it stays in memory as failed, so that its state shows right even when the
        store cannot record it. A forced close, or a restart, continues from the store.
        """
        with self._lock:
            job.forced = True
            job.closed.set()
            job.status = self._record_failure(job.config.job_id, reason)

    def _record_failure(self, job_id: str, reason: str) -> JobStatus:
        """The stored status of a job, put in the failed state; saved if the store takes it."""
        log.error("job %s failed: %s", job_id, reason)
        stored = self.repository.status(job_id)
        stored.state, stored.failure_reason = FAILED, reason
        try:
            self.repository.save_status(job_id, stored)
        except StorageError:
            log.exception("cannot record that job %s failed", job_id)
        return stored

    # --- delete --------------------------------------------------------------------------

    def delete(self, job_id: str, *, force: bool, wait_for_completion: bool) -> str | None:
        """Delete a job; returns a task id when not waiting."""
        with self._lock:
            self.repository.job(job_id)
            running = self._deletes.get(job_id)
            if running is None:
                status = self._current_status(job_id)
                if status.state != CLOSED and not force:
                    raise JobOpen(
                        f"job {job_id!r} is {status.state}; close it first or delete it with force",
                        jobId=job_id,
                        state=status.state,
                    )
                running = self._start_delete(job_id)
        task, done = running
        if not wait_for_completion:
            return task.task_id
        done.wait()
        finished = self.repository.task(task.task_id)
        if finished is not None and finished.error_code:
            raise AnomalydError(finished.error_message)
        return None

    def _start_delete(self, job_id: str, task: Task | None = None) -> tuple[Task, threading.Event]:
        status = self._current_status(job_id)
        status.deleting = True
        self.repository.save_status(job_id, status)
        task = task or self.repository.new_task("delete_job", job_id, now_ms())
        done = threading.Event()
        self._deletes[job_id] = (task, done)
        threading.Thread(target=self._run_delete, args=(job_id, task, done), name=f"delete-{job_id}", daemon=True).start()
        return task, done

    def _run_delete(self, job_id: str, task: Task, done: threading.Event) -> None:
        try:
            self._close(job_id, force=True)
            self.repository.delete_job(job_id)
            log.info("job %s deleted", job_id)
        except Exception as err:  # reported through the task; the delete resumes on restart
            log.exception("deleting job %s failed", job_id)
            task.error_code, task.error_reason, task.error_message = "INTERNAL", "INTERNAL", f"deleting job {job_id!r} failed: {err}"
        task.done, task.end_time_ms = True, now_ms()
        self.repository.save_task(task)
        with self._lock:
            del self._deletes[job_id]
        done.set()

    def get_task(self, task_id: str) -> Task:
        """A task; TaskNotFound if there is none."""
        task = self.repository.task(task_id)
        if task is None:
            raise TaskNotFound(f"no task with id {task_id!r}", taskId=task_id)
        return task

    # --- server lifecycle ----------------------------------------------------------------

    def recover(self) -> None:
        """Bring jobs back to their state before the server last stopped or crashed."""
        pending = {t.job_id: t for t in self.repository.tasks() if not t.done}
        for config in self.repository.jobs():
            try:
                self._recover(config, pending.get(config.job_id))
            except Exception as err:  # one damaged job must not keep the others from serving
                log.exception("job %s cannot be recovered", config.job_id)
                with self._lock:
                    self._open.pop(config.job_id, None)
                    self._record_failure(config.job_id, f"it could not be reopened when the server started: {err}")

    def _recover(self, config: JobConfig, delete_task: Task | None) -> None:
        status = self.repository.status(config.job_id)
        if status.deleting:
            with self._lock:
                self._start_delete(config.job_id, delete_task)
        elif status.state in (OPENING, OPENED, CLOSING) or status.reopen_on_start:
            log.info("reopening job %s (it was %s)", config.job_id, status.state)
            finish_close = status.state == CLOSING
            self._start(config, status)
            if finish_close:
                self._close(config.job_id, force=False)

    def shutdown(self) -> None:
        """Close every open job gracefully, marking it to reopen at the next start."""
        with self._lock:
            ids = [job_id for job_id, job in self._open.items() if job.status.state != FAILED]
        for job_id in ids:
            self._close(job_id, force=False, reopen_on_start=True)

    @staticmethod
    def _bounded(work: Callable[[], object], timeout_s: float | None, what: str) -> None:
        """Run work, failing with Timeout (while it goes on) if it takes over timeout_s."""
        errors: list[BaseException] = []

        def run() -> None:
            try:
                work()
            except BaseException as err:  # handed to the waiting request
                errors.append(err)

        # The request's context goes along, so the worker's log lines carry its method and job.
        worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), name=what, daemon=True)
        worker.start()
        worker.join(DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s)
        if worker.is_alive():
            raise Timeout(f"{what} did not finish within {timeout_s}s; it goes on in the background")
        if errors:
            raise errors[0]


class DataStream:
    """One PostData stream into an open job."""

    def __init__(self, manager: JobManager, job: OpenJob) -> None:
        self._manager = manager
        self._job = job
        self._upload: Upload = job.ingestor.begin_upload(max_document_bytes=manager._max_document_bytes)
        self._reset_range: tuple[int, int] | None = None

    @property
    def counts(self) -> DataCounts:
        """The counts of this upload so far."""
        return self._upload.counts

    def release(self) -> None:
        """End the stream, whether it finished or failed; the job takes another one."""
        self._manager.end_stream(self._job)

    def reset(self, start_ms: int, end_ms: int | None) -> None:
        """Reset the buckets in [floor(start), ceil(end)) so that their data can be resent."""
        end_ms = start_ms + 1000 if end_ms is None else end_ms
        job = self._job
        if end_ms < start_ms:
            raise InvalidRequest("reset_end must not be before reset_start", jobId=job.config.job_id)
        span = job.config.bucket_span_ms
        self._reset_range = (start_ms // span * span, -(-end_ms // span) * span)
        with job.lock:
            self._check_not_forced()
            entry = JournalEntry(reset=self._reset_range)
            apply(job.analyzer, entry)
            self._manager.repository.commit(job.config.job_id, job.status, entry, [])

    def post_json(self, chunk: bytes) -> None:
        """Take a chunk of JSON documents."""
        documents = self._upload.documents(chunk)
        self._accept(self._upload.reader.read(documents.records), len(chunk))

    def post_columns(self, batch: RecordBatch, invalid_time: NDArray[np.bool_], input_bytes: int) -> None:
        """Take a columnar batch."""
        self._accept(self._upload.reader.from_columns(batch, invalid_time), input_bytes)

    def finish(self) -> UploadCounts:
        """End the upload: take what is left, count its buckets, make it durable."""
        self._accept(self._upload.reader.read(self._upload.remaining_documents().records), 0)
        job = self._job
        with job.lock:
            self._check_not_forced()
            job.ingestor.end_upload(self._upload.counts)
            job.status.ingest.totals.log_time = self._upload.counts.log_time = now_ms()
            self._manager.repository.save_status(job.config.job_id, job.status, durable=True)
        counts = self._upload.counts
        return UploadCounts(counts, job.ingestor.processed_field_count(counts))

    def _accept(self, parsed: ParsedRecords, input_bytes: int) -> None:
        job = self._job
        with job.lock:
            self._check_not_forced()
            try:
                kept = job.ingestor.accept(parsed, self._upload.counts, input_bytes=input_bytes, reset_range=self._reset_range)
                entry = JournalEntry(batch=encode_batch(kept) if len(kept) else None)
                if len(kept):
                    job.analyzer.add(kept)
                entry.finalize_ms = self._manager._finalize_point(job)
                # The batch is in the analyzer already: only the finalisation is left to apply.
                results = self._manager._finalized(job, JournalEntry(finalize_ms=entry.finalize_ms))
                self._manager.repository.commit(job.config.job_id, job.status, entry if entry != JournalEntry() else None, results)
            except StorageError as err:
                self._manager.fail(job, f"storing data failed: {err}")
                raise StorageUnavailable(
                    f"job {job.config.job_id!r} could not store its data ({err}); nothing of this message "
                    "was kept. Free disk space, then force close and reopen the job",
                    jobId=job.config.job_id,
                ) from err
            except Exception as err:
                self._manager.fail(job, f"processing data failed: {err!r}")
                raise

    def _check_not_forced(self) -> None:
        if self._job.forced:
            raise StreamAborted(
                f"job {self._job.config.job_id!r} was closed by force or failed while this stream was active",
                jobId=self._job.config.job_id,
            )


def apply(analyzer: JobAnalyzer, entry: JournalEntry) -> list[BucketResult]:
    """Apply a journal entry to an analyzer; the results of the buckets it finalises."""
    if entry.reset is not None:
        analyzer.reset_buckets(*entry.reset)
    if entry.batch is not None:
        analyzer.add(decode_batch(entry.batch))
    if entry.skip_ms is not None:
        analyzer.skip_to(entry.skip_ms)
    return [] if entry.finalize_ms is None else analyzer.finalize_until(entry.finalize_ms)


def _check_timeout(timeout_s: float | None) -> None:
    if timeout_s is not None and not 0 <= timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRequest(
            f"timeout must be from 0 to {MAX_TIMEOUT_S}s (a day), not {timeout_s:g}s", timeoutSeconds=f"{timeout_s:g}"
        )


def _matches(pattern: str, name: str, wildcard: bool) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if wildcard else name == pattern


_STATUS_CODEC = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(JobStatus))


def _copy(status: JobStatus) -> JobStatus:
    encoder, decoder = _STATUS_CODEC
    return decoder.decode(encoder.encode(status))
