"""Copy the front-end libraries we serve from node_modules into static/vendor/.

npm installs them from the registry at the versions pinned in package-lock.json;
this script only picks the files the pages load. static/vendor/ is not committed.
"""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

# destination (under static/vendor) → source (under node_modules); a trailing
# slash copies a whole folder.
FILES = {
    # bertviz's views load these through require.js; we serve them instead of its CDNs.
    # bertviz asks for jQuery 2.0.0, which npm lacks; 2.2.4 is the last 2.x release.
    "bertviz/require.js": "requirejs/require.js",
    "bertviz/d3.min.js": "d3/dist/d3.min.js",
    "bertviz/jquery.min.js": "jquery/dist/jquery.min.js",
    "htmx/htmx.min.js": "htmx.org/dist/htmx.min.js",
    "htmx/ws.js": "htmx-ext-ws/dist/ws.js",
    "katex/katex.min.js": "katex/dist/katex.min.js",
    "katex/katex.min.css": "katex/dist/katex.min.css",
    "katex/fonts/": "katex/dist/fonts/",
    "highlight/highlight.min.js": "@highlightjs/cdn-assets/highlight.min.js",
    "highlight/github.min.css": "@highlightjs/cdn-assets/styles/github.min.css",
    "chartjs/chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}

# `collectstatic` with the manifest storage follows these comments and stops on a file
# that is not there, so every map a vendored file names is vendored with it.
SOURCE_MAP = re.compile(rb"[#@] sourceMappingURL=([^\s*'\"]+)")


def source_maps(path: Path) -> list[str]:
    """Relative source-map names a .js/.css file points to (data: URIs need no file)."""
    if path.suffix not in {".js", ".css"}:
        return []
    return [m.decode() for m in SOURCE_MAP.findall(path.read_bytes()) if not m.startswith(b"data:")]


def main() -> int:
    missing = [src for src in FILES.values() if not (NODE / src.rstrip("/")).exists()]
    if missing:
        print("Missing from node_modules (run `npm ci`):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    for dest, src in FILES.items():
        target = VENDOR / dest.rstrip("/")
        source = NODE / src.rstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.endswith("/"):
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
            for name in source_maps(source):
                if not (source.parent / name).is_file():
                    print(f"{src} names a source map that npm did not install: {name}", file=sys.stderr)
                    return 1
                shutil.copy2(source.parent / name, target.parent / name)
    print(f"Vendored {len(FILES)} front-end assets (and their source maps) into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
