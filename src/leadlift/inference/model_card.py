"""Model cards: ``MODEL_CARD.md`` of a checkpoint (and the ``README.md`` of a Hub repo), rendered
from its ``config.yaml`` and weights only.

A card starts with a Hugging Face metadata header (``---`` YAML block: licence, library, tags,
dataset, measured metrics as ``model-index``), then states the architecture, the training-set
size, the preprocessing, intended use and limits, the fold-10 numbers with the command that
produced them, the licences (Apache-2.0 weights and code; PTB-XL is CC BY 4.0) and how to cite.
Every number is read from the config's ``evaluation`` entry (measured, with its command), the
weights file (size, parameter count, SHA256) or optional latency results; none is typed here.

The release workflow (:mod:`leadlift.workflows.release`, ``leadlift model-card``) measures a
checkpoint and writes its card; :func:`leadlift.inference.hub.save_pretrained` writes the same card
as ``README.md``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from leadlift.conventions import PTBXL_TRAIN_FOLDS
from leadlift.ecg import DERIVED_LIMB_LEADS
from leadlift.errors import InputError
from leadlift.inference.checkpoint import read_config

__all__ = [
    "CITATIONS",
    "PTBXL_RECORDS",
    "card_metadata",
    "model_card_markdown",
    "reproducible_command",
    "split_front_matter",
    "summary_metrics",
]

PTBXL_RECORDS = 21799
"""Records in PTB-XL 1.0.3, the full database (leadlift's data folder may hold a subset)."""

CITATIONS: dict[str, str] = {
    "paper1": """@misc{ibtehaz2024modally,
  title         = {Modally Reduced Representation Learning of Multi-Lead {ECG} Signals through Simultaneous
                   Alignment and Reconstruction},
  author        = {Ibtehaz, Nabil and Mortazavi, Masood},
  year          = {2024},
  eprint        = {2405.19359},
  archivePrefix = {arXiv},
  note          = {ICLR 2024 Workshop on Learning from Time Series for Health}
}""",
    "paper2": """@misc{youssef2026pathology,
  title         = {Pathology-Aware Multi-View Contrastive Learning for Patient-Independent {ECG} Reconstruction},
  author        = {Youssef, Youssef and Singla, Jitin},
  year          = {2026},
  eprint        = {2603.17248},
  archivePrefix = {arXiv},
  primaryClass  = {cs.LG}
}""",
    "ptbxl": """@article{wagner2020ptbxl,
  title   = {{PTB-XL}, a large publicly available electrocardiography dataset},
  author  = {Wagner, Patrick and Strodthoff, Nils and Bousseljot, Ralf-Dieter and Kreiseler, Dieter and
             Lunze, Fatima I. and Samek, Wojciech and Schaeffter, Tobias},
  journal = {Scientific Data},
  volume  = {7},
  pages   = {154},
  year    = {2020},
  doi     = {10.1038/s41597-020-0495-6}
}""",
}
"""BibTeX of the method papers (paper 1: aligned per-lead MAE; paper 2: pathology-aware
reconstructor) and of the training data; leadlift's own entry is rendered with its version."""

_DATA_ENV = "$LEADLIFT_DATA"
_DROPPED_OPTIONS = ("--store-dir",)  # where a cache lives: never changes a result


# --------------------------------------------------------------------------------------- helpers
def summary_metrics(result: dict[str, Any], unit: str = "mV") -> dict[str, float]:
    """Means over the reconstructed leads (not inputs, not derived limb leads) of one input set."""
    inputs = set(result["inputs"])
    derived = set(DERIVED_LIMB_LEADS) if {"I", "II"} <= inputs else set()
    table = result[unit]
    leads = [ld for ld in table if ld not in inputs and ld not in derived]
    return {k: float(np.mean([table[ld][k] for ld in leads])) for k in ("pearson_r", "rmse", "r2", "var_ratio")}


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _n_parameters(weights: Path) -> int:
    """Number of values stored in a safetensors file (read from its header, no pickle)."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="np") as fh:
        return int(sum(int(np.prod(fh.get_slice(k).get_shape())) for k in fh.keys()))


def reproducible_command(command: str) -> str:
    """A recorded command line as anyone can rerun it: the data directory becomes
    ``"$LEADLIFT_DATA"`` and cache locations (``--store-dir``) are dropped, so no machine's own
    paths (``/tmp/...``, a home folder) end up in a card.

    Example: ``leadlift model-card ckpt --data-dir /tmp/d --store-dir /tmp/s`` →
    ``leadlift model-card ckpt --data-dir "$LEADLIFT_DATA"``.
    """
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    out: list[str] = []
    skip = False
    for i, tok in enumerate(parts):
        if skip:
            skip = False
            continue
        name, eq, _ = tok.partition("=")
        if name in _DROPPED_OPTIONS:
            skip = not eq
            continue
        if name == "--data-dir":
            out.append("--data-dir")
            out.append(_DATA_ENV)
            skip = not eq and i + 1 < len(parts)
            continue
        out.append(tok)
    return " ".join(f'"{t}"' if t == _DATA_ENV else shlex.quote(t) for t in out)


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """``(metadata, body)`` of a card: the YAML between the leading ``---`` lines (None if absent)."""
    m = re.match(r"\A---\n(.*?)\n---\n", text, flags=re.S)
    if not m:
        return None, text
    return yaml.safe_load(m.group(1)), text[m.end():]


# --------------------------------------------------------------------------------------- metadata
def card_metadata(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The Hugging Face card header: licence, library, tags, dataset, and the measured fold-10
    means per input set as ``model-index`` (read from ``cfg["evaluation"]`` when present)."""
    is_mae = str(cfg.get("format", "")).startswith("leadlift-mae")
    tags = ["ecg", "electrocardiogram", "lead-reconstruction", "12-lead-ecg", "time-series", "pytorch",
            "safetensors"]
    tags += (["self-supervised", "masked-autoencoder", "embeddings"] if is_mae
             else ["pathology-aware", "supervised-contrastive"])
    meta: dict[str, Any] = {"license": "apache-2.0", "library_name": "leadlift", "tags": tags,
                            "datasets": ["ptb-xl"]}
    if is_mae:
        meta["pipeline_tag"] = "feature-extraction"  # lead-agnostic embeddings; no Hub task fits reconstruction
    ev = cfg.get("evaluation") or {}
    results = []
    for key, res in (ev.get("inputs") or {}).items():
        summ = summary_metrics(res)
        results.append({
            "task": {"type": "ecg-lead-reconstruction", "name": f"12-lead ECG reconstruction from {key}"},
            "dataset": {"type": "ptb-xl", "name": "PTB-XL", "split": str(ev.get("split", "test"))},
            "metrics": [
                {"type": "pearsonr", "name": "mean Pearson r (reconstructed leads)",
                 "value": round(summ["pearson_r"], 4)},
                {"type": "rmse", "name": "mean RMSE, mV (reconstructed leads)", "value": round(summ["rmse"], 4)},
            ],
        })
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    return meta


def _front_matter(meta: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=120) + "---\n"


# --------------------------------------------------------------------------------------- sections
def _training_set(cfg: dict[str, Any], is_mae: bool) -> list[str]:
    """How much data the weights saw: records of the training folds (counted in the prepared
    PTB-XL store by :func:`leadlift.workflows.release.evaluate_checkpoint`), the share of the
    full PTB-XL, and what one epoch drew from them."""
    data = cfg.get("training", {}).get("data", {})
    ev = cfg.get("evaluation") or {}
    folds = ev.get("train_folds") or data.get("train_folds") or list(PTBXL_TRAIN_FOLDS)
    n = ev.get("train_records")
    if not isinstance(n, int):
        return ["- training-set size: not recorded in config.yaml; `leadlift model-card` counts it "
                "(records of the training folds in the prepared PTB-XL store)"]
    of = ev.get("store_records")
    subset = f" of the {of:,} present in the data folder" if isinstance(of, int) else ""
    lines = [f"- training-set size: **{n:,} PTB-XL records** (strat_fold {', '.join(map(str, folds))}{subset}), "
             f"about {100 * n / PTBXL_RECORDS:.1f} % of the full PTB-XL ({PTBXL_RECORDS:,} records): a small "
             "model trained on a small subset, not a PTB-XL-scale model"]
    train = cfg.get("training", {})
    if is_mae:
        bs = data.get("batch_size")
        lines.append(f"- per epoch: one random {data.get('window_s', '?')}-s crop of each record"
                     + (f" in batches of {bs} ({n // bs} steps)" if isinstance(bs, int) and bs else ""))
    else:
        t = train.get("train", {})
        qc = (cfg.get("metrics", {}).get("qc_rejected") or {}).get("train")
        window, hop = data.get("window"), data.get("hop")
        lines.append(f"- windows of {window} samples (hop {hop}) cut from these records"
                     + (f", {qc} rejected by the amplitude QC" if isinstance(qc, int) else "")
                     + _epoch_draw(t.get("limit_train_batches"), t.get("batch_size")))
        sc = train.get("supcon") or {}
        if cfg.get("method") == "fusion" and sc:  # fusion_random keeps a random frozen encoder
            lines.append(f"- pathology encoder (supervised contrastive, PTB-XL superclasses): {sc.get('max_epochs')} "
                         f"epochs of {sc.get('steps_per_epoch')} batches of {sc.get('classes_per_batch')} classes × "
                         f"{sc.get('samples_per_class')} windows")
    return lines


def _epoch_draw(limit: Any, batch: Any) -> str:
    """What one training epoch of the reconstructor drew (Lightning's ``limit_train_batches``)."""
    if isinstance(limit, bool) or not limit:
        return ""
    if isinstance(limit, int):
        return f"; each epoch draws {limit} batches of {batch} windows"
    return f"; each epoch draws {float(limit):.0%} of the batches of {batch} windows" if float(limit) < 1 else ""


def _citation(cfg: dict[str, Any], is_mae: bool) -> list[str]:
    version = cfg.get("leadlift_version") or "0.1.0"
    date = str((cfg.get("evaluation") or {}).get("date") or "")
    year = date[:4] if date[:4].isdigit() else None
    leadlift_bib = "\n".join([
        "@software{leadlift,",
        "  title   = {leadlift: 12-lead {ECG} embeddings and reconstructions from one or a few leads},",
        "  author  = {{leadlift developers}},",
        f"  version = {{{version}}},",
        *([f"  year    = {{{year}}},"] if year else []),
        "  license = {Apache-2.0}",
        "}",
    ])
    paper = ("the aligned per-lead masked autoencoder (paper 1)" if is_mae
             else "the pathology-aware reconstruction method (paper 2)")
    return [
        "## Citation",
        "",
        f"If you use this model, cite {paper}, the training data (PTB-XL; and PhysioNet, Goldberger et al. "
        "2000, as its page asks) and leadlift:",
        "",
        "```bibtex",
        CITATIONS["paper1" if is_mae else "paper2"],
        "",
        CITATIONS["ptbxl"],
        "",
        leadlift_bib,
        "```",
        "",
    ]


def model_card_markdown(folder: str | Path, name: str | None = None, latency: dict[str, Any] | None = None,
                        require_evaluation: bool = True) -> str:
    """Render the model card of a checkpoint from its ``config.yaml`` (and optional latency results).

    Every number is read from the config's ``evaluation`` entry (measured, with its command), the
    weights file (size, parameter count, SHA256) or the latency results; none is typed here.

    Args:
        folder: checkpoint folder.
        name: model name shown in the title and the usage example (default: the folder name).
        latency: the dict of ``benchmarks/results/inference_latency.json`` (optional).
        require_evaluation: refuse a checkpoint that was never measured (the release path);
            False renders the card without the measured section (``save_pretrained``).
    Raises:
        InputError: if the config has no ``evaluation`` and ``require_evaluation`` is set.
    """
    folder = Path(folder)
    cfg = read_config(folder).to_dict()
    ev = cfg.get("evaluation")
    if require_evaluation and (not ev or not ev.get("inputs")):
        raise InputError(f"{folder}: config.yaml has no evaluation; run `leadlift model-card {folder}` "
                         "or evaluate_checkpoint() first")
    name = name or folder.name
    fmt = str(cfg.get("format", ""))
    is_mae = fmt.startswith("leadlift-mae")
    model = cfg.get("model", {})
    pre = cfg.get("preprocessing", {})
    train = cfg.get("training", {})
    data = train.get("data", {})
    weights = folder / "model.safetensors"
    fs = float(pre.get("fs", 0))
    window_s = float(pre["window_samples"]) / fs if fs and pre.get("window_samples") else None
    any_subset = model.get("class") == "AnySubsetNet"
    inputs_text = ",".join(pre.get("input_leads", [])) if not (is_mae or any_subset) else "any subset of the 12 leads"
    kind = ("aligned per-lead masked autoencoder (paper 1)" if is_mae else
            "any-subset pathology-aware reconstructor with a calibrated per-sample spread (paper 2, generalised)"
            if any_subset else "pathology-aware reconstructor (paper 2)")
    lines = [
        _front_matter(card_metadata(cfg, name)).rstrip("\n"),
        "",
        f"# Model card: `{name}`",
        "",
        f"leadlift {kind}, checkpoint format `{fmt}`, model class `{model.get('class', '?')}`; "
        f"input leads: {inputs_text}.",
        "",
        "**Not a medical device.** Research software: its outputs are not validated for diagnosis, triage or any "
        "clinical decision.",
        "",
        "## Files",
        "",
        "| file | size | SHA256 |",
        "|---|---:|---|",
        f"| model.safetensors | {_size(weights)} | `{cfg.get('weights_sha256', '-')}` |",
        f"| config.yaml | {_size(folder / 'config.yaml')} | (architecture, preprocessing, calibration, metrics) |",
        "",
        f"Parameters: {_n_parameters(weights):,}. Loading verifies the SHA256 of the weights; weights are "
        "safetensors, nothing is unpickled.",
        "",
        "## Training data",
        "",
    ]
    if data:
        lines.append(
            f"- dataset: {data.get('dataset', '?')} (PTB-XL 1.0.3: 12-lead resting ECGs, 10 s; CC BY 4.0), train "
            f"folds {data.get('train_folds')}, validation folds {data.get('val_folds')}; fold 10 is never used for "
            "training or calibration")
        lines += _training_set(cfg, is_mae)
        if is_mae:
            lines.append(f"- epochs: {cfg.get('epoch', '?')}, steps: {cfg.get('global_step', '?')}, "
                         f"seed {train.get('seed')}")
            if "val/loss" in cfg.get("metrics", {}):
                lines.append(f"- final validation loss: {cfg['metrics']['val/loss']:.4f}")
        else:
            info = cfg.get("metrics", {}).get("training", {})
            if any_subset:
                rec, enc = info.get("reconstructor", {}), info.get("encoder", {})
                lines.append(f"- method: anysubset; SupCon encoder on random-subset views {enc.get('epochs', '?')} "
                             f"epochs ({enc.get('seconds', '?')} s); reconstructor {rec.get('steps', '?')} steps "
                             f"({rec.get('seconds', '?')} s, best validation MSE "
                             f"{rec.get('best_val_mse') or float('nan'):.4f} mV² on the core subsets); "
                             f"seed {train.get('seed')}; whole training {cfg.get('metrics', {}).get('seconds', '?')} s")
                lines.append("- input subsets drawn in training: " + "; ".join(
                    (cfg.get("leads") or {}).get("training_subsets", [])) + "; plus random subsets")
                half = (model.get("kwargs") or {}).get("prior_half_taps")
                if half:
                    lines.append(f"- linear prior: the any-subset Wiener (FIR least-squares) filter, ±{half} samples, "
                                 "from lead cross-correlations estimated on the training windows; the network "
                                 "predicts the residual to it")
            else:
                lines.append(f"- method: {cfg.get('method', '?')}; epochs: {info.get('epochs', '?')} (best "
                             f"{info.get('best_epoch', '?')}, validation MSE "
                             f"{info.get('best_val_mse', float('nan')):.4f} mV²), seed {train.get('seed')}")
        command = train.get("command")
        lines.append(f"- trained by: `{reproducible_command(str(command))}`" if command else
                     f"- training command: not recorded in this checkpoint; its complete training configuration "
                     f"(`{train.get('name', '?')}`) is the `training` section of config.yaml")
    else:
        lines.append("- see the training section of config.yaml")
    if cfg.get("calibration"):
        lines.append(f"- amplitude calibration (z → mV): {cfg['calibration'].get('data')}")
    if cfg.get("uncertainty"):
        u = cfg["uncertainty"]
        lines.append(f"- spread calibration: one factor per input subset and lead so that ± {u['z']:.3f} × spread "
                     f"covers {u['level']:.0%} of samples on {u['fitted_on']}; other subsets use per-lead factors "
                     "fitted on random subsets")
    lines += ["", "## Preprocessing (applied automatically by `LeadLift`)", ""]
    lines.append(f"- input resampled (polyphase) to {fs:g} Hz; windows of {pre.get('window_samples')} samples"
                 + (f" ({window_s:g} s)" if window_s else ""))
    if pre.get("bandpass_hz"):
        lo, hi = pre["bandpass_hz"]
        lines.append(f"- band-pass {lo:g}–{hi:g} Hz (Butterworth order {pre.get('bandpass_order')}, zero-phase), "
                     f"baseline removal (running median {pre.get('baseline_window_s')} s)")
    if is_mae:
        lines.append(f"- z-score per lead per window (eps {pre.get('zscore_eps', '-')}); mV from the amplitude "
                     "calibration")
    elif any_subset:
        lines.append("- the measured leads z-scored jointly per window, absent leads masked (the network sees which "
                     "leads are present); outputs and spreads in mV")
    else:
        lines.append("- inputs z-scored jointly per window; outputs in mV")
    lines += [
        "- output resampled back to the input rate; windows stitched with Hann-weighted overlap-add; measured "
        "input leads returned unchanged",
        "",
        "## Intended use",
        "",
        "- research on reduced-lead ECG: 12-lead approximations from one lead (e.g. a watch's lead I) or a few "
        "leads" + (", and lead-agnostic embeddings for downstream models;" if is_mae else ";"),
        "- inputs: surface ECG in mV, any duration >= 0.5 s, any sampling rate >= 50 Hz.",
        "",
        "## Limits",
        "",
        "- **not a medical device**; do not use reconstructed leads to diagnose (e.g. to rule in/out an infarction);",
        f"- trained on one hospital database (PTB-XL) at {fs:g} Hz: content above {fs / 2:g} Hz is not "
        "reconstructed; wearable, paediatric, exercise and pacemaker ECGs are out of distribution;",
        (("- amplitudes are calibrated on the model's own predictions to each lead's typical amplitude (variance "
          "ratio near 1, see below): where the shape is uncertain the error shows at full amplitude instead of as "
          "a flattened lead, so R² can be low although r is high; amplitudes come from a population calibration, "
          "not from the patient;")
         if is_mae and _prediction_calibrated(cfg) else
         "- reconstructions regress to the mean: their amplitude is under-estimated (see the variance ratio below)"
         + ("; amplitudes come from a population calibration, not from the patient;" if is_mae else ";")),
        "- a single lead cannot determine the heart's electrical axis uniquely; rare morphologies are smoothed out.",
        "",
    ]
    if ev and ev.get("inputs"):
        lines += _measured(ev)
        if ev.get("subsets_benchmark"):
            lines += _subsets_benchmark(ev["subsets_benchmark"])
        if ev.get("diagnostic_fidelity"):
            lines += _diagnostic_fidelity(ev["diagnostic_fidelity"])
    else:
        lines += ["## Measured", "",
                  f"Not measured yet: `leadlift model-card CHECKPOINT_FOLDER --data-dir \"{_DATA_ENV}\"` evaluates "
                  "it on PTB-XL fold 10 and writes its numbers here.", ""]
    if latency:
        lines += [
            "## Speed",
            "",
            f"Measured by `{latency.get('command')}` on {latency.get('machine', '?')} "
            f"(model `{latency.get('model')}`, load average {latency.get('load_average_1min_at_end', '?')}):",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| embed, one 10-s lead, 1 thread | {latency['embed_ms']:.2f} ms |",
            f"| reconstruct 12 leads from lead I (10 s), 1 thread | {latency['reconstruct_ms']:.2f} ms |",
            f"| embed throughput, 2 threads | {latency['embed_throughput_per_s']:.0f} ECGs/s |",
            f"| reconstruct throughput, 2 threads | {latency['reconstruct_throughput_per_s']:.0f} ECGs/s |",
            "",
        ]
    leads_arg = "I,II" if any_subset else ",".join(pre.get("input_leads", ["I"])) if not is_mae else "I"
    lines += [
        "## Use",
        "",
        "```python",
        "from leadlift import LeadLift",
        "from leadlift.io import read_ecg",
        "",
        f'model = LeadLift.from_pretrained("{name}")',
        f'ecg = read_ecg("recording.csv", fs=500, leads="{leads_arg}")',
        "twelve = model.reconstruct(ecg)   # ECG, 12 leads, input fs, mV",
    ]
    if is_mae:
        lines.append("emb = model.embed(ecg)            # emb.windows [n_windows, D], emb.pooled [D]")
    if any_subset:
        lines += ["low, high = twelve.interval()      # the calibrated 90 % band, mV",
                  'twelve.labels["synthesized"]       # which leads the model produced']
    lines += [
        "```",
        "",
        "## Licence",
        "",
        "- weights and code: Apache-2.0 (leadlift);",
        "- training data: PTB-XL 1.0.3 (Wagner et al. 2020, PhysioNet), CC BY 4.0: the weights are derived from it; "
        "credit PTB-XL when you use or redistribute them.",
        "",
    ]
    lines += _citation(cfg, is_mae)
    return "\n".join(lines)


def _measured(ev: dict[str, Any]) -> list[str]:
    lines = [
        f"## Measured on {ev.get('split')}",
        "",
        f"Protocol: {ev.get('protocol', '-')}.",
        "",
        "Produced by (with `LEADLIFT_DATA` set to the data folder that holds `ptb-xl/`):",
        "",
        "```",
        reproducible_command(str(ev.get("command"))),
        "```",
        "",
    ]
    for key, res in ev["inputs"].items():
        summ = summary_metrics(res)
        records = res.get("n_test_records")
        lines += [
            f"### Inputs {key}: {res.get('n_test_windows')} windows of {res.get('window_samples')} samples "
            f"@ {res.get('fs')} Hz" + (f" from {records} records" if isinstance(records, int) else ""),
            "",
            f"Mean over reconstructed leads: Pearson r **{summ['pearson_r']:.3f}**, RMSE **{summ['rmse']:.3f} mV**, "
            f"R² {summ['r2']:.3f}, variance ratio {summ['var_ratio']:.2f}.",
            "",
            "| lead | Pearson r | RMSE (mV) | R² | bias (mV) | variance ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        inputs = set(res["inputs"])
        for lead, m in res["mV"].items():
            mark = " (input)" if lead in inputs else ""
            lines.append(f"| {lead}{mark} | {m['pearson_r']:.3f} | {m['rmse']:.3f} | {m['r2']:.3f} | "
                         f"{m['bias']:+.3f} | {m['var_ratio']:.2f} |")
        lines.append("")
    return lines


def _subsets_benchmark(b: dict[str, Any]) -> list[str]:
    """Per-subset RMSE vs same-run FIR and specialists, and the interval coverage (from
    ``benchmarks/results/anysubset.json``)."""
    name = b.get("model", "model")
    lines = ["## Against same-run baselines and specialists (PTB-XL fold 10)", "",
             f"Produced by `{b.get('command')}`: per input subset, `leadlift reconstruct-benchmark`'s protocol "
             "(same windows, paired bootstrap over records); specialists are trained in the same run for that subset "
             "only. RMSE in mV, mean over learned leads.", "",
             "| inputs | RMSE [95 % CI] | FIR LS | U-Net spec. | fusion spec. | ÷ FIR | ÷ best spec. | r / FIR r | "
             "var. ratio | 90 % coverage (min–max) | Spearman ρ |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in b.get("subsets", []):
        rm, ci = row["rmse"], row.get("rmse_ci") or [float("nan")] * 2
        lines.append(f"| {row['subset']} | {rm[name]:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] | {rm['fir']:.4f} | "
                     f"{rm.get('unet', float('nan')):.4f} | {rm.get('fusion', float('nan')):.4f} | "
                     f"{row['ratio_to_fir']:.3f} | {row['ratio_to_best_specialist']:.3f} | "
                     f"{row['pearson_r'][name]:.3f} / {row['pearson_r']['fir']:.3f} | {row['var_ratio']:.2f} | "
                     f"{row['coverage_min']:.3f}–{row['coverage_max']:.3f} | {row['spearman']:.3f} |")
    leads = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    lines += ["", "Coverage of the nominal 90 % interval per learned lead (`·`: measured or derived exactly):", "",
              "| inputs | " + " | ".join(leads) + " |", "|---|" + "---:|" * len(leads)]
    for key, c in b.get("coverage", {}).items():
        lines.append(f"| {key} | " + " | ".join(f"{c['test'][ld]:.3f}" if ld in c["test"] else "·"
                                            for ld in leads) + " |")
    zs = b.get("zero_shot", {})
    if zs:
        lines += ["", "Zero-shot (trained on PTB-XL only), mean RMSE over learned leads (mV):", "",
                  "| inputs | set | records | this model | FIR LS | best specialist | coverage (min–max) |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for key, sets in zs.items():
            for z in sets.values():
                rm = z["rmse"]
                spec = min(rm.get("unet", float("inf")), rm.get("fusion", float("inf")))
                lines.append(f"| {key} | {z['title']} | {z['n_records']} | {rm[name]:.4f} | {rm['fir']:.4f} | "
                             f"{spec:.4f} | {z['coverage_min']:.3f}–{z['coverage_max']:.3f} |")
    return [*lines, ""]


def _diagnostic_fidelity(d: dict[str, Any]) -> list[str]:
    """AUROC of a 12-lead superdiagnostic classifier on real vs reconstructed ECGs, and the
    Brugada-HUCA ST check (from ``benchmarks/results/diagnostic_fidelity.json``)."""
    classes = list(d.get("classes", []))
    recs = d.get("records", {})
    lines = ["## Diagnostic fidelity", "",
             f"Produced by `{d.get('command')}`: a 12-lead classifier trained on real PTB-XL folds 1–8 scores the "
             f"{recs.get('ptbxl_fold10', '?')} fold-10 records as recorded and as reconstructed from each subset "
             "(AUROC, paired bootstrap over records, Δ = reconstructed − real).", "",
             "| inputs | macro AUROC real | reconstructed | Δ [95 % CI] | "
             + " | ".join(f"Δ {c}" for c in classes) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(classes)]
    for key, sub in d.get("subsets", {}).items():
        p = sub.get("ptbxl") or {}
        m = p.get("macro")
        if not m:
            continue
        cells = " | ".join(f"{p['classes'][c]['delta']:+.3f}" for c in classes)
        lines.append(f"| {key} | {m['real']:.3f} | {m['recon']:.3f} | {m['delta']:+.3f} [{m['delta_ci'][0]:+.3f}, "
                     f"{m['delta_ci'][1]:+.3f}] | {cells} |")
    lines += ["", f"Brugada-HUCA ({recs.get('brugada', '?')} records): AUROC of the maximum ST level in V1–V2 at "
                  "J + 60 ms for Brugada syndrome vs none, real vs reconstructed:", "",
              "| inputs | AUROC real | reconstructed | Δ [95 % CI] | ST agreement r (max V1, V2) |",
              "|---|---:|---:|---:|---:|"]
    for key, sub in d.get("subsets", {}).items():
        b = (sub.get("brugada") or {}).get("st_j60")
        if not b:
            continue
        a, g = b["auroc"], b["agreement"]["max"]
        lines.append(f"| {key} | {a['real']:.3f} | {a['recon']:.3f} | {a['delta']:+.3f} [{a['delta_ci'][0]:+.3f}, "
                     f"{a['delta_ci'][1]:+.3f}] | {g['pearson_r']:.3f} |")
    return [*lines, ""]


def _prediction_calibrated(cfg: dict[str, Any]) -> bool:
    """True when the MAE's amplitude calibration was fitted on its own predictions (``pred_std`` set)."""
    return (cfg.get("calibration") or {}).get("pred_std") is not None
