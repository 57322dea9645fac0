# Two-command quick start: `make demo` and `make test`. Both create .venv when missing and
# reinstall only when pyproject.toml, setup.py or the C source changed (the stamp file records the
# last install). The install builds karma.data._linescan in place, in src/karma/data, where jobs import it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake

.PHONY: demo test lint dryrun-paper clean-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 is pinned in pyproject.toml so pip takes the CPU wheel on local disk.
$(STAMP): pyproject.toml setup.py src/karma/data/_linescan.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(SNAKEMAKE) --cores $(CORES) --configfile config/config.yaml
	$(SNAKEMAKE) --cores $(CORES) --configfile config/config.yaml --report results/demo/report.html

# pytest exits 5 when it collects no test: that is a failure of the suite, not a pass.
test: $(STAMP)
	@$(BIN)/python -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(SNAKEMAKE) --lint

# The paper's plan, as README.md gives it (config/paper.yaml replaces the demo config, it is complete).
dryrun-paper: $(STAMP)
	$(SNAKEMAKE) -n --configfile config/paper.yaml

clean-demo:
	rm -rf results/demo resources/demo
