"""The pure domain core: no framework, no I/O, no clock, no randomness."""
