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

# A run killed by a signal (an interpreter crash in a C extension, not a test failure) is
# reported and run once more, so that one crash does not hide the suite's verdict.
test: setup system-deps
	@$(PY) -m pytest || { rc=$$?; if [ $$rc -ge 128 ]; then \
		echo "make test: pytest died on signal $$((rc - 128)); running the suite once more" >&2; \
		$(PY) -m pytest; else exit $$rc; fi; }

bench: setup system-deps
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
