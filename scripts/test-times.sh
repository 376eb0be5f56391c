#!/usr/bin/env bash
# Prints the per-file time table of a test run's output (vitest's default
# reporter, as `npm test` and .ci/run print it), slowest first, as docs/testing.md keeps it.
#   bash .ci/run > ci.log 2>&1; bash scripts/test-times.sh ci.log
set -euo pipefail
echo '| file | tests | seconds |'
echo '| --- | --- | --- |'
sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -a '^ [✓❯×] test/' |
  sed -E 's/^ . (test\/[^ ]+) \(([0-9]+) tests?[^)]*\) ([0-9]+)ms.*/\3 \1 \2/' |
  sort -rn | awk '{ printf "| %s | %s | %.0f |\n", $2, $3, $1 / 1000 }'
