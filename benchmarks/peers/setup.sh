#!/usr/bin/env bash
# Creates benchmarks/peers/.venv: NNI 3.0 and nasplug side by side, for nni_side_by_side.py.
#
#   benchmarks/peers/setup.sh [PYTHON]     (PYTHON: a Python 3.11 interpreter, default python3)
#
# NNI 3.0 (2023) runs on torch 2.14.1 with Lightning 2.0.9.post0 pinned (NNI's evaluator predates
# later Lightning APIs) and setuptools below 81 (Lightning 2.0 imports pkg_resources, removed in
# 81). ENAS needs tianshou (0.5.0, NNI's era) and gym, which NNI's RL code imports.
# nasplug and its three controller distributions go in editable from this checkout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${1:-python3}

"$python" -m venv "$here/.venv"
pip=("$here/.venv/bin/python" -m pip)
"${pip[@]}" install -q -U pip "setuptools<81" wheel
"${pip[@]}" install -q "torch==2.14.1" "nni==3.0" "pytorch-lightning==2.0.9.post0" "setuptools<81" \
    "tianshou==0.5.0" "gym==0.26.2"
"${pip[@]}" install -q -e "$root" -e "$root/plugins/nasplug-mdenas" -e "$root/plugins/nasplug-parsec" \
    -e "$root/plugins/nasplug-eoinas"
"$here/.venv/bin/python" -c "from importlib.metadata import version; print('nni', version('nni'), '| nasplug', version('nasplug'))"
echo "run: $here/.venv/bin/python $here/nni_side_by_side.py --out nni_side_by_side.json"
