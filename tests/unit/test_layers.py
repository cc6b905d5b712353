"""The package's architecture, checked: layers only point down (see ``leadlift/__init__.py``),
evaluation never trains, and inference never loads Lightning."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import leadlift

ROOT = Path(leadlift.__file__).resolve().parent

#: layer of every top-level module/package of leadlift; a module may import its own layer's
#: siblings only at layers 0, 2 (models ↔ losses) and 3, never training ↔ evaluation or
#: workflows ↔ api
LAYERS: dict[str, int] = {
    "errors": 0, "conventions": 0, "serialization": 0, "ecg": 0, "units": 0, "atomic": 0, "paths": 0,
    "preprocessing": 0, "config": 0,
    "recon_config": 0, "configs": 0, "plotting": 0,
    "io": 1,
    "data": 2, "models": 2, "losses": 2,
    "inference": 3,
    "training": 4, "evaluation": 4,
    "workflows": 5, "api": 5,
    "cli": 6,
}
NO_SIBLINGS = {"training", "evaluation", "workflows", "api", "data", "models"}
ALLOWED = {("data", "models"): False, ("models", "losses"): True, ("losses", "models"): True}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("leadlift"):
            out.append(node.module)
            if node.module == "leadlift":
                out += [f"leadlift.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("leadlift")]
    return out


def test_every_module_has_a_layer() -> None:
    tops = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops <= set(LAYERS), f"give these a layer in LAYERS and in leadlift/__init__.py: {tops - set(LAYERS)}"


def test_layers_only_point_down() -> None:
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        mine = _top(".".join(rel.parts))
        if mine in ("", "__init__"):  # the package root re-exports LeadLift lazily
            continue
        for name in _imports(path):
            theirs = _top(name)
            if theirs in ("", mine) or theirs not in LAYERS:
                continue
            pair = (mine, theirs)
            if LAYERS[theirs] > LAYERS[mine]:
                bad.append(f"{rel}: imports {name} (layer {LAYERS[theirs]} > {LAYERS[mine]})")
            elif LAYERS[theirs] == LAYERS[mine] and not ALLOWED.get(pair, LAYERS[mine] in (0, 3)) and (
                    mine in NO_SIBLINGS or theirs in NO_SIBLINGS):
                bad.append(f"{rel}: imports {name} (same layer {LAYERS[mine]})")
    assert not bad, "\n".join(bad)


def test_evaluation_never_trains() -> None:
    words = ("lightning", "Trainer", "torch.optim", ".backward(", "optimizer", "fit_supcon", "fit_reconstructor")
    hits = [f"{p.name}: {w}" for p in (ROOT / "evaluation").rglob("*.py") for w in words if w in p.read_text()]
    assert not hits, hits


def test_loading_a_model_for_inference_never_imports_lightning() -> None:
    code = ("import sys, leadlift.api; leadlift.api.LeadLift.from_pretrained('recon-i'); "
            "leadlift.api.LeadLift.from_pretrained('mae-cpu'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning') "
            "or m.startswith(('leadlift.training', 'leadlift.evaluation', 'leadlift.workflows'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"
