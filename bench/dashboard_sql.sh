#!/bin/bash
# `bench/dashboard_sql.sh healthsync_bench_<N>`: times the dashboard's statement at one size,
# as psql runs it, for a 30-day and a year-to-date period and the previous period of each
# (what one uncached dashboard counts), three times each: the statement the server runs now
# (the roll-up, crates/adapters-postgres/src/analytics.rs) and the one it ran before
# (bench/dashboard_raw.sql, counted from the appointments).
cd "$(dirname "$0")/.."
set -a; . .stack/env; set +a
DB=$1
B=$(python3 -c "import os,urllib.parse as u;p=u.urlparse(os.environ['DATABASE_URL']);print(p._replace(path='/$DB').geturl())")
ROLLUP=$(python3 - <<'PY'
import re
src=open('crates/adapters-postgres/src/analytics.rs').read()
print(re.search(r'const FIGURES: &str = r#"(.*?)"#;', src, re.S).group(1))
PY
)
RAW=$(grep -v '^--' bench/dashboard_raw.sql)
run() { # kind from to
  local q
  if [ "$1" = rollup ]; then
    q="$ROLLUP"
    q=${q//\$4/\'$2\'::date}
    q=${q//\$5/\'$3\'::date}
  else
    q="$RAW"
    q=${q//\$4/\'UTC\'}
    q=${q//\$5/\'$2\'::date}
    q=${q//\$6/\'$3\'::date}
  fi
  q=${q//\$1/\'$2 00:00:00+00\'::timestamptz}
  q=${q//\$2/(\'$3\'::date + 1)::timestamptz}
  q=${q//\$3/NULL}
  local t0=$(date +%s%N)
  psql "$B" -Atq -c "$q" > /dev/null
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
for kind in rollup raw; do
  for i in 1 2 3; do
    a=$(run $kind 2026-10-30 2026-11-28); b=$(run $kind 2026-09-30 2026-10-29)
    c=$(run $kind 2026-01-01 2026-11-28); d=$(run $kind 2025-02-03 2025-12-31)
    echo "$DB $kind run $i: 30d ${a} ms + previous ${b} ms = $((a+b)) ms; ytd ${c} ms + previous ${d} ms = $((c+d)) ms"
  done
done
