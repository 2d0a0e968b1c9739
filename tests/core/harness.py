"""A job run in-process through the JobManager, on a real LMDB store in a temporary directory."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from anomalyd.core.config import DetectorConfig, JobConfig
from anomalyd.core.data_stream import UploadCounts
from anomalyd.core.domain import SnapshotMeta
from anomalyd.core.jobs import JobManager
from anomalyd.core.open_job import OpenJob
from anomalyd.core.persistence import apply
from anomalyd.core.repository import Repository
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.results import BucketResult
from anomalyd.storage.lmdb_store import LmdbStore

SPAN_S = 300
SPAN = SPAN_S * 1000
T0 = 1_700_000_000_000 // SPAN * SPAN
CONFIG = JobConfig(
    "j",
    detectors=(
        DetectorConfig("count"), DetectorConfig("mean", field_name="value", by_field_name="host"),
        DetectorConfig("rare", by_field_name="host"), DetectorConfig("count", by_field_name="host", exclude_frequent="by"),
        DetectorConfig("high_sum", field_name="value", over_field_name="host"),
    ),
    bucket_span_s=SPAN_S,
    influencers=("host",),
    time_format="epoch_ms",
)
ENCODE = msgspec.msgpack.Encoder().encode


def line(t_ms: int, host: str = "a", value: float = 1.0) -> bytes:
    """One NDJSON record."""
    return b'{"time": %d, "host": "%s", "value": %r}\n' % (t_ms, host.encode(), value)


class Harness:
    """One job of a JobManager over a store in path, opened."""

    def __init__(self, path: Path, config: JobConfig = CONFIG) -> None:
        self.store = LmdbStore(str(path))
        self.repository = Repository(self.store)
        self.manager = JobManager(self.repository, max_document_bytes=1 << 20, max_open_jobs=2)
        self.job_id = config.job_id
        self.manager.put_job(config)
        self.manager.open_job(self.job_id)

    @property
    def live(self) -> OpenJob:
        """The open job."""
        return self.manager._open[self.job_id]

    def upload(self, data: bytes | list[bytes], reset: tuple[int, int | None] | None = None) -> UploadCounts:
        """One PostData stream of data, resetting a range first when given; a list's chunks are journaled together, as PostData's pool does."""
        stream = self.manager.stream(self.job_id)
        try:
            if reset is not None:
                stream.reset(*reset)
            if isinstance(data, bytes):
                stream.post_json(data)
            else:
                with stream.together():
                    for chunk in data:
                        stream.post_json(chunk)
            return stream.finish()
        finally:
            stream.release()

    def flush(self, **options: int | bool | None) -> int | None:
        """FlushJob."""
        return self.manager.flush(self.job_id, **options)  # type: ignore[arg-type]

    def snapshot(self) -> SnapshotMeta:
        """A snapshot on request."""
        return self.manager.create_snapshot(self.job_id, description="", retain=False)

    def reopen(self, *, force: bool = False) -> None:
        """Close the job (by force when asked) and open it again."""
        self.manager.close(self.job_id, allow_no_match=False, force=force, timeout_s=None)
        self.manager.open_job(self.job_id)

    def restorable(self) -> list[SnapshotMeta | None]:
        """The snapshots whose journal is complete to now; None for the empty model when its journal (from journal_start) is."""
        journal = self.repository.journal(self.job_id, 0)
        first = journal[0][0] if journal else self.live.status.journal_sequence
        snapshots: list[SnapshotMeta | None] = [s for s in self.repository.snapshots(self.job_id) if s.journal_sequence >= first]
        return snapshots + ([None] if first <= self.live.status.journal_start else [])

    def replay(self, snapshot: SnapshotMeta | None) -> tuple[JobAnalyzer, list[BucketResult]]:
        """A snapshot's model with the journal after it applied, and the results it finalised."""
        spec = self.live.config.analysis_spec()
        if snapshot is None:
            analyzer = JobAnalyzer(spec)
        else:
            state = self.repository.snapshot_state(self.job_id, snapshot.snapshot_id)
            assert state is not None
            analyzer = JobAnalyzer.from_state(spec, state)
        start = self.live.status.journal_start if snapshot is None else snapshot.journal_sequence
        results = [r for _, entry in self.repository.journal(self.job_id, start) for r in apply(analyzer, entry)]
        return analyzer, results

    def stored_status(self) -> bytes:
        """The job's status as a restore reads it."""
        return ENCODE(self.repository.status(self.job_id))

    def stored_results(self) -> list[BucketResult]:
        """Every stored result, oldest first, with its records and influencers."""
        return self.repository.full_results(self.job_id, -(2**62))

    def close(self) -> None:
        """Close the job and the store."""
        self.manager.close(self.job_id, allow_no_match=False, force=True, timeout_s=None)
        self.store.close()


@contextmanager
def harness(path: Path, config: JobConfig = CONFIG) -> Iterator[Harness]:
    """A Harness closed at the end."""
    h = Harness(path, config)
    try:
        yield h
    finally:
        h.close()


def as_scored(results: Iterable[BucketResult]) -> list[bytes]:
    """Results as first scored: renormalisation only moves the current scores off the initial ones."""
    return [ENCODE(_initial(r)) for r in results]


def _initial(result: BucketResult) -> BucketResult:
    return dataclasses.replace(
        result,
        anomaly_score=result.initial_anomaly_score,
        bucket_influencers=[dataclasses.replace(b, anomaly_score=b.initial_anomaly_score) for b in result.bucket_influencers],
        records=[dataclasses.replace(r, record_score=r.initial_record_score) for r in result.records],
        influencers=[dataclasses.replace(i, influencer_score=i.initial_influencer_score) for i in result.influencers],
    )
