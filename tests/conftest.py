"""Settings for the whole suite.

One torch thread: the tests are many small problems, where more threads add little, and
on a machine whose cores are busy with other work (a CI runner with another job) the
threads of every product oversubscribe the cores and slow the whole suite down. The
subprocesses the tests start (the console script, torchrun) get ``OMP_NUM_THREADS=1``
unless it is set. A test that needs another thread count sets it and restores it.
"""

import os

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param
