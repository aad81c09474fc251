# The two commands a newcomer needs:  make run   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	./scripts/install-system-deps.sh

run: setup
	$(VENV)/bin/ngx-explore

test: setup system-deps
	$(PY) -m pytest

bench: setup system-deps
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
