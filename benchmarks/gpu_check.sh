#!/usr/bin/env bash
# The device check: everything nasplug runs on a GPU, in under 8 minutes on one H100/H200, with
# nothing but this repository and its packages installed (no dataset: it writes synthetic CIFAR-10).
#
#   benchmarks/gpu_check.sh OUTDIR
#
# 1. the CUDA-marked tests (pytest -m cuda);
# 2. benchmarks/step_cost.py at NNI's side-by-side setting (8 cells, C = 16, batch 64, 32x32);
# 3. benchmarks/search_throughput.py at the papers' settings, data held on the GPU; then MdeNAS's
#    setting again through the DataLoader, and with bf16/channels-last;
# 4. one epoch of the mdenas-cifar10 recipe on synthetic CIFAR-10 files (50,000 + 10,000 images),
#    both splits held on the GPU (--data-on-device on);
# 5. one epoch of `nasplug train` (DARTS_V2, CIFAR-10 recipe) with bf16 autocast;
# 6. the epoch of 4 again through the DataLoader (--data-on-device off, 8 workers), for the ratio;
# 7. only where GPU_CHECK_NB201_DATA names a folder holding real CIFAR-10 (cifar-10-batches-py/, e.g.
#    written by ../shared/data/cifar10/make.py): benchmarks/nb201_quality.py at the NAS-Bench-201 paper's
#    scale (N = 5, C = 16, 32x32, 100 epochs, 5 methods x 3 seeds; hours, not minutes: GPU_CHECK_NB201_EPOCHS
#    shortens it), its table to OUTDIR/nb201_quality.json.
#
# It writes each part's log and tables to OUTDIR and a summary.md of what passed and how long it
# took; it goes on after a failed part and exits 1 if any failed. Environment:
#   GPU_CHECK_DEVICE  cuda (default) or cpu, to try the script without a GPU;
#   GPU_CHECK_TINY=1  tiny sizes everywhere (a few minutes on a laptop CPU): checks the script,
#                     not the speed.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
DEVICE=${GPU_CHECK_DEVICE:-cuda}
TINY=${GPU_CHECK_TINY:-0}
DATA="$OUT/data"
SUMMARY="$OUT/summary.md"
failed=0

if [ "$TINY" = 1 ]; then
    per_batch=60        # 300 training images
    step_cost_args=(--layers 3 --channels 4 --input-size 8 --batch-size 8 --rounds 1 --warmup-rounds 1
                    --memory-steps 1)
    throughput_args=(--steps 1 --batch-scale 0.0625 --input-size 8 --parsec-k 2 --images 2000)
    run_args=(--batch-size 16 --layers 3 --channels 4 --search-split 100)
    train_args=(--batch-size 16 --layers 3 --channels 4)
    workers=0
else
    per_batch=10000     # CIFAR-10's real size
    step_cost_args=(--layers 8 --channels 16 --input-size 32 --batch-size 64 --rounds 8)
    throughput_args=(--steps 5)
    run_args=()
    train_args=()
    workers=8
fi

# part NAME COMMAND...: run one part, its output to OUTDIR/NAME.log, its status and seconds to the summary.
part() {
    local name=$1
    shift
    echo "== $name: $*"
    local started=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    local status=$?
    local seconds=$((SECONDS - started))
    if [ $status -eq 0 ]; then
        echo "| $name | ok | $seconds |" >> "$SUMMARY"
    else
        echo "| $name | FAILED (exit $status, see $name.log) | $seconds |" >> "$SUMMARY"
        tail -n 5 "$OUT/$name.log"
        failed=1
    fi
}

{
    echo "# nasplug device check"
    echo
    echo "device: $DEVICE, tiny: $TINY, commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
    python -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|',
        torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
    echo
    echo "| part | result | seconds |"
    echo "| --- | --- | --- |"
} > "$SUMMARY"

part cuda_tests python -m pytest -q -p no:cacheprovider -m cuda tests

part step_cost python benchmarks/step_cost.py --device "$DEVICE" "${step_cost_args[@]}" \
    --out "$OUT/step_cost.json"

part search_throughput python benchmarks/search_throughput.py --device "$DEVICE" "${throughput_args[@]}" \
    --data-on-device on --out "$OUT/search_throughput.json"

part throughput_loader python benchmarks/search_throughput.py --device "$DEVICE" "${throughput_args[@]}" \
    --recipes mdenas-cifar10 --data-on-device off --workers "$workers" --out "$OUT/throughput_loader.json"

part throughput_bf16 python benchmarks/search_throughput.py --device "$DEVICE" "${throughput_args[@]}" \
    --recipes mdenas-cifar10 --data-on-device on --amp --channels-last --out "$OUT/throughput_bf16.json"

rm -rf "$DATA"
part write_cifar10 python -m nasplug.testing.cifar "$DATA" --per-batch "$per_batch"

rm -rf "$OUT/mdenas-run"
part mdenas_epoch nasplug run --recipe mdenas-cifar10 --epochs 1 --data-dir "$DATA" --device "$DEVICE" \
    --data-on-device on --out "$OUT/mdenas-run" --quiet "${run_args[@]}"

rm -rf "$OUT/train-bf16"
part train_bf16_epoch nasplug train --genotype DARTS_V2 --dataset cifar10 --data-dir "$DATA" --epochs 1 \
    --amp --device "$DEVICE" --workers "$workers" --out "$OUT/train-bf16" --quiet "${train_args[@]}"

rm -rf "$OUT/mdenas-run-loader"
part mdenas_epoch_loader nasplug run --recipe mdenas-cifar10 --epochs 1 --data-dir "$DATA" --device "$DEVICE" \
    --data-on-device off --workers "$workers" --out "$OUT/mdenas-run-loader" --quiet "${run_args[@]}"

rm -rf "$DATA"  # 180 MB of random pixels: not worth bringing back

if [ -n "${GPU_CHECK_NB201_DATA:-}" ]; then
    nb201_epochs=()
    [ -n "${GPU_CHECK_NB201_EPOCHS:-}" ] && nb201_epochs=(--epochs "$GPU_CHECK_NB201_EPOCHS")
    part nb201_paper_scale python benchmarks/nb201_quality.py --paper-scale --device "$DEVICE" --workers 1 \
        --threads 8 --data-dir "$GPU_CHECK_NB201_DATA" --out "$OUT/nb201_quality.json" \
        --work "$OUT/nb201-runs" "${nb201_epochs[@]}"
fi
{
    echo
    echo "total: $SECONDS s"
    for name in step_cost search_throughput throughput_loader throughput_bf16; do
        if [ -f "$OUT/$name.json" ]; then
            echo
            echo "## $name"
            echo
            python -c "import json, sys; print(json.load(open(sys.argv[1]))['table'])" "$OUT/$name.json"
        fi
    done
    for run in mdenas-run mdenas-run-loader; do
        if [ -f "$OUT/$run/history.jsonl" ]; then
            data="the data on the device"
            [ "$run" = mdenas-run-loader ] && data="through the DataLoader"
            echo
            echo "## mdenas-cifar10, one epoch, $data"
            echo
            python -c "import json, sys; r = json.loads(open(sys.argv[1]).readline());
print({k: r[k] for k in ('steps', 'seconds', 'train_loss', 'search_accuracy')})" "$OUT/$run/history.jsonl"
        fi
    done
    if [ -f "$OUT/train-bf16/metrics.jsonl" ]; then
        echo
        echo "## nasplug train, bf16, one epoch"
        echo
        head -n 1 "$OUT/train-bf16/metrics.jsonl"
    fi
} >> "$SUMMARY"
cat "$SUMMARY"
exit $failed
