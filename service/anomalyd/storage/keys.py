"""Every LMDB key format of anomalyd.

Keys of one job start with its id and a NUL byte: job ids cannot contain NUL and NUL sorts
below every character they can contain, so a job's keys form one contiguous range that no
other job's keys interleave ("job" and "job1" do not overlap). Numbers are big-endian so
that LMDB's byte order is numeric order.
"""

from __future__ import annotations

import struct

# Named databases (tables) of the environment.
META = b"meta"
JOBS = b"jobs"
STATUS = b"status"
JOURNAL = b"journal"
SNAPSHOTS = b"snapshots"
SNAPSHOT_STATE = b"snapshot_state"
BUCKETS = b"buckets"
RECORDS = b"records"
INFLUENCERS = b"influencers"
TASKS = b"tasks"

ALL_TABLES = (META, JOBS, STATUS, JOURNAL, SNAPSHOTS, SNAPSHOT_STATE, BUCKETS, RECORDS, INFLUENCERS, TASKS)

# Tables holding per-job key ranges, cleared when a job is deleted (status and config last).
JOB_DATA_TABLES = (JOURNAL, SNAPSHOTS, SNAPSHOT_STATE, BUCKETS, RECORDS, INFLUENCERS)
# Result tables, keyed job + bucket start (+ index for records and influencers).
RESULT_TABLES = (BUCKETS, RECORDS, INFLUENCERS)

NODE_ID = b"node_id"

_U64 = struct.Struct(">Q")
_INDEX = struct.Struct(">I")  # a result's index within its bucket
# Added to signed times so that negative ones sort before positive ones.
_TIME_BIAS = 1 << 63


def job_key(job_id: str) -> bytes:
    """The key of a job's configuration or status."""
    return job_id.encode()


def job_prefix(job_id: str) -> bytes:
    """The prefix of every per-job key of a job in range tables."""
    return job_id.encode() + b"\x00"


def journal_key(job_id: str, sequence: int) -> bytes:
    """The key of one entry of a job's journal of model updates."""
    return job_prefix(job_id) + _U64.pack(sequence)


def journal_sequence(key: bytes) -> int:
    """The sequence number of a journal key."""
    return int(_U64.unpack(key[-8:])[0])


def snapshot_key(job_id: str, snapshot_id: str) -> bytes:
    """The key of a model snapshot: its job, then its numeric id (creation order)."""
    return job_prefix(job_id) + _U64.pack(int(snapshot_id))


def result_key(job_id: str, time_ms: int, index: int = 0) -> bytes:
    """The key of a result: its job, bucket start (time order) and index within the bucket."""
    return result_time_prefix(job_id, time_ms) + _INDEX.pack(index)


def result_keys(job_id: str, time_ms: int, count: int) -> list[bytes]:
    """The keys of one bucket's results of indexes 0 to count - 1 (result_key's), built from one prefix."""
    prefix = result_time_prefix(job_id, time_ms)
    return [prefix + _INDEX.pack(index) for index in range(count)]


def result_time(key: bytes) -> int:
    """The bucket start (ms) of a result key."""
    return int(_U64.unpack(key[-12:-4])[0]) - _TIME_BIAS


def result_time_prefix(job_id: str, time_ms: int) -> bytes:
    """The prefix of every result of one bucket."""
    return job_prefix(job_id) + _U64.pack(time_ms + _TIME_BIAS)


def task_key(task_id: str) -> bytes:
    """The key of a task."""
    return task_id.encode()

