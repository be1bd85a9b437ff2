"""The packages of the applications that a few library functions use, imported only when called.

``import lconv`` needs torch and numpy alone. Figures need matplotlib and a download shows
a progress bar with rich; both come with the ``cli`` extra. This module is the one place
in the library that imports them (inside functions, never at import time), so the import
contract in ``pyproject.toml`` names it alone.
"""

from __future__ import annotations

FIX = 'pip install "lconv[cli]"'


def missing(package: str, what: str) -> ImportError:
    """The one-line error for ``what`` needing ``package``, naming the fix."""
    return ImportError(f"{what} needs {package}, which the core install leaves out; install it with: {FIX}")


def matplotlib(what: str = "drawing a figure"):
    """matplotlib on the Agg backend (files, no window), with ``pyplot``, ``ticker``, ``colors`` and
    ``collections`` loaded; ImportError with the fix when it is missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise missing("matplotlib", what) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.collections
    import matplotlib.colors
    import matplotlib.pyplot
    import matplotlib.ticker  # noqa: F401

    return matplotlib


def pyplot(what: str = "drawing a figure"):
    """``matplotlib.pyplot`` on the Agg backend; ImportError with the fix when matplotlib is missing."""
    return matplotlib(what).pyplot


def rich_progress():
    """``(rich.console, rich.progress)``, or None when rich is not installed (then no progress bar is drawn)."""
    try:
        import rich.console
        import rich.progress
    except ImportError:
        return None
    return rich.console, rich.progress
