"""A small family of image classifiers with depth and width knobs, by name.

Every model maps (B, C_in, H, W) images to (B, n_classes) logits and is built
from *named stages* so that layers can be addressed by dotted module path
("stage1", "stage2.0.conv1"): feature paths (hints, attention) and the analysis
hooks use these names.  Spatial size is reduced by pooling and a final global
average, so the same model runs on 8x8 digits and 28x28 Fashion-MNIST.

Registered architectures (:data:`ARCHITECTURES`):

``cnn`` (:class:`SmallCNN`)
    ``depth`` stages, each conv3x3-BN-ReLU, stage i with ``width * 2**i`` channels,
    2x2 max-pooling after every stage but the last, then global average and a
    linear head ``fc``.  ``cnn(width=8, depth=3)`` has about 6.5k parameters.
``resnet`` (:class:`ResNet`)
    CIFAR-style ResNet (He et al., 2016): a conv3x3 ``stem``, three stages of
    ``(depth - 2) / 6`` basic blocks with ``width, 2 width, 4 width`` channels (the
    first block of stages 2 and 3 strides by 2), global average, ``fc``.
    ``resnet(width=16, depth=8)`` is ResNet-8 with about 78k parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from kdscope.empirical.registry import Registry

ARCHITECTURES: Registry = Registry("model architecture")


class _ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=False)


class SmallCNN(nn.Module):
    """Plain CNN: ``stage1 .. stage{depth}`` then ``pool`` (global average) and ``fc``.

    Stage i (1-based) = conv3x3(width 2^(i-1)) - BN - ReLU [- MaxPool 2x2 if i < depth and the
    input is still at least 2 pixels wide].  Module paths: ``stage2.conv``, ``stage2.bn``, ``fc``.
    """

    def __init__(self, width: int, depth: int, n_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        self.stage_names = tuple(f"stage{i + 1}" for i in range(depth))
        c_in = in_channels
        for i, name in enumerate(self.stage_names):
            c_out = width * 2**i
            stage = _ConvBNReLU(c_in, c_out)
            setattr(self, name, stage)
            c_in = c_out
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            if i < len(self.stage_names) - 1 and min(x.shape[-2:]) >= 2:
                x = nn.functional.max_pool2d(x, 2)
        return self.fc(torch.flatten(self.pool(x), 1))


class BasicBlock(nn.Module):
    """Residual block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    ``shortcut`` is the identity, or a strided 1x1 conv + BN when shape changes.
    """

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet-(6n+2): ``stem``, ``stage1..stage3`` of n blocks, ``pool``, ``fc``.

    Module paths: ``stem``, ``stage1``, ``stage2.0``, ``stage2.0.conv1``, ``fc``.
    """

    def __init__(self, width: int, depth: int, n_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        n_blocks = (depth - 2) // 6
        self.stage_names = ("stage1", "stage2", "stage3")
        self.stem = _ConvBNReLU(in_channels, width)
        c_in = width
        for i, name in enumerate(self.stage_names):
            c_out = width * 2**i
            blocks = []
            for b in range(n_blocks):
                blocks.append(BasicBlock(c_in, c_out, stride=2 if (b == 0 and i > 0) else 1))
                c_in = c_out
            setattr(self, name, nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def _build_cnn(width: int, depth: int, n_classes: int, in_channels: int) -> nn.Module:
    if depth < 1:
        raise ValueError(f"cnn: 'depth' must be an integer >= 1 (number of conv stages); got {depth!r}.")
    return SmallCNN(width, depth, n_classes, in_channels)


def _build_resnet(width: int, depth: int, n_classes: int, in_channels: int) -> nn.Module:
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"resnet: 'depth' must be 6n+2 with n >= 1 (8, 14, 20, ...); got {depth!r}.")
    return ResNet(width, depth, n_classes, in_channels)


ARCHITECTURES.register("cnn", _build_cnn)
ARCHITECTURES.register("resnet", _build_resnet)


#: Size limits checked from the configuration before any model is built.
MAX_PARAMETERS = 50_000_000
MAX_ACTIVATION_BYTES = 8 * 1024**3
#: Side of the largest images of a registered data set (Fashion-MNIST): estimates use it.
REFERENCE_IMAGE_SIZE = 28


def estimate_size(arch: str, width: int, depth: int, n_classes: int = 10, in_channels: int = 1,
                  image_size: int = REFERENCE_IMAGE_SIZE, batch_size: int = 128) -> tuple[int, int]:
    """Parameters and forward-activation bytes (float32, one batch) of a model, from its config alone.

    Exact parameter count of :class:`SmallCNN` / :class:`ResNet`; activations count every
    conv, BN and ReLU output kept for the backward pass (a lower bound of the training
    memory).  Pure integer arithmetic: ``cnn`` with ``depth=100`` gives astronomic numbers
    instead of allocating them.  Unknown architectures return (0, 0).
    """
    params, floats, s = 0, 0, image_size
    if arch == "cnn":
        c_in = in_channels
        for i in range(depth):
            c_out = width * 2**i
            params += 9 * c_in * c_out + 2 * c_out
            floats += 3 * c_out * s * s
            if i < depth - 1 and s >= 2:
                s //= 2
            c_in = c_out
    elif arch == "resnet":
        n_blocks = max((depth - 2) // 6, 0)
        params += 9 * in_channels * width + 2 * width
        floats += 3 * width * s * s
        c_in = width
        for i in range(3):
            c_out = width * 2**i
            for b in range(n_blocks):
                stride = 2 if (b == 0 and i > 0) else 1
                s = (s - 1) // stride + 1
                params += 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out
                floats += 6 * c_out * s * s
                if stride != 1 or c_in != c_out:
                    params += c_in * c_out + 2 * c_out
                    floats += 2 * c_out * s * s
                c_in = c_out
    else:
        return 0, 0
    params += c_in * n_classes + n_classes
    return params, 4 * batch_size * floats


def size_problem(arch: str, width: int, depth: int, *, batch_size: int = 128, n_classes: int = 10,
                 in_channels: int = 1) -> str | None:
    """None if the model fits :data:`MAX_PARAMETERS` and :data:`MAX_ACTIVATION_BYTES`, else a sentence why not."""
    params, act = estimate_size(arch, width, depth, n_classes, in_channels, batch_size=batch_size)
    if params <= MAX_PARAMETERS and act <= MAX_ACTIVATION_BYTES:
        return None
    return (f"{arch}(width={width}, depth={depth}) would have ~{params:.3g} parameters (limit {MAX_PARAMETERS:.3g}) "
            f"and ~{act / 1024**3:.3g} GiB of activations for a batch of {batch_size} "
            f"{REFERENCE_IMAGE_SIZE}x{REFERENCE_IMAGE_SIZE} images (limit {MAX_ACTIVATION_BYTES / 1024**3:g} GiB); "
            "reduce width or depth.")


def build_model(arch: str, width: int, depth: int, n_classes: int, in_channels: int = 1) -> nn.Module:
    """Instantiate the registered ``arch`` (initialised from torch's global RNG: seed it first).

    Raises
    ------
    ValueError
        If the model's estimated size (:func:`size_problem`, batch of 1) is over the limits;
        nothing is allocated then.
    """
    builder = ARCHITECTURES.get(arch)
    problem = size_problem(arch, width, depth, batch_size=1, n_classes=n_classes, in_channels=in_channels)
    if problem:
        raise ValueError(problem)
    return builder(width, depth, n_classes, in_channels)


def layer_paths(model: nn.Module) -> list[str]:
    """Dotted paths of the model's blocks from input to output (features live there).

    :class:`SmallCNN`: ``stage1 .. stage{depth}``; :class:`ResNet`: ``stem`` then every
    residual block ``stage1.0, stage1.1, .., stage3.{n-1}``; then ``pool`` (the
    penultimate representation, globally averaged).
    """
    if isinstance(model, ResNet):
        blocks = [f"{s}.{i}" for s in model.stage_names for i in range(len(getattr(model, s)))]
        return ["stem", *blocks, "pool"]
    return [*model.stage_names, "pool"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
