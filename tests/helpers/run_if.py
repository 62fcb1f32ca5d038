"""Skip markers for tests that need hardware this machine may lack.

Every GPU-only test is marked through here, so ``make gpu-check`` finds them: it runs the test
files that import this module with ``--gpu-only`` (tests/conftest.py), which keeps the tests
these marks carry (a ``skipif`` with ``gpus=N``, as Lightning's own ``RunIf`` marks its
standalone tests with a keyword of the mark).
"""

import pytest
import torch


def gpus(count: int = 1) -> pytest.MarkDecorator:
    """Skip unless this machine has ``count`` CUDA GPUs."""
    reason = "needs a CUDA GPU" if count == 1 else f"needs {count} CUDA GPUs"
    missing = not torch.cuda.is_available() or torch.cuda.device_count() < count
    return pytest.mark.skipif(missing, reason=reason, gpus=count)


gpu = gpus(1)
