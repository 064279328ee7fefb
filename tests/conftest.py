import os
import sys

import torch

# Wherever torch has no usable CUDA GPU (no GPU, or a CPU-only torch on a machine with an NVIDIA driver),
# the Triton kernels run on CPU through Triton's interpreter, which must be switched on before triton is
# imported.  With CUDA they are compiled.  A TRITON_INTERPRET set by the caller is kept.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root
