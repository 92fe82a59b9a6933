"""Back office. Authoring happens on /learn/author/; the admin is for inspecting and
fixing rows (progress, attempts, certificates)."""

from django.contrib import admin

from .models import (
    Attempt,
    Certificate,
    Choice,
    Course,
    Enrollment,
    Lesson,
    LessonFigure,
    LessonProgress,
    Module,
    Question,
    Quiz,
)


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("slug", "__str__", "published", "position", "updated_at")
    list_filter = ("published",)
    inlines = [ModuleInline]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("slug", "__str__", "course", "module", "position", "duration_minutes", "published")
    list_filter = ("course", "published")
    search_fields = ("slug",)


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("slug", "quiz", "type", "points", "published", "pinned", "position")
    list_filter = ("type", "published", "pinned", "quiz__course")
    inlines = [ChoiceInline]


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ("slug", "__str__", "course", "lesson", "pass_mark", "max_attempts", "published")
    list_filter = ("course", "published")


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("user", "quiz", "number", "status", "score", "passed", "started_at", "submitted_at")
    list_filter = ("status", "passed", "quiz__course")
    search_fields = ("user__username",)


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "issued_at", "code")
    search_fields = ("user__username", "code")


admin.site.register([Module, LessonFigure, LessonProgress, Enrollment])
