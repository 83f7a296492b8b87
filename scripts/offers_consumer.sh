#!/usr/bin/env bash
# A consumer of the triggered-offers outbox (docs/marketing.md, "The outbox
# stream"): reads new entries of the Redis stream with a consumer group,
# prints each offer as one line of field=value pairs, and acknowledges it.
# A messaging system sends the offer where this prints it.
#   bash scripts/offers_consumer.sh [--redis=host:port] [--stream=rs:offers]
#        [--group=messaging] [--consumer=NAME] [--once]
# --once: read what is there and exit (no blocking).
set -euo pipefail
redis=127.0.0.1:6379 stream=rs:offers group=messaging consumer=$(hostname)-$$ once=0
while (($# > 0)); do
  case "$1" in
    --redis=*) redis=${1#*=}; shift ;;
    --stream=*) stream=${1#*=}; shift ;;
    --group=*) group=${1#*=}; shift ;;
    --consumer=*) consumer=${1#*=}; shift ;;
    --once) once=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cli=(redis-cli -h "${redis%:*}" -p "${redis##*:}")
[[ -n "${RECSYS_REDIS_PASSWORD:-}" ]] && cli+=(--no-auth-warning -a "$RECSYS_REDIS_PASSWORD")
# The group reads from the start of the stream; an existing group is kept.
"${cli[@]}" XGROUP CREATE "$stream" "$group" 0 MKSTREAM >/dev/null 2>&1 || true
while true; do
  block=(BLOCK 5000)
  ((once)) && block=()
  # --raw prints the id, then field and value lines, entry after entry.
  out=$("${cli[@]}" --raw XREADGROUP GROUP "$group" "$consumer" COUNT 100 "${block[@]}" \
        STREAMS "$stream" '>')
  n=0
  if [[ -n "$out" ]]; then
    mapfile -t lines <<< "$out"
    # Line 0 is the stream name; then per entry: id, then 20 field/value lines.
    i=1
    while ((i + 20 < ${#lines[@]})); do
      id=${lines[$i]}
      line="id=$id"
      for ((j = i + 1; j < i + 21; j += 2)); do line+=" ${lines[$j]}=${lines[$((j + 1))]}"; done
      echo "$line"
      "${cli[@]}" XACK "$stream" "$group" "$id" >/dev/null
      i=$((i + 21))
      n=$((n + 1))
    done
  fi
  ((once)) && break
done
