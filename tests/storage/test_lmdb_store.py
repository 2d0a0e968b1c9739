"""The LMDB store: it grows instead of failing, and prefix scans stay within a job."""

from __future__ import annotations

import os
import threading

from anomalyd.storage import keys
from anomalyd.storage.lmdb_store import LmdbStore
from anomalyd.storage.store import Transaction


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


def test_put_many_stores_as_put_does_and_grows_the_map(tmp_path):
    """put_many overwrites existing keys, keeps the last of a repeated key, and a full map grows for it too."""
    store = LmdbStore(str(tmp_path), map_size=1 << 20)
    store.update(lambda txn: txn.put(keys.JOURNAL, keys.journal_key("j", 1), b"old"))
    blob = os.urandom(256 << 10)
    items = [(keys.journal_key("j", i), blob) for i in range(2, 10)]  # 2 MiB into a 1 MiB map
    store.update(lambda txn: txn.put_many(keys.JOURNAL, [(keys.journal_key("j", 1), b"new"), *items, (keys.journal_key("j", 0), b"a"),
                                                         (keys.journal_key("j", 0), b"b")]))
    found = store.view(lambda txn: list(txn.scan(keys.JOURNAL, keys.job_prefix("j"))))
    assert found == [(keys.journal_key("j", 0), b"b"), (keys.journal_key("j", 1), b"new"), *items]
    store.update(lambda txn: txn.put_many(keys.JOURNAL, []))
    store.close()


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


def test_result_keys_are_result_key_of_each_index():
    assert keys.result_keys("j", -5, 3) == [keys.result_key("j", -5, i) for i in range(3)]
    assert keys.result_keys("j", 5, 0) == []


def test_the_last_key_of_a_prefix_is_found_among_its_neighbours(tmp_path):
    store = LmdbStore(str(tmp_path))

    def put_all(txn: Transaction) -> None:
        for job_id in ("jo", "job", "job1", "jo\xff"):  # "jo\xff" sorts last
            for t in (-1_000, 5, 1_700_000_000_000):
                txn.put(keys.BUCKETS, keys.result_key(job_id, t, 3), b"")

    store.update(put_all)

    def last(prefix: bytes) -> bytes | None:
        return store.view(lambda txn: txn.last_key(keys.BUCKETS, prefix))

    assert keys.result_time(last(keys.job_prefix("job"))) == 1_700_000_000_000
    assert last(keys.result_time_prefix("job", 5)) == keys.result_key("job", 5, 3)
    assert last(b"jo") == keys.result_key("jo\xff", 1_700_000_000_000, 3)  # the table's last key
    assert last(keys.job_prefix("jo\xff") + b"\xff" * 8) is None  # a prefix of all-0xff bytes after a key
    assert last(keys.job_prefix("missing")) is None
    assert last(keys.job_prefix("a")) is None  # before every key
    store.close()


def test_a_query_answers_while_a_write_transaction_is_held(tmp_path):
    """A read does not queue behind the writer: it sees the last commit while the next one is open."""
    store = LmdbStore(str(tmp_path))
    store.update(lambda txn: txn.put(keys.JOBS, b"job", b"committed"))
    inside, release = threading.Event(), threading.Event()
    released_by_reader: list[bool] = []

    def write(txn) -> None:
        txn.put(keys.JOBS, b"job", b"uncommitted")
        inside.set()
        # A deadlock guard, not a measurement: a read that waited for this write would let it
        # time out instead of being released.
        released_by_reader.append(release.wait(60))

    writer = threading.Thread(target=store.update, args=(write,))
    writer.start()
    assert inside.wait(60)
    seen = store.view(lambda txn: txn.get(keys.JOBS, b"job"))
    release.set()
    writer.join()
    assert seen == b"committed"
    assert released_by_reader == [True]
    assert store.view(lambda txn: txn.get(keys.JOBS, b"job")) == b"uncommitted"
    store.close()


def test_the_map_grows_while_reads_go_on(tmp_path):
    store = LmdbStore(str(tmp_path), map_size=1 << 20)
    blob = os.urandom(256 << 10)
    written = threading.Event()
    counts: list[int] = []

    def read() -> None:
        while not written.is_set():
            counts.append(store.view(lambda txn: sum(1 for _ in txn.scan(keys.JOURNAL, keys.job_prefix("big")))))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(32):  # 8 MiB into a 1 MiB map: three grows
        store.update(lambda txn, i=i: txn.put(keys.JOURNAL, keys.journal_key("big", i), blob))
    written.set()
    reader.join()
    assert counts == sorted(counts) and counts[-1] <= 32
    assert store.view(lambda txn: sum(1 for _ in txn.scan(keys.JOURNAL, keys.job_prefix("big")))) == 32
    store.close()
