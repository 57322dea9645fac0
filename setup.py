"""The package's one compiled module; all other metadata lives in pyproject.toml.

karma.data._linescan is the comment scan's inner loop (src/karma/data/_linescan.c). Building it needs a C
compiler and the Python headers, which `make demo` / `make test` find on a usual Linux or macOS.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("karma.data._linescan", ["src/karma/data/_linescan.c"],
                             extra_compile_args=["-O2"])])
