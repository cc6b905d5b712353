"""The inference checkpoint format: a folder with ``model.safetensors`` + ``config.yaml``.

``config.yaml`` is the checkpoint's contract and is typed here (:class:`CheckpointConfig`,
pydantic): the model spec, the preprocessing the input must get (a tagged union on
``normalization``: ``zscore`` for the aligned MAE, ``joint_zscore`` for the reconstructor), the
MAE's amplitude calibration, the fold-10 evaluation of the model card, and provenance (training
config, epochs, metrics, version). Unknown keys are rejected with a one-line message.

Writing (:func:`export_model`, :func:`update_config`) is atomic (temporary file + rename);
reading (:func:`load_checkpoint`) verifies the SHA256 of the weights and never unpickles.
This module imports neither Lightning nor any training code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadlift.atomic import atomic_path
from leadlift.ecg import STANDARD_LEADS, parse_leads
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.serialization import to_plain

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "Calibration",
    "CheckpointConfig",
    "Evaluation",
    "MAEPreprocessing",
    "ModelSpec",
    "ReconPreprocessing",
    "export_model",
    "file_sha256",
    "load_checkpoint",
    "parse_checkpoint_config",
    "read_config",
    "update_config",
]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelSpec(_Strict):
    """How to rebuild the network: the class name and its constructor arguments.

    For a reconstructor also the pathology encoder's arguments and the output scaling of
    :class:`~leadlift.models.recon.ReconNet`.
    """

    class_name: str = Field(alias="class")
    kwargs: dict[str, Any]
    encoder: dict[str, Any] | None = None
    output_scale: Literal["input_std", "none", "raw"] | None = None
    eps: float | None = None


class MAEPreprocessing(_Strict):
    """Input of an aligned per-lead MAE: windows at ``fs`` z-scored per lead and window."""

    normalization: Literal["zscore"] = "zscore"
    fs: float = Field(gt=0, description="Hz")
    window_samples: int = Field(gt=0)
    window_s: float | None = None
    leads: list[str] = Field(default_factory=lambda: list(STANDARD_LEADS))
    zscore_eps: float = 1e-6
    units: Literal["mV"] = "mV"
    embed_hop_samples: int | None = Field(None, gt=0, description="default step between embedding windows")

    @property
    def hop_samples(self) -> int:
        """Default hop of reconstruction windows: half a window."""
        return max(1, self.window_samples // 2)

    @property
    def embed_hop(self) -> int:
        """Default step between embedding windows (samples): the checkpoint's ``embed_hop_samples``
        (pooling over time-shifted crops), else one window."""
        return int(self.embed_hop_samples or self.window_samples)


class ReconPreprocessing(_Strict):
    """Input of a pathology-aware reconstructor: band-pass and baseline removal at ``fs``, windows
    of ``window_samples`` with hop ``hop_samples``, inputs z-scored jointly per window."""

    normalization: Literal["joint_zscore"] = "joint_zscore"
    fs: float = Field(gt=0, description="Hz")
    bandpass_hz: tuple[float | None, float | None] | None = (0.5, 45.0)
    bandpass_order: int = 4
    bandpass: str | None = None
    baseline_window_s: float | None = 0.6
    window_samples: int = Field(gt=0)
    hop_samples: int | None = None
    input_leads: list[str]
    normalization_note: str | None = None
    output_scale: Literal["input_std", "none", "raw"] = "input_std"
    zscore_eps: float = 1e-6
    units: Literal["mV"] = "mV"

    @model_validator(mode="after")
    def _hop(self) -> ReconPreprocessing:
        parse_leads(",".join(self.input_leads))
        if self.hop_samples is None:
            self.hop_samples = max(1, self.window_samples // 2)
        return self


Preprocessing = Annotated[MAEPreprocessing | ReconPreprocessing, Field(discriminator="normalization")]


class CalibrationSet(_Strict):
    ratio: list[float]


class Calibration(_Strict):
    """Amplitude calibration of an MAE (its output is z-scored): target lead k in mV is
    ``z_k × ratio_k × mean std of the input leads + mean_k`` (medians over training windows).

    ``pred_std`` (models calibrated on their own predictions) is the median std of the z-scored
    prediction of each lead from single input leads; input sets without their own ratios divide
    the typical amplitude ratio by it."""

    method: str
    data: str
    units: Literal["mV"] = "mV"
    leads: list[str]
    mean: list[float]
    lead_std: list[float]
    input_sets: dict[str, CalibrationSet]
    pred_std: list[float] | None = None

    def ratio_mean(self, leads: tuple[str, ...], targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per-target ``(ratio, mean)`` for input leads ``leads``: the input set's own ratios when
        calibrated explicitly, else typical per-lead amplitudes relative to the inputs'."""
        idx = [self.leads.index(t) for t in targets]
        entry = self.input_sets.get(calibration_key(leads))
        if entry is not None:
            ratio = np.asarray(entry.ratio, dtype=np.float64)
        else:
            std = np.asarray(self.lead_std, dtype=np.float64)
            ratio = std / std[[self.leads.index(n) for n in leads]].mean()
            if self.pred_std is not None:
                ratio = ratio / np.maximum(np.asarray(self.pred_std, dtype=np.float64), 1e-6)
        return ratio[idx], np.asarray(self.mean, dtype=np.float64)[idx]


class Uncertainty(_Strict):
    """Calibration of a reconstructor's predictive spread (fitted on validation data at training).

    The network's spread ``sd`` (mV) times the factor of the input subset and lead is the
    calibrated standard deviation; ``signal ± z · spread`` is the nominal ``level`` interval
    (90 %: z = 1.645). Subsets without their own factors use ``default_scale`` (fitted on random
    subsets)."""

    kind: Literal["gaussian_sd"] = "gaussian_sd"
    level: float = Field(gt=0, lt=1)
    z: float = Field(gt=0)
    fitted_on: str
    scale: dict[str, dict[str, float]]
    default_scale: dict[str, float]

    def factors(self, key: str, leads: Sequence[str]) -> np.ndarray:
        """Per-lead factors ``[len(leads)]`` for the input subset ``key`` (:func:`calibration_key`)."""
        own = self.scale.get(key, {})
        return np.array([own.get(n, self.default_scale.get(n, 1.0)) for n in leads], dtype=np.float64)


class Evaluation(_Strict):
    """The model card's measured numbers: per input set, per-lead metrics on the test split,
    with the command that produced them."""

    model_config = ConfigDict(extra="allow")

    split: str
    train_folds: list[int] | None = None
    protocol: str
    command: str
    seconds: float | None = None
    date: str | None = None
    inputs: dict[str, dict[str, Any]]


class CheckpointConfig(_Strict):
    """The typed ``config.yaml`` of a leadlift checkpoint."""

    format: Literal["leadlift-mae/1", "leadlift-recon/1"]
    method: str | None = None
    model: ModelSpec
    preprocessing: Preprocessing
    leads: dict[str, Any] | None = None
    calibration: Calibration | None = None
    uncertainty: Uncertainty | None = None
    evaluation: Evaluation | None = None
    # provenance
    training: dict[str, Any] = Field(default_factory=dict)
    epoch: int | None = None
    global_step: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    epoch_seconds: list[float] | None = None
    n_parameters: int | None = None
    leadlift_version: str | None = None
    weights_sha256: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_normalization(cls, data: Any) -> Any:
        """The preprocessing's tag follows from the format when a config leaves it out."""
        if isinstance(data, dict) and isinstance(data.get("preprocessing"), dict):
            pre = data["preprocessing"]
            if "normalization" not in pre:
                tag = "joint_zscore" if str(data.get("format", "")).startswith("leadlift-recon") else "zscore"
                data = {**data, "preprocessing": {**pre, "normalization": tag}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> CheckpointConfig:
        want = MAEPreprocessing if self.kind == "mae" else ReconPreprocessing
        if not isinstance(self.preprocessing, want):
            raise ValueError(f"format {self.format} needs {want.__name__} (normalization "
                             f"{want.model_fields['normalization'].default!r})")
        return self

    @property
    def kind(self) -> Literal["mae", "recon"]:
        """``"mae"`` (aligned per-lead MAE, paper 1) or ``"recon"`` (reconstructor, paper 2)."""
        return "mae" if self.format.startswith("leadlift-mae") else "recon"

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-safe dict, keys in file order, ``weights_sha256`` last, unset fields left out."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        sha = data.pop("weights_sha256", None)
        if sha is not None:
            data["weights_sha256"] = sha
        return data


def calibration_key(leads: Any) -> str:
    """Key of an input-lead set in calibration and evaluation tables: names in standard order,
    comma-separated (``"I"``, ``"I,II,V2"``)."""
    order = {n: i for i, n in enumerate(STANDARD_LEADS)}
    return ",".join(sorted(leads, key=lambda n: order.get(n, 99)))


def parse_checkpoint_config(data: Any, source: str = CONFIG_FILE) -> CheckpointConfig:
    """Validate a ``config.yaml`` mapping; a bad file gets one line naming the first problem."""
    if not isinstance(data, dict):
        raise CorruptFileError(f"{source} is not a leadlift checkpoint config; re-export the model")
    fmt = str(data.get("format", ""))
    if not fmt.startswith(("leadlift-mae", "leadlift-recon")):
        raise CorruptFileError(f"{source}: unknown checkpoint format {fmt!r}; expected leadlift-mae/* or "
                               "leadlift-recon/*")
    try:
        return CheckpointConfig.model_validate(to_plain(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CorruptFileError(f"{source}: {where}: {err['msg']} ({exc.error_count()} problem(s)); "
                               "re-export the checkpoint") from None


def file_sha256(path: str | Path) -> str:
    """SHA256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_config(cfg: CheckpointConfig, path: Path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


STAGING = ".export-staging"
"""Folder inside a checkpoint where an export is assembled before it is published."""
_COMPLETE = "COMPLETE"


def _publish_staged(folder: Path) -> None:
    """Finish a staged export: move its files over the published ones, then remove the stage.

    Idempotent, so an export killed between its renames is completed by the next export or load
    instead of leaving new weights beside the old checksum. An incomplete stage (killed while
    writing) is discarded; the published checkpoint is then untouched.
    """
    stage = folder / STAGING
    if not stage.is_dir():
        return
    if (stage / _COMPLETE).exists():
        for name in (WEIGHTS_FILE, CONFIG_FILE):  # weights first: the config names their checksum
            if (stage / name).exists():
                os.replace(stage / name, folder / name)
    shutil.rmtree(stage, ignore_errors=True)


def export_model(model: Any, config: CheckpointConfig | dict[str, Any], folder: str | Path) -> Path:
    """Write ``model.safetensors`` + ``config.yaml`` into ``folder``.

    ``config`` is validated as a :class:`CheckpointConfig` before anything is written; the SHA256
    of the weights is stored as ``weights_sha256`` so loading can verify them. Both files are first
    written to a staging folder (fsynced, then marked complete) and then renamed into place; a kill
    at any moment leaves either the previous checkpoint or a complete stage that the next export
    or load publishes, never new weights with an old checksum.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = config if isinstance(config, CheckpointConfig) else parse_checkpoint_config(config, "export config")
    _publish_staged(folder)
    stage = folder / STAGING
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(stage / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
        digest = file_sha256(tmp)
    _write_config(cfg.model_copy(update={"weights_sha256": digest}), stage / CONFIG_FILE)
    with atomic_path(stage / _COMPLETE) as tmp:
        tmp.write_text(digest + "\n")
    _publish_staged(folder)
    return folder


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    return folder.parent if folder.is_file() else folder


def read_config(folder: str | Path) -> CheckpointConfig:
    """The typed ``config.yaml`` of a checkpoint folder (or of the folder of a file in it)."""
    path = _folder(folder) / CONFIG_FILE
    if not path.exists():
        raise DataNotFoundError(f"{path} not found; pass a checkpoint folder (model.safetensors + config.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CorruptFileError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); re-export the model") from None
    return parse_checkpoint_config(data, str(path))


def update_config(folder: str | Path, updates: dict[str, Any]) -> CheckpointConfig:
    """Set top-level fields of a checkpoint's ``config.yaml`` (validated, written atomically).

    ``weights_sha256`` cannot be changed this way (the weights are not touched).
    """
    if "weights_sha256" in updates:
        raise InputError("update_config cannot change weights_sha256; re-export the model instead")
    cfg = read_config(folder)
    data = cfg.to_dict()
    data.update(to_plain(updates))
    new = parse_checkpoint_config(data, str(_folder(folder) / CONFIG_FILE))
    _write_config(new, _folder(folder) / CONFIG_FILE)
    return new


def load_checkpoint(folder: str | Path, verify: bool = True,
                    require_checksum: bool = False) -> tuple[dict[str, Any], CheckpointConfig]:
    """Read an exported checkpoint: ``(state_dict, typed config)``.

    Args:
        folder: the checkpoint folder (or a file inside it).
        verify: check the SHA256 of the weights against ``config.yaml``.
        require_checksum: refuse a config without ``weights_sha256`` (bundled and downloaded models).
    """
    from safetensors.torch import load_file

    folder = _folder(folder)
    if (folder / STAGING).is_dir():  # an export was interrupted between its renames: finish it
        with contextlib.suppress(OSError):  # (a read-only install simply keeps what is published)
            _publish_staged(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.exists() or not (folder / CONFIG_FILE).exists():
        raise DataNotFoundError(f"{folder} is not a leadlift checkpoint (needs {WEIGHTS_FILE} and {CONFIG_FILE}); "
                                "pass the folder written by `leadlift pretrain` or `leadlift train-recon`")
    cfg = read_config(folder)
    if require_checksum and not cfg.weights_sha256:
        raise CorruptFileError(f"{folder / CONFIG_FILE} has no weights_sha256, so the weights cannot be verified; "
                               "re-export the model")
    if verify and cfg.weights_sha256 and file_sha256(weights) != cfg.weights_sha256:
        raise CorruptFileError(f"{weights} does not match the checksum in config.yaml; the file is "
                               "damaged — re-download or re-export it")
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CorruptFileError(f"{weights} is not a readable safetensors file ({exc}); re-export it") from None
    return state, cfg
