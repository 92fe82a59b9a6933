"""Manager dashboard at scale: seed 2,000 employees in 50 teams with a 40-lesson course,
their progress, quiz attempts and playground runs, then time the manager's team page
(a 40-person team) and the admin overview through Django's test client, and count
their queries.

    .venv/bin/python bench/dashboard_scale.py                 # embedded SQLite, var/bench-dashboard/
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/llm_academy_dash_bench \
        .venv/bin/python bench/dashboard_scale.py             # PostgreSQL (database created if missing)

The database is a throwaway: it is flushed and reseeded unless --reuse is given.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LLM_VAR_DIR", str(ROOT / "var" / "bench-dashboard"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

TEAMS, PER_TEAM, MODULES, LESSONS_PER_MODULE, RUNS_PER_PERSON = 50, 40, 4, 10, 5


def ensure_database():
    db = connection.settings_dict
    if not db["ENGINE"].endswith("postgresql"):
        return
    import psycopg

    try:
        psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]).close()
    except psycopg.OperationalError:
        with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def seed():
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, Team, User
    from courseapp.models import Attempt, AttemptStatus, Course, Lesson, LessonProgress, Module, Quiz
    from dashboards.models import Assignment
    from playground.models import PlaygroundRun, RunStatus

    rng = random.Random(7)  # noqa: S311  (reproducible test data, not secrets)
    now = timezone.now()
    call_command("flush", "--no-input", verbosity=0)
    UNUSABLE = make_password(None)  # nobody logs in: the benchmark uses force_login
    course = Course.objects.create(slug="scale", title={"en": "Scale course", "zh-Hans": "规模课程"}, published=True)
    lessons = []
    for m in range(MODULES):
        module = Module.objects.create(course=course, slug=f"m{m}", title={"en": f"Module {m}", "zh-Hans": ""},
                                       position=m)
        for n in range(LESSONS_PER_MODULE):
            lessons.append(Lesson.objects.create(course=course, module=module, slug=f"m{m}-l{n}", position=n,
                                                 title={"en": f"Lesson {m}.{n}", "zh-Hans": ""}, published=True))
    quizzes = Quiz.objects.bulk_create([Quiz(course=course, lesson=lesson, slug=f"{lesson.slug}-quiz",
                                             title={"en": "Quiz", "zh-Hans": ""}, published=True)
                                        for lesson in lessons])
    teams = Team.objects.bulk_create([Team(name=f"Team {t:02d}") for t in range(TEAMS)])
    managers = User.objects.bulk_create([User(username=f"manager{t:02d}", role=Role.MANAGER, team=team,
                                              email=f"manager{t:02d}@example.com", password=UNUSABLE)
                                         for t, team in enumerate(teams)])
    for team, manager in zip(teams, managers, strict=True):
        team.managers.add(manager)
    people = User.objects.bulk_create([User(username=f"e{t:02d}-{i:02d}", name=f"Employee {t}.{i}", team=team,
                                            email=f"e{t:02d}-{i:02d}@example.com", password=UNUSABLE)
                                       for t, team in enumerate(teams) for i in range(PER_TEAM)])
    User.objects.create(username="admin", role=Role.ADMIN, is_superuser=True, is_staff=True, password=UNUSABLE)
    progress, attempts, runs = [], [], []
    for person in people:
        done = rng.randint(0, len(lessons))
        for k, (lesson, quiz) in enumerate(zip(lessons, quizzes, strict=True)):
            if k > done:
                break
            at = now - timezone.timedelta(days=rng.randint(0, 90))
            completed = at if k < done else None
            progress.append(LessonProgress(user=person, lesson=lesson, first_viewed_at=at, last_viewed_at=at,
                                           completed_at=completed, time_spent_seconds=rng.randint(60, 1800)))
            if completed:
                for number in range(1, rng.randint(1, 2) + 1):
                    score = rng.choice([20, 40, 60, 80, 100])
                    attempts.append(Attempt(user=person, quiz=quiz, number=number, score=score, passed=score >= 70,
                                            status=AttemptStatus.SUBMITTED, submitted_at=at))
        runs += [PlaygroundRun(user=person, model_name="smollm2", mode="chat", prompt="hi", status=RunStatus.DONE,
                               completion_tokens=rng.randint(10, 300), compute_seconds=rng.random() * 5)
                 for _ in range(RUNS_PER_PERSON)]
    LessonProgress.objects.bulk_create(progress, batch_size=5000)
    Attempt.objects.bulk_create(attempts, batch_size=5000)
    PlaygroundRun.objects.bulk_create(runs, batch_size=5000)
    Assignment.objects.bulk_create([Assignment(course=course, team=team, due_date=(now - timezone.timedelta(
        days=rng.randint(-30, 30))).date(), assigned_by=managers[t]) for t, team in enumerate(teams)])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"people": len(people), "progress": len(progress), "attempts": len(attempts), "runs": len(runs)}


def measure(client, url, n):
    client.get(url)  # warm caches (templates, connections)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return {"p50": statistics.median(times), "p95": p95, "max": times[-1], "queries": len(ctx.captured_queries)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=40, help="requests per page")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded data from a previous run")
    args = parser.parse_args()
    from accounts.models import Team, User

    ensure_database()
    call_command("migrate", verbosity=0)
    if not args.reuse:
        start = time.perf_counter()
        counts = seed()
        print(f"seeded {counts} in {time.perf_counter() - start:.1f} s")
    print(f"database: {connection.vendor}")
    team = Team.objects.get(name="Team 00")
    pages = [
        ("manager: team page, 40 people × 40 lessons", User.objects.get(username="manager00"), f"/team/{team.pk}/"),
        ("admin: overview of 50 teams, 2,000 people", User.objects.get(username="admin"), "/team/"),
    ]
    for label, user, url in pages:
        client = Client()
        client.force_login(user)
        r = measure(client, url, args.n)
        print(f"{label:48s} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  max {r['max']:6.1f} ms  "
              f"{r['queries']} queries")


if __name__ == "__main__":
    main()
