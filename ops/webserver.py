"""The web server: uvicorn in several processes, each listening on a socket of its own.

    python -m ops.webserver --host 0.0.0.0 --port 8000 --workers 4 [--log-level info] [--no-access-log]

(DEPLOY.md: "Web hosts"; the Procfile and `manage.py serve` start it so.)

uvicorn's own `--workers` shares one listening socket among its processes, and the first
process to wake takes every connection that is waiting. Keep-alive clients that connect
together (a proxy's pool, a page's first requests) then stay on one process: with 20
clients on 2 processes, bench/web_bench.py saw splits of 19 to 1 and 18 to 2. A process
runs Python on one core at a time (sync views share it through the GIL), so one core
served almost everything while the other idled, and the lesson page's p95 doubled.

Here each process has its own socket, bound to the same address with SO_REUSEPORT, and
the kernel hands every new connection to one of them by a hash of its addresses, whether
or not that process is busy. The supervisor is uvicorn's (health pings, restarts, SIGHUP,
clean shutdown); only the socket each process gets differs. A process that dies is
replaced on the same socket, which the supervisor keeps open, so the connections the
kernel queues on it meanwhile are served by the replacement.

The ASGI application and its fixed options are the ones DEPLOY.md gives: lifespan on,
the sans-I/O websockets implementation, X-Forwarded-* trusted from FORWARDED_ALLOW_IPS
(uvicorn's default: 127.0.0.1 and ::1).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

APP = "config.asgi:application"
logger = logging.getLogger("uvicorn.error")


def reuseport_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket that shares its address with the other processes' sockets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class ChildProcess(Process):
    """A server process that ends when its supervisor does, even by kill -9: else it would
    serve on, unsupervised, beside the processes of the supervisor started in its place."""

    def __init__(self, config: Config, sockets: list[socket.socket]):
        self.supervisor = os.getpid()
        super().__init__(config, sockets)

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the child
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != self.supervisor:  # it died before prctl took effect
            return
        super().target(sockets)


class SocketPerProcess(Multiprocess):
    """uvicorn's supervisor, with process i serving sockets[i] (and its replacements too)."""

    def __init__(self, config: Config, sockets: list[socket.socket]):
        super().__init__(config, sockets)
        self.processes_num = len(sockets)

    def spawn(self, index: int) -> Process:
        process = ChildProcess(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self.spawn(index) for index in range(self.processes_num)]

    def restart_all(self) -> None:
        """SIGHUP: replace each process by a new one on its socket, the new one ready first."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self.spawn(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        """As uvicorn's: a process that died or hangs is replaced, on its own socket."""
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set() or process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # it would fail the same way on every restart
                logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            logger.info(f"Child process [{process.pid}] died; starting another on its socket")
            self.processes[index] = self.spawn(index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default=APP, help="the ASGI application (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1),
                        help="processes (default: WEB_CONCURRENCY, else one per CPU core)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    config = Config(args.app, host=args.host, port=args.port, workers=args.workers, lifespan="on",
                    ws="websockets-sansio", proxy_headers=True, log_level=args.log_level,
                    access_log=not args.no_access_log)
    sockets = [reuseport_socket(args.host, args.port, config.backlog) for _ in range(max(args.workers, 1))]
    SocketPerProcess(config, sockets).run()


if __name__ == "__main__":
    main()
