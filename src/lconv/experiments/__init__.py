"""Experiments: each one keyword-only function that writes a run folder. The library never imports them."""

from .discover import TASKS, discover

__all__ = ["TASKS", "discover"]
