"""Run bertviz's own head and model views, and make their output fit a strict-CSP page.

bertviz renders for notebooks: its HTML loads require.js, d3 and jQuery from public
CDNs, carries inline style attributes and an inline script with the data. We keep its
markup (minus inline styles, which our stylesheet restyles) and its script (with
require.js pointed at our own static copies), and the page loads that script from our
origin. Numbers are rounded to 3 decimals so the payload stays small.
"""

from __future__ import annotations

import json
import re

PARAMS_MARK = "const params = "
STYLE_ATTR = re.compile(r'\sstyle="[^"]*"')
SCRIPT = re.compile(r'<script type="text/javascript">\n(.*)\n</script>', re.S)
CDN_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.S)


def _round(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def render(view: str, attention, tokens: list[str], include_layers: list[int], static_base: str) -> dict:
    """Return {"markup": html, "script": js} for bertviz's `head` or `model` view."""
    import bertviz

    fn = {"head": bertviz.head_view, "model": bertviz.model_view}[view]
    html = fn(attention=attention, tokens=tokens, include_layers=include_layers, html_action="return").data
    match = SCRIPT.search(html)
    if match is None:
        raise RuntimeError("bertviz's output changed shape: no inline script found")
    # Drop the leading licence/changelog comment; it names the CDNs the code no longer uses.
    script = re.sub(r"^\s*/\*\*.*?\*\*/\s*", "", match.group(1), count=1, flags=re.S)
    markup = html[html.index("</script>") + len("</script>"): match.start()]
    markup = STYLE_ATTR.sub("", markup).strip()
    local_paths = json.dumps({"d3": static_base + "d3.min", "jquery": static_base + "jquery.min"})
    script, replaced = CDN_CONFIG.subn(f"require.config({{paths: {local_paths}}});", script, count=1)
    if not replaced:
        raise RuntimeError("bertviz's output changed shape: no require.config found")
    start = script.index(PARAMS_MARK) + len(PARAMS_MARK)
    params, end = json.JSONDecoder().raw_decode(script, start)
    script = script[:start] + json.dumps(_round(params), separators=(",", ":")) + script[end:]
    return {"markup": markup, "script": script}
