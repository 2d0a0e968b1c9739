"""The anomalyd server: `anomalyd serve --data-dir DIR --listen HOST:PORT`."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from anomalyd import logs
from anomalyd.api import tls
from anomalyd.api.auth import Authorizer
from anomalyd.api.interceptors import AuthInterceptor, MetricsInterceptor, ServingGate
from anomalyd.api.keystore import KeyStore
from anomalyd.api.results_servicer import ResultsServicer
from anomalyd.api.servicer import JobServicer
from anomalyd.api.snapshot_servicer import SnapshotServicer
from anomalyd.api.streams import DataStreams, StreamLimits
from anomalyd.core.jobs import JobManager
from anomalyd.core.repository import Repository
from anomalyd.core.results import ResultReader
from anomalyd.metrics import Metrics
from anomalyd.storage.lmdb_store import LmdbStore
from anomalyd.storage.store import StorageError
from anomalyd.v1 import (
    job_service_pb2,
    job_service_pb2_grpc,
    model_snapshot_service_pb2,
    model_snapshot_service_pb2_grpc,
    results_service_pb2,
    results_service_pb2_grpc,
)
from anomalyd.warmup import warm_up

T = TypeVar("T")
log = logging.getLogger("anomalyd")
SERVICE_NAMES = (
    job_service_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    results_service_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name,
    model_snapshot_service_pb2.DESCRIPTOR.services_by_name["ModelSnapshotService"].full_name,
)
# RPCs beyond the streams that may wait for a thread at once; more are refused by gRPC with
# RESOURCE_EXHAUSTED, so that a flood of requests cannot grow the server's memory without bound.
MAX_WAITING_REQUESTS = 1024
# The health service that answers SERVING while the process serves gRPC at all: a liveness probe
# must not fail because jobs are being restored or closed ("" is the readiness service).
LIVENESS_SERVICE = "liveness"
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
EXIT_STORAGE = os.EX_IOERR  # 74: the data directory cannot be used, damaged or unreadable
EXIT_CONFIG = os.EX_CONFIG  # 78: a TLS or keys file cannot be used, or the address is taken
GC_YOUNG_THRESHOLD = 50_000  # container allocations between young collections (CPython's default: 700)


@dataclass(frozen=True)
class Settings:
    """Server settings, from flags or ANOMALYD_* environment variables.

    Attributes:
        data_dir: the LMDB environment's directory.
        listen: HOST:PORT to serve on; port 0 picks a free port.
        port_file: when set, the bound port is written here once the server is ready.
        max_message_bytes: the largest data payload of one PostData message.
        max_upload_bytes: the largest data payload of one PostData stream (Elasticsearch's
            http.max_content_length, 100 MB, bounds one post-data request the same way).
        max_document_bytes: the largest single JSON document.
        max_streams: PostData streams open at once; one more is refused at once.
        max_open_jobs: jobs open at once (Elasticsearch's xpack.ml.max_open_jobs).
        stream_idle_timeout_s: how long a stream may wait between messages.
        workers: threads for requests other than PostData.
        grace_s: how long in-flight RPCs may finish on shutdown.
        persist_check_s: how often open jobs are checked for a due background snapshot.
        tls_cert: PEM certificate chain; with tls_key, the server speaks TLS only.
        tls_key: the PEM private key of tls_cert, unencrypted.
        tls_client_ca: PEM CA certificates; when set, every client must present a certificate
            one of them signed (mutual TLS).
        keys_file: when set, every call but health checks and reflection needs an API key of
            this file (see `anomalyd keys`), which is read again within a second of a change.
        metrics_listen: HOST:PORT of an HTTP server for Prometheus metrics at /metrics; none
            when unset.
        node_name: the node OpenJob and GetJobStats report for this server's jobs, e.g. its pod
            name, which clients can address; a random id kept in the data directory when empty.
    """

    data_dir: str
    listen: str = "127.0.0.1:50051"
    port_file: str | None = None
    max_message_bytes: int = 16 << 20
    max_upload_bytes: int = 100 << 20
    max_document_bytes: int = 1 << 20
    max_streams: int = 64
    max_open_jobs: int = 512
    stream_idle_timeout_s: float = 60.0
    workers: int = 16
    grace_s: float = 10.0
    persist_check_s: float = 60.0
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    keys_file: str | None = None
    metrics_listen: str | None = None
    node_name: str = ""


class Server:
    """A running anomalyd: the gRPC server on its own event loop, its jobs and its store.

    The event loop runs in a thread of its own, so that the server is started and stopped
    from plain synchronous code (the command line, tests) like any other object.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Checked before anything is opened: a bad file stops the start with a ValueError or
        # OSError naming it.
        self._credentials = tls.server_credentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
        self._authorizer = Authorizer(KeyStore(settings.keys_file)) if settings.keys_file else None
        self.store = LmdbStore(os.path.join(settings.data_dir, "lmdb"))
        self.jobs = JobManager(
            Repository(self.store),
            max_document_bytes=settings.max_document_bytes,
            max_open_jobs=settings.max_open_jobs,
            node=settings.node_name,
        )
        self.metrics = Metrics(self.jobs)
        self._metrics_http: WSGIServer | None = None
        self.metrics_port: int | None = None  # the bound port of --metrics-listen, when set
        if settings.metrics_listen:
            host, _, port = settings.metrics_listen.rpartition(":")
            self._metrics_http, _ = start_http_server(int(port), host or "0.0.0.0", self.metrics.registry)
            self.metrics_port = self._metrics_http.server_port
        self._requests = ThreadPoolExecutor(settings.workers, thread_name_prefix="rpc")
        self._streams = ThreadPoolExecutor(settings.max_streams, thread_name_prefix="stream")
        self._stopping = threading.Event()
        self._persister = threading.Thread(target=self._persist_loop, name="background-persist", daemon=True)
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="grpc-loop", daemon=True)
        self._loop_thread.start()
        self.port = self._on_loop(self._bind())
        self.jobs.transport_address = f"{settings.listen.rpartition(':')[0]}:{self.port}"

    async def _bind(self) -> int:
        settings = self.settings
        # gRPC's own cap sits above ours so that oversized messages get our precise status.
        limit = settings.max_message_bytes + (1 << 20)
        self._gate = ServingGate()
        interceptors: list[grpc.aio.ServerInterceptor] = [MetricsInterceptor(self.metrics), self._gate]
        if self._authorizer:
            interceptors.append(AuthInterceptor(self._authorizer))
        self.grpc = grpc.aio.server(
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
            maximum_concurrent_rpcs=settings.max_streams + MAX_WAITING_REQUESTS,
            interceptors=interceptors,
        )
        limits = StreamLimits(
            max_streams=settings.max_streams,
            max_message_bytes=settings.max_message_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            idle_timeout_s=settings.stream_idle_timeout_s,
        )
        streams = DataStreams(self.jobs, self._streams, limits)
        job_service_pb2_grpc.add_JobServiceServicer_to_server(
            JobServicer(self.jobs, pool=self._requests, streams=streams), self.grpc
        )
        results_service_pb2_grpc.add_ResultsServiceServicer_to_server(
            ResultsServicer(ResultReader(self.jobs), pool=self._requests), self.grpc
        )
        model_snapshot_service_pb2_grpc.add_ModelSnapshotServiceServicer_to_server(
            SnapshotServicer(self.jobs, pool=self._requests), self.grpc
        )
        self.health = health.aio.HealthServicer()
        # grpcio-health-checking and grpcio-reflection have no type information.
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)  # type: ignore[no-untyped-call]
        reflection.enable_server_reflection(  # type: ignore[no-untyped-call]
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.grpc,
        )
        if self._credentials is None:
            port = self.grpc.add_insecure_port(settings.listen)
        else:
            port = self.grpc.add_secure_port(settings.listen, self._credentials)
        if not port:
            raise OSError(f"cannot listen on {settings.listen}")
        return port

    def start(self) -> None:
        """Serve health checks, restore the jobs that were open, then serve everything.

        While jobs are restored the readiness service ("") is NOT_SERVING and anomalyd's RPCs
        fail with UNAVAILABLE/SERVER_DRAINING; the liveness service is SERVING throughout.
        """
        self._on_loop(self._listen())
        for part, seconds in warm_up():
            log.info("%s ready in %.2f s", part, seconds)
        self.jobs.recover()
        self._on_loop(self._serve())
        self._persister.start()
        if self.settings.port_file:
            temporary = self.settings.port_file + ".tmp"
            with open(temporary, "w") as f:
                f.write(str(self.port))
            os.replace(temporary, self.settings.port_file)
        log.info("anomalyd serving on port %d, data in %s", self.port, self.settings.data_dir)
        log.info(
            "TLS %s, client certificates %s, API keys %s",
            "on" if self._credentials else "off",
            "required" if self.settings.tls_client_ca else "not required",
            f"required ({self.settings.keys_file})" if self._authorizer else "not required: every client may call every RPC",
        )

    async def _listen(self) -> None:
        await self.grpc.start()
        await self.health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._set_readiness(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def _serve(self) -> None:
        self._gate.why_closed = None
        await self._set_readiness(health_pb2.HealthCheckResponse.SERVING)

    async def _set_readiness(self, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    def stop(self) -> None:
        """Drain RPCs, close open jobs gracefully (they reopen at the next start), release the store."""
        self._stopping.set()
        self._on_loop(self._drain())
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
        if self._persister.is_alive():
            self._persister.join()
        self.jobs.shutdown()
        self._requests.shutdown()
        self._streams.shutdown()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join()
        self._loop.close()
        self.store.close()

    async def _drain(self) -> None:
        self._gate.why_closed = "the server is shutting down"
        await self._set_readiness(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.grpc.stop(self.settings.grace_s)

    def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def _persist_loop(self) -> None:
        while not self._stopping.wait(self.settings.persist_check_s):
            try:
                self.jobs.persist_due()
            except Exception:  # a failed snapshot must not stop the next ones
                log.exception("background persist failed")


def collect_garbage_less_often() -> None:
    """Leave what the imports, warm-up and restore made out of cycle collection, and collect 70 times less often.

    CPython collects its youngest generation every 700 container allocations net; closing a
    bucket makes a few dozen (its result, records, the engine's leaves), so a message of
    10,000 buckets ran hundreds of collections, each traversing the message's results still
    alive: 15-20 % of the engine's CPU time on NAB (bench/nab_manager.py). The objects here are
    freed by reference counting; cycles, rare, wait longer.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def main(argv: list[str] | None = None) -> None:
    """Run the server until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="anomalyd serve", description="Run the anomalyd gRPC server.")
    defaults = Settings(data_dir="./anomalyd-data")
    for flag, kind, default, text in (
        ("data-dir", str, defaults.data_dir, "the directory of the server's LMDB environment"),
        ("listen", str, defaults.listen, "HOST:PORT to serve on; port 0 picks a free one"),
        ("port-file", str, None, "write the bound port here once serving"),
        ("max-message-bytes", int, defaults.max_message_bytes, "the largest payload of one PostData message"),
        ("max-upload-bytes", int, defaults.max_upload_bytes, "the largest payload of one PostData stream"),
        ("max-streams", int, defaults.max_streams, "PostData streams open at once"),
        ("max-open-jobs", int, defaults.max_open_jobs, "jobs open at once"),
        ("stream-idle-timeout", float, defaults.stream_idle_timeout_s, "seconds a stream may wait between messages"),
        ("workers", int, defaults.workers, "threads for requests other than PostData"),
        ("log-level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
        ("log-format", str, "text", "text for a terminal, json for one object a line"),
        ("metrics-listen", str, None, "HOST:PORT to serve Prometheus metrics on, at /metrics"),
        ("node-name", str, "", "the node reported for this server's jobs (a pod name); default: a stored random id"),
        ("tls-cert", str, None, "PEM certificate chain; with --tls-key, serve TLS only"),
        ("tls-key", str, None, "the PEM private key of --tls-cert, unencrypted"),
        ("tls-client-ca", str, None, "PEM CAs whose client certificates are required (mutual TLS)"),
        ("keys-file", str, None, "require API keys of this file on every call (see: anomalyd keys)"),
    ):
        env = "ANOMALYD_" + flag.upper().replace("-", "_")
        # argparse converts a string default with type, so a bad variable fails like a bad flag.
        parser.add_argument(f"--{flag}", type=kind, default=os.environ.get(env, default), help=f"{text} (env {env})")
    args = parser.parse_args(argv)
    if args.log_format not in logs.FORMATS:
        parser.error(f"--log-format must be one of {', '.join(logs.FORMATS)}, not {args.log_format!r}")
    logs.configure(args.log_level, args.log_format)
    faulthandler.enable()  # a fatal signal (SIGBUS from a damaged file, say) leaves a traceback in the log
    settings = Settings(
        data_dir=args.data_dir,
        listen=args.listen,
        port_file=args.port_file,
        max_message_bytes=args.max_message_bytes,
        max_upload_bytes=args.max_upload_bytes,
        max_streams=args.max_streams,
        max_open_jobs=args.max_open_jobs,
        stream_idle_timeout_s=args.stream_idle_timeout,
        workers=args.workers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        keys_file=args.keys_file,
        metrics_listen=args.metrics_listen,
        node_name=args.node_name,
    )
    # Blocked before any thread starts, so every thread inherits the mask and only the main thread's
    # sigwait takes them: a Python handler runs only on the main thread, and a SIGTERM the kernel
    # hands to a gRPC or pool thread would set no event while the main thread sleeps in a wait.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        server = Server(settings)
    except StorageError as err:
        log.critical("cannot start: %s", err)
        sys.exit(EXIT_STORAGE)
    except (OSError, ValueError) as err:
        log.critical("cannot start: %s", err)
        sys.exit(EXIT_CONFIG)
    server.start()
    collect_garbage_less_often()
    signal.sigwait(_STOP_SIGNALS)
    log.info("stopping: closing open jobs")
    server.stop()


if __name__ == "__main__":
    main()
