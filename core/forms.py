"""Form pieces that several apps' filter forms share."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class DateInput(forms.DateInput):
    input_type = "date"


def check_date_range(data: dict) -> dict:
    """A form's `clean` for a `start`–`end` pair of dates: refuse one that runs backwards."""
    if data.get("start") and data.get("end") and data["start"] > data["end"]:
        raise ValidationError(_("The start date is after the end date."))
    return data
