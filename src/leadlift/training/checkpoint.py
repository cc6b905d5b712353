"""Checkpoints without pickle.

* :class:`SafetensorsCheckpointIO` — a Lightning ``CheckpointIO`` plugin that stores the whole
  training state (weights, optimizer, schedulers, loop progress, callbacks) in ONE safetensors
  file: every tensor as a safetensors tensor, the rest of the structure as JSON in the file's
  metadata. Loading never unpickles anything. Files are written to a temporary name and renamed,
  so a killed run leaves the previous checkpoint intact; ``fit(ckpt_path="last")`` resumes.

The inference checkpoint (weights + typed ``config.yaml``) is :mod:`leadlift.inference.checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from safetensors import safe_open
from safetensors.torch import save_file

from leadlift.atomic import atomic_path
from leadlift.errors import CorruptFileError, DataNotFoundError

_STATE_KEY = "leadlift_state"


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors by references, tuples by tagged lists; reject anything not JSON-able."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone()  # own storage: safetensors refuses shared memory
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError(f"checkpoint dict with non-string keys: {list(obj)[:3]}")
        return {"__dict__": [[k, _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _flatten(torch.from_numpy(obj), tensors)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a safetensors checkpoint")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor] | None) -> Any:
    """Rebuild the structure; ``tensors=None`` leaves ``{"__tensor__": name}`` placeholders."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return obj if tensors is None else tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(state: dict[str, Any], path: str | Path) -> None:
    """Write a nested training-state dict to one safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, tensors)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={_STATE_KEY: json.dumps(skeleton)})


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a file written by :func:`save_state` (no pickle involved)."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"checkpoint {path} not found")
    try:
        with safe_open(str(path), framework="pt", device=str(map_location)) as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise CorruptFileError(f"checkpoint {path} is not a readable safetensors file ({exc}); "
                               "delete it and resume from an earlier one") from None
    if _STATE_KEY not in meta:
        raise CorruptFileError(f"{path} holds weights only, not a training state; use it for inference")
    return _unflatten(json.loads(meta[_STATE_KEY]), tensors)


def read_state_skeleton(path: str | Path) -> dict[str, Any]:
    """The non-tensor part of a training state (epoch, loop progress, ``hyper_parameters``...) without
    reading any tensor: tensors appear as ``{"__tensor__": name}`` placeholders."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise CorruptFileError(f"checkpoint {path} is not a readable safetensors file ({exc}); "
                               "delete it and resume from an earlier one") from None
    if _STATE_KEY not in meta:
        raise CorruptFileError(f"{path} holds weights only, not a training state; use it for inference")
    return _unflatten(json.loads(meta[_STATE_KEY]), None)  # type: ignore[no-any-return]


class SafetensorsCheckpointIO(CheckpointIO):
    """Lightning ``CheckpointIO`` that writes :func:`save_state` files instead of pickles."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_state(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict:
        return load_state(path, map_location if isinstance(map_location, (str, torch.device)) else "cpu")

    def remove_checkpoint(self, path: Any) -> None:
        Path(path).unlink(missing_ok=True)


def weights_digest(module: torch.nn.Module) -> str:
    """SHA256 over all parameters and buffers (name, dtype, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
