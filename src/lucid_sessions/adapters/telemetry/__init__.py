"""Telemetry adapters: Prometheus exposition."""
