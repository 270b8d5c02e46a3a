#!/usr/bin/env bash
# After train_shipped.sh: export the three models (Keras 3 + TFLite fp32/fp16/int8, int8
# calibrated on training photos), measure them (QUALITY.md, plots, each model's
# metrics.json for its card) and copy their runtime files into the package. Usage:
#   bash humanmatting/training/scripts/export_shipped.sh [DATASETS_DIR] [RUNS_DIR] [EXPORT_DIR]
# Steps can be skipped: STEPS="export quality ship" (default all), MODELS="night dark".
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
cd "$(dirname "$0")/../../.."
data=${1:-../shared/datasets}
runs=${2:-runs}
out=${3:-models}
steps=${STEPS:-export quality ship}
models=${MODELS:-night dark-light dark}
if [[ " $steps " == *" export "* ]]; then
    for model in $models; do
        python -m humanmatting.training.export "$runs/$model" --model "$model" --out "$out" \
            --variants fp16,int8 --calibration-data "$data" --calibration-count 64
    done
fi
if [[ " $steps " == *" quality "* ]]; then
    python -m benchmarks.quality --weights "$out" --datasets "$data" --model-metrics "$out" \
        --sizes 160,256,320,448,512
fi
if [[ " $steps " == *" ship "* ]]; then
    python -m humanmatting.training.ship "$out"
fi
