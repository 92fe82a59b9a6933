"""Attention heatmap: first-layer payload for 64 tokens, and click-to-drawn time.

    .venv/bin/python bench/attention_bench.py [--repeats 5]

Starts the real server (embedded model worker) and drives Debian's chromium: each
repeat types a new 64-token text (so nothing is cached), clicks "Show attention" and
waits until the heatmap is drawn. Prints the median and the payload size, and the
same for a second view of the same text (served from the worker's cache).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stream_bench import PASSWORD, env, login, manage  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()


def text_of_64_tokens(seed: int) -> str:
    """A different text per seed that SmolLM2's tokenizer splits into exactly 64 tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ROOT / "var" / "models" / "smollm2-135m-instruct")
    words = " ".join(WORDS[(seed + i) % len(WORDS)] for i in range(200))
    text = tokenizer.decode(tokenizer(words, add_special_tokens=False)["input_ids"][:64])
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) == 64
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    manage(var_dir, "migrate")
    manage(var_dir, "provision_models")
    manage(var_dir, "people", "add", "bench0", "--password", PASSWORD)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(args.port),
                               "--lifespan", "on", "--ws", "websockets", "--log-level", "warning"],
                              cwd=ROOT, env=env(var_dir))
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:  # noqa: S310  (local server)
                    report = json.load(r)
            except urllib.error.HTTPError as exc:
                report = json.load(exc)
            except OSError:
                report = {}
            if report.get("model_workers", {}).get("ok"):
                break
            time.sleep(0.5)
        cookie = login(base, "bench0")
        from playwright.sync_api import sync_playwright

        cold, warm, sizes = [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            context = browser.new_context(base_url=base)
            context.add_cookies([{"name": c.split("=", 1)[0], "value": c.split("=", 1)[1], "url": base}
                                 for c in cookie.split("; ")])
            page = context.new_page()
            page.on("response", lambda r: "layer.json" in r.url and sizes.append(len(r.body())))
            for i in range(args.repeats + 1):
                text = text_of_64_tokens(i)
                for bucket in (cold, warm):
                    page.goto("/playground/attention/?view=heatmap")
                    page.get_by_label("Model").select_option("smollm2-135m-instruct")
                    page.locator("#att-text").fill(text)
                    started = time.perf_counter()
                    page.get_by_role("button", name="Show attention").click()
                    page.locator("#attention[data-drawn=true]").wait_for(timeout=60000)
                    if i > 0:  # the first round warms up the browser and the eager twin
                        bucket.append(time.perf_counter() - started)
            browser.close()
        print(f"first-layer payload, 64 tokens, 9 heads: {max(sizes) / 1024:.1f} KB (limit 256 KB)")
        print(f"click → heatmap drawn, new text (computed):  median {statistics.median(cold) * 1000:.0f} ms "
              f"over {len(cold)} runs")
        print(f"click → heatmap drawn, same text (cached):   median {statistics.median(warm) * 1000:.0f} ms "
              f"over {len(warm)} runs")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
