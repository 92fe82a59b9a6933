"""Production settings plus one trivial page, for bench/web_bench.py only: the baseline
the lesson page is measured against on the same server."""

from config.settings.production import *  # noqa: F403  (settings modules layer by star import)

ROOT_URLCONF = "bench.web_urls"
