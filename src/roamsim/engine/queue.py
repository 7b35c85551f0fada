"""A multi-server FIFO queue with a finite waiting room, as "next free time" per server.

Exact for FIFO service (M/G/c/K in the Kendall notation): a request that
arrives at ``t`` starts at ``max(t, earliest free server)``. Start times are
non-decreasing in arrival order, so the requests still waiting at ``t`` are a
deque of start times that is trimmed from the left.
"""

from __future__ import annotations

import heapq
from collections import deque


class ServerQueue:
    """``servers`` parallel FIFO servers; at most ``limit`` requests wait."""

    __slots__ = ("_free", "_waiting", "limit", "servers")

    def __init__(self, servers: int, limit: int) -> None:
        self.servers = servers
        self.limit = limit
        self._free = [0] * servers
        self._waiting: deque[int] = deque()

    def waiting(self, t: int) -> int:
        """Requests that arrived before ``t`` and have not started service at ``t``."""
        w = self._waiting
        while w and w[0] <= t:
            w.popleft()
        return len(w)

    def admit(self, t: int, service: int) -> int:
        """Start time for a request arriving at ``t`` needing ``service`` ns; -1 if the queue is full."""
        free = self._free
        start = free[0]
        if start > t:
            if self.waiting(t) >= self.limit:
                return -1
            self._waiting.append(start)
        else:
            start = t
        heapq.heapreplace(free, start + service)
        return start
