# The two commands of the README: `make run` (set up and start everything) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SOM_PORT ?= 8100
export COM_PORT := $(PORT)
export SOM_PORT
export COM_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
export COM_SOM_URL ?= http://127.0.0.1:$(SOM_PORT)/tmf-api/serviceOrdering/v4

.PHONY: run test setup clean

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
	@$(BIN)/python scripts/banner.py
	$(BIN)/honcho start -f Procfile

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 somsim.sqlite3 .broker staticfiles .celerybeat-schedule*
