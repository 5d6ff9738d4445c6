"""devflow-tui: route every prompt to the most cost-effective capable model, and see the bill."""

__version__ = "0.1.0"
