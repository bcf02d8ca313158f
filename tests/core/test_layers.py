"""The layers hold (README, Layout): core imports neither bots nor jobs, and loads no chat library; core's
packages import in the order core/layers.py declares."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_never_imports_bots_or_jobs():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] in ("bots", "jobs"))
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_core_module_imports_without_a_chat_library_or_the_scheduler():
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "core").rglob("*.py")
        if "migrations" not in path.parts
    )
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'discord', 'apscheduler', 'bots', 'jobs'})\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


# -- the declared domain order (core.layers) ------------------------------------------------------


def _core_imports(path: Path, core: Path) -> set[str]:
    """The core packages ``path`` imports, at any depth (inside functions and ``TYPE_CHECKING`` too)."""
    here = path.relative_to(core.parent).with_suffix("").parts  # ("core", "pkg", "module")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(here[: len(here) - node.level]) if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            # ``from core import market`` names the package in the alias, not the module
            modules = [[*module, alias.name] for alias in node.names] if module == ["core"] else [module]
        else:
            continue
        found.update(m[1] for m in modules if len(m) > 1 and m[0] == "core")
    return found


def layer_violations(root: Path, layers) -> list[str]:
    """Every import in ``root/core`` of a package declared later than the importer (or not at all)."""
    rank = {name: i for i, name in enumerate(n for _, names in layers for n in names)}
    core = root / "core"
    problems = []
    for path in sorted(core.rglob("*.py")):
        parts = path.relative_to(core).with_suffix("").parts
        if "migrations" in parts or parts == ("__init__",):
            continue
        package = parts[0]
        if package not in rank:
            problems.append(f"core/{'/'.join(parts)}.py: core.{package} is in no layer (core/layers.py)")
            continue
        for other in sorted(_core_imports(path, core) - {package}):
            if other not in rank:
                problems.append(f"core/{'/'.join(parts)}.py imports core.{other}, which is in no layer")
            elif rank[other] > rank[package]:
                problems.append(f"core/{'/'.join(parts)}.py imports core.{other}, declared after core.{package}")
    return problems


def test_core_packages_import_only_what_is_declared_before_them():
    from core.layers import LAYERS, UNLAYERED

    declared = [name for _, names in LAYERS for name in names]
    assert len(declared) == len(set(declared)), "a package is declared twice"
    assert layer_violations(ROOT, (*LAYERS, ("unlayered", tuple(UNLAYERED)))) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "core" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_order_check_catches_a_reintroduced_cycle(tmp_path):
    layers = (("low", ("market",)), ("high", ("charts",)))
    clean = {
        "market/__init__.py": "",
        "market/service.py": "def info():\n    return 1\n",
        "charts/__init__.py": "",
        "charts/candles.py": "from core.market.service import info\n",
    }
    assert layer_violations(_tree(tmp_path / "clean", clean), layers) == []
    # the cycle market_info once had: the market service drawing its chart, hidden inside a function
    cyclic = clean | {"market/service.py": "def info():\n    from core.charts.candles import render\n"}
    assert layer_violations(_tree(tmp_path / "cyclic", cyclic), layers) == [
        "core/market/service.py imports core.charts, declared after core.market"
    ]
    # and its other spellings: ``from core import ...`` and a relative import
    for text in ("from core import charts\n", "from ..charts import candles\n"):
        spelled = clean | {"market/service.py": text}
        assert layer_violations(_tree(tmp_path / str(len(text)), spelled), layers) != [], text


def test_a_package_outside_every_layer_fails(tmp_path):
    tree = _tree(tmp_path, {"market/__init__.py": "", "extra/__init__.py": "from core.market import x\n"})
    assert layer_violations(tree, (("low", ("market",)),)) == [
        "core/extra/__init__.py: core.extra is in no layer (core/layers.py)"
    ]
