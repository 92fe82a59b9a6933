"""Scoring one response to one question: pure functions, no database.

A response is the list of raw form values for a question: attempt choice keys for
choice questions, one string for numeric and text questions. A lab question's answer is
a number like a numeric one, checked against `expected`: the value read from the
learner's own fine-tune when it is graded (services._grade).
"""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def normalise_response(question, values: list[str], keys: dict[str, int]) -> list[str]:
    """Check a response's shape against the question and the attempt's choice keys.

    Raises ValidationError for anything a real form cannot send (a forged key, two
    answers to a single-choice question); returns the cleaned values.
    """
    values = [v for v in values if v != ""]
    if question.type in ("single", "multiple"):
        if any(v not in keys for v in values):
            raise ValidationError(_("An answer names a choice that is not part of this attempt."))
        if len(set(values)) != len(values):
            raise ValidationError(_("A choice was sent twice."))
        if question.type == "single" and len(values) > 1:
            raise ValidationError(_("A single-choice question takes one answer."))
        return sorted(values, key=list(keys).index)
    if len(values) > 1:
        raise ValidationError(_("This question takes one answer."))
    if question.type in ("numeric", "lab") and values:
        text = values[0].strip().replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise ValidationError(_("“%(value)s” is not a number.") % {"value": values[0][:40]}) from None
        if not math.isfinite(number):
            raise ValidationError(_("“%(value)s” is not a number.") % {"value": values[0][:40]})
        return [text]
    if question.type == "text" and values and len(values[0]) > 500:
        raise ValidationError(_("That answer is too long."))
    return values


def score(question, values: list[str], keys: dict[str, int], correct_ids: set[int],
          expected: float | None = None) -> float:
    """The fraction (0..1) of the question's points that a normalised response earns."""
    if question.type == "single":
        return 1.0 if values and keys[values[0]] in correct_ids else 0.0
    if question.type == "multiple":
        return multiple_score(ticked={keys[v] for v in values}, correct=correct_ids & set(keys.values()),
                              choices=len(keys))
    if not values:
        return 0.0
    if question.type in ("numeric", "lab"):
        target = question.answer if question.type == "numeric" else expected
        return 1.0 if abs(float(values[0]) - target) <= question.tolerance + 1e-9 else 0.0
    accepted = {" ".join(a.split()).casefold() for answers in (question.accepted or {}).values() for a in answers}
    return 1.0 if " ".join(values[0].split()).casefold() in accepted else 0.0


def multiple_score(*, ticked: set, correct: set, choices: int) -> float:
    """A multiple-answer response: the share of the correct choices ticked, less the share
    of the wrong choices ticked, never below 0.

    Ticking every choice therefore earns 0 whatever the question's mix (and so does
    ticking none); only telling right from wrong earns credit. A question whose choices
    are all correct has no wrong share to subtract.
    """
    if not correct:
        return 0.0
    wrong = choices - len(correct)
    right_share = len(ticked & correct) / len(correct)
    wrong_share = len(ticked - correct) / wrong if wrong else 0.0
    return max(0.0, right_share - wrong_share)
