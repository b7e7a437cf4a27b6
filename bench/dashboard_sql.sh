#!/bin/bash
# `bench/dashboard_sql.sh healthsync_bench_<N>`: times the dashboard's statement (crates/adapters-postgres/src/analytics.rs) at one size, for
# a 30-day and a year-to-date period and the previous period of each (what one uncached
# dashboard runs), three times each.
cd "$(dirname "$0")/.."
set -a; . .stack/env; set +a
DB=$1
B=$(python3 -c "import os,urllib.parse as u;p=u.urlparse(os.environ['DATABASE_URL']);print(p._replace(path='/$DB').geturl())")
SQL=$(python3 - <<'PY'
import re
src=open('crates/adapters-postgres/src/analytics.rs').read()
print(re.search(r'const FIGURES: &str = r#"(.*?)"#;', src, re.S).group(1))
PY
)
run() { # from to
  local q="$SQL"
  q=${q//\$1/\'$1 00:00:00+00\'::timestamptz}
  q=${q//\$2/(\'$2\'::date + 1)::timestamptz}
  q=${q//\$3/NULL}
  q=${q//\$4/\'UTC\'}
  q=${q//\$5/\'$1\'::date}
  q=${q//\$6/\'$2\'::date}
  local t0=$(date +%s%N)
  psql "$B" -Atq -c "$q" > /dev/null
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
for i in 1 2 3; do
  a=$(run 2026-10-30 2026-11-28); b=$(run 2026-09-30 2026-10-29)
  c=$(run 2026-01-01 2026-11-28); d=$(run 2025-02-03 2025-12-31)
  echo "$DB run $i: 30d ${a} ms + previous ${b} ms = $((a+b)) ms; ytd ${c} ms + previous ${d} ms = $((c+d)) ms"
done
