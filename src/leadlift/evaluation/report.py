"""Self-contained HTML report of an evaluation (``leadlift evaluate`` → ``DIR/report.html``).

One page, no external resources: CSS inline, every figure embedded as a base64 PNG, so the
file can be mailed or attached as it is. Every table shows the evaluated checkpoint beside its
baselines (the random-initialised encoder of the same architecture, and the no-alignment
checkpoint when one was given).
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, to_hex

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#222;
     line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0.2em}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}
h3{margin-bottom:0.3em}
table{border-collapse:collapse;margin:8px 0 16px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:13px;max-width:1000px}.muted{color:#888}.small td,.small th{font-size:11px;padding:2px 4px}
figure{margin:10px 0 22px 0}figure img{max-width:100%;border:1px solid #eee}
figure img.ecg{width:640px;max-width:100%}
figcaption{font-size:13px;color:#444;max-width:1000px}
code{background:#f5f5f5;padding:1px 3px}
.skipped{background:#fff6e0;border-left:4px solid #e0a800;padding:6px 10px;font-size:13px}
.bench table{display:block;overflow-x:auto;max-width:100%}
.tw{overflow-x:auto;max-width:100%}.tw table{margin-right:2px}
nav.toc{background:#f8f8f8;border:1px solid #e3e3e3;padding:6px 14px;font-size:14px;display:inline-block}
nav.toc ul{margin:4px 0;padding-left:4px;list-style:none}nav.toc a{color:#1a4f8b;text-decoration:none}
.leaky{color:#b00020;font-weight:bold}table.ecgid th{white-space:normal;text-align:center}
.remark{border-left:4px solid #b00020;padding:4px 10px;background:#fff4f4}
"""


def esc(text: Any) -> str:
    """HTML-escape ``str(text)``."""
    return html.escape(str(text), quote=True)


def fmt(x: Any, digits: int = 3) -> str:
    """Number with ``digits`` decimals; '–' for None/NaN."""
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "–" if not math.isfinite(v) else f"{v:.{digits}f}"


def fmt_ci(value: Any, ci: Sequence[float] | None, digits: int = 3) -> str:
    """``0.812 [0.780, 0.845]`` (interval omitted when unknown)."""
    if ci is None or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in ci):
        return fmt(value, digits)
    return f"{fmt(value, digits)} <span class='muted'>[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]</span>"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "", raw: bool = False) -> str:
    """An HTML table in a horizontally scrolling wrapper (wide tables never clip columns); cells are
    escaped unless ``raw``."""
    cell = (lambda c: str(c)) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div class='tw'><table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def color_table(mat: np.ndarray, rows: Sequence[str], cols: Sequence[str], corner: str, vmin: float,
                vmax: float, cmap: str = "viridis", digits: int = 2) -> str:
    """A numeric matrix as an HTML table with cell colours from ``cmap``."""
    norm = Normalize(vmin=vmin, vmax=vmax)
    cm = colormaps[cmap]
    out = [f"<div class='tw'><table class='small'><thead><tr><th>{esc(corner)}</th>"]
    out += [f"<th>{esc(c)}</th>" for c in cols]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        out.append(f"<tr><th>{esc(r)}</th>")
        for j in range(len(cols)):
            v = float(mat[i][j])
            if math.isfinite(v):
                rgb = cm(float(norm(v)))[:3]
                fg = "#fff" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 0.5 else "#000"
                out.append(f"<td style='background:{to_hex(rgb)};color:{fg}'>{v:.{digits}f}</td>")
            else:
                out.append("<td>–</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def img(path: str | Path, caption: str = "", alt: str = "", cls: str = "") -> str:
    """A figure with the PNG at ``path`` embedded as base64 (``caption`` is HTML)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    klass = f" class='{esc(cls)}'" if cls else ""
    return (f"<figure><img{klass} alt='{esc(alt or Path(path).stem)}' src='data:image/png;base64,{data}'>"
            f"{cap}</figure>")


def markdown_to_html(text: str) -> str:
    """Minimal Markdown (headings, pipe tables, paragraphs, inline code) → HTML, escaped."""
    def inline(s: str) -> str:
        parts = esc(s).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
                       for i, p in enumerate(parts))
        return text

    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("#"):
            level = min(6, len(line) - len(line.lstrip("#")) + 2)
            out.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            body = [r for r in block[1:] if not all(set(c) <= set("-: ") for c in r)]
            out.append("<table class='small'><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in block[0])
                       + "</tr></thead><tbody>" + "".join(
                           "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
                       + "</tbody></table>")
            continue
        elif line.strip():
            out.append(f"<p class='note'>{inline(line)}</p>")
        i += 1
    return "\n".join(out)


def _models(results: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(role, label)]`` in display order."""
    return [(role, m["label"]) for role, m in results["models"].items()]


def _section_headline(results: dict[str, Any]) -> str:
    models = _models(results)
    rows_spec = [
        ("lead-I probe: PTB-XL superdiagnostic macro AUROC", "lead_I_probe_macro_auroc", 3),
        ("12-lead probe: PTB-XL superdiagnostic macro AUROC", "twelve_lead_probe_macro_auroc", 3),
        ("lead-I MI vs rest AUROC (PTB-XL)", "lead_I_mi_auroc", 3),
        ("ECG-ID cross-record top-1, nearest neighbour", "ecgid_cross_record_nn_top1", 3),
        ("ECG-ID cross-record top-1, linear", "ecgid_cross_record_linear_top1", 3),
        ("ECG-ID cross-record top-1 per record, nearest neighbour", "ecgid_cross_record_record_nn_top1", 3),
        ("ECG-ID cross-record top-1 per record, linear", "ecgid_cross_record_record_linear_top1", 3),
        ("ECG-ID cross-record top-1 per record, NN on shifted crops", "ecgid_cross_record_shifted_record_nn_top1", 3),
        ("ECG-ID cross-record top-1 per record, median-beat template (no model)",
         "ecgid_template_cross_record_top1", 3),
        ("lead agreement gap (cosine same − different ECG)", "agreement_gap", 3),
        ("lead-pair retrieval top-1", "agreement_retrieval", 3),
        ("lead I → 12: mean Pearson r of the 11 other leads", "lead_I_to_12_mean_r", 3),
        ("lead I → 12: mean RMSE of the 11 other leads (mV)", "lead_I_to_12_mean_rmse_mv", 3),
    ]
    rows_spec.append(("lead I → 12: zero predictor's RMSE on the same windows (mV; the floor)",
                      "lead_I_to_12_zero_rmse_mv", 3))
    lower_better = {"lead_I_to_12_mean_rmse_mv"}
    head = results.get("headline", {})
    rows = []
    for name, key, d in rows_spec:
        vals = [head.get(role, {}).get(key) for role, _ in models]
        finite = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        best = None
        if len(set(finite)) > 1 and not key.startswith("ecgid_template") and "zero" not in key:
            best = min(finite) if key in lower_better else max(finite)
        cells = []
        for (role, _), v in zip(models, vals, strict=True):
            text = fmt_ci(v, head.get(role, {}).get(f"{key}_ci"), d)
            cells.append(f"<b>{text}</b>" if best is not None and v == best else text)
        rows.append([esc(name), *cells])
    note = ("<p class='muted'>Every model is shown beside its same-run baselines: a random-initialised encoder of the "
            "same architecture (and a baseline checkpoint when given), the median-beat template for ECG-ID and the "
            "zero predictor for reconstruction; FIR least squares and the other reconstruction baselines are in the "
            "reconstruction-benchmark section. 95 % bootstrap intervals in brackets where measured; only the best "
            "value in a row is bold.</p>")
    return table(["metric"] + [lab for _, lab in models], rows, cls="headline", raw=True) + note


def _section_agreement(results: dict[str, Any], figs: dict[str, Path]) -> str:
    parts = ["<h2>1. Lead agreement</h2>"]
    sec = results["sections"].get("agreement", {})
    rows = []
    n = None
    for role, label in _models(results):
        a = sec.get(role)
        if a is None or "cosine" not in a:
            rows.append([label, "–", "–", "–", "–", "–", esc(a.get("reason", "n/a") if a else "n/a")])
            continue
        n = a["n_ecgs"]
        c, z = a["cosine"], a["centered"]
        rows.append([label, fmt(c["mean_same"]), fmt(c["mean_diff"]), fmt(c["mean_gap"]), fmt(z["mean_gap"]),
                     fmt(c["mean_retrieval"]), ""])
    parts.append(table(["model", "cosine, same ECG", "cosine, different ECGs", "gap", "gap after centring",
                        "retrieval top-1", "note"], rows, raw=True))
    main = next(iter(results["models"].values()))
    win_s = main["window_samples"] / main["fs"]
    parts.append(f"<p class='note'>PTB-XL test fold (fold 10), {n} ECGs, record embeddings (mean CLS over "
                 f"{win_s:g}-s windows). Means over the ordered pairs of different leads. Retrieval: lead j's "
                 f"embedding must find the same ECG's lead-k embedding among all {n} "
                 f"(chance {fmt(1 / n if n else None)}). Centring subtracts each lead's mean embedding, "
                 "removing offsets shared by all ECGs.</p>")
    for key, cap in (("agreement_gap", "Cosine similarity gap (same ECG − different ECGs) for every lead pair."),
                     ("agreement_retrieval", "Retrieval top-1 accuracy for every (query lead j, gallery lead k)."),
                     ("agreement_hist", "Distribution of cosine similarity between two different leads, of the "
                                        "same ECG (red) and of different ECGs (grey).")):
        if key in figs:
            parts.append(img(figs[key], cap))
    return "\n".join(parts)


def _section_probes(results: dict[str, Any], figs: dict[str, Path]) -> str:
    parts = ["<h2>2. PTB-XL superdiagnostic linear probes</h2>"]
    sec = results["sections"].get("probes", {})
    models = [(r, lab) for r, lab in _models(results) if r in sec]
    if not models:
        return parts[0] + "<p class='skipped'>not run</p>"
    views = list(dict.fromkeys(v for r, _ in models for v in sec[r]["views"]))
    rows = [[esc(v)] + [fmt_ci(sec[r]["views"].get(v, {}).get("macro_auroc"),
                                sec[r]["views"].get(v, {}).get("macro_ci")) for r, _ in models] for v in views]
    first = sec[models[0][0]]
    parts.append(table(["embedding"] + [lab for _, lab in models], rows, raw=True))
    parts.append(f"<p class='note'>Macro AUROC over {', '.join(first['labels'])} (one-vs-rest) with a 95 % "
                 f"percentile bootstrap interval ({first['n_boot']} resamples of the {first['n_test']} test records). "
                 f"Logistic regression on standardised frozen embeddings; train folds 1–8 ({first['n_train']} "
                 f"records), C per label chosen on fold 9 ({first['n_val']}), tested on fold 10. "
                 "<b>12-lead</b> = the 12 lead embeddings concatenated (per-lead bank) or the 12-channel model's "
                 "embedding. Records without a superdiagnostic label are left out.</p>")
    for view in ("12-lead", "I"):
        if not all(view in sec[r]["views"] for r, _ in models):
            continue
        labels = first["labels"]
        rows = [[lab] + [fmt_ci(sec[r]["views"][view]["per_class"][c]["auroc"],
                                sec[r]["views"][view]["per_class"][c].get("ci")) for c in labels]
                for r, lab in models]
        parts.append(f"<h3>Per-class AUROC, {esc(view)} embedding</h3>")
        parts.append(table(["model", *labels], rows, raw=True))
    for key, cap in (("probe_bars", "Macro AUROC per embedding view (whiskers: 95 % bootstrap CI)."),
                     ("roc", "Test-fold ROC curves per superclass (legend: AUROC).")):
        if key in figs:
            parts.append(img(figs[key], cap))
    return "\n".join(parts)


def _section_mi(results: dict[str, Any]) -> str:
    parts = ["<h2>3. Myocardial infarction</h2>", "<h3>PTB-XL: MI vs rest (test fold)</h3>"]
    sec = results["sections"].get("mi", {})
    ptbxl = sec.get("ptbxl", {})
    models = [(r, lab) for r, lab in _models(results) if r in ptbxl]
    if models:
        views = list(dict.fromkeys(v for r, _ in models for v in ptbxl[r]))
        rows = [[esc(v)] + [fmt_ci(ptbxl[r].get(v, {}).get("auroc"), ptbxl[r].get(v, {}).get("ci")) for r, _ in models]
                for v in views]
        parts.append(table(["embedding"] + [lab for _, lab in models], rows, raw=True))
        parts.append("<p class='note'>AUROC [95 % bootstrap CI] of the MI label's own binary probe (logistic "
                     "regression, C tuned on fold 9), from each single lead's frozen embedding.</p>")
    parts.append("<h3>PTB Diagnostic: MI vs healthy controls (patient-grouped cross-validation)</h3>")
    ptbdb = sec.get("ptbdb", {})
    any_ok = False
    for role, label in _models(results):
        res = ptbdb.get(role)
        if res is None:
            continue
        if res.get("status") != "ok":
            parts.append(f"<p class='skipped'><b>{esc(label)}</b>: not evaluated — {esc(res.get('reason', ''))}</p>")
            continue
        any_ok = True
        rows = [[esc(v), fmt_ci(r["auroc"], r.get("ci")), f"{fmt(r['accuracy_mean'])} ± {fmt(r['accuracy_std'])}"]
                for v, r in res["views"].items()]
        parts.append(f"<p class='note'><b>{esc(label)}</b>: {res['n_used_records']} records "
                     f"({res['n_mi_records']} MI, {res['n_healthy_records']} healthy) of "
                     f"{res['n_mi_patients'] + res['n_healthy_patients']} patients, {res['n_splits']} folds.</p>")
        parts.append(table(["embedding", "AUROC (pooled out-of-fold)", "accuracy (mean ± std over folds)"], rows,
                           raw=True))
    if not any_ok and not ptbdb:
        parts.append("<p class='skipped'>not run</p>")
    return "\n".join(parts)


#: The remark on paper 1's identification figure (an unverified claim, not a measurement here).
PAPER1_ECGID_REMARK = (
    "The 99.68 % ECG-ID identification accuracy quoted for paper 1 is the paper's own, unverified claim. "
    "It was not reproduced here; an accuracy of that kind is reproducible only under a leaky protocol like "
    "<span class='leaky'>window-random</span>, where windows of the same recording are both enrolled and "
    "identified, not under cross-record or cross-session."
)


def _best_bold(cells: list[str]) -> list[str]:
    """Bold the largest formatted accuracy among ``cells`` (ties all bold; '–' ignored)."""
    vals = [float(c) if c not in ("–", "") else -math.inf for c in cells]
    top = max(vals, default=-math.inf)
    if not math.isfinite(top):
        return cells
    return [f"<b>{c}</b>" if v == top else c for c, v in zip(cells, vals, strict=True)]


def _ecgid_table(sec: dict[str, Any], ok: list[tuple[str, str]]) -> str:
    """Rows: protocol × level (window, record); columns: the chance level, the median-beat template
    and every model's NN / linear (and on shifted crops when run); best accuracy per row in bold."""
    first = sec[ok[0][0]]
    shifted = all("shifted" in sec[r] for r, _ in ok)
    tmpl = first.get("template", {}).get("protocols", {})
    sub = ["NN", "linear"] + (["NN, shifted crops", "linear, shifted crops"] if shifted else [])
    top = "".join(f"<th rowspan='2'>{h}</th>" for h in ("protocol", "level", "persons", "enrol / probe", "chance"))
    if tmpl:
        top += "<th>median-beat template</th>"
    top += "".join(f"<th colspan='{len(sub)}'>{esc(lab)}</th>" for _, lab in ok)
    second = ("<th>NN</th>" if tmpl else "") + "".join(f"<th>{esc(h)}</th>" for _ in ok for h in sub)
    rows = []
    for p, info in first["protocols"].items():
        leaky = info.get("leaky", False)
        name = f"<span class='leaky'>{esc(p)} (LEAKY)</span>" if leaky else esc(p)
        for level, pre in (("window", ""), ("record", "record_")):
            if level == "window":
                counts = f"{info['n_enrol_windows']} / {info['n_probe_windows']} windows"
            elif str(info.get("record_level", "")).startswith("n/a") or not info.get("n_persons"):
                counts = "n/a (records on both sides)" if leaky else "–"
            else:
                counts = f"{info.get('n_enrol_records', '–')} / {info.get('n_probe_records', '–')} records"
            cells = [fmt(tmpl.get(p, {}).get(f"{pre}nn_top1"))] if tmpl else []
            for r, _ in ok:
                q = sec[r]["protocols"][p]
                cells += [fmt(q.get(f"{pre}nn_top1")), fmt(q.get(f"{pre}linear_top1"))]
                if shifted:
                    qs = sec[r]["shifted"]["protocols"][p]
                    cells += [fmt(qs.get(f"{pre}nn_top1")), fmt(qs.get(f"{pre}linear_top1"))]
            row = [name, level, esc(info["n_persons"]), counts, fmt(info["chance"]), *_best_bold(cells)]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return (f"<div class='tw'><table class='ecgid'><thead><tr>{top}</tr><tr>{second}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _section_ecgid(results: dict[str, Any]) -> str:
    parts = ["<h2>4. ECG-ID person identification (lead I)</h2>"]
    sec = results["sections"].get("ecgid", {})
    models = [(r, lab) for r, lab in _models(results) if r in sec]
    if not models:
        return parts[0] + "<p class='skipped'>not run</p>"
    ok = [(r, lab) for r, lab in models if "protocols" in sec[r]]
    for r, lab in models:
        if r not in dict(ok):
            parts.append(f"<p class='skipped'><b>{esc(lab)}</b>: {esc(sec[r].get('reason', 'n/a'))}</p>")
    if ok:
        first = sec[ok[0][0]]
        parts.append(_ecgid_table(sec, ok))
        note = (f"Top-1 accuracy ({first['window_s']:g}-s windows, non-overlapping, from {first['n_records']} "
                f"records of {first['n_persons_total']} persons at {first['fs']:g} Hz); the best value of each row "
                "in bold. <b>Window level</b>: every probe window on its own; NN = nearest enrolled window by "
                "cosine, linear = logistic regression (C = 1) on standardised embeddings of the enrolled windows. "
                "<b>Record level</b>: every probe record once, its embedding the mean of its window embeddings; "
                "NN against every enrolled record (not a per-person mean), linear = the window classifier on the "
                "record mean (= the mean of its windows' logits). "
                "<span class='leaky'>window-random (LEAKY)</span> mixes the windows of all records, so adjacent "
                "windows of one recording are enrolled and identified: a literature-style optimistic number, not "
                "a test of identifying a person (no record level: records are split between the sides). "
                "<b>cross-record</b> enrols rec_1 and identifies rec_2, <b>cross-session</b> enrols the earliest "
                "recording day and identifies later days.")
        if "shifted" in first:
            sh = first["shifted"]
            note += (f" <b>Shifted crops</b>: each window's embedding is the mean over crops shifted every "
                     f"{sh['shift_ms']:g} ms within ±{sh['span_s'] / 2:g} s of it, inside the record (no padding; "
                     f"{sh['n_crops']} crops), so the beat phase averages out; a window then sees up to "
                     f"{sh['span_s'] / 2:g} s beyond its edges (always of its own record).")
        t = first.get("template")
        if t:
            note += (f" <b>Median-beat template</b> (classical reference, no model): R peaks of lead I at "
                     f"{t['fs']:g} Hz, beats from −{t['pre_s']:g} s to +{t['post_s']:g} s, sample-wise median, "
                     "z-scored; window level from the beats inside the window, record level from all beats of "
                     f"the record (median {fmt(t.get('median_beats_per_record'), 0)} beats); cosine 1-NN against "
                     f"the enrolled windows / records ({t.get('windows_without_beat', 0)} window(s) without a "
                     "complete beat).")
        parts.append(f"<p class='note'>{note}</p>")
        parts.append(f"<p class='note remark'>{PAPER1_ECGID_REMARK}</p>")
    return "\n".join(parts)


def _section_recon(results: dict[str, Any], figs: dict[str, Path]) -> str:
    parts = ["<h2>5. Reconstruction of 12 leads from one lead</h2>"]
    sec = results["sections"].get("reconstruction", {})
    models = [(r, lab) for r, lab in _models(results) if r in sec and "r" in sec[r]]
    for r, lab in _models(results):
        if r in sec and "r" not in sec[r]:
            parts.append(f"<p class='skipped'><b>{esc(lab)}</b>: {esc(sec[r].get('reason', 'n/a'))}</p>")
    if not models:
        return "\n".join(parts)
    first = sec[models[0][0]]
    inputs = first["inputs"]
    rows = [[esc(s)] + [f"{fmt(sec[r]['mean_r_other'][s])} / {fmt(sec[r]['mean_rmse_other'][s])}" for r, _ in models]
            for s in inputs]
    parts.append(table(["input lead"] + [f"{lab}: r / RMSE (mV)" for _, lab in models], rows, raw=True))
    parts.append(f"<p class='note'>PTB-XL test fold: {first['n_test_windows']} windows of {first['window_samples']} "
                 f"samples at {first['fs']:g} Hz from {first['n_test_records']} records. Pearson r per window, "
                 "averaged; RMSE in mV over all samples (amplitude from the training-fold calibration). Means over "
                 "the 11 leads other than the input.</p>")
    r0, lab0 = models[0]
    parts.append(f"<h3>Pearson r, input lead (rows) → target lead (columns), {esc(lab0)}</h3>")
    parts.append(color_table(np.asarray(sec[r0]["r"]), inputs, first["leads"], "in \\ out", 0.0, 1.0))
    parts.append(f"<h3>RMSE (mV), {esc(lab0)}</h3>")
    parts.append(color_table(np.asarray(sec[r0]["rmse"]), inputs, first["leads"], "in \\ out", 0.0,
                             float(np.nanmax(sec[r0]["rmse"])), cmap="viridis_r", digits=3))
    for key, cap in (("recon_r", "Pearson r of every (input, target) lead pair, per model."),
                     ("recon_example", f"A test ECG (fold 10) reconstructed from lead I alone by {esc(lab0)} "
                                       "(black) over the true 12 leads (blue), on ECG paper (25 mm/s, 10 mm/mV). "
                                       "The window shown has the median mean r of the test windows whose leads "
                                       "all stay within 4 mV peak to peak (a typical case, not the best one).")):
        if key in figs:
            parts.append(img(figs[key], cap, cls="ecg" if key == "recon_example" else ""))
    return "\n".join(parts)


def _section_benchmark(benchmark: dict[str, Any] | None) -> str:
    parts = ["<h2>6. Reconstruction benchmark (I, II, V2 → 12 leads)</h2>"]
    if not benchmark or benchmark.get("status") != "ok":
        reason = (benchmark or {}).get("reason", "the reconstruction benchmark was not run "
                                       "(`leadlift reconstruct-benchmark --inputs I,II,V2 --out DIR`)")
        parts.append(f"<p class='skipped'>not available: {esc(reason)}</p>")
        return "\n".join(parts)
    parts.append("<div class='bench'>")
    if benchmark.get("markdown"):
        parts.append(markdown_to_html(benchmark["markdown"]))
    for p in benchmark.get("figures", []):
        parts.append(img(p, esc(Path(p).name)))
    parts.append(f"<p class='note'>From {esc(benchmark.get('dir', ''))}.</p></div>")
    return "\n".join(parts)


def _slug(text: str) -> str:
    """``id`` of a heading: ``"4. ECG-ID person identification"`` → ``"sec-ecg-id-person-identification"``."""
    words = re.sub(r"<[^>]+>|&[a-z]+;|^\s*\d+\.\s*", " ", text).lower()
    return "sec-" + ("-".join(re.findall(r"[a-z0-9]+", words)) or "section")


def with_toc(body: str) -> str:
    """Give every ``<h2>`` of ``body`` an ``id`` and put a table of contents (links to them) before
    the first one."""
    heads: list[tuple[str, str]] = []

    def anchor(m: re.Match[str]) -> str:
        title = m.group(1)
        slug, n = _slug(title), 2
        while slug in dict(heads):
            slug, n = f"{_slug(title)}-{n}", n + 1
        heads.append((slug, title))
        return f"<h2 id='{slug}'>{title}</h2>"

    body = re.sub(r"<h2>(.*?)</h2>", anchor, body, flags=re.S)
    if not heads:
        return body
    items = "".join(f"<li><a href='#{slug}'>{title}</a></li>" for slug, title in heads)
    toc = f"<nav class='toc' id='contents'><b>Contents</b><ul>{items}</ul></nav>"
    i = body.index(f"<h2 id='{heads[0][0]}'>")
    return body[:i] + toc + body[i:]


def render_report(results: dict[str, Any], figs: dict[str, Path], path: str | Path,
                  benchmark: dict[str, Any] | None = None) -> Path:
    """Write the report page.

    Args:
        results: the evaluation results (``results.json``; see :mod:`leadlift.evaluation.evaluate`).
        figs: figure key → PNG path (embedded).
        path: the HTML file to write.
        benchmark: ``{"status": "ok", "markdown", "figures", "dir"}`` of the reconstruction
            benchmark, or ``{"status": "missing", "reason"}``.

    Returns:
        ``path``.
    """
    models = "".join(f"<li><b>{esc(m['label'])}</b> ({esc(role)}): {esc(m['source'])}"
                     f"{' — ' + esc(m['description']) if m.get('description') else ''}</li>"
                     for role, m in results["models"].items())
    data = results.get("data", {})
    body = [
        "<h1>leadlift evaluation report</h1>",
        f"<p class='note'>Checkpoint <code>{esc(results.get('checkpoint', ''))}</code>, evaluated "
        f"{esc(results.get('created', ''))} in {fmt(results.get('seconds'), 0)} s with leadlift "
        f"{esc(results.get('leadlift_version', ''))}. Data: {esc(data.get('dir', ''))}.</p>",
        f"<ul class='note'>{models}</ul>",
        "<h2>Headline numbers</h2>",
        _section_headline(results),
        "<p class='note'>Every number below has the random-initialised encoder of the same architecture "
        "beside it: what a trained encoder adds is the difference, not the number alone.</p>",
        _section_agreement(results, figs),
        _section_probes(results, figs),
        _section_mi(results),
        _section_ecgid(results),
        _section_recon(results, figs),
        _section_benchmark(benchmark),
        "<h2>Data used</h2>",
        table(["dataset", "what"], [[k, v] for k, v in data.get("summary", {}).items()]),
    ]
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>leadlift evaluation</title>"
            f"<style>{CSS}</style></head><body>{with_toc(''.join(body))}</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
