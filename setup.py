"""Build hook for hpbroker's Cython extensions.

Every ``cython/<package path>/<name>.pyx`` becomes the extension module
``hpbroker.<package path>.<name>``: ``cython/records/_cbatch.pyx`` is ``hpbroker.records._cbatch``.
A new hot path therefore needs a .pyx file and nothing here. Each extension has a pure-Python twin
in the package (see hpbroker/_speedups.py).
"""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent


def _extensions():
    import numpy
    from Cython.Build import cythonize

    exts = []
    for pyx in sorted((ROOT / "cython").rglob("*.pyx")):
        rel = pyx.relative_to(ROOT / "cython").with_suffix("")
        name = "hpbroker." + ".".join(rel.parts)
        exts.append(
            Extension(
                name,
                [str(pyx.relative_to(ROOT))],
                include_dirs=[numpy.get_include(), str(ROOT / "cython")],
                extra_compile_args=["-O3"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(ext_modules=_extensions())
