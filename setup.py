"""The package's one compiled module; all other metadata lives in pyproject.toml.

karma.data._linescan is the comment scan's inner loop (src/karma/data/_linescan.c). It is optional:
without a C compiler or the Python headers the build prints a warning and the install goes on, and
the scan runs the same rule in Python (karma.data.link_id_scan, several times slower), saying so once
in each comment-scan job's log. `make demo` / `make test` build it wherever a compiler is found.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("karma.data._linescan", ["src/karma/data/_linescan.c"],
                             extra_compile_args=["-O2"], optional=True)])
