"""Packaged data files (read with importlib.resources)."""
