"""The anomalyd server: `anomalyd serve --data-dir DIR --listen HOST:PORT`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from anomalyd.api.results_servicer import ResultsServicer
from anomalyd.api.servicer import JobServicer
from anomalyd.api.snapshot_servicer import SnapshotServicer
from anomalyd.core.jobs import JobManager
from anomalyd.core.repository import Repository
from anomalyd.core.results import ResultReader
from anomalyd.storage.lmdb_store import LmdbStore
from anomalyd.v1 import (
    job_service_pb2,
    job_service_pb2_grpc,
    model_snapshot_service_pb2,
    model_snapshot_service_pb2_grpc,
    results_service_pb2,
    results_service_pb2_grpc,
)

log = logging.getLogger("anomalyd")
SERVICE_NAMES = (
    job_service_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    results_service_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name,
    model_snapshot_service_pb2.DESCRIPTOR.services_by_name["ModelSnapshotService"].full_name,
)


@dataclass(frozen=True)
class Settings:
    """Server settings, from flags or ANOMALYD_* environment variables.

    Attributes:
        data_dir: the LMDB environment's directory.
        listen: HOST:PORT to serve on; port 0 picks a free port.
        port_file: when set, the bound port is written here once the server is ready.
        max_message_bytes: the largest data payload of one PostData message.
        max_document_bytes: the largest single JSON document.
        workers: RPC worker threads (each active stream holds one).
        grace_s: how long in-flight RPCs may finish on shutdown.
        persist_check_s: how often open jobs are checked for a due background snapshot.
    """

    data_dir: str
    listen: str = "127.0.0.1:50051"
    port_file: str | None = None
    max_message_bytes: int = 16 << 20
    max_document_bytes: int = 1 << 20
    workers: int = 32
    grace_s: float = 10.0
    persist_check_s: float = 60.0


class Server:
    """A running anomalyd: the gRPC server, its jobs and its store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = LmdbStore(os.path.join(settings.data_dir, "lmdb"))
        self.jobs = JobManager(Repository(self.store), max_document_bytes=settings.max_document_bytes)
        self.health = health.HealthServicer()
        # gRPC's own cap sits above ours so that oversized messages get our precise status.
        limit = settings.max_message_bytes + (1 << 20)
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="rpc"),
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        )
        job_service_pb2_grpc.add_JobServiceServicer_to_server(
            JobServicer(self.jobs, max_message_bytes=settings.max_message_bytes), self.grpc
        )
        results_service_pb2_grpc.add_ResultsServiceServicer_to_server(ResultsServicer(ResultReader(self.jobs)), self.grpc)
        model_snapshot_service_pb2_grpc.add_ModelSnapshotServiceServicer_to_server(SnapshotServicer(self.jobs), self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.grpc,
        )
        self._stopping = threading.Event()
        self._persister = threading.Thread(target=self._persist_loop, name="background-persist", daemon=True)
        self.port = self.grpc.add_insecure_port(settings.listen)
        if not self.port:
            raise OSError(f"cannot listen on {settings.listen}")

    def start(self) -> None:
        """Recover jobs, then serve."""
        self.jobs.recover()
        self.grpc.start()
        self._persister.start()
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.settings.port_file:
            temporary = self.settings.port_file + ".tmp"
            with open(temporary, "w") as f:
                f.write(str(self.port))
            os.replace(temporary, self.settings.port_file)
        log.info("anomalyd serving on port %d, data in %s", self.port, self.settings.data_dir)

    def stop(self) -> None:
        """Drain RPCs, close open jobs gracefully (they reopen at the next start), release the store."""
        self.health.enter_graceful_shutdown()
        self._stopping.set()
        self.grpc.stop(self.settings.grace_s).wait()
        self._persister.join()
        self.jobs.shutdown()
        self.store.close()


    def _persist_loop(self) -> None:
        while not self._stopping.wait(self.settings.persist_check_s):
            try:
                self.jobs.persist_due()
            except Exception:  # a failed snapshot must not stop the next ones
                log.exception("background persist failed")


def main(argv: list[str] | None = None) -> None:
    """Run the server until SIGTERM or SIGINT."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="anomalyd serve", description="Run the anomalyd gRPC server.")
    parser.add_argument("--data-dir", default=env("ANOMALYD_DATA_DIR", "./anomalyd-data"))
    parser.add_argument("--listen", default=env("ANOMALYD_LISTEN", "127.0.0.1:50051"))
    parser.add_argument("--port-file", default=env("ANOMALYD_PORT_FILE"))
    parser.add_argument("--max-message-bytes", type=int, default=int(env("ANOMALYD_MAX_MESSAGE_BYTES", 16 << 20)))
    parser.add_argument("--workers", type=int, default=int(env("ANOMALYD_WORKERS", 32)))
    parser.add_argument("--log-level", default=env("ANOMALYD_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(
        Settings(
            data_dir=args.data_dir,
            listen=args.listen,
            port_file=args.port_file,
            max_message_bytes=args.max_message_bytes,
            workers=args.workers,
        )
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    stopping.wait()
    log.info("stopping: closing open jobs")
    server.stop()


if __name__ == "__main__":
    main()
