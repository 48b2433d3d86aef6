"""The compiled extensions are the ones loaded, unless HPBROKER_PURE selects the twins."""

import importlib
import pkgutil
from pathlib import Path

import hpbroker
from hpbroker import _speedups

ROOT = Path(hpbroker.__file__).parent.parent


def _all_extension_names():
    names = []
    for pyx in (ROOT / "cython").rglob("*.pyx"):
        rel = pyx.relative_to(ROOT / "cython").with_suffix("")
        names.append("hpbroker." + ".".join(rel.parts))
    return sorted(names)


def _import_everything():
    for mod in pkgutil.walk_packages(hpbroker.__path__, "hpbroker."):
        if mod.name.rsplit(".", 1)[-1].startswith("_c"):
            continue  # compiled modules are imported through _speedups.load
        if mod.name.startswith("hpbroker.testing"):
            continue
        importlib.import_module(mod.name)


def test_every_extension_has_a_loader():
    _import_everything()
    assert _all_extension_names(), "no Cython sources found"
    assert set(_all_extension_names()) <= set(_speedups.LOADED), (
        "a cython/ module is never loaded through _speedups.load"
    )


def test_compiled_or_pure_as_requested():
    _import_everything()
    for name, mod in _speedups.LOADED.items():
        if _speedups.PURE:
            assert mod.__name__ != name, f"{name}: HPBROKER_PURE=1 but the compiled module is used"
        else:
            assert mod.__name__ == name, f"{name}: compiled module not loaded"
            assert mod.__file__.endswith((".so", ".pyd")), mod.__file__
    assert not _speedups.FALLBACKS, f"compiled modules failed to import: {_speedups.FALLBACKS}"
