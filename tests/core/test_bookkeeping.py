"""The bookkeeping of a job, in-process on a real store: each test guards a slip of one line."""

from __future__ import annotations

import msgspec
import pytest

from anomalyd.core.domain import JournalEntry
from anomalyd.core.persistence import renormalization_window_ms
from anomalyd.engine import renormalise
from tests.core.harness import CONFIG, SPAN, T0, harness, line


def counts_of(job, upload=None):
    """(processed records, malformed documents) of an upload's counts, or of the job's totals."""
    counts = job.live.status.ingest.totals if upload is None else upload.counts
    return counts.processed_record_count, counts.malformed_document_count


def buckets(first: int, last: int, per_bucket: int = 3) -> bytes:
    """Records in buckets first..last (counted from T0), hosts a and b."""
    return b"".join(
        line(T0 + b * SPAN + i * 1000, "ab"[i % 2], 10.0 + i) for b in range(first, last + 1) for i in range(per_bucket)
    )


def test_interim_results_are_replaced_when_their_bucket_is_finalised_or_the_next_flush_comes(tmp_path):
    with harness(tmp_path) as job:
        job.upload(buckets(0, 3))
        job.flush(calc_interim=True)
        assert [(r.timestamp_ms, r.is_interim) for r in job.stored_results()][-1] == (T0 + 3 * SPAN, True)
        job.upload(buckets(4, 4))  # finalises bucket 3
        at_3 = [r for r in job.stored_results() if r.timestamp_ms == T0 + 3 * SPAN]
        assert [r.is_interim for r in at_3] == [False]
        job.flush(calc_interim=True)
        job.flush()
        assert not [r for r in job.stored_results() if r.is_interim]


def test_an_upload_counts_its_own_records_and_the_totals_count_every_upload(tmp_path):
    with harness(tmp_path) as job:
        first = job.upload(buckets(0, 1))
        second = job.upload(buckets(2, 4))
        assert (counts_of(job, first), counts_of(job, second), counts_of(job)) == ((6, 0), (9, 0), (15, 0))
        assert (first.counts.input_bytes, second.counts.input_bytes) == (len(buckets(0, 1)), len(buckets(2, 4)))
        assert job.live.status.ingest.totals.input_bytes == len(buckets(0, 1)) + len(buckets(2, 4))


def test_malformed_documents_count_in_the_upload_and_in_the_totals_across_a_reopen(tmp_path):
    with harness(tmp_path) as job:
        first = job.upload(b'{"time": tru}\n[1, 2]\n' + buckets(0, 0))
        job.reopen()
        second = job.upload(b'"text"\n' + buckets(1, 1))
        assert (counts_of(job, first), counts_of(job, second), counts_of(job)) == ((3, 2), (3, 1), (6, 3))


def test_skip_and_reset_are_journaled_and_a_replay_gives_the_live_model(tmp_path):
    with harness(tmp_path) as job:
        job.upload(buckets(0, 5))
        job.flush(skip_time_ms=T0 + 20 * SPAN)
        job.upload(buckets(20, 21), reset=(T0 + 20 * SPAN, T0 + 21 * SPAN))
        journal = [entry for _, entry in job.repository.journal(job.job_id, 0)]
        assert JournalEntry(skip_ms=T0 + 20 * SPAN, finalize_ms=T0 + 20 * SPAN) in journal
        assert JournalEntry(reset=(T0 + 20 * SPAN, T0 + 21 * SPAN)) in journal
        live = job.live.analyzer.to_state()
        assert job.replay(None)[0].to_state() == live
        job.reopen(force=True)
        assert job.live.analyzer.to_state() == live


def test_quiet_buckets_teach_the_influencer_normaliser_that_they_had_no_anomaly(tmp_path):
    with harness(tmp_path) as job:
        job.upload(buckets(0, 5))
        job.flush(advance_time_ms=T0 + 6 * SPAN)
        zeros = job.live.analyzer.score_normalisers().influencers.hist[0, 0]
        job.flush(advance_time_ms=T0 + 16 * SPAN)  # buckets 6..15 closed without data
        learned = job.live.analyzer.score_normalisers().influencers.hist[0, 0]
        assert learned - zeros == pytest.approx(10, abs=0.05)  # ten zeros learned (less a little decay)
        job.reopen(force=True)
        assert job.live.analyzer.score_normalisers().influencers.hist[0, 0] == learned


def test_a_snapshot_renormalises_the_stored_results_of_the_window(tmp_path):
    with harness(tmp_path) as job:
        quiet = buckets(0, 60)
        spike = b"".join(line(T0 + 61 * SPAN + i, "a", 10_000.0) for i in range(50))
        job.upload(quiet + spike + buckets(62, 70))
        bigger = b"".join(line(T0 + 71 * SPAN + i, "b", 1e7) for i in range(500))
        job.upload(bigger + buckets(72, 75))
        stored = job.stored_results()
        pending = renormalise.renormalise(job.live.analyzer.score_normalisers(), stored)
        assert pending, "the data leaves scores for a snapshot to renormalise"
        job.snapshot()
        after = job.stored_results()
        assert renormalise.renormalise(job.live.analyzer.score_normalisers(), after) == []
        assert {r.timestamp_ms: r for r in after} == {r.timestamp_ms: r for r in stored} | {r.timestamp_ms: r for r in pending}


def test_a_snapshot_right_after_a_renormalisation_skips_it_as_it_would_change_nothing(tmp_path):
    with harness(tmp_path) as job:
        spike = b"".join(line(T0 + 61 * SPAN + i, "a", 10_000.0) for i in range(50))
        job.upload(buckets(0, 60) + spike + buckets(62, 70))
        live, persistence = job.live, job.manager.persistence
        assert live.renormalised_at == persistence._renormalisation_point(live), "the upload's message renormalised"
        stored = job.stored_results()
        assert renormalise.renormalise(live.analyzer.score_normalisers(), stored) == []
        job.snapshot()
        assert job.stored_results() == stored
        # A journal entry since: the next snapshot renormalises, and finds results to rewrite.
        job.upload(b"".join(line(T0 + 71 * SPAN + i, "b", 1e7) for i in range(500)) + buckets(72, 75))
        assert live.renormalised_at != persistence._renormalisation_point(live)
        before = job.stored_results()
        assert renormalise.renormalise(live.analyzer.score_normalisers(), before) != []
        job.snapshot()
        assert live.renormalised_at == persistence._renormalisation_point(live)
        assert job.stored_results() != before


def test_renormalisation_reads_every_rescorable_stored_result_of_its_window(tmp_path):
    def read_by_renormalisation(job) -> list[int]:
        """The stored results renormalisation reads now, checked against every stored result; their times."""
        live = job.live
        start = live.analyzer.last_finalized_end_ms - renormalization_window_ms(live.config)
        expected = [r for r in job.stored_results() if r.timestamp_ms >= start and renormalise.rescorable(r)]
        assert job.manager.persistence._rescorable_stored(live, start) == expected
        return [r.timestamp_ms for r in expected]

    def spike(bucket: int, value: float) -> bytes:
        return b"".join(line(T0 + bucket * SPAN + i, "a", value) for i in range(50))

    day = 86_400_000 // SPAN
    with harness(tmp_path, msgspec.structs.replace(CONFIG, renormalization_window_days=1)) as job:
        job.upload(buckets(0, 60) + spike(61, 10_000.0) + buckets(62, 70))
        first = read_by_renormalisation(job)
        assert T0 + 61 * SPAN in first
        job.upload(spike(71, 1e5) + buckets(72, 75))
        job.flush(calc_interim=True)
        second = read_by_renormalisation(job)
        assert set(first) < set(second)
        job.reopen()  # the reopened job knows nothing of its stored results until it reads them all
        job.upload(spike(76, 1e6) + buckets(77, 80))
        assert set(second) < set(read_by_renormalisation(job))
        job.upload(buckets(81, 62 + day) + spike(63 + day, 1e7) + buckets(64 + day, 70 + day))
        assert T0 + 61 * SPAN not in read_by_renormalisation(job)  # out of the window now


@pytest.mark.parametrize("failure", ["engine", "parse"])
def test_messages_journaled_together_before_a_failing_one_are_stored_and_restored(tmp_path, failure):
    with harness(tmp_path) as job, harness(tmp_path / "twin") as twin:
        chunks = [buckets(0, 1), buckets(2, 2), buckets(2, 2).replace(b'"a"', b'"c"'), buckets(3, 3)]  # the 2nd and 3rd store no result
        twin.upload(chunks[:3])
        stream = job.manager.stream(job.job_id)
        add = job.live.analyzer.add
        calls = []

        def failing_add(batch):
            calls.append(batch)
            if len(calls) == 4:
                raise RuntimeError("a model failed")
            add(batch)

        job.live.analyzer.add = failing_add
        with pytest.raises(Exception) as err, stream.together():
            for chunk in chunks[:3]:
                stream.post_json(chunk)
            stream.post_json(b'{"time": tru}\n' * 101 if failure == "parse" else chunks[3])
        assert type(err.value).__name__ == ("TooManyParseErrors" if failure == "parse" else "RuntimeError")
        stream.release()
        # What was stored of the job is what the twin, sent the three chunks alone, holds.
        assert job.repository.status(job.job_id).journal_sequence == twin.live.status.journal_sequence
        assert job.repository.status(job.job_id).ingest.totals.processed_record_count == counts_of(twin)[0]
        job.reopen(force=True)
        assert job.live.analyzer.to_state() == twin.live.analyzer.to_state()
        assert counts_of(job)[0] == counts_of(twin)[0]  # the malformed documents are counted too
