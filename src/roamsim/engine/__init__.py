"""The discrete-event engine: clock, scheduler, queues and the S6a/UE procedures."""

from typing import Literal

EngineChoice = Literal["auto", "python", "compiled"]
ENGINES: tuple[EngineChoice, ...] = ("auto", "python", "compiled")
"""The engines :func:`roamsim.simulate` and ``roamsim run --engine`` take: auto (the compiled engine whenever it
covers the scenario), python, compiled."""
