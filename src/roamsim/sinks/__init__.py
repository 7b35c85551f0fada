"""Outputs derived from the record stream: event log (Parquet) and KPIs."""
