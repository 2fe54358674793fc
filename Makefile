# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= demo-output

.PHONY: demo test install install-dev bench clean

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

test: $(DEV_STAMP)
	$(PY) -m pytest -q tests

bench: $(DEV_STAMP)
	$(PY) -m benchmarks.bench_beamform
	$(PY) -m benchmarks.bench_simulator

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_DIR)
