"""The nn.Module classes of an OFA ResNet50D subnet (hwmap.graph.ofa builds them; importing this module imports
torch, so hwmap.graph.ofa imports it only when a model is built or a class is looked up).

Every class takes the OfaSpace it is built from (batch-norm constants, kernel size, channel tables).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from hwmap.graph.ofa import OfaArch, OfaSpace

__all__ = ["OfaBottleneck", "OfaResNet50", "OfaStem", "OfaStemResidual"]


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


def bn(c: int, space: OfaSpace) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=space.bn_eps, momentum=space.bn_momentum)


class OfaStemResidual(nn.Module):
    """The stem's middle layer: x + relu(bn(conv3x3(x))) (OFA ResidualBlock with an identity shortcut;
    no activation after the add)."""

    def __init__(self, channels: int, *, space: OfaSpace) -> None:
        super().__init__()
        self.conv = conv(channels, channels, 3)
        self.bn = bn(channels, space)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.relu(self.bn(self.conv(x)))


class OfaStem(nn.Module):
    """ResNet-D stem: conv3x3 s2, optional residual conv3x3, conv3x3, maxpool 3x3 s2 p1."""

    def __init__(self, c0: int, c1: int, *, residual: bool, space: OfaSpace) -> None:
        super().__init__()
        self.conv0 = conv(3, c0, 3, stride=2)
        self.bn0 = bn(c0, space)
        self.relu0 = nn.ReLU()
        self.register_module("residual", OfaStemResidual(c0, space=space) if residual else None)
        self.conv2 = conv(c0, c1, 3)
        self.bn2 = bn(c1, space)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu0(self.bn0(self.conv0(x)))
        if self.residual is not None:
            x = self.residual(x)
        x = self.relu2(self.bn2(self.conv2(x)))
        return self.pool(x)


class OfaBottleneck(nn.Module):
    """OFA ResNetBottleneckBlock: 1x1 -> 3x3 (stride) -> 1x1, + shortcut, ReLU.

    The shortcut is identity when stride == 1 and in == out; otherwise OFA's 'avgpool_conv':
    AvgPool2d(kernel=stride, stride=stride, padding=0, ceil_mode=True) + conv1x1 + BN, where the pool is
    left out for stride 1 (a 1x1 pool with stride 1 is the identity).
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        *,
        stride: int,
        expand_ratio: float,
        supernet_index: int,
        space: OfaSpace,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.mid_channels = mid_channels
        self.out_channels = out_channels
        self.stride = stride
        self.expand_ratio = expand_ratio
        self.supernet_index = supernet_index
        k = space.kernel_size
        self.conv1 = conv(in_channels, mid_channels, 1)
        self.bn1 = bn(mid_channels, space)
        self.relu1 = nn.ReLU()
        self.conv2 = conv(mid_channels, mid_channels, k, stride=stride)
        self.bn2 = bn(mid_channels, space)
        self.relu2 = nn.ReLU()
        self.conv3 = conv(mid_channels, out_channels, 1)
        self.bn3 = bn(out_channels, space)
        if stride == 1 and in_channels == out_channels:
            downsample = None
        else:
            layers: list[tuple[str, nn.Module]] = []
            if stride > 1:
                # OFA passes no count_include_pad (default True); with padding=0 the ceil_mode overhang
                # is excluded from the divisor either way, so True and False give the same result.
                layers.append(("pool", nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)))
            layers += [("conv", conv(in_channels, out_channels, 1)), ("bn", bn(out_channels, space))]
            downsample = nn.Sequential(OrderedDict(layers))
        self.register_module("downsample", downsample)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)

    def extra_repr(self) -> str:
        return (
            f"in={self.in_channels}, mid={self.mid_channels}, out={self.out_channels}, stride={self.stride}, "
            f"e={self.expand_ratio}, supernet_index={self.supernet_index}"
        )

class OfaResNet50(nn.Module):
    """An OFA ResNet50D subnet: ``stem``, ``stages`` (4 x Sequential of OfaBottleneck), ``head``.
    ``arch`` holds the OfaArch it was built from, in the supernet ``space``."""

    def __init__(self, arch: OfaArch, *, num_classes: int, space: OfaSpace) -> None:
        super().__init__()
        self.arch = arch
        c0 = space.stem_conv0_channels[arch.w[0]]
        c1 = space.stem_conv2_channels[arch.w[1]]
        self.stem = OfaStem(c0, c1, residual=arch.stem_residual, space=space)
        stages, cin, first = [], c1, 0
        for s, (depth, n_max) in enumerate(zip(arch.stage_depths, space.max_blocks_per_stage, strict=True)):
            cout = space.stage_channels[s][arch.w[2 + s]]
            blocks = []
            for b in range(depth):
                e = arch.e[first + b]
                blocks.append(
                    OfaBottleneck(
                        cin,
                        space.mid_channels(cout, e),
                        cout,
                        stride=space.stage_strides[s] if b == 0 else 1,
                        expand_ratio=e,
                        supernet_index=first + b,
                        space=space,
                    )
                )
                cin = cout
            stages.append(nn.Sequential(*blocks))
            first += n_max
        self.stages = nn.Sequential(*stages)
        head = [
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten(1)),
            ("fc", nn.Linear(cin, num_classes)),
        ]
        self.head = nn.Sequential(OrderedDict(head))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))
