"""Compression with zstandard and lz4."""
