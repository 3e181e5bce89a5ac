"""Rendering of results: rich tables, JSON, CSV (tables.py) and figures (plots.py). No computation here."""
