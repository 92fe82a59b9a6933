"""The model code runs on a GPU host by itself: importing it pulls in no Django and
none of the web modules. Checked in a fresh interpreter, since the suite around these
tests may have set up Django already."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL_CODE = ["playground.ml.engine", "playground.ml.sampling", "playground.ml.loading", "playground.ml.attention", "playground.ml.lens",
              "playground.ml.pool", "playground.ml.provision", "training.ml.train", "training.ml.datasets",
              "training.ml.runner", "training.ml.child"]
WEB = ("django", "channels", "celery", "asgiref", "config", "core", "accounts", "courseapp", "dashboards", "ops")


def web_modules_loaded_by(modules: list[str]) -> list[str]:
    """The web modules (anything but the model code and libraries) a fresh interpreter
    holds after importing `modules`."""
    code = (f"import sys\nfor name in {modules!r}:\n    __import__(name)\n"
            f"web = sorted(m for m in sys.modules if m.split('.')[0] in {WEB!r}\n"
            "             or m.split('.')[0] in ('playground', 'training') and m.split('.')[1:2] not in (['ml'], []))\n"
            "print(','.join(web))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_the_model_code_loads_no_web_module():
    assert web_modules_loaded_by(MODEL_CODE) == []


def test_the_check_sees_a_web_module():
    loaded = web_modules_loaded_by(["playground.params"])  # the web side's parameter checks
    assert "playground.params" in loaded and "django" in loaded
