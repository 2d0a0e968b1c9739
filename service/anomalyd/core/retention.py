"""Which model snapshots retention removes."""

from __future__ import annotations

from anomalyd.bucket_time import DAY_MS
from anomalyd.core.domain import SnapshotMeta


def expired(
    snapshots: list[SnapshotMeta], *, active_id: str, retention_days: int, daily_after_days: int
) -> list[str]:
    """The snapshots retention removes, as Elasticsearch's model snapshot cleanup decides.

    Counting back from the newest snapshot, those older than retention_days go, and between
    daily_after_days and retention_days only the first of each UTC day stays. Retained and
    active snapshots always stay.
    """
    if not snapshots:
        return []
    newest = max(s.timestamp_ms for s in snapshots)
    cutoff = newest - retention_days * DAY_MS
    daily_cutoff = newest - daily_after_days * DAY_MS
    kept_days: set[int] = set()
    doomed = []
    for snapshot in sorted(snapshots, key=lambda s: s.timestamp_ms):
        day = snapshot.timestamp_ms // DAY_MS
        if snapshot.retain or snapshot.snapshot_id == active_id:
            kept_days.add(day)
        elif snapshot.timestamp_ms < cutoff:
            doomed.append(snapshot.snapshot_id)
        elif snapshot.timestamp_ms < daily_cutoff:
            if day in kept_days:
                doomed.append(snapshot.snapshot_id)
            kept_days.add(day)
    return doomed
