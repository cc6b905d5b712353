"""The Python API: load a pretrained model, embed recordings, reconstruct the 12-lead ECG.

Example::

    from leadlift import LeadLift
    from leadlift.io import read_ecg

    model = LeadLift.from_pretrained("mae-cpu")            # bundled name, folder or Hub "org/name"
    ecg = read_ecg("ecgiddb/Person_01/rec_1.hea")          # lead I at 500 Hz, 20 s
    twelve = model.reconstruct(ecg)                        # ECG: 12 leads, 500 Hz, 20 s, mV
    emb = model.embed(ecg)                                 # emb.windows [4, D], emb.pooled [D]
    emb = model.embed(samples, fs=512, leads="I")          # plain arrays work too (mV)

What happens inside (:mod:`leadlift.inference.pipeline`, the same code that measures the model
cards): the input leads are resampled to the model rate and cleaned as in training, cut into
end-aligned model windows, run through the checkpoint's backend
(:mod:`leadlift.inference.backends`), stitched with Hann overlap-add and resampled back; measured
leads are returned as they came and III/aVR/aVL/aVF are derived exactly when I and II are inputs.

Checkpoints are folders with ``model.safetensors`` + a typed ``config.yaml``
(:class:`leadlift.inference.checkpoint.CheckpointConfig`); the SHA256 of the weights is verified
on load and nothing is ever unpickled. Its ``format`` selects the backend: ``leadlift-mae/*``
(aligned per-lead MAE, paper 1: embeddings and reconstruction from any lead set) or
``leadlift-recon/*`` (pathology-aware reconstructor, paper 2: reconstruction from its fixed input
leads, e.g. I,II,V2 or I; no embeddings).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadlift.conventions import MIN_FS_HZ
from leadlift.ecg import ECG
from leadlift.errors import InputError, LowQualityWarning
from leadlift.inference import hub
from leadlift.inference.backends import Backend, load_backend
from leadlift.inference.checkpoint import CheckpointConfig, calibration_key
from leadlift.inference.hub import (
    DEFAULT_MODEL,
    DEFAULT_RECONSTRUCTOR,
    RECOMMENDED_RECONSTRUCTORS,
    available_models,
    bundled_weights_dir,
    recommended_model,
    resolve_model,
)
from leadlift.inference.pipeline import Embeddings, embed_records, reconstruct_records
from leadlift.inference.quality import quality_warning

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_RECONSTRUCTOR",
    "MIN_FS_HZ",
    "RECOMMENDED_RECONSTRUCTORS",
    "Embeddings",
    "LeadLift",
    "LowQualityWarning",
    "available_models",
    "bundled_weights_dir",
    "calibration_key",
    "recommended_model",
    "resolve_model",
]



# ======================================================================================= the API
class LeadLift:
    """A pretrained leadlift model, ready to embed recordings and reconstruct 12-lead ECGs.

    Build it with :meth:`from_pretrained`. Inputs are :class:`~leadlift.ecg.ECG` records or plain
    arrays ``[n_leads, n_samples]`` (or ``[n_samples]`` for one lead) with ``fs`` and ``leads``.
    Both methods accept any duration (≥ 0.5 s) and any sampling rate ≥ :data:`MIN_FS_HZ`.

    Attributes:
        name: how the model was asked for (bundled name, path or repo id).
        path: the checkpoint folder.
        config: the checkpoint's ``config.yaml`` (architecture, preprocessing, calibration...).
    """

    def __init__(self, backend: Backend, name: str, path: Path) -> None:
        self._backend = backend
        self.name = name
        self.path = path

    @property
    def config(self) -> CheckpointConfig:
        """The checkpoint's typed ``config.yaml`` (model, preprocessing, calibration, evaluation)."""
        return self._backend.config

    @property
    def backend(self) -> Backend:
        """The inference backend (mV windows in, mV windows / embeddings out)."""
        return self._backend

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = DEFAULT_MODEL, *, verify: bool = True,
                        revision: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                        token: str | bool | None = None, local_files_only: bool = False,
                        device: str | Any = "cpu") -> LeadLift:
        """Load a model by bundled name, local checkpoint folder, or Hugging Face Hub repo id.

        Args:
            name_or_path: ``"mae-cpu"`` (see :func:`available_models`), a folder with
                ``model.safetensors`` + ``config.yaml`` (e.g. written by ``leadlift pretrain`` or
                :meth:`save_pretrained`), or ``"org/name"`` on the Hugging Face Hub (downloaded
                with ``huggingface_hub`` into its cache; ``HF_HUB_OFFLINE=1`` forbids network access).
            verify: check the SHA256 of the weights against ``config.yaml`` (bundled and
                downloaded models must carry one).
            revision: branch, tag or commit of a repo id (default: its default branch).
            cache_dir: huggingface_hub cache folder (default ``$HF_HUB_CACHE``).
            token: Hub token for private or gated repos (default: ``HF_TOKEN`` or the
                ``huggingface-cli login`` token).
            local_files_only: use the cache only, never the network.
            device: where the network runs (``"cpu"`` default, ``"cuda"``, ``"mps"``, ``"auto"``).
        Raises:
            DataNotFoundError: unknown name / missing folder / repo or revision not found / offline
                and not cached / a repo without a leadlift checkpoint.
            DownloadError: no network, or a gated/private repo without access.
            CorruptFileError: checksum mismatch, unknown format, weights not fitting the config.
        """
        folder, source = resolve_model(name_or_path, revision=revision, cache_dir=cache_dir, token=token,
                                       local_files_only=local_files_only)
        name = str(name_or_path)
        backend = load_backend(folder, name, verify=verify, require_checksum=source != "local")
        return cls(backend, name, folder).to(device)

    def save_pretrained(self, folder: str | os.PathLike[str], *, name: str | None = None) -> Path:
        """Write the model as a checkpoint folder that :meth:`from_pretrained` loads and the Hub
        shows: ``model.safetensors``, ``config.yaml`` (with its SHA256) and a ``README.md`` model
        card with the Hub's YAML header, each written atomically. Returns the folder.

        ``name`` is the model's name in the card (default: the folder name)."""
        return hub.save_pretrained(self._backend.network(), self.config, folder, name=name)

    def push_to_hub(self, repo_id: str, *, token: str | bool | None = None, private: bool | None = None,
                    revision: str | None = None, commit_message: str | None = None) -> str:
        """Upload the model to the Hugging Face Hub repo ``repo_id`` (created when missing): the
        folder :meth:`save_pretrained` writes, in one commit. Returns the commit URL.

        Args:
            token: token with write access (default: ``HF_TOKEN`` or the ``huggingface-cli login`` token).
            private: create the repo private.
            revision: branch to commit to (created when missing; default: the default branch).
            commit_message: default ``"Upload leadlift model"``.
        """
        return hub.push_to_hub(self._backend.network(), self.config, repo_id, token=token, private=private,
                               revision=revision, commit_message=commit_message)

    def to(self, device: str | Any) -> LeadLift:
        """Run the model on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"``);
        inputs and outputs stay NumPy/ECG in mV on the host. Returns ``self``."""
        self._backend.to(device)
        return self

    @property
    def device(self) -> Any:
        """The ``torch.device`` the model runs on."""
        return self._backend.device

    # ------------------------------------------------------------------ properties
    @property
    def kind(self) -> str:
        """``"mae"`` (aligned per-lead MAE) or ``"recon"`` (pathology-aware reconstructor)."""
        return self._backend.kind

    @property
    def fs(self) -> float:
        """Sampling rate the model works at (Hz); inputs are resampled to it and back."""
        return self._backend.fs

    @property
    def window_samples(self) -> int:
        """Samples per model window (at :attr:`fs`)."""
        return self._backend.window

    @property
    def window_s(self) -> float:
        """Model window length in seconds."""
        return self._backend.window / self._backend.fs

    @property
    def leads(self) -> tuple[str, ...]:
        """Leads the model has encoders for (MAE) or takes as input (reconstructor)."""
        return self._backend.leads

    def __repr__(self) -> str:
        return (f"LeadLift({self.name!r}: {self.kind}, {self.window_s:g}-s windows @ {self.fs:g} Hz, "
                f"leads {','.join(self.leads)})")

    # ------------------------------------------------------------------ inputs
    def _as_ecg(self, x: ECG | Any, fs: float | None, leads: Sequence[str] | str | None, units: str) -> ECG:
        if isinstance(x, ECG):
            if fs is not None and abs(float(fs) - x.fs) > 1e-6 * x.fs:
                raise InputError(f"fs={fs:g} Hz contradicts the ECG's own fs={x.fs:g} Hz; drop fs=")
            ecg = x.select(leads) if leads is not None else x
        else:
            if leads is None:
                raise InputError("leads= is required with an array input; name its rows, e.g. leads='I'")
            if fs is None:
                raise InputError("fs= is required with an array input; pass the sampling rate in Hz, e.g. fs=500")
            ecg = ECG.from_array(x, fs=fs, leads=leads, units=units)
        if ecg.fs < MIN_FS_HZ:
            raise InputError(f"fs={ecg.fs:g} Hz is too low for an ECG (need >= {MIN_FS_HZ:g} Hz); check fs/--fs")
        return ecg

    def _hop(self, hop_s: float | None, default: int) -> int:
        if hop_s is None:
            return default
        try:
            hop = round(float(hop_s) * self.fs)
        except (TypeError, ValueError, OverflowError):  # nan, inf, not a number
            raise InputError(f"hop_s={hop_s!r} is not a number of seconds; pass e.g. hop_s=2.5") from None
        if not 1 <= hop <= self.window_samples:
            raise InputError(f"hop_s={hop_s} must be between {1 / self.fs:g} s and the window ({self.window_s:g} s)")
        return hop

    # ------------------------------------------------------------------ embeddings
    def embed(self, ecg: ECG | Any, fs: float | None = None, leads: Sequence[str] | str | None = None,
              units: str = "mV", *, hop_s: float | None = None, batch_size: int = 256) -> Embeddings:
        """Embed a recording: one embedding per window and a pooled one.

        Args:
            ecg: an :class:`ECG`, or an array ``[n_leads, n_samples]`` / ``[n_samples]`` in ``units``.
            fs: sampling rate in Hz (required for arrays; must match an ECG's own).
            leads: lead names of the array rows; for an ECG, the leads to use (default: all).
            units: unit of an array input (``"mV"``, ``"uV"``, ``"V"``).
            hop_s: step between windows in seconds (default: the checkpoint's embedding hop, e.g.
                50 ms for ``mae-cpu``, whose pooled embedding is the mean over crops shifted in
                that step; one window, no overlap, for checkpoints without one).
            batch_size: windows per forward pass.
        Returns:
            :class:`Embeddings` (``windows [n_windows, D]``, ``per_lead [n_windows, n_leads, D]``,
            ``pooled [D]``, ``starts_s [n_windows]``).
        """
        return self.embed_batch([ecg], fs=fs, leads=leads, units=units, hop_s=hop_s, batch_size=batch_size)[0]

    def embed_batch(self, ecgs: Sequence[ECG | Any], fs: float | None = None,
                    leads: Sequence[str] | str | None = None, units: str = "mV", *,
                    hop_s: float | None = None, batch_size: int = 256) -> list[Embeddings]:
        """:meth:`embed` for many recordings, their windows batched together (faster).

        ``fs``/``leads``/``units`` apply to every array input. Returns one :class:`Embeddings`
        per recording, in order.
        """
        hop = self._hop(hop_s, self._backend.embed_hop)
        inputs = [self._as_ecg(x, fs, leads, units) for x in ecgs]
        return embed_records(self._backend, inputs, hop, batch_size=batch_size, explicit=leads is not None,
                             model_name=self.name)

    # ------------------------------------------------------------------ reconstruction
    def reconstruct(self, ecg: ECG | Any, fs: float | None = None, leads: Sequence[str] | str | None = None,
                    units: str = "mV", *, hop_s: float | None = None, keep_inputs: bool = True,
                    batch_size: int = 256) -> ECG:
        """Reconstruct all 12 leads from the input lead(s), at the input's sampling rate.

        Args:
            ecg: an :class:`ECG`, or an array ``[n_leads, n_samples]`` / ``[n_samples]`` in ``units``.
            fs: sampling rate in Hz (required for arrays; must match an ECG's own).
            leads: lead names of the array rows; for an ECG, which of its leads are the inputs
                (default: all of them). Reconstructing a 12-lead file from its lead I: ``leads="I"``.
            units: unit of an array input.
            hop_s: step between model windows in seconds (default: half a window).
            keep_inputs: return the input leads as measured (default) rather than as the model
                re-synthesises them.
            batch_size: windows per forward pass.
        Returns:
            An :class:`ECG` with the 12 standard leads in standard order, ``fs`` and length of the
            input, in mV. III, aVR, aVL and aVF are derived exactly when I and II are inputs.
            ``labels["reconstructed_from"]`` names the inputs, ``labels["model"]`` the model;
            ``measured``/``derived_exactly``/``synthesized`` mark the leads, and models with an
            uncertainty add ``spread`` (mV) and ``labels["interval"]``.
        Warns:
            LowQualityWarning: the model's measured fold-10 quality for these input leads is below
                the floor (mean Pearson r or variance ratio < 0.5 over the reconstructed leads), or
                was never measured and the model is not an any-subset model
                (:func:`leadlift.inference.quality.quality_warning`); the output still comes back,
                with the same line in ``labels["quality_warning"]`` (stored by every writer).
        """
        return self._reconstruct([ecg], fs, leads, units, hop_s, keep_inputs, batch_size)[0]

    def reconstruct_batch(self, ecgs: Sequence[ECG | Any], fs: float | None = None,
                          leads: Sequence[str] | str | None = None, units: str = "mV", *,
                          hop_s: float | None = None, keep_inputs: bool = True,
                          batch_size: int = 256) -> list[ECG]:
        """:meth:`reconstruct` for many recordings, their windows batched together (the same
        :class:`LowQualityWarning`, once per distinct message)."""
        return self._reconstruct(ecgs, fs, leads, units, hop_s, keep_inputs, batch_size)

    def _reconstruct(self, ecgs: Sequence[ECG | Any], fs: float | None, leads: Sequence[str] | str | None,
                     units: str, hop_s: float | None, keep_inputs: bool, batch_size: int) -> list[ECG]:
        hop = self._hop(hop_s, self._backend.hop)
        inputs = [self._as_ecg(x, fs, leads, units) for x in ecgs]
        outputs = reconstruct_records(self._backend, inputs, hop, keep_inputs=keep_inputs, batch_size=batch_size,
                                      explicit=leads is not None, model_name=self.name)
        return self._flag_quality(outputs)

    def _flag_quality(self, outputs: list[ECG]) -> list[ECG]:
        """Warn (once per message, pointing at the caller of reconstruct / reconstruct_batch) and
        label outputs whose input set falls under the quality floor (see :meth:`reconstruct`)."""
        cache: dict[tuple[str, ...], str | None] = {}
        shown: set[str] = set()
        flagged = []
        for rec in outputs:
            key = tuple(rec.labels.get("reconstructed_from", ()))
            if key not in cache:
                cache[key] = quality_warning(self.config, key, self.name)
            message = cache[key]
            if message is None:
                flagged.append(rec)
                continue
            if message not in shown:
                shown.add(message)
                warnings.warn(LowQualityWarning(message), stacklevel=4)  # -> _reconstruct -> public -> caller
            flagged.append(dataclasses.replace(rec, labels={**rec.labels, "quality_warning": message}))
        return flagged
