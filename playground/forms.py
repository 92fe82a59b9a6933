from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import ModelEndpoint, ModelEntry


class ModelRegisterForm(forms.ModelForm):
    class Meta:
        model = ModelEntry
        fields = ["name", "display_name", "kind", "source", "enabled", "notes"]
        help_texts = {"name": _("Short id used in links and presets, e.g. my-model.")}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def validate_unique(self):
        # Registering an existing name updates it (the service decides), so no unique error here.
        pass


class EndpointRegisterForm(forms.ModelForm):
    """An OpenAI-compatible endpoint as a model (vLLM, SGLang, TGI, llama.cpp's server)."""

    name = forms.SlugField(label=capfirst(_("name")), max_length=100,
                           help_text=_("Short id used in links and presets, e.g. qwen-7b."))
    display_name = forms.CharField(label=capfirst(_("display name")), max_length=200)
    enabled = forms.BooleanField(label=capfirst(_("enabled")), required=False, initial=True)
    notes = forms.CharField(label=capfirst(_("notes")), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = ModelEndpoint
        fields = ["base_url", "served_model", "api_key_env", "api_key_file", "timeout_seconds", "max_tokens",
                  "max_concurrency", "supports_streaming", "supports_logprobs", "supports_chat", "tokenize_path"]

    field_order = ["name", "display_name", "base_url", "served_model", "api_key_env", "api_key_file"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Two forms share the page: their ids must not collide.
        self.auto_id = "id_ep_%s"
        self.fields["timeout_seconds"].min_value = 1
        self.fields["timeout_seconds"].widget.attrs["min"] = 1
        for name in ("max_tokens", "max_concurrency"):
            self.fields[name].min_value = 1
            self.fields[name].widget.attrs["min"] = 1

    def clean_timeout_seconds(self):
        value = self.cleaned_data["timeout_seconds"]
        if value is not None and value < 1:
            raise forms.ValidationError(_("At least 1 second."))
        return value

    def validate_unique(self):
        pass  # the service creates or updates the entry by name
