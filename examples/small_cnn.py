"""A small CNN of one's own, for `--factory examples.small_cnn:build`: two blocks of two 3x3 convs, each conv
followed by a ReLU, a 2x2 max-pool after each block, then global average pooling and one linear layer."""

from torch import nn


def build(input_shape, num_classes):
    channels = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, num_classes),
    )
