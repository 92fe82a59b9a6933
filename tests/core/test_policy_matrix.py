"""Every URL and socket message, tried as each kind of user, against a declared table.

The URLs come from Django's resolver and the socket routes from playground.routing, so
a new URL without a rule here fails `test_every_url_has_a_rule`. The expected outcome of
each cell is written down below (RULES), from the policy in core/policy.py as a person
states it, never computed by the code under test. Ids in paths are real objects that
belong to employee A (or to A's manager), so every other user asks for someone else's.

Outcomes: "ok" (allowed: not 403/404, not sent to log in; an endpoint that needs a
model worker may answer 503, since none runs here), "login" (anonymous: 302 to a login
page), 403, 404 (where even existence must not leak).
"""

import re
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Role, User
from config.asgi import application
from courseapp.models import Certificate, Lesson, LessonFigure, Module, Question
from courseapp.services import attempt_start
from dashboards.models import ExportJob
from dashboards.services import assignment_create, export_job_run
from playground.models import ModelEntry, ModelKind, PlaygroundRun, RunStatus
from tests.courseapp.factories import make_course
from tests.courseapp.helpers import unlock
from tests.factories import make_team, make_user
from training import services as training
from training.models import FineTuneJob, JobStatus

pytestmark = pytest.mark.django_db

ANON, EMP_A, EMP_B, MGR_A, MGR_B, DEMOTED, MOVED, ADMIN = WHO = (
    "anonymous", "employee A", "employee B", "manager of A", "manager of B", "demoted manager", "moved manager",
    "admin")
EVERYONE = set(WHO) - {ANON}
MANAGERS = {MGR_A, MGR_B, MOVED, ADMIN}  # the manager role now (admins open every manager page)
SEES_A = {EMP_A, MGR_A, ADMIN}  # may view person A: A, A's current manager, an admin


def public():
    return {who: "ok" for who in WHO}


def learner():
    """Any active person; anonymous visitors are sent to log in."""
    return {ANON: "login"} | {who: "ok" for who in EVERYONE}


def door(allowed: set, refusal=403):
    """A page for `allowed`; everyone else logged in gets `refusal`."""
    return {ANON: "login"} | {who: "ok" if who in allowed else refusal for who in EVERYONE}


def person_a(refusal: int, *, behind_the_manager_door=False, only=SEES_A):
    """Data of employee A: `only` may see it; others get `refusal`. Behind the manager
    door, employees (A included) are refused at the door (403) first."""
    cells = door(only, refusal)
    if behind_the_manager_door:
        cells |= {who: 403 for who in EVERYONE - MANAGERS}
    return cells


# method, query or form data, the outcome for each user. Keys are route patterns.
RULES = {
    "healthz": ("get", {}, public()),
    "health/": ("get", {}, door({ADMIN})),
    "i18n/setlang/": ("post", {"language": "en"}, public()),
    "jsi18n/": ("get", {}, public()),
    "accounts/login/": ("get", {}, public()),
    "accounts/logout/": ("post", {}, {who: "login" for who in WHO}),  # anyone, and it ends on the login page
    "accounts/team/": ("get", {}, learner()),  # a redirect to the team page, which has its own door
    # Company sign-in: public doors; with no provider configured (as here) they are 404.
    # With one, tests/accounts/test_sso_oidc.py drives them against a real provider.
    "accounts/sso/oidc/start/": ("get", {}, {who: 404 for who in WHO}),
    "accounts/sso/oidc/callback/": ("get", {}, {who: 404 for who in WHO}),
    # (SAML: tests/accounts/test_sso_saml.py drives these against SimpleSAMLphp)
    "accounts/sso/saml/login/": ("get", {}, {who: 404 for who in WHO}),
    "accounts/sso/saml/acs/": ("post", {"SAMLResponse": "x"}, {who: 404 for who in WHO}),
    "accounts/sso/saml/metadata/": ("get", {}, {who: 404 for who in WHO}),
    "": ("get", {}, learner()),
    "curation/": ("get", {}, door({ADMIN})),
    # Courses: everyone learns; certificates are public by their unguessable code
    "learn/": ("get", {}, learner()),
    "learn/me/": ("get", {}, learner()),
    "learn/certificates/<str:code>/": ("get", {}, public()),
    "learn/<slug:course_slug>/": ("get", {}, learner()),
    "learn/<slug:course_slug>/resume/": ("get", {}, learner()),
    "learn/<slug:course_slug>/lessons/<slug:lesson_slug>/": ("get", {}, learner()),
    "learn/<slug:course_slug>/lessons/<slug:lesson_slug>/complete/": ("post", {}, learner()),
    # Reading time goes to the reporter's own progress only (none here: 409, which is "ok")
    "learn/<slug:course_slug>/lessons/<slug:lesson_slug>/time/": ("post", {"seconds": "30"}, learner()),
    "learn/<slug:course_slug>/lessons/<slug:lesson_slug>/files/<path:name>": ("get", {}, learner()),
    "learn/<slug:course_slug>/quizzes/<slug:quiz_slug>/": ("get", {}, learner()),
    "learn/<slug:course_slug>/quizzes/<slug:quiz_slug>/start/": ("post", {}, learner()),
    # An attempt is its learner's alone (ids are counters: 404)
    "learn/attempts/<int:attempt_id>/": ("get", {}, door({EMP_A}, 404)),
    "learn/attempts/<int:attempt_id>/submit/": ("post", {}, door({EMP_A}, 404)),
    "learn/attempts/<int:attempt_id>/questions/<int:question_id>/check/": ("post", {}, door({EMP_A}, 404)),
    # Authoring: admins
    "learn/author/": ("get", {}, door({ADMIN})),
    "learn/author/preview/": ("post", {"body": "# hi"}, door({ADMIN})),
    "learn/author/courses/new/": ("post", {}, door({ADMIN})),
    "learn/author/courses/<int:course_id>/": ("get", {}, door({ADMIN})),
    "learn/author/courses/<int:course_id>/modules/new/": ("post", {}, door({ADMIN})),
    "learn/author/modules/<int:module_id>/": ("get", {}, door({ADMIN})),
    "learn/author/modules/<int:module_id>/lessons/new/": ("post", {}, door({ADMIN})),
    "learn/author/lessons/<int:lesson_id>/": ("get", {}, door({ADMIN})),
    "learn/author/courses/<int:course_id>/quizzes/new/": ("post", {}, door({ADMIN})),
    "learn/author/quizzes/<int:quiz_id>/": ("get", {}, door({ADMIN})),
    "learn/author/quizzes/<int:quiz_id>/questions/new/": ("post", {}, door({ADMIN})),
    "learn/author/questions/<int:question_id>/": ("get", {}, door({ADMIN})),
    "learn/author/<str:kind>/<int:pk>/move/<str:direction>/": ("post", {}, door({ADMIN})),
    "learn/author/<str:kind>/<int:pk>/publish/": ("post", {}, door({ADMIN})),
    # Playground: a run's id is random, so someone else's run is a 403
    "playground/": ("get", {}, learner()),
    "playground/runs/": ("get", {}, learner()),
    "playground/compare/": ("get", {}, learner()),
    "playground/runs/<uuid:public_id>/": ("get", {}, person_a(403)),
    "playground/attention/": ("get", {"run": "{run}"}, person_a(403)),
    "playground/attention/embed/": ("get", {"run": "{run}"}, person_a(403)),
    "playground/attention/layer.json": ("get", {"run": "{run}", "layer": "0"}, person_a(403)),
    "playground/attention/bertviz-<str:view>.js": ("get", {"run": "{run}"}, person_a(403)),
    # The layer view and switch-offs of a run on A's fine-tune: A alone (the run's readers may
    # not use the fine-tune; it is its owner's, an admin's neither)
    "playground/lens/": ("get", {"run": "{lens_run}"}, door({EMP_A})),
    "playground/lens/embed/": ("get", {"run": "{lens_run}"}, door({EMP_A})),
    "playground/lens/grid.json": ("get", {"run": "{lens_run}"}, door({EMP_A})),
    "playground/lens/ablate.json": ("get", {"run": "{lens_run}", "ablate": "13.8"}, door({EMP_A})),
    # Fine-tunes: ids are counters (404); a manager reads, only the owner or an admin cancels,
    # and only the owner may use (so compare with) the tuned model
    "training/": ("get", {}, learner()),
    "training/submit/": ("post", {}, learner()),
    "training/jobs/<int:pk>/": ("get", {}, person_a(404)),
    "training/jobs/<int:pk>/progress/": ("get", {}, person_a(404)),
    "training/jobs/<int:pk>/cancel/": ("post", {}, person_a(404) | {MGR_A: 403}),
    "training/jobs/<int:pk>/compare/": ("get", {}, person_a(404) | {MGR_A: 403, ADMIN: 403}),
    "training/backend/": ("get", {}, door({ADMIN})),
    "training/backend/quota/<int:user_id>/": ("post", {"max_concurrent": "2"}, door({ADMIN})),
    # Dashboards: the manager door (403), then teams and people not yours don't exist (404)
    "team/": ("get", {}, door(MANAGERS)),
    "team/<int:team_id>/": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/<int:team_id>/matrix/": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/assign/": ("get", {}, door(MANAGERS)),
    "team/assignments/<int:assignment_id>/delete/": ("post", {}, person_a(404, behind_the_manager_door=True)),
    "team/people/<int:user_id>/": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/export/": ("post", {"kind": "matrix", "team": "{team}"}, person_a(404, behind_the_manager_door=True)),
    # An export belongs to whoever asked for it (A's manager), even an admin's own are separate
    "team/exports/<int:job_id>/": ("get", {}, person_a(404, behind_the_manager_door=True, only={MGR_A})),
    "team/exports/<int:job_id>/status/": ("get", {}, person_a(404, behind_the_manager_door=True, only={MGR_A})),
    "team/exports/<int:job_id>/download/": ("get", {}, person_a(404, behind_the_manager_door=True,
                                                                  only={MGR_A})),
    "me/progress/": ("get", {}, learner()),
    # The AI-literacy record: the manager door, then only the viewer's teams and their people
    "team/literacy/": ("get", {}, door(MANAGERS)),
    "team/literacy.csv": ("get", {}, door(MANAGERS)),
    "team/<int:team_id>/literacy/": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/<int:team_id>/literacy.csv": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/people/<int:user_id>/literacy/": ("get", {}, person_a(404, behind_the_manager_door=True)),
    "team/people/<int:user_id>/literacy.csv": ("get", {}, person_a(404, behind_the_manager_door=True)),
    # The audit log: admins
    "audit/": ("get", {}, door({ADMIN})),
    "audit/export.csv": ("get", {}, door({ADMIN})),
    # Directory sync: a bearer token only (tests/scim/test_door.py); no session opens it
    **{pattern: (method, {}, {who: 401 for who in WHO}) for pattern, method in (
        ("scim/v2/", "get"), ("scim/v2/Users/.search", "post"), ("scim/v2/^Users(?:/(?P<uuid>[^/]+))?$", "get"),
        ("scim/v2/Groups/.search", "post"), ("scim/v2/^Groups(?:/(?P<uuid>[^/]+))?$", "get"),
        ("scim/v2/ServiceProviderConfig", "get"), ("scim/v2/^ResourceTypes(?:/(?P<uuid>[^/]+))?$", "get"),
        ("scim/v2/^Schemas(?:/(?P<uuid>[^/]+))?$", "get"), ("scim/v2/Me", "get"), ("scim/v2/Bulk", "post"),
        ("scim/v2/.search", "post"), ("scim/v2/^.+$", "get"))},
}

# Django's admin has its own door (is_staff, which only the admin role sets): everyone
# else is sent to the admin's login page. Its pages are checked as one rule, but for:
ADMIN_SITE = door({ADMIN}, "login") | {ANON: "login"}
ADMIN_SITE_EXCEPTIONS = {
    "admin/login/": public(),
    "admin/logout/": learner(),  # anyone logged in may log out
    # Django refuses an autocomplete query that names no autocomplete field (we register none)
    "admin/autocomplete/": ADMIN_SITE | {ADMIN: 403},
    "admin/(?P<url>.*)$": ADMIN_SITE | {ADMIN: 404},  # the catch-all, for a page that doesn't exist
    # The audit log is append-only: even an admin may not add, change (a GET shows it
    # read-only) or delete an entry
    "admin/audit/auditentry/add/": ADMIN_SITE | {ADMIN: 403},
    "admin/audit/auditentry/<path:object_id>/delete/": ADMIN_SITE | {ADMIN: 403},
}
# Socket messages on ws/playground/, each naming employee A's fine-tune.
SOCKET_ROUTES = {"ws/playground/"}
SOCKET_RULES = {
    "start": door({EMP_A}, "unknown_model"),  # the same answer as for a model that doesn't exist
    "tokenize": door({EMP_A}, "unknown_model"),
    "stop": {who: "not_running" for who in EVERYONE},  # only ever your own generation on your own socket
}

def routes() -> list[tuple[str, str]]:
    """(pattern, name) of every URL the resolver knows."""
    def walk(patterns, prefix="", namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if p.namespace and namespace else (p.namespace or namespace)
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), f"{namespace}:{p.name}" if namespace else (p.name or "")
    return list(walk(get_resolver().url_patterns))


def test_every_url_has_a_rule():
    missing = [pattern for pattern, _name in routes()
               if pattern not in RULES and not pattern.startswith(("admin/", "^admin/"))]
    assert not missing, f"URLs without an access rule in {__file__}: {missing}"
    stale = set(RULES) - {pattern for pattern, _name in routes()}
    assert not stale, f"rules for URLs that no longer exist: {stale}"


@pytest.fixture
def world(monkeypatch, settings):
    """Teams A, B and C; the eight users; and A's things."""
    monkeypatch.setattr("playground.attention_views.WORKER_TIMEOUT", 0.1)  # no model worker runs here
    monkeypatch.setattr("playground.lens_views.WORKER_TIMEOUT", 0.1)
    settings.LLM_REQUESTS_CHANNEL = f"llm.requests.matrix-{uuid.uuid4().hex[:8]}"  # nor later finds these
    monkeypatch.setattr("ops.health.CELERY_PING_TIMEOUT", 0.1)
    monkeypatch.setattr("ops.health.WORKER_PING_TIMEOUT", 0.1)
    team_a, team_b, _team_c = make_team("A"), make_team("B"), make_team("C")
    users = {EMP_A: make_user(Role.EMPLOYEE, team=team_a, username="emp-a"),
             EMP_B: make_user(Role.EMPLOYEE, team=team_b, username="emp-b"),
             MGR_A: make_user(Role.MANAGER, team=team_a, username="mgr-a"),
             MGR_B: make_user(Role.MANAGER, team=team_b, username="mgr-b"),
             ADMIN: make_user(Role.ADMIN, username="boss")}
    # Both were managers of A; one is demoted (staying in A), the other moved to C.
    for username in ("demoted", "moved"):
        make_user(Role.MANAGER, team=team_a, username=username)
    call_command("people", "add", "demoted", "--role", "employee", "--team", "A")
    call_command("people", "add", "moved", "--role", "manager", "--team", "C")
    users[DEMOTED], users[MOVED] = User.objects.get(username="demoted"), User.objects.get(username="moved")
    a = users[EMP_A]

    course = make_course(lessons=1)
    lesson = Lesson.objects.get(course=course)
    LessonFigure.objects.create(lesson=lesson, name="fig.svg", content_type="image/svg+xml", data=b"<svg/>")
    quiz = lesson.quiz
    unlock(a, quiz)
    attempt = attempt_start(user=a, quiz=quiz)
    certificate = Certificate.objects.create(user=a, course=course, code="c" * 32)
    run = PlaygroundRun.objects.create(user=a, model_name="smollm2-135m-instruct", mode="completion",
                                       prompt="A's prompt", status=RunStatus.DONE, tokens=[{"id": 1}])
    done = training.job_submit(user=a, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    FineTuneJob.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED, registered_model="ft-1-emp-a")
    ModelEntry.objects.create(name="ft-1-emp-a", display_name="A's tune", kind=ModelKind.CAUSAL_LM,
                              source="/nowhere", owner=a)
    lens_run = PlaygroundRun.objects.create(user=a, model_name="ft-1-emp-a", mode="completion", prompt="A's prompt",
                                            status=RunStatus.DONE, tokens=[{"id": 1}])
    queued = training.job_submit(user=a, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    assignment = assignment_create(assigned_by=users[MGR_A], course=course, due_date="2030-01-01", team=team_a)
    export = ExportJob.objects.create(requested_by=users[MGR_A], kind="matrix", params={"team": team_a.pk})
    export_job_run(job_id=export.pk)
    values = {"code": certificate.code, "attempt_id": attempt.pk, "question_id": attempt.question_ids[0],
              "course_id": course.pk, "module_id": Module.objects.get(course=course).pk, "lesson_id": lesson.pk,
              "quiz_id": quiz.pk, "kind": "lesson", "pk": lesson.pk, "direction": "down",
              "course_slug": course.slug, "lesson_slug": lesson.slug, "quiz_slug": quiz.slug, "name": "fig.svg",
              "public_id": run.public_id, "view": "head", "user_id": a.pk, "team_id": team_a.pk,
              "assignment_id": assignment.pk, "job_id": export.pk, "run": run.public_id, "team": team_a.pk,
              "lens_run": lens_run.public_id}
    assert Question.objects.filter(pk=values["question_id"]).exists()
    return {"users": users, "values": values, "done": done, "queued": queued, "model": "ft-1-emp-a"}


def scim_url(pattern: str) -> str:
    """A SCIM route (django-scim2's regexes) as a URL: a collection, or a path nobody serves."""
    path = pattern.replace("(?:/(?P<uuid>[^/]+))?", "").replace("^.+", "no-such-thing")
    return "/" + path.replace("^", "").replace("$", "")


def concrete(pattern: str, values: dict, world) -> str:
    """The pattern with its converters replaced by A's objects."""
    if pattern.startswith("scim/"):
        return scim_url(pattern)
    if pattern.startswith("training/jobs/"):
        job = world["done"] if pattern.endswith("compare/") else world["queued"]
        return "/" + pattern.replace("<int:pk>", str(job.pk))
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), pattern)


def admin_url(pattern: str, values: dict) -> str:
    """An admin pattern with real ids: the first object of the model its path names."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from courseapp.models import Course

    if "(?P<app_label>" in pattern:
        return "/admin/accounts/"
    if "(?P<url>" in pattern:
        return "/admin/no-such-page/"
    if pattern.startswith("admin/r/"):
        return f"/admin/r/{ContentType.objects.get_for_model(Course).pk}/{values['course_id']}/"
    if "<id>" in pattern:
        return "/" + pattern.replace("<id>", str(values["user_id"]))
    if "<path:object_id>" in pattern:
        _admin, app_label, model_name, *_rest = pattern.split("/")
        obj = apps.get_model(app_label, model_name).objects.order_by("pk").first()
        # (no such row: the admin sends its staff back to the index, the door is the same)
        return "/" + pattern.replace("<path:object_id>", str(obj.pk if obj else 999999))
    return "/" + pattern


def outcome(response) -> str | int:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and ("/accounts/login/" in location or "/admin/login/" in location):
        return "login"
    if response.status_code in (401, 403, 404):
        return response.status_code
    if response.status_code >= 500 and response.status_code != 503:
        return response.status_code
    return "ok"


def test_http_matrix(world, capsys):
    values, clients = world["values"], {who: Client() for who in WHO}

    def login(who):
        if who != ANON:
            clients[who].force_login(world["users"][who])

    def ask(who, method, url, data):
        with transaction.atomic():  # each cell starts from the same world
            response = getattr(clients[who], method)(url, data)
            transaction.set_rollback(True)
        if settings.SESSION_COOKIE_NAME in response.cookies:  # logged out, or a session now rolled back
            login(who)
        return outcome(response)

    for who in WHO:
        login(who)
    cells, differing = 0, []
    for pattern, _name in routes():
        if pattern.startswith("admin/"):  # the admin site: GET (its door is the same for every method)
            method, data, expected = "get", {}, ADMIN_SITE_EXCEPTIONS.get(pattern, ADMIN_SITE)
            url = admin_url(pattern, values)
        else:
            method, data, expected = RULES[pattern]
            data = {k: str(v).format(**values) for k, v in data.items()}
            url = concrete(pattern, values, world)
        for who in WHO:
            got = ask(who, method, url, data)
            cells += 1
            if got != expected[who]:
                differing.append((method.upper(), url, who, expected[who], got))
    with capsys.disabled():
        print(f"\naccess matrix (HTTP): {cells} cells, {len(differing)} differing")
    assert not differing, "\n".join(f"{m} {u} as {w}: expected {e}, got {g}" for m, u, w, e, g in differing)


@pytest.mark.django_db(transaction=True)
async def test_socket_matrix(capsys, settings):
    from playground import routing

    # An allowed start or tokenize goes to the model workers' channel; no worker runs here,
    # and none of a later test must find these requests.
    settings.LLM_REQUESTS_CHANNEL = f"llm.requests.matrix-{uuid.uuid4().hex[:8]}"

    assert {str(p.pattern) for p in routing.websocket_urlpatterns} == SOCKET_ROUTES
    source = (await sync_to_async(open)(routing.__file__.replace("routing.py", "consumers.py"))).read()
    handled = set(re.findall(r'"(\w+)": self\.on_\w+', source))
    assert handled == set(SOCKET_RULES), f"socket message types without a rule: {handled ^ set(SOCKET_RULES)}"
    world = await sync_to_async(_socket_world)()
    cells, differing = 0, []
    for who in WHO:
        headers = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
        if who != ANON:
            headers.append((b"cookie", await sync_to_async(_cookie)(world["users"][who])))
        comm = WebsocketCommunicator(application, "/ws/playground/", headers=headers)
        connected, _ = await comm.connect()
        if who == ANON:
            cells += len(SOCKET_RULES)
            if connected:
                differing.append(("socket", who, "refused", "connected"))
            continue
        for kind in ("tokenize", "stop", "start"):  # start last: an allowed start leaves a generation waiting
            message = {"type": kind, "request_id": kind, "model": world["model"], "text": "hi", "prompt": "hi",
                       "mode": "completion", "params": {"max_new_tokens": 2}}
            await comm.send_json_to(message)
            got = "ok"
            if not await comm.receive_nothing(timeout=0.3):
                reply = await comm.receive_json_from()
                got = reply.get("code", "ok") if reply["type"] == "error" else "ok"
            cells += 1
            expected = SOCKET_RULES[kind][who]
            if got != expected:
                differing.append((kind, who, expected, got))
        await comm.disconnect()
    with capsys.disabled():
        print(f"\naccess matrix (socket): {cells} cells, {len(differing)} differing")
    assert not differing, differing


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _socket_world() -> dict:
    team_a, team_b, _team_c = make_team("A"), make_team("B"), make_team("C")
    users = {EMP_A: make_user(Role.EMPLOYEE, team=team_a), EMP_B: make_user(Role.EMPLOYEE, team=team_b),
             MGR_A: make_user(Role.MANAGER, team=team_a), MGR_B: make_user(Role.MANAGER, team=team_b),
             DEMOTED: make_user(Role.MANAGER, team=team_a), MOVED: make_user(Role.MANAGER, team=team_a),
             ADMIN: make_user(Role.ADMIN)}
    call_command("people", "add", users[DEMOTED].username, "--role", "employee", "--team", "A")
    call_command("people", "add", users[MOVED].username, "--role", "manager", "--team", "C")
    users = {who: User.objects.get(pk=u.pk) for who, u in users.items()}
    ModelEntry.objects.create(name="ft-1-a", display_name="A's tune", kind=ModelKind.CAUSAL_LM,
                              source="/nowhere", owner=users[EMP_A])
    return {"users": users, "model": "ft-1-a"}

