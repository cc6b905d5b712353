"""The Python API: load a pretrained model, embed recordings, reconstruct the 12-lead ECG.

Example::

    from leadlift import LeadLift
    from leadlift.io import read_ecg

    model = LeadLift.from_pretrained("mae-cpu")            # bundled name, folder or "org/name"
    ecg = read_ecg("ecgiddb/Person_01/rec_1.hea")          # lead I at 500 Hz, 20 s
    twelve = model.reconstruct(ecg)                        # ECG: 12 leads, 500 Hz, 20 s, mV
    emb = model.embed(ecg)                                 # emb.windows [4, D], emb.pooled [D]
    emb = model.embed(samples, fs=512, leads="I")          # plain arrays work too (mV)

What happens inside, for any duration and any sampling rate:

1. the input leads are resampled (polyphase) to the model's rate ``model.fs`` (100 Hz for the
   CPU models), then cleaned as in training if the model's config says so (the reconstructor:
   band-pass 0.5–45 Hz and baseline removal; the MAE: nothing);
2. the signal is cut into model windows (``model.window_s`` seconds): for reconstruction with
   overlap (the reconstructor's training hop, half a window for the MAE), for embeddings
   without; the last window is aligned to the end of the recording, so every sample is covered
   and nothing is padded; a recording shorter than one window is repeated periodically to fill it;
3. the model runs on batches of windows (per-lead z-scoring for the MAE, as in training);
4. reconstructions (mV: the MAE's z-scores through the checkpoint's amplitude calibration,
   the reconstructor's output directly) are stitched with Hann-weighted overlap-add and
   resampled back to the input rate; the measured input leads are returned as they came, and
   III/aVR/aVL/aVF are derived exactly when I and II are inputs; embeddings are kept per window
   and averaged into one pooled embedding.

Checkpoints are folders with ``model.safetensors`` + ``config.yaml``; the SHA256 of the weights
stored in the config is verified on load and nothing is ever unpickled. ``config["format"]``
selects the backend: ``leadlift-mae/*`` (aligned per-lead MAE, paper 1: embeddings and
reconstruction from any lead set) or ``leadlift-recon/*`` (pathology-aware reconstructor,
paper 2: reconstruction from its fixed input leads, e.g. I,II,V2 or I; no embeddings).
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from leadlift.ecg import DERIVED_LIMB_LEADS, ECG, STANDARD_LEADS, derive_limb_leads
from leadlift.errors import CorruptFileError, DataNotFoundError, DownloadError, InputError
from leadlift.preprocessing import resample

log = logging.getLogger("leadlift.api")

__all__ = [
    "DEFAULT_MODEL",
    "MIN_FS_HZ",
    "RECOMMENDED_RECONSTRUCTORS",
    "Embeddings",
    "LeadLift",
    "available_models",
    "bundled_weights_dir",
    "calibration_key",
    "recommended_model",
    "resolve_model",
]

DEFAULT_MODEL = "mae-cpu"
"""Name of the bundled model used when none is given (the aligned per-lead MAE, CPU size)."""

MIN_FS_HZ = 50.0
"""Lowest input sampling rate accepted (Hz): below it an ECG loses its QRS complexes, and such a
value is almost always a wrong ``fs``."""

HUB_FILES: tuple[str, ...] = ("config.yaml", "model.safetensors")
"""Files fetched for a Hugging Face-style repo id (``MODEL_CARD.md`` too when present)."""


# ======================================================================================= locating
def bundled_weights_dir() -> Path:
    """The folder inside the installed package that holds the bundled models (``weights/<name>/``)."""
    return Path(__file__).resolve().parent / "weights"


def available_models() -> list[str]:
    """Names of the bundled models present in this installation."""
    root = bundled_weights_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.yaml").exists() and (p / "model.safetensors").exists())


RECOMMENDED_RECONSTRUCTORS: dict[frozenset[str], str] = {
    frozenset({"I"}): "recon-i",
    frozenset({"I", "II", "V2"}): "recon-i-ii-v2",
}
"""Bundled pathology-aware reconstructors by input lead set (see their MODEL_CARD.md)."""


def recommended_model(leads: Sequence[str]) -> str:
    """The bundled model to reconstruct from ``leads``: the pathology-aware reconstructor trained
    for exactly that lead set when one is bundled, else the aligned MAE (any lead subset)."""
    name = RECOMMENDED_RECONSTRUCTORS.get(frozenset(leads))
    return name if name is not None and name in available_models() else DEFAULT_MODEL


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("LEADLIFT_CACHE", "")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("leadlift")) / "models"


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in {"1", "true", "yes"}
               for k in ("LEADLIFT_OFFLINE", "HF_HUB_OFFLINE"))


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return (len(parts) == 2 and all(parts) and not name.startswith((".", "~"))
            and all(c.isalnum() or c in "-_." for p in parts for c in p))


def _hub_download(repo_id: str, revision: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    """Fetch ``config.yaml`` + ``model.safetensors`` of a Hugging Face-style repo into the cache.

    A complete cached copy is used without touching the network. The endpoint is
    ``$HF_ENDPOINT`` (default ``https://huggingface.co``); files are downloaded to temporary
    names and renamed, so an interrupted download leaves no partial file under the real name.
    """
    folder = _cache_root(cache_dir) / "hub" / repo_id.replace("/", "--") / revision
    if all((folder / f).exists() for f in HUB_FILES):
        return folder
    if _offline():
        raise DataNotFoundError(
            f"model {repo_id!r} is not in the cache ({folder}) and offline mode is on "
            "(LEADLIFT_OFFLINE/HF_HUB_OFFLINE); download config.yaml and model.safetensors into a "
            "folder and pass that folder"
        )
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_files(repo_id, revision, endpoint, folder)
    except BaseException:
        if not any(folder.iterdir()):  # nothing fetched: leave no empty cache folder behind
            folder.rmdir()
        raise
    return folder


def _fetch_files(repo_id: str, revision: str, endpoint: str, folder: Path) -> None:
    for name in (*HUB_FILES, "MODEL_CARD.md"):
        url = f"{endpoint}/{repo_id}/resolve/{revision}/{name}"
        target = folder / name
        tmp = folder / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp, open(tmp, "wb") as fh:
                while chunk := resp.read(1 << 20):
                    fh.write(chunk)
            os.replace(tmp, target)
        except urllib.error.HTTPError as exc:
            if name not in HUB_FILES and exc.code == 404:
                continue
            if exc.code in (401, 403, 404):
                raise DataNotFoundError(
                    f"{repo_id}: {name} not found at {endpoint} (HTTP {exc.code}); check the repo id and "
                    "revision, or pass a local checkpoint folder"
                ) from None
            raise DownloadError(f"downloading {url} failed (HTTP {exc.code}); try again later or pass a "
                                "local checkpoint folder") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {endpoint} to fetch {repo_id!r} ({reason}); no network? Download "
                "config.yaml and model.safetensors into a folder and pass its path"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)


def resolve_model(name_or_path: str | os.PathLike[str], revision: str = "main",
                  cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Find the checkpoint folder for a bundled name, a local folder or a repo id.

    Order: an existing local path (folder, or a file inside one) → a bundled model name →
    a Hugging Face-style ``org/name`` repo id (downloaded into the cache when needed).

    Returns:
        ``(folder, source)`` with ``source`` one of ``"local"``, ``"bundled"``, ``"hub"``.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return (path.parent if path.is_file() else path), "local"
    bundled = bundled_weights_dir() / text
    if "/" not in text and (bundled / "config.yaml").exists():
        return bundled, "bundled"
    if _looks_like_repo_id(text):
        try:
            return _hub_download(text, revision, cache_dir), "hub"
        except (DataNotFoundError, DownloadError) as exc:  # maybe a mistyped local path: say both
            raise type(exc)(f"no local folder {text!r}, and as a repo id: {exc}") from None
    names = available_models()
    listing = f"bundled models: {', '.join(names)}" if names else "this installation bundles no weights"
    raise DataNotFoundError(
        f"model {text!r} not found: not a folder, not a bundled name ({listing}), not an org/name repo id; "
        "pass a checkpoint folder written by `leadlift pretrain`"
    )


# ======================================================================================= results
@dataclass(frozen=True)
class Embeddings:
    """Embeddings of one recording.

    Attributes:
        windows: ``[n_windows, D]`` one embedding per window (the mean over the input leads of
            each lead's CLS embedding: with an aligned MAE every lead maps into the same space).
        per_lead: ``[n_windows, n_leads, D]`` the CLS embedding of each input lead.
        pooled: ``[D]`` the mean of ``windows`` (one vector for the whole recording).
        starts_s: ``[n_windows]`` start time of each window in seconds from the recording start.
        window_s: window length in seconds (shorter recordings: the recording's length).
        leads: the input leads, in the order of ``per_lead``'s second axis.
        record_id: the recording's id, if any.
    """

    windows: np.ndarray
    per_lead: np.ndarray
    pooled: np.ndarray
    starts_s: np.ndarray
    window_s: float
    leads: tuple[str, ...]
    record_id: str | None = None
    model: str = field(default="", repr=False)

    @property
    def dim(self) -> int:
        """Embedding width D."""
        return int(self.pooled.shape[-1])

    def __len__(self) -> int:
        return int(self.windows.shape[0])


# ======================================================================================= backends
def calibration_key(leads: Sequence[str]) -> str:
    """Key of an input-lead set in a checkpoint's calibration table: names in standard order,
    comma-separated (``"I"``, ``"I,II,V2"``)."""
    order = {n: i for i, n in enumerate(STANDARD_LEADS)}
    return ",".join(sorted(leads, key=lambda n: order.get(n, 99)))


class _Backend:
    """What the pipeline needs from a model: windows in mV in, embeddings / mV windows out."""

    kind: str = ""
    name: str = ""
    fs: float
    window: int
    hop: int  # default hop of reconstruction windows (samples at ``fs``)
    leads: tuple[str, ...]
    derived_in_output: tuple[str, ...] = ()  # limb leads recomputed from the output's I and II

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        """The input leads this model uses from ``ecg`` (``explicit``: the caller chose them)."""
        raise NotImplementedError

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Model-specific cleaning of ``[L, n]`` mV at the model rate (default: none)."""
        return x

    def embed_windows(self, x: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        """``x`` ``[N, L, W]`` mV → embeddings ``[N, L, D]``."""
        raise InputError(f"model {self.name} ({self.kind}) does not produce per-lead embeddings; use an aligned "
                         f"MAE (e.g. {DEFAULT_MODEL!r}) for embed()")

    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        """``x`` ``[N, L, W]`` mV → ``[N, len(targets), W]`` mV."""
        raise NotImplementedError


class _MAEBackend(_Backend):
    """Aligned per-lead MAE (:class:`~leadlift.models.LeadBankMAE`): z-scored windows; mV via the
    checkpoint's amplitude calibration."""

    kind = "mae"

    def __init__(self, model: torch.nn.Module, cfg: dict[str, Any], name: str) -> None:
        from leadlift.models import LeadBankMAE

        if not isinstance(model, LeadBankMAE):
            raise InputError(f"{name}: a {type(model).__name__} checkpoint (12-channel baseline) cannot embed or "
                             "reconstruct single leads; use a per-lead MAE such as 'mae-cpu'")
        pre = cfg.get("preprocessing", {})
        self.model, self.cfg, self.name = model, cfg, name
        self.fs = float(pre.get("fs", model.fs))
        self.window = int(pre.get("window_samples", model.n_times))
        self.hop = max(1, self.window // 2)
        self.eps = float(pre.get("zscore_eps", 1e-6))
        self.leads = tuple(model.leads)
        if pre.get("normalization", "zscore") != "zscore":
            raise CorruptFileError(f"{name}: normalization {pre.get('normalization')!r} is not supported; "
                                   "expected zscore")

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        leads = ecg.leads
        missing = [n for n in leads if n not in self.leads]
        if missing:
            raise InputError(f"model {self.name} has no encoder for lead(s) {', '.join(missing)} (it has "
                             f"{', '.join(self.leads)}); pass other leads")
        if task == "reconstruct" and not self.cfg.get("calibration"):
            raise InputError(
                f"model {self.name} has no amplitude calibration, so it cannot output mV; run "
                "leadlift.release.calibrate_mae_checkpoint(folder, data_dir) on it first"
            )
        return ecg

    def _z(self, x: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        mean = x.mean(axis=-1, keepdims=True)
        std = x.std(axis=-1, keepdims=True)
        z = np.where(std < self.eps, 0.0, (x - mean) / (std + self.eps)).astype(np.float32)
        return torch.from_numpy(z), std[..., 0]

    @torch.inference_mode()
    def embed_windows(self, x: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        z, _ = self._z(x)
        return self.model.embed(z, leads=leads).numpy()

    def calibration(self, leads: tuple[str, ...], targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per-target ``(ratio, mean)``: target std ≈ ratio × mean std of the input leads (mV)."""
        cal = self.cfg["calibration"]
        cal_leads = list(cal["leads"])
        idx = [cal_leads.index(t) for t in targets]
        entry = cal.get("input_sets", {}).get(calibration_key(leads))
        if entry is not None:
            ratio = np.asarray(entry["ratio"], dtype=np.float64)
        else:  # an input set not calibrated explicitly: per-lead typical amplitudes
            std = np.asarray(cal["lead_std"], dtype=np.float64)
            ratio = std / std[[cal_leads.index(n) for n in leads]].mean()
            log.debug("%s: no calibration for inputs %s; using per-lead typical amplitudes", self.name, leads)
        mean = np.asarray(cal["mean"], dtype=np.float64)
        return ratio[idx], mean[idx]

    @torch.inference_mode()
    def reconstruct_windows(self, x: np.ndarray, leads: tuple[str, ...],
                            targets: tuple[str, ...]) -> np.ndarray:
        z, std = self._z(x)
        pred = self.model.cross_reconstruct(z, leads, targets).numpy().astype(np.float64)
        ratio, mean = self.calibration(leads, targets)
        ref = std.mean(axis=1)[:, None, None]  # [N, 1, 1] mean std of the input leads (mV)
        return pred * ref * ratio[None, :, None] + mean[None, :, None]


class _ReconBackend(_Backend):
    """Pathology-aware reconstructor (paper 2, :class:`leadlift.models.recon.ReconNet`): a fixed
    input-lead set, mV windows in, mV windows out; inputs band-passed and baseline-corrected at the
    model rate as in training (``config["preprocessing"]``)."""

    kind = "recon"

    def __init__(self, net: torch.nn.Module, plan: Any, cfg: dict[str, Any], name: str) -> None:
        pre = cfg["preprocessing"]
        self.net, self.plan, self.cfg, self.name = net, plan, cfg, name
        self.fs = float(pre["fs"])
        self.window = int(pre["window_samples"])
        self.hop = int(pre.get("hop_samples") or max(1, self.window // 2))
        self.leads = tuple(plan.inputs)
        # limb leads the plan derives from a learned I or II: recomputed from the final I and II
        # rows, so the output obeys Einthoven/Goldberger exactly
        self.derived_in_output = () if plan.exact else tuple(plan.derived)
        self.band = pre.get("bandpass_hz")
        self.order = int(pre.get("bandpass_order", 4))
        self.baseline_s = pre.get("baseline_window_s")

    def inputs(self, ecg: ECG, task: str, explicit: bool) -> ECG:
        have = set(ecg.leads)
        if (explicit and have != set(self.leads)) or not set(self.leads) <= have:
            raise InputError(
                f"model {self.name} reconstructs from {','.join(self.leads)} only, but the input has "
                f"{','.join(ecg.leads)}; pass those leads or use an aligned MAE such as {DEFAULT_MODEL!r}"
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
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        learned = self.net(xt).numpy().astype(np.float64)
        full = self.plan.assemble(x.astype(np.float64), learned)  # [N, 12, W]
        return full[:, [STANDARD_LEADS.index(t) for t in targets]]


def _load_reconstructor(folder: Path, cfg: dict[str, Any], name: str, verify: bool = True) -> _Backend:
    """Backend for a pathology-aware reconstructor checkpoint (paper 2, ``leadlift-recon/*``),
    loaded by :func:`leadlift.models.recon.load_reconstructor` (checksum verified, no pickle)."""
    from leadlift.models.recon import load_reconstructor

    if not verify:
        log.warning("%s: reconstructor checkpoints are always verified", name)
    net, plan, cfg = load_reconstructor(folder)
    return _ReconBackend(net, plan, cfg, name)


def _load_backend(folder: Path, name: str, verify: bool, require_checksum: bool) -> tuple[_Backend, dict[str, Any]]:
    cfg_path = folder / "config.yaml"
    if not cfg_path.exists() or not (folder / "model.safetensors").exists():
        raise DataNotFoundError(f"{folder} is not a leadlift checkpoint (needs model.safetensors and config.yaml); "
                                "pass the folder written by `leadlift pretrain`")
    try:
        cfg = yaml.safe_load(cfg_path.read_text())
    except yaml.YAMLError as exc:
        raise CorruptFileError(f"{cfg_path} is not valid YAML ({str(exc).splitlines()[0]}); "
                               "re-export the model") from None
    if not isinstance(cfg, dict):
        raise CorruptFileError(f"{cfg_path} is not a leadlift config; re-export the model")
    if require_checksum and not cfg.get("weights_sha256"):
        raise CorruptFileError(f"{cfg_path} has no weights_sha256, so the weights cannot be verified; "
                               "re-export the model")
    fmt = str(cfg.get("format", ""))
    if fmt.startswith("leadlift-mae"):
        from leadlift.inference import load_mae

        if not verify:
            log.warning("%s: checksum verification disabled", name)
        model, cfg = load_mae(folder, verify=verify)
        return _MAEBackend(model, cfg, name), cfg
    if fmt.startswith("leadlift-recon/"):
        backend = _load_reconstructor(folder, cfg, name, verify)
        return backend, backend.cfg  # type: ignore[attr-defined]
    raise CorruptFileError(f"{cfg_path}: unknown checkpoint format {fmt!r}; expected leadlift-mae/* or "
                           "leadlift-recon/*")


# ======================================================================================= windows
def _window_index(n: int, window: int, hop: int) -> np.ndarray:
    """Sample indices of the windows covering ``n`` samples: ``[n_windows, window]``.

    Starts 0, hop, 2·hop, ... with the last window aligned to the end (so nothing is padded);
    when ``n < window`` a single window repeats the signal periodically.
    """
    if n <= window:
        return (np.arange(window) % n)[None, :]
    starts = list(range(0, n - window + 1, hop))
    if starts[-1] != n - window:
        starts.append(n - window)
    return np.asarray(starts)[:, None] + np.arange(window)[None, :]


def _hann(window: int) -> np.ndarray:
    return np.hanning(window + 2)[1:-1]  # strictly positive weights


def _overlap_add(pred: np.ndarray, index: np.ndarray, n: int, weight: np.ndarray) -> np.ndarray:
    """Weighted average of window predictions ``[N, C, W]`` placed at ``index`` ``[N, W]`` → ``[C, n]``."""
    flat = index.reshape(-1)
    wsum = np.bincount(flat, weights=np.broadcast_to(weight, index.shape).reshape(-1), minlength=n)
    weighted = (pred * weight).transpose(1, 0, 2).reshape(pred.shape[1], -1)  # [C, N*W]
    acc = np.stack([np.bincount(flat, weights=row, minlength=n) for row in weighted])
    return acc / wsum


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.concatenate([x, np.repeat(x[..., -1:], n - x.shape[-1], axis=-1)], axis=-1)


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

    def __init__(self, backend: _Backend, config: dict[str, Any], name: str, path: Path) -> None:
        self._backend = backend
        self.config = config
        self.name = name
        self.path = path

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = DEFAULT_MODEL, *, verify: bool = True,
                        revision: str = "main", cache_dir: str | os.PathLike[str] | None = None) -> LeadLift:
        """Load a model by bundled name, local checkpoint folder, or Hugging Face-style repo id.

        Args:
            name_or_path: ``"mae-cpu"`` (see :func:`available_models`), a folder with
                ``model.safetensors`` + ``config.yaml`` (e.g. written by ``leadlift pretrain``),
                or ``"org/name"`` (fetched from ``$HF_ENDPOINT``/huggingface.co when not cached;
                set ``LEADLIFT_OFFLINE=1`` to forbid network access).
            verify: check the SHA256 of the weights against ``config.yaml`` (bundled and
                downloaded models must carry one).
            revision: branch/tag/commit of a repo id.
            cache_dir: where downloaded models go (default ``$LEADLIFT_CACHE`` or the user
                cache dir).
        Raises:
            DataNotFoundError: unknown name / missing folder / repo not found.
            DownloadError: the repo could not be fetched (no network).
            CorruptFileError: checksum mismatch, unknown format, weights not fitting the config.
        """
        folder, source = resolve_model(name_or_path, revision=revision, cache_dir=cache_dir)
        name = str(name_or_path)
        backend, cfg = _load_backend(folder, name, verify=verify, require_checksum=source != "local")
        return cls(backend, cfg, name, folder)

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

    def _model_rate(self, ecg: ECG) -> np.ndarray:
        """The input leads resampled to the model rate and cleaned: ``[L, n_model]`` float64 mV."""
        return self._backend.filter(np.asarray(resample(ecg.signal.astype(np.float64), ecg.fs, self.fs)))

    def _windows(self, ecg: ECG, hop: int) -> tuple[np.ndarray, np.ndarray, int]:
        sig = self._model_rate(ecg)
        n = sig.shape[-1]
        index = _window_index(n, self.window_samples, hop)
        return sig[:, index].transpose(1, 0, 2), index, n  # [N, L, W]

    def _hop(self, hop_s: float | None, default: int) -> int:
        if hop_s is None:
            return default
        hop = round(float(hop_s) * self.fs)
        if not 1 <= hop <= self.window_samples:
            raise InputError(f"hop_s={hop_s} must be between {1 / self.fs:g} s and the window ({self.window_s:g} s)")
        return hop

    @staticmethod
    def _run(fn: Any, x: np.ndarray, batch_size: int, *args: Any) -> np.ndarray:
        return np.concatenate([fn(x[s:s + batch_size], *args) for s in range(0, len(x), batch_size)])

    # ------------------------------------------------------------------ embeddings
    def embed(self, ecg: ECG | Any, fs: float | None = None, leads: Sequence[str] | str | None = None,
              units: str = "mV", *, hop_s: float | None = None, batch_size: int = 256) -> Embeddings:
        """Embed a recording: one embedding per window and a pooled one.

        Args:
            ecg: an :class:`ECG`, or an array ``[n_leads, n_samples]`` / ``[n_samples]`` in ``units``.
            fs: sampling rate in Hz (required for arrays; must match an ECG's own).
            leads: lead names of the array rows; for an ECG, the leads to use (default: all).
            units: unit of an array input (``"mV"``, ``"uV"``, ``"V"``).
            hop_s: step between windows in seconds (default: one window, no overlap).
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
        hop = self._hop(hop_s, self.window_samples)
        items, chunks = [], []
        for x in ecgs:
            ecg = self._backend.inputs(self._as_ecg(x, fs, leads, units), "embed", leads is not None)
            win, index, n = self._windows(ecg, hop)
            items.append((ecg, index, n))
            chunks.append(win)
        by_leads: dict[tuple[str, ...], list[int]] = {}
        for i, (ecg, _, _) in enumerate(items):
            by_leads.setdefault(ecg.leads, []).append(i)
        outputs: list[np.ndarray | None] = [None] * len(items)
        for lead_set, members in by_leads.items():
            stacked = np.concatenate([chunks[i] for i in members])
            emb = self._run(self._backend.embed_windows, stacked, batch_size, lead_set)
            pos = 0
            for i in members:
                k = len(chunks[i])
                outputs[i] = emb[pos:pos + k]
                pos += k
        result = []
        for (ecg, index, n), per_lead in zip(items, outputs, strict=True):
            assert per_lead is not None
            per_lead = per_lead.astype(np.float32)
            windows = per_lead.mean(axis=1)
            result.append(Embeddings(
                windows=windows, per_lead=per_lead, pooled=windows.mean(axis=0),
                starts_s=index[:, 0].astype(np.float64) / self.fs,
                window_s=min(n, self.window_samples) / self.fs, leads=ecg.leads,
                record_id=ecg.record_id, model=self.name,
            ))
        return result

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
            ``labels["reconstructed_from"]`` names the inputs, ``labels["model"]`` the model.
        """
        return self.reconstruct_batch([ecg], fs=fs, leads=leads, units=units, hop_s=hop_s,
                                      keep_inputs=keep_inputs, batch_size=batch_size)[0]

    def reconstruct_batch(self, ecgs: Sequence[ECG | Any], fs: float | None = None,
                          leads: Sequence[str] | str | None = None, units: str = "mV", *,
                          hop_s: float | None = None, keep_inputs: bool = True,
                          batch_size: int = 256) -> list[ECG]:
        """:meth:`reconstruct` for many recordings, their windows batched together."""
        hop = self._hop(hop_s, self._backend.hop)
        weight = _hann(self.window_samples)
        plans = []
        for x in ecgs:
            ecg = self._backend.inputs(self._as_ecg(x, fs, leads, units), "reconstruct", leads is not None)
            derive = "I" in ecg.leads and "II" in ecg.leads
            skip = set(ecg.leads) if keep_inputs else set()
            if derive:
                skip |= set(DERIVED_LIMB_LEADS)
            targets = tuple(n for n in STANDARD_LEADS if n not in skip)
            win, index, n = self._windows(ecg, hop)
            plans.append((ecg, targets, derive, win, index, n))
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[int]] = {}
        for i, p in enumerate(plans):
            groups.setdefault((p[0].leads, p[1]), []).append(i)
        preds: list[np.ndarray | None] = [None] * len(plans)
        for (lead_set, targets), members in groups.items():
            if not targets:
                for i in members:
                    preds[i] = np.zeros((len(plans[i][3]), 0, self.window_samples))
                continue
            stacked = np.concatenate([plans[i][3] for i in members])
            y = self._run(self._backend.reconstruct_windows, stacked, batch_size, lead_set, targets)
            pos = 0
            for i in members:
                k = len(plans[i][3])
                preds[i] = y[pos:pos + k]
                pos += k
        out = []
        for (ecg, targets, derive, _win, index, n), pred in zip(plans, preds, strict=True):
            assert pred is not None
            rows: dict[str, np.ndarray] = {}
            if targets:
                model_rate = _overlap_add(pred, index, n, weight)  # [T, n] at the model rate
                back = _fit_length(np.asarray(resample(model_rate, self.fs, ecg.fs)), ecg.n_samples)
                rows.update(zip(targets, back, strict=True))
            if keep_inputs:
                rows.update({name: ecg.signal[i].astype(np.float64) for i, name in enumerate(ecg.leads)})
            if derive:
                i_, ii = (ecg.signal[ecg.leads.index(n_)].astype(np.float64) for n_ in ("I", "II"))
                rows.update(derive_limb_leads(i_, ii))
            elif self._backend.derived_in_output:
                limb = derive_limb_leads(rows["I"], rows["II"])
                rows.update({n_: limb[n_] for n_ in self._backend.derived_in_output})
            signal = np.stack([rows[name] for name in STANDARD_LEADS]).astype(np.float32)
            labels = dict(ecg.labels, reconstructed_from=list(ecg.leads), model=self.name)
            out.append(ECG(signal, ecg.fs, STANDARD_LEADS, record_id=ecg.record_id, patient_id=ecg.patient_id,
                           labels=labels, check_units=False))
        return out
