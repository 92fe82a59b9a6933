"""A per-process LRU of shared, read-only values.

Django's local-memory cache pickles every value on the way in and unpickles a fresh copy
on every read, so that callers may mutate what they get. For values that no caller
mutates (the course content a lesson page reads on every request), that copy is most of
the read's cost. This keeps the objects themselves, so every reader shares them: callers
must treat them as read-only. Keys should carry a version (as courseapp's content keys
do), so that a change is a new key and the old entry simply falls out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LocalLRU:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()  # sync views run in several threads of one process

    def get(self, key: str) -> Any:
        """The value under key, or None."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
