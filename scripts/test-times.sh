#!/usr/bin/env bash
# Prints the time tables of a test run's output (vitest's default reporter, as
# `npm test` and .ci/run print it), slowest first, as docs/testing.md keeps them:
# per file, and with `tests [SECONDS]` every test that took at least SECONDS (20).
# Files run side by side, so their times add up to more than the suite's duration.
#   bash .ci/run > ci.log 2>&1; bash scripts/test-times.sh ci.log; bash scripts/test-times.sh ci.log tests
set -euo pipefail
log=$1
plain() { sed 's/\x1b\[[0-9;]*m//g' "$log"; }
if [ "${2:-files}" = tests ]; then
  echo '| test | file | seconds |'
  echo '| --- | --- | --- |'
  # A file's line (` ✓ test/x.test.ts (N tests) Tms`, with a project's name before the path
  # when the config has projects) is followed by its slow tests' lines.
  plain | awk -v min="${3:-20}" '
    match($0, /^ (✓|❯|×) +([a-z]+ +)?(test\/[^ ]+) \(/) { split(substr($0, RSTART, RLENGTH), f, " "); file = f[length(f) - 1]; next }
    file != "" && match($0, /^   +(✓|×) .* +[0-9]+ms$/) {
      ms = $NF; sub(/ms$/, "", ms); name = $0; sub(/^ +(✓|×) /, "", name); sub(/ +[0-9]+ms$/, "", name)
      if (ms / 1000 >= min) printf "%d\t| %s | %s | %.0f |\n", ms, name, file, ms / 1000
    }
    /^ *$/ { file = "" }' | sort -rn | cut -f2-
  exit
fi
echo '| file | tests | seconds |'
echo '| --- | --- | --- |'
plain | grep -aE '^ [✓❯×] +([a-z]+ +)?test/' |
  sed -E 's/^ . +([a-z]+ +)?(test\/[^ ]+) \(([0-9]+) tests?[^)]*\) ([0-9]+)ms.*/\4 \2 \3/' |
  sort -rn | awk '{ printf "| %s | %s | %.0f |\n", $2, $3, $1 / 1000 }'
