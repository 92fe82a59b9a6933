"""Saved runs read well for people, in both languages."""

import pytest
from django.urls import reverse

from accounts.models import Role
from playground.models import PlaygroundRun, RunStatus
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "mode", "reason"), [
    ("en", "Completion", "reached max new tokens"),
    ("zh-hans", "补全", "达到最大新词元数"),
])
def test_a_run_says_its_mode_and_why_it_ended(client, language, mode, reason):
    user = make_user(Role.EMPLOYEE)
    run = PlaygroundRun.objects.create(user=user, model_name="smollm2-135m-instruct", mode="completion",
                                       prompt="The capital of France is", params={}, status=RunStatus.DONE,
                                       finish_reason="length")
    client.force_login(user)
    client.cookies["django_language"] = language
    for url in (reverse("playground:runs"), reverse("playground:run", args=[run.public_id])):
        html = client.get(url).content.decode()
        assert reason in html and "(length)" not in html, url
    assert mode in client.get(reverse("playground:runs")).content.decode()
