"""The Litestar HTTP adapter: controllers and msgspec schemas."""
