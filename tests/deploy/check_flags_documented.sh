#!/usr/bin/env bash
# docs/operations.md lists every flag of the programs an operator runs in
# production: each ABSL_FLAG defined in their main files must appear there
# as `--name`.
#   bash tests/deploy/check_flags_documented.sh <source dir>
set -euo pipefail
cd "${1:?source dir}"
MAINS=(server/main.cc training/train_main.cc)
missing=0
for main in "${MAINS[@]}"; do
  for flag in $(grep -oP 'ABSL_FLAG\([^,]+,\s*\K[a-z0-9_]+' "$main"); do
    if ! grep -q -- "\`--$flag\`" docs/operations.md; then
      echo "docs/operations.md does not document --$flag of $main"
      missing=$((missing + 1))
    fi
  done
done
((missing == 0)) || exit 1
echo "docs/operations.md documents every flag of ${MAINS[*]}"
