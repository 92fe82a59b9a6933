"""Courses: course → module → lesson, quizzes with a question pool, and each
learner's progress, attempts and certificates.

Translatable fields are JSON objects keyed by language ("en", "zh-Hans"), the same
shape as the course folder format (docs/COURSE_FORMAT.md), so both languages live in
one row and import/export is a straight copy. `courseapp.i18n.pick` chooses the UI
language's text, falling back to English.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .i18n import pick

TEXT_LANGUAGES = ("en", "zh-Hans")


def empty_text() -> dict:
    return {lang: "" for lang in TEXT_LANGUAGES}


class Course(models.Model):
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    title = models.JSONField(_("title"), default=empty_text)
    summary = models.JSONField(_("summary"), default=empty_text)
    published = models.BooleanField(_("published"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return pick(self.title) or self.slug

    def get_absolute_url(self):
        return reverse("courseapp:course", args=[self.slug])

    @property
    def title_text(self) -> str:
        return pick(self.title)

    @property
    def summary_text(self) -> str:
        return pick(self.summary)


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    slug = models.SlugField(_("slug"), max_length=80)
    title = models.JSONField(_("title"), default=empty_text)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="module_slug_unique_in_course")]

    def __str__(self):
        return pick(self.title) or self.slug

    @property
    def title_text(self) -> str:
        return pick(self.title)


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField(_("slug"), max_length=80)
    title = models.JSONField(_("title"), default=empty_text)
    # Markdown source per language, and its sanitised HTML rendered on save, so a
    # page view never runs Markdown.
    body = models.JSONField(_("body"), default=empty_text)
    body_html = models.JSONField(default=empty_text, blank=True, editable=False)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=10)
    published = models.BooleanField(_("published"), default=False)
    # Slugs of lessons or quizzes of the same course that must be completed first.
    prerequisites = models.JSONField(_("prerequisites"), default=list, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["module__position", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="lesson_slug_unique_in_course")]

    def __str__(self):
        return pick(self.title) or self.slug

    def get_absolute_url(self):
        return reverse("courseapp:lesson", args=[self.course.slug, self.slug])

    @property
    def title_text(self) -> str:
        return pick(self.title)

    @property
    def html(self) -> str:
        return pick(self.body_html)


class LessonFigure(models.Model):
    """An image that a lesson's Markdown refers to by a path relative to its folder."""

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="figures")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    data = models.BinaryField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["lesson", "name"], name="figure_name_unique_in_lesson")]

    def __str__(self):
        return self.name


class Quiz(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="quizzes")
    # A lesson's quiz; None for course exams such as the final exam.
    lesson = models.OneToOneField(Lesson, on_delete=models.CASCADE, related_name="quiz", null=True, blank=True)
    slug = models.SlugField(_("slug"), max_length=80)
    title = models.JSONField(_("title"), default=empty_text)
    pass_mark = models.PositiveIntegerField(_("pass mark (%)"), default=70)
    max_attempts = models.PositiveIntegerField(_("attempt limit"), default=3, help_text=_("0 means unlimited"))
    questions_per_attempt = models.PositiveIntegerField(_("questions per attempt"), default=5)
    published = models.BooleanField(_("published"), default=False)
    prerequisites = models.JSONField(_("prerequisites"), default=list, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = _("quizzes")
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="quiz_slug_unique_in_course")]

    def __str__(self):
        return pick(self.title) or self.slug

    def get_absolute_url(self):
        return reverse("courseapp:quiz", args=[self.course.slug, self.slug])

    @property
    def title_text(self) -> str:
        return pick(self.title)


class QuestionType(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    NUMERIC = "numeric", _("Number")
    TEXT = "text", _("Short text")
    LAB = "lab", _("Lab (checked against the learner's own fine-tune)")


class LabMetric(models.TextChoices):
    """What a lab question asks for, read from the learner's latest finished fine-tune."""

    STEPS = "steps", _("Optimizer steps run")
    PERPLEXITY_BEFORE = "perplexity_before", _("Held-out perplexity before training")
    PERPLEXITY_AFTER = "perplexity_after", _("Held-out perplexity after training")
    EVAL_LOSS_BEFORE = "eval_loss_before", _("Held-out loss before training")
    EVAL_LOSS_AFTER = "eval_loss_after", _("Held-out loss after training")
    FINAL_TRAIN_LOSS = "final_train_loss", _("Training loss at the last step")


class Question(models.Model):
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    slug = models.SlugField(_("slug"), max_length=80)
    type = models.CharField(_("type"), max_length=10, choices=QuestionType.choices)
    points = models.PositiveIntegerField(_("points"), default=1)
    prompt = models.JSONField(_("prompt"), default=empty_text)
    prompt_html = models.JSONField(default=empty_text, blank=True, editable=False)
    explanation = models.JSONField(_("explanation"), default=empty_text)
    explanation_html = models.JSONField(default=empty_text, blank=True, editable=False)
    answer = models.FloatField(_("answer"), null=True, blank=True)
    tolerance = models.FloatField(_("tolerance"), default=0)
    accepted = models.JSONField(_("accepted answers"), default=dict, blank=True)
    # Lab questions: the value asked for, read from the learner's own fine-tune when graded.
    lab_metric = models.CharField(_("lab value"), max_length=20, choices=LabMetric.choices, blank=True)
    published = models.BooleanField(_("published"), default=True)
    # Drawn into every attempt; the rest of the attempt is drawn at random from the others.
    pinned = models.BooleanField(_("pinned"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["quiz", "slug"], name="question_slug_unique_in_quiz")]

    def __str__(self):
        return self.slug

    @property
    def prompt_text(self) -> str:
        return pick(self.prompt_html)

    @property
    def explanation_text(self) -> str:
        return pick(self.explanation_html)


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.JSONField(_("text"), default=empty_text)
    correct = models.BooleanField(_("correct"), default=False)
    explanation = models.JSONField(_("explanation"), default=empty_text)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return pick(self.text)

    @property
    def text_text(self) -> str:
        return pick(self.text)

    @property
    def explanation_text(self) -> str:
        return pick(self.explanation)


# --- Learner state -----------------------------------------------------------


class LessonProgress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    first_viewed_at = models.DateTimeField()
    last_viewed_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    time_spent_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="lesson_progress_once")]
        verbose_name_plural = _("lesson progress")

    def __str__(self):
        return f"{self.user} · {self.lesson}"


class Enrollment(models.Model):
    """A learner's place in a course: where to resume, and when they finished."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    last_lesson = models.ForeignKey(Lesson, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="enrollment_once")]

    def __str__(self):
        return f"{self.user} · {self.course}"


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")


class Attempt(models.Model):
    """One try at a quiz. The drawn questions and the shuffled choices, under opaque
    per-attempt keys, are fixed when it starts; scoring happens once, on submit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS)
    question_ids = models.JSONField(default=list, blank=True)
    # {question id (str): [[key, choice id], ...]} in the order shown.
    choice_keys = models.JSONField(default=dict, blank=True)
    # {question id (str): response}: what was submitted, in attempt keys / raw text.
    responses = models.JSONField(default=dict, blank=True)
    # {question id (str): fraction of the question's points earned, 0..1}
    results = models.JSONField(default=dict, blank=True)
    score = models.FloatField(null=True, blank=True)  # percent
    passed = models.BooleanField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "quiz", "number"], name="attempt_number_once")]

    def __str__(self):
        return f"{self.user} · {self.quiz} #{self.number}"

    def get_absolute_url(self):
        return reverse("courseapp:attempt", args=[self.pk])

    @property
    def is_submitted(self) -> bool:
        return self.status == AttemptStatus.SUBMITTED


class AttemptAnswer(models.Model):
    """An answer checked one question at a time; once checked it is final, because
    its feedback has revealed the correct choices."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(blank=True)
    fraction = models.FloatField()
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "question"], name="answer_once_per_question")]

    def __str__(self):
        return f"{self.attempt} · {self.question}"


class Certificate(models.Model):
    code = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="certificates")
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="certificate_once")]

    def __str__(self):
        return f"{self.user} · {self.course}"

    def get_absolute_url(self):
        return reverse("courseapp:certificate", args=[self.code])
