# The two commands of the README; both create .venv (Python 3.12 or 3.13) on first use.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-all bench train-default

setup:
	@bash scripts/bootstrap.sh

# Main job: encode + decode a real sample clip with the shipped model, print bpp and quality.
demo: setup
	$(BIN)/gnvc demo --out out/demo

# The CI suite: the import contracts of pyproject.toml, then the tests (slow ones are measured in benchmarks/ instead).
test: setup
	$(BIN)/lint-imports --no-logo --no-cache && $(BIN)/python -m pytest -m "not slow and not gpu" -q

test-all: setup
	$(BIN)/python -m pytest -q

# The shipped model: the codec and rate decoders trained above TAEF2, then the coding options set after training
# (MODEL_CARD.md: inter steps 1.5x the intra ones, latent motion in 8x8 blocks, 16x16 copy blocks).
train-default: setup
	$(BIN)/gnvc train configs/taef2.toml --run runs/taef2 --export vsgnvc/weights/default
	$(BIN)/python -m vsgnvc.models.convert vsgnvc/weights/default --inter-step-scale 1.5 --motion-block 8 --motion-search 3 --pixel-copy-block 16 --pixel-copy-search 8
