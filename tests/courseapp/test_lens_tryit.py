"""Try-it cards for the layer view and the switch-off panel (courseapp/rendering.py → playground/lens_views.py)."""

import pytest

from courseapp.rendering import MarkdownError, render_markdown

TRYIT = """Intro.

```tryit
label: "When does ' Paris' win?"
model: smollm2-135m-instruct
view: {view}
prompt: "The capital of France is"
{extra}```
"""


def test_a_lens_tryit_embeds_the_layer_view_following_its_token():
    html = render_markdown(TRYIT.format(view="lens", extra='token: " Paris"\n'))
    query = "model=smollm2-135m-instruct&amp;text=The+capital+of+France+is&amp;token=+Paris"
    assert f'src="/playground/lens/embed/?{query}"' in html and 'title="Live layer view"' in html
    assert f'href="/playground/lens/?{query}">Open in the layer view</a>' in html


def test_an_ablation_tryit_opens_the_switch_off_panel():
    html = render_markdown(TRYIT.format(view="ablation", extra='token: " Paris"\nswitch_off: "13.8"\n'))
    assert "token=+Paris&amp;ablate=13.8&amp;panel=ablate" in html and "switch off 13.8" in html


@pytest.mark.parametrize(("view", "extra", "message"), [
    ("ablation", 'token: " Paris"\n', "needs 'switch_off'"),
    ("lens", 'switch_off: "13.8"\n', "'switch_off' is a text, for view: ablation"),
    ("attention", 'token: " Paris"\n', "'token' is a text, for view: lens or ablation"),
    ("lens", "token: 3\n", "'token' is a text"),
])
def test_lens_keys_are_checked(view, extra, message):
    with pytest.raises(MarkdownError) as exc:
        render_markdown(TRYIT.format(view=view, extra=extra))
    assert message in exc.value.message
