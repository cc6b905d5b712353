"""Loading exported checkpoints for inference (weights from safetensors, never pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from leadlift.errors import CorruptFileError
from leadlift.models import LeadBankMAE, MultiChannelMAE
from leadlift.training.checkpoint import load_exported

_MODEL_CLASSES: dict[str, type[nn.Module]] = {"LeadBankMAE": LeadBankMAE, "MultiChannelMAE": MultiChannelMAE}


def load_mae(path: str | Path, verify: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an MAE from a checkpoint folder written by ``leadlift pretrain``.

    Returns:
        ``(model in eval mode, config dict)``; ``config["preprocessing"]`` says what the input
        must look like (fs, window, lead order, normalisation). ``verify`` checks the weights'
        SHA256 against ``config.yaml``.
    """
    state, cfg = load_exported(path, verify=verify)
    spec = cfg.get("model", {})
    cls = _MODEL_CLASSES.get(spec.get("class", ""))
    if cls is None:
        raise CorruptFileError(f"{path}: unknown model class {spec.get('class')!r} in config.yaml; "
                               "is this a leadlift MAE checkpoint?")
    model = cls(**spec["kwargs"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CorruptFileError(f"{path}: weights do not fit the architecture (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]}); re-export the checkpoint")
    return model.eval(), cfg
