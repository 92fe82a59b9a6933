import datetime as dt
from statistics import mean

import pytest

from accounts.models import Role
from core.errors import NotFound
from courseapp.models import Lesson
from dashboards import reminders, scope, selectors
from dashboards.filters import Filters
from tests.dashboards.factories import assign, attempt, finish, make_course, make_user, progress, run, team_with
from training.models import FineTuneJob

pytestmark = pytest.mark.django_db
TODAY = dt.date(2030, 6, 15)


def lessons_of(course):
    return list(Lesson.objects.filter(course=course).order_by("position"))


def filters_for(viewer, **kwargs):
    return Filters(courses=tuple(scope.courses_for(viewer=viewer)), **kwargs)


def test_team_figures_match_the_rows(course):
    team, manager, (a, b, c) = team_with(3)
    other_team, _, (stranger,) = team_with(1)
    l1, l2, l3 = lessons_of(course)
    progress(a, l1, seconds=600)
    progress(a, l2, seconds=300)
    progress(b, l1, seconds=120)
    progress(c, l3, done=False)
    progress(stranger, l1, seconds=9999)
    scores = [40, 75, 100]
    attempt(a, l1.quiz, score=scores[0])
    attempt(a, l1.quiz, score=scores[1])
    attempt(b, l1.quiz, score=scores[2])
    attempt(stranger, l1.quiz, score=5)
    run(a, tokens=10, compute=1.25)
    run(b, tokens=30, compute=2.0)
    run(stranger, tokens=999, compute=99)
    for user, gpu in ((a, 12.5), (b, 7.5), (stranger, 500.0)):
        FineTuneJob.objects.create(user=user, name="job", kind="causal_lm", base_model="smollm2-135m-instruct",
                                   queue_name="default", gpu_seconds=gpu)

    data = selectors.overview(viewer=manager, filters=filters_for(manager), today=TODAY)
    assert [row.team for row in data["rows"]] == [team]  # the manager's only team
    stats = data["rows"][0].stats
    assert stats.members == 4  # the manager is a member too
    assert stats.lessons_done == {course.pk: 3}
    assert data["rows"][0].completion_percent == round(100 * 3 / (4 * 3))
    assert stats.time_spent_seconds == 600 + 300 + 120
    assert stats.attempts == 3 and stats.score_avg == round(mean(scores), 1)
    assert stats.buckets[4] == 1 and stats.buckets[7] == 1 and stats.buckets[9] == 1 and sum(stats.buckets) == 3
    assert (stats.runs, stats.tokens, stats.compute_seconds) == (2, 40, 3.25)
    assert (stats.jobs, stats.gpu_seconds) == (2, 20.0)

    admin = make_user(Role.ADMIN)
    everything = selectors.overview(viewer=admin, filters=filters_for(admin), today=TODAY)
    assert {row.team for row in everything["rows"]} == {team, other_team}
    assert everything["total"].stats.runs == 3


def test_date_range_limits_activity(course):
    team, manager, (a,) = team_with(1)
    l1, l2, _ = lessons_of(course)
    old = dt.datetime(2030, 1, 10, 12, tzinfo=dt.UTC)
    new = dt.datetime(2030, 3, 10, 12, tzinfo=dt.UTC)
    progress(a, l1, at=old, seconds=100)
    progress(a, l2, at=new, seconds=200)
    attempt(a, l1.quiz, score=50, at=old)
    attempt(a, l2.quiz, score=90, at=new)
    march = filters_for(manager, start=dt.date(2030, 3, 1), end=dt.date(2030, 3, 31))
    stats = selectors.group_stats(teams=[team], filters=march, today=TODAY)[team.pk]
    assert stats.time_spent_seconds == 200 and stats.attempts == 1 and stats.score_avg == 90
    assert stats.lessons_done[course.pk] == 2  # completion is "as of" the end of the range
    january = filters_for(manager, end=dt.date(2030, 1, 31))
    assert selectors.group_stats(teams=[team], filters=january, today=TODAY)[team.pk].lessons_done[course.pk] == 1


def test_overdue_counts_unfinished_assigned_people(course):
    team, manager, (a, b) = team_with(2)
    other = make_course()
    assign(manager, course, TODAY - dt.timedelta(days=1), team=team)  # everyone: a, b and the manager
    assign(manager, other, TODAY - dt.timedelta(days=3), user=a)
    assign(manager, other, TODAY + dt.timedelta(days=3), user=b)  # not yet due
    finish(b, course)
    stats = selectors.group_stats(teams=[team], filters=filters_for(manager), today=TODAY)[team.pk]
    assert sorted((u, c) for u, c, _ in stats.overdue_items) == sorted(
        [(a.pk, course.pk), (manager.pk, course.pk), (a.pk, other.pk)])


def test_matrix_cells_show_status_and_best_score(course):
    _team, _manager, (a, b) = team_with(2)
    l1, l2, l3 = lessons_of(course)
    progress(a, l1)
    progress(a, l2, done=False)
    attempt(a, l1.quiz, score=50)
    attempt(a, l1.quiz, score=85)
    lessons, cells = selectors.lesson_matrix(people=[a, b], course=course)
    assert lessons == [l1, l2, l3]
    assert [c.status for c in cells[a.pk]] == ["done", "started", "not_started"]
    assert cells[a.pk][0].score == 85 and cells[a.pk][0].passed is True
    assert [c.status for c in cells[b.pk]] == ["not_started"] * 3 and cells[b.pk][0].score is None


def test_completion_series_is_cumulative(course):
    team, manager, (a,) = team_with(1)
    l1, l2, _ = lessons_of(course)
    progress(a, l1, at=dt.datetime(2030, 6, 1, 9, tzinfo=dt.UTC))
    progress(a, l2, at=dt.datetime(2030, 6, 3, 9, tzinfo=dt.UTC))
    series = selectors.completion_series(teams=[team], filters=filters_for(manager), members=2, today=dt.date(2030, 6, 4))
    assert series["labels"] == ["2030-06-01", "2030-06-02", "2030-06-03", "2030-06-04"]
    possible = 2 * 3
    assert series["values"] == [round(100 / possible, 1)] * 2 + [round(200 / possible, 1)] * 2


def test_my_assignments_flag_overdue_first(course):
    team, manager, (a,) = team_with(1)
    later = make_course()
    assign(manager, later, TODAY + dt.timedelta(days=10), team=team)
    assign(manager, course, TODAY - dt.timedelta(days=2), user=a)
    items = reminders.assignments_for(user=a, today=TODAY)
    assert [(i.course, i.overdue) for i in items] == [(course, True), (later, False)]
    finish(a, course)
    assert not reminders.assignments_for(user=a, today=TODAY)[-1].overdue


def test_person_scope(course):
    _team, manager, (a,) = team_with(1)
    _other, _, (stranger,) = team_with(1)
    assert scope.person_get(viewer=manager, user_id=a.pk) == a

    for viewer, target in [(manager, stranger), (a, manager), (a, stranger)]:
        with pytest.raises(NotFound):
            scope.person_get(viewer=viewer, user_id=target.pk)
    assert scope.person_get(viewer=a, user_id=a.pk) == a
    assert scope.person_get(viewer=make_user(Role.ADMIN), user_id=stranger.pk) == stranger


def test_gpu_seconds_in_a_period_are_counted_as_the_quota_counts_them(course):
    """A job queued before the period but run inside it counts in the period, on the
    dashboard as in the employee's quota: both place GPU use by when the job started."""
    from training.selectors import usage_seconds

    team, manager, (a,) = team_with(1)
    queued = dt.datetime(2030, 2, 27, 12, tzinfo=dt.UTC)
    started = dt.datetime(2030, 3, 2, 9, tzinfo=dt.UTC)
    job = FineTuneJob.objects.create(user=a, name="job", kind="causal_lm", base_model="smollm2-135m-instruct",
                                     queue_name="default", gpu_seconds=30.0, started_at=started)
    FineTuneJob.objects.filter(pk=job.pk).update(created_at=queued)
    march = filters_for(manager, start=dt.date(2030, 3, 1), end=dt.date(2030, 3, 31))
    stats = selectors.overview(viewer=manager, filters=march, today=TODAY)["rows"][0].stats
    assert (stats.jobs, stats.gpu_seconds) == (1, 30.0)
    assert usage_seconds(user=a, since=march.start_limit) == 30.0
    february = filters_for(manager, start=dt.date(2030, 2, 1), end=dt.date(2030, 2, 28))
    stats = selectors.overview(viewer=manager, filters=february, today=TODAY)["rows"][0].stats
    assert (stats.jobs, stats.gpu_seconds) == (0, 0.0)
