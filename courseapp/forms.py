"""Authoring forms. Translatable fields appear once per language (`title_en`,
`title_zh_hans`) and are packed into the {"en", "zh-Hans"} dicts the models store."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .models import LabMetric, QuestionType

LANGS = (("en", "en", _("English")), ("zh_hans", "zh-Hans", _("Simplified Chinese")))
MAX_CHOICES = 6


def _lang_fields(form_class, name: str, label, *, widget=None, required_en=True):
    for suffix, _code, lang_label in LANGS:
        form_class.base_fields[f"{name}_{suffix}"] = forms.CharField(
            label=format_lazy("{} ({})", label, lang_label), required=required_en and suffix == "en", strip=False,
            widget=widget() if widget else forms.TextInput())


def pack(cleaned: dict, name: str) -> dict:
    return {code: cleaned.get(f"{name}_{suffix}") or "" for suffix, code, _label in LANGS}


def unpack(value: dict, name: str) -> dict:
    return {f"{name}_{suffix}": (value or {}).get(code, "") for suffix, code, _label in LANGS}


def _slugs(text: str) -> list[str]:
    return [s.strip() for s in text.replace("\n", ",").split(",") if s.strip()]


class NewItemForm(forms.Form):
    slug = forms.SlugField(label=_("Slug"), max_length=80)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200)


class CourseForm(forms.Form):
    pass


_lang_fields(CourseForm, "title", _("Title"))
_lang_fields(CourseForm, "summary", _("Summary"), widget=lambda: forms.Textarea(attrs={"rows": 4}))


class ModuleForm(forms.Form):
    pass


_lang_fields(ModuleForm, "title", _("Title"))


class LessonForm(forms.Form):
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=1, max_value=1000)
    prerequisites = forms.CharField(label=_("Prerequisites (slugs, comma-separated)"), required=False)

    def clean_prerequisites(self):
        return _slugs(self.cleaned_data["prerequisites"])


_lang_fields(LessonForm, "title", _("Title"))
_lang_fields(LessonForm, "body", _("Body (Markdown)"), widget=lambda: forms.Textarea(attrs={"rows": 24}),
             required_en=False)


class QuizForm(forms.Form):
    pass_mark = forms.IntegerField(label=_("Pass mark (%)"), min_value=0, max_value=100)
    max_attempts = forms.IntegerField(label=_("Attempt limit (0 = unlimited)"), min_value=0)
    questions_per_attempt = forms.IntegerField(label=_("Questions per attempt"), min_value=1)
    prerequisites = forms.CharField(label=_("Prerequisites (slugs, comma-separated)"), required=False)

    def clean_prerequisites(self):
        return _slugs(self.cleaned_data["prerequisites"])


_lang_fields(QuizForm, "title", _("Title"))


class NewQuestionForm(forms.Form):
    slug = forms.SlugField(label=_("Slug"), max_length=80)
    type = forms.ChoiceField(label=_("Type"), choices=QuestionType.choices)


class QuestionForm(forms.Form):
    points = forms.IntegerField(label=_("Points"), min_value=1)
    pinned = forms.BooleanField(label=_("Pinned: drawn into every attempt"), required=False)
    answer = forms.FloatField(label=_("Answer (numeric questions)"), required=False)
    lab_metric = forms.ChoiceField(label=_("Value read from the learner's latest fine-tune"), required=False,
                                   choices=[("", "—"), *LabMetric.choices])
    tolerance = forms.FloatField(label=_("Tolerance (absolute)"), required=False, min_value=0)
    accepted_en = forms.CharField(label=_("Accepted answers, English (one a line)"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    accepted_zh_hans = forms.CharField(label=_("Accepted answers, Simplified Chinese (one a line)"),
                                       required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, n_choices: int = MAX_CHOICES, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(n_choices):
            for suffix, _code, lang_label in LANGS:
                self.fields[f"choice{i}_text_{suffix}"] = forms.CharField(
                    label=format_lazy("{} {} ({})", _("Choice"), i + 1, lang_label), required=False)
                self.fields[f"choice{i}_explanation_{suffix}"] = forms.CharField(
                    label=format_lazy("{} {} ({})", _("Explanation"), i + 1, lang_label), required=False)
            self.fields[f"choice{i}_correct"] = forms.BooleanField(label=_("Correct"), required=False)

    def choices(self) -> list[dict]:
        rows = []
        i = 0
        while f"choice{i}_correct" in self.fields:
            text = pack(self.cleaned_data, f"choice{i}_text")
            if text["en"].strip():
                rows.append({"text": text, "explanation": pack(self.cleaned_data, f"choice{i}_explanation"),
                             "correct": self.cleaned_data[f"choice{i}_correct"]})
            i += 1
        return rows

    def choice_rows(self):
        """Bound fields grouped per choice, for the template."""
        i = 0
        while f"choice{i}_correct" in self.fields:
            yield {
                "n": i + 1,
                "texts": [self[f"choice{i}_text_{s}"] for s, _c, _l in LANGS],
                "explanations": [self[f"choice{i}_explanation_{s}"] for s, _c, _l in LANGS],
                "correct": self[f"choice{i}_correct"],
            }
            i += 1

    def accepted(self) -> dict:
        return {code: [a.strip() for a in (self.cleaned_data.get(f"accepted_{s}") or "").splitlines() if a.strip()]
                for s, code, _l in LANGS}


_lang_fields(QuestionForm, "prompt", _("Prompt (Markdown)"), widget=lambda: forms.Textarea(attrs={"rows": 4}))
_lang_fields(QuestionForm, "explanation", _("Explanation (Markdown)"),
             widget=lambda: forms.Textarea(attrs={"rows": 3}))
