"""Authenticators: configured bearer tokens, and the platform's signed JWTs."""
