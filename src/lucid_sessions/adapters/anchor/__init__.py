"""Anchors of the session log: the blockchain engine over HTTP, or a log line."""
