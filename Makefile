# The book's single entry point. The README's two commands are `make book` and `make test`.
#
#   make book        set up .venv if needed, build the HTML book, print (and open) index.html
#   make test        set up .venv if needed, run unit tests + the reader test + nbval over the
#                    other chapters + book build
#   make notebooks   re-execute every chapter and store its outputs (after changing a chapter),
#                    then run the crosscheck on them
#   make crosscheck  re-execute every chapter under narrower instruction sets (AVX2, SSE4) and
#                    compare its text and figures with the stored outputs (CHAPTERS=... for some)
#   make sync        pair/sync every notebook with its jupytext py:percent script
#   make bench       print chapter times and peak memory, the attribution-cost ratios, the
#                    book-settings-vs-library-defaults ratios, the lacunarity speed-up and the
#                    speed-ups of the settings that change no result (benchmarks/runtime_settings.py);
#                    STORE_TIMES=1 also stores the chapter times the course guide shows
#   make pollen      retrain the pollen CNN (keeps xaihelpers/weights/pollen_cnn.pt; FORCE=1 replaces)
#   make cifar       retrain the three CIFAR-10 CNNs (about 8 minutes each; keeps existing ones)
#   make continual   retrain the continual learners, four strategies (about 20 minutes; keeps existing),
#                    then record which test images each checkpoint gets right (chapter 14 reads it)
#   make exercise-models  train the model variants the exercises compare (missing ones only)
#   make explorer    start the interactive explorer (Streamlit) on http://localhost:8501
#   make screenshot  retake the explorer screenshot the book shows (the browser test takes it)
#   make mutation    mutation testing of the core modules' unit tests (mutmut, pinned in
#                    requirements-dev.txt and installed on first use): the score per module and
#                    the surviving mutants (under an hour on 2 cores; not part of make test)
#
# Variables: XAI_DATA_ROOT (the data root, see README), XAI_IMAGENET_MODEL (efficientnet_lite0, the
# package's default and the model of the committed outputs, or resnet50).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_static/mathjax/tex-chtml.js
# axe-core, the accessibility checker the browser test runs on every page of the built book.
AXE_VERSION := 4.14.1
AXE := .cache/axe-core-$(AXE_VERSION)/axe.min.js

# Relative paths would break inside notebook kernels, which run in notebooks/.
ifdef XAI_DATA_ROOT
override XAI_DATA_ROOT := $(abspath $(XAI_DATA_ROOT))
export XAI_DATA_ROOT
endif

.PHONY: book test notebooks crosscheck sync bench pollen cifar continual exercise-models explorer screenshot mutation setup clean-book

setup: $(STAMP) $(MATHJAX) $(AXE)

# Reinstall only when the pins change: a second run finds the stamp newer and does nothing.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@
	@echo "Environment ready in $(VENV)"

# MathJax is served from the book itself so that the built HTML reads offline.
$(MATHJAX):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch MathJax $(MATHJAX_VERSION) (apt-get install npm, or conda install nodejs)"; exit 1; }
	@mkdir -p .cache book/_static
	cd .cache && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	rm -rf book/_static/mathjax.tmp && mkdir -p book/_static/mathjax.tmp
	tar -xzf .cache/mathjax-$(MATHJAX_VERSION).tgz -C book/_static/mathjax.tmp --strip-components=2 package/es5
	rm -rf book/_static/mathjax && mv book/_static/mathjax.tmp book/_static/mathjax
	@test -f $@ && touch $@

# Fetched once, like MathJax; the tests then run offline.
$(AXE):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch axe-core $(AXE_VERSION) (apt-get install npm, or conda install nodejs)"; exit 1; }
	@mkdir -p .cache
	cd .cache && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	tar -xzf .cache/axe-core-$(AXE_VERSION).tgz -C $(@D).tmp --strip-components=1 package/axe.min.js package/LICENSE
	rm -rf $(@D) && mv $(@D).tmp $(@D)
	@test -f $@ && touch $@

book: setup
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"
	@if [ -z "$$CI" ] && { [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; }; then \
		$(BIN)/python -m webbrowser -t "file://$(CURDIR)/_build/html/index.html" >/dev/null 2>&1 || true; fi

# The wall time of the tests goes to .cache/make-test-seconds, where `make bench` reads it.
# Chapters 05 and 11 are re-executed, text and figures compared, by tests/test_reader.py from the
# installed wheel outside the checkout; nbval does not run them a second time.
READER_CHAPTERS := notebooks/05_guided_backprop.ipynb notebooks/11_cifar_callbacks.ipynb
test: setup
	@scripts/install_browser.sh
	@mkdir -p .cache; start=$$(date +%s); status=0; \
	$(BIN)/python -m pytest tests notebooks --nbval $(addprefix --deselect=,$(READER_CHAPTERS)) || status=$$?; \
	echo "$$(( $$(date +%s) - start ))" > .cache/make-test-seconds; exit $$status

# Stored outputs must print the same on every x86 CPU: the crosscheck re-executes what was just
# stored under narrower instruction sets and names every cell that prints something else.
CHAPTERS ?= notebooks/*.ipynb
notebooks: setup
	$(BIN)/jupytext --sync $(CHAPTERS)
	$(BIN)/python scripts/run_notebooks.py --write $(CHAPTERS)
	$(BIN)/jupytext --sync $(CHAPTERS)
	$(BIN)/python scripts/crosscheck.py $(CHAPTERS)

crosscheck: setup
	$(BIN)/python scripts/crosscheck.py $(CHAPTERS)

sync: setup
	$(BIN)/jupytext --sync notebooks/*.ipynb

bench: setup
	$(BIN)/python scripts/run_notebooks.py $(if $(STORE_TIMES),--store-times) notebooks/*.ipynb
	$(BIN)/python benchmarks/attribution_cost.py
	$(BIN)/python benchmarks/evaluation_speed.py
	$(BIN)/python benchmarks/lacunarity_speed.py
	$(BIN)/python benchmarks/runtime_settings.py

# Every model goes through the model zoo's one command (python -m xaihelpers.retrain --list shows
# them): an existing checkpoint is kept and said so; FORCE=1 replaces it.
TRAIN := $(BIN)/python -m xaihelpers.retrain $(if $(FORCE),--force)

pollen: setup
	$(TRAIN) pollen_cnn

cifar: setup
	$(TRAIN) cifar10_plain cifar10_gap cifar10_allconv

# After training, which test images every checkpoint gets right is recorded for chapter 14
# (xaihelpers/measured/continual_correct.npz; a learner whose checkpoint changed is measured again).
continual: setup
	$(TRAIN) continual_baseline continual_ewc continual_replay continual_generative continual_generative_no_replay \
		continual_baseline_scratch continual_ewc_scratch continual_replay_scratch
	$(BIN)/python -m xaihelpers.forgetting record

# The variants the exercises compare with the book's models (pollen: seed, augmentation, dropout;
# continual: EWC strength, replay memory), about 40 minutes on 2 cores.
exercise-models: setup
	$(TRAIN) exercises
	$(BIN)/python -m xaihelpers.forgetting record

explorer: setup
	$(BIN)/python -m streamlit run explorer/app.py --server.address localhost --browser.gatherUsageStats false

# The book's explorer page shows this screenshot; the browser test takes it.
screenshot: setup
	@scripts/install_browser.sh
	XAI_SCREENSHOT=$(CURDIR)/book/figures/explorer.png $(BIN)/python -m pytest -q tests/test_explorer_browser.py

# Mutation testing: mutmut mutates the modules listed in pyproject.toml's [tool.mutmut], one mutant
# at a time, and runs the unit tests that call the mutated function; a mutant no test notices
# survives. It starts afresh each time (earlier results would hide what changed in the tests); the
# fetch tests read the data sets, so the data root defaults to data/ as for the chapters.
DEV_STAMP := $(VENV)/.installed-dev
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

mutation: $(DEV_STAMP)
	rm -rf mutants
	@start=$$(date +%s); status=0; \
	XAI_DATA_ROOT=$${XAI_DATA_ROOT:-$(CURDIR)/data} $(BIN)/mutmut run --max-children 1 || status=$$?; \
	echo "mutmut ran $$(( $$(date +%s) - start )) s"; exit $$status
	$(BIN)/python scripts/mutation_report.py --survivors

clean-book:
	rm -rf _build
