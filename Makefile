# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= demo-output

.PHONY: demo test test-fast install install-dev bench clean system-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP)

demo: $(STAMP)
	mkdir -p $(DEMO_DIR)
	$(VENV)/bin/acam capture --out $(DEMO_DIR)/session.h5 --duration 10 --scenario indoor --sources clapping:walk,whistling --seed 1 --overwrite
	$(VENV)/bin/acam info $(DEMO_DIR)/session.h5
	$(VENV)/bin/acam beamform $(DEMO_DIR)/session.h5 --band 2000:5000 --overwrite
	$(VENV)/bin/acam render $(DEMO_DIR)/session.h5 --out $(DEMO_DIR)/overlay.mp4 --band 2000:5000 --truth --overwrite
	$(VENV)/bin/acam render $(DEMO_DIR)/session.h5 --frame 60 --png $(DEMO_DIR)/frame060.png --band 2000:5000 --truth --side-by-side --overwrite
	@echo
	@echo "demo results:"
	@echo "  session:         $(DEMO_DIR)/session.h5"
	@echo "  acoustic images: $(DEMO_DIR)/session.acoustic.h5"
	@echo "  overlay video:   $(DEMO_DIR)/overlay.mp4"
	@echo "  one frame:       $(DEMO_DIR)/frame060.png"

# The live-capture tests need a real audio stack: a JACK server (jackd2) and PortAudio; the live
# view's tests a real browser (headless Chromium). Installed from Debian when missing and we may
# (root); otherwise those tests skip and say why.
SYSTEM_PACKAGES := jackd2 libportaudio2 chromium
system-deps:
	@if ! command -v jackd >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 || \
	    ! /sbin/ldconfig -p 2>/dev/null | grep -q libportaudio.so.2; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing $(SYSTEM_PACKAGES) from Debian"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1; } || \
	    echo "make: could not install $(SYSTEM_PACKAGES): the live-capture and live-view tests will skip"; \
	  else echo "make: $(SYSTEM_PACKAGES) missing and not root: the live-capture and live-view tests will skip"; fi; \
	fi

# two workers (CI has two cores), each test sent to whichever is free; module fixtures are made
# once per worker that needs them
TEST_WORKERS ?= 2
test: $(DEV_STAMP) system-deps
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal tests

# the edit-test loop: everything but the tests marked slow (training runs, real-time recording,
# the core-only wheel install), under 2 minutes on 2 cores
test-fast: $(DEV_STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not slow" tests

bench: $(DEV_STAMP)
	$(PY) -m benchmarks.bench_beamform
	$(PY) -m benchmarks.bench_simulator

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_DIR)
