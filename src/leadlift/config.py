"""Experiment configurations: YAML files (shipped ones in ``src/leadlift/configs/``, see
:mod:`leadlift.configs`), validated on load.

A config is data: :func:`load_config` parses the YAML into a :class:`PretrainConfig` (pydantic,
unknown keys rejected), so a typo fails at start-up with a one-line message instead of being
silently ignored. The same config (with the preprocessing it implies) is written beside every
checkpoint, so a checkpoint alone is enough to run inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadlift.configs import read_config_text
from leadlift.conventions import PTBXL_TRAIN_FOLDS, PTBXL_VAL_FOLDS
from leadlift.ecg import parse_leads
from leadlift.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are rejected (a typo fails at start-up)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class DataConfig(StrictModel):
    """What the model sees: dataset, sampling rate, window, leads, split, batching."""

    dataset: Literal["ptbxl"] = "ptbxl"
    fs: float = Field(100.0, gt=0, description="sampling rate in Hz (the store is prepared at it)")
    window_s: float = Field(5.0, gt=0, description="window length in seconds (random crop per read)")
    leads: list[str] = Field(default_factory=lambda: ["all"])
    normalization: Literal["zscore"] = "zscore"
    zscore_eps: float = 1e-6
    train_folds: list[int] = Field(default_factory=lambda: list(PTBXL_TRAIN_FOLDS))
    val_folds: list[int] = Field(default_factory=lambda: list(PTBXL_VAL_FOLDS))
    batch_size: int = Field(64, gt=0)
    num_workers: int = Field(0, ge=0)
    embed_hop_s: float | None = Field(
        None, gt=0, description="inference: default step between embedding windows in seconds (null: one window). "
                                "A small step pools a recording's embedding over time-shifted crops, so it does not "
                                "depend on where the beats fall in the window")

    @property
    def n_times(self) -> int:
        """Window length in samples."""
        return round(self.window_s * self.fs)

    @property
    def lead_names(self) -> tuple[str, ...]:
        return parse_leads(",".join(self.leads))

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        self.lead_names  # noqa: B018 - validates the names
        if set(self.train_folds) & {10} or set(self.val_folds) & {10}:
            raise ValueError("PTB-XL fold 10 is the test fold; never train or validate on it")
        if set(self.train_folds) & set(self.val_folds):
            raise ValueError("train_folds and val_folds overlap")
        if abs(self.window_s * self.fs - self.n_times) > 1e-6:
            raise ValueError(f"window_s * fs = {self.window_s * self.fs} is not a whole number of samples")
        return self


class ModelConfig(StrictModel):
    """Architecture. ``kind``: ``lead_bank`` (12 per-lead MAEs, the method), ``shared_encoder``
    (one encoder + learned lead embedding) or ``multichannel`` (one 12-channel MAE baseline)."""

    kind: Literal["lead_bank", "shared_encoder", "multichannel"] = "lead_bank"
    patch_size: int = Field(25, gt=0)
    embed_dim: int = Field(96, gt=0)
    depth: int = Field(3, gt=0)
    num_heads: int = Field(4, gt=0)
    decoder_embed_dim: int = Field(64, gt=0)
    decoder_depth: int = Field(1, ge=0)
    decoder_heads: int = Field(4, gt=0)
    mlp_ratio: float = Field(4.0, gt=0)
    embed_pool: Literal["cls", "mean"] = Field("mean", description="per-lead embedding: the mean patch token "
                                               "(mae-cpu) or the CLS token (the paper)")


class LossConfig(StrictModel):
    """Reconstruction + alignment (see :mod:`leadlift.losses`).

    The paper-faithful objective is masked reconstruction + the triplet alignment under a
    curriculum (``alignment: true``, one mask per sample). The corrected objective (the
    default ``mae-cpu``) adds two terms that the faithful one lacks, each with its own weight:
    ``cross_decode`` (decode all leads at every patch from the unmasked tokens of a random subset
    of source leads) and ``contrastive`` (InfoNCE of CLS embeddings across leads and two time
    crops). With either on, the masked reconstruction runs on the second crop and the unmasked
    pass on the first.
    """

    mask_ratio: float = Field(0.75, ge=0, lt=1)
    norm_target: bool = True
    alignment: bool = Field(True, description="triplet alignment under the curriculum; False = no triplet term")
    margin: float = 0.5
    negatives: Literal["roll", "all"] = "roll"
    detach_others: bool = True
    tokens: Literal["all", "cls"] = "all"
    include_self_pair: bool = Field(False, description="triplet: also the pair lead c with itself (authors' code)")
    mask_sharing: Literal["sample", "batch"] = Field(
        "sample", description="one random mask per sample (faithful) or one per batch (then token t is the "
                              "same time patch in every sample, so the triplet's negatives are content)")
    curriculum: Literal["paper", "code", "constant"] = "code"
    constant_weights: tuple[float, float] = (1.0, 1.0)
    cross_decode: float = Field(0.0, ge=0, description="weight of trained cross-lead decoding (0 = off)")
    source_leads: list[float] = Field(
        default_factory=lambda: [0.6, 0.2, 0.2],
        description="probabilities of 1, 2, 3, ... source leads per sample for cross-lead decoding")
    contrastive: float = Field(0.0, ge=0, description="weight of the cross-lead, cross-crop InfoNCE (0 = off)")
    contrastive_view_leads: int = Field(
        0, ge=0, description="second view of the InfoNCE: 0 = the masked pass of the second crop (all leads); "
                             "k > 0 = an unmasked pass of k random leads of the second crop (cleaner, costs k/12 "
                             "of an unmasked 12-lead pass)")
    temperature: float = Field(0.1, gt=0)
    contrastive_same_lead: float = Field(
        0.0, ge=0, description="experimental, off in every shipped config: weight of an extra InfoNCE on the "
                               "same-lead pairs only (lead k of crop 1 finds lead k of crop 2 of its record among "
                               "the batch), for the contrastive_view_leads leads; aimed at lead-specific, "
                               "identity-bearing embeddings")
    contrastive_queue: int = Field(
        0, ge=0, description="experimental, off in every shipped config: InfoNCE also against the detached "
                             "12-lead embeddings of the last K training ECGs (a FIFO queue without a momentum "
                             "encoder, same-record entries excluded). Measured at K=256 and 1024 on mae-cpu: the "
                             "InfoNCE stays at chance and the embeddings collapse (stale entries can be beaten by "
                             "drift; benchmarks/results/paper1_queue.md). Not saved with the weights")
    contrastive_momentum: float = Field(
        0.0, ge=0, lt=1, description="experimental: > 0 makes the InfoNCE MoCo-style — the second crop's 12 leads "
                                     "are embedded by an exponential moving average of the network (this momentum "
                                     "per step) as keys without gradient, the queue holds those keys, and the loss "
                                     "runs one way (crop-1 leads find their record's keys). Needs "
                                     "contrastive_queue > 0; replaces the contrastive_view_leads pass")

    @property
    def corrected(self) -> bool:
        """True when the objective uses the unmasked two-crop pass (cross-decoding or InfoNCE)."""
        return self.cross_decode > 0 or self.contrastive > 0

    @model_validator(mode="after")
    def _check_momentum(self) -> LossConfig:
        if self.contrastive_momentum > 0 and self.contrastive_queue == 0:
            raise ValueError("contrastive_momentum > 0 needs contrastive_queue > 0 (the keys it keeps)")
        return self

    @model_validator(mode="after")
    def _check_same_lead(self) -> LossConfig:
        if self.contrastive_same_lead > 0 and (self.contrastive == 0 or self.contrastive_view_leads == 0
                                               or self.contrastive_momentum > 0):
            raise ValueError("contrastive_same_lead > 0 needs contrastive > 0 and contrastive_view_leads > 0 "
                             "(the unmasked second-crop pass it uses), without contrastive_momentum")
        return self

    @model_validator(mode="after")
    def _check_sources(self) -> LossConfig:
        if not self.source_leads or any(p < 0 for p in self.source_leads) or sum(self.source_leads) <= 0:
            raise ValueError("source_leads must be non-negative probabilities of 1, 2, ... source leads")
        return self


class OptimConfig(StrictModel):
    """AdamW with linear LR scaling, warm-up and cosine decay."""

    base_lr: float = Field(1e-3, gt=0, description="learning rate at base_batch_size")
    base_batch_size: int = 256
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_epochs: float = Field(1.0, ge=0)
    grad_clip: float | None = 1.0

    def lr(self, batch_size: int, world_size: int = 1) -> float:
        """Linear scaling rule: ``base_lr × global batch / base_batch_size``."""
        return self.base_lr * batch_size * world_size / self.base_batch_size


class TrainerConfig(StrictModel):
    """Lightning trainer settings, and which training-state checkpoints are kept.

    Training states (weights + optimizer, ~57 MB for ``mae-cpu``) go to ``OUT/checkpoints/``:
    ``last.safetensors`` (overwritten every epoch; ``--resume`` starts from it) and
    ``best.safetensors`` (lowest ``val_loss`` so far), nothing else unless ``keep_every_n_epochs``
    asks for ``epoch=E.safetensors`` every N epochs."""

    max_epochs: int = Field(20, gt=0)
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = Field("auto", description="auto: bf16-mixed on GPUs that support it, else 32")
    compile: bool = Field(False, description="torch.compile the network's training forward (GPU: see "
                                             "benchmarks/results/gpu_check.md)")
    log_every_n_steps: int = 10
    limit_train_batches: float | int = 1.0
    limit_val_batches: float | int = 1.0
    check_val_every_n_epoch: int = 1
    max_time_minutes: float | None = Field(None, gt=0, description="stop training after this many minutes "
                                           "(Lightning max_time; the checkpoint is still exported)")
    keep_every_n_epochs: int | None = Field(
        None, gt=0, description="also keep the training state of every N-th epoch (checkpoints/epoch=E.safetensors); "
                                "null: keep only last.safetensors (resume) and best.safetensors (lowest val_loss)")


class PretrainConfig(StrictModel):
    """A whole pretraining experiment (one YAML file)."""

    name: str
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)

    @model_validator(mode="after")
    def _check(self) -> PretrainConfig:
        if self.data.n_times % self.model.patch_size:
            raise ValueError(f"window of {self.data.n_times} samples is not a multiple of "
                             f"patch_size {self.model.patch_size}")
        if self.model.kind == "multichannel" and self.loss.alignment:
            raise ValueError("the multichannel baseline has no per-lead tokens to align; "
                             "set loss.alignment: false")
        return self

    def preprocessing(self) -> dict[str, Any]:
        """What inference must do to a signal before the model sees it."""
        return {
            "fs": self.data.fs,
            "window_samples": self.data.n_times,
            "window_s": self.data.window_s,
            **({"embed_hop_samples": max(1, round(self.data.embed_hop_s * self.data.fs))}
               if self.data.embed_hop_s else {}),
            "leads": list(self.data.lead_names),
            "normalization": self.data.normalization,
            "zscore_eps": self.data.zscore_eps,
            "units": "mV",
        }


def format_validation_errors(exc: ValidationError) -> str:
    """The first three pydantic errors as one line (``loc: message; ...``)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_config(data: dict[str, Any], source: str = "config") -> PretrainConfig:
    """Validate a config dict (raises :class:`ConfigError` with a one-line message)."""
    try:
        return PretrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid: {format_validation_errors(exc)}; "
                          "fix the YAML (see leadlift/configs/mae_*.yaml)") from None


def read_yaml_with_source(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
                          hint: str = "the shipped configs (leadlift/configs/)") -> tuple[dict[str, Any], str]:
    """Like :func:`read_yaml`, also returning where the config came from (the path as given, or
    ``NAME (shipped config)``) for error messages."""
    text, source = read_config_text(name_or_path)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping of settings; see {hint}")
    return apply_overrides(data, overrides), source


def read_yaml(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
              hint: str = "the shipped configs (leadlift/configs/)") -> dict[str, Any]:
    """Read a YAML mapping, given by file path or by shipped config NAME (``mae-cpu``; see
    :mod:`leadlift.configs`), and apply ``overrides`` (dotted keys → values, e.g.
    ``{"trainer.max_epochs": 2}``). Raises :class:`ConfigError` for an unknown name, a missing
    file or a malformed one."""
    return read_yaml_with_source(name_or_path, overrides, hint)[0]


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Set dotted keys (``"a.b.c"``) in a nested dict, creating levels as needed; returns ``data``."""
    for key, value in (overrides or {}).items():
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return data


def load_config(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> PretrainConfig:
    """Load and validate a pretraining config: a YAML file path or a shipped name (``mae-cpu``,
    ``mae_tiny.yaml``; :func:`leadlift.configs.available_configs`). ``overrides`` maps dotted keys
    to values (e.g. ``{"trainer.max_epochs": 2}``)."""
    data, source = read_yaml_with_source(name_or_path, overrides)
    return parse_config(data, source=source)


def config_to_dict(cfg: PretrainConfig) -> dict[str, Any]:
    """Plain, YAML/JSON-serialisable dict of a config (tuples as lists)."""
    return cfg.model_dump(mode="json")
