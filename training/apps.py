from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = _("Fine-tunes")

    def ready(self):
        from . import signals  # noqa: F401  (connects the Celery worker start-up recovery)
