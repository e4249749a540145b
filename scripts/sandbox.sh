#!/usr/bin/env bash
# Runs the product on an embedded local cluster. Installs what it needs on first use.
#   npm run sandbox                  foreground, until Ctrl-C
#   npm run sandbox -- --detach      background; the last line printed is KUBECONFIG=<path>
#   npm run sandbox -- --real-node   a real node (containerd, kubelet, kube-proxy) with the product installed
#                                    from deploy/ by kubectl apply -k (combines with --detach)
#   npm run sandbox -- --quickstart NAME
#                                    the cluster a quick start assumes: calico-quickstart (the default),
#                                    public-cloud-ipvlan or macvlan-overlay (combines with --detach)
#   npm run sandbox -- --exec POD CMD…
#                                    runs CMD in a simulated pod's network namespace (for kubectl exec)
#   npm run sandbox:stop             tears a background sandbox down
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--stop" ] && [ "${1:-}" != "--exec" ]; then
  [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund >&2
  bash scripts/neighbours.sh
  case " $* " in
  *" --real-node "*) bash e2e/cluster/build.sh --node >/dev/null ;;
  *) bash e2e/cluster/build.sh >/dev/null ;;
  esac
fi
exec node --import tsx e2e/sandbox/main.ts "$@"
