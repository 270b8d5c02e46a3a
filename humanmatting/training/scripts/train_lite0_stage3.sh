#!/usr/bin/env bash
# lite0, stage 3: stage 2 (train_lite0_finetune.sh, its best checkpoint) fine-tuned at half
# its learning rate on inputs of long side 256 to 512 (the photos' input is long side 448),
# with more teacher-labelled everyday photos. Run train_lite0_finetune.sh first; this exports
# its best checkpoint to RUNS/lite0-stage2 and starts from it. Resumes what an earlier call
# left unfinished. Usage:
#   bash humanmatting/training/scripts/train_lite0_stage3.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_lite0_stage3.sh SHARED RUNS"  # recorded in run.json
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
runs=${2:-runs}
mix=${HUMANMATTING_MIX:-eg1800=0.24,viton=0.06,ccp=0.22,idphoto=0.04,pasted=0.26,nobody=0.12,teacher=0.06}
presets=${HUMANMATTING_PRESETS:-256x192,192x256,256x256,320x256,256x320,320x320,384x288,288x384,448x320,320x448,448x352,352x448,512x384,384x512}
resume=()
[ -f "$runs/lite0-stage3/last.keras" ] && resume=(--resume)
if [ ! -f "$runs/lite0-stage2/lite0/model.weights.h5" ]; then
    python -m humanmatting.training.export "$runs/lite0-finetune" --model lite0 --out "$runs/lite0-stage2"
fi
python -m humanmatting.training.train --model lite0 --data "$shared/datasets" --mix "$mix" \
    --photos "$shared/photos" \
    --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
    --recipe everyday --presets "$presets" --lr 1e-4 --warmup-epochs 0.25 \
    --epochs "${EPOCHS:-7}" --samples-per-epoch "${SAMPLES:-2500}" \
    --init-from "$runs/lite0-stage2/lite0" --out "$runs/lite0-stage3" --verbose 2 "${resume[@]}"
