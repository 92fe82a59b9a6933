"""ops.webserver: several processes, each on its own SO_REUSEPORT socket.

Real processes on a real port: clients that connect while a process is busy are spread
over all the processes all the same (with uvicorn's shared socket the idle one takes them
all, and keeps them for as long as they stay connected: bench/web_bench.py saw 19 of 20
on one process), and a process killed with kill -9 is replaced on its socket while the
others keep serving."""

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ops.webserver", "--app", "tests.ops.pid_app:app", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def _send(conn: socket.socket, port: int, path: str = "/"):
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())


def _ask(conn: socket.socket, port: int) -> int:
    """One keep-alive request; the pid of the process that answered."""
    _send(conn, port)
    return _answer(conn)


def _answer(conn: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = conn.recv(4096)
        assert chunk, "connection closed before an answer"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return int(body)


def _connection_to(port: int, pid: int) -> socket.socket:
    """A keep-alive connection that the process `pid` serves."""
    for _ in range(200):
        conn = _connect(port)
        if _ask(conn, port) == pid:
            return conn
        conn.close()
    raise AssertionError(f"no connection reached process {pid}")


def _pids_of_connections(port: int, n: int) -> collections.Counter:
    """Open n connections together, as a proxy's pool does, then ask once on each."""
    with ThreadPoolExecutor(n) as pool:
        conns = list(pool.map(lambda _: _connect(port), range(n)))
        try:
            return collections.Counter(pool.map(lambda c: _ask(c, port), conns))
        finally:
            for conn in conns:
                conn.close()


def _wait_until_serving(server: subprocess.Popen, port: int, workers: int, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while len(seen) < workers:
        assert server.poll() is None, server.stderr.read()
        assert time.monotonic() < deadline, f"only {seen} answered"
        try:
            seen |= set(_pids_of_connections(port, 8))
        except OSError:
            time.sleep(0.2)
    return seen


@pytest.mark.slow
def test_connections_that_arrive_together_are_spread_over_the_processes_and_a_killed_one_is_replaced():
    port = free_port()
    server = _serve(port, workers=2)
    try:
        pids = _wait_until_serving(server, port, workers=2)
        assert len(pids) == 2
        for busy in sorted(pids):
            # One process is busy (as under load) while 40 clients connect: they are spread
            # all the same. The kernel's hash puts each connection on either socket at even
            # odds: at most 30 of 40 on one (a 1-in-3,000 chance of failing by bad luck),
            # where a shared socket gives the idle process all 40.
            holder = _connection_to(port, busy)
            _send(holder, port, "/?block=2")
            counts = _pids_of_connections(port, 40)
            assert _answer(holder) == busy
            holder.close()
            assert set(counts) == pids, counts
            assert max(counts.values()) <= 30, counts
        # kill -9 one process: the other keeps answering, and a new one takes its socket.
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            counts = _pids_of_connections(port, 20)  # every connection is answered, even meanwhile
            assert sum(counts.values()) == 20 and victim not in counts
            if len(counts) == 2:
                break
            assert time.monotonic() < deadline, f"no replacement for {victim}: {counts}"
            time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert server.returncode == 0


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_processes_end_when_their_supervisor_is_killed():
    port = free_port()
    server = _serve(port, workers=2)
    try:
        pids = _wait_until_serving(server, port, workers=2)
        assert pids <= _children(server.pid)
        server.kill()  # kill -9 of the supervisor
        server.wait(10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in pids):
            assert time.monotonic() < deadline, f"still serving without a supervisor: {pids}"
            time.sleep(0.2)
        with pytest.raises(OSError):  # nothing listens on the port any more
            _connect(port).close()
    finally:
        for pid in pids if "pids" in locals() else ():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
