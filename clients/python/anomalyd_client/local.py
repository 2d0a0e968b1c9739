"""anomalyd as a local subprocess: for the demo, benchmarks and tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

_POLL_S = 0.01


class LocalServer:
    """anomalyd in a subprocess on a free local port, restartable over the same data.

    Use it as a context manager: entering starts the server and waits until it serves;
    leaving stops it (SIGTERM, then SIGKILL after stop_timeout).

    Args:
        data_dir: the server's --data-dir; the port file and the server's log go here too.
        start_timeout: seconds to wait for the server to serve.
        stop_timeout: seconds to wait for a graceful stop.
        args: more arguments of `anomalyd serve`, such as ("--tls-cert", path, ...).
    """

    def __init__(
        self, data_dir: Path, *, start_timeout: float = 60, stop_timeout: float = 60, args: Sequence[str] = ()
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.log_path = data_dir / "server.log"
        self.target = ""
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> str:
        """Starts the server (after any previous one has exited) and waits until it serves.

        Returns:
            The target to connect to, HOST:PORT.

        Raises:
            RuntimeError: it exited or did not serve in time; the message holds its log.
        """
        if self._process is not None:
            self._process.wait(self._stop_timeout)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.data_dir / "port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "anomalyd.server", "--data-dir", str(self.data_dir),
                   "--listen", "127.0.0.1:0", "--port-file", str(port_file), *self.args]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._start_timeout
        # The server writes the port file atomically once it serves.
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"anomalyd did not start; its log:\n{self.log_path.read_text()}")
            time.sleep(_POLL_S)
        self.target = f"127.0.0.1:{int(port_file.read_text())}"
        return self.target

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    def kill(self) -> None:
        """Sends SIGKILL without waiting, as a crash would; start() waits for the exit."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stops the server with sig, killing it if it does not stop in time.

        Returns:
            Its exit code, or None if it was not running.
        """
        process, self._process = self._process, None
        if process is None:
            return None
        process.send_signal(sig)
        try:
            return process.wait(self._stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
