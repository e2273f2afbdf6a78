"""Reusable widgets: navigation bar, option forms, curves, confirmation dialog."""
