"""The application layer: use cases, settings, the composition root, the app factory, the CLI."""
