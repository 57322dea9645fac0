# Two-command quick start: `make demo` and `make test`. Both create .venv when missing and
# reinstall only when pyproject.toml, setup.py or the C source changed (the stamp file records the
# last install). The install builds karma.data._linescan in place, in src/karma/data, where jobs import it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake

.PHONY: demo test lint dryrun-paper rehearsal clean-demo

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

# The paper config, shrunk (config/rehearsal.yaml), end to end offline on a CPU: every rule the paper
# runs but the downloads, whose outputs karma.demo.rehearsal pre-places in hub layout. A fresh working
# directory and an empty HF_HOME each time, so nothing comes from an earlier run or a hub cache.
REHEARSAL_DIR ?= build/rehearsal
rehearsal: $(STAMP)
	rm -rf $(REHEARSAL_DIR)
	mkdir -p $(REHEARSAL_DIR)/hf-home
	export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME=$(abspath $(REHEARSAL_DIR))/hf-home; \
	$(BIN)/python -m karma.demo.rehearsal $(REHEARSAL_DIR)/work --config config/rehearsal.yaml && \
	$(SNAKEMAKE) -s Snakefile --directory $(REHEARSAL_DIR)/work --cores $(CORES) \
		--configfile config/rehearsal.yaml $(REHEARSAL_DIR)/work/rehearsal-downloads.yaml

clean-demo:
	rm -rf results/demo resources/demo
