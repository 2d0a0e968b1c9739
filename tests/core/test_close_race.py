"""A graceful close racing a PostData message, and a crash at the instant the close stores its status."""

from __future__ import annotations

import threading
from pathlib import Path

from anomalyd.core.batch_codec import decode_batch
from anomalyd.core.domain import JobState
from anomalyd.core.jobs import JobManager
from anomalyd.core.repository import Repository
from anomalyd.storage.lmdb_store import LmdbStore
from tests.core.harness import CONFIG, T0, harness, line


def records(first_s: int, last_s: int) -> bytes:
    """One record a second of the first bucket, from first_s to last_s: none finalises a bucket."""
    return b"".join(line(T0 + s * 1000, "ab"[s % 2], float(s)) for s in range(first_s, last_s + 1))


def wait_until_closing(manager: JobManager, job_id: str) -> None:
    """Wait for a close to mark the job closing, then for the manager's lock it did so under to be let go.

    Polls the job's state, which no notification announces; the test fails, not hangs, if it never comes.
    """
    job = manager._open[job_id]
    marked = threading.Event()
    for _ in range(10_000):
        if job.status.state == JobState.CLOSING:
            marked.set()
            break
        marked.wait(0.001)
    assert marked.is_set(), "the close never marked the job closing"
    with manager._lock:
        pass


def restored_counts_and_journal(path: Path, job_id: str) -> tuple[tuple[int, int | None], tuple[int, int | None]]:
    """After a restart from path: (records counted, latest record time) of the job, and of its journal's batches."""
    store = LmdbStore(str(path))
    try:
        repository = Repository(store)
        manager = JobManager(repository, max_document_bytes=1 << 20, max_open_jobs=2)
        manager.recover()
        totals = manager.status(job_id).ingest.totals
        batches = [decode_batch(e.batch) for _, e in repository.journal(job_id, 0) if e.batch is not None]
        journaled = (sum(len(b.times) for b in batches), max((int(b.times.max()) for b in batches), default=None))
        manager.shutdown()
        return (totals.processed_record_count, totals.latest_record_timestamp), journaled
    finally:
        store.close()


def test_a_crash_as_a_graceful_close_stores_its_status_restores_counts_its_journal_replays(tmp_path):
    crashed = tmp_path / "crashed"
    with harness(tmp_path / "live") as job:
        job.upload(records(0, 9))
        stream = job.manager.stream(job.job_id)
        close = threading.Thread(target=job.manager.close, args=(job.job_id,),
                                 kwargs={"allow_no_match": False, "force": False, "timeout_s": None})
        try:
            with stream.together():
                stream.post_json(records(10, 19))  # counted, its journal entry held back
                close.start()
                wait_until_closing(job.manager, job.job_id)
                crashed.mkdir()
                job.store._env.copy(str(crashed))  # what a crash now leaves on disk
            stream.finish()
        finally:
            stream.release()
            close.join()
        assert job.repository.status(job.job_id).state == JobState.CLOSED
        assert job.repository.status(job.job_id).ingest.totals.processed_record_count == 20
    counts, journaled = restored_counts_and_journal(crashed, CONFIG.job_id)
    assert counts == journaled
