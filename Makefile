# ats: make run | make test | make test-unit | make test-clock | make bench | make lint | make clean | make browser
PY          ?= python3
VENV        ?= .venv
INSYNC_VENV ?= .venv-insync
IBAPI_VENV  ?= .venv-ibapi
BIN         := $(VENV)/bin
ATS_HOME    ?= $(CURDIR)/var
export ATS_HOME

# Test modules run in two processes, each module whole in one (they share a system per module).
PYTEST_ARGS ?= -n 2 --dist loadfile
# The tests that read a clock, and the instants they are run at with every clock faked: a
# Saturday, Christmas Day, the afternoon of a half day (day after Thanksgiving), 03:00 UTC on
# a weekday. The system tests pin the simulator's clock and are run under faketime by hand.
CLOCK_TESTS ?= tests/unit tests/integration
CLOCK_TIMES ?= "2026-11-28 12:00" "2026-12-25 15:00" "2026-11-27 19:00" "2026-12-02 03:00"

.PHONY: install run test test-unit test-clock bench lint clean browser

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
		tomli-w exchange-calendars 'jsonschema>=4.18'
	$(INSYNC_VENV)/bin/pip install -q --no-deps -e .
	touch $@

# IB's official client from PyPI (9.81.1.post1, server versions 100..157) gets its own venv too:
# the simulator's conformance suite runs it as a script (tests/integration/sim).
$(IBAPI_VENV)/.installed:
	$(PY) -m venv $(IBAPI_VENV)
	$(IBAPI_VENV)/bin/pip install -q 'ibapi==9.81.1.post1'
	touch $@

run: install
	$(BIN)/ats-ctl init --if-missing
	$(BIN)/ats-ctl up --foreground

# The web console's browser tests drive the system's headless Chromium (Debian's chromium and
# chromium-driver). As root, install them where missing; otherwise those tests are skipped and
# pytest says so in red at the end.
browser:
	@if command -v chromedriver >/dev/null && \
		{ command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "!!! could not install chromium: THE BROWSER TESTS WILL BE SKIPPED"; \
	else \
		echo "!!! no chromium/chromedriver and not root: THE BROWSER TESTS WILL BE SKIPPED"; \
	fi

test: install $(INSYNC_VENV)/.installed $(IBAPI_VENV)/.installed browser
	ATS_INSYNC_PYTHON=$(CURDIR)/$(INSYNC_VENV)/bin/python \
		ATS_IBAPI_PYTHON=$(CURDIR)/$(IBAPI_VENV)/bin/python $(BIN)/pytest -q $(PYTEST_ARGS)

# The unit tier alone (fakes, no processes): a minute at most, for the edit-test loop.
test-unit: install
	$(BIN)/pytest -q -n 2 tests/unit

test-clock: install $(INSYNC_VENV)/.installed $(IBAPI_VENV)/.installed
	@command -v faketime >/dev/null || (apt-get update -qq && apt-get install -y -qq faketime)
	@for when in $(CLOCK_TIMES); do \
		ATS_INSYNC_PYTHON=$(CURDIR)/$(INSYNC_VENV)/bin/python \
		ATS_IBAPI_PYTHON=$(CURDIR)/$(IBAPI_VENV)/bin/python \
			tests/at-time "$$when" $(BIN)/pytest -q $(PYTEST_ARGS) $(CLOCK_TESTS) || exit 1; \
	done

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check ats bus strategies tests bench
	$(BIN)/mypy ats bus strategies

clean:
	rm -rf $(VENV) $(INSYNC_VENV) $(IBAPI_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
