from django.core.management.base import BaseCommand, CommandError

from audit.services import COMMAND
from courseapp.authoring import course_import
from courseapp.course_format.spec import FolderError


class Command(BaseCommand):
    help = "Import (create or update) a course from a folder of Markdown + YAML (docs/COURSE_FORMAT.md)."

    def add_arguments(self, parser):
        parser.add_argument("folder")

    def handle(self, *args, folder, **options):
        try:
            course = course_import(folder=folder, origin=COMMAND)
        except FolderError as exc:
            # Nothing was written: the import validates everything first, in one transaction.
            raise CommandError("Nothing imported; fix these problems:\n  " + "\n  ".join(exc.errors)) from None
        self.stdout.write(self.style.SUCCESS(f"Imported course '{course.slug}'."))
