"""The import contract: the arrows between onemap's rooms, read from docs/architecture.md.

Every import in the production packages (also those inside functions) must follow an allowed
arrow; the web framework stays in `dashboards/`, folium in `layers/`, and the synthetic generator
is imported only by the command line, the tests and the benchmarks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
#: Third-party packages that belong to one room only.
CONFINED = {
    "dash": {"dashboards"},
    "dash_leaflet": {"dashboards"},
    "dash_extensions": {"dashboards"},
    "dash_bootstrap_components": {"dashboards"},
    "flask": {"dashboards"},
    "flask_compress": {"dashboards"},
    "waitress": {"dashboards"},
    "folium": {"layers"},
}
MAX_MODULE_LINES = 600


def allowed_arrows() -> dict[str, set[str]]:
    """``room -> rooms it may import``, from the fenced block after the contract marker."""
    text = DOC.read_text("utf-8")
    block = re.search(r"<!-- import-contract -->\s*```text\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md lost its import-contract block"
    arrows: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        room, _, targets = line.partition("→")
        arrows[room.strip()] = {room.strip()} | {t for t in re.split(r"[,\s]+", targets) if t}
    return arrows


ARROWS = allowed_arrows()
ROOMS = set(ARROWS)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module an import statement in ``path`` names, with its line."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports"
            found.append((node.lineno, node.module or ""))
    return found


def production_files() -> list[Path]:
    return sorted(
        path for room in ROOMS for path in (ROOT / room).rglob("*.py") if "assets" not in path.parts
    )


def test_the_contract_names_every_package() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == ROOMS, "docs/architecture.md and the top-level packages disagree"
    assert ARROWS["core"] == {"core"}, "core imports nothing of ours"
    for room, targets in ARROWS.items():
        if room not in {"synth", "onemap"}:
            assert "synth" not in targets, f"{room} may not import synth (only the CLI may)"


@pytest.mark.parametrize("path", production_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_arrows(path: Path) -> None:
    room = path.relative_to(ROOT).parts[0]
    wrong = []
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        if top in ROOMS and top not in ARROWS[room]:
            wrong.append(f"line {line}: {room} → {top} ({module})")
        if top in CONFINED and room not in CONFINED[top]:
            wrong.append(f"line {line}: {top} may only be imported in {sorted(CONFINED[top])}")
    assert not wrong, f"{path.relative_to(ROOT)}: " + "; ".join(wrong)


def test_synth_is_imported_only_by_the_command_line() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for path in production_files()
        if path.relative_to(ROOT).parts[0] != "synth"
        and any(module.split(".")[0] == "synth" for _, module in imported_modules(path))
    }
    assert importers <= {"onemap/cli.py"}, importers


def test_an_arrow_against_the_contract_is_caught(tmp_path: Path) -> None:
    """The checker itself can fail: a core module importing dashboards is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from dashboards import app\n    import dash\n")
    tops = {module.split(".")[0] for _, module in imported_modules(bad)}
    assert "dashboards" not in ARROWS["core"] and "dashboards" in tops
    assert "dash" in tops and "core" not in CONFINED["dash"]


@pytest.mark.parametrize("path", production_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it"
