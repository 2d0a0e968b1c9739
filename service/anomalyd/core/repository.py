"""The job repository: domain objects in and out of the store's tables."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from functools import partial
from typing import Any, TypeVar

import msgspec

from anomalyd.core.config import JobConfig
from anomalyd.core.domain import JobState, JobStatus, JournalEntry, SnapshotMeta, Task
from anomalyd.core.errors import (
    AnomalydError,
    InvalidRequest,
    JobAlreadyExists,
    JobAndGroupNamesMustBeUnique,
    JobDamaged,
    JobNotFound,
)
from anomalyd.core.ingest import IngestState
from anomalyd.engine.results import AnomalyRecord, BucketResult, InfluencerResult
from anomalyd.storage import keys
from anomalyd.storage.store import Store, Transaction

T = TypeVar("T")
log = logging.getLogger(__name__)

# Keys removed per transaction when a job is deleted: bounded so that other jobs' writes
# interleave with a long delete.
DELETE_BATCH = 10_000


_ENCODER = msgspec.msgpack.Encoder()
_JOURNAL = msgspec.msgpack.Decoder(JournalEntry)
_SNAPSHOT = msgspec.msgpack.Decoder(SnapshotMeta)
_BUCKET = msgspec.msgpack.Decoder(BucketResult)
_RECORD = msgspec.msgpack.Decoder(AnomalyRecord)
_INFLUENCER = msgspec.msgpack.Decoder(InfluencerResult)
_CONFIG = msgspec.msgpack.Decoder(JobConfig)
_STATUS = msgspec.msgpack.Decoder(JobStatus)
_TASK = msgspec.msgpack.Decoder(Task)
# A bucket's parts stored beside it, with the attribute of BucketResult that holds them.
_PARTS: tuple[tuple[bytes, msgspec.msgpack.Decoder[Any], str], ...] = (
    (keys.RECORDS, _RECORD, "records"),
    (keys.INFLUENCERS, _INFLUENCER, "influencers"),
)


@dataclasses.dataclass
class _Held:
    """A job's journal entries numbered but not yet written (see Repository.hold), and the status after them."""

    entries: list[bytes] = dataclasses.field(default_factory=list)
    status: bytes = b""


class Repository:
    """Reads and writes jobs, their status, input logs and tasks in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.node_id = store.update(self._node_id, durable=True)
        self._held: dict[str, _Held] = {}  # a job's entry is touched under the job's lock only

    def create_job(self, config: JobConfig, status: JobStatus) -> None:
        """Store a new job.

        Raises:
            JobAlreadyExists: the id is taken.
            JobAndGroupNamesMustBeUnique: the id is a group of a job, or a group is the id of a
                job (this one included): jobs and groups share one namespace, as in Elasticsearch.
        """

        def create(txn: Transaction) -> None:
            if txn.get(keys.JOBS, keys.job_key(config.job_id)) is not None:
                raise JobAlreadyExists(
                    f"job {config.job_id!r} already exists", jobId=config.job_id
                )
            _check_namespace(txn, config)
            txn.put(keys.JOBS, keys.job_key(config.job_id), _ENCODER.encode(config))
            txn.put(keys.STATUS, keys.job_key(config.job_id), _ENCODER.encode(status))

        self.store.update(create, durable=True)

    def update_job(self, config: JobConfig) -> None:
        """Replace an existing job's configuration.

        Raises:
            JobNotFound: there is no such job.
            JobAndGroupNamesMustBeUnique: a group is another job's id, or the id is a group.
        """

        def update(txn: Transaction) -> None:
            if txn.get(keys.JOBS, keys.job_key(config.job_id)) is None:
                raise _not_found(config.job_id)
            _check_namespace(txn, config)
            txn.put(keys.JOBS, keys.job_key(config.job_id), _ENCODER.encode(config))

        self.store.update(update, durable=True)

    def jobs(self) -> list[JobConfig]:
        """Every job whose configuration can be read, ordered by id; the others are logged."""
        return [config for config in self.store.view(lambda txn: list(map(_readable_config, txn.scan(keys.JOBS)))) if config is not None]

    def job(self, job_id: str) -> JobConfig:
        """One job.

        Raises:
            JobNotFound: there is none.
            JobDamaged: its stored configuration cannot be read.
        """
        raw = self.store.view(lambda txn: txn.get(keys.JOBS, keys.job_key(job_id)))
        if raw is None:
            raise _not_found(job_id)
        try:
            return _CONFIG.decode(raw)
        except msgspec.DecodeError as err:
            raise JobDamaged(
                f"the stored configuration of job {job_id!r} cannot be read ({err}); delete the job with force "
                "and create it again",
                jobId=job_id,
            ) from None

    def status(self, job_id: str) -> JobStatus:
        """A job's status; a failed one saying why when the stored status cannot be read.

        Raises:
            JobNotFound: there is no such job.
        """
        raw = self.store.view(lambda txn: txn.get(keys.STATUS, keys.job_key(job_id)))
        if raw is None:
            raise _not_found(job_id)
        try:
            return _STATUS.decode(raw)
        except msgspec.DecodeError as err:
            log.error("job %s: its stored status cannot be read: %s", job_id, err)
            ingest = IngestState.new(self.job(job_id))
            return JobStatus(JobState.FAILED, ingest, failure_reason=f"its stored status cannot be read ({err}); its counts restart")

    def save_status(self, job_id: str, status: JobStatus, *, durable: bool = True) -> None:
        """Replace a job's status."""
        encoded = _ENCODER.encode(status)
        self.store.update(lambda txn: txn.put(keys.STATUS, keys.job_key(job_id), encoded), durable=durable)

    def commit(
        self, job_id: str, status: JobStatus, entry: JournalEntry | None, results: list[BucketResult], *, durable: bool = False
    ) -> None:
        """Journal a model update with the results it produced and the status it leads to, atomically.

        Interim results written earlier are replaced; interim results in results are recorded
        in the status so that the next commit replaces them. durable adds the fsync an
        acknowledgement needs (the end of an upload syncs its messages' commits at once). The
        job's held entries (see hold) are written first, in the same transaction.
        """
        entries = self._held.pop(job_id, _Held()).entries  # written first, numbered from the status's
        if entry is not None:
            entries.append(_ENCODER.encode(entry))
        sequence = status.journal_sequence
        status.journal_sequence += len(entries)
        stale, status.interim_ms = status.interim_ms, [r.timestamp_ms for r in results if r.is_interim]
        encoded_status = _ENCODER.encode(status)

        replaced = {*stale, *(r.timestamp_ms for r in results)}  # none for most messages of an upload

        def commit(txn: Transaction) -> None:
            _put_entries(txn, job_id, sequence, entries)
            # Buckets after the newest stored one (each new bucket of an upload) have nothing to delete.
            newest = txn.last_key(keys.BUCKETS, keys.job_prefix(job_id)) if replaced else None
            newest_ms = None if newest is None else keys.result_time(newest)
            for time_ms in replaced:
                if newest_ms is not None and time_ms <= newest_ms:
                    _delete_results(txn, job_id, time_ms)
            _put_results(txn, job_id, results)
            txn.put(keys.STATUS, keys.job_key(job_id), encoded_status)

        self.store.update(commit, durable=durable)

    def hold(self, job_id: str, status: JobStatus, entry: JournalEntry) -> None:
        """Keep a journal entry that stores and replaces no result for the job's next commit or write_held().

        A transaction costs more than writing the entry in it (about 40 us of server CPU a
        message): the entries of several messages go in one. status still numbers the stored
        journal's next entry (it is stored that way meanwhile); the status after this entry is kept
        beside it. The caller holds the job's lock until the entries are written.
        """
        held = self._held.setdefault(job_id, _Held())
        held.entries.append(_ENCODER.encode(entry))
        held.status = _ENCODER.encode(msgspec.structs.replace(status, journal_sequence=status.journal_sequence + len(held.entries)))

    def write_held(self, job_id: str, status: JobStatus) -> None:
        """Write the job's held entries, with the status kept after the last of them, in one transaction; status then numbers past them."""
        held = self._held.pop(job_id, None)
        if held is None:
            return
        sequence = status.journal_sequence
        status.journal_sequence += len(held.entries)

        def write(txn: Transaction) -> None:
            _put_entries(txn, job_id, sequence, held.entries)
            txn.put(keys.STATUS, keys.job_key(job_id), held.status)

        self.store.update(write)

    def journal(self, job_id: str, from_sequence: int) -> list[tuple[int, JournalEntry]]:
        """A job's journal entries from a sequence number on, oldest first, with their numbers."""
        start = keys.journal_key(job_id, from_sequence)
        return self.store.view(
            lambda txn: [
                (keys.journal_sequence(k), _JOURNAL.decode(v))
                for k, v in txn.scan(keys.JOURNAL, keys.job_prefix(job_id), start)
            ]
        )

    def save_snapshot(self, job_id: str, meta: SnapshotMeta, state: bytes, status: JobStatus, journal_from: int) -> None:
        """Store a snapshot, make it the active one and drop journal entries before journal_from."""
        encoded_meta, encoded_status = _ENCODER.encode(meta), _ENCODER.encode(status)
        key = keys.snapshot_key(job_id, meta.snapshot_id)

        def save(txn: Transaction) -> None:
            txn.put(keys.SNAPSHOTS, key, encoded_meta)
            txn.put(keys.SNAPSHOT_STATE, key, state)
            txn.put(keys.STATUS, keys.job_key(job_id), encoded_status)
            _delete_range(txn, keys.JOURNAL, keys.job_prefix(job_id), end=keys.journal_key(job_id, journal_from))

        self.store.update(save, durable=True)

    def snapshots(self, job_id: str) -> list[SnapshotMeta]:
        """A job's snapshots, oldest first."""
        return self.store.view(lambda txn: [_SNAPSHOT.decode(v) for _, v in txn.scan(keys.SNAPSHOTS, keys.job_prefix(job_id))])

    def snapshot_state(self, job_id: str, snapshot_id: str) -> bytes | None:
        """A snapshot's stored model state, or None."""
        return self.store.view(lambda txn: txn.get(keys.SNAPSHOT_STATE, keys.snapshot_key(job_id, snapshot_id)))

    def update_snapshot(self, job_id: str, meta: SnapshotMeta) -> None:
        """Replace a snapshot's description."""
        encoded = _ENCODER.encode(meta)
        self.store.update(lambda txn: txn.put(keys.SNAPSHOTS, keys.snapshot_key(job_id, meta.snapshot_id), encoded), durable=True)

    def delete_snapshots(self, job_id: str, snapshot_ids: list[str]) -> None:
        """Delete snapshots with their state."""

        def delete(txn: Transaction) -> None:
            for snapshot_id in snapshot_ids:
                for table in (keys.SNAPSHOTS, keys.SNAPSHOT_STATE):
                    txn.delete(table, keys.snapshot_key(job_id, snapshot_id))

        self.store.update(delete, durable=True)

    def revert(self, job_id: str, status: JobStatus, journal_from: int, results_from_ms: int | None) -> None:
        """Save a reverted status, dropping the journal from journal_from and, if given, results from results_from_ms."""
        encoded_status = _ENCODER.encode(status)

        def revert(txn: Transaction) -> None:
            _delete_range(txn, keys.JOURNAL, keys.job_prefix(job_id), start=keys.journal_key(job_id, journal_from))
            if results_from_ms is not None:
                start = keys.result_time_prefix(job_id, results_from_ms)
                for table in keys.RESULT_TABLES:
                    _delete_range(txn, table, keys.job_prefix(job_id), start=start)
            txn.put(keys.STATUS, keys.job_key(job_id), encoded_status)

        self.store.update(revert, durable=True)

    def expire_results(self, job_id: str, before_ms: int) -> int:
        """Delete the results of buckets starting before before_ms, a batch per transaction."""
        prefix, end = keys.job_prefix(job_id), keys.result_time_prefix(job_id, before_ms)
        deleted = 0
        for table in keys.RESULT_TABLES:
            while batch := self.store.update(partial(_delete_range, table=table, prefix=prefix, end=end, limit=DELETE_BATCH)):
                deleted += batch
        return deleted

    def buckets(self, job_id: str, start_ms: int | None, end_ms: int | None) -> list[BucketResult]:
        """A job's buckets starting in [start_ms, end_ms), oldest first."""
        return self._results(keys.BUCKETS, _BUCKET, job_id, start_ms, end_ms)

    def records(self, job_id: str, start_ms: int | None, end_ms: int | None) -> list[AnomalyRecord]:
        """A job's records of buckets starting in [start_ms, end_ms), oldest first."""
        return self._results(keys.RECORDS, _RECORD, job_id, start_ms, end_ms)

    def influencers(self, job_id: str, start_ms: int | None, end_ms: int | None) -> list[InfluencerResult]:
        """A job's influencers of buckets starting in [start_ms, end_ms), oldest first."""
        return self._results(keys.INFLUENCERS, _INFLUENCER, job_id, start_ms, end_ms)

    def full_results(self, job_id: str, start_ms: int) -> list[BucketResult]:
        """A job's buckets from start_ms on, oldest first, with their records and influencers."""
        buckets = self.buckets(job_id, start_ms, None)
        by_time = {b.timestamp_ms: (b.records, b.influencers) for b in buckets}
        for record in self.records(job_id, start_ms, None):
            by_time[record.timestamp_ms][0].append(record)
        for influencer in self.influencers(job_id, start_ms, None):
            by_time[influencer.timestamp_ms][1].append(influencer)
        return buckets

    def results_at(self, job_id: str, times_ms: list[int]) -> list[BucketResult]:
        """A job's buckets that start at the given times (ms), in their order, with their records and influencers.

        A time without a stored bucket is left out.
        """

        def read(txn: Transaction) -> list[BucketResult]:
            found = {}
            for time_ms in times_ms:
                raw = txn.get(keys.BUCKETS, keys.result_key(job_id, time_ms))
                if raw is not None:
                    found[time_ms] = _BUCKET.decode(raw)
            if found:
                # One pass over each table from the first bucket on, not a cursor a bucket: few
                # buckets have records or influencers.
                prefix, start = keys.job_prefix(job_id), keys.result_time_prefix(job_id, min(found))
                for table, decoder, attribute in _PARTS:
                    for key, value in txn.scan(table, prefix, start):
                        if (bucket := found.get(keys.result_time(key))) is not None:
                            getattr(bucket, attribute).append(decoder.decode(value))
            return list(found.values())

        return self.store.view(read)

    def rewrite_results(self, job_id: str, results: list[BucketResult]) -> None:
        """Replace stored results (renormalised ones), each with its records and influencers."""

        def rewrite(txn: Transaction) -> None:
            for result in results:
                _delete_results(txn, job_id, result.timestamp_ms)
            _put_results(txn, job_id, results)

        self.store.update(rewrite)

    def _results(self, table: bytes, decoder: msgspec.msgpack.Decoder[T], job_id: str, start_ms: int | None, end_ms: int | None) -> list[T]:
        prefix = keys.job_prefix(job_id)
        start = None if start_ms is None else keys.result_time_prefix(job_id, start_ms)
        end = None if end_ms is None else keys.result_time_prefix(job_id, end_ms)

        def scan(txn: Transaction) -> list[T]:
            found = []
            for key, value in txn.scan(table, prefix, start):
                if end is not None and key >= end:
                    break
                found.append(decoder.decode(value))
            return found

        return self.store.view(scan)

    def delete_job(self, job_id: str, finished: Task) -> None:
        """Remove a job's data range by range, then its status and config; resumable.

        The last transaction also stores its finished task: a crash cannot leave the job gone
        and its task pending, which no restart would finish.
        """
        self._delete_data(job_id)
        encoded_task = _ENCODER.encode(finished)

        def finish(txn: Transaction) -> None:
            txn.delete(keys.STATUS, keys.job_key(job_id))
            txn.delete(keys.JOBS, keys.job_key(job_id))
            txn.put(keys.TASKS, keys.task_key(finished.task_id), encoded_task)

        self.store.update(finish, durable=True)

    def reset_job(self, job_id: str, status: JobStatus, finished: Task) -> None:
        """Remove a job's data range by range, then give it status and store its finished task at once; resumable."""
        self._delete_data(job_id)
        encoded_status, encoded_task = _ENCODER.encode(status), _ENCODER.encode(finished)

        def finish(txn: Transaction) -> None:
            txn.put(keys.STATUS, keys.job_key(job_id), encoded_status)
            txn.put(keys.TASKS, keys.task_key(finished.task_id), encoded_task)

        self.store.update(finish, durable=True)

    def _delete_data(self, job_id: str) -> None:
        """Remove a job's journal, snapshots and results, a batch a transaction: other jobs' writes go on between."""
        prefix = keys.job_prefix(job_id)
        for table in keys.JOB_DATA_TABLES:
            while self.store.update(partial(_delete_range, table=table, prefix=prefix, limit=DELETE_BATCH)):
                pass

    def new_task(self, action: str, job_id: str, start_time_ms: int) -> Task:
        """A new task, stored, with an id of this node that cannot be guessed from another."""

        def create(txn: Transaction) -> Task:
            # Random, not a counter: a task id is all GetTask asks for, so knowing one must not
            # reveal the next.
            task = Task(f"{self.node_id}:{secrets.token_hex(16)}", action, job_id, start_time_ms)
            txn.put(keys.TASKS, keys.task_key(task.task_id), _ENCODER.encode(task))
            return task

        return self.store.update(create, durable=True)

    def save_task(self, task: Task) -> None:
        """Replace a task."""
        encoded = _ENCODER.encode(task)
        self.store.update(lambda txn: txn.put(keys.TASKS, keys.task_key(task.task_id), encoded), durable=True)

    def task(self, task_id: str) -> Task | None:
        """A task, or None."""
        raw = self.store.view(lambda txn: txn.get(keys.TASKS, keys.task_key(task_id)))
        return None if raw is None else _TASK.decode(raw)

    def tasks(self) -> list[Task]:
        """Every task."""
        return self.store.view(lambda txn: [_TASK.decode(v) for _, v in txn.scan(keys.TASKS)])

    @staticmethod
    def _node_id(txn: Transaction) -> str:
        node = txn.get(keys.META, keys.NODE_ID)
        if node is None:
            node = secrets.token_hex(8).encode()
            txn.put(keys.META, keys.NODE_ID, node)
        return node.decode()


def _check_namespace(txn: Transaction, config: JobConfig) -> None:
    groups = set(config.groups)
    clash = config.job_id if config.job_id in groups else None
    for item in txn.scan(keys.JOBS):
        if clash is not None:
            break
        other = _readable_config(item)
        if other is None or other.job_id == config.job_id:  # an update's own stored config
            continue
        if config.job_id in other.groups:
            clash = config.job_id
        elif other.job_id in groups:
            clash = other.job_id
    if clash is not None:
        raise JobAndGroupNamesMustBeUnique(
            f"job and group names must be unique but job {clash!r} and group {clash!r} have the same name",
            jobId=config.job_id,
            name=clash,
        )


def _readable_config(item: tuple[bytes, bytes]) -> JobConfig | None:
    try:
        return _CONFIG.decode(item[1])
    except msgspec.DecodeError as err:
        log.error("job %s: its stored configuration cannot be read: %s", item[0].decode(errors="replace"), err)
        return None


def _not_found(job_id: str) -> AnomalydError:
    if not job_id:
        return InvalidRequest("job_id is required", field_violations=(("job_id", "must not be empty"),))
    return JobNotFound(f"no job with id {job_id!r}", jobId=job_id)


def _delete_range(
    txn: Transaction, table: bytes, prefix: bytes, *, start: bytes | None = None, end: bytes | None = None, limit: int | None = None
) -> int:
    """Delete keys with prefix in [start, end), at most limit of them; how many went."""
    doomed: list[bytes] = []
    for key, _ in txn.scan(table, prefix, start):
        if (end is not None and key >= end) or len(doomed) == limit:
            break
        doomed.append(key)
    for key in doomed:
        txn.delete(table, key)
    return len(doomed)


def _delete_results(txn: Transaction, job_id: str, time_ms: int) -> None:
    # Records and influencers are only written beside their bucket (_put_results) and deleted
    # with it: a bucket not stored has nothing to delete, and a new bucket costs one lookup.
    if txn.get(keys.BUCKETS, keys.result_key(job_id, time_ms)) is None:
        return
    for table in keys.RESULT_TABLES:
        _delete_range(txn, table, keys.result_time_prefix(job_id, time_ms))


def _put_entries(txn: Transaction, job_id: str, first_sequence: int, entries: list[bytes]) -> None:
    """Put encoded journal entries numbered from first_sequence."""
    for sequence, entry in enumerate(entries, first_sequence):
        txn.put(keys.JOURNAL, keys.journal_key(job_id, sequence), entry)


def _put_results(txn: Transaction, job_id: str, results: list[BucketResult]) -> None:
    """Put buckets with their records and influencers, a table's items in one call (Transaction.put_many)."""
    encode = _ENCODER.encode
    buckets: list[tuple[bytes, bytes]] = []
    records: list[tuple[bytes, bytes]] = []
    influencers: list[tuple[bytes, bytes]] = []
    for result in results:
        parts = result.records or result.influencers
        # Index 0 is the bucket's key too; records and influencers are numbered in their own tables,
        # each taking as many of the keys as it has items (hence strict=False).
        at = keys.result_keys(job_id, result.timestamp_ms, max(len(result.records), len(result.influencers), 1))
        buckets.append((at[0], encode(result.without_parts() if parts else result)))
        if parts:
            records += zip(at, map(encode, result.records), strict=False)
            influencers += zip(at, map(encode, result.influencers), strict=False)
    txn.put_many(keys.BUCKETS, buckets)
    txn.put_many(keys.RECORDS, records)
    txn.put_many(keys.INFLUENCERS, influencers)
