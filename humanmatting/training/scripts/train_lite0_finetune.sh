#!/usr/bin/env bash
# lite0, stage 2: stage 1 (train_lite0.sh, its best checkpoint, epoch 29 of 30) fine-tuned
# at a fifth of the learning rate, with more weight on the full-body and portrait sets (CCP,
# EG1800) and on inputs of long side 256 to 512, where stage 1 left feet, bags and thin
# limbs out. Run train_lite0.sh first; this exports its best checkpoint to
# RUNS/lite0-stage1 and starts from it. Resumes what an earlier call left unfinished.
# Later stages (train_lite0_stage3.sh) run this with their own START_RUN (the run whose
# best checkpoint they start from), RUN, LR, mix and presets. Usage:
#   bash humanmatting/training/scripts/train_lite0_finetune.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# recorded in run.json
export HUMANMATTING_TRAINING_SCRIPT=${HUMANMATTING_TRAINING_SCRIPT:-"train_lite0_finetune.sh SHARED RUNS"}
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
runs=${2:-runs}
start_run=${START_RUN:-lite0-everyday}
start_model=${START_MODEL:-lite0-stage1}
run=${RUN:-lite0-finetune}
mix=${HUMANMATTING_MIX:-eg1800=0.24,viton=0.08,ccp=0.22,idphoto=0.05,pasted=0.27,nobody=0.12,teacher=0.02}
presets=${HUMANMATTING_PRESETS:-160x128,128x160,256x192,192x256,256x256,320x224,224x320,320x256,256x320,320x320,384x288,288x384,512x384,384x512}
resume=()
[ -f "$runs/$run/last.keras" ] && resume=(--resume)
if [ ! -f "$runs/$start_model/lite0/model.weights.h5" ]; then
    python -m humanmatting.training.export "$runs/$start_run" --model lite0 --out "$runs/$start_model"
fi
python -m humanmatting.training.train --model lite0 --data "$shared/datasets" --mix "$mix" \
    --photos "$shared/photos" \
    --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
    --recipe everyday --presets "$presets" --lr "${LR:-2e-4}" --warmup-epochs 0.25 \
    --epochs "${EPOCHS:-10}" --samples-per-epoch "${SAMPLES:-3000}" \
    --init-from "$runs/$start_model/lite0" --out "$runs/$run" --verbose 2 "${resume[@]}"
