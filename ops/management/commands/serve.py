"""Start every process the site needs and stop them all on Ctrl-C.

Embedded default: the ASGI server (with the model worker inside it) and a Celery
worker with beat inside. Production-style (REDIS_URL set): also a separate model
worker process, and the server runs several processes (--web-workers), since the
Redis channel layer lets a WebSocket live in any of them.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the ASGI server, the model worker and a Celery worker; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-celery", action="store_true", help="don't start a Celery worker")
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "0")),
                            help="uvicorn processes (default: one per CPU core with REDIS_URL; 1 embedded)")

    def handle(self, *args, host, port, no_celery, web_workers, **options):
        commands = self._commands(host=host, port=port, celery=not no_celery, web_workers=web_workers)
        self.procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            if stopping:
                return
            stopping = True
            self.stdout.write("\nStopping…")
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for name, proc in self.procs.items():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.stdout.write(f"{name} did not stop in time; killing it")
                    proc.kill()
            self.stdout.write("All processes stopped.")

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            # Own process groups: a Ctrl-C reaches us, and we stop each child in order.
            self.procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True)
        if self._wait_for_port(host, port):
            url = f"http://{self._local(host)}:{port}/"
            mode = "embedded" if settings.LLM_EMBEDDED_WORKER else "production"
            self.stdout.write(self.style.SUCCESS(f"LLM Academy ({mode}) is serving at {url}  (Ctrl-C stops everything)"))
            self.stdout.write(f"Health: {url}healthz — models load in the background for a few seconds.")
        exit_code = 0
        while not stopping:
            for name, proc in self.procs.items():
                if proc.poll() is not None and not stopping:
                    self.stderr.write(f"{name} exited with status {proc.returncode}; stopping the rest.")
                    exit_code = proc.returncode or 1
                    stop()
                    break
            time.sleep(0.5)
        sys.exit(exit_code)

    def _commands(self, *, host: str, port: int, celery: bool, web_workers: int) -> dict[str, list[str]]:
        """The processes to start, by name."""
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        if settings.LLM_EMBEDDED_WORKER:
            # The model worker and the in-memory channel layer live in the one server
            # process; a second process would have neither. (Each request still gets
            # its own thread in that process: Django's ASGI handler runs sync views so.)
            if web_workers > 1:
                self.stderr.write("The embedded default serves from one process; set REDIS_URL for --web-workers.")
            web_workers = 1
        else:
            web_workers = web_workers or os.cpu_count() or 1
        if web_workers == 1:
            web = [python, "-m", "uvicorn", "config.asgi:application", "--lifespan", "on", "--ws", "websockets-sansio"]
        else:  # several processes, each on its own socket (ops/webserver.py), as DEPLOY.md runs them
            web = [python, "-m", "ops.webserver", "--workers", str(web_workers)]
        commands = {"web": [*web, "--host", host, "--port", str(port), "--log-level", "warning"]}
        if not settings.LLM_EMBEDDED_WORKER:
            commands["model-worker"] = [python, manage, "model_worker"]
        if celery:
            commands["celery"] = [python, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                                  "--loglevel", "WARNING", "-Q", ",".join(dict.fromkeys(
                                      [settings.CELERY_TASK_DEFAULT_QUEUE, settings.TRAINING_QUEUE])),
                                  "-n", f"worker@{socket.gethostname()}", "--beat"]
        return commands

    @staticmethod
    def _local(host: str) -> str:
        """Where to reach a server bound to `host` from this machine."""
        return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104  (comparing, not binding)

    def _wait_for_port(self, host, port, timeout=60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs["web"].poll() is not None:
                return False
            try:
                with socket.create_connection((self._local(host), port), 0.5):
                    return True
            except OSError:
                time.sleep(0.2)
        return False
