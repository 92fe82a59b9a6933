#!/usr/bin/env bash
# On a GPU host: vLLM from PyPI serves a model that is on disk, and bench/endpoint_bench.py
# measures it through our socket against streaming straight from vLLM, at 1 and 32
# concurrent clients (figures for docs/PERFORMANCE.md).
#
#   bin/setup                                   # the project's .venv, once
#   bench/vllm_endpoint_bench.sh /models/Qwen2.5-0.5B-Instruct [served-name]
#
# vLLM goes into its own venv (var/vllm-venv, or $VLLM_VENV); its log is var/vllm.log.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/vllm_endpoint_bench.sh MODEL_DIR [SERVED_NAME]}
name=${2:-bench-model}
venv=${VLLM_VENV:-$PWD/var/vllm-venv}
port=${VLLM_PORT:-8001}
if [ ! -x "$venv/bin/vllm" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q vllm
fi
VLLM_API_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export VLLM_API_KEY
"$venv/bin/vllm" serve "$model" --served-model-name "$name" --api-key "$VLLM_API_KEY" --port "$port" \
  > var/vllm.log 2>&1 &
vllm_pid=$!
trap 'kill "$vllm_pid" 2>/dev/null || true' EXIT
for _ in $(seq 900); do
  if curl -sf -H "Authorization: Bearer $VLLM_API_KEY" "http://127.0.0.1:$port/v1/models" > /dev/null; then break; fi
  kill -0 "$vllm_pid" 2>/dev/null || { echo "vLLM exited; see var/vllm.log" >&2; exit 1; }
  sleep 1
done
.venv/bin/python bench/endpoint_bench.py --base-url "http://127.0.0.1:$port/v1" --model "$name" \
  --api-key-env VLLM_API_KEY --tokens 256 --repeats 5 --clients 1 32 "${@:3}"
