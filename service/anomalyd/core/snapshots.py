"""Model snapshots: listing, updating, deleting and reverting."""

from __future__ import annotations

import fnmatch

import msgspec

from anomalyd.core.domain import EMPTY_SNAPSHOT_ID, JobState, SnapshotMeta
from anomalyd.core.errors import JobOpen, SnapshotActive, SnapshotNotFound
from anomalyd.core.ingest import IngestState
from anomalyd.core.jobs import JobManager
from anomalyd.core.results import Query, page_of
from anomalyd.core.timeparse import MIN_EPOCH_MS

SNAPSHOT_SORTS = {
    "timestamp": lambda s: s.timestamp_ms,
    "description": lambda s: s.description,
    "latest_record_time_stamp": lambda s: s.latest_record_time_ms or 0,
    "snapshot_size_bytes": lambda s: s.size_bytes,
}


class Snapshots:
    """Snapshot operations on the jobs of a JobManager."""

    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs
        self._repository = jobs.repository

    def list(self, query: Query, snapshot_id: str = "") -> tuple[list[SnapshotMeta], int]:
        """A page of a job's snapshots and the number matching.

        Args:
            query: the time range, sort and page.
            snapshot_id: comma-separated ids and wildcard expressions; "", "*" or "_all" for all.

        Raises:
            SnapshotNotFound: an id without a wildcard matches no snapshot.
        """
        self._repository.job(query.job_id)
        patterns = [p.strip() for p in snapshot_id.split(",") if p.strip()]
        if any(p in ("*", "_all") for p in patterns):
            patterns = []
        snapshots = self._repository.snapshots(query.job_id)
        for pattern in patterns:
            if "*" not in pattern and not any(s.snapshot_id == pattern for s in snapshots):
                raise self._not_found(query.job_id, pattern)
        found = [
            s for s in snapshots
            if (query.start_ms is None or s.timestamp_ms >= query.start_ms)
            and (query.end_ms is None or s.timestamp_ms < query.end_ms)
            and (not patterns or any(fnmatch.fnmatchcase(s.snapshot_id, p) for p in patterns))
        ]
        return page_of(found, query, SNAPSHOT_SORTS, "timestamp")

    def active_id(self, job_id: str) -> str:
        """The id of the snapshot a job restores on open."""
        return self._jobs.status(job_id).model_snapshot_id

    def update(self, job_id: str, snapshot_id: str, *, description: str | None, retain: bool | None) -> SnapshotMeta:
        """Change a snapshot's description or retain flag."""
        meta = self._get(job_id, snapshot_id)
        changes = {k: v for k, v in (("description", description), ("retain", retain)) if v is not None}
        meta = msgspec.structs.replace(meta, **changes)
        self._repository.update_snapshot(job_id, meta)
        return meta

    def delete(self, job_id: str, snapshot_id: str) -> None:
        """Delete a snapshot that is not the active one."""
        self._get(job_id, snapshot_id)
        if self.active_id(job_id) == snapshot_id:
            raise SnapshotActive(
                f"snapshot {snapshot_id!r} is the active snapshot of job {job_id!r}; revert to another one first",
                jobId=job_id, snapshotId=snapshot_id,
            )
        self._repository.delete_snapshots(job_id, [snapshot_id])

    def revert(self, job_id: str, snapshot_id: str, *, delete_intervening_results: bool) -> SnapshotMeta:
        """Make a snapshot the one a closed job restores, dropping the journal after it.

        With delete_intervening_results the results after the snapshot are deleted and the
        job accepts data for that time again. EMPTY_SNAPSHOT_ID names the empty model, as in
        Elasticsearch: the job then learns from scratch, and the results deleted are all of
        them.
        """
        empty = snapshot_id == EMPTY_SNAPSHOT_ID
        meta = self._empty(job_id) if empty else self._get(job_id, snapshot_id)
        with self._jobs.transition(job_id) as status:
            if status.state != JobState.CLOSED:
                raise JobOpen(
                    f"job {job_id!r} is {status.state}; close it before reverting its model",
                    jobId=job_id, state=status.state,
                )
            status.model_snapshot_id = snapshot_id
            journal_from = meta.journal_sequence
            if empty:
                # The journal before now goes (a restore replays from the empty model onwards);
                # its numbering goes on, so that no older snapshot can seem to continue it.
                journal_from, status.journal_start = 0, status.journal_sequence
            else:
                status.journal_sequence = meta.journal_sequence
            results_from = None
            if delete_intervening_results:
                results_from = MIN_EPOCH_MS if empty else meta.ingest.finalized_end_ms
                totals = status.ingest.totals
                totals.latest_record_timestamp = meta.ingest.totals.latest_record_timestamp
                totals.latest_bucket_timestamp = meta.ingest.totals.latest_bucket_timestamp
                status.ingest = msgspec.structs.replace(meta.ingest, totals=totals)
            self._repository.revert(job_id, status, journal_from, results_from)
        return meta

    def _empty(self, job_id: str) -> SnapshotMeta:
        """The empty model as a snapshot (Elasticsearch's ModelSnapshot.emptySnapshot)."""
        config = self._repository.job(job_id)
        return SnapshotMeta(
            snapshot_id=EMPTY_SNAPSHOT_ID, timestamp_ms=0, description="the empty model", journal_sequence=0,
            ingest=IngestState.new(config), latest_record_time_ms=None, latest_result_time_ms=None,
            model_size=None, size_bytes=0, checksum=0,
        )

    def _get(self, job_id: str, snapshot_id: str) -> SnapshotMeta:
        self._repository.job(job_id)
        for meta in self._repository.snapshots(job_id):
            if meta.snapshot_id == snapshot_id:
                return meta
        raise self._not_found(job_id, snapshot_id)

    @staticmethod
    def _not_found(job_id: str, snapshot_id: str) -> SnapshotNotFound:
        return SnapshotNotFound(f"job {job_id!r} has no model snapshot {snapshot_id!r}", jobId=job_id, snapshotId=snapshot_id)
