"""The in-memory runtime of an open job."""

from __future__ import annotations

import threading

from anomalyd.bucket_time import now_ms
from anomalyd.core.config import JobConfig
from anomalyd.core.domain import JobStatus
from anomalyd.core.ingest import Ingestor
from anomalyd.core.rescorable import RescorableTimes
from anomalyd.engine.analyzer import JobAnalyzer


class OpenJob:
    """An open job: its counts, its analysis and their locks.

    Args:
        config: the job.
        status: its status, changed in place while it is open.
        analyzer: its restored model.
        restore_s: how long restoring the model took when it opened (s).
    """

    def __init__(self, config: JobConfig, status: JobStatus, analyzer: JobAnalyzer, restore_s: float) -> None:
        self.config = config
        self.status = status
        self.restore_s = restore_s
        self.ingestor = Ingestor(config, status.ingest)
        self.analyzer = analyzer
        self.lock = threading.Lock()  # serialises the processing of this job's data
        self.streaming = False  # guarded by JobManager._lock
        self.forced = False
        self.closed = threading.Event()
        self.last_snapshot_ms = now_ms()
        # Persistence's: the renormalisation point (journal sequence, window end and length)
        # whose stored results were last renormalised, and whether apply() renormalised results
        # its caller has not yet committed.
        self.renormalised_at: tuple[int, int | None, int] | None = None
        self.renormalised_pending = False
        self.rescorable = RescorableTimes()  # Persistence's: the stored results renormalisation reads
        # Set while a DataStream journals messages together (the lock held): Persistence then
        # holds back entries that store no result for the next write (Repository.hold).
        self.holding_journal = False

    def finalize_point(self) -> int | None:
        """The end to finalise the analysis to, when the ingestor has finalised past it."""
        end = self.status.ingest.finalized_end_ms
        done = self.analyzer.last_finalized_end_ms
        return end if end is not None and (done is None or end > done) else None
