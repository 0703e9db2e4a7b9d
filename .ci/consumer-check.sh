#!/usr/bin/env bash
# Install routekit as a user would: pack this checkout, install the tarball into a fresh
# consumer project that has no .npmrc, and use it from there. Fails on any install script in
# the dependency tree, on node_modules over 250 MB, or on any command that does not work.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
mkdir "$work/consumer"
cd "$work/consumer"
npm init -y >/dev/null
start=$(date +%s)
npm install --no-audit --no-fund "$work/$tarball"
echo "consumer install: $(( $(date +%s) - start )) s"

node "$root/.ci/check-install.mjs" node_modules 250

export ROUTEKIT_CACHE_DIR="$work/cache"
npx routekit --help | grep -q "routekit"
npx routekit train node_modules/routekit/data/default.arrow --router linear --embedder hash --out models/linear --json > train.json
npx routekit route models/linear --budget 0.0003 "Write a Python function that reverses a string." | tee route.txt
grep -q "expected \$0.000300/query" route.txt
# A shipped config runs from the consumer's folder: its data path is relative to the config.
npx routekit run node_modules/routekit/experiments/default.yaml --out runs/default > run.txt
test -s runs/default/results.json
# The optional hf: backend says how to get it, in one line.
if npx routekit embed node_modules/routekit/data/default.arrow --embedder hf:Xenova/all-MiniLM-L6-v2 2> hf.err; then
  echo "hf: without @huggingface/transformers should fail" >&2; exit 1
fi
test "$(grep -c "^routekit: error" hf.err)" -eq 1
tail -n 1 hf.err | grep -q "^routekit: error: .*npm install @huggingface/transformers$"
echo "consumer check: ok"
