"""A saved or deleted module, lesson or quiz moves its course's updated_at, the version
that the cached outline and lesson bodies are keyed by (selectors.course_content); a saved
or deleted course drops its cached row (selectors.course_get)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .authoring import course_touch
from .models import Course, Lesson, Module, Quiz
from .selectors import course_row_forget


@receiver([post_save, post_delete], sender=Module)
@receiver([post_save, post_delete], sender=Lesson)
@receiver([post_save, post_delete], sender=Quiz)
def _content_changed(sender, instance, raw=False, **kwargs):
    if not raw:  # loaddata: fixtures bring their own updated_at
        course_touch(course_id=instance.course_id)


@receiver([post_save, post_delete], sender=Course)
def _course_changed(sender, instance, **kwargs):
    course_row_forget(slug=instance.slug)
