"""Learner pages: catalog, outline, lessons, quizzes, My learning, certificates.
Each view parses its input, calls one service or selector, and renders."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Role
from core.permissions import role_required

from . import attempt_selectors, selectors, services


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _outline_context(request, course, kind: str, slug: str) -> dict:
    """The outline around one lesson or quiz, for the pages that show it beside the item."""
    outline = selectors.course_outline(course=course, user=request.user)
    item = outline.find(kind, slug)
    if item is None:  # published, but its course outline hides it (e.g. in a draft module)
        raise Http404
    item.current = True
    previous, following = outline.neighbours(item)
    return {"course": course, "outline": outline, "item": item, "previous": previous, "next": following}


@role_required(Role.EMPLOYEE)
@require_GET
def catalog(request):
    return render(request, "courseapp/catalog.html", {"courses": selectors.course_list(user=request.user)})


@role_required(Role.EMPLOYEE)
@require_GET
def my_learning(request):
    return render(request, "courseapp/my_learning.html", selectors.my_learning(user=request.user))


@role_required(Role.EMPLOYEE)
@require_GET
def course_detail(request, course_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    outline = selectors.course_outline(course=course, user=request.user)
    return render(request, "courseapp/course.html", {"course": course, "outline": outline})


@role_required(Role.EMPLOYEE)
@require_GET
def course_resume(request, course_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    item = selectors.course_outline(course=course, user=request.user).resume_item
    return redirect(item.url if item else course.get_absolute_url())


@role_required(Role.EMPLOYEE)
@require_GET
def lesson_detail(request, course_slug, lesson_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    lesson = selectors.lesson_get(course=course, slug=lesson_slug, user=request.user)
    context = _outline_context(request, course, "lesson", lesson.slug)
    if not context["item"].locked:
        outline = context["outline"]
        services.lesson_visit(user=request.user, lesson=lesson, progress=outline.progress.get(lesson.pk),
                              enrollment=outline.enrollment)
    reading = {"report_seconds": settings.LESSON_TIME_REPORT_SECONDS, "idle_seconds": settings.LESSON_IDLE_SECONDS,
               "max_seconds": services.MAX_TIME_REPORT_SECONDS}
    return render(request, "courseapp/lesson.html", context | {"lesson": lesson, "reading": reading})


@role_required(Role.EMPLOYEE)
@require_POST
def lesson_complete(request, course_slug, lesson_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    lesson = selectors.lesson_get(course=course, slug=lesson_slug, user=request.user)
    try:
        services.lesson_complete(user=request.user, lesson=lesson)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(lesson.get_absolute_url())
    outline = selectors.course_outline(course=course, user=request.user)
    following = outline.neighbours(outline.find("lesson", lesson.slug))[1]
    if outline.certificate and outline.complete:
        return redirect(outline.certificate.get_absolute_url())
    return redirect(following.url if following else course.get_absolute_url())


@role_required(Role.EMPLOYEE)
@require_POST
def lesson_time(request, course_slug, lesson_slug):
    """Active reading time, reported by the lesson page (static/js/reading.js) every few
    seconds and when it is left. Only ever to the learner's own progress."""
    course = selectors.course_get(slug=course_slug, user=request.user)
    lesson = selectors.lesson_get(course=course, slug=lesson_slug, user=request.user)
    try:
        seconds = int(request.POST.get("seconds", ""))
    except ValueError:
        return HttpResponseBadRequest(_("The reading time must be a whole number of seconds."))
    if services.lesson_time_add(user=request.user, lesson=lesson, seconds=seconds) is None:
        return HttpResponse(_("Open the lesson before reporting reading time on it."), status=409)
    return HttpResponse(status=204)


@role_required(Role.EMPLOYEE)
@require_GET
def lesson_figure(request, course_slug, lesson_slug, name):
    course = selectors.course_get(slug=course_slug, user=request.user)
    lesson = selectors.lesson_get(course=course, slug=lesson_slug, user=request.user)
    figure = selectors.lesson_figure_get(lesson=lesson, name=name)
    response = HttpResponse(bytes(figure.data), content_type=figure.content_type)
    # An SVG opened on its own must not run script in our origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@role_required(Role.EMPLOYEE)
@require_GET
def quiz_detail(request, course_slug, quiz_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    quiz = selectors.quiz_get(course=course, slug=quiz_slug, user=request.user)
    context = _outline_context(request, course, "quiz", quiz.slug)
    context |= {"quiz": quiz, "attempts": attempt_selectors.quiz_attempts(quiz=quiz, user=request.user)}
    return render(request, "courseapp/quiz.html", context)


@role_required(Role.EMPLOYEE)
@require_POST
def attempt_start(request, course_slug, quiz_slug):
    course = selectors.course_get(slug=course_slug, user=request.user)
    quiz = selectors.quiz_get(course=course, slug=quiz_slug, user=request.user)
    try:
        attempt = services.attempt_start(user=request.user, quiz=quiz)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(quiz.get_absolute_url())
    return redirect(attempt.get_absolute_url())


@role_required(Role.EMPLOYEE)
@require_GET
def attempt_detail(request, attempt_id):
    attempt = attempt_selectors.attempt_get(attempt_id=attempt_id, user=request.user)
    context = {"attempt": attempt, "quiz": attempt.quiz, "course": attempt.quiz.course,
               "questions": attempt_selectors.attempt_questions(attempt=attempt)}
    return render(request, "courseapp/attempt.html", context)


def _responses(post) -> dict[str, list[str]]:
    return {key[2:]: post.getlist(key) for key in post if key.startswith("q-")}


@role_required(Role.EMPLOYEE)
@require_POST
def attempt_check(request, attempt_id, question_id):
    attempt_selectors.attempt_get(attempt_id=attempt_id, user=request.user)  # someone else's attempt: 404, as on its page
    values = request.POST.getlist(f"q-{question_id}")
    try:
        services.attempt_answer_check(user=request.user, attempt_id=attempt_id, question_id=str(question_id),
                                      values=values)
    except ValidationError as exc:
        response = render(request, "courseapp/partials/error.html", {"message": _error_text(exc)}, status=422)
        response.headers["HX-Retarget"] = f"#q-errors-{question_id}"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    attempt = attempt_selectors.attempt_get(attempt_id=attempt_id, user=request.user)
    view = next(q for q in attempt_selectors.attempt_questions(attempt=attempt) if q.id == question_id)
    return render(request, "courseapp/partials/question.html", {"attempt": attempt, "q": view})


@role_required(Role.EMPLOYEE)
@require_POST
def attempt_submit(request, attempt_id):
    attempt_selectors.attempt_get(attempt_id=attempt_id, user=request.user)  # someone else's attempt: 404, as on its page
    try:
        attempt = services.attempt_submit(user=request.user, attempt_id=attempt_id,
                                          responses=_responses(request.POST))
    except ValidationError as exc:
        status = 409 if getattr(exc, "code", None) == "submitted" else 422
        if _is_htmx(request):
            response = render(request, "courseapp/partials/error.html", {"message": _error_text(exc)}, status=status)
            response.headers["HX-Retarget"] = "#attempt-errors"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        messages.error(request, _error_text(exc))
        return redirect("courseapp:attempt", attempt_id=attempt_id)
    if not _is_htmx(request):
        return redirect(attempt.get_absolute_url())
    attempt = attempt_selectors.attempt_get(attempt_id=attempt.pk, user=request.user)
    context = {"attempt": attempt, "quiz": attempt.quiz, "course": attempt.quiz.course,
               "questions": attempt_selectors.attempt_questions(attempt=attempt)}
    return render(request, "courseapp/partials/attempt_result.html", context)


# Anyone holding a certificate's code may verify it, logged in or not; the code is
# a 128-bit random token, so certificates cannot be enumerated.
@login_not_required
@require_GET
def certificate_detail(request, code):
    return render(request, "courseapp/certificate.html", {"certificate": selectors.certificate_get(code=code)})
