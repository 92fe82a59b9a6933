from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ModelEntry


class ModelRegisterForm(forms.ModelForm):
    class Meta:
        model = ModelEntry
        fields = ["name", "display_name", "kind", "source", "enabled", "notes"]
        help_texts = {"name": _("Short id used in links and presets, e.g. my-model.")}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def validate_unique(self):
        # Registering an existing name updates it (the service decides), so no unique error here.
        pass
