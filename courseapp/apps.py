from django.apps import AppConfig


class CourseappConfig(AppConfig):
    name = "courseapp"
    verbose_name = "Courses"
