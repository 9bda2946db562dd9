#!/usr/bin/env bash
# A second schedule for the edit release (issue 19, lever "more steps" and "heavier gap loss"):
# warm-start from models/textrepair-edit's weights and vocabulary with a fresh optimiser, fresh
# damage (another seed) and the deletion-gap loss weighted up, on a time budget; then decoding
# calibrated on gold/validation as in the first schedule.
# Usage: scripts/train-edit-continue.sh MINUTES [THREADS]; then
#   TEXTREPAIR_TRAIN_OUTPUT_DIR=artifacts/edit-continue textrepair evaluate --trained
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export TEXTREPAIR_TRAIN__BATCH_SIZE=32 TEXTREPAIR_TRAIN__EVAL_STEPS=250 \
  TEXTREPAIR_TRAIN__EVAL_ROWS=300 TEXTREPAIR_TRAIN__EARLY_STOPPING_PATIENCE=6 \
  TEXTREPAIR_TRAIN__THREADS="${2:-2}" TEXTREPAIR_TRAIN__PRECISION=auto \
  TEXTREPAIR_TRAIN__SEED=2026 TEXTREPAIR_TRAIN__LEARNING_RATE=0.0015 \
  TEXTREPAIR_TRAIN__WARM_START=models/textrepair-edit \
  TEXTREPAIR_MODEL__EDIT__LOSS_WEIGHTS='{"action": 2.0, "gap": 6.0, "fill": 1.5}' \
  TEXTREPAIR_TRAIN_OUTPUT_DIR=artifacts/edit-continue
textrepair train --family edit --size small --from-scratch --max-steps 3000 --minutes "${1:-55}"
