"""The one table from a class name in a checkpoint's model spec to the network that rebuilds it."""

from __future__ import annotations

from typing import Any

from torch import nn

from leadlift.errors import CorruptFileError

__all__ = ["MAE_CLASSES", "RECON_CLASSES", "build_network"]


def _mae_classes() -> dict[str, type[nn.Module]]:
    from leadlift.models.mae import LeadBankMAE, MultiChannelMAE

    return {"LeadBankMAE": LeadBankMAE, "MultiChannelMAE": MultiChannelMAE}


def _recon_classes() -> dict[str, type[nn.Module]]:
    from leadlift.models.recon import FIRLeadMap, FusionReconstructor, LinearLeadMap, UNet1d

    return {"FusionReconstructor": FusionReconstructor, "UNet1d": UNet1d, "LinearLeadMap": LinearLeadMap,
            "FIRLeadMap": FIRLeadMap}


MAE_CLASSES: tuple[str, ...] = ("LeadBankMAE", "MultiChannelMAE")
"""Networks of paper 1 (the model itself is the checkpoint's network)."""

RECON_CLASSES: tuple[str, ...] = ("FusionReconstructor", "UNet1d", "LinearLeadMap", "FIRLeadMap", "AnySubsetNet")
"""Reconstructors of paper 2: the fixed-input ones are wrapped in :class:`~leadlift.models.recon.ReconNet`;
``AnySubsetNet`` (:mod:`leadlift.models.anysubset`) is its own network (any input subset, with a spread)."""


def build_network(class_name: str, kwargs: dict[str, Any], encoder: dict[str, Any] | None = None,
                  output_scale: str | None = None, eps: float | None = None) -> nn.Module:
    """A freshly initialised network for a model spec.

    Args:
        class_name: one of :data:`MAE_CLASSES` or :data:`RECON_CLASSES`.
        kwargs: constructor arguments of that class.
        encoder: reconstructors only: :class:`~leadlift.models.recon.PathologyEncoder` arguments
            (None: no embedding view).
        output_scale, eps: reconstructors only: :class:`~leadlift.models.recon.ReconNet` options.
    Raises:
        CorruptFileError: for an unknown class name.
    """
    mae = _mae_classes()
    if class_name in mae:
        return mae[class_name](**kwargs)
    if class_name == "AnySubsetNet":
        from leadlift.models.anysubset import AnySubsetNet

        return AnySubsetNet(encoder=encoder, **kwargs)
    recon = _recon_classes()
    if class_name in recon:
        from leadlift.models.recon import PathologyEncoder, ReconNet

        enc = PathologyEncoder(**encoder) if encoder else None
        return ReconNet(recon[class_name](**kwargs), enc, output_scale=output_scale or "input_std",
                        eps=1e-6 if eps is None else float(eps))
    raise CorruptFileError(f"unknown model class {class_name!r}; expected one of "
                           f"{', '.join((*MAE_CLASSES, *RECON_CLASSES))} — is this a leadlift checkpoint?")
