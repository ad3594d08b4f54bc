"""lucid-sessions: the session-recording service of the Lucid RDP system."""

__all__ = ["__version__"]

__version__ = "1.0.0"
