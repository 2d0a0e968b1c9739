"""Model snapshot retention follows Elasticsearch's cleanup."""

from __future__ import annotations

from anomalyd.core.config import DetectorConfig, JobConfig
from anomalyd.core.domain import SnapshotMeta
from anomalyd.core.ingest import IngestState
from anomalyd.core.retention import DAY_MS, expired

HOUR_MS = 3_600_000
INGEST = IngestState.new(JobConfig(job_id="j", detectors=(DetectorConfig("count"),)))


def snapshot(hours: float, *, retain: bool = False) -> SnapshotMeta:
    at = int(hours * HOUR_MS)
    return SnapshotMeta(str(at), at, "", 0, INGEST, None, None, None, 0, 0, retain=retain)


def test_old_snapshots_go_and_older_days_keep_one():
    # Every 6 hours for 12 days; the newest is at 288 h.
    snaps = [snapshot(h) for h in range(0, 289, 6)]
    doomed = set(expired(snaps, active_id=snaps[-1].snapshot_id, retention_days=10, daily_after_days=1))
    kept = [s for s in snaps if s.snapshot_id not in doomed]
    newest = snaps[-1].timestamp_ms
    assert all(s.timestamp_ms >= newest - 10 * DAY_MS for s in kept)
    older_than_a_day = [s for s in kept if s.timestamp_ms < newest - DAY_MS]
    days = [s.timestamp_ms // DAY_MS for s in older_than_a_day]
    assert len(days) == len(set(days)) and len(days) >= 8
    assert [s for s in kept if s.timestamp_ms >= newest - DAY_MS] == [s for s in snaps if s.timestamp_ms >= newest - DAY_MS]


def test_retained_and_active_snapshots_stay():
    snaps = [snapshot(0, retain=True), snapshot(1), snapshot(2), snapshot(24 * 30)]
    assert expired(snaps, active_id=snaps[1].snapshot_id, retention_days=10, daily_after_days=1) == [snaps[2].snapshot_id]
