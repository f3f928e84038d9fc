"""The dependency rules of docs/architecture.md, checked on the source (no Django, no database)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("hikmax_site", *sorted(config.parent.name for config in ROOT.glob("*/apps.py")))
NUMERICAL = [ROOT / "recsys" / "ml", *sorted(ROOT.glob("*/engine"))]  # engines other apps add are included


def _sources(*folders: Path):
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _imports(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module, node, inside a function) for every import of a file, relative ones made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child, inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                found.extend((f"{base}.{alias.name}", child, inside) for alias in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


def _violations(folders, forbidden) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"
            for path in _sources(*folders) for module, node, _ in _imports(path)
            if any(module == name or module.startswith(f"{name}.") for name in forbidden)]


def test_recsys_never_imports_recourse_or_the_dashboard():
    assert _violations([ROOT / "recsys"], ("recourse", "dashboard")) == []


def test_accounts_is_the_bottom_layer():
    assert _violations([ROOT / "accounts"], ("recsys", "recourse", "dashboard")) == []


def test_nothing_imports_the_dashboard():
    folders = [ROOT / app for app in APPS if app != "dashboard" and app != "hikmax_site"]
    assert _violations(folders, ("dashboard",)) == []


def test_numerical_code_imports_no_django_and_no_app_layer():
    assert _violations(NUMERICAL, ("django", "rest_framework", "accounts", "dashboard",
                                   "recsys.models", "recsys.services", "recsys.selectors",
                                   "recourse.models", "recourse.services", "recourse.selectors")) == []


def test_model_classes_do_not_import_the_trainer():
    assert _violations([ROOT / "recsys" / "ml" / "models"], ("recsys.ml.training", "recsys.ml.pipeline")) == []


def test_no_import_module_in_app_code():
    offenders = [f"{path.relative_to(ROOT)}" for path in _sources(*(ROOT / app for app in APPS))
                 if "import_module" in path.read_text()]
    assert offenders == []


@pytest.mark.parametrize("app", APPS)
def test_imports_inside_functions_say_why(app):
    unexplained = []
    for path in _sources(ROOT / app):
        lines = path.read_text().splitlines()
        for module, node, in_function in _imports(path):
            if not in_function:
                continue
            above = node.lineno - 2
            while above >= 0 and (lines[above].strip().startswith(("from ", "import ")) or not lines[above].strip()):
                above -= 1  # a comment may explain a group of imports
            if "#" not in lines[node.lineno - 1] and not (above >= 0 and lines[above].strip().startswith("#")):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert unexplained == []


def test_browser_test_timeouts_have_one_home():
    """Browser tests take their timeouts from tests/browser/conftest.py instead of writing their own copies."""
    browser = ROOT / "tests" / "browser"
    defined = {path.name: [target.id for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
                           for target in node.targets if isinstance(target, ast.Name) and target.id.endswith("_MS")]
               for path in sorted(browser.glob("*.py"))}
    assert {name: found for name, found in defined.items() if found and name != "conftest.py"} == {}
    assert "FIRST_LOAD_MS" in defined["conftest.py"]
