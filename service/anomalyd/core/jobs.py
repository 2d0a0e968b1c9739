"""The job state machine: put, open, stream, flush, close and delete, one JobState per job.

States follow Elasticsearch ML: closed -> opening -> opened -> closing -> closed, and failed
from any of them. A JobManager owns the open jobs of one server (open_job.py); everything it
changes is written through the Repository before the request that changed it returns. Its
parts: the data stream (data_stream.py), the journal, snapshots and restore (persistence.py)
and delete and reset tasks (job_tasks.py); UpdateJob and ResetJob are in updates.py.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgspec

from anomalyd import VERSION
from anomalyd.bucket_time import now_ms
from anomalyd.core import config as job_config
from anomalyd.core.config import JobConfig
from anomalyd.core.counts import BucketDiagnostics
from anomalyd.core.data_stream import DataStream
from anomalyd.core.domain import JobState, JobStatus, JournalEntry, SnapshotMeta, Task, copy_status
from anomalyd.core.errors import (
    DataStreamActive,
    InvalidRequest,
    JobAlreadyOpen,
    JobDeleting,
    JobFailed,
    JobNotFound,
    JobNotOpen,
    JobOpen,
    JobResetting,
    RestoreFailed,
    Timeout,
    TooManyOpenJobs,
)
from anomalyd.core.ingest import IngestState
from anomalyd.core.job_tasks import DELETE, RESET, JobTasks
from anomalyd.core.open_job import OpenJob
from anomalyd.core.persistence import Persistence, close_description
from anomalyd.core.repository import Repository
from anomalyd.engine.results import ModelSizeStats
from anomalyd.storage.store import StorageError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30 * 60
MAX_TIMEOUT_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """This server as Elasticsearch describes the node of a job."""

    id: str
    name: str
    ephemeral_id: str
    transport_address: str
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class JobStats:
    """A consistent view of one job for GetJobStats; node_info is None unless it is open here."""

    config: JobConfig
    status: JobStatus
    processed_field_count: int
    node: str
    model_size: ModelSizeStats | None
    node_info: NodeInfo | None = None


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
        # Elasticsearch's ephemeral_id: new each time the node starts. The server sets the
        # transport address once it has bound its port.
        self.ephemeral_id = secrets.token_urlsafe(16)
        self.transport_address = ""
        self._max_document_bytes = max_document_bytes
        self._max_open_jobs = max_open_jobs
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._open: dict[str, OpenJob] = {}
        self.persistence = Persistence(repository)
        self.tasks = JobTasks(repository, self._lock, lambda job_id: self._close(job_id, force=True))

    # --- configuration -------------------------------------------------------------------

    def put_job(self, config: JobConfig) -> JobConfig:
        """Validate and store a new closed job."""
        config = msgspec.structs.replace(
            job_config.validate(config), create_time_ms=now_ms(), job_version=VERSION
        )
        self.repository.create_job(config, JobStatus(JobState.CLOSED, IngestState.new(config)))
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
                status = copy_status(job.status)
                model_size = job.analyzer.model_size_stats()
        counts = status.ingest.totals
        fields = counts.processed_field_count(len(config.analysis_fields()))
        return JobStats(config, status, fields, self.node if job else "", model_size, self.node_info() if job else None)

    def node_info(self) -> NodeInfo:
        """This server as the node of its open jobs."""
        return NodeInfo(
            id=self.repository.node_id, name=self.node, ephemeral_id=self.ephemeral_id,
            transport_address=self.transport_address, attributes={"ml.max_open_jobs": str(self._max_open_jobs)},
        )

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
            check_not_blocked(job_id, status)
            if status.state == JobState.FAILED:
                raise JobFailed(
                    f"job {job_id!r} failed ({status.failure_reason}); force close it before opening it",
                    jobId=job_id,
                )
            if job_id in self._open or status.state != JobState.CLOSED:
                raise JobAlreadyOpen(f"job {job_id!r} is already {status.state}", jobId=job_id, state=status.state)
            if len(self._open) >= self._max_open_jobs:
                raise TooManyOpenJobs(
                    f"{self._max_open_jobs} jobs are open, the server's limit (max_open_jobs); close one before "
                    f"opening job {job_id!r}",
                    jobId=job_id,
                    limit=str(self._max_open_jobs),
                )
            status.state = JobState.OPENING
            # As in Elasticsearch, each open starts a new bucket-diagnostics window.
            status.ingest.diagnostics = BucketDiagnostics.for_job(config.bucket_span_ms, config.latency_ms)
            self.repository.save_status(job_id, status)
        self._bounded(lambda: self._start(config, status), timeout_s, f"open job {job_id!r}")

    def _start(self, config: JobConfig, status: JobStatus) -> OpenJob:
        started = time.monotonic()
        try:
            analyzer = self.persistence.restore(config, status)
        except RestoreFailed as err:
            status.state, status.failure_reason = JobState.FAILED, err.message
            self.repository.save_status(config.job_id, status)
            raise
        job = OpenJob(config, status, analyzer, time.monotonic() - started)
        status.state = JobState.OPENED
        status.open_time_ms = now_ms()
        status.reopen_on_start = False
        self.repository.save_status(config.job_id, status)
        with self._lock:
            self._open[config.job_id] = job
        log.info("job %s opened: its model restored in %.2f s", config.job_id, job.restore_s)
        return job

    # --- snapshots -----------------------------------------------------------------------

    def create_snapshot(self, job_id: str, *, description: str, retain: bool) -> SnapshotMeta:
        """Snapshot an open job's model now."""
        job = self._open_job(job_id)
        with job.lock:
            meta = self.persistence.snapshot(job, description or "State persisted on request", retain=retain, always=True)
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
                        self.persistence.snapshot(job, "State persisted due to background persist")
                job.last_snapshot_ms = now

    def get_jobs_and_status(self, expression: str, allow_no_match: bool) -> list[tuple[JobConfig, JobStatus]]:
        """The jobs an expression matches with their current status, ordered by id; one deleted meanwhile is left out."""
        found = []
        for config in self.get_jobs(expression, allow_no_match):
            with contextlib.suppress(JobNotFound):
                found.append((config, self.status(config.job_id)))
        return found

    def status(self, job_id: str) -> JobStatus:
        """A job's current status (a copy)."""
        with self._lock:
            job = self._open.get(job_id)
        if job is None:
            return self.repository.status(job_id)
        with job.lock:
            return copy_status(job.status)

    @contextlib.contextmanager
    def transition(self, job_id: str) -> Iterator[JobStatus]:
        """The stored status of a job, with opening, closing, deleting and resetting held off meanwhile.

        Raises:
            JobDeleting, JobResetting: the job is being deleted or reset.
        """
        with self._lock:
            status = self._current_status(job_id)
            check_not_blocked(job_id, status)
            yield status

    # --- data ----------------------------------------------------------------------------

    def stream(self, job_id: str) -> DataStream:
        """The one data stream of an open job; release() it when the upload ends, however it ends.

        A force close does not cut the transport: the stream's next message, or its end, fails
        with StreamAborted, so that its client learns why.
        """
        with self._lock:
            job = self._open.get(job_id)
            if job is None or job.status.state != JobState.OPENED:
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
        return DataStream(self, job, max_document_bytes=self._max_document_bytes)

    def record(self, job: OpenJob, entry: JournalEntry) -> None:
        """Apply a journal entry to a job's model and journal it with its results (its lock held)."""
        self.persistence.commit(job, entry, self.persistence.apply(job, entry))

    def write_held(self, job: OpenJob) -> None:
        """Write the journal entries held back for a job with the status after them (its lock held)."""
        self.repository.write_held(job.config.job_id, job.status)

    def save_status(self, job: OpenJob) -> None:
        """Make an open job's status durable (its lock held)."""
        self.repository.save_status(job.config.job_id, job.status, durable=True)

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
        if start_ms is not None and (end_ms is None or end_ms == start_ms):
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
            entry.finalize_ms = job.finalize_point()
            results = self.persistence.apply(job, entry)
            if calc_interim:
                results += job.analyzer.interim(start_ms, end_ms)
            # A flush acknowledges its results: they must outlive the machine, not only the process.
            self.persistence.commit(job, entry, results, durable=True)
            return job.status.ingest.finalized_end_ms

    def _open_job(self, job_id: str) -> OpenJob:
        with self._lock:
            job = self._open.get(job_id)
            if job is None or job.status.state not in (JobState.OPENED, JobState.CLOSING):
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
            failed = sorted(i for i, s in statuses.items() if s.state == JobState.FAILED)
            if failed and not force:
                raise JobFailed(
                    f"job {failed[0]!r} failed; use force close", jobId=failed[0]
                )
            closing = [i for i in ids if statuses[i].state != JobState.CLOSED]

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
                if status.state != JobState.CLOSED:  # failed, or a transition a crash interrupted
                    status.state, status.open_time_ms = JobState.CLOSED, None
                    self.repository.save_status(job_id, status)
                return
            if force:
                job.forced = True
            elif job.status.state == JobState.CLOSING:
                closing = True
            else:
                closing = False
                job.status.state = JobState.CLOSING  # no stream starts from now on
        if not force and closing:
            job.closed.wait()
            return
        if not force:
            self._save_closing(job)
            with self._lock:
                while job.streaming and not job.forced:
                    self._changed.wait()
        with job.lock:
            job.status.state = JobState.CLOSED
            job.status.open_time_ms = None
            job.status.reopen_on_start = reopen_on_start
            job.status.model_size = job.analyzer.model_size_stats()
            if force or not self.persistence.snapshot(job, close_description()):
                self.repository.save_status(job_id, job.status)
        with self._lock:
            if self._open.get(job_id) is job:
                del self._open[job_id]
            job.closed.set()
        log.info("job %s closed%s", job_id, " by force" if force else "")

    def _save_closing(self, job: OpenJob) -> None:
        """Store that a job is closing, under its lock: a message in flight has counted records it has not yet journaled.

        The job's lock comes after the manager's lock is let go, as a stream that fails takes
        the manager's lock under the job's. A job closed by force or failed meanwhile keeps its stored status.
        """
        with job.lock:
            if not job.forced:
                self.repository.save_status(job.config.job_id, job.status)

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
        stored.state, stored.failure_reason = JobState.FAILED, reason
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
            running = self.tasks.running(job_id)
            if running is None or running[0].action != DELETE:
                status = self._current_status(job_id)
                if status.resetting:
                    raise JobResetting(f"job {job_id!r} is being reset; delete it when the reset is done", jobId=job_id)
                if status.state != JobState.CLOSED and not force:
                    raise JobOpen(
                        f"job {job_id!r} is {status.state}; close it first or delete it with force",
                        jobId=job_id,
                        state=status.state,
                    )
                running = self.tasks.start(DELETE, job_id, status)
        return self.tasks.finish(running, wait_for_completion)

    def get_task(self, task_id: str) -> Task:
        """A task; TaskNotFound if there is none."""
        return self.tasks.get(task_id)

    # --- server lifecycle ----------------------------------------------------------------

    def recover(self) -> None:
        """Bring jobs back to their state before the server last stopped or crashed.

        A delete or reset under way resumes under its own task, which then reports its end.
        """
        pending = {t.job_id: t for t in self.repository.tasks() if not t.done}
        for config in self.repository.jobs():
            try:
                self._recover(config, pending.get(config.job_id))
            except Exception as err:  # one damaged job must not keep the others from serving
                log.exception("job %s cannot be recovered", config.job_id)
                with self._lock:
                    self._open.pop(config.job_id, None)
                    self._record_failure(config.job_id, f"it could not be reopened when the server started: {err}")

    def _recover(self, config: JobConfig, task: Task | None) -> None:
        status = self.repository.status(config.job_id)
        if status.deleting or status.resetting:
            with self._lock:
                self.tasks.start(DELETE if status.deleting else RESET, config.job_id, status, task)
        elif status.state in (JobState.OPENING, JobState.OPENED, JobState.CLOSING) or status.reopen_on_start:
            log.info("reopening job %s (it was %s)", config.job_id, status.state)
            finish_close = status.state == JobState.CLOSING
            self._start(config, status)
            if finish_close:
                self._close(config.job_id, force=False)

    def shutdown(self) -> None:
        """Close every open job gracefully, marking it to reopen at the next start."""
        with self._lock:
            ids = [job_id for job_id, job in self._open.items() if job.status.state != JobState.FAILED]
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


def check_not_blocked(job_id: str, status: JobStatus) -> None:
    """Refuse a job being deleted or reset.

    Raises:
        JobDeleting, JobResetting: it is.
    """
    if status.deleting:
        raise JobDeleting(f"job {job_id!r} is being deleted", jobId=job_id)
    if status.resetting:
        raise JobResetting(f"job {job_id!r} is being reset; retry when the reset is done", jobId=job_id)


def _check_timeout(timeout_s: float | None) -> None:
    if timeout_s is not None and not 0 <= timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRequest(
            f"timeout must be from 0 to {MAX_TIMEOUT_S}s (a day), not {timeout_s:g}s", timeoutSeconds=f"{timeout_s:g}"
        )


def _matches(pattern: str, name: str, wildcard: bool) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if wildcard else name == pattern
