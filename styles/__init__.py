"""Textual CSS for the dashboard, shipped as package data."""
