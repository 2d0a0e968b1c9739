"""The job repository: domain objects in and out of the store's tables."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np

from anomalyd.core.config import JobConfig
from anomalyd.core.errors import JobAlreadyExists, JobNotFound
from anomalyd.core.ingest import IngestState
from anomalyd.engine.records import RecordBatch, StringColumn
from anomalyd.storage import keys
from anomalyd.storage.store import Store, Transaction

# Keys removed per transaction when a job is deleted: bounded so that other jobs' writes
# interleave with a long delete.
DELETE_BATCH = 10_000


class JobStatus(msgspec.Struct):
    """The persisted lifecycle and data state of a job.

    Attributes:
        state: closed, opening, opened, closing or failed.
        ingest: counts and bucketing state.
        input_sequence: the sequence number the next accepted batch is logged under.
        open_time_ms: when the job was last opened (epoch ms), None when closed.
        failure_reason: why the job failed.
        deleting: a delete has started; it resumes after a restart.
        reopen_on_start: the server stopped while the job was open; the next start reopens it.
    """

    state: str
    ingest: IngestState
    input_sequence: int = 0
    open_time_ms: int | None = None
    failure_reason: str = ""
    deleting: bool = False
    reopen_on_start: bool = False


class Task(msgspec.Struct):
    """A task started by a request that did not wait (epoch ms times)."""

    task_id: str
    action: str
    job_id: str
    start_time_ms: int
    done: bool = False
    end_time_ms: int | None = None
    error_code: str = ""
    error_reason: str = ""
    error_message: str = ""


_ENCODER = msgspec.msgpack.Encoder()
_CONFIG = msgspec.msgpack.Decoder(JobConfig)
_STATUS = msgspec.msgpack.Decoder(JobStatus)
_TASK = msgspec.msgpack.Decoder(Task)
_BATCH = msgspec.msgpack.Decoder(dict[str, Any])


class Repository:
    """Reads and writes jobs, their status, input logs and tasks in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.node_id = store.update(self._node_id, durable=True)

    def create_job(self, config: JobConfig, status: JobStatus) -> None:
        """Store a new job; JobAlreadyExists if the id is taken."""

        def create(txn: Transaction) -> None:
            if txn.get(keys.JOBS, keys.job_key(config.job_id)) is not None:
                raise JobAlreadyExists(
                    f"job {config.job_id!r} already exists", jobId=config.job_id
                )
            txn.put(keys.JOBS, keys.job_key(config.job_id), _ENCODER.encode(config))
            txn.put(keys.STATUS, keys.job_key(config.job_id), _ENCODER.encode(status))

        self.store.update(create, durable=True)

    def jobs(self) -> list[JobConfig]:
        """Every job, ordered by id."""
        return self.store.view(lambda txn: [_CONFIG.decode(v) for _, v in txn.scan(keys.JOBS)])

    def job(self, job_id: str) -> JobConfig:
        """One job; JobNotFound if there is none."""
        raw = self.store.view(lambda txn: txn.get(keys.JOBS, keys.job_key(job_id)))
        if raw is None:
            raise JobNotFound(f"no job with id {job_id!r}", jobId=job_id)
        return _CONFIG.decode(raw)

    def status(self, job_id: str) -> JobStatus:
        """A job's status; JobNotFound if there is none."""
        raw = self.store.view(lambda txn: txn.get(keys.STATUS, keys.job_key(job_id)))
        if raw is None:
            raise JobNotFound(f"no job with id {job_id!r}", jobId=job_id)
        return _STATUS.decode(raw)

    def save_status(self, job_id: str, status: JobStatus, *, durable: bool = True) -> None:
        """Replace a job's status."""
        encoded = _ENCODER.encode(status)
        self.store.update(lambda txn: txn.put(keys.STATUS, keys.job_key(job_id), encoded), durable=durable)

    def commit_batch(self, job_id: str, status: JobStatus, batch: RecordBatch | None) -> None:
        """Log an accepted batch and the status it leads to, atomically."""
        entry = encode_batch(batch) if batch is not None and len(batch) else None
        sequence = status.input_sequence
        if entry is not None:
            status.input_sequence += 1
        encoded = _ENCODER.encode(status)

        def commit(txn: Transaction) -> None:
            if entry is not None:
                txn.put(keys.INPUT_LOG, keys.input_log_key(job_id, sequence), entry)
            txn.put(keys.STATUS, keys.job_key(job_id), encoded)

        self.store.update(commit)

    def input_log(self, job_id: str, from_sequence: int = 0) -> Iterator[RecordBatch]:
        """The accepted batches of a job from a sequence number on, oldest first."""
        start = keys.input_log_key(job_id, from_sequence)
        entries = self.store.view(
            lambda txn: [v for _, v in txn.scan(keys.INPUT_LOG, keys.job_prefix(job_id), start)]
        )
        return map(decode_batch, entries)

    def delete_job(self, job_id: str) -> None:
        """Remove a job's data range by range, then its status and config; resumable."""
        prefix = keys.job_prefix(job_id)
        for table in keys.JOB_DATA_TABLES:
            while self.store.update(lambda txn, t=table: _delete_some(txn, t, prefix)):
                pass

        def finish(txn: Transaction) -> None:
            txn.delete(keys.STATUS, keys.job_key(job_id))
            txn.delete(keys.JOBS, keys.job_key(job_id))

        self.store.update(finish, durable=True)

    def new_task(self, action: str, job_id: str, start_time_ms: int) -> Task:
        """A new task with the next id of this node, stored."""

        def create(txn: Transaction) -> Task:
            number = keys.counter_value(txn.get(keys.META, keys.TASK_COUNTER)) + 1
            txn.put(keys.META, keys.TASK_COUNTER, keys.counter_bytes(number))
            task = Task(f"{self.node_id}:{number}", action, job_id, start_time_ms)
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


def _delete_some(txn: Transaction, table: bytes, prefix: bytes) -> int:
    doomed = [key for key, _ in zip((k for k, _ in txn.scan(table, prefix)), range(DELETE_BATCH))]
    for key in doomed:
        txn.delete(table, key)
    return len(doomed)


def encode_batch(batch: RecordBatch) -> bytes:
    """A batch as raw little-endian column buffers in msgpack."""
    return _ENCODER.encode(
        {
            "t": batch.times.astype("<i8").tobytes(),
            "n": {name: v.astype("<f8").tobytes() for name, v in batch.numbers.items()},
            "s": {name: [c.codes.astype("<i4").tobytes(), list(c.values)] for name, c in batch.strings.items()},
        }
    )


def decode_batch(data: bytes) -> RecordBatch:
    """The batch encode_batch wrote."""
    raw = _BATCH.decode(data)
    return RecordBatch(
        times=np.frombuffer(raw["t"], dtype="<i8"),
        numbers={name: np.frombuffer(v, dtype="<f8") for name, v in raw["n"].items()},
        strings={name: StringColumn(np.frombuffer(c, dtype="<i4"), tuple(vs)) for name, (c, vs) in raw["s"].items()},
    )
