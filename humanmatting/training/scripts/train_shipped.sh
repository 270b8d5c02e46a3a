#!/usr/bin/env bash
# Train the three shipped models on the mask-folder sets, one after the other, resuming
# whatever an earlier call left unfinished. On a 2-core CPU: about 3.7 h of training in all
# (README "Training"). Usage:
#   bash humanmatting/training/scripts/train_shipped.sh [DATASETS_DIR] [RUNS_DIR]
# Follow it with: tail -f RUNS_DIR/train.log
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HUMANMATTING_TRAINING_SCRIPT="train_shipped.sh"  # recorded in run.json
cd "$(dirname "$0")/../../.."
data=${1:-../shared/datasets}
runs=${2:-runs}
mix=${HUMANMATTING_MIX:-eg1800=0.45,viton=0.2,ccp=0.35}
# dark at 1e-3 went unstable in its 4th epoch (val loss 0.42 -> 4.7) and at 5e-4 in its 8th
# (both before the softmax head computed in float32): a quarter of the rate.
declare -A extra=([night]="" [dark-light]="" [dark]="--lr 2.5e-4")
for model in night dark-light dark; do
    resume=()
    [ -f "$runs/$model/last.keras" ] && resume=(--resume)
    # shellcheck disable=SC2086
    python -m humanmatting.training.train --model "$model" --data "$data" --mix "$mix" --recipe photos \
        --out "$runs/$model" --bf16 --verbose 2 ${extra[$model]} "${resume[@]}"
done
