"""Neural network models of leadlift (pure PyTorch).

Paper 1 (aligned per-lead masked autoencoders): :class:`LeadBankMAE` (all per-lead MAEs as one
batched module) and :class:`MultiChannelMAE` (12-channel baseline), in :mod:`leadlift.models.mae`.
Paper 2 (pathology-aware reconstruction) and its baselines: :mod:`leadlift.models.recon`.
:mod:`leadlift.models.registry` rebuilds any of them from a checkpoint's model spec.
Models never read files and never see millivolts they did not get as tensors.
"""

from leadlift.models.mae import (
    LeadBankMAE,
    MAEOutput,
    MultiChannelMAE,
    PatchMask,
    patchify,
    random_patch_mask,
    sincos_pos_embed_1d,
    unpatchify,
)

__all__ = [
    "LeadBankMAE",
    "MAEOutput",
    "MultiChannelMAE",
    "PatchMask",
    "patchify",
    "random_patch_mask",
    "sincos_pos_embed_1d",
    "unpatchify",
]
