"""A small in-process cache of figures computed from published data (per app process)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


class Recent:
    """A small LRU of figures computed from published data, each kept at most ``seconds``."""

    def __init__(self, size: int, seconds: float | None = None) -> None:
        self.size, self.seconds = size, seconds
        self.items: OrderedDict[tuple[object, ...], tuple[float, object]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        """The value kept for ``key``, or ``make()`` (computed outside the lock) kept."""
        now = time.monotonic()
        with self.lock:
            if key in self.items:
                made, value = self.items[key]
                if self.seconds is None or now - made < self.seconds:
                    self.items.move_to_end(key)
                    return cast(T, value)
        value = make()
        with self.lock:
            self.items[key] = (now, value)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value
