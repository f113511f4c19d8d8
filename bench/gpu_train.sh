#!/usr/bin/env bash
# The GPU training measurements published under results/: the book's recipe (vgg11,
# ratio 8, 224 px, Adam 1e-3, batch 64, 5 epochs) for stack and single, seeds 0-2,
# then the training-loop benchmarks (loop overhead, and the book's PIL pipeline).
# Usage: bench/gpu_train.sh OUT_DIR   (vggbench importable, one CUDA GPU, Fashion-MNIST findable)
set -euo pipefail
out=${1:?usage: bench/gpu_train.sh OUT_DIR}
mkdir -p "$out"
recipe=(--arch vgg11 --variant stack single --ratio 8 --resolution 224 --epochs 5 --batch-size 64 --device cuda)

python3 -m vggbench train "${recipe[@]}" --seed 0 --out "$out/train-seed0.csv"
python3 -m pytest bench/test_train_loop.py -q -p no:cacheprovider --benchmark-json "$out/bench-train.json"
python3 -m vggbench train "${recipe[@]}" --seeds 1 2 --out "$out/train-seeds12.csv"
