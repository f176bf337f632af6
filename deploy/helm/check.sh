#!/usr/bin/env bash
# The chart's offline checks: `helm lint --strict` and `helm template` for the default values and for
# every file of examples/. test/deploy/helm.unit.test.ts runs the same renders and checks the objects.
#   deploy/helm/check.sh            # helm from $HELM, PATH or ~/go/bin
# helm: GOTOOLCHAIN=local go install helm.sh/helm/v3/cmd/helm@v3.21.4 (a go-installed helm defaults
# to Kubernetes 1.20, hence --kube-version; KUBE_VERSION overrides 1.33.0).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chart="$here/tickwise"
helm=${HELM:-$(command -v helm || echo "${GOPATH:-$HOME/go}/bin/helm")}
if [ ! -x "$helm" ]; then
  echo "check.sh: helm not found (\$HELM, PATH, ~/go/bin): GOTOOLCHAIN=local go install helm.sh/helm/v3/cmd/helm@v3.21.4" >&2
  exit 1
fi
kube=${KUBE_VERSION:-1.33.0}
for values in "" "$chart"/examples/*.yaml; do
  args=(--kube-version "$kube")
  [ -n "$values" ] && args+=(-f "$values")
  echo "== ${values:-default values}"
  "$helm" lint --strict "${args[@]}" "$chart"
  "$helm" template tickwise "$chart" "${args[@]}" > /dev/null
  echo "helm template: ok"
done
