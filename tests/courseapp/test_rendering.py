"""The lesson Markdown pipeline: captioned figures and try-it cards (courseapp/rendering.py)."""

import pytest

from courseapp.rendering import MarkdownError, render_markdown

ATTENTION_TRYIT = """Intro.

```tryit
label: "Where does 'it' look?"
model: smollm2-135m-instruct
view: attention
prompt: "The animal was tired"
{extra}```
"""


def test_an_image_only_paragraph_with_a_title_becomes_a_captioned_figure():
    html = render_markdown('Text.\n\n![Two arrows](arrows.en.svg "Queries meet keys")\n',
                           figure_base="/learn/c/lessons/l/files/")
    assert ('<figure class="lesson-figure"><img alt="Two arrows" src="/learn/c/lessons/l/files/arrows.en.svg">'
            "<figcaption>Queries meet keys</figcaption></figure>") in html
    assert "<p><figure" not in html and "title=" not in html  # the caption is not repeated as a tooltip


def test_figures_only_for_titled_images_alone_in_their_paragraph():
    html = render_markdown('![plain](a.svg)\n\nSee ![inline](b.svg "B") here.\n')
    assert "<figure" not in html
    assert '<p><img alt="plain" src="a.svg"></p>' in html
    assert '<img alt="inline" src="b.svg" title="B">' in html


def test_figure_captions_and_classes_are_sanitised():
    html = render_markdown('![x](x.svg "<script>alert(1)</script> & co")\n\n'
                           '<figure class="evil" onclick="steal()"><img src="javascript:alert(1)"></figure>\n')
    assert "<figcaption>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</figcaption>" in html
    assert "evil" not in html and "onclick" not in html and "javascript:" not in html
    assert html.count('class="lesson-figure"') == 1


def test_an_attention_tryit_opens_on_its_layer_and_head():
    html = render_markdown(ATTENTION_TRYIT.format(extra="layer: 3\nhead: 5\n"))
    query = "model=smollm2-135m-instruct&amp;text=The+animal+was+tired&amp;layer=3&amp;head=5"
    assert f'src="/playground/attention/embed/?{query}"' in html
    assert f'href="/playground/attention/?view=heatmap&amp;{query}">Open in the attention view</a>' in html
    assert "layer 3 · head 5" in html and "Open in the playground" not in html


def test_a_playground_tryit_keeps_its_button():
    html = render_markdown("```tryit\nlabel: L\nmodel: m\nview: probabilities\nprompt: p\n```\n")
    assert ">Open in the playground</a>" in html and "<iframe" not in html


@pytest.mark.parametrize(("extra", "line", "message"), [
    ("layer: -1\n", 8, "try-it layer must be a whole number, 0 or more"),
    ("layer: 2\nhead: 1.5\n", 9, "try-it head must be a whole number, 0 or more"),
    ("head: true\n", 8, "try-it head must be a whole number"),
    ("layer: '2'\n", 8, "try-it layer must be a whole number"),
])
def test_bad_layer_or_head_names_its_line(extra, line, message):
    with pytest.raises(MarkdownError) as exc:
        render_markdown(ATTENTION_TRYIT.format(extra=extra))
    assert exc.value.line == line and message in exc.value.message


def test_layer_and_head_only_for_the_attention_view():
    source = "Intro.\n\n```tryit\nlabel: L\nmodel: m\nview: generation\nprompt: p\nhead: 2\n```\n"
    with pytest.raises(MarkdownError) as exc:
        render_markdown(source)
    assert exc.value.line == 8 and "'head' only applies to view: attention" in exc.value.message


def test_the_card_speaks_the_lessons_language():
    html = render_markdown(ATTENTION_TRYIT.format(extra=""), lang="zh-Hans")
    assert "动手试试" in html and 'title="实时注意力热力图"' in html and "在注意力视图中打开" in html
    assert "Try it" not in html and "Live attention heatmap" not in html


@pytest.mark.django_db
def test_a_lesson_page_shows_its_figure_and_serves_the_file(client, employee):
    from tests.courseapp.factories import course_spec, make_course

    spec = course_spec(lessons=1, quizzes=False)
    lesson = spec["modules"][0]["lessons"][0]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4"/></svg>'
    lesson["figures"] = {"figures/dot.en.svg": svg}
    lesson["body"]["en"] = '# Dots\n\nA dot:\n\n![A black dot](figures/dot.en.svg "One dot, full width")\n'
    course = make_course(spec=spec)
    client.force_login(employee)
    page = client.get(f"/learn/{course.slug}/lessons/m1-l1/").content.decode()
    src = f"/learn/{course.slug}/lessons/m1-l1/files/figures/dot.en.svg"
    assert (f'<figure class="lesson-figure"><img alt="A black dot" src="{src}">'
            "<figcaption>One dot, full width</figcaption></figure>") in page
    response = client.get(src)
    assert response.status_code == 200 and response.content == svg


def test_a_tokens_tryit_opens_the_tokenizer_card_on_its_model_and_text():
    html = render_markdown("```tryit\nlabel: L\nmodel: minilm-l6-v2\nview: tokens\nprompt: \"大语言模型\"\n```\n")
    assert 'href="/playground/?tok_model=minilm-l6-v2&amp;tok_text=%E5%A4%A7%E8%AF%AD%E8%A8%80%E6%A8%A1%E5%9E%8B#tokenizer"' in html
    assert ">Open in the tokenizer</a>" in html and "minilm-l6-v2 · tokens" in html


def test_a_compare_tryit_opens_the_compare_page_beside_the_learners_fine_tune():
    html = render_markdown("```tryit\nlabel: L\nmodel: smollm2-135m-instruct\nmode: chat\nview: compare\n"
                           "prompt: \"How many days of leave?\"\n```\n")
    assert ('href="/playground/compare/?a=smollm2-135m-instruct&amp;b=mine&amp;mode=chat&amp;'
            'prompt=How+many+days+of+leave%3F"') in html
    assert ">Compare with your fine-tune</a>" in html and "smollm2-135m-instruct · beside your fine-tune" in html
