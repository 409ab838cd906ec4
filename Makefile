# l2l: Learning to learn by gradient descent by gradient descent, as an HDF5 pipeline.
#
#   make            every figure: data → train → eval → figures (95 min on 2 cores for Figures 2-5; the
#                   evaluation files of Figure 6, long horizons and transfer, and the generalist's five
#                   meta-trainings (25-40 min each on one core) add time not yet measured)
#   make test       the test suite
#   make smoke      every stage on tiny configurations, in a few minutes (runs/smoke/, runs/smoke-grid/)
#   make data       fetch, verify and store MNIST and Fashion-MNIST in data/ (MNIST_MIRROR=folder-or-URL)
#   make train      meta-train every experiment (runs/<experiment>/[<member>/]train.h5); -j2 in parallel
#   make eval       evaluate every experiment (runs/<experiment>/eval.h5)
#   make figures    draw figures/*.png and *.pdf from the eval files (Figures 2, 4, 5, 6, long horizons, transfer,
#                   the generalist)
#   make resume     continue interrupted trainings
#   make study      the fidelity study's sweeps (pipelines/study/), on the validation split (figures/study/)
#   make ablation   the generalisation ablation (pipelines/generalisation/), validation split (figures/generalisation/)
#   make slurm-test the Slurm job-array path on a one-node Slurm cluster on localhost (root)
#   make bench      speed, memory and efficiency of meta-training and evaluation (runs/bench/)
#   make python-test the Python package (python/): load φ, the numpy/PyTorch/JAX steps, checked against l2l
#   make deps       install the Debian packages the build needs (run by every other target)
#
# Every target depends on `deps`, so a fresh Debian machine with Swift needs no other step.
# Files are real dependencies: nothing reruns that is up to date. A pipeline whose meta-training
# settings changed trains anew, and its old run is kept in runs/<name>/set-aside/ (make never
# deletes a run). EXPERIMENTS=<name> restricts train, eval and resume to pipelines/<name>.yaml.

SHELL := /bin/bash
SWIFT ?= swift
RELEASE := .build/release
VENV := .venv
PYTHON := $(VENV)/bin/python
EXPERIMENTS := quadratic mnist generalist

# Debian packages: HDF5 (serial, 1.10) and its tools, zlib, pkg-config, the BLAS (BLIS), Python's
# venv for the figures, and Fashion-MNIST's four IDX files (/usr/share/datasets/fashion-mnist/).
DEBIAN_PACKAGES := libhdf5-dev hdf5-tools zlib1g-dev pkg-config libblis-dev python3-venv dataset-fashion-mnist

.PHONY: all deps build data train eval figures smoke resume venv bench test python-test slurm-test study ablation clean help

all: figures

help:
	@sed -n '3,25p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    echo "make deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "make deps: missing Debian packages:$$missing"; \
	    echo "install them with:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build -c release
	@# Which commit these binaries are, for the code_version of every file they write (a later
	@# checkout or edit does not change it; Sources/Pipeline/Provenance.swift). "-dirty" only for
	@# edits outside runs/: the committed checkpoints of a training in progress are data, not code.
	@{ git describe --always 2> /dev/null && { git diff --quiet HEAD -- . ':!runs' 2> /dev/null || echo -dirty; }; } \
	  | tr -d '\n' > $(RELEASE)/code-version && test -s $(RELEASE)/code-version || rm -f $(RELEASE)/code-version

# --- data -------------------------------------------------------------------------------------

data: build
	$(RELEASE)/l2l-fetch --output data/mnist.h5
	$(RELEASE)/l2l-fetch --dataset fashion-mnist --output data/fashion-mnist.h5

data/mnist.h5: | build
	$(RELEASE)/l2l-fetch --output $@

data/fashion-mnist.h5: | build
	$(RELEASE)/l2l-fetch --dataset fashion-mnist --output $@

# --- meta-training: a stamp marks a completed run, so an interrupted one resumes --------------

train: $(EXPERIMENTS:%=runs/%/train.done)

# --set-aside continues an interrupted run, or extends it when only epochs changed; when the
# pipeline's meta-training settings changed, it moves the old run to runs/<name>/set-aside/ (never
# deletes it) and starts anew, or brings back a set-aside run of these settings. make never passes
# --force. Any pipelines/<name>.yaml works: make train EXPERIMENTS=<name>.
# A sweep's members (l2l-sweep lists them) are file targets of their own, runs/<name>/<id>/train.done,
# trained by a second make over this file (the `members` target below): `make -j2` shares its two
# job slots among every experiment's members, a failed member leaves the others trained (the
# member make keeps going) and is named at the end, and an interrupted sweep resumes member by
# member. Without -j, members train MEMBERS_AT_ONCE (2) at a time with one thread each, which on
# 2 cores beat one at a time with two threads (README → Sweeps); the members left over when the
# count is not a multiple of MEMBERS_AT_ONCE train last, sharing the threads (a fifth member of
# five trains alone with two threads instead of leaving a core idle). A run that is not a sweep
# trains with every thread.
MEMBERS_AT_ONCE ?= 2
MEMBERS_MAKE = --no-print-directory --keep-going members PIPELINE=$< OUT=runs/$*
runs/%/train.done: pipelines/%.yaml | build data/mnist.h5
	@listing=$$($(RELEASE)/l2l-sweep $< --runs runs) || exit 1; \
	if [ -z "$$(echo "$$listing" | cut -f4)" ]; then \
	  echo "$(RELEASE)/l2l-train $< --out runs/$* --set-aside"; \
	  $(RELEASE)/l2l-train $< --out runs/$* --set-aside || exit $$?; \
	else \
	  members=$$(echo "$$listing" | cut -f2); failed=0; \
	  train_members() { [ -z "$$2" ] || $(MAKE) $(MEMBERS_MAKE) $$1 MEMBERS="$$(echo $$2)" THREADS=$$3 || failed=1; }; \
	  case "$(MAKEFLAGS)" in \
	    *jobserver*) train_members "" "$$members" 1;; \
	    *) at_once=$(MEMBERS_AT_ONCE); lone=$$(( at_once > 1 ? $$(echo "$$members" | wc -l) % at_once : 0 )); \
	       train_members -j$$at_once "$$(echo "$$members" | head -n -$$lone)" $$(( at_once > 1 ? 1 : 2 )); \
	       [ $$lone -eq 0 ] || train_members -j$$lone "$$(echo "$$members" | tail -n $$lone)" $$(( at_once / lone >= 2 ? 2 : 1 ));; \
	  esac; \
	  [ $$failed -eq 0 ] || { echo "make: runs/$*: members not trained:$$(for m in $$members; do [ "runs/$*/$$m/train.done" -nt "$<" ] || printf ' %s' "$$m"; done) (their errors are above; the other members are trained)" >&2; exit 1; }; \
	fi
	touch $@

# One member of a sweep (make members PIPELINE=pipelines/<name>.yaml OUT=runs/<name> MEMBERS="<id> ..."
# THREADS=<n>, as the rule above calls it). A member's stamp is older than its pipeline when the
# file was edited: l2l-train then continues a member whose settings did not change (a finished one
# at once) and sets aside one whose settings changed.
ifdef MEMBERS
.PHONY: members
members: $(addsuffix /train.done,$(addprefix $(OUT)/,$(MEMBERS)))

$(addsuffix /train.done,$(addprefix $(OUT)/,$(MEMBERS))): $(OUT)/%/train.done: $(PIPELINE)
	$(RELEASE)/l2l-train $(PIPELINE) --out $(OUT) --set-aside --member $* --threads $(THREADS)
	touch $@
endif

resume: | build data/mnist.h5
	@for experiment in $(EXPERIMENTS); do \
	  echo "$(RELEASE)/l2l-train pipelines/$$experiment.yaml --out runs/$$experiment --resume"; \
	  $(RELEASE)/l2l-train pipelines/$$experiment.yaml --out runs/$$experiment --resume || exit $$?; \
	  touch runs/$$experiment/train.done; \
	done

# --- evaluation and figures -------------------------------------------------------------------

eval: $(EXPERIMENTS:%=runs/%/eval.h5)

# Evaluation reruns when train.h5 changed after eval.h5 was written (a resumed, extended or new
# run: eval.h5 records the run_id and the epoch of the φ it evaluated).
.SECONDEXPANSION:
runs/%/eval.h5: runs/%/train.done $$(wildcard runs/$$*/train.h5 runs/$$*/*/train.h5) pipelines/%.yaml | build data/fashion-mnist.h5
	$(RELEASE)/l2l-eval pipelines/$*.yaml --out runs/$*

figures: figures/quadratic.png figures/mnist.png figures/architecture.png figures/mnist-long.png figures/mnist-transfer.png \
  figures/generalist.png figures/generalist-long.png

# Evaluation files (pipelines/mnist-<name>.yaml, `evaluates: mnist.yaml`): more evaluations of the
# MNIST experiment's runs, each written beside its eval.h5 as runs/mnist/eval-<name>.h5 (issue 13:
# Figure 6's architectures, 2,000-step horizons, tanh and Fashion-MNIST).
runs/mnist/eval-%.h5: runs/mnist/train.done $$(wildcard runs/mnist/*/train.h5) pipelines/mnist-%.yaml | build data/fashion-mnist.h5
	$(RELEASE)/l2l-eval pipelines/mnist-$*.yaml --out runs/mnist

figures/architecture.png: runs/mnist/eval-architecture.h5 scripts/generalisation.py $(VENV)/installed
	$(PYTHON) scripts/generalisation.py architecture $< --out figures/architecture

figures/mnist-long.png: runs/mnist/eval-long.h5 scripts/generalisation.py $(VENV)/installed
	$(PYTHON) scripts/generalisation.py curves $< --out figures/mnist-long --log-steps \
	  --title "MNIST, 2,000 steps: the learned optimizer was meta-trained on 100"

figures/mnist-transfer.png: runs/mnist/eval-transfer.h5 scripts/generalisation.py $(VENV)/installed
	$(PYTHON) scripts/generalisation.py curves $< --out figures/mnist-transfer \
	  --title "MNIST-trained optimizer on a tanh network and on Fashion-MNIST"

# The generalist (issue 13, pipelines/generalist.yaml): meta-trained on a mixture of networks with
# random scaling and normalised inputs; its own evaluation (six problems, 200 steps) and 2,000 steps.
runs/generalist/eval-%.h5: runs/generalist/train.done $$(wildcard runs/generalist/*/train.h5) pipelines/generalist-%.yaml | build data/fashion-mnist.h5
	$(RELEASE)/l2l-eval pipelines/generalist-$*.yaml --out runs/generalist

figures/generalist.png: runs/generalist/eval.h5 scripts/generalisation.py $(VENV)/installed
	$(PYTHON) scripts/generalisation.py curves $< --out figures/generalist \
	  --title "The generalist: meta-trained on a mixture with random scaling and normalised inputs"

figures/generalist-long.png: runs/generalist/eval-long.h5 scripts/generalisation.py $(VENV)/installed
	$(PYTHON) scripts/generalisation.py curves $< --out figures/generalist-long --log-steps \
	  --title "The generalist, 2,000 steps: meta-trained on 100"

figures/quadratic.png: runs/quadratic/eval.h5 scripts/figures.py $(VENV)/installed
	$(PYTHON) scripts/figures.py --runs runs --out figures --only quadratic

figures/mnist.png: runs/mnist/eval.h5 scripts/figures.py $(VENV)/installed
	$(PYTHON) scripts/figures.py --runs runs --out figures --only mnist

venv: $(VENV)/installed

$(VENV)/installed: requirements.txt | deps
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

# --- the whole chain on a tiny configuration ---------------------------------------------------

smoke: build data/mnist.h5 data/fashion-mnist.h5 venv
	$(RELEASE)/l2l-train pipelines/smoke.yaml --out runs/smoke --set-aside
	$(RELEASE)/l2l-eval pipelines/smoke.yaml --out runs/smoke
	$(PYTHON) scripts/figures.py --runs runs --out runs/smoke/figures --mnist smoke --only smoke --seeds
	$(RELEASE)/l2l-eval pipelines/smoke-architecture.yaml --out runs/smoke
	$(PYTHON) scripts/generalisation.py architecture runs/smoke/eval-architecture.h5 --out runs/smoke/figures/architecture
	$(PYTHON) scripts/generalisation.py curves runs/smoke/eval-architecture.h5 --out runs/smoke/figures/curves --log-steps --title "smoke"
	$(RELEASE)/l2l-train pipelines/smoke-grid.yaml --out runs/smoke-grid --set-aside
	$(RELEASE)/l2l-eval pipelines/smoke-grid.yaml --out runs/smoke-grid
	$(RELEASE)/l2l-eval pipelines/smoke-grid.yaml --out runs/smoke-grid --split validation
	$(RELEASE)/l2l-eval pipelines/smoke-grid.yaml --out runs/smoke-grid --history
	$(PYTHON) scripts/figures.py --runs runs --out runs/smoke-grid/figures --only smoke-grid
	$(PYTHON) scripts/figures.py --runs runs --out runs/smoke-grid/figures --only smoke-grid --split validation
	$(PYTHON) scripts/compare.py --out runs/smoke-grid/figures/compare --title "smoke: two grid points" \
	  --setting "rate 0.001" "runs/smoke-grid/eval.h5@meta_learning_rate=0.001,output_scale=0.5" \
	  --setting "rate 0.01" "runs/smoke-grid/eval.h5@meta_learning_rate=0.01,output_scale=0.5"
	for file in runs/smoke/seed=*/train.h5 runs/smoke/eval.h5 runs/smoke/eval-architecture.h5 runs/smoke-grid/*/train.h5 runs/smoke-grid/*/history.h5 runs/smoke-grid/eval.h5 runs/smoke-grid/eval-validation.h5; do h5dump -H "$$file" > /dev/null || exit 1; done
	$(RELEASE)/l2l-sweep pipelines/smoke.yaml

# --- the fidelity study (issue 12): sweeps over the recipe, chosen on the validation split -------
# Trains each study's members (runs/study/<study>/<member>/), evaluates them on the validation
# split (eval-validation.h5) and the learning curve of meta-training (history.h5, every 10th
# snapshot), and draws figures/study/. The test split is left for the final report. Every study
# is a sweep in pipelines/study/ (docs/fidelity.md says which hypothesis each tests); all of them
# are about 70 member-trainings of 25 min to 4 h on one core, so pick some with
# `make study STUDIES="meta-learning-rate stability-clip"`; every stage resumes where it stopped.
# The recipe's own members (study 7's warm-up + clip at 0.01): the point studies 2-6 compare to.
RECIPE_POINT := runs/study/stability-warmup-clip/eval-validation.h5@meta_learning_rate=0.01
# Each study is evaluated on the validation split, then its learning curve (every 10th snapshot;
# HISTORY_PROBLEMS_<study> narrows it), then the other φ of its runs that PHI_<study> names (each reuses the
# baselines of its /phi/best evaluation). Study 2: the selection without top-k, the last φ and the
# mean of the last 21 snapshots. Study 3: each budget run's φ after 1,000 trajectories (the
# recipe's budget on the same φ path: the selection's draws do not move it) and its last φ.
PHI_model-selection := validation-minimum latest average:800-1000
PHI_budget := trajectory:1000 latest
HISTORY_PROBLEMS_budget := --problems base,two-layers
HISTORY_PROBLEMS_stability-warmup-clip := --problems base,two-layers
STUDIES := meta-learning-rate stability-clip stability-warmup stability-warmup-clip model-selection init-small init-fan-in two-layer-ceiling two-layer-ceiling-fan-in trajectories-per-update budget
study: | build data/mnist.h5 venv
	$(MAKE) --no-print-directory train EXPERIMENTS="$(STUDIES:%=study/%)"
	@$(foreach study,$(STUDIES),for options in "--split validation" "--history --every 10 $(HISTORY_PROBLEMS_$(study))" \
	    $(foreach phi,$(PHI_$(study)),"--split validation --phi $(phi)"); do \
	  echo "$(RELEASE)/l2l-eval pipelines/study/$(study).yaml --out runs/study/$(study) $$options"; \
	  $(RELEASE)/l2l-eval pipelines/study/$(study).yaml --out runs/study/$(study) $$options || exit $$?; \
	done;) true
	@echo "$(RELEASE)/l2l-probe gradient-scale pipelines/mnist.yaml --samples 20 --out runs/study/gradient-scale.h5"
	@$(RELEASE)/l2l-probe gradient-scale pipelines/mnist.yaml --samples 20 --out runs/study/gradient-scale.h5 | tee runs/study/gradient-scale.txt
	$(PYTHON) scripts/dormancy.py --bin $(RELEASE) pipelines/study/meta-learning-rate.yaml pipelines/study/stability-clip.yaml \
	  pipelines/study/stability-warmup.yaml --out runs/study/dormancy.md
	$(PYTHON) scripts/dormancy.py --bin $(RELEASE) pipelines/study/stability-warmup.yaml --unrolls 700 \
	  --out runs/study/dormancy-warmup-700.md
	$(PYTHON) scripts/stalls.py $(STUDIES:%=runs/study/%) --out runs/study/stalls.md
	mkdir -p figures/study
	$(PYTHON) scripts/figures.py --runs runs/study --out figures/study --only $(STUDIES) --split validation
	$(PYTHON) scripts/compare.py --if-present --out figures/study/initialisation-validation \
	  --title "Study 4: the optimizee's initialisation, in meta-training and in every problem" \
	  --setting "released N(0, 0.01²)" $(RECIPE_POINT) \
	  --setting "small N(0, 0.001²), b 0" runs/study/init-small/eval-validation.h5 \
	  --setting "fan-in U(±1/√fan_in)" runs/study/init-fan-in/eval-validation.h5
	$(PYTHON) scripts/compare.py --if-present --out figures/study/two-layer-ceiling-validation \
	  --title "Study 5: meta-trained on the base network or on the two-layer network itself" \
	  --setting "on [20], released init" $(RECIPE_POINT) \
	  --setting "on [20, 20], released init" runs/study/two-layer-ceiling/eval-validation.h5 \
	  --setting "on [20], fan-in init" runs/study/init-fan-in/eval-validation.h5 \
	  --setting "on [20, 20], fan-in init" runs/study/two-layer-ceiling-fan-in/eval-validation.h5
	$(PYTHON) scripts/compare.py --if-present --out figures/study/model-selection-validation \
	  --title "Study 2: which φ of the same meta-training runs" \
	  --setting "/phi/best: 10 problems, final loss" $(RECIPE_POINT) \
	  --setting "50 problems, mean loss" runs/study/model-selection/eval-validation-phi-validation-minimum.h5 \
	  --setting "50 problems, mean loss, top-5" runs/study/model-selection/eval-validation.h5 \
	  --setting "last φ" runs/study/model-selection/eval-validation-phi-latest.h5 \
	  --setting "mean of φ 800-1000" runs/study/model-selection/eval-validation-phi-average-800-1000.h5
	$(PYTHON) scripts/compare.py --if-present --out figures/study/trajectories-per-update-validation \
	  --title "Study 6: optimizee instances per meta-gradient" \
	  --setting "K = 1 (the recipe)" $(RECIPE_POINT) \
	  --setting "K = 4" runs/study/trajectories-per-update/eval-validation.h5
	$(PYTHON) scripts/compare.py --if-present --out figures/study/budget-validation \
	  --title "Study 3: the meta-training budget (the same two runs)" \
	  --setting "φ after 1,000 trajectories (the recipe's budget)" runs/study/budget/eval-validation-phi-trajectory-1000.h5 \
	  --setting "/phi/best of 10,000 trajectories" runs/study/budget/eval-validation.h5 \
	  --setting "φ after 10,000 trajectories" runs/study/budget/eval-validation-phi-latest.h5

# --- the generalisation ablation (issue 13): pipelines/generalisation/, on the validation split -----
# Variant 1 is the recipe itself (pipelines/mnist.yaml's runs, through the evaluation files
# recipe.yaml and recipe-long.yaml); variants 2-4 add a task mixture, random scaling and normalised
# inputs, each a sweep of three seeds trained into runs/generalisation/<variant>/ (about 25 min per
# member on one core). Every stage resumes; docs/generalisation.md reports the tables.
ABLATION := mixture scaling normalised
ablation: | build data/mnist.h5 data/fashion-mnist.h5 venv
	$(MAKE) --no-print-directory train EXPERIMENTS="mnist $(ABLATION:%=generalisation/%)"
	$(RELEASE)/l2l-eval pipelines/generalisation/recipe.yaml --out runs/mnist --split validation
	$(RELEASE)/l2l-eval pipelines/generalisation/recipe-long.yaml --out runs/mnist --split validation
	@for variant in $(ABLATION); do \
	  for file in $$variant $$variant-long; do \
	    echo "$(RELEASE)/l2l-eval pipelines/generalisation/$$file.yaml --out runs/generalisation/$$variant --split validation"; \
	    $(RELEASE)/l2l-eval pipelines/generalisation/$$file.yaml --out runs/generalisation/$$variant --split validation || exit $$?; \
	  done; \
	done
	mkdir -p figures/generalisation
	$(PYTHON) scripts/compare.py --if-present --out figures/generalisation/ablation-validation \
	  --title "Issue 13's ablation: 200 steps, validation split" \
	  --setting "recipe" runs/mnist/eval-generalisation-validation.h5 \
	  --setting "+ mixture" runs/generalisation/mixture/eval-validation.h5 \
	  --setting "+ random scaling" runs/generalisation/scaling/eval-validation.h5 \
	  --setting "+ normalised inputs" runs/generalisation/normalised/eval-validation.h5
	$(PYTHON) scripts/compare.py --if-present --out figures/generalisation/ablation-long-validation \
	  --title "Issue 13's ablation: the base network for 1,000 steps, validation split" \
	  --setting "recipe" runs/mnist/eval-long1000-validation.h5 \
	  --setting "+ mixture" runs/generalisation/mixture/eval-long-validation.h5 \
	  --setting "+ random scaling" runs/generalisation/scaling/eval-long-validation.h5 \
	  --setting "+ normalised inputs" runs/generalisation/normalised/eval-long-validation.h5

# The Slurm path for real, on a one-node Slurm cluster on localhost (root; installs slurm-wlm and
# munge when missing): the smoke sweep as a job array, bit for bit as make's runs/smoke, a failing
# task, and a task requeued after SIGTERM (scripts/slurm-test).
slurm-test: build data/mnist.h5 venv
	$(MAKE) --no-print-directory eval EXPERIMENTS=smoke
	RELEASE=$(RELEASE) PYTHON=$(PYTHON) scripts/slurm-test

# The Python package (python/, issue 14): a virtual environment of its own (python/.venv, kept
# between runs), the package installed from this checkout with its extras (test, torch, jax; PyTorch
# from PyPI is about 5 GB with its CUDA libraries, a few minutes the first time), and pytest, whose
# fixtures train tiny runs with the binaries built here and trace them (l2l-eval --trace).
PYTHON_VENV := python/.venv
PYTHON_EXTRAS ?= test,torch,jax
python-test: build data/mnist.h5
	@[ -x $(PYTHON_VENV)/bin/python ] || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON_VENV)/bin/python -m pip install --quiet "./python[$(PYTHON_EXTRAS)]"
	L2L_BIN=$(CURDIR)/$(RELEASE) L2L_DATA=$(CURDIR)/data $(PYTHON_VENV)/bin/python -m pytest -q -s python/tests

bench: build
	$(RELEASE)/l2l-bench --out runs/bench

test: deps
	$(SWIFT) test

clean:
	rm -rf .build $(VENV)
