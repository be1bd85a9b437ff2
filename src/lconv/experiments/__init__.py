"""Experiments: each one keyword-only function that writes a run folder. The library never imports them."""

from .bench import bench
from .discover import TASKS, discover
from .repro import EXPERIMENTS, repro

__all__ = ["EXPERIMENTS", "TASKS", "bench", "discover", "repro"]
