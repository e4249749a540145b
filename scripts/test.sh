#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks generated files, lint and types, then runs the
# unit, integration and end-to-end tests against a real local control plane.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund
bash e2e/cluster/build.sh --node >/dev/null
bash scripts/neighbours.sh
npm run --silent check:gen
npx prettier --check . --log-level warn
npm run --silent lint
npm run --silent typecheck
exec npx mocha '{api,lib,ipam,operator,webhooks,agent,cni}/**/*.test.ts' 'e2e/**/*.test.ts' "$@"
