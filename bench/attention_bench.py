"""Attention heatmap: first-layer payload for 64 tokens, and click-to-drawn time.

    .venv/bin/python bench/attention_bench.py [--repeats 5]

Starts the real server (embedded model worker) and drives Debian's chromium: each
repeat types a new 64-token text (so nothing is cached), clicks "Show attention" and
waits until the heatmap is drawn. Prints the median and the payload size, and the
same for a second view of the same text (served from the worker's cache).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, login, prepare, server  # noqa: E402

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
    prepare(["bench0"])
    with server(args.port) as base:
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


if __name__ == "__main__":
    main()
