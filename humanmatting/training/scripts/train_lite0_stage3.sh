#!/usr/bin/env bash
# lite0, stage 3: stage 2 (train_lite0_finetune.sh, its best checkpoint) fine-tuned at half
# its learning rate on inputs of long side 256 to 512 (the photos' input is long side 448),
# with more teacher-labelled everyday photos. Run train_lite0_finetune.sh first; this
# exports its best checkpoint to RUNS/lite0-stage2 and starts from it. Resumes what an
# earlier call left unfinished. Usage:
#   bash humanmatting/training/scripts/train_lite0_stage3.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
export HUMANMATTING_TRAINING_SCRIPT="train_lite0_stage3.sh SHARED RUNS"
export START_RUN=lite0-finetune START_MODEL=lite0-stage2 RUN=lite0-stage3 LR=1e-4
export EPOCHS=${EPOCHS:-7} SAMPLES=${SAMPLES:-2500}
export HUMANMATTING_MIX=${HUMANMATTING_MIX:-eg1800=0.24,viton=0.06,ccp=0.22,idphoto=0.04,pasted=0.26,nobody=0.12,teacher=0.06}
export HUMANMATTING_PRESETS=${HUMANMATTING_PRESETS:-256x192,192x256,256x256,320x256,256x320,320x320,384x288,288x384,448x320,320x448,448x352,352x448,512x384,384x512}
exec bash "$(dirname "$0")/train_lite0_finetune.sh" "$@"
