"""One small module per capability; each use case takes its ports in its constructor."""
