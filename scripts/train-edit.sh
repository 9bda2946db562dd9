#!/usr/bin/env bash
# The recipe of the edit release (models/textrepair-edit), 2026-12-01: two phases on 2 cores.
#   phase 1: peak learning rate 1e-3, equal loss weights, until step 1,000 (31 min there);
#   phase 2: --resume with peak 3e-3 and loss weights action 2 / gap 4 / fill 1, on a time budget
#            (step 3,415 after 57 + 7 min there), then decoding calibrated on gold/validation.
# Steps draw their damage from (seed, step), so phase 2 resumes exactly; the phase-1 stop was by
# hand at a checkpoint, which --max-steps cannot express (it also sets the schedule's length).
# Usage: scripts/train-edit.sh PHASE1_MINUTES PHASE2_MINUTES (e.g. 31 57); then
#   TEXTREPAIR_TRAIN_OUTPUT_DIR=artifacts/edit-train textrepair evaluate --trained
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export TEXTREPAIR_TRAIN__BATCH_SIZE=32 TEXTREPAIR_TRAIN__EVAL_STEPS=250 \
  TEXTREPAIR_TRAIN__EVAL_ROWS=300 TEXTREPAIR_TRAIN__EARLY_STOPPING_PATIENCE=6 \
  TEXTREPAIR_TRAIN__THREADS=2 TEXTREPAIR_TRAIN__PRECISION=auto \
  TEXTREPAIR_TRAIN_OUTPUT_DIR=artifacts/edit-train
train=(textrepair train --family edit --size small --from-scratch --max-steps 4000)
TEXTREPAIR_TRAIN__LEARNING_RATE=0.001 "${train[@]}" --minutes "${1:-31}"
TEXTREPAIR_TRAIN__LEARNING_RATE=0.003 \
  TEXTREPAIR_MODEL__EDIT__LOSS_WEIGHTS='{"action": 2.0, "gap": 4.0, "fill": 1.0}' \
  "${train[@]}" --resume --minutes "${2:-57}"
