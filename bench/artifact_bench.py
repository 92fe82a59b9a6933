"""Time a fine-tune output's trip through the object store: upload, then fetch and verify.

    .venv/bin/python bench/artifact_bench.py [--repeats 3] [--folder var/models/smollm2-135m-instruct]

Starts SeaweedFS (as the tests do) and sends the folder through training/artifacts.py
as a GPU host does when a job succeeds (`upload_dir`: sha256 of each file, upload,
manifest), then as a model worker does on first use (`ensure_local_model`: download
into an empty cache, check every file). The default folder is the full SmolLM2 weights
(538 MB), the largest output a full fine-tune writes; a LoRA adapter is a few MB.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", default=str(Path(os.environ.get("LLM_MODEL_DIR", ROOT / "var" / "models"))
                                                / "smollm2-135m-instruct"))
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="artifact-bench-", dir=ROOT / "var"))
    os.environ.update(LLM_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings.base", LOG_LEVEL="WARNING")
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import override_settings

    from tests.object_store import seaweedfs
    from training.artifacts import ensure_local_model, upload_dir

    folder = Path(args.folder)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    (var_dir / "store").mkdir()
    up, down = [], []
    with seaweedfs(var_dir / "store") as store, override_settings(STORAGES={"default": store.storage_setting()}):
        for i in range(args.repeats):
            started = time.perf_counter()
            ref = upload_dir(folder, folder=f"bench/{i}")
            up.append(time.perf_counter() - started)
            started = time.perf_counter()
            ensure_local_model(ref, cache_dir=var_dir / f"cache-{i}")
            down.append(time.perf_counter() - started)
    print(f"{folder.name}: {size / 1e6:.0f} MB, {args.repeats} repeats, load {os.getloadavg()[0]:.1f}")
    print(f"upload (hash + put + manifest): median {statistics.median(up):.2f} s "
          f"({size / 1e6 / statistics.median(up):.0f} MB/s); all {[round(x, 2) for x in up]}")
    print(f"fetch + verify into an empty cache: median {statistics.median(down):.2f} s "
          f"({size / 1e6 / statistics.median(down):.0f} MB/s); all {[round(x, 2) for x in down]}")
    shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
