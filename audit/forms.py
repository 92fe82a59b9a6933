"""The log page's filters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import DateInput, check_date_range

from .models import Source
from .selectors import LogFilters, audit_actions


class LogFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("Who"), required=False, max_length=200)
    target = forms.CharField(label=_("Object"), required=False, max_length=200)
    source = forms.ChoiceField(label=_("Source"), required=False,
                               choices=[("", _("Any source")), *Source.choices])
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To"), required=False, widget=DateInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions = audit_actions()
        nouns = sorted({a.split(".")[0] for a in actions})
        self.fields["action"].choices = [("", _("Any action")), *((n, f"{n}.*") for n in nouns),
                                         *((a, a) for a in actions)]

    def clean(self):
        return check_date_range(super().clean())

    def filters(self) -> LogFilters:
        if not self.is_valid():
            return LogFilters()
        d = self.cleaned_data
        return LogFilters(action=d["action"], actor=d["actor"].strip(), target=d["target"].strip(),
                          source=d["source"], start=d["start"], end=d["end"])
