#!/usr/bin/env bash
# lite0, stage 4: the shipped lite0 (stage 3) fine-tuned at half stage 3's learning rate on
# photos cached at a long side of 512 instead of 384 (photos go in at 448, so stage 3 saw
# EG1800 and CCP enlarged and blurred), with more of the portrait sets (EG1800, CCP) and fewer
# pasted people. Resumes what an earlier call left unfinished. Usage:
#   bash humanmatting/training/scripts/train_lite0_stage4.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_lite0_stage4.sh SHARED RUNS"  # recorded in run.json
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
runs=${2:-runs}
run=lite0-stage4
mix=${HUMANMATTING_MIX:-eg1800=0.3,viton=0.06,ccp=0.28,idphoto=0.04,pasted=0.16,nobody=0.1,teacher=0.06}
presets=${HUMANMATTING_PRESETS:-256x192,192x256,256x256,320x256,256x320,320x320,384x288,288x384,448x320,320x448,448x352,352x448,512x384,384x512}
resume=()
[ -f "$runs/$run/last.keras" ] && resume=(--resume)
python -m humanmatting.training.train --model lite0 --data "$shared/datasets" --mix "$mix" \
    --photos "$shared/photos" \
    --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
    --recipe everyday --presets "$presets" --lr "${LR:-5e-5}" --warmup-epochs 0.25 \
    --epochs "${EPOCHS:-5}" --samples-per-epoch "${SAMPLES:-2000}" --cache-long-side 512 \
    --init-from "${INIT_DIR:-humanmatting/weights/lite0}" --out "$runs/$run" --verbose 2 \
    "${resume[@]}"
