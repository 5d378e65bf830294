# ddgan: every entry point a user needs. Each target creates or reuses .venv first.
PYTHON     ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
# torch is pinned to the release this project is tested with; override on other machines,
# e.g. make TORCH_SPEC="torch torchvision" test
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PROFILE    ?= quick
STAMP      := $(VENV)/.installed

.PHONY: install demo test bench device-check clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ddgan.demo --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.bench

# the prepared GPU check (< 8 minutes on one CUDA GPU; a tiny plumbing run without one)
device-check: $(STAMP)
	$(PY) -m benchmarks.device_check

clean-venv:
	rm -rf $(VENV)

# the paper's tables: download -> prepare -> train -> evaluate -> compare (see reproduce/)
-include reproduce/targets.mk
