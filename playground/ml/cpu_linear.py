"""Faster fp32 matrix products for inference on a CPU: oneDNN with prepacked weights.

PyTorch's CPU wheel sends `nn.Linear` to MKL's sgemm. For the shapes of decoding (a
few rows against a large weight matrix) MKL is slow on this project's AMD hosts: a
SmolLM2 decode step took 63 ms at batch 1 and 102 ms at batch 8, so batching 8
sequences bought little. oneDNN, which ships inside the same wheel, picks its kernel
from the CPU's instruction set (AVX-512 here) and reads a weight that was reordered
once, at load time, into its own blocked layout: 48 ms at batch 1 and 55 ms at batch 8
on the same machine (bench/cpu_step_bench.py, docs/PERFORMANCE.md).

The arithmetic is still fp32; only the order of the additions inside a dot product
differs, as it does between any two GEMM kernels (and between batch sizes). Used for
inference only: the packed weight has no gradient, and the fine-tune child keeps its
ordinary layers. LLM_CPU_PACKED_LINEAR=0 turns it off.
"""

from __future__ import annotations

import os

import torch

PACK_BATCH_HINT = 8  # the row count oneDNN tunes the layout for; any row count works


def packing_enabled() -> bool:
    return os.environ.get("LLM_CPU_PACKED_LINEAR", "1").strip().lower() not in {"0", "false", "no", "off"}


def packing_available() -> bool:
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


class PackedLinear(torch.nn.Module):
    """y = x W^T + b with W held in oneDNN's blocked layout (fp32, CPU, no gradient)."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        weight = linear.weight.detach()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, PACK_BATCH_HINT)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).contiguous()  # no copy when it already is
        out = torch.ops.mkldnn._linear_pointwise(rows, self.packed, self.bias, "none", [], "")
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN prepacked"


def pack_linears(model: torch.nn.Module) -> int:
    """Replace every fp32 `nn.Linear` of an inference model on the CPU by a PackedLinear.

    Returns how many were replaced: 0 when oneDNN is missing, the model is not fp32 on
    the CPU, or packing is turned off. Weights tied to another module (SmolLM2's output
    layer shares the embedding matrix) stay with that module; the packed copy is extra.
    """
    if not (packing_enabled() and packing_available()):
        return 0
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if (isinstance(child, torch.nn.Linear) and child.weight.device.type == "cpu"
                    and child.weight.dtype == torch.float32):
                setattr(module, name, PackedLinear(child))
                replaced += 1
    if replaced:
        # The weights that stay (embeddings, norms) may be views into the memory-mapped
        # checkpoint; copied, they let it go, so the replaced layers' pages are freed
        # rather than kept resident beside their packed copies.
        with torch.no_grad():
            for param in model.parameters():
                param.data = param.data.clone()
    return replaced
