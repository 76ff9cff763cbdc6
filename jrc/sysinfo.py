"""The machine a benchmark ran on, in words (for tables in the README)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine_name() -> str:
    """CPU model and core count, plus the CUDA device when torch sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            name += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return name
