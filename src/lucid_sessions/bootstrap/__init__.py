"""The composition root: settings, the container, the app factory and process start-up."""
