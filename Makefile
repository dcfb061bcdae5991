# The two commands of the README: `make run` (the demo: set up and start everything) and `make test`.
# `make serve` is the production path: no demo data, no demo users, no simulator (see the README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SOM_PORT ?= 8100
# The demo's addresses, given to `make run` only: production takes every address from the environment.
COM_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
COM_SOM_URL ?= http://127.0.0.1:$(SOM_PORT)/tmf-api/serviceOrdering/v4
DEMO_ENV := COM_PORT=$(PORT) SOM_PORT=$(SOM_PORT) COM_PUBLIC_URL=$(COM_PUBLIC_URL) COM_SOM_URL=$(COM_SOM_URL)
PRODUCTION_ENV := DJANGO_SETTINGS_MODULE=comapp.production

.PHONY: run test test-e2e setup serve clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py collectstatic --noinput -v0

run: setup
	@$(DEMO_ENV) $(BIN)/python scripts/banner.py
	$(DEMO_ENV) $(BIN)/honcho start -f Procfile

# Production: comapp.production refuses to start without SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL,
# CELERY_BROKER_URL, COM_SOM_URL, SOM_EVENT_SECRET and COM_PUBLIC_URL in the environment.
serve: $(VENV)/.installed
	$(PRODUCTION_ENV) $(BIN)/python manage.py migrate --noinput
	$(PRODUCTION_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(PRODUCTION_ENV) $(BIN)/python manage.py check --deploy
	$(PRODUCTION_ENV) $(BIN)/honcho start -f Procfile.production

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole suite with the end-to-end tests, on a local PostgreSQL and Redis (started if down): what CI runs.
test-e2e:
	bash .ci/run

clean:
	rm -rf $(VENV) db.sqlite3 somsim.sqlite3 .broker staticfiles .celerybeat-schedule*
