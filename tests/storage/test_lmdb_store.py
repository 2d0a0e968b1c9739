"""The LMDB store: it grows instead of failing, and prefix scans stay within a job."""

from __future__ import annotations

import os

from anomalyd.storage import keys
from anomalyd.storage.lmdb_store import LmdbStore


def test_store_grows_when_the_map_fills(tmp_path):
    store = LmdbStore(str(tmp_path), map_size=1 << 20)
    blob = os.urandom(256 << 10)
    for i in range(64):  # 16 MiB into a 1 MiB map
        store.update(lambda txn, i=i: txn.put(keys.JOURNAL, keys.journal_key("big", i), blob))
    assert store.view(lambda txn: sum(1 for _ in txn.scan(keys.JOURNAL, keys.job_prefix("big")))) == 64
    store.close()
    reopened = LmdbStore(str(tmp_path), map_size=1 << 20)
    assert reopened.view(lambda txn: txn.get(keys.JOURNAL, keys.journal_key("big", 63))) == blob
    reopened.close()


def test_job_prefixes_do_not_overlap(tmp_path):
    store = LmdbStore(str(tmp_path))
    for job_id in ("job", "job1", "job-a", "jo"):
        store.update(lambda txn, j=job_id: txn.put(keys.JOURNAL, keys.journal_key(j, 0), j.encode()))
    found = store.view(lambda txn: [v for _, v in txn.scan(keys.JOURNAL, keys.job_prefix("job"))])
    assert found == [b"job"]
    store.close()


def test_journal_keys_sort_numerically():
    ordered = sorted(keys.journal_key("j", n) for n in (255, 1, 256, 70000))
    assert [keys.journal_sequence(k) for k in ordered] == [1, 255, 256, 70000]


def test_result_keys_sort_by_time_including_before_1970():
    times = [5, -5, 0, 1_700_000_000_000, -1_000]
    ordered = sorted(keys.result_key("j", t, i) for t in times for i in (2, 0))
    assert ordered == [keys.result_key("j", t, i) for t in sorted(times) for i in (0, 2)]
