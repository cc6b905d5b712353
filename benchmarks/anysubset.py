"""The any-subset reconstructor against same-run baselines and specialists, for every core input subset.

For each subset of :data:`leadlift.models.anysubset.CORE_SUBSETS` this runs the reconstruction
benchmark (:func:`leadlift.workflows.recon_benchmark.run_benchmark`, config ``recon-cpu`` with that
input set): the zero predictor, instantaneous and FIR least squares, and two *specialists* trained
in the same run for that subset only (the U-Net and the pathology-aware fusion model), all scored on
the same PTB-XL fold-10 windows as the any-subset model (which goes through the API's inference
path), with paired-bootstrap CIs over records, plus the zero-shot sets (PTB Diagnostic, the CinC-2021
PTB copy, Brugada-HUCA) and the coverage / error ranking of the model's spread.

Writes ``<out>/<subset>/results.{json,md}`` (the full benchmark per subset) and the summary
``<out>.json`` / ``<out>.md``.

    python benchmarks/anysubset.py --data-dir ../shared/data --model runs/recon-any \
        --out benchmarks/results/anysubset
    python benchmarks/anysubset.py --render-only      # rebuild the summary from the per-subset results

``--control NAME=CHECKPOINT`` scores an ablation twin of the model (the same recipe without one
component) on the same windows, with the paired difference: what isolates that component's gain.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from leadlift.atomic import atomic_path
from leadlift.models.anysubset import CORE_SUBSETS, subset_key

ROOT = Path(__file__).resolve().parent
SPECIALISTS = ("unet", "fusion")
TITLES = {"zero": "zero", "linear": "inst. LS", "fir": "FIR LS", "unet": "U-Net specialist",
          "fusion": "fusion specialist"}
CRITERIA = {"rmse_vs_fir": 0.90, "rmse_vs_specialist": 1.03, "r_gain_vs_fir_from_I": 0.05,
            "coverage": (0.85, 0.95), "spearman": 0.3, "var_ratio_I_II": 0.6}


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _folder(key: str) -> str:
    return key.replace(",", "_")


def run(args: argparse.Namespace) -> None:
    from leadlift.recon_config import load_recon_config
    from leadlift.workflows.recon_benchmark import run_benchmark

    torch.set_num_threads(args.threads)
    for s in args.subsets:
        key = subset_key(s)
        out = args.out / _folder(key)
        if args.resume and (out / "results.json").exists():
            print(f"{key}: kept {out / 'results.json'}", flush=True)
            continue
        cfg = load_recon_config(args.config, {
            "data.inputs": key.split(","), "benchmark.methods": ["zero", "linear", "fir", *SPECIALISTS],
            "benchmark.export_models": False, "benchmark.n_figures": 1, "benchmark.cv_folds": 0})
        t0 = time.perf_counter()
        command = (f"python benchmarks/anysubset.py --data-dir {args.data_dir} --model {args.model}"
                   + "".join(f" --control {c}" for c in args.control) + f" --subsets \"{key}\"")
        checkpoints = {args.name: str(args.model), **dict(c.split("=", 1) for c in args.control)}
        run_benchmark(cfg, args.data_dir, out, checkpoints=checkpoints,
                      say=lambda m, k=key: print(f"[{k}] {m}", flush=True), command=command)
        print(f"{key}: done in {time.perf_counter() - t0:.0f} s", flush=True)


def _ci(r: dict[str, Any], method: str, metric: str) -> list[float] | None:
    return r["test"]["ci"].get(method, {}).get("learned", {}).get(metric)


def _contrast(score: dict[str, Any], a: str, b: str, metric: str) -> dict[str, Any] | None:
    for c in score.get("contrasts", []):
        if c["method"] == a and c["control"] == b:
            return c[metric]
    return None


def summarize(out: Path, name: str, subsets: list[str], controls: list[str] | None = None) -> dict[str, Any]:
    """The summary of the per-subset results; ``controls``: names of the ablation twins scored beside ``name``."""
    controls = list(controls or [])
    rows, coverage, zero_shot, meta = [], {}, {}, {}
    for s in subsets:
        key = subset_key(s)
        path = out / _folder(key) / "results.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        learned = r["test"]["learned"]
        any_m = learned[name]
        spec = {m: learned[m]["rmse"] for m in SPECIALISTS if m in learned}
        best = min(spec, key=spec.__getitem__)
        unc = r.get("uncertainty", {}).get(name, {})
        ut = unc.get("test", {})
        vs_best = _contrast(r["test"], name, best, "rmse")
        vs_fir_r = r["test"]["ci"][name].get("vs_reference", {}).get("pearson_r", {})
        row = {
            "subset": key, "learned": r["leads"]["learned"],
            "rmse": {m: learned[m]["rmse"] for m in ("zero", "fir", *SPECIALISTS, name) if m in learned},
            "rmse_ci": _ci(r, name, "rmse"),
            "pearson_r": {m: learned[m]["pearson_r"] for m in ("fir", *SPECIALISTS, name) if m in learned},
            "var_ratio": any_m["var_ratio"],
            "best_specialist": best,
            "ratio_to_fir": any_m["rmse"] / learned["fir"]["rmse"],
            "ratio_to_best_specialist": any_m["rmse"] / spec[best],
            "delta_rmse_vs_best_specialist": vs_best,
            "delta_r_vs_fir": vs_fir_r,
            "coverage_min": ut.get("coverage_min"), "coverage_max": ut.get("coverage_max"),
            "spearman": ut.get("spearman"),
            "controls": {c: {"rmse": learned[c]["rmse"], "delta_rmse": _contrast(r["test"], name, c, "rmse")}
                         for c in controls if c in learned},
        }
        row["meets"] = {
            "rmse_vs_fir": row["ratio_to_fir"] <= CRITERIA["rmse_vs_fir"],
            "rmse_vs_specialist": row["ratio_to_best_specialist"] <= CRITERIA["rmse_vs_specialist"],
            "coverage": ut.get("coverage_min") is not None
            and CRITERIA["coverage"][0] <= ut["coverage_min"] and ut["coverage_max"] <= CRITERIA["coverage"][1],
            "spearman": (ut.get("spearman") or 0) >= CRITERIA["spearman"],
        }
        if key == "I":
            row["meets"]["r_gain_vs_fir"] = (vs_fir_r.get("diff") or 0) >= CRITERIA["r_gain_vs_fir_from_I"]
        if key == "I,II":
            prec = [r["test"]["per_lead"][name][ld]["var_ratio"] for ld in ("V1", "V2", "V3", "V4", "V5", "V6")]
            row["var_ratio_precordial"] = min(prec)
            row["meets"]["var_ratio_I_II"] = min(prec) >= CRITERIA["var_ratio_I_II"]
        rows.append(row)
        coverage[key] = {"test": ut.get("coverage", {}), "spearman_per_lead": ut.get("spearman_per_lead", {})}
        zero_shot[key] = {}
        for zname, z in r.get("zero_shot", {}).items():
            zl = z["learned"]
            zero_shot[key][zname] = {
                "title": z["title"], "n_records": z["n_records"],
                "rmse": {m: zl[m]["rmse"] for m in ("fir", *SPECIALISTS, name) if m in zl},
                "pearson_r": {m: zl[m]["pearson_r"] for m in ("fir", *SPECIALISTS, name) if m in zl},
                "coverage_min": unc.get(zname, {}).get("coverage_min"),
                "coverage_max": unc.get(zname, {}).get("coverage_max"),
                "spearman": unc.get(zname, {}).get("spearman"),
            }
        meta[key] = {"seconds": r.get("seconds"), "command": r.get("command"), "n_test_windows":
                     r["test"]["n_windows"], "n_test_records": r["test"]["n_records"],
                     "training": {m: {k: v for k, v in inf.items() if k in ("seconds", "epochs", "half_s")}
                                  for m, inf in r.get("training", {}).items() if isinstance(inf, dict)}}
    return {"model": name, "controls": controls, "criteria": CRITERIA, "subsets": rows, "coverage": coverage,
            "zero_shot": zero_shot, "runs": meta}


def _f(v: Any, d: int = 4) -> str:
    return "–" if v is None else f"{v:.{d}f}"


def markdown(res: dict[str, Any], command: str) -> str:
    name = res["model"]
    lines = [
        f"# Any-subset reconstructor `{name}` vs same-run baselines and specialists",
        "",
        f"Command: `{command}` (each subset: `leadlift reconstruct-benchmark`'s protocol, config "
        f"`{res.get('config', 'recon-cpu')}`).",
        "",
        "PTB-XL fold 10 (never used for training, tuning or calibration), 100 Hz, 2.56-s windows, hop 0.64 s. "
        "RMSE in mV over all samples of the learned leads; r per window, averaged. 95 % CIs: paired bootstrap "
        "over test records (1000 resamples, the same draws for every method). Specialists are trained in the "
        "same run for that subset only. `≤ FIR×0.90`, `≤ spec×1.03`: the issue's criteria.",
        "",
        "| inputs | any-subset RMSE [CI] | FIR LS | U-Net spec. | fusion spec. | ÷ FIR | ÷ best spec. | Δ vs best "
        "spec. [CI] | r any / FIR | var ratio | coverage 90 % (min–max over leads) | Spearman ρ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["subsets"]:
        rm, ci = row["rmse"], row["rmse_ci"] or [None, None]
        d = row["delta_rmse_vs_best_specialist"] or {}
        dci = d.get("ci") or [None, None]
        mark = {k: ("✓" if v else "✗") for k, v in row["meets"].items()}
        lines.append(
            f"| {row['subset']} | {_f(rm[name])} [{_f(ci[0])}, {_f(ci[1])}] | {_f(rm.get('fir'))} | "
            f"{_f(rm.get('unet'))} | {_f(rm.get('fusion'))} | {row['ratio_to_fir']:.3f} {mark['rmse_vs_fir']} | "
            f"{row['ratio_to_best_specialist']:.3f} {mark['rmse_vs_specialist']} | {_f(d.get('diff'))} "
            f"[{_f(dci[0])}, {_f(dci[1])}] | {row['pearson_r'][name]:.3f} / {row['pearson_r']['fir']:.3f} | "
            f"{row['var_ratio']:.2f} | {_f(row['coverage_min'], 3)}–{_f(row['coverage_max'], 3)} "
            f"{mark['coverage']} | {_f(row['spearman'], 3)} {mark['spearman']} |")
    for row in res["subsets"]:
        if row["subset"] == "I":
            d = row["delta_r_vs_fir"]
            met = "met" if row["meets"]["r_gain_vs_fir"] else "not met"
            lines += ["", f"From lead I: r gain over FIR LS {_f(d.get('diff'), 3)} [{_f(d['ci'][0], 3)}, "
                          f"{_f(d['ci'][1], 3)}] (criterion ≥ 0.05: {met})."]
        if row["subset"] == "I,II":
            lines += ["", f"From I,II: lowest precordial variance ratio {row['var_ratio_precordial']:.2f} "
                          f"(criterion ≥ 0.6: {'met' if row['meets']['var_ratio_I_II'] else 'not met'})."]
    for c in res.get("controls", []):
        lines += ["", f"## `{name}` vs the control `{c}` (same windows, paired)", "",
                  f"Another checkpoint scored on the same windows (trained on the same folds with the same seed); "
                  f"what it differs in is documented with the model (`docs/any-subset.md`). Δ = {name} − {c}, "
                  f"negative = {name} better; 95 % CI from the paired bootstrap over test records.", "",
                  f"| inputs | {name} RMSE | {c} RMSE | Δ RMSE [CI] |", "|---|---:|---:|---:|"]
        for row in res["subsets"]:
            ctl = row.get("controls", {}).get(c)
            if not ctl:
                continue
            d = ctl["delta_rmse"] or {}
            dci = d.get("ci") or [None, None]
            lines.append(f"| {row['subset']} | {_f(row['rmse'][name])} | {_f(ctl['rmse'])} | {_f(d.get('diff'))} "
                         f"[{_f(dci[0])}, {_f(dci[1])}] |")
    lines += ["", "## Coverage of the nominal 90 % interval per learned lead (fold 10)", ""]
    leads = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    lines += ["| inputs | " + " | ".join(leads) + " |", "|---|" + "---:|" * len(leads)]
    for key, c in res["coverage"].items():
        lines.append(f"| {key} | " + " | ".join(_f(c["test"].get(ld), 3) if ld in c["test"] else "·"
                                            for ld in leads) + " |")
    lines += ["", "`·` = measured or exactly derived (no spread). Calibration: one factor per subset and lead fitted "
                  "on fold 9.", "", "## Zero-shot (other hospitals and devices; models trained on PTB-XL only)", "",
              "| inputs | set | records | any-subset RMSE | FIR LS | U-Net spec. | fusion spec. | r any / FIR | "
              "coverage (min–max) | Spearman ρ |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, sets in res["zero_shot"].items():
        for z in sets.values():
            rm = z["rmse"]
            lines.append(f"| {key} | {z['title']} | {z['n_records']} | {_f(rm.get(name))} | {_f(rm.get('fir'))} | "
                         f"{_f(rm.get('unet'))} | {_f(rm.get('fusion'))} | {_f(z['pearson_r'].get(name), 3)} / "
                         f"{_f(z['pearson_r'].get('fir'), 3)} | {_f(z['coverage_min'], 3)}–{_f(z['coverage_max'], 3)} "
                         f"| {_f(z['spearman'], 3)} |")
    lines += ["", "Per-subset details (per lead, CIs, training times, figures): `" + "`, `".join(
        f"anysubset/{_folder(k)}/results.md" for k in res["coverage"]) + "`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--model", type=Path, default=Path("runs/recon-any"), help="the any-subset checkpoint folder")
    p.add_argument("--name", default="recon-any", help="its name in the tables")
    p.add_argument("--config", default="recon-cpu", help="benchmark config of the baselines and specialists")
    p.add_argument("--subsets", type=lambda s: [x for x in s.split(";") if x], default=list(CORE_SUBSETS),
                   help='input subsets separated by ";" (default: the seven core subsets)')
    p.add_argument("--out", type=Path, default=ROOT / "results" / "anysubset")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="keep subsets that already have results")
    p.add_argument("--render-only", action="store_true", help="only rebuild the summary")
    p.add_argument("--control", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="an ablation twin scored on the same windows, with paired Δ vs --model (repeatable)")
    args = p.parse_args(argv)
    if not args.render_only:
        run(args)
    res = summarize(args.out, args.name, [subset_key(s) for s in args.subsets],
                    [c.split("=", 1)[0] for c in args.control])
    if not res["subsets"]:
        print(f"no per-subset results under {args.out}; run without --render-only first", file=sys.stderr)
        return 2
    res["machine"] = {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads}
    command = (f"python benchmarks/anysubset.py --data-dir {args.data_dir} --model {args.model}"
               + "".join(f" --control {c}" for c in args.control))
    res["command"] = command
    res["config"] = args.config
    _write(args.out.with_suffix(".json"), json.dumps(res, indent=1) + "\n")
    _write(args.out.with_suffix(".md"), markdown(res, command))
    print(markdown(res, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
