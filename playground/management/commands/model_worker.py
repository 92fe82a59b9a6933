import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from playground.worker import ModelWorker


class Command(BaseCommand):
    help = "Run a model worker: load the enabled models and serve them over the channel layer."

    def add_arguments(self, parser):
        parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: LLM_DEVICE)")
        parser.add_argument("--name", default="", help="name shown in /healthz (default: host:pid)")

    def handle(self, *args, device, name, **options):
        if settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer"):
            self.stderr.write(
                "The in-memory channel layer cannot reach other processes. Set REDIS_URL to run a "
                "separate model worker; in the embedded default the server runs one itself."
            )
            raise SystemExit(2)
        worker = ModelWorker(name=name, device_setting=device)
        self.stdout.write(f"Model worker {worker.name} starting (device setting {worker.device_setting})")
        try:
            asyncio.run(worker.run())
        except KeyboardInterrupt:
            pass
