"""Seeded event streams for the rare functions' tests: routine values, and one planted incident each."""

from __future__ import annotations

import numpy as np

SPAN_S = 900
START_S = 1_700_006_400  # a midnight, UTC
BUCKETS = 3 * 96  # three days of 15-minute buckets
INCIDENT_S = START_S + 2 * 86_400 + 14 * 3_600  # day 3, 14:00


def _times(rng: np.random.Generator, bucket: int, n: int) -> list[int]:
    return sorted((START_S + bucket * SPAN_S + rng.integers(0, SPAN_S, n)).tolist())


def process_stream(planted: bool, seed: int = 11) -> list[dict[str, object]]:
    """Processes on four hosts: six routine ones in most buckets, two occasional; web-2 runs mimikatz once."""
    rng = np.random.default_rng(seed)
    hosts = [f"web-{i}" for i in range(4)]
    routine = ["sshd", "nginx", "cron", "systemd", "rsyslogd", "python3"]
    occasional = ["apt", "logrotate"]
    docs: list[dict[str, object]] = []
    for b in range(BUCKETS):
        for host in hosts:
            # Every process runs in the first bucket (the hosts boot), then as it is scheduled.
            names = [p for p in routine if b == 0 or rng.random() < 0.9] + [p for p in occasional if b == 0 or rng.random() < 0.2]
            docs += [{"time": t, "host": host, "process": p} for p in names for t in _times(rng, b, int(rng.integers(1, 4)))]
        if planted and START_S + b * SPAN_S == INCIDENT_S:
            docs.append({"time": INCIDENT_S + 60, "host": "web-2", "process": "mimikatz"})
    return sorted(docs, key=lambda d: d["time"])  # type: ignore[arg-type,return-value]


def port_stream(planted: bool, seed: int = 8) -> list[dict[str, object]]:
    """Ports 30 hosts connect to: five common ones, a database port ten hosts use; host-7 uses 31337 once."""
    rng = np.random.default_rng(seed)
    hosts = [f"host-{i}" for i in range(30)]
    common = ["443", "80", "53", "22", "123"]
    docs: list[dict[str, object]] = []
    for b in range(BUCKETS):
        for i, host in enumerate(hosts):
            ports = [p for p in common if rng.random() < 0.8] + (["5432"] if i < 10 and rng.random() < 0.7 else [])
            docs += [{"time": t, "host": host, "port": p} for p in ports for t in _times(rng, b, int(rng.integers(1, 3)))]
        if planted and START_S + b * SPAN_S == INCIDENT_S:
            docs.append({"time": INCIDENT_S + 60, "host": "host-7", "port": "31337"})
    return sorted(docs, key=lambda d: d["time"])  # type: ignore[arg-type,return-value]


def uri_stream(planted: bool, seed: int = 9) -> list[dict[str, object]]:
    """Requests of 40 clients to 30 URIs of Zipf popularity; client-13 scrapes 30 never-seen URIs for an hour."""
    rng = np.random.default_rng(seed)
    clients = [f"client-{i}" for i in range(40)]
    uris = [f"/page/{k}" for k in range(30)]
    popularity = 1.0 / np.arange(1, 31)
    popularity /= popularity.sum()
    docs: list[dict[str, object]] = []
    for b in range(BUCKETS):
        for client in clients:
            n = int(rng.integers(2, 8))
            docs += [{"time": t, "client": client, "uri": uris[k]} for t, k in zip(_times(rng, b, n), rng.choice(30, n, p=popularity), strict=True)]
        start = START_S + b * SPAN_S
        if planted and INCIDENT_S <= start < INCIDENT_S + 3_600:
            docs += [{"time": t, "client": "client-13", "uri": f"/admin/{b}/{k}"} for k, t in enumerate(_times(rng, b, 30))]
    return sorted(docs, key=lambda d: d["time"])  # type: ignore[arg-type,return-value]


def login_stream(seed: int = 10) -> list[dict[str, object]]:
    """Logins: a service account and two staff in every bucket, alice in about 5 % of them; svc and alice burst at once."""
    rng = np.random.default_rng(seed)
    docs: list[dict[str, object]] = []
    for b in range(BUCKETS):
        start = START_S + b * SPAN_S
        counts = {"svc": int(rng.poisson(20)), "bob": int(rng.poisson(5)), "carol": int(rng.poisson(5))}
        if rng.random() < 0.05:
            counts["alice"] = int(rng.integers(1, 3))
        if start == INCIDENT_S:
            counts.update(svc=200, alice=40)
        docs += [{"time": t, "user": user} for user, n in counts.items() for t in _times(rng, b, n)]
    return sorted(docs, key=lambda d: d["time"])  # type: ignore[arg-type,return-value]
