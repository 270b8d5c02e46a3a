#!/usr/bin/env bash
# Stage 2 of the shipped LikeUnets: fine-tune each model of stage 1 (train_shipped.sh, then
# export_shipped.sh's model folders) on the everyday mix: the mask sets plus frames with
# nobody, teacher-labelled photos and pasted people at every scale (humanmatting.training.everyday,
# README "Training"). Resumes whatever an earlier call left unfinished. Usage:
#   bash humanmatting/training/scripts/train_everyday.sh [SHARED_DIR] [INIT_DIR] [RUNS_DIR]
# INIT_DIR holds one model folder per model with its Keras files (default: models/, what
# export_shipped.sh writes; humanmatting/weights/ holds the shipped ones). The batch norms keep
# their statistics (--freeze-norms): trained on each batch's own, dark-light fell from val mIoU
# 0.81 to 0.46 in 20 steps. DISTILL_FROM=MODEL_DIR blends that RGB model's probability into half
# of every target (docs/training.md: what it did to dark-light).
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# recorded in run.json (train_everyday_stage3.sh, which runs this, names itself)
export HUMANMATTING_TRAINING_SCRIPT=${HUMANMATTING_TRAINING_SCRIPT:-"train_everyday.sh SHARED WEIGHTS RUNS"}
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
init=${2:-models}
runs=${3:-runs}
# Three quarters portraits: at half (pasted people 32%, nobody 14%) dark-light lost 0.5-2.5
# points of every portrait set. The teacher's photos at 10%: at 2% dark-light found fewer of
# coco128's people than before (docs/training.md).
mix=${HUMANMATTING_MIX:-eg1800=0.3,viton=0.12,ccp=0.25,idphoto=0.05,pasted=0.12,nobody=0.06,teacher=0.1}
# The everyday recipe's sizes from a long side of 192 up (photos run at 320, frames at 256).
presets=${PRESETS:-256x192,192x256,224x224,256x256,320x224,224x320,320x320,384x288,288x384,512x384,384x512,192x192}
models=${MODELS:-dark-light night dark}
distill=()
[ -n "${DISTILL_FROM:-}" ] && distill=(--distill-from "$DISTILL_FROM")
for model in $models; do
    resume=()
    out="$runs/$model-${RUN:-everyday}"  # RUN and LR serve later rounds (train_everyday_stage3.sh)
    [ -f "$out/last.keras" ] && resume=(--resume)
    python -m humanmatting.training.train --model "$model" --data "$shared/datasets" \
        --mix "$mix" --presets "$presets" --photos "$shared/photos" \
        --teacher "$shared/anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite" \
        --recipe everyday --lr "${LR:-1e-4}" --warmup-epochs 0.25 --epochs "${EPOCHS:-7}" \
        --samples-per-epoch 1500 --init-from "$init/$model" --freeze-norms \
        --out "$out" --verbose 2 "${distill[@]}" "${resume[@]}"
done
