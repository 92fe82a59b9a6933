from django.core.management.base import BaseCommand, CommandError

from courseapp.authoring import course_export
from courseapp.models import Course


class Command(BaseCommand):
    help = "Export a course as a folder of Markdown + YAML that course_import reads back losslessly."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("folder")

    def handle(self, *args, slug, folder, **options):
        course = Course.objects.filter(slug=slug).first()
        if course is None:
            raise CommandError(f"No course with slug '{slug}'.")
        path = course_export(course=course, folder=folder)
        self.stdout.write(self.style.SUCCESS(f"Exported '{slug}' to {path}."))
