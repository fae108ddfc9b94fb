# ats: make run | make test | make bench | make lint | make clean
PY          ?= python3
VENV        ?= .venv
INSYNC_VENV ?= .venv-insync
BIN         := $(VENV)/bin
ATS_HOME    ?= $(CURDIR)/var
export ATS_HOME

.PHONY: install run test bench lint clean

install: $(BIN)/.installed

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,plot]'
	touch $@

# ib_insync and ib_async both install a top-level `eventkit`, so ib_insync gets its own venv,
# with what a strategy host needs (no ArcticDB), to prove it is a drop-in for ib_async.
$(INSYNC_VENV)/.installed: setup.cfg
	$(PY) -m venv $(INSYNC_VENV)
	$(INSYNC_VENV)/bin/pip install -q 'ib_insync==0.9.86' 'pandas>=2.2,<3' numpy pyzmq msgpack \
		tomli-w exchange-calendars
	$(INSYNC_VENV)/bin/pip install -q --no-deps -e .
	touch $@

run: install
	$(BIN)/ats-ctl init --if-missing
	$(BIN)/ats-ctl up --foreground

test: install $(INSYNC_VENV)/.installed
	ATS_INSYNC_PYTHON=$(CURDIR)/$(INSYNC_VENV)/bin/python $(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check ats bus strategies tests bench
	$(BIN)/mypy ats bus strategies

clean:
	rm -rf $(VENV) $(INSYNC_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
