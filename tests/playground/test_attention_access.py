"""The attention page and its embed say no with a status, like the JSON endpoints:
403 for someone else's run, 404 for a run that doesn't exist; never 200 with an error."""

import re
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


def test_open_in_the_playground_only_for_a_model_the_viewer_may_use():
    from playground.models import ModelEntry, ModelKind

    team = make_team()
    owner, manager = make_user(Role.EMPLOYEE, team=team), make_user(Role.MANAGER, team=team)
    ModelEntry.objects.create(name="ft-3-x", display_name="tune", kind=ModelKind.CAUSAL_LM, source="/x", owner=owner)
    ModelEntry.objects.create(name="shared-x", display_name="shared", kind=ModelKind.CAUSAL_LM, source="/x")
    runs = {name: PlaygroundRun.objects.create(user=owner, model_name=name, mode="completion", prompt="p",
                                               status=RunStatus.DONE) for name in ("ft-3-x", "shared-x")}
    client = Client()

    def button(user, name):
        client.force_login(user)
        response = client.get(reverse("playground:run", args=[runs[name].public_id]))
        assert response.status_code == 200
        return "Open in the playground" in response.content.decode()

    assert button(owner, "ft-3-x") and button(owner, "shared-x")
    assert not button(manager, "ft-3-x") and button(manager, "shared-x")


@pytest.mark.parametrize("name", ["playground:attention", "playground:attention_embed"])
def test_the_heatmap_opens_on_the_layer_and_head_asked_for(name, registered_models):
    client = Client()
    client.force_login(make_user(Role.EMPLOYEE, team=make_team()))
    query = {"view": "heatmap", "model": "minilm-l6-v2", "text": "The animal was tired", "layer": "4", "head": "7"}
    response = client.get(reverse(name), query)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-layer="4" data-head="7"' in html
    # The data requests choose the layer themselves and need every head of it.
    data_query = re.search(r'data-query="([^"]*)"', html).group(1)
    assert "model=minilm-l6-v2" in data_query and "layer=" not in data_query and "head=" not in data_query
    plain = client.get(reverse(name), {k: v for k, v in query.items() if k not in ("layer", "head")})
    assert "data-layer" not in plain.content.decode() and "data-head" not in plain.content.decode()
    for bad, message in (({"layer": "two"}, "layer must be a whole number."), ({"head": "-1"}, "head must be 0 or more.")):
        response = client.get(reverse(name), query | bad)
        assert response.status_code == 400 and message in response.content.decode()
        assert 'id="attention"' not in response.content.decode()
