# Two commands on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install dev test test-unit bench topics schemas clean kafka-start kafka-stop

install: $(STAMP)
	@deploy/install-system.sh
	@deploy/kafka/local.sh fetch

$(STAMP): pyproject.toml
	@deploy/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	@touch $(STAMP)

dev: install
	$(PY) -m stream dev

test: install
	$(PY) -m pytest tests

test-unit: install
	$(PY) -m pytest tests/unit

bench: install
	$(PY) -m bench.run

schemas: install
	$(PY) -m schemas

kafka-start:
	deploy/kafka/local.sh start

kafka-stop:
	deploy/kafka/local.sh stop

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .sla-data deploy/kafka/target
