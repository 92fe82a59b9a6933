from django.urls import path

from . import authoring_views, views

app_name = "courseapp"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("me/", views.my_learning, name="my_learning"),
    path("certificates/<str:code>/", views.certificate_detail, name="certificate"),
    path("attempts/<int:attempt_id>/", views.attempt_detail, name="attempt"),
    path("attempts/<int:attempt_id>/submit/", views.attempt_submit, name="attempt_submit"),
    path("attempts/<int:attempt_id>/questions/<int:question_id>/check/", views.attempt_check, name="attempt_check"),
    # Authoring (admins)
    path("author/", authoring_views.author_index, name="author"),
    path("author/preview/", authoring_views.markdown_preview, name="author_preview"),
    path("author/courses/new/", authoring_views.course_new, name="author_course_new"),
    path("author/courses/<int:course_id>/", authoring_views.course_edit, name="author_course"),
    path("author/courses/<int:course_id>/modules/new/", authoring_views.module_new, name="author_module_new"),
    path("author/modules/<int:module_id>/", authoring_views.module_edit, name="author_module"),
    path("author/modules/<int:module_id>/lessons/new/", authoring_views.lesson_new, name="author_lesson_new"),
    path("author/lessons/<int:lesson_id>/", authoring_views.lesson_edit, name="author_lesson"),
    path("author/courses/<int:course_id>/quizzes/new/", authoring_views.quiz_new, name="author_quiz_new"),
    path("author/quizzes/<int:quiz_id>/", authoring_views.quiz_edit, name="author_quiz"),
    path("author/quizzes/<int:quiz_id>/questions/new/", authoring_views.question_new, name="author_question_new"),
    path("author/questions/<int:question_id>/", authoring_views.question_edit, name="author_question"),
    path("author/<str:kind>/<int:pk>/move/<str:direction>/", authoring_views.item_move, name="author_move"),
    path("author/<str:kind>/<int:pk>/publish/", authoring_views.item_publish, name="author_publish"),
    # Learner pages under a course (after the fixed prefixes above)
    path("<slug:course_slug>/", views.course_detail, name="course"),
    path("<slug:course_slug>/resume/", views.course_resume, name="resume"),
    path("<slug:course_slug>/lessons/<slug:lesson_slug>/", views.lesson_detail, name="lesson"),
    path("<slug:course_slug>/lessons/<slug:lesson_slug>/complete/", views.lesson_complete, name="lesson_complete"),
    path("<slug:course_slug>/lessons/<slug:lesson_slug>/time/", views.lesson_time, name="lesson_time"),
    path("<slug:course_slug>/lessons/<slug:lesson_slug>/files/<path:name>", views.lesson_figure, name="lesson_figure"),
    path("<slug:course_slug>/quizzes/<slug:quiz_slug>/", views.quiz_detail, name="quiz"),
    path("<slug:course_slug>/quizzes/<slug:quiz_slug>/start/", views.attempt_start, name="attempt_start"),
]
