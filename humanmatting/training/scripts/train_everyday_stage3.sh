#!/usr/bin/env bash
# Stage 3 of the shipped LikeUnets: each model's everyday run (train_everyday.sh, its best
# checkpoint) fine-tuned at half its learning rate with more of the portrait sets and fewer
# pasted people and empty frames: after train_everyday.sh night had lost a point on EG1800
# (0.933 -> 0.924) while coco128's people rose (0.286 -> 0.335). Resumes what an earlier call
# left unfinished. FROM=stage3 RUN=stage4 runs it once more from this stage's best
# (FROM_CHECKPOINT=MODEL-EE-0.NNNN.keras: from that epoch instead). Usage:
#   bash humanmatting/training/scripts/train_everyday_stage3.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_everyday_stage3.sh SHARED RUNS"  # recorded in run.json
cd "$(dirname "$0")/../../.."
shared=${1:-../shared}
runs=${2:-runs}
export HUMANMATTING_MIX=${HUMANMATTING_MIX:-eg1800=0.35,viton=0.12,ccp=0.28,idphoto=0.05,pasted=0.08,nobody=0.05,teacher=0.07}
for model in ${MODELS:-night dark}; do
    from="$runs/$model-${FROM:-everyday}"
    # The start: the run's val-best checkpoint, or FROM_CHECKPOINT (a file name in that run).
    checkpoint=${FROM_CHECKPOINT:-}
    start="$from-${checkpoint:-best}"
    start=${start%.keras}
    if [ ! -f "$start/$model/model.weights.h5" ]; then
        python -m humanmatting.training.export "$from${checkpoint:+/$checkpoint}" --model "$model" \
            --out "$start"
    fi
    # train_everyday.sh's training (its sizes, frozen norms), from that start.
    MODELS=$model RUN=${RUN:-stage3} LR=${LR:-5e-5} EPOCHS=${EPOCHS:-6} \
        bash humanmatting/training/scripts/train_everyday.sh "$shared" "$start" "$runs"
done
