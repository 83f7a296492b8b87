#!/usr/bin/env bash
# The operations docs list every flag of the programs an operator runs in
# production: each ABSL_FLAG defined in their main files must appear as
# `--name` in the document named for it.
#   bash tests/deploy/check_flags_documented.sh <source dir>
set -euo pipefail
cd "${1:?source dir}"
# main file -> the document that must list its flags
DOCS=(
  "server/main.cc docs/operations.md"
  "training/train_main.cc docs/operations.md"
  "nightly/nightly_main.cc docs/nightly.md"
)
missing=0
for entry in "${DOCS[@]}"; do
  read -r main doc <<< "$entry"
  # Flag names, also where ABSL_FLAG( and the name are on different lines.
  flags=$(perl -0777 -ne 'print "$1\n" while /ABSL_FLAG\(\s*[^,]+,\s*([a-z0-9_]+)/g' "$main")
  [[ -n "$flags" ]] || { echo "no flags found in $main"; exit 1; }
  for flag in $flags; do
    if ! grep -q -- "\`--$flag\`" "$doc"; then
      echo "$doc does not document --$flag of $main"
      missing=$((missing + 1))
    fi
  done
done
((missing == 0)) || exit 1
echo "every flag is documented: ${DOCS[*]}"
