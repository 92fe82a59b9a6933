from django.apps import AppConfig


class CourseappConfig(AppConfig):
    name = "courseapp"
    verbose_name = "Courses"

    def ready(self):
        from . import signals  # noqa: F401  (connects the receivers)
