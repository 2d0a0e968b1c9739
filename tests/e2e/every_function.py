"""One job that uses every kind of detector function, and a seeded stream of events for it.

The crash and revert tests run it to check that every function's model state survives a
SIGKILL, a snapshot and a revert exactly as the core functions' state does.
"""

from __future__ import annotations

import json

import numpy as np

from anomalyd.v1 import job_pb2

START_S = 1_700_006_400  # Wednesday 2023-11-15 00:00 UTC
SPAN_S = 900
PER_DAY = 86_400 // SPAN_S
PER_HOUR = 3_600 // SPAN_S
BUCKETS = 2 * PER_DAY
RECORDS_PER_MESSAGE = 300

DETECTORS = (
    job_pb2.Detector(function="count", by_field_name="host", exclude_frequent="all"),
    job_pb2.Detector(function="high_sum", field_name="bytes", over_field_name="client"),
    job_pb2.Detector(function="mean", field_name="bytes", by_field_name="status", over_field_name="client"),
    job_pb2.Detector(function="high_distinct_count", field_name="port", over_field_name="host"),
    job_pb2.Detector(function="distinct_count", field_name="port", by_field_name="host"),
    job_pb2.Detector(function="high_info_content", field_name="query", by_field_name="client"),
    job_pb2.Detector(function="rare", by_field_name="process", partition_field_name="host"),
    job_pb2.Detector(function="rare", by_field_name="port", over_field_name="host"),
    job_pb2.Detector(function="freq_rare", by_field_name="uri", over_field_name="client"),
    job_pb2.Detector(function="time_of_day", by_field_name="user"),
    job_pb2.Detector(function="time_of_week", by_field_name="user", use_null=True),
    job_pb2.Detector(function="lat_long", field_name="location", by_field_name="user"),
    job_pb2.Detector(function="time_of_day", over_field_name="user"),
    job_pb2.Detector(function="time_of_week", over_field_name="user"),
    job_pb2.Detector(function="lat_long", field_name="location", over_field_name="user"),
)
INFLUENCERS = ("host", "client", "user")

_HOSTS = ("web-0", "web-1", "web-2", "web-3")
_CLIENTS = tuple(f"10.0.0.{i}" for i in range(12))
_USERS = {"ana": (48.85, 2.35), "bo": (40.71, -74.0), "chen": (31.23, 121.47)}
_PROCESSES = ("sshd", "nginx", "cron", "systemd")
_URIS = tuple(f"/page/{i}" for i in range(20))


def documents() -> list[dict[str, object]]:
    """Two days of 15-minute buckets: hosts, clients and office-hours users, with one incident of each kind on day 2."""
    rng = np.random.default_rng(5)
    docs: list[dict[str, object]] = []
    for b in range(BUCKETS):
        t0 = START_S + b * SPAN_S
        incident = b == PER_DAY + 14 * PER_HOUR  # day 2, 14:00
        for host in _HOSTS:
            for process in _PROCESSES:
                if rng.random() < 0.9:
                    port = str(rng.choice(["443", "80", "22"]))
                    docs.append({"time": t0 + int(rng.integers(SPAN_S)), "host": host, "process": process, "port": port})
        for client in _CLIENTS[: 6 + b % 6]:
            status = "200" if rng.random() < 0.9 else "404"
            query = "".join(rng.choice(list("abcde"), 6))
            docs.append({"time": t0 + int(rng.integers(SPAN_S)), "client": client, "bytes": float(rng.lognormal(8, 0.3)),
                         "status": status, "uri": str(rng.choice(_URIS[:8])), "query": query + ".example.com"})
        hour = (b % PER_DAY) // PER_HOUR
        for user, (lat, lon) in _USERS.items():
            if 8 <= hour < 18:
                docs.append({"time": t0 + 30, "user": user, "location": f"{lat + rng.normal(0, 0.05):.5f},{lon + rng.normal(0, 0.05):.5f}"})
        if incident:
            docs += [{"time": t0 + 10 + i, "host": "web-2", "port": str(1000 + i)} for i in range(150)]
            docs.append({"time": t0 + 200, "host": "web-1", "process": "mimikatz", "port": "31337"})
            docs += [{"time": t0 + 5 + i, "client": "10.0.0.3", "bytes": 9e6, "status": "200", "uri": f"/secret/{i}",
                      "query": "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), 40)) + ".x.io"}
                     for i in range(40)]
        if b == PER_DAY + 3 * PER_HOUR:  # day 2, 03:00, from Sydney
            docs.append({"time": t0 + 30, "user": "bo", "location": "-33.86000,151.20000"})
    return sorted(docs, key=lambda d: d["time"])  # type: ignore[arg-type,return-value]


def messages() -> list[bytes]:
    """documents() as NDJSON, RECORDS_PER_MESSAGE lines a message."""
    lines = [json.dumps(d).encode() + b"\n" for d in documents()]
    return [b"".join(lines[i:i + RECORDS_PER_MESSAGE]) for i in range(0, len(lines), RECORDS_PER_MESSAGE)]
