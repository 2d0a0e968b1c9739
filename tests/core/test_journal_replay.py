"""What is replayed is what was done: any sequence of uploads, flushes, snapshots and closes.

After every step, each snapshot whose journal is complete, with the journal after it replayed,
gives the live job's model state byte for byte and the stored results as they were first
scored; the stored counts are the live ones; a close and reopen (graceful or forced) restores
the same model and counts.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.core.harness import ENCODE, SPAN, T0, Harness, as_scored, line

RECORDS = st.lists(
    st.tuples(st.integers(-3, 4), st.integers(0, SPAN // 1000 - 1), st.sampled_from("abc"), st.floats(0, 100, width=32)),
    max_size=25,
)
RESETS = st.none() | st.tuples(st.integers(-4, 0), st.integers(1, 3))


class JobSteps(RuleBasedStateMachine):
    """A job driven by random steps, checked against replay after each one."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.job = Harness(Path(self.directory.name))
        self.now = T0  # the newest time sent, ms

    def teardown(self) -> None:
        self.job.close()
        self.directory.cleanup()

    @rule(records=RECORDS, malformed=st.booleans(), reset=RESETS, chunks=st.none() | st.integers(1, 4))
    def upload(self, records: list[tuple[int, int, str, float]], malformed: bool, reset: tuple[int, int] | None, chunks: int | None) -> None:
        """An upload of one message, or of chunks journaled together."""
        times = [self.now + buckets * SPAN + second * 1000 for buckets, second, _, _ in records]
        lines = [line(t, host, value) for t, (_, _, host, value) in zip(times, records, strict=True)]
        if malformed:
            lines.insert(0, b"{not json}\n")
        reset_range = None if reset is None else (self.now + reset[0] * SPAN, self.now + (reset[0] + reset[1]) * SPAN)
        cuts = [len(lines) * k // (chunks or 1) for k in range((chunks or 1) + 1)]
        data = b"".join(lines) if chunks is None else [b"".join(lines[a:b]) for a, b in itertools.pairwise(cuts)]
        self.job.upload(data, reset_range)
        self.now = max([self.now, *times])

    @rule(calc_interim=st.booleans(), skip=st.none() | st.integers(1, 40), advance=st.none() | st.integers(0, 4))
    def flush(self, calc_interim: bool, skip: int | None, advance: int | None) -> None:
        skip_ms = None if skip is None else self.now + skip * SPAN
        advance_ms = None if advance is None else (skip_ms or self.now) + (advance + 1) * SPAN
        self.job.flush(calc_interim=calc_interim, skip_time_ms=skip_ms, advance_time_ms=advance_ms)
        self.now = max(t for t in (self.now, skip_ms, advance_ms) if t is not None)

    @rule()
    def snapshot(self) -> None:
        self.job.snapshot()

    @rule(force=st.booleans())
    def close_and_reopen(self, force: bool) -> None:
        before = self.job.live.analyzer.to_state(), _kept_over_reopen(self.job)
        self.job.reopen(force=force)
        assert (self.job.live.analyzer.to_state(), _kept_over_reopen(self.job)) == before

    @invariant()
    def replay_gives_the_live_job(self) -> None:
        job = self.job
        assert job.stored_status() == ENCODE(job.live.status)
        live_state = job.live.analyzer.to_state()
        finalized_end = job.live.analyzer.last_finalized_end_ms
        stored = job.stored_results()
        assert all(finalized_end is None or r.timestamp_ms >= finalized_end for r in stored if r.is_interim)
        restorable = job.restorable()
        assert restorable, "no snapshot, nor the whole journal, restores the job"
        for snapshot in restorable:
            analyzer, results = job.replay(snapshot)
            assert analyzer.to_state() == live_state
            since = None if snapshot is None else snapshot.latest_result_time_ms
            expected = [r for r in stored if not r.is_interim and (since is None or r.timestamp_ms > since)]
            assert as_scored(results) == as_scored(expected)


def _kept_over_reopen(job: Harness) -> tuple[bytes, int | None, int | None]:
    """What a reopen keeps of a job's ingest state (each open starts a new bucket-diagnostics window)."""
    ingest = job.live.status.ingest
    return ENCODE(ingest.totals), ingest.finalized_end_ms, ingest.first_bucket_ms


TestJobSteps = JobSteps.TestCase
TestJobSteps.settings = settings(max_examples=50, stateful_step_count=12, deadline=None)
