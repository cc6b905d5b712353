"""Neural network models of leadlift (pure PyTorch).

Paper 1 (aligned per-lead masked autoencoders): :class:`LeadBankMAE` (all per-lead MAEs as one
batched module), :class:`LoopLeadMAE` (the same as separate modules, reference),
:class:`MultiChannelMAE` (12-channel baseline) and :class:`UNet1dRefiner`.
"""

from leadlift.models.mae import (
    MAE_PRESETS,
    LeadBankMAE,
    LoopLeadMAE,
    MAEOutput,
    MultiChannelMAE,
    PatchMask,
    UNet1dRefiner,
    patchify,
    random_patch_mask,
    sincos_pos_embed_1d,
    unpatchify,
)

__all__ = [
    "MAE_PRESETS",
    "LeadBankMAE",
    "LoopLeadMAE",
    "MAEOutput",
    "MultiChannelMAE",
    "PatchMask",
    "UNet1dRefiner",
    "patchify",
    "random_patch_mask",
    "sincos_pos_embed_1d",
    "unpatchify",
]
