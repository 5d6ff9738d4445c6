"""Bundled data files (the model catalog snapshot)."""
