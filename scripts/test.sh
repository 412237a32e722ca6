#!/usr/bin/env bash
# The whole test suite, from a fresh clone: dependencies, tools, type-check, lint, format check,
# then unit, integration and end-to-end tests (real Consul and Envoy on free ports).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/tools.sh

echo "== type-check"
npx tsc --noEmit
echo "== lint"
npx eslint --max-warnings=0 .
echo "== format"
npx prettier --check --log-level=warn .

echo "== tests"
node --import tsx --test --test-reporter=spec \
  test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts
