"""Speed and memory of the L-conv layer: the same run as ``lconv bench``, with the same options.

    python benchmarks/run.py                      # the default sweep, about 1-2 minutes on 2 cores
    python benchmarks/run.py --sizes 28 --repeats 5 --memory-size 0 --out headline.json

The checkout's ``src/`` comes first on the path, so this measures the code next to it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lconv.cli import main  # noqa: E402

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]])
