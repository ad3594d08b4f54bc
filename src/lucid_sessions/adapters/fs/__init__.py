"""Filesystem adapters."""
