"""The models one worker holds: loading them, a batch engine per language model, and
eviction of the employees' fine-tunes that are loaded on first use.

Shared models load at start and stay. A fine-tune loads when someone first asks for
it, and at most `max_on_demand` stay in memory: loading another evicts the least
recently used one that is idle. Every load goes through `ModelPool.load`, the one
place that turns a spec into weights on the device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .kinds import CAUSAL_LM
from .loading import LoadedModel, ModelSpec, load_model
from .threads import in_fresh_thread

logger = logging.getLogger(__name__)


class ModelPool:
    def __init__(self, *, device: str, make_engine: Callable[[LoadedModel], Any], max_on_demand: int = 3):
        self.device = device
        self.make_engine = make_engine  # LoadedModel → a started BatchEngine
        self.max_on_demand = max_on_demand
        self.models: dict[str, LoadedModel] = {}
        self.engines: dict[str, Any] = {}  # name → BatchEngine, one per causal LM
        self.failures: dict[str, str] = {}  # name → why it did not load
        self.on_demand: list[str] = []  # loaded on first use, least recently used first
        self.twins: dict[str, Any] = {}  # name → eager-attention twin (shares the weights)
        self._locks: dict[str, asyncio.Lock] = {}

    def load(self, spec: ModelSpec) -> LoadedModel:
        """Weights for `spec` on this pool's device (blocking: call it in a thread of its own,
        see threads.py)."""
        return load_model(spec, device=self.device)

    async def load_shared(self, specs: list[ModelSpec]):
        """Load the shared models at start; a model that fails is reported, the rest serve."""
        for spec in specs:
            try:
                loaded = await in_fresh_thread(self.load, spec, name="model-load")
            except Exception as exc:  # noqa: BLE001  (keep serving the models that did load)
                logger.warning("Model %s failed to load: %s", spec.name, exc)
                self.failures[spec.name] = str(exc)
                continue
            self._add(loaded)
            logger.info("Loaded %s on %s in %.2f s", spec.name, self.device, loaded.load_seconds)

    def _add(self, loaded: LoadedModel):
        self.models[loaded.spec.name] = loaded
        if loaded.spec.kind == CAUSAL_LM:
            self.engines[loaded.spec.name] = self.make_engine(loaded)

    async def get(self, name: str, spec_for: Callable[[str], Any]) -> LoadedModel | None:
        """A loaded model by name; an unknown one is looked up with `spec_for(name)` (async,
        None if there is no such model) and loaded on demand."""
        if name in self.models:
            if name in self.on_demand:
                self.on_demand.remove(name)
                self.on_demand.append(name)
            return self.models[name]
        async with self._locks.setdefault(name, asyncio.Lock()):
            if name not in self.models:
                spec = await spec_for(name)
                if spec is None:
                    return None
                self._evict_idle()
                loaded = await in_fresh_thread(self.load, spec, name="model-load")
                self._add(loaded)
                self.on_demand.append(name)
                logger.info("Loaded %s on demand in %.2f s", name, loaded.load_seconds)
        return self.models.get(name)

    def _evict_idle(self):
        while len(self.on_demand) >= self.max_on_demand:
            idle = [n for n in self.on_demand if n not in self.engines or self.engines[n].idle()]
            if not idle:
                return
            self.evict(idle[0])

    def evict(self, name: str):
        if name in self.on_demand:
            self.on_demand.remove(name)
        engine = self.engines.pop(name, None)
        if engine is not None:
            engine.shutdown()
        self.models.pop(name, None)
        self.twins.pop(name, None)

    def twin(self, loaded: LoadedModel):
        """The eager-attention twin of a loaded model, made once."""
        from .attention import eager_twin

        name = loaded.spec.name
        if name not in self.twins:
            self.twins[name] = eager_twin(loaded.model)
        return self.twins[name]

    def shutdown(self):
        for engine in self.engines.values():
            engine.shutdown()

    def load_report(self) -> dict:
        return {name: engine.load() for name, engine in self.engines.items()}
