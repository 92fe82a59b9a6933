"""Forms parse and scope what a dashboard request may ask for: every choice offered
is one the viewer may see, so another team's id is simply an invalid choice."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from core import policy
from core.forms import DateInput, check_date_range
from courseapp.models import Course

from . import scope
from .filters import Filters
from .models import ExportKind


class CourseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.title_text


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.display_name} ({obj.team.name})" if obj.team else obj.display_name


class ScopedForm(forms.Form):
    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.courses = scope.courses_for(viewer=viewer)
        self.teams = scope.teams_for(viewer=viewer)
        if "course" in self.fields:
            self.fields["course"].queryset = Course.objects.filter(pk__in=[c.pk for c in self.courses])
        if "team" in self.fields:
            self.fields["team"].queryset = Team.objects.filter(pk__in=[t.pk for t in self.teams])
            if policy.may_administer(viewer):
                self.fields["team"].empty_label = _("All teams")


class FilterForm(ScopedForm):
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False, empty_label=_("All my teams"))
    course = CourseChoiceField(label=_("Course"), queryset=None, required=False, empty_label=_("All courses"))
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To"), required=False, widget=DateInput)

    def clean(self):
        return check_date_range(super().clean())

    def filters(self) -> Filters:
        """The filters of a valid form; its courses carry their lesson counts."""
        course = self.cleaned_data.get("course")
        courses = [c for c in self.courses if course is None or c.pk == course.pk]
        return Filters(courses=tuple(courses), start=self.cleaned_data.get("start"),
                                 end=self.cleaned_data.get("end"))

    def export_params(self) -> dict:
        data = self.cleaned_data
        return {
            "team": data["team"].pk if data.get("team") else None,
            "course": data["course"].pk if data.get("course") else None,
            "start": data["start"].isoformat() if data.get("start") else None,
            "end": data["end"].isoformat() if data.get("end") else None,
        }


class ExportForm(FilterForm):
    kind = forms.ChoiceField(label=_("Export"), choices=ExportKind.choices)


class AssignmentForm(ScopedForm):
    course = CourseChoiceField(label=_("Course"), queryset=None)
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False, empty_label=_("—"))
    person = PersonChoiceField(label=_("or one employee"), queryset=None, required=False, empty_label=_("—"))
    due_date = forms.DateField(label=_("Due date"), widget=DateInput)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, viewer=viewer, **kwargs)
        self.fields["course"].queryset = self.fields["course"].queryset.filter(published=True)
        self.fields["person"].queryset = scope.assignable_people(viewer=viewer, teams=self.teams)

    def clean(self):
        data = super().clean()
        if bool(data.get("team")) == bool(data.get("person")):
            raise ValidationError(_("Choose a team or one employee, not both."))
        return data
