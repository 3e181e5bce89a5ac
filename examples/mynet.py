"""A small CNN of your own, costed from the command line without writing any hwmap code:

    hwmap estimate examples/mynet.py:MyNet --input 3x64x64 -a systolic16x16

hwmap imports this file, calls MyNet() on torch's meta device (no weights are allocated) and traces it at the
input size given. A function returning an nn.Module works too (examples/mynet.py:mynet_wide).
"""

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class MyNet(nn.Module):
    """Three conv+BN+ReLU stages with average pooling, global average pooling and a linear classifier."""

    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(3, width),
            nn.AvgPool2d(2),
            conv_bn_relu(width, 2 * width),
            nn.AvgPool2d(2),
            conv_bn_relu(2 * width, 4 * width),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mynet_wide(num_classes: int = 10) -> MyNet:
    """A factory: the same network at twice the width."""
    return MyNet(num_classes=num_classes, width=64)
