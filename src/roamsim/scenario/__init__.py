"""Scenario files: schema, units, distributions, loading and validation."""

from roamsim.scenario.errors import Problem, ScenarioError
from roamsim.scenario.load import load_scenario, scenario_digest, scenario_from_data
from roamsim.scenario.schema import Scenario

__all__ = ["Problem", "Scenario", "ScenarioError", "load_scenario", "scenario_digest", "scenario_from_data"]
