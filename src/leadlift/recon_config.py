"""Configuration of the pathology-aware 12-lead reconstruction (paper 2) and its benchmark.

A :class:`ReconConfig` is one YAML file; the shipped ones live in ``src/leadlift/configs/`` and
are addressed by name (``recon-paper``: the paper's sizes and epochs; ``recon-cpu``: the CPU
default, identical to ``ReconConfig()``; ``recon-tiny``: smoke tests). Unknown keys are
rejected and every error is one line (:class:`~leadlift.errors.ConfigError`). The preprocessing
part (:meth:`ReconConfig.preprocessing`) is written beside every exported reconstructor, so a
checkpoint alone says what its input must look like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from leadlift.config import StrictModel, format_validation_errors, read_yaml_with_source
from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS, PTBXL_VAL_FOLDS
from leadlift.ecg import parse_leads
from leadlift.errors import ConfigError

__all__ = [
    "DEFAULT_RECON_CONFIG",
    "METHODS",
    "AnySubsetConfig",
    "AugmentConfig",
    "BenchmarkConfig",
    "EncoderConfig",
    "FusionConfig",
    "ReconConfig",
    "ReconDataConfig",
    "ReconTrainConfig",
    "ReconTrainerConfig",
    "SupConConfig",
    "UNetConfig",
    "load_recon_config",
    "parse_recon_config",
]

DEFAULT_RECON_CONFIG = "recon_cpu"
"""Shipped config loaded by :func:`load_recon_config` when no config is given (the CPU default)."""

METHODS: tuple[str, ...] = ("zero", "linear", "fir", "unet", "fusion_noemb", "fusion_random", "fusion")
"""Methods the benchmark trains: ``zero`` (predicts 0 mV: the floor every method must beat),
``linear`` (instantaneous per-target-lead least squares), ``fir`` (FIR least squares over a
±L neighbourhood of the inputs, L chosen on validation: the fair classical baseline), ``unet``
(1-D U-Net), ``fusion_noemb`` (the fusion reconstructor without the embedding view, the paper's
ablation), ``fusion_random`` (the fusion reconstructor with a randomly initialised, frozen encoder:
the control that isolates what SupCon training adds) and ``fusion`` (pathology-aware fusion with
the SupCon encoder, the method). Checkpoints given on the command line are scored beside them."""

ZERO_SHOT_SOURCES: tuple[str, ...] = ("ptbdb", "cinc2021-ptb", "brugada")
"""Cross-dataset sets the benchmark can score zero-shot: PTB Diagnostic (``ptbdb/``), the PTB
records of the CinC-2021 copy (``challenge-2021/ptb/``) and Brugada-HUCA (``brugada-huca/``)."""


class ReconDataConfig(StrictModel):
    """Preprocessing, windowing, QC, leads, labels and split (all saved with the checkpoint)."""

    dataset: Literal["ptbxl"] = "ptbxl"
    fs: float = Field(100.0, gt=0, description="sampling rate in Hz (PTB-XL 100 Hz, PTB Diagnostic resampled)")
    bandpass_low_hz: float = Field(0.5, gt=0, description="Butterworth high-pass edge in Hz")
    bandpass_high_hz: float = Field(45.0, gt=0, description="Butterworth low-pass edge in Hz")
    bandpass_order: int = Field(4, gt=0, description="Butterworth order per edge (zero-phase, sosfiltfilt)")
    baseline_window_s: float | None = Field(0.6, gt=0, description="running-median baseline window in s; "
                                                                   "null = no baseline removal")
    window: int = Field(256, gt=0, description="window length in samples (2.56 s at 100 Hz)")
    hop: int = Field(64, gt=0, description="step between window starts in samples")
    qc: bool = Field(True, description="reject windows with more than qc_max_bad_leads unusual leads")
    qc_low_pct: float = Field(0.1, ge=0, lt=100)
    qc_high_pct: float = Field(99.9, gt=0, le=100)
    qc_max_bad_leads: int = Field(3, ge=0)
    inputs: list[str] = Field(default_factory=lambda: ["I", "II", "V2"], description="input leads")
    zscore_eps: float = Field(1e-6, gt=0, description="floor of the joint input std (mV)")
    labels: Literal["superclass", "scp_top"] = Field(
        "superclass", description="SupCon labels: PTB-XL diagnostic superclass set (multi-label) or the "
                                  "single most likely SCP statement (the paper's code)")
    split: Literal["ptbxl_folds", "patient_70_15_15"] = Field(
        "ptbxl_folds", description="ptbxl_folds: strat_fold train/val/test; patient_70_15_15: patient-wise "
                                   "70/15/15 of segments (the paper's code)")
    max_records_per_part: int | None = Field(
        None, gt=0, description="smoke tests only: keep the first N records of each part (train, val, test)")
    train_folds: list[int] = Field(default_factory=lambda: list(PTBXL_TRAIN_FOLDS))
    val_folds: list[int] = Field(default_factory=lambda: list(PTBXL_VAL_FOLDS))
    test_folds: list[int] = Field(default_factory=lambda: list(PTBXL_TEST_FOLDS))

    @property
    def input_leads(self) -> tuple[str, ...]:
        return parse_leads(",".join(self.inputs))

    @model_validator(mode="after")
    def _check(self) -> ReconDataConfig:
        self.input_leads  # noqa: B018 - validates the names
        if self.bandpass_low_hz >= self.bandpass_high_hz:
            raise ValueError("bandpass_low_hz must be below bandpass_high_hz")
        if self.qc_low_pct >= self.qc_high_pct:
            raise ValueError("qc_low_pct must be below qc_high_pct")
        parts = [set(self.train_folds), set(self.val_folds), set(self.test_folds)]
        if parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]:
            raise ValueError("train_folds, val_folds and test_folds must not share a fold")
        if not self.train_folds or not self.val_folds or not self.test_folds:
            raise ValueError("train_folds, val_folds and test_folds must each name at least one fold")
        return self


class EncoderConfig(StrictModel):
    """1-D ResNet encoder of the pathology-aware view (stem conv → residual blocks → mean pool)."""

    stem_channels: int = Field(16, gt=0, description="paper: 32")
    stem_kernel: int = Field(7, gt=0)
    widths: list[int] = Field(default_factory=lambda: [32, 64, 64, 128],
                              description="output channels of the residual blocks; the last is the "
                                          "embedding size (128). Paper: 64, 64, 128, 128")
    strides: list[int] = Field(default_factory=lambda: [2, 2, 2, 1],
                               description="stride of each block (paper: 1, 1, 1, 1)")
    block_kernel: int = Field(3, gt=0)
    proj_dim: int = Field(128, gt=0, description="projection-head output (SupCon space)")

    @model_validator(mode="after")
    def _check(self) -> EncoderConfig:
        if len(self.widths) != len(self.strides) or not self.widths:
            raise ValueError("encoder.widths and encoder.strides need one entry per residual block")
        if self.stem_kernel % 2 == 0 or self.block_kernel % 2 == 0:
            raise ValueError("encoder kernel sizes must be odd")
        return self


class AugmentConfig(StrictModel):
    """Augmentations of the two SupCon views (amplitudes in mV, shifts in samples)."""

    noise_std: float = Field(0.01, ge=0, description="Gaussian noise std in mV")
    scale_std: float = Field(0.08, ge=0, description="per-lead amplitude factor ~ N(1, scale_std)")
    shift_max: int = Field(8, ge=0, description="circular shift, uniform in [-shift_max, shift_max] samples")
    lead_drop_p: float = Field(0.1, ge=0, lt=1, description="probability of zeroing each lead "
                                                              "(at least one lead is kept)")
    beat_aligned: bool = Field(True, description="view 1 is rolled so that a random R peak sits at the centre")


class SupConConfig(StrictModel):
    """Stage A: supervised contrastive training of the encoder."""

    temperature: float = Field(0.07, gt=0)
    classes_per_batch: int = Field(16, gt=0)
    samples_per_class: int = Field(4, gt=0)
    lr: float = Field(1e-3, gt=0, description="paper: 3e-4")
    weight_decay: float = Field(1e-5, ge=0)
    max_epochs: int = Field(10, gt=0, description="paper: 60")
    steps_per_epoch: int | None = Field(30, gt=0, description="batches per epoch; null = n_train_windows / "
                                                                "batch size (the paper)")
    grad_clip: float | None = 1.0
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


class FusionConfig(StrictModel):
    """Stage B: multi-view fusion reconstructor (and its no-embedding ablation)."""

    branch_dim: int = Field(16, gt=0, description="channels of each view's projection (paper: 128)")
    hidden: int = Field(16, gt=0, description="channels of the decoder's hidden layer (paper: 64)")
    kernel_size: int = Field(3, gt=0, description="kernel of the view, fusion and decoder convs (odd)")
    per_lead: bool = Field(True, description="one independent decoder per target lead (grouped convs)")

    @model_validator(mode="after")
    def _check(self) -> FusionConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError("fusion.kernel_size must be odd")
        return self


class UNetConfig(StrictModel):
    """1-D U-Net baseline mapping the input leads to all learned leads at once."""

    levels: int = Field(4, gt=0)
    base_channels: int = Field(8, gt=0)
    kernel_size: int = Field(9, gt=0)

    @model_validator(mode="after")
    def _check(self) -> UNetConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError("unet.kernel_size must be odd")
        return self


class ReconTrainConfig(StrictModel):
    """Training of every reconstructor (fusion, ablation, U-Net): loss in mV, AdamW,
    ReduceLROnPlateau and early stopping on the validation MSE."""

    lr: float = Field(3e-3, gt=0, description="paper: 1e-4")
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(64, gt=0)
    max_epochs: int = Field(10, gt=0, description="paper: 60")
    early_stop_patience: int = Field(4, gt=0, description="epochs without a better val MSE before stopping "
                                                            "(paper: 12)")
    plateau_patience: int = Field(2, ge=0, description="paper: 5")
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    min_lr: float = Field(1e-6, ge=0)
    mse_weight: float = Field(0.8, ge=0)
    l1_weight: float = Field(0.2, ge=0)
    grad_clip: float | None = 1.0
    limit_train_batches: int | None = Field(50, gt=0, description="cap on training batches per epoch "
                                                                   "(a random subset each epoch); null = all")
    val_hop: int | None = Field(256, gt=0, description="hop of the validation windows used for early stopping "
                                                         "(a multiple of data.hop; null = data.hop)")
    output_scale: Literal["input_std", "none"] = Field(
        "input_std", description="input_std: the network works on jointly z-scored inputs and its output is "
                                 "multiplied by the inputs' joint std (mV), so a scaled input gives a scaled "
                                 "output; none: the output is taken as mV directly")


class ReconTrainerConfig(StrictModel):
    """Where and how the SupCon encoder and the reconstructors train (Lightning's device choice).

    Batches are split across DDP processes by the data module (every rank takes every
    ``world_size``-th batch of the same seeded sequence), so ``batch_size`` is per process.
    """

    accelerator: str = Field("auto", description="auto, cpu, gpu/cuda, mps")
    devices: int | str = Field(1, description="devices per node (e.g. 1, 4, auto)")
    num_nodes: int = Field(1, gt=0)
    strategy: str = Field("auto", description="auto, ddp, ...")
    precision: str = Field("32-true", description="32-true, or auto: bf16-mixed on GPUs that support it")
    compile: bool = Field(False, description="torch.compile the network's training forward")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes per rank")


class AnySubsetConfig(StrictModel):
    """The any-subset reconstructor (``--method anysubset``): one network for every input subset,
    with a per-sample spread (:class:`leadlift.models.anysubset.AnySubsetNet`)."""

    levels: int = Field(4, gt=0, description="U-Net resolutions of the waveform view")
    base_channels: int = Field(16, gt=0, description="U-Net channels at full resolution (doubling per level)")
    kernel_size: int = Field(9, gt=0, description="U-Net kernel (odd)")
    feat_dim: int = Field(32, gt=0, description="channels of the waveform features and the projected embedding")
    head_hidden: int = Field(16, gt=0, description="hidden channels of each per-lead decoder")
    embedding: bool = Field(True, description="fuse the SupCon encoder's embedding (false: no-embedding ablation)")
    prior_half_taps_s: float = Field(0.0, ge=0, description="0: no prior; else the half-length (s) of the any-subset "
                                                            "Wiener (FIR least-squares) prior whose residual the "
                                                            "network learns")
    prior_ridge: float = Field(1e-3, ge=0, description="relative ridge of the Wiener prior's per-subset systems")
    p_named: float = Field(0.7, ge=0, le=1, description="share of training windows given a named subset "
                                                        "(the rest get random subsets)")
    subsets: list[str] | None = Field(None, description="named training subsets (null: "
                                                        "leadlift.models.anysubset.TRAINING_SUBSETS)")
    max_random_leads: int = Field(6, gt=0, lt=12, description="random subsets hold 1..max_random_leads leads")
    core_weight: float = Field(1.0, gt=0, description="draw weight of each core subset (CORE_SUBSETS) relative to the "
                                                      "other named subsets")
    nll_weight: float = Field(1.0, ge=0, description="weight of the spread head's Gaussian NLL (z units)")
    steps: int = Field(4000, gt=0, description="training steps (cosine learning-rate decay over them)")
    val_every: int = Field(500, gt=0, description="steps between validations (best weights kept)")
    interval: float = Field(0.9, gt=0, lt=1, description="nominal level of the calibrated interval")

    @model_validator(mode="after")
    def _check(self) -> AnySubsetConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError("anysubset.kernel_size must be odd")
        for s in self.subsets or []:
            leads = parse_leads(s)
            if len(leads) >= 12:
                raise ValueError(f"anysubset.subsets: {s!r} holds every lead; nothing to reconstruct")
        return self


class BenchmarkConfig(StrictModel):
    """What ``leadlift reconstruct-benchmark`` runs besides the main split."""

    methods: list[Literal["zero", "linear", "fir", "unet", "fusion_noemb", "fusion_random", "fusion"]] = Field(
        default_factory=lambda: list(METHODS))
    linear_intercept: bool = True
    fir_half_taps_s: list[float] = Field(
        default_factory=lambda: [0.1, 0.2, 0.4],
        description="candidate FIR half-lengths in seconds (±L); the one with the lowest validation MSE is kept")
    fir_ridge: float = Field(1e-6, ge=0, description="FIR ridge, relative to the mean diagonal of XᵀX")
    n_boot: int = Field(1000, ge=0, description="paired bootstrap resamples of the test records (0: no CIs)")
    cv_folds: int = Field(0, ge=0, description="patient-grouped CV folds on train+val (0 = off: the paired "
                                               "bootstrap over test records gives the uncertainty)")
    cv_seed: int = 0
    cv_retrain_encoder: bool = Field(
        True, description="train a new SupCon encoder in every CV fold, so fold models are separate models "
                          "(false reuses the main-split encoder: fold spread then measures reconstructor "
                          "training noise only)")
    cv_max_epochs: int | None = Field(4, gt=0, description="max epochs of the CV-fold reconstructors "
                                                            "(null: train.max_epochs)")
    cv_encoder_epochs: int | None = Field(None, gt=0, description="SupCon epochs in CV folds "
                                                                   "(default: supcon.max_epochs)")
    zero_shot: list[Literal["ptbdb", "cinc2021-ptb", "brugada"]] = Field(
        default_factory=lambda: list(ZERO_SHOT_SOURCES))
    n_figures: int = Field(3, ge=0, description="test ECGs drawn as true-vs-reconstructed overlays")
    export_models: bool = True


class ReconConfig(StrictModel):
    """A whole reconstruction experiment (one YAML file). The defaults are the CPU default."""

    name: str = "recon-cpu"
    seed: int = 0
    data: ReconDataConfig = Field(default_factory=ReconDataConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    supcon: SupConConfig = Field(default_factory=SupConConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    unet: UNetConfig = Field(default_factory=UNetConfig)
    train: ReconTrainConfig = Field(default_factory=ReconTrainConfig)
    trainer: ReconTrainerConfig = Field(default_factory=ReconTrainerConfig)
    benchmark: BenchmarkConfig = Field(default_factory=BenchmarkConfig)
    anysubset: AnySubsetConfig = Field(default_factory=AnySubsetConfig)

    @model_validator(mode="after")
    def _check(self) -> ReconConfig:
        if self.train.val_hop is not None and self.train.val_hop % self.data.hop:
            raise ValueError(f"train.val_hop={self.train.val_hop} must be a multiple of data.hop={self.data.hop}")
        if self.data.window % 2 ** (self.unet.levels - 1):
            raise ValueError(f"data.window={self.data.window} must be a multiple of 2^(unet.levels-1)"
                             f"={2 ** (self.unet.levels - 1)}")
        return self

    def preprocessing(self) -> dict[str, Any]:
        """What inference must do to a signal before the model sees it (saved with checkpoints)."""
        d = self.data
        return {
            "fs": d.fs,
            "bandpass_hz": [d.bandpass_low_hz, d.bandpass_high_hz],
            "bandpass_order": d.bandpass_order,
            "bandpass": "Butterworth, zero-phase (sosfiltfilt), applied before baseline removal",
            "baseline_window_s": d.baseline_window_s,
            "window_samples": d.window,
            "hop_samples": d.hop,
            "input_leads": list(d.input_leads),
            "normalization": "joint_zscore",
            "normalization_note": "inputs z-scored jointly per window (one mean and std over all input "
                                  "leads); targets and outputs in mV",
            "output_scale": self.train.output_scale,
            "zscore_eps": d.zscore_eps,
            "units": "mV",
        }


def parse_recon_config(data: dict[str, Any], source: str = "config") -> ReconConfig:
    """Validate a config dict (raises :class:`ConfigError` with a one-line message)."""
    try:
        return ReconConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid: {format_validation_errors(exc)}; "
                          "fix the YAML (see leadlift/configs/recon_*.yaml)") from None


def load_recon_config(name_or_path: str | Path | None = None,
                      overrides: dict[str, Any] | None = None) -> ReconConfig:
    """Load a reconstruction config: a YAML file path or a shipped name (``recon-cpu``,
    ``recon_paper.yaml``; :func:`leadlift.configs.available_configs`). ``None`` is the shipped CPU
    default ``recon_cpu`` (identical to ``ReconConfig()``).

    ``overrides`` maps dotted keys to values, e.g. ``{"data.inputs": ["I"], "train.max_epochs": 2}``.
    """
    data, source = read_yaml_with_source(DEFAULT_RECON_CONFIG if name_or_path is None else name_or_path, overrides,
                                         hint="leadlift/configs/recon_*.yaml")
    return parse_recon_config(data, source=source)
