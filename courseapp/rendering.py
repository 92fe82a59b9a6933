"""Markdown → safe HTML for lessons and questions.

The pipeline: find ```tryit blocks and math outside code and replace them with
random tokens, so Markdown cannot mangle them; run Python-Markdown (fenced code,
tables); sanitise with nh3's allowlist; then put back the try-it cards and math,
which we build ourselves from escaped text. KaTeX renders the math in the browser
(static/js/course.js), and highlight.js colours the code.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.etree import ElementTree

import markdown
import nh3
import yaml
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

FENCE_RE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
# Inline code spans are skipped; then $$display$$ and $inline$ math.
MATH_RE = re.compile(
    r"(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|(?<![\\$\w])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?!\d)",
    re.DOTALL,
)

TRYIT_MODES = ("completion", "chat")
# tokens: the playground's tokenizer card; compare: the compare page, this model beside the
# learner's own newest fine-tune (playground.views.compare, `b=mine`)
TRYIT_VIEWS = ("generation", "probabilities", "attention", "tokens", "lens", "ablation", "compare")
TRYIT_PARAMS = ("temperature", "top_k", "top_p", "max_new_tokens", "repetition_penalty", "seed")
TRYIT_KEYS = {"label", "model", "mode", "view", "prompt", "params", "layer", "head", "token", "switch_off"}
TRYIT_ATTENTION_KEYS = ("layer", "head")  # where the attention heatmap opens; attention view only
# The layer view (lens) follows `token`; the switch-off panel (ablation) also switches off `switch_off`.
TRYIT_LENS_KEYS = {"token": ("lens", "ablation"), "switch_off": ("ablation",)}

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol",
    "p", "pre", "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "figure": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "abbr": {"title"},
}
CODE_CLASS_RE = re.compile(r"^language-[\w+#.-]+$")
FIGURE_CLASS = "lesson-figure"


class MarkdownError(ValueError):
    """A problem in a Markdown source, with its 1-based line number."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class TryIt:
    label: str
    model: str
    mode: str
    view: str
    prompt: str
    params: dict
    layer: int | None = None
    head: int | None = None
    token: str = ""
    switch_off: str = ""

    @property
    def lens_query(self) -> dict:
        """The layer view's or switch-off panel's source and what it opens on (lens_views reads these)."""
        query = {"model": self.model, "text": self.prompt, "token": self.token}
        if self.view == "ablation":
            query.update({"ablate": self.switch_off, "panel": "ablate"})
        return query

    @property
    def attention_query(self) -> dict:
        """The heatmap's source and the layer and head it opens on (the page and the embed read these)."""
        query = {"model": self.model, "text": self.prompt}
        query.update({key: getattr(self, key) for key in TRYIT_ATTENTION_KEYS if getattr(self, key) is not None})
        return query

    @property
    def url(self) -> str:
        if self.view in ("lens", "ablation"):
            return f"{reverse('playground:lens')}?{urlencode(self.lens_query)}"
        if self.view == "attention":
            return f"{reverse('playground:attention')}?{urlencode({'view': 'heatmap'} | self.attention_query)}"
        if self.view == "compare":
            query = {"a": self.model, "b": "mine", "mode": self.mode, "prompt": self.prompt}
            return f"{reverse('playground:compare')}?{urlencode(query)}"
        if self.view == "tokens":
            # The tokenizer card reads tok_model and tok_text, and splits the text on arrival.
            query = {"tok_model": self.model, "tok_text": self.prompt}
            return f"{reverse('playground:index')}?{urlencode(query)}#tokenizer"
        # The playground reads exactly these query parameter names.
        query = {"model": self.model, "mode": self.mode, "view": self.view, "prompt": self.prompt}
        query.update({name: self.params[name] for name in TRYIT_PARAMS if name in self.params})
        return f"{reverse('playground:index')}?{urlencode(query)}"


def _key_line(source: str, key: str) -> int:
    """The 0-based line of a top-level key in a YAML mapping that has already parsed."""
    node = yaml.compose(source)
    return next((k.start_mark.line for k, _v in node.value if k.value == key), 0)


def parse_tryit(source: str, *, line: int) -> TryIt:
    """Parse a ```tryit block's YAML body; `line` is the line of its first body line."""
    try:
        data = yaml.safe_load(source) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise MarkdownError(f"try-it block: {exc.problem or exc}", line + (mark.line if mark else 0)) from exc
    if not isinstance(data, dict):
        raise MarkdownError("try-it block must be a YAML mapping", line)
    unknown = set(data) - TRYIT_KEYS
    if unknown:
        raise MarkdownError(f"try-it block has unknown keys: {', '.join(sorted(unknown))}", line)
    for key in ("label", "model", "prompt"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise MarkdownError(f"try-it block needs a text '{key}'", line)
    mode = data.get("mode", "completion")
    view = data.get("view", "generation")
    if mode not in TRYIT_MODES:
        raise MarkdownError(f"try-it mode must be one of {', '.join(TRYIT_MODES)}", line)
    if view not in TRYIT_VIEWS:
        raise MarkdownError(f"try-it view must be one of {', '.join(TRYIT_VIEWS)}", line)
    params = data.get("params") or {}
    if not isinstance(params, dict) or set(params) - set(TRYIT_PARAMS):
        raise MarkdownError(f"try-it params may only set {', '.join(TRYIT_PARAMS)}", line)
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MarkdownError(f"try-it param '{name}' must be a number", line)
    for key in TRYIT_ATTENTION_KEYS:
        if key not in data:
            continue
        at = line + _key_line(source, key)
        if view != "attention":
            raise MarkdownError(f"try-it key '{key}' only applies to view: attention", at)
        if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
            raise MarkdownError(f"try-it {key} must be a whole number, 0 or more (the first {key} is 0)", at)
    _check_lens_keys(source, data, view, line)
    return TryIt(label=data["label"], model=data["model"], mode=mode, view=view, prompt=data["prompt"], params=params,
                 layer=data.get("layer"), head=data.get("head"), token=data.get("token", ""),
                 switch_off=data.get("switch_off", ""))


def _check_lens_keys(source: str, data: dict, view: str, line: int):
    for key, views in TRYIT_LENS_KEYS.items():
        if key in data and (view not in views or not isinstance(data[key], str) or not data[key].strip()):
            raise MarkdownError(f"try-it key '{key}' is a text, for view: {' or '.join(views)}",
                                line + _key_line(source, key))
    if view == "ablation" and "switch_off" not in data:
        raise MarkdownError("an ablation try-it needs 'switch_off' (for example 13.8)", line)


def _tryit_card(tryit: TryIt) -> str:
    view_names = {"generation": _("generation"), "probabilities": _("probabilities"), "attention": _("attention"),
                  "tokens": _("tokens"), "compare": _("beside your fine-tune"),
                  "lens": _("layer by layer"), "ablation": _("switch-off")}
    meta = [tryit.model, view_names[tryit.view]]
    if tryit.switch_off:
        meta.append(_("switch off %(what)s") % {"what": tryit.switch_off})
    if tryit.layer is not None:
        meta.append(_("layer %(n)s") % {"n": tryit.layer})
    if tryit.head is not None:
        meta.append(_("head %(n)s") % {"n": tryit.head})
    embed = ""
    if tryit.view == "attention":
        # A live heatmap of the example, under the text it illustrates (our own page, framed).
        src = reverse("playground:attention_embed") + "?" + urlencode(tryit.attention_query)
        embed = (f'<iframe class="tryit-embed" loading="lazy" title="{html.escape(_("Live attention heatmap"))}" '
                 f'src="{html.escape(src)}"></iframe>')
    if tryit.view in ("lens", "ablation"):
        # The live layer view or switch-off panel of the example, framed like the heatmap.
        src = reverse("playground:lens_embed") + "?" + urlencode(tryit.lens_query)
        title = _("Live layer view") if tryit.view == "lens" else _("Live switch-off experiment")
        embed = (f'<iframe class="tryit-embed" loading="lazy" title="{html.escape(title)}" '
                 f'src="{html.escape(src)}"></iframe>')
    button = {"attention": _("Open in the attention view"), "tokens": _("Open in the tokenizer"),
              "compare": _("Compare with your fine-tune"),
              "lens": _("Open in the layer view"), "ablation": _("Open in the layer view")}.get(
        tryit.view, _("Open in the playground"))
    return (
        f'<aside class="tryit tryit-{tryit.view}">'
        f'<p class="tryit-kicker"><span aria-hidden="true">▶</span> {html.escape(_("Try it"))}'
        f' · <span class="tryit-meta">{html.escape(" · ".join(meta))}</span></p>'
        f'<p class="tryit-label">{html.escape(tryit.label)}</p>'
        f'<pre class="tryit-prompt"><code>{html.escape(tryit.prompt)}</code></pre>'
        f'{embed}<a class="button primary" href="{html.escape(tryit.url)}">{html.escape(button)}</a>'
        "</aside>"
    )


class _Protector:
    """Swaps try-it blocks and math for tokens before Markdown and back after."""

    def __init__(self):
        self.nonce = secrets.token_hex(6)
        self.blocks: dict[str, str] = {}  # token → block-level HTML
        self.inline: dict[str, str] = {}  # token → inline HTML

    def token(self, html_text: str, *, block: bool) -> str:
        n = len(self.blocks) + len(self.inline)
        token = f"MDX{self.nonce}T{n}X"
        (self.blocks if block else self.inline)[token] = html_text
        return token

    def protect_math(self, text: str) -> str:
        def swap(match):
            if match.group("code"):
                return match.group("code")
            if match.group("display") is not None:
                tex = html.escape(match.group("display").strip())
                return "\n\n" + self.token(f'<div class="math math-display">{tex}</div>', block=True) + "\n\n"
            tex = html.escape(match.group("inline"))
            return self.token(f'<span class="math math-inline">{tex}</span>', block=False)

        return MATH_RE.sub(swap, text)

    def restore(self, html_text: str) -> str:
        for token, block in self.blocks.items():
            html_text = html_text.replace(f"<p>{token}</p>", block).replace(token, block)
        for token, inline in self.inline.items():
            html_text = html_text.replace(token, inline)
        return html_text


def _preprocess(source: str, protector: _Protector, *, drop_title: bool) -> str:
    lines = source.replace("\r\n", "\n").split("\n")
    if drop_title:
        # The page shows the lesson title itself; a leading "# Title" would repeat it.
        for i, text in enumerate(lines):
            if text.strip():
                if text.startswith("# "):
                    lines[i] = ""
                break
    out: list[str] = []
    prose: list[str] = []
    i = 0

    def flush():
        if prose:
            out.append(protector.protect_math("\n".join(prose)))
            prose.clear()

    while i < len(lines):
        match = FENCE_RE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        flush()
        fence, info = match.group("fence"), match.group("info")
        end = i + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            end += 1
        if end >= len(lines):
            raise MarkdownError("code block is never closed", i + 1)
        body = lines[i + 1 : end]
        if info == "tryit":
            tryit = parse_tryit("\n".join(body), line=i + 2)
            out.append("\n" + protector.token(_tryit_card(tryit), block=True) + "\n")
        else:
            out.append("\n".join(lines[i : end + 1]))
        i = end + 1
    flush()
    return "\n".join(out)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "code" and attribute == "class":
        return value if CODE_CLASS_RE.match(value) else None
    if tag == "figure" and attribute == "class":
        return value if value == FIGURE_CLASS else None
    return value


class _FigureLinks(markdown.treeprocessors.Treeprocessor):
    def __init__(self, md, base: str):
        super().__init__(md)
        self.base = base

    def run(self, root):
        for img in root.iter("img"):
            src = img.get("src", "")
            if src and "://" not in src and not src.startswith(("/", "data:", "#")):
                img.set("src", self.base + src.removeprefix("./"))


class _CaptionedFigures(markdown.treeprocessors.Treeprocessor):
    """A paragraph that is one titled image, `![alt](x.svg "Caption")`, becomes a
    <figure> with the title as its <figcaption> (and no tooltip repeating it)."""

    def run(self, root):
        for p in root.iter("p"):
            children = list(p)
            if len(children) != 1 or children[0].tag != "img" or (p.text or "").strip():
                continue
            img = children[0]
            caption = (img.get("title") or "").strip()
            if not caption or (img.tail or "").strip():
                continue
            del img.attrib["title"]
            p.tag, p.text, img.tail = "figure", None, None
            p.set("class", FIGURE_CLASS)
            ElementTree.SubElement(p, "figcaption").text = caption


class _FigureExtension(markdown.extensions.Extension):
    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def extendMarkdown(self, md):  # noqa: N802  (Python-Markdown's API name)
        if self.base:
            md.treeprocessors.register(_FigureLinks(md, self.base), "figure_links", 1)
        md.treeprocessors.register(_CaptionedFigures(md), "captioned_figures", 2)


def sanitize(html_text: str) -> str:
    return nh3.clean(
        html_text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def render_markdown(source: str, *, lang: str = "en", figure_base: str = "", drop_title: bool = False) -> str:
    """Render trusted-or-not Markdown to sanitised HTML. Raises MarkdownError."""
    protector = _Protector()
    with translation.override("zh-hans" if lang == "zh-Hans" else "en"):
        text = _preprocess(source or "", protector, drop_title=drop_title)
    extensions = ["fenced_code", "tables", "sane_lists", _FigureExtension(figure_base)]
    body = markdown.markdown(
        text, extensions=extensions, extension_configs={"tables": {"use_align_attribute": True}}
    )
    return protector.restore(sanitize(body))
