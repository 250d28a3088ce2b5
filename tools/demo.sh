#!/usr/bin/env bash
# `make demo`: synthetic data, then train + test both pipelines on it, figures in
# work_dirs/demo. Usage: bash tools/demo.sh [PYTHON]
set -euo pipefail
PY=${1:-python}
DATA=data/synthetic_egoexo4d
OUT=work_dirs/demo
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ ! -f "$DATA/annotations/ego_pose_gt_anno_test_public.json" ]; then
    "$PY" tools/dataset_converters/make_synthetic_egoexo4d.py --out "$DATA" \
        --takes 40 --frames-per-take 60 --seed 0 --workers 2
fi

run_pipeline() {  # name config
    local name=$1 config=$2 work="$OUT/$1"
    "$PY" tools/train.py "$config" --work-dir "$work"
    local best
    best=$(ls -t "$work"/best_*.pth | head -n 1)
    "$PY" tools/test.py "$config" "$best" --work-dir "$work/test" \
        --dump-submission "$work/predictions.json" --show-dir "$work/vis"
    "$PY" tools/analysis_tools/plot_curves.py "$work" --keys loss egoexo4d/MPJPE egoexo4d/PA-MPJPE \
        --out "$work/curves.png"
}

run_pipeline lifting configs/lifting/lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py
run_pipeline potter configs/potter/potter_poolattnformer-tiny_1xb32-6e_synthetic-64x64.py

"$PY" tools/analysis_tools/mean_pose_baseline.py \
    "$DATA/annotations/ego_pose_gt_anno_train_public.json" \
    "$DATA/annotations/ego_pose_gt_anno_test_public.json"
echo "demo outputs (checkpoints, predictions, curves, visualisations): $OUT"
