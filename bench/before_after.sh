#!/usr/bin/env bash
# Run the benchmarks on an earlier revision and on this tree alternately, in the same session, so
# that a restructure can be judged "no worse" on the same machine under the same conditions.
#
#   bench/before_after.sh REV [ROUNDS]      e.g. bench/before_after.sh b99c1cc 2
#
# REV is checked out as a git worktree beside this one (with its own .venv, made by its Makefile);
# each round runs every benchmark on REV, then on this tree. Output goes to stdout.
set -euo pipefail
rev=${1:?usage: bench/before_after.sh REV [ROUNDS]}
rounds=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
before="$here/../kite-gateway-bench-$rev"
[ -d "$before" ] || git -C "$here" worktree add --detach "$before" "$rev" >/dev/null
make -C "$before" .venv/.installed >/dev/null 2>&1
make -C "$here" .venv/.installed >/dev/null 2>&1
benches=(
  "simulator_bench.py --seconds 5"
  "gateway_bench.py"
  "streaming_bench.py --seconds 5 --counts 1 10"
  "decoder_bench.py"
)
for round in $(seq "$rounds"); do
  for bench in "${benches[@]}"; do
    for tree in "$before" "$here"; do
      label=$([ "$tree" = "$here" ] && echo "this tree" || echo "$rev")
      echo "### round $round, $label: bench/$bench"
      (cd "$tree" && .venv/bin/python bench/$bench) 2>&1 || echo "(exited $?)"
    done
  done
done
