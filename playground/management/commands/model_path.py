"""Print where the playground's built-in models live on this machine, for the course's
code samples (no host here reaches a model hub):

    export SMOLLM2=$(python manage.py model_path smollm2-135m-instruct)
    export MINILM=$(python manage.py model_path minilm-l6-v2)
"""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from playground.ml.errors import ModelNotAvailable
from playground.ml.provision import provision_defaults


class Command(BaseCommand):
    help = "Print the local folder of a built-in model (or of every one), for from_pretrained()."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="a built-in model's name; without it, every name and folder")

    def handle(self, *args, name=None, **options):
        try:
            # The first call converts the packaged GGUF (about 30 s); its messages go to stderr.
            models = provision_defaults(Path(settings.LLM_MODEL_DIR), log=lambda text: print(text, file=sys.stderr))
        except ModelNotAvailable as exc:
            raise CommandError(str(exc)) from exc
        if name is None:
            for model in models:
                self.stdout.write(f"{model.name}\t{model.path}")
            return
        found = next((model for model in models if model.name == name), None)
        if found is None:
            raise CommandError(f"No built-in model is named {name!r}; choose one of {', '.join(m.name for m in models)}.")
        self.stdout.write(str(found.path))
