"""Each role's access to each page: anonymous → login; employee ↛ manager/admin; manager ↛ admin."""

import json

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import make_team, make_user

PAGES = {
    # url name: minimum role
    "courseapp:catalog": Role.EMPLOYEE,
    "playground:index": Role.EMPLOYEE,
    "dashboards:my_progress": Role.EMPLOYEE,
    "dashboards:overview": Role.MANAGER,
    "curation": Role.ADMIN,
}
RANK = [Role.EMPLOYEE, Role.MANAGER, Role.ADMIN]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", RANK)
@pytest.mark.parametrize("name", PAGES)
def test_role_access(client, name, role):
    user = make_user(role, team=make_team())
    client.force_login(user)
    response = client.get(reverse(name))
    allowed = RANK.index(role) >= RANK.index(PAGES[name])
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "destination"),
    [(Role.EMPLOYEE, "courseapp:catalog"), (Role.MANAGER, "dashboards:overview"), (Role.ADMIN, "curation")],
)
def test_home_sends_each_role_to_its_place(client, role, destination):
    client.force_login(make_user(role, team=make_team()))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse(destination)


@pytest.mark.django_db
def test_login_page_and_health_are_public_and_admin_needs_login(client):
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_login_with_password_then_logout(client, employee):
    response = client.post(reverse("accounts:login"), {"username": employee.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get(reverse("courseapp:catalog")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("courseapp:catalog")).status_code == 302


@pytest.mark.django_db
def test_wrong_password_shows_an_error(client, employee):
    response = client.post(reverse("accounts:login"), {"username": employee.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_manager_dashboard_shows_only_their_teams(client):
    mine, other = make_team("Mine"), make_team("Other")
    manager = make_user(Role.MANAGER, team=mine)
    make_user(Role.EMPLOYEE, team=mine, username="teammate")
    make_user(Role.EMPLOYEE, team=other, username="stranger")
    client.force_login(manager)
    html = client.get(reverse("dashboards:team", args=[mine.pk])).content.decode()
    assert "teammate" in html and "Mine" in html
    assert "stranger" not in html and "Other" not in html


@pytest.mark.django_db
def test_every_page_sends_a_strict_csp(client, employee):
    client.force_login(employee)
    csp = client.get(reverse("courseapp:catalog"))["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "http" not in csp and "unsafe-inline" not in csp


@pytest.mark.django_db
def test_language_switch_renders_chinese(client, employee):
    client.force_login(employee)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/learn/"})
    html = client.get(reverse("courseapp:catalog")).content.decode()
    assert 'lang="zh-hans"' in html
    assert "课程" in html


@pytest.mark.django_db
def test_scripts_get_their_strings_in_the_page_language(client):
    # Public (the login page loads it too), and in the language the visitor chose.
    def catalog():
        return client.get(reverse("javascript-catalog")).content.decode()

    def js(text):  # the catalog writes non-ASCII as JSON escapes
        return json.dumps(text)

    english = catalog()
    assert "globals.gettext = django.gettext" in english and js("正在生成…") not in english
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    chinese = catalog()
    assert f'{js("Generating…")}: {js("正在生成…")}' in chinese
    assert js("%(count)s 个词元") in chinese
