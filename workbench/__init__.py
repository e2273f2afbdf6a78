"""Workbench: a terminal workbench for multi-view, multi-scale sequence recommendation."""

__version__ = "0.1.0"
