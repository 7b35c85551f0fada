"""Where background threads run beside the compiled engine (Linux, where scheduling priority and CPU affinity are
per thread): at a lower priority and off the first CPU while the engine computes, so its event loop keeps a core
of its own; on every CPU while it waits for them or is done."""

from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICE = 5
"""How much lower background threads run than a compiled engine (three busy threads on two cores)."""


class ThreadPlacement:
    """A set of background threads placed together (the event log's builder and writer; the compiled engine's
    buffer thread). Keeping them off the engine's CPU: reference model at 100k, SimPy ÷ engine phase 20–53× in six
    runs without, 30–37× in three with; spreading them when the engine waits for the event log (a full queue) or
    is done lets building and writing use both cores (1M example 50–56 s → 41 s)."""

    def __init__(self, nice: int = BACKGROUND_NICE) -> None:
        self.nice = nice
        """How much lower than the engine the threads run (the event log's busy threads: ``BACKGROUND_NICE``)."""
        self.cpus = sorted(os.sched_getaffinity(0)) if sys.platform == "linux" else []
        """The CPUs the process may use, read on the engine's thread before any is pinned."""
        self.tids: list[int] = []
        self.everywhere = False
        self._lock = threading.Lock()

    def join(self) -> None:
        """Thread initializer: place the calling thread with the others."""
        if sys.platform != "linux":
            return
        tid = threading.get_native_id()
        if self.nice:
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, 0) + self.nice)
        with self._lock:
            self.tids.append(tid)
            self._place(tid)

    def spread(self, everywhere: bool) -> None:
        """Let the threads use every CPU (True) or keep them off the first (False)."""
        with self._lock:
            if everywhere != self.everywhere:
                self.everywhere = everywhere
                for tid in self.tids:
                    self._place(tid)

    def _place(self, tid: int) -> None:
        if len(self.cpus) >= 2:
            os.sched_setaffinity(tid, self.cpus if self.everywhere else self.cpus[1:])
