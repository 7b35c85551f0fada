"""roamsim: a seeded, deterministic simulator of international mobile roaming signalling.

The public API is :func:`load_scenario` and :func:`simulate`; the ``roamsim``
command-line tool is a thin wrapper over them.
"""

from roamsim.api import RunSummary, simulate
from roamsim.scenario import Scenario, ScenarioError, load_scenario
from roamsim.version import __version__

__all__ = ["RunSummary", "Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]
