"""One Runner interface over inference engines.

A runner takes normalised float32 ``image [N,3,S,S]`` and returns named numpy outputs:
``score [N]`` (P(fake)) and, when it includes the decoder, ``reconstruction [N,3,S,S]``
(RGB in [0,1]) and ``mask [N,S,S]`` (P(manipulated) per pixel; zeros when the model has
no mask head).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import torch

from jrc.model import ModelConfig, ScoreHead
from jrc.weights import Checkpoint

log = logging.getLogger("jrc.runtime")
BACKENDS = ("auto", "torch", "onnx", "tensorrt")


class Runner(Protocol):
    name: str
    config: ModelConfig
    with_decoder: bool

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why and what to install."""


class TorchRunner:
    """PyTorch eager (CPU, or CUDA when available)."""

    def __init__(self, checkpoint: Checkpoint, with_decoder: bool = True,
                 device: str | None = None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.config = checkpoint.config
        self.with_decoder = with_decoder
        self.name = f"torch-{self.device.type}"
        self.module = ScoreHead(checkpoint.model, with_decoder).eval().to(self.device)
        self.module = self.module.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).to(self.device)
        out = self.module(x.contiguous(memory_format=torch.channels_last))
        if not self.with_decoder:
            return {"score": out.float().cpu().numpy()}
        score, recon, mask = (t.float().cpu().numpy() for t in out)
        return {"score": score, "reconstruction": recon, "mask": mask}


def create_runner(checkpoint: Checkpoint, backend: str = "auto",
                  with_decoder: bool = True) -> Runner:
    """Build the runner for ``backend``; ``auto`` picks the fastest one available."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend in ("onnx", "tensorrt"):
        raise BackendUnavailable(
            f"the {backend} backend is not implemented yet (it arrives with the export "
            "stage); use --backend torch")
    runner = TorchRunner(checkpoint, with_decoder)
    log.info("backend: %s", runner.name)
    return runner
