"""The four stage packages never import each other; only skyseal wires them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("generator", "safety", "provenance", "audits")


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_no_other_stage_or_root(stage):
    offenders = {}
    for path in (ROOT / stage).rglob("*.py"):
        bad = _imported_top_levels(path) & (set(STAGES) - {stage} | {"skyseal"})
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_layout_scan_sees_a_planted_cross_import(tmp_path):
    planted = tmp_path / "x.py"
    planted.write_text("from provenance import Ledger\nimport safety.policy\n")
    assert {"provenance", "safety"} <= _imported_top_levels(planted)
