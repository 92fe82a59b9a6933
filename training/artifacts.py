"""Fine-tune outputs in the object store, and model workers' local copies of them.

Hosts share no disk (docs/DEPLOY.md). When a job succeeds, the GPU host's Celery
worker uploads the output folder to Django's default storage (S3 in production, the
filesystem in the embedded default) together with a manifest of every file's sha256,
and records a reference on the job row (and on the playground's model entry):

    artifact:<storage folder>#sha256=<sha256 of manifest.json>

A model worker asked for the model calls `ensure_local_model`: it downloads the
folder once into its own cache (LLM_MODEL_CACHE_DIR, named by the digest), checks
the manifest against the reference and every file against the manifest, and only
then moves the copy into place. A plain path is returned as it is, so base models
and models registered by folder work unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

PREFIX = "artifact:"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class ArtifactError(OSError):
    """The store lacks the artifact, or what it holds does not match the reference."""


class ArtifactChanged(ArtifactError):
    """What the store holds is not what was trained: a sha256 does not match."""


def is_artifact(ref: str) -> bool:
    return ref.startswith(PREFIX)


def parse(ref: str) -> tuple[str, str]:
    """(storage folder, manifest sha256) of a reference."""
    folder, sep, digest = ref.removeprefix(PREFIX).rpartition("#sha256=")
    if not is_artifact(ref) or not sep or not folder or len(digest) != 64:
        raise ArtifactError(f"{ref!r} is not an artifact reference.")
    return folder, digest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _put(storage: Storage, name: str, content) -> None:
    # The name is the address in the manifest, so it must be exactly this one: a
    # leftover from an earlier database (same job id) is replaced, not renamed around.
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, content)
    if saved != name:
        raise ArtifactError(f"the store saved {name!r} as {saved!r}")


def upload_dir(local_dir: Path, *, folder: str, storage: Storage | None = None,
               on_file: Callable[[], None] | None = None) -> str:
    """Upload every file under `local_dir` to `folder` in the store; returns the reference.

    `on_file` is called after each file (the runner's heartbeat, so a long upload is
    not mistaken for a dead worker).
    """
    storage = storage or default_storage
    files = {}
    for path in sorted(p for p in Path(local_dir).rglob("*") if p.is_file()):
        rel = path.relative_to(local_dir).as_posix()
        if rel == MANIFEST:
            raise ArtifactError(f"{local_dir} already holds a {MANIFEST}")
        files[rel] = {"sha256": _sha256(path), "size": path.stat().st_size}
        with path.open("rb") as f:
            _put(storage, f"{folder}/{rel}", File(f, name=path.name))
        if on_file:
            on_file()
    if not files:
        raise ArtifactError(f"{local_dir} holds no files")
    manifest = json.dumps({"files": files}, sort_keys=True, indent=1).encode()
    _put(storage, f"{folder}/{MANIFEST}", ContentFile(manifest))
    return f"{PREFIX}{folder}#sha256={hashlib.sha256(manifest).hexdigest()}"


def _manifest(storage: Storage, folder: str, digest: str) -> tuple[bytes, dict]:
    try:
        with storage.open(f"{folder}/{MANIFEST}", "rb") as f:
            raw = f.read()
    except FileNotFoundError as exc:
        raise ArtifactError(f"the object store has no {folder}/{MANIFEST}") from exc
    if hashlib.sha256(raw).hexdigest() != digest:
        raise ArtifactChanged(f"{folder}/{MANIFEST} does not match its recorded sha256")
    files = json.loads(raw)["files"]
    for rel in files:
        parts = PurePosixPath(rel).parts
        if rel.startswith("/") or ".." in parts or rel == MANIFEST:
            raise ArtifactError(f"{folder}/{MANIFEST} names an unsafe path {rel!r}")
    return raw, files


def artifact_has(ref: str, filename: str, *, storage: Storage | None = None) -> bool:
    """Whether the (verified) manifest lists `filename`; for checks before registering."""
    folder, digest = parse(ref)
    return filename in _manifest(storage or default_storage, folder, digest)[1]


def ensure_local_model(ref: str, *, cache_dir: Path | None = None, storage: Storage | None = None) -> Path:
    """A local folder holding `ref`: a plain path as it is, an artifact fetched and verified."""
    if not is_artifact(ref):
        return Path(ref)
    storage = storage or default_storage
    folder, digest = parse(ref)
    root = Path(cache_dir or settings.LLM_MODEL_CACHE_DIR)
    final = root / digest
    # Only a complete, verified copy is ever moved to this name, and its name is its digest.
    if (final / MANIFEST).is_file():
        os.utime(final)  # recently used: pruned last
        return final
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        raw, files = _manifest(storage, folder, digest)
        for rel, meta in files.items():
            dest = partial / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            try:
                with storage.open(f"{folder}/{rel}", "rb") as src, dest.open("wb") as out:
                    for chunk in iter(lambda: src.read(CHUNK), b""):  # noqa: B023  (used at once)
                        h.update(chunk)
                        out.write(chunk)
            except FileNotFoundError as exc:
                raise ArtifactError(f"the object store has no {folder}/{rel}") from exc
            if h.hexdigest() != meta["sha256"]:
                raise ArtifactChanged(f"{folder}/{rel} does not match its sha256 in the manifest")
        (partial / MANIFEST).write_bytes(raw)
        try:
            partial.rename(final)
        except OSError:
            if not (final / MANIFEST).is_file():  # not another process that got there first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    cache_prune(root, keep=final, max_bytes=settings.LLM_MODEL_CACHE_MAX_MB * 1024 * 1024)
    return final


def cache_prune(root: Path, *, keep: Path, max_bytes: int) -> list[Path]:
    """Delete the least recently used copies until the cache fits; returns what went.

    A model already loaded is in memory, so deleting its folder costs only a new
    download if it is loaded again.
    """
    def size(folder: Path) -> int:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

    copies = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime)
    sizes = {p: size(p) for p in copies}
    total, removed = sum(sizes.values()), []
    for folder in copies:
        if total <= max_bytes:
            break
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
            total -= sizes[folder]
            removed.append(folder)
    return removed


def local_spec(spec):
    """A playground ModelSpec whose weights and adapter are local folders (fetched if needed)."""
    adapter = str(ensure_local_model(spec.adapter)) if spec.adapter else ""
    return dataclasses.replace(spec, source=str(ensure_local_model(spec.source)), adapter=adapter)
