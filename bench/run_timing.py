"""Time the README's run command on a fresh clone, then a second run.

    .venv/bin/python bench/run_timing.py [--port 8765] [--clone /tmp/llm-academy-fresh]

Clones this repository into a new folder, runs `make run` there and polls /healthz:
"serving" is the first HTTP answer, "ready" is when every component reports ok; the
models' load times come from the admins' /health/.
Records the resident memory of each process, stops everything with SIGINT (as
Ctrl-C does) and checks that no process is left. Then runs `make run` again in the
same clone: the second run must be serving within 10 s.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def health(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310  (local server)
            return json.load(r)
    except urllib.error.HTTPError as exc:
        return json.load(exc)
    except OSError:
        return None


def admin_health(base, clone):
    """The detailed report (models and their load times) is for admins: log in as the
    demo admin, whose password `make run` keeps in var/demo-credentials.json."""
    import http.cookiejar
    import re
    import urllib.parse

    try:
        password = json.loads((clone / "var" / "demo-credentials.json").read_text())["admin"]
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/accounts/login/", timeout=5).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "admin", "password": password, "csrfmiddlewaretoken": token})
        opener.open(urllib.request.Request(base + "/accounts/login/", form.encode(),  # noqa: S310  (local server)
                                           headers={"Referer": base + "/"}),
                    timeout=5)
        return json.load(opener.open(base + "/health/", timeout=10))
    except urllib.error.HTTPError as exc:  # 503 still carries the report
        return json.load(exc)
    except (OSError, KeyError, AttributeError, ValueError):
        return None


def descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines() if line.strip()]
    children, found = {}, []
    for p, pp, rss, args in rows:
        children.setdefault(int(pp), []).append((int(p), int(rss), args))
    stack = [pid]
    while stack:
        for p, rss, args in children.get(stack.pop(), []):
            found.append((p, rss, args))
            stack.append(p)
    return found


def label(args):
    for key, name in (("uvicorn", "web (uvicorn + embedded model worker)"), ("celery", "celery worker"),
                      ("model_worker", "model worker"), ("manage.py serve", "supervisor (manage.py serve)")):
        if key in args:
            return name
    return args[:60]


def one_run(clone, port, log_name):
    env = dict(os.environ, PORT=str(port))
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "VIRTUAL_ENV"):
        env.pop(key, None)
    log = open(clone / log_name, "w")  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/healthz"
    serving = ready = None
    report = None
    while time.monotonic() - started < 1800:
        report = health(url)
        if report is not None and serving is None:
            serving = time.monotonic() - started
        if report and report.get("ok"):
            ready = time.monotonic() - started
            break
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    time.sleep(1)
    if ready:
        report = admin_health(f"http://127.0.0.1:{port}", clone) or report
    memory = {}
    for _pid, rss, args in descendants(proc.pid):
        if "python" in args and ("manage.py" in args or "uvicorn" in args or "celery" in args):
            memory.setdefault(label(args), []).append(round(rss / 1024))
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    time.sleep(1)
    leftovers = [a for _p, _r, a in descendants(proc.pid)]
    stray = subprocess.run(["pgrep", "-f", str(clone)], capture_output=True, text=True).stdout.split()
    log.close()
    return {"serving_s": serving and round(serving, 1), "ready_s": ready and round(ready, 1),
            "rss_mib": memory, "leftover_processes": leftovers + stray, "report": report}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--clone", default="/tmp/llm-academy-fresh")  # noqa: S108  (a scratch clone we delete first)
    args = parser.parse_args()
    clone = Path(args.clone)
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    first = one_run(clone, args.port, "first-run.log")
    second = one_run(clone, args.port, "second-run.log")
    models = {}
    for worker in (first["report"] or {}).get("model_workers", {}).get("workers", []):
        for m in worker["models"]:
            models[m["name"]] = m["load_seconds"]
    summary = {
        "first_run": {k: v for k, v in first.items() if k != "report"},
        "second_run": {k: v for k, v in second.items() if k != "report"},
        "model_load_seconds_first_run": models,
        "model_load_seconds_second_run": {
            m["name"]: m["load_seconds"]
            for w in (second["report"] or {}).get("model_workers", {}).get("workers", []) for m in w["models"]
        },
    }
    print(json.dumps(summary, indent=2))
    ok = second["serving_s"] is not None and second["serving_s"] <= 10 and not second["leftover_processes"]
    print("second run serving within 10 s and nothing left running:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
