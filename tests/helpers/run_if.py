"""Skip markers for tests that need hardware this machine may lack."""

import pytest
import torch

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
