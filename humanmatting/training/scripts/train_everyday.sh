#!/usr/bin/env bash
# Stage 2 of the shipped models: fine-tune each model of stage 1 (train_shipped.sh, then
# export_shipped.sh's model folders) on the everyday mix: the mask sets plus frames with
# nobody, teacher-labelled photos and pasted people at every scale (humanmatting.training.everyday,
# README "Training"). Resumes whatever an earlier call left unfinished. Usage:
#   bash humanmatting/training/scripts/train_everyday.sh [SHARED_DIR] [INIT_DIR] [RUNS_DIR]
# INIT_DIR holds one model folder per model with its Keras files (default: models/, what
# export_shipped.sh writes; humanmatting/weights/ holds the shipped ones). Every target is half
# the sets' mask, half the shipped lite0's probability (--distill-from), and the batch norms keep
# their statistics (--freeze-norms): without both, dark-light gave up 0.5-2.5 points of the
# portrait sets for the everyday photos.
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_everyday.sh SHARED WEIGHTS RUNS"  # recorded in run.json
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
init=${2:-models}
runs=${3:-runs}
mix=${HUMANMATTING_MIX:-eg1800=0.2,viton=0.1,ccp=0.15,idphoto=0.05,pasted=0.32,nobody=0.14,teacher=0.04}
models=${MODELS:-dark-light night dark}
teacher=${DISTILL_FROM:-humanmatting/weights/lite0}
for model in $models; do
    resume=()
    [ -f "$runs/$model-everyday/last.keras" ] && resume=(--resume)
    python -m humanmatting.training.train --model "$model" --data "$shared/datasets" --mix "$mix" \
        --photos "$shared/photos" \
        --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
        --recipe everyday --lr 1e-4 --warmup-epochs 0.25 --epochs 12 --samples-per-epoch 1500 \
        --init-from "$init/$model" --distill-from "$teacher" --freeze-norms --out "$runs/$model-everyday" --verbose 2 "${resume[@]}"
done
