"""Cohorts → roamers and their timelines (vectorised)."""
