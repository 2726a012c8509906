"""Optimisers and learning-rate schedules by name."""

from __future__ import annotations

import torch

from quanta.train.config import TrainConfig


def build_optimizer(parameters, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` (fused kernels on CUDA where PyTorch has them)."""
    params = [p for p in parameters if p.requires_grad]
    fused = {"fused": True} if device.type == "cuda" else {}
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0,
                               weight_decay=config.weight_decay, **fused)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")  # validated at the config edge


def build_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """The per-epoch learning-rate schedule named by ``config.schedule`` (None for 'none')."""
    if config.schedule == "none":
        return None
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    raise ValueError(f"unknown schedule {config.schedule!r}")
