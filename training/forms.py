import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from .ml.datasets import BUILTINS
from .models import JobKind, Method, Quota
from .params import DEFAULT_PRESET, FIELDS, PRESETS

# The built-in set for the default kind (causal LM), so the form is ready to submit as it is.
DEFAULT_DATASET = next(d.slug for d in BUILTINS.values() if d.kind == JobKind.CAUSAL_LM)


class JobForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to train"), choices=JobKind.choices, initial=JobKind.CAUSAL_LM,
                             widget=forms.RadioSelect)
    preset = forms.ChoiceField(label=_("Preset"), initial=DEFAULT_PRESET,
                               choices=[(k, v["label"]) for k, v in PRESETS.items()])
    method = forms.ChoiceField(label=_("Method (causal LM)"), choices=Method.choices, initial=Method.LORA)
    builtin_dataset = forms.ChoiceField(
        label=_("Built-in dataset"), required=False, initial=DEFAULT_DATASET,
        choices=[("", _("— none: I upload a file —"))] + [
            (label, [(d.slug, _(d.title)) for d in BUILTINS.values() if d.kind == kind]) for kind, label in JobKind.choices])
    upload = forms.FileField(label=_("…or upload JSONL or CSV"), required=False,
                             help_text=_("Columns prompt, response (causal LM) or text, label (classifier)."))
    name = forms.CharField(label=_("Name"), required=False, max_length=100)
    steps = forms.IntegerField(label=_("Steps"), required=False, min_value=1)
    batch_size = forms.IntegerField(label=_("Batch size"), required=False, min_value=1)
    seq_len = forms.IntegerField(label=_("Sequence length (tokens)"), required=False, min_value=16)
    learning_rate = forms.FloatField(label=_("Learning rate"), required=False)
    warmup_steps = forms.IntegerField(label=_("Warm-up steps"), required=False, min_value=0)
    lora_r = forms.IntegerField(label=_("LoRA rank"), required=False, min_value=1)
    eval_fraction = forms.FloatField(label=_("Held-out share"), required=False)
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0)
    # A fresh token each time the form is drawn; a double click posts it twice, for one job.
    submission_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput,
                                       initial=lambda: secrets.token_urlsafe(24))

    ADVANCED = tuple(FIELDS)

    def clean(self):
        data = super().clean()
        builtin, upload = data.get("builtin_dataset"), data.get("upload")
        if bool(builtin) == bool(upload):
            raise forms.ValidationError(_("Pick a built-in dataset or upload a file (not both)."))
        if builtin and BUILTINS[builtin].kind != data.get("kind"):
            self.add_error("builtin_dataset", _("This dataset is for the other kind of job."))
        return data

    def overrides(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.ADVANCED}


class QuotaForm(forms.ModelForm):
    class Meta:
        model = Quota
        fields = ["max_concurrent", "gpu_seconds_per_week"]
