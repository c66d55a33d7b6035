"""A thread-safe LRU cache that computes each key once, even when many threads ask at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceLRU(Generic[K, V]):
    """``get(key, compute)``: cached value, or ``compute()`` run by exactly one thread per key.

    Other threads asking for a key being computed wait on that key's lock, not on the whole cache,
    so a cache smaller than the number of threads cannot deadlock.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[K, threading.Lock] = {}
        self.computed = 0

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            value = compute()
            with self._lock:
                self.computed += 1
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return value

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._items
