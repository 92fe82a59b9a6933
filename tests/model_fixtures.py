import asyncio
import uuid

import pytest

from playground.ml.loading import load_model
from playground.ml.pool import ModelPool
from playground.services import models_provision_defaults
from playground.worker import ModelWorker

_loaded = {}


def cached_load(spec, device):
    """Tests share loaded weights across workers; a worker process loads once anyway."""
    key = (spec, device)
    if key not in _loaded:
        _loaded[key] = load_model(spec, device=device)
    return _loaded[key]


class CachedModelPool(ModelPool):
    def load(self, spec):
        return cached_load(spec, self.device)


class CachedModelWorker(ModelWorker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool_class = CachedModelPool


@pytest.fixture
def registered_models(db):
    return models_provision_defaults(log=lambda *_: None)


@pytest.fixture
async def model_worker(registered_models, settings):
    """A real model worker with the real default models, in this test's event loop.

    Each test gets its own requests channel: with Redis, a worker cancelled at the end
    of the previous test can leave a blocking pop behind that would swallow a message.
    """
    settings.LLM_REQUESTS_CHANNEL = f"llm.requests.{uuid.uuid4().hex[:8]}"
    worker = CachedModelWorker(name="test-worker", device_setting="cpu")
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.ready.wait(), 120)
    yield worker
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: S110  (redis may report the cancel as a timeout)
        pass
