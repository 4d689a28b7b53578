# The two commands of the README. Both set up a virtual environment from this project's own files first.
#   make demo   runs the default model over the bundled clip, writing demo_out/demo.mp4 and demo_out/demo.jsonl
#   make test   runs the test suite (what .ci/run calls)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rtdetect-installed

.PHONY: demo test setup

setup: $(STAMP)

# The [cluster] extra (Ray) is installed too, so that the tests of `rtdetect batch` run rather than skip;
# [int8] (NNCF) because the default run's `--backend auto` tries OpenVINO INT8, which NNCF makes.
# torch is installed first, pinned, so that the CPU build is used and no multi-GB CUDA build is pulled in.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,cluster,int8]'
	touch $@

demo: $(STAMP)
	mkdir -p demo_out
	$(VENV)/bin/rtdetect --source demo --save demo_out/demo.mp4 --json demo_out/demo.jsonl

test: $(STAMP)
	tools/install_test_system_deps.sh
	$(PY) tools/fetch_test_assets.py
	$(PY) -m pytest -q
