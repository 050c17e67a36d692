# Two commands on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install dev test test-unit bench chaos topics schemas clean kafka-start kafka-stop check-deploy

install: $(STAMP)
	@deploy/install-system.sh
	@deploy/kafka/local.sh fetch
	@deploy/prometheus/promtool.sh >/dev/null

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

# Ten minutes of worker kills and broker restarts (README, "Chaos"); SEED=n replays a scenario.
chaos: install
	$(PY) -m chaos $(if $(SEED),--seed $(SEED))

schemas: install
	$(PY) -m schemas

# Prometheus config, rules and rule unit tests with Debian's promtool 2.42
# (the integration tests' server) and the pinned 3.x (docker-compose.yml's),
# then the Alertmanager config.
check-deploy:
	@deploy/install-system.sh
	@set -e; promtool3=$$(deploy/prometheus/promtool.sh | tail -n1); \
	for promtool in promtool "$$promtool3"; do \
	  "$$promtool" --version | head -n1; \
	  "$$promtool" check config deploy/prometheus/prometheus.yml; \
	  "$$promtool" check rules deploy/prometheus/rules/*.yml; \
	  (cd deploy/prometheus/tests && "$$promtool" test rules *.test.yml); \
	done
	amtool check-config deploy/alertmanager/alertmanager.yml

kafka-start:
	deploy/kafka/local.sh start

kafka-stop:
	deploy/kafka/local.sh stop

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .sla-data deploy/kafka/target
