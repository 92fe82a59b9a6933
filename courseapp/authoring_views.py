"""Authoring pages for admins: edit courses in both languages, reorder, preview
Markdown live, publish and unpublish. One view per operation."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from audit.services import Origin
from core.permissions import role_required

from . import authoring
from . import authoring_selectors as reads
from .forms import (
    CourseForm,
    LessonForm,
    ModuleForm,
    NewItemForm,
    NewQuestionForm,
    QuestionForm,
    QuizForm,
    pack,
    unpack,
)
from .models import Course, Module, Question, Quiz
from .rendering import MarkdownError, render_markdown

admin_only = role_required(Role.ADMIN)


def _apply_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@admin_only
@require_GET
def author_index(request):
    return render(request, "courseapp/author/index.html",
                  {"courses": reads.course_list(), "form": NewItemForm()})


@admin_only
@require_POST
def course_new(request):
    form = NewItemForm(request.POST)
    if form.is_valid():
        try:
            course = authoring.course_create(slug=form.cleaned_data["slug"],
                                            title={"en": form.cleaned_data["title_en"], "zh-Hans": ""})
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return redirect("courseapp:author_course", course_id=course.pk)
    return render(request, "courseapp/author/index.html", {"courses": reads.course_list(), "form": form},
                  status=422)


@admin_only
@require_http_methods(["GET", "POST"])
def course_edit(request, course_id):
    course = reads.course_get(course_id=course_id)
    form = CourseForm(request.POST or None, initial=unpack(course.title, "title") | unpack(course.summary, "summary"))
    if request.method == "POST" and form.is_valid():
        try:
            authoring.course_update(course=course, title=pack(form.cleaned_data, "title"),
                                   summary=pack(form.cleaned_data, "summary"))
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Course saved."))
            return redirect("courseapp:author_course", course_id=course.pk)
    context = reads.course_tree(course=course) | {"form": form, "module_form": NewItemForm(prefix="module"),
                                      "exam_form": NewItemForm(prefix="exam")}
    return render(request, "courseapp/author/course.html", context)


@admin_only
@require_POST
def module_new(request, course_id):
    course = reads.course_get(course_id=course_id)
    form = NewItemForm(request.POST, prefix="module")
    if form.is_valid():
        try:
            authoring.module_create(course=course, slug=form.cleaned_data["slug"],
                                   title={"en": form.cleaned_data["title_en"], "zh-Hans": ""})
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("A module needs a slug and an English title."))
    return redirect("courseapp:author_course", course_id=course.pk)


@admin_only
@require_http_methods(["GET", "POST"])
def module_edit(request, module_id):
    module = reads.module_get(module_id=module_id)
    form = ModuleForm(request.POST or None, initial=unpack(module.title, "title"))
    if request.method == "POST" and form.is_valid():
        try:
            authoring.module_update(module=module, title=pack(form.cleaned_data, "title"))
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Module saved."))
            return redirect("courseapp:author_course", course_id=module.course_id)
    return render(request, "courseapp/author/module.html", {"module": module, "course": module.course,
                                                            "form": form, "lesson_form": NewItemForm(prefix="lesson")})


@admin_only
@require_POST
def lesson_new(request, module_id):
    module = reads.module_get(module_id=module_id)
    form = NewItemForm(request.POST, prefix="lesson")
    if form.is_valid():
        try:
            lesson = authoring.lesson_create(module=module, slug=form.cleaned_data["slug"],
                                            title={"en": form.cleaned_data["title_en"], "zh-Hans": ""})
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("courseapp:author_lesson", lesson_id=lesson.pk)
    else:
        messages.error(request, _("A lesson needs a slug and an English title."))
    return redirect("courseapp:author_course", course_id=module.course_id)


@admin_only
@require_http_methods(["GET", "POST"])
def lesson_edit(request, lesson_id):
    lesson = reads.lesson_get(lesson_id=lesson_id)
    initial = (unpack(lesson.title, "title") | unpack(lesson.body, "body")
               | {"duration_minutes": lesson.duration_minutes, "prerequisites": ", ".join(lesson.prerequisites)})
    form = LessonForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            authoring.lesson_update(lesson=lesson, title=pack(form.cleaned_data, "title"),
                                   body=pack(form.cleaned_data, "body"),
                                   duration_minutes=form.cleaned_data["duration_minutes"],
                                   prerequisites=form.cleaned_data["prerequisites"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Lesson saved."))
            return redirect("courseapp:author_lesson", lesson_id=lesson.pk)
    quiz = reads.lesson_quiz(lesson=lesson)
    return render(request, "courseapp/author/lesson.html", {"lesson": lesson, "course": lesson.course, "form": form,
                                                            "quiz": quiz, "quiz_form": NewItemForm(prefix="quiz")})


@admin_only
@require_POST
def quiz_new(request, course_id):
    course = reads.course_get(course_id=course_id)
    lesson_id = request.POST.get("lesson")
    lesson = reads.lesson_get(lesson_id=lesson_id, course=course) if lesson_id else None
    prefix = "quiz" if lesson else "exam"
    form = NewItemForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            quiz = authoring.quiz_create(course=course, lesson=lesson, slug=form.cleaned_data["slug"],
                                        title={"en": form.cleaned_data["title_en"], "zh-Hans": ""})
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("courseapp:author_quiz", quiz_id=quiz.pk)
    else:
        messages.error(request, _("A quiz needs a slug and an English title."))
    return redirect("courseapp:author_course", course_id=course.pk)


def _quiz_context(quiz: Quiz, form) -> dict:
    return {"quiz": quiz, "course": quiz.course, "form": form, "questions": reads.quiz_questions(quiz=quiz),
            "question_form": NewQuestionForm()}


@admin_only
@require_http_methods(["GET", "POST"])
def quiz_edit(request, quiz_id):
    quiz = reads.quiz_get(quiz_id=quiz_id)
    initial = unpack(quiz.title, "title") | {
        "pass_mark": quiz.pass_mark, "max_attempts": quiz.max_attempts,
        "questions_per_attempt": quiz.questions_per_attempt, "prerequisites": ", ".join(quiz.prerequisites)}
    form = QuizForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            authoring.quiz_update(quiz=quiz, title=pack(data, "title"), pass_mark=data["pass_mark"],
                                 max_attempts=data["max_attempts"],
                                 questions_per_attempt=data["questions_per_attempt"],
                                 prerequisites=data["prerequisites"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Quiz saved."))
            return redirect("courseapp:author_quiz", quiz_id=quiz.pk)
    return render(request, "courseapp/author/quiz.html", _quiz_context(quiz, form))


@admin_only
@require_POST
def question_new(request, quiz_id):
    quiz = reads.quiz_get(quiz_id=quiz_id)
    form = NewQuestionForm(request.POST)
    if form.is_valid():
        try:
            question = authoring.question_create(quiz=quiz, slug=form.cleaned_data["slug"],
                                                type=form.cleaned_data["type"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("courseapp:author_question", question_id=question.pk)
    else:
        messages.error(request, _("A question needs a slug and a type."))
    return redirect("courseapp:author_quiz", quiz_id=quiz.pk)


@admin_only
@require_http_methods(["GET", "POST"])
def question_edit(request, question_id):
    question = reads.question_get(question_id=question_id)
    initial = (unpack(question.prompt, "prompt") | unpack(question.explanation, "explanation")
               | {"points": question.points, "pinned": question.pinned, "lab_metric": question.lab_metric,
                  "answer": question.answer, "tolerance": question.tolerance,
                  "accepted_en": "\n".join(question.accepted.get("en", [])),
                  "accepted_zh_hans": "\n".join(question.accepted.get("zh-Hans", []))})
    for i, choice in enumerate(question.choices.all()):
        initial |= {f"choice{i}_correct": choice.correct}
        initial |= {k.replace("choice_text", f"choice{i}_text"): v for k, v in unpack(choice.text, "choice_text").items()}
        initial |= {k.replace("choice_expl", f"choice{i}_explanation"): v
                    for k, v in unpack(choice.explanation, "choice_expl").items()}
    form = QuestionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            authoring.question_update(question=question, prompt=pack(data, "prompt"),
                                     explanation=pack(data, "explanation"), points=data["points"],
                                     pinned=data["pinned"], lab_metric=data["lab_metric"],
                                     answer=data["answer"], tolerance=data["tolerance"] or 0.0,
                                     accepted=form.accepted(), choices=form.choices())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Question saved."))
            return redirect("courseapp:author_question", question_id=question.pk)
    return render(request, "courseapp/author/question.html",
                  {"question": question, "quiz": question.quiz, "course": question.quiz.course, "form": form})


def _back(obj) -> str:
    if isinstance(obj, Course):
        return reverse("courseapp:author")
    if isinstance(obj, Question):
        return reverse("courseapp:author_quiz", args=[obj.quiz_id])
    return reverse("courseapp:author_course", args=[obj.course_id])


def _refreshed(request, obj):
    """After a move or publish: the updated list fragment for HTMX, else a redirect."""
    if not _is_htmx(request):
        return redirect(_back(obj))
    if isinstance(obj, Course):
        return render(request, "courseapp/author/partials/course_list.html", {"courses": reads.course_list()})
    if isinstance(obj, Question):
        quiz = reads.quiz_get(quiz_id=obj.quiz_id)
        return render(request, "courseapp/author/partials/question_list.html",
                      {"quiz": quiz, "questions": reads.quiz_questions(quiz=quiz)})
    return render(request, "courseapp/author/partials/tree.html", reads.course_tree(course=reads.course_get(course_id=obj.course_id)))


@admin_only
@require_POST
def item_move(request, kind, pk, direction):
    if direction not in ("up", "down") or kind == "lesson_quiz":
        raise Http404
    obj = reads.item_get(kind=kind, pk=pk)
    if isinstance(obj, Quiz) and obj.lesson_id:
        raise Http404  # a lesson's quiz moves with its lesson
    authoring.item_move(obj=obj, direction=direction)
    return _refreshed(request, obj)


@admin_only
@require_POST
def item_publish(request, kind, pk):
    obj = reads.item_get(kind=kind, pk=pk)
    if isinstance(obj, Module):
        raise Http404  # modules show when they hold a published lesson
    authoring.item_set_published(obj=obj, published=request.POST.get("published") == "1",
                                 origin=Origin.from_request(request))
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return _refreshed(request, obj)


@admin_only
@require_POST
def markdown_preview(request):
    """Live preview: the sanitised HTML a field's Markdown renders to."""
    field = request.POST.get("field", "")
    lang = "zh-Hans" if field.endswith("_zh_hans") else "en"
    source = request.POST.get(field, "")
    try:
        html = render_markdown(source, lang=lang, drop_title=field.startswith("body"))
    except MarkdownError as exc:
        html = render(request, "courseapp/partials/error.html",
                      {"message": _("Line %(line)d: %(message)s") % {"line": exc.line, "message": exc.message}}
                      ).content.decode()
    return HttpResponse(html)
