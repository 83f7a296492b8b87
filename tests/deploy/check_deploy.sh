#!/usr/bin/env bash
# Checks deploy/ with real tools: yamllint on every YAML file, the
# Kubernetes manifests against the API schemas plus cross-references and the
# project's rules (deploy/validate/validate.mjs), the Compose file with
# `docker-compose config`, and that the image runs as a non-root user.
#   bash tests/deploy/check_deploy.sh <source dir>
set -euo pipefail
cd "${1:?source dir}"
need() {
  command -v "$1" > /dev/null || { echo "$1 is missing: run bash scripts/install_deps.sh"; exit 1; }
}
need yamllint
need node
need docker-compose

yamllint --strict -c deploy/.yamllint deploy/
echo "yamllint: deploy/ clean"

[[ -d deploy/validate/node_modules ]] ||
  { echo "deploy/validate/node_modules is missing: run bash scripts/install_deps.sh"; exit 1; }
node deploy/validate/validate.mjs

docker-compose -f deploy/docker-compose.yml config -q
echo "docker-compose config: deploy/docker-compose.yml valid"

# The runtime stage (after the last FROM) switches to a numeric non-root user.
user=$(awk '/^FROM /{user=""} /^USER /{user=$2} END{print user}' deploy/Dockerfile)
if [[ -z "$user" || "${user%%:*}" == "0" || "${user%%:*}" == "root" ]]; then
  echo "deploy/Dockerfile: the runtime stage must end with USER <non-root uid>, got '${user}'"
  exit 1
fi
echo "Dockerfile: runs as $user"
