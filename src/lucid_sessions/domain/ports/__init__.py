"""Ports the domain declares; adapters implement them."""
