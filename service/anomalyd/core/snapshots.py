"""Model snapshots: listing, updating, deleting and reverting."""

from __future__ import annotations

import msgspec

from anomalyd.core.domain import JobState, SnapshotMeta
from anomalyd.core.errors import JobOpen, SnapshotActive, SnapshotNotFound
from anomalyd.core.jobs import JobManager
from anomalyd.core.results import Query, page_of

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
        """A page of a job's snapshots and the number matching; an unknown id is NotFound."""
        self._repository.job(query.job_id)
        found = [
            s for s in self._repository.snapshots(query.job_id)
            if (query.start_ms is None or s.timestamp_ms >= query.start_ms)
            and (query.end_ms is None or s.timestamp_ms < query.end_ms)
            and snapshot_id in ("", "*", "_all", s.snapshot_id)
        ]
        if not found and snapshot_id not in ("", "*", "_all"):
            raise self._not_found(query.job_id, snapshot_id)
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
        job accepts data for that time again.
        """
        meta = self._get(job_id, snapshot_id)
        with self._jobs.transition(job_id) as status:
            if status.state != JobState.CLOSED:
                raise JobOpen(
                    f"job {job_id!r} is {status.state}; close it before reverting its model",
                    jobId=job_id, state=status.state,
                )
            status.model_snapshot_id = snapshot_id
            status.journal_sequence = meta.journal_sequence
            results_from = None
            if delete_intervening_results:
                results_from = meta.ingest.finalized_end_ms
                totals = status.ingest.totals
                totals.latest_record_timestamp = meta.ingest.totals.latest_record_timestamp
                totals.latest_bucket_timestamp = meta.ingest.totals.latest_bucket_timestamp
                status.ingest = msgspec.structs.replace(meta.ingest, totals=totals)
            self._repository.revert(job_id, status, meta.journal_sequence, results_from)
        return meta

    def _get(self, job_id: str, snapshot_id: str) -> SnapshotMeta:
        self._repository.job(job_id)
        for meta in self._repository.snapshots(job_id):
            if meta.snapshot_id == snapshot_id:
                return meta
        raise self._not_found(job_id, snapshot_id)

    @staticmethod
    def _not_found(job_id: str, snapshot_id: str) -> SnapshotNotFound:
        return SnapshotNotFound(f"job {job_id!r} has no model snapshot {snapshot_id!r}", jobId=job_id, snapshotId=snapshot_id)
