"""What the machine offers: bf16 support and the batch size that pays on it."""

from __future__ import annotations

import functools

# Batching measured slower than one clip at a time on CPU (FACTS.md); on a GPU it pays.
CUDA_AUTO_BATCH = 16


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_supported(device: str) -> tuple[bool, str]:
    """Whether bf16 compute is fast on ``device``, and why (for benchmark output and logs)."""
    import torch

    if str(device).startswith("cuda"):
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return ok, "CUDA bf16" if ok else "this GPU has no bf16 support"
    flags = cpu_flags()
    native = sorted(f for f in ("amx_bf16", "avx512_bf16") if f in flags)
    if native:
        return True, "CPU flags: " + ", ".join(native)
    return False, "the CPU has neither AMX nor AVX512-BF16 (bf16 would be emulated and slow)"


def auto_batch_size(setting: int | str, device: str) -> int:
    """``"auto"`` -> 1 on CPU, ``CUDA_AUTO_BATCH`` on CUDA; an int is used as given."""
    if setting == "auto":
        return CUDA_AUTO_BATCH if str(device).startswith("cuda") else 1
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f'max_batch_size must be "auto" or an int >= 1, not {setting!r}')
    return setting
