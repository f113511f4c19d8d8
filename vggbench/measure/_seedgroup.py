"""Training several seeds of one model at once, as one network, each seed independent.

On a CPU (and more so on a GPU) a small VGG at 32 px keeps the machine busy with
per-operator overhead rather than arithmetic: K seeds trained together do K times the
arithmetic for about the same overhead. `SeedGroup` holds K models of one spec as one
network: each conv becomes one grouped conv (K times its groups), whose k-th share holds seed k's
weights and sees only seed k's channels; each linear layer becomes a batched matrix
product over K weight matrices. Nothing mixes the seeds: a group's output, loss and
gradients are those of its own model, so K Adam (or SGD) updates of the stacked
weights are K independent updates, element by element.

Each seed keeps its own initialisation (its model is built after `torch.manual_seed`
with its seed, as a lone run's is), its own data order and its own dropout masks (the
trainer gives each seed its batches and a generator of its own).
"""

from __future__ import annotations

import torch
from torch import nn

from vggbench.models.arch import ModelSpec
from vggbench.models.vgg import VGG, build_spec


def seeded_dropout(values: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Dropout whose mask comes from `generator`: a run's own stream, the same alone or in a group."""
    keep = torch.rand(values.shape, generator=generator, device=values.device) >= p
    return values * keep / (1 - p)


def _grouped_conv(first: nn.Conv2d, count: int) -> nn.Conv2d:
    """An empty conv doing `count` copies of `first`'s work side by side: its whole construction, with channels
    and groups times `count` (a grouped conv's groups are contiguous in its channels and weights)."""
    return nn.Conv2d(
        first.in_channels * count,
        first.out_channels * count,
        first.kernel_size,
        stride=first.stride,
        padding=first.padding,
        dilation=first.dilation,
        groups=first.groups * count,
        bias=first.bias is not None,
        padding_mode=first.padding_mode,
    )


def _grouped(parts: list[nn.Module]) -> nn.Module:
    """One module doing the work of `parts` (the same layer of K models) on K groups of channels."""
    first, count = parts[0], len(parts)
    if isinstance(first, nn.Conv2d):
        conv = _grouped_conv(first, count)
        with torch.no_grad():
            conv.weight.copy_(torch.cat([part.weight for part in parts]))
            if first.bias is not None:
                conv.bias.copy_(torch.cat([part.bias for part in parts]))
        return conv
    if isinstance(first, nn.BatchNorm2d):
        norm = nn.BatchNorm2d(first.num_features * count, first.eps, first.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).copy_(torch.cat([getattr(part, name) for part in parts]))
        return norm
    return first  # ReLU and max-pooling act on each channel alone


class SeedGroup(nn.Module):
    """K models of one spec (built in seed order) as one network."""

    def __init__(self, spec: ModelSpec, models: list[VGG]) -> None:
        super().__init__()
        self.spec, self.count = spec, len(models)
        blocks = []
        for same_block in zip(*(model.blocks for model in models), strict=True):  # block i of every model
            blocks.append(nn.Sequential(*(_grouped(parts) for parts in zip(*same_block, strict=True))))
        self.features = nn.Sequential(*blocks)
        self.weights, self.biases, self.head = nn.ParameterList(), nn.ParameterList(), []
        pools = []  # a gap head's pooling, which acts on each channel alone: on the K groups' maps at once
        for layers in zip(*[model.head for model in models], strict=True):
            if isinstance(layers[0], nn.AdaptiveAvgPool2d):
                pools.append(layers[0])
                continue
            if isinstance(layers[0], nn.Linear):
                self.weights.append(nn.Parameter(torch.stack([layer.weight.detach() for layer in layers])))
                self.biases.append(nn.Parameter(torch.stack([layer.bias.detach() for layer in layers])))
            self.head.append(layers[0])
        self.pool = nn.Sequential(*pools)

    def forward(self, images: torch.Tensor, dropouts: list[torch.Generator] | None = None) -> torch.Tensor:
        """Logits (K, B, classes) of images (B, K x channels, H, W): group k is seed k's batch."""
        features = self.pool(self.features(images))
        values = features.reshape(features.shape[0], self.count, -1).transpose(0, 1)  # (K, B, features)
        linear = 0
        for layer in self.head:
            if isinstance(layer, nn.Linear):
                values = torch.baddbmm(self.biases[linear][:, None, :], values, self.weights[linear].transpose(1, 2))
                linear += 1
            elif isinstance(layer, nn.Dropout):
                if self.training:
                    masks = [seeded_dropout(values[k], layer.p, dropouts[k]) for k in range(self.count)]
                    values = torch.stack(masks)
            elif not isinstance(layer, nn.Flatten):
                values = layer(values)
        return values

    @torch.no_grad()
    def models(self) -> list[VGG]:
        """The K models, each as a lone VGG (on the CPU) with its seed's current weights and statistics."""
        models = []
        for k in range(self.count):
            with torch.device("meta"):
                model = build_spec(self.spec)
            model = model.to_empty(device="cpu")
            for group_block, block in zip(self.features, model.blocks, strict=True):
                for grouped, layer in zip(group_block, block, strict=True):
                    for name, tensor in [*layer.named_parameters(), *layer.named_buffers()]:
                        source = getattr(grouped, name)
                        tensor.copy_(source if source.dim() == 0 else source.chunk(self.count)[k])
            linears = [layer for layer in model.head if isinstance(layer, nn.Linear)]
            for layer, weight, bias in zip(linears, self.weights, self.biases, strict=True):
                layer.weight.copy_(weight[k])
                layer.bias.copy_(bias[k])
            models.append(model)
        return models
