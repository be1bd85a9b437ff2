"""Floating-point modes of a run: ``fp32``, ``tf32`` (CUDA) and ``bf16`` (autocast).

* ``fp32``: float32 throughout, TF32 off for CUDA matrix products and cuDNN convolutions
  alike (on recent GPUs cuDNN otherwise uses TF32 for float32 convolutions by default).
* ``tf32``: float32 tensors, CUDA matrix products and convolutions in TF32 (10-bit mantissa).
* ``bf16``: the forward pass under ``torch.autocast(dtype=torch.bfloat16)``, on any
  device; parameters, their gradients and the optimiser stay float32.

``lconv bench --precision`` measures the error each mode costs against float64.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str, device: torch.device, *, where: str) -> None:
    """One-line errors for an unknown mode, or TF32 off CUDA."""
    if precision not in PRECISIONS:
        raise ValueError(f"{where}: unknown precision {precision}; choose from {', '.join(PRECISIONS)}")
    if precision == "tf32" and device.type != "cuda":
        raise ValueError(f"{where}: tf32 is a CUDA mode; use --precision fp32 or bf16 on the CPU")


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype the forward pass is autocast to, or None."""
    return torch.bfloat16 if precision == "bf16" else None


@contextlib.contextmanager
def precision_mode(precision: str, device: torch.device):
    """TF32 on (``tf32``) or off (otherwise) for CUDA matrix products and cuDNN convolutions, restored after."""
    check_precision(precision, device, where="precision")
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    new_api = hasattr(matmul, "fp32_precision") and hasattr(conv, "fp32_precision")
    tf32 = precision == "tf32"
    if new_api:
        old = (matmul.fp32_precision, conv.fp32_precision)
        matmul.fp32_precision = conv.fp32_precision = "tf32" if tf32 else "ieee"
    else:  # torch < 2.9
        old = (matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        if new_api:
            matmul.fp32_precision, conv.fp32_precision = old
        else:
            matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
