"""pytest imports a test module outside a package by its basename alone (rootdir mode): two
folders without `__init__.py` holding the same basename stop the whole session at collection,
so every run of one folder passes and only the full run fails."""

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _top_level_modules() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if "__pycache__" in path.parts or path.name == "__init__.py":
            continue
        if (path.parent / "__init__.py").is_file():
            continue  # imported as package.module, its basename may repeat
        found[path.stem].append(path.relative_to(TESTS))
    return found


def test_modules_outside_packages_have_unique_basenames():
    modules = _top_level_modules()
    assert "test_drills" in modules or any(name.startswith("test_") for name in modules)
    clashes = {name: paths for name, paths in modules.items() if len(paths) > 1 and name != "conftest"}
    assert clashes == {}, f"rename one of each: {clashes}"


def test_no_test_module_imports_a_conftest_by_name():
    """Every folder has a conftest.py: `from conftest import X` gets whichever was imported first,
    and a run of two folders fails at collection. Shared names live in a harness module."""
    importing = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                 if "__pycache__" not in path.parts
                 and any(line.startswith(("from conftest import", "import conftest"))
                         for line in path.read_text().splitlines())]
    assert len(list(TESTS.rglob("conftest.py"))) > 1
    assert importing == [], f"import these names from a harness module instead: {importing}"
