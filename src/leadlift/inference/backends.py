"""Where lead I becomes 12 leads: one backend per checkpoint format, from mV windows to mV windows.

A backend wraps a loaded network with the preprocessing its typed checkpoint config prescribes:

* :class:`MAEBackend` (``leadlift-mae/*``, paper 1): windows z-scored per lead; embeddings are the
  per-lead CLS tokens; reconstructions are decoded through the aligned token space and put back
  into mV with the checkpoint's amplitude calibration.
* :class:`ReconBackend` (``leadlift-recon/*``, paper 2): a fixed input-lead set, band-pass and
  baseline removal at the model rate, mV windows in and mV windows out.
* :class:`AnySubsetBackend` (``leadlift-recon/*`` with an ``AnySubsetNet``): the same preprocessing
  for any input subset, and a calibrated per-sample spread (:meth:`Backend.reconstruct_windows_spread`).

:func:`load_backend` is the one path from a checkpoint folder to a ready backend. The API
(:class:`leadlift.api.LeadLift`), evaluation, benchmarks and model cards all go through it, so
what is measured is what users get. Nothing here imports Lightning or training code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import CorruptFileError, InputError
from leadlift.inference.checkpoint import (
    CheckpointConfig,
    MAEPreprocessing,
    ReconPreprocessing,
    load_checkpoint,
)
from leadlift.models.registry import build_network

log = logging.getLogger("leadlift.inference")

__all__ = [
    "AnySubsetBackend", "Backend", "MAEBackend",
    "ReconBackend", "backend_from_network", "decoding_views", "load_backend", "load_network",
    "zscore_windows",
]

DEFAULT_MAE = "mae-cpu"


def zscore_windows(x: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-lead, per-window z-score of an MAE's input: ``x`` ``[..., L, W]`` mV → ``(z float32, std [..., L] mV)``;
    a window flatter than ``eps`` becomes zeros."""
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    z = np.where(std < eps, 0.0, (x - mean) / (std + eps)).astype(np.float32)
    return z, std[..., 0]


def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """``"auto"`` → CUDA, else Apple MPS, else CPU; otherwise the named device, checked to exist."""
    if isinstance(device, torch.device):
        return device
    name = (device or "cpu").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps") if mps is not None and mps.is_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"device {device!r} is not a torch device; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: this torch has no CUDA device; use cpu (or a CUDA build of torch)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError(f"device {device!r}: Apple MPS is not available here; use cpu")
    return dev


def decoding_views(config: CheckpointConfig) -> int:
    """MAE decoding passes: 1 for a model trained to decode every patch from unmasked tokens
    (``loss.cross_decode`` > 0, the corrected objective); otherwise matching the training mask
    ratio, 1 / (1 − mask_ratio), e.g. 4 for 0.75 (its decoders only ever predicted masked patches)."""
    loss = config.training.get("loss", {})
    if float(loss.get("cross_decode", 0.0) or 0.0) > 0:
        return 1
    ratio = float(loss.get("mask_ratio", 0.75))
    return max(1, round(1.0 / max(1.0 - ratio, 1e-6)))


def load_network(folder: str | Path, verify: bool = True,
                 require_checksum: bool = False) -> tuple[nn.Module, CheckpointConfig]:
    """Rebuild the network of a checkpoint folder: ``(model in eval mode, typed config)``."""
    state, cfg = load_checkpoint(folder, verify=verify, require_checksum=require_checksum)
    try:
        model = build_network(cfg.model.class_name, cfg.model.kwargs, encoder=cfg.model.encoder,
                              output_scale=cfg.model.output_scale, eps=cfg.model.eps)
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{folder}: the model spec in config.yaml does not build ({exc}); "
                               "re-export the checkpoint") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # tensor shapes that do not fit the spec
        first = str(exc).split("size mismatch for ", 1)[-1].splitlines()[0][:160]
        raise CorruptFileError(f"{folder}: weights do not fit the architecture in config.yaml ({first}); "
                               "re-export the checkpoint") from None
    if missing or unexpected:
        raise CorruptFileError(f"{folder}: weights do not fit the architecture (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]}); re-export the checkpoint")
    return model.eval(), cfg


class Backend:
    """What the pipeline needs from a model: windows in mV in, embeddings / mV windows out.

    Attributes:
        kind: ``"mae"`` or ``"recon"``.
        name: how the model was asked for (for messages).
        config: the typed checkpoint config.
        fs: model rate in Hz; window: samples per window; hop: default reconstruction hop;
            embed_hop: default embedding hop.
        leads: leads with an encoder (MAE) or the fixed inputs (reconstructor).
    """

    kind: str = ""
    name: str
    config: CheckpointConfig
    device: torch.device = torch.device("cpu")
    fs: float
    window: int
    hop: int
    embed_hop: int
    leads: tuple[str, ...]

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        """The input leads this model uses from ``ecg`` (``explicit``: the caller chose them)."""
        raise NotImplementedError

    def network(self) -> nn.Module:
        """The wrapped network."""
        raise NotImplementedError

    def to(self, device: str | torch.device) -> Backend:
        """Move the network to ``device`` (windows are sent there and results brought back as NumPy)."""
        self.device = resolve_device(device)
        self.network().to(self.device)
        return self

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Model-specific cleaning of ``[L, n]`` mV at the model rate (default: none). Evaluation
        applies the same cleaning to the truth it scores against."""
        return x

    def embed_windows(self, x: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        """``x`` ``[N, L, W]`` mV → embeddings ``[N, L, D]``."""
        raise InputError(f"model {self.name} ({self.kind}) does not produce per-lead embeddings; use an aligned "
                         f"MAE (e.g. {DEFAULT_MAE!r}) for embed()")

    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        """``x`` ``[N, L, W]`` mV → ``[N, len(targets), W]`` mV."""
        raise NotImplementedError

    def reconstruct_windows_spread(self, x: np.ndarray, leads: tuple[str, ...],
                                   targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        """``(mean [N, len(targets), W] mV, spread [N, len(targets), W] mV or None)``: models
        without an uncertainty give None."""
        return self.reconstruct_windows(x, leads, targets), None

    def derived_leads(self, leads: tuple[str, ...]) -> tuple[str, ...]:
        """Limb leads the pipeline recomputes from the output's limb rows when the inputs are
        ``leads`` (those a model derives from a predicted I or II); none by default."""
        return ()

    @property
    def uncertainty_level(self) -> float | None:
        """Nominal level of ``signal ± z·spread`` (e.g. 0.9), None for models without a spread."""
        return None

    @property
    def uncertainty_z(self) -> float | None:
        return None


class MAEBackend(Backend):
    """Aligned per-lead MAE (:class:`~leadlift.models.LeadBankMAE`): z-scored windows; mV via the
    checkpoint's amplitude calibration."""

    kind = "mae"

    def __init__(self, model: nn.Module, cfg: CheckpointConfig, name: str) -> None:
        from leadlift.models import LeadBankMAE

        if not isinstance(model, LeadBankMAE):
            raise InputError(f"{name}: a {type(model).__name__} checkpoint (12-channel baseline) cannot embed or "
                             f"reconstruct single leads; use a per-lead MAE such as {DEFAULT_MAE!r}")
        pre = cfg.preprocessing
        assert isinstance(pre, MAEPreprocessing)
        self.model, self.config, self.name = model, cfg, name
        self.fs = float(pre.fs)
        self.window = int(pre.window_samples)
        self.hop = pre.hop_samples
        self.embed_hop = pre.embed_hop
        self.eps = float(pre.zscore_eps)
        self.leads = tuple(model.leads)
        self.n_views = decoding_views(cfg)

    def network(self) -> nn.Module:
        return self.model

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        missing = [n for n in ecg.leads if n not in self.leads]
        if missing:
            raise InputError(f"model {self.name} has no encoder for lead(s) {', '.join(missing)} (it has "
                             f"{', '.join(self.leads)}); pass other leads")
        if task == "reconstruct" and self.config.calibration is None:
            raise InputError(
                f"model {self.name} has no amplitude calibration, so it cannot output mV; run "
                "leadlift.workflows.release.calibrate_mae_checkpoint(folder, data_dir) on it first"
            )
        return ecg

    def _z(self, x: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        z, std = zscore_windows(x, self.eps)
        return torch.from_numpy(z).to(self.device), std

    @torch.inference_mode()
    def embed_windows(self, x: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        z, _ = self._z(x)
        return self.model.embed(z, leads=leads).cpu().numpy()

    def calibration(self, leads: tuple[str, ...], targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per-target ``(ratio, mean)``: target std ≈ ratio × mean std of the input leads (mV)."""
        assert self.config.calibration is not None
        return self.config.calibration.ratio_mean(leads, targets)

    @torch.inference_mode()
    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        z, std = self._z(x)
        pred = self.model.cross_reconstruct(z, leads, targets, n_views=self.n_views).cpu().numpy().astype(np.float64)
        ratio, mean = self.calibration(leads, targets)
        ref = std.mean(axis=1)[:, None, None]  # [N, 1, 1] mean std of the input leads (mV)
        return pred * ref * ratio[None, :, None] + mean[None, :, None]


class ReconBackend(Backend):
    """Pathology-aware reconstructor (paper 2, :class:`leadlift.models.recon.ReconNet`): a fixed
    input-lead set, mV windows in, mV windows out; inputs band-passed and baseline-corrected at the
    model rate as in training (``config.preprocessing``)."""

    kind = "recon"

    def __init__(self, net: nn.Module, cfg: CheckpointConfig, name: str) -> None:
        from leadlift.models.recon import LeadPlan

        self._setup(net, cfg, name)
        self.plan = LeadPlan.from_inputs(cfg.preprocessing.input_leads)  # type: ignore[union-attr]
        self.leads = tuple(self.plan.inputs)

    def _setup(self, net: nn.Module, cfg: CheckpointConfig, name: str) -> None:
        """The fields every reconstructor backend reads from its ``ReconPreprocessing``."""
        pre = cfg.preprocessing
        assert isinstance(pre, ReconPreprocessing)
        self.net, self.config, self.name = net, cfg, name
        self.fs = float(pre.fs)
        self.window = int(pre.window_samples)
        self.hop = int(pre.hop_samples or max(1, self.window // 2))
        self.embed_hop = self.window  # it has no embeddings (embed_windows refuses in one line)
        self.band = pre.bandpass_hz
        self.order = int(pre.bandpass_order)
        self.baseline_s = pre.baseline_window_s

    def _plan(self, leads: tuple[str, ...]) -> Any:
        """The lead plan for inputs ``leads`` (a fixed-input model has one)."""
        return self.plan

    def derived_leads(self, leads: tuple[str, ...]) -> tuple[str, ...]:
        # limb leads the plan derives from a learned I or II: the pipeline recomputes them from the
        # output rows, so the output obeys Einthoven/Goldberger exactly
        plan = self._plan(leads)
        return () if plan.exact else tuple(plan.derived)

    def network(self) -> nn.Module:
        return self.net

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        have = set(ecg.leads)
        if (explicit and have != set(self.leads)) or not set(self.leads) <= have:
            raise InputError(
                f"model {self.name} reconstructs from {','.join(self.leads)} only, but the input has "
                f"{','.join(ecg.leads)}; pass those leads or use recon-any (any input subset)"
            )
        return ecg.select(self.leads)

    def filter(self, x: np.ndarray) -> np.ndarray:
        from leadlift.preprocessing import bandpass, filtfilt_min_samples, remove_baseline

        if self.band:
            low, high = self.band
            need = filtfilt_min_samples(self.fs, low, high, self.order)
            if x.shape[-1] < need:
                raise InputError(f"the recording is too short for this model's filter: it needs at least "
                                 f"{need / self.fs:.2g} s; pass a longer recording")
            x = bandpass(x, self.fs, low, high, self.order)
        if self.baseline_s:
            x = remove_baseline(x, self.fs, window_s=float(self.baseline_s))
        return x

    @torch.inference_mode()
    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        learned = self.net(xt).cpu().numpy().astype(np.float64)
        full = self.plan.assemble(x.astype(np.float64), learned)  # [N, 12, W]
        return full[:, [STANDARD_LEADS.index(t) for t in targets]]


class AnySubsetBackend(ReconBackend):
    """The any-subset reconstructor (:class:`~leadlift.models.anysubset.AnySubsetNet`): any input
    subset of the 12 leads, the same band-pass/baseline preprocessing as :class:`ReconBackend`, and
    a per-sample spread calibrated with the checkpoint's ``uncertainty`` factors."""

    def __init__(self, net: nn.Module, cfg: CheckpointConfig, name: str) -> None:
        if cfg.uncertainty is None:
            raise CorruptFileError(f"{name}: an any-subset checkpoint needs its uncertainty section; re-export it")
        self._setup(net, cfg, name)
        self.leads = tuple(STANDARD_LEADS)
        self.unc = cfg.uncertainty

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        if len(ecg.leads) >= len(STANDARD_LEADS):
            raise InputError(f"the input already has all 12 leads; pass the leads you want to reconstruct from "
                             f"(e.g. --leads I,II) to model {self.name}")
        return ecg

    def _plan(self, leads: tuple[str, ...]) -> Any:
        from leadlift.models.recon import LeadPlan

        return LeadPlan.from_inputs(leads)

    @property
    def uncertainty_level(self) -> float | None:
        return float(self.unc.level)

    @property
    def uncertainty_z(self) -> float | None:
        return float(self.unc.z)

    @torch.inference_mode()
    def reconstruct_windows_spread(self, x: np.ndarray, leads: tuple[str, ...],
                                   targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        from leadlift.inference.checkpoint import calibration_key
        from leadlift.models.anysubset import BASIS_LEADS, assemble_with_spread

        plan = self._plan(leads)
        n, _, w = x.shape
        full = np.zeros((n, len(STANDARD_LEADS), w), dtype=np.float32)
        mask = np.zeros((n, len(STANDARD_LEADS)), dtype=np.float32)
        for i, name in enumerate(leads):
            full[:, STANDARD_LEADS.index(name)] = x[:, i]
            mask[:, STANDARD_LEADS.index(name)] = 1.0
        mean, sd = self.net(torch.from_numpy(full).to(self.device), torch.from_numpy(mask).to(self.device))
        sd_np = sd.cpu().numpy().astype(np.float64)
        sd_np *= self.unc.factors(calibration_key(leads), BASIS_LEADS)[None, :, None]
        ordered = np.stack([x[:, leads.index(name)] for name in plan.inputs], axis=1).astype(np.float64)
        signal, spread = assemble_with_spread(plan, ordered, mean.cpu().numpy().astype(np.float64), sd_np)
        idx = [STANDARD_LEADS.index(t) for t in targets]
        return signal[:, idx], spread[:, idx]

    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        return self.reconstruct_windows_spread(x, leads, targets)[0]


def _recon_backend(model: nn.Module, cfg: CheckpointConfig, name: str) -> Backend:
    if cfg.model.class_name == "AnySubsetNet":
        return AnySubsetBackend(model, cfg, name)
    return ReconBackend(model, cfg, name)


def load_backend(folder: str | Path, name: str | None = None, verify: bool = True,
                 require_checksum: bool = False) -> Backend:
    """The backend for a checkpoint folder (format chosen by ``config.yaml``)."""
    name = name or str(folder)
    if not verify:
        log.warning("%s: checksum verification disabled", name)
    model, cfg = load_network(folder, verify=verify, require_checksum=require_checksum)
    if cfg.kind == "mae":
        return MAEBackend(model, cfg, name)
    return _recon_backend(model, cfg, name)


def backend_from_network(model: nn.Module, cfg: CheckpointConfig | dict[str, Any], name: str = "in memory") -> Backend:
    """A backend around a network held in memory (e.g. right after training) and its config —
    the same code path as a loaded checkpoint."""
    from leadlift.inference.checkpoint import parse_checkpoint_config

    cfg = cfg if isinstance(cfg, CheckpointConfig) else parse_checkpoint_config(cfg, name)
    model = model.eval()
    return MAEBackend(model, cfg, name) if cfg.kind == "mae" else _recon_backend(model, cfg, name)
