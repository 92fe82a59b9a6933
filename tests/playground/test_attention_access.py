"""The attention page and its embed say no with a status, like the JSON endpoints:
403 for someone else's run, 404 for a run that doesn't exist; never 200 with an error."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from playground.models import PlaygroundRun, RunStatus
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["playground:attention", "playground:attention_embed"])
def test_someone_elses_run_is_refused_with_403(name):
    owner = make_user(Role.EMPLOYEE, team=make_team())
    run = PlaygroundRun.objects.create(user=owner, model_name="smollm2-135m-instruct", mode="completion",
                                       prompt="my secret prompt", status=RunStatus.DONE, tokens=[{"id": 1}])
    client = Client()
    client.force_login(make_user(Role.EMPLOYEE, team=make_team()))
    response = client.get(reverse(name), {"run": str(run.public_id)})
    html = response.content.decode()
    assert response.status_code == 403 and "That run belongs to someone else." in html
    assert "my secret prompt" not in html and owner.username not in html
    assert client.get(reverse(name), {"run": str(uuid.uuid4())}).status_code == 404
    client.force_login(owner)
    assert client.get(reverse(name), {"run": str(run.public_id)}).status_code == 200
