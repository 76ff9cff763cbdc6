"""TwoBranchCAE: the JRC two-branch convolutional autoencoder.

A shared encoder maps a normalised face crop to a latent feature map. Two branches read it:
a small classifier (one logit, sigmoid = P(fake)) and a ConvTranspose decoder that reconstructs
the input (RGB in [0, 1]) and, optionally, predicts a forgery mask (one logit per pixel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from jrc.encoders import ENCODERS, create_encoder


def is_number(v: object) -> bool:
    """An int or float (JSON/YAML ``true``/``false`` are bools, and refused as numbers)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass
class ModelConfig:
    """Architecture, input size and normalisation: everything needed to rebuild the model."""

    encoder: str = "efficientnet_lite0"
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    classifier_hidden: int = 256
    dropout: float = 0.3
    decoder_widths: tuple[int, ...] = (192, 96, 48, 24, 16)
    decoder_kernel: int = 4
    mask_head: bool = False

    @classmethod
    def for_encoder(cls, encoder: str, **overrides) -> ModelConfig:
        """Defaults for an encoder: its native input size and normalisation."""
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose from {sorted(ENCODERS)}")
        enc = ENCODERS[encoder]
        base = {"encoder": encoder, "input_size": enc.input_size, "mean": enc.mean, "std": enc.std}
        return cls(**{**base, **overrides})

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        d = dict(d)
        for key in ("mean", "std", "decoder_widths"):
            if key in d:
                d[key] = tuple(d[key])
        for key in ("mean", "std"):
            v = d.get(key, (0.5, 0.5, 0.5))
            if len(v) != 3 or not all(is_number(x) for x in v):
                raise ValueError(f"{key} must be 3 numbers (RGB), got {list(v)}")
        if any(x <= 0 for x in d.get("std", (1,))):
            raise ValueError(f"std must be positive, got {list(d['std'])}")
        size = d.get("input_size", 224)
        if isinstance(size, bool) or not isinstance(size, int) or size < 32:
            raise ValueError(f"input_size must be an integer >= 32, got {size!r}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


class Classifier(nn.Module):
    """Global average pooling, FC, ReLU, dropout, FC -> one logit."""

    def __init__(self, channels: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = latent.mean(dim=(2, 3))
        return self.fc2(self.drop(F.relu(self.fc1(x)))).squeeze(1)


class Decoder(nn.Module):
    """1x1 channel reduction, then ConvTranspose+BN+ReLU x2 stages up to the input size."""

    def __init__(
        self, channels: int, widths: tuple[int, ...], kernel: int, out_size: int, mask_head: bool
    ) -> None:
        super().__init__()
        if kernel % 2:
            raise ValueError("decoder_kernel must be even (stride-2 ConvTranspose)")
        self.out_size = out_size
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, widths[0], 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)
        )
        stages: list[nn.Module] = []
        cin = widths[0]
        for cout in (*widths[1:], widths[-1]):
            stages += [
                nn.ConvTranspose2d(cin, cout, kernel, 2, (kernel - 2) // 2, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]
            cin = cout
        self.up = nn.Sequential(*stages)
        self.image_head = nn.Conv2d(cin, 3, 3, padding=1)
        self.mask_head = nn.Conv2d(cin, 1, 3, padding=1) if mask_head else None

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.up(self.reduce(latent))
        if x.shape[-1] != self.out_size:
            x = F.interpolate(x, size=(self.out_size, self.out_size), mode="bilinear",
                              align_corners=False)
        recon = torch.sigmoid(self.image_head(x))
        mask_logit = self.mask_head(x).squeeze(1) if self.mask_head is not None else None
        return recon, mask_logit


class TwoBranchCAE(nn.Module):
    """JRC: shared encoder -> (classifier logit, reconstruction, forgery-mask logit)."""

    def __init__(self, config: ModelConfig | None = None, pretrained_encoder: bool = False,
                 encoder_weights: str | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.encoder = create_encoder(c.encoder, pretrained_encoder, encoder_weights)
        ch = self.encoder.out_channels
        self.classifier = Classifier(ch, c.classifier_hidden, c.dropout)
        self.decoder = Decoder(ch, c.decoder_widths, c.decoder_kernel, c.input_size, c.mask_head)
        self.register_buffer("mean", torch.tensor(c.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(c.std).view(1, 3, 1, 1), persistent=False)

    # timm-style contract -------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image ``[B,3,S,S]`` -> latent feature map."""
        return self.encoder.forward_features(x)

    forward_features = encode

    def classify(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent -> logit ``[B]``."""
        return self.classifier(latent)

    forward_head = classify

    def decode(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latent -> (reconstruction ``[B,3,S,S]`` in [0,1], mask logit ``[B,S,S]`` or None)."""
        return self.decoder(latent)

    def forward(self, x: torch.Tensor, decode: bool = True) -> dict[str, torch.Tensor]:
        latent = self.encode(x)
        out = {"logit": self.classify(latent)}
        if decode:
            out["reconstruction"], mask = self.decode(latent)
            if mask is not None:
                out["mask_logit"] = mask
        return out

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised input -> RGB in [0, 1] (the reconstruction target)."""
        return x * self.std + self.mean


class ScoreHead(nn.Module):
    """Inference wrapper with probabilities out: used by runtimes and ONNX export."""

    def __init__(self, model: TwoBranchCAE, with_decoder: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_decoder = with_decoder

    def forward(self, image: torch.Tensor):
        latent = self.model.encode(image)
        score = torch.sigmoid(self.model.classify(latent))
        if not self.with_decoder:
            return score
        recon, mask_logit = self.model.decode(latent)
        mask = torch.sigmoid(mask_logit) if mask_logit is not None else torch.zeros_like(recon[:, 0])
        return score, recon, mask


__all__ = ["ModelConfig", "ScoreHead", "TwoBranchCAE"]
