#!/usr/bin/env bash
# The GPU measurements published under results/: per-model speed and the paired
# stack/single/linear-stack comparison for vgg11, vgg13 and vgg16 at ratios 1 and 8
# (224 px, batch 64, fp32 with cuDNN's TF32, infer and train), then the bench/ suites.
# Usage: bench/gpu_study.sh OUT_DIR   (vggbench importable, one CUDA GPU)
set -euo pipefail
out=${1:?usage: bench/gpu_study.sh OUT_DIR}
mkdir -p "$out"
models=(--arch vgg11 vgg13 vgg16 --ratio 1 8 --resolution 224 --mode infer train --batch-size 64 --device cuda)

{
  date -u +"start %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import sys, torch, pandas; print('python', sys.version.split()[0], 'torch', torch.__version__,
      'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'pandas', pandas.__version__)"
  nproc
} > "$out/environment.txt"

python3 -m pytest tests/test_speed.py -q -p no:cacheprovider -k cuda
python3 -m vggbench speed "${models[@]}" --min-time 1 --out "$out/speed.csv"
python3 -m vggbench speed "${models[@]}" --min-time 1 --paired --out "$out/pairs.csv"
python3 -m pytest bench -q -p no:cacheprovider --benchmark-json "$out/bench.json"
date -u +"end %Y-%m-%dT%H:%M:%SZ" >> "$out/environment.txt"
