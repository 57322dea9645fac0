"""The package's one compiled module; all other metadata lives in pyproject.toml.

karma._linescan is the comment scan's inner loop (src/karma/_linescan.c). Building it needs a C
compiler and the Python headers, which `make demo` / `make test` find on a usual Linux or macOS.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("karma._linescan", ["src/karma/_linescan.c"],
                             extra_compile_args=["-O2"])])
