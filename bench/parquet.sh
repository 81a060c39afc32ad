#!/usr/bin/env bash
# parquet.sh: Mill's Parquet reader against DuckDB on the 57 MMLU test files, single-threaded,
# all columns, every row materialised (mill_value trees vs DuckDB rows read into JS values),
# best of three passes each. Usage: bench/parquet.sh BUILD_DIR (a build with bench/bench_parquet).
# Must not write outside a temp dir.
set -euo pipefail
build=${1:?usage: bench/parquet.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
data=${MILL_MMLU_DIR:-$src/tests/data/mmlu/cais_mmlu}
mods=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp "$build/bench/bench_parquet" "$tmp/bench_parquet"
files=("$data"/*/test-00000-of-00001.parquet)
echo "files: ${#files[@]} MMLU test splits"

read -r _ mill_rows _ mill_s _ mill_rps < <("$tmp/bench_parquet" "${files[@]}")

cat > "$tmp/duck.cjs" <<'JS'
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
    const files = process.argv.slice(2);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run('SET threads = 1');
    const list = '[' + files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ') + ']';
    // js: every row converted to JS values (like our mill_value trees); native: the result
    // only materialised in DuckDB's own chunks (its decoding speed without node's cost).
    for (const js of [true, false]) {
        let best = Infinity, rows = 0;
        for (let rep = 0; rep < 3; rep++) {
            const t0 = process.hrtime.bigint();
            const reader = await conn.runAndReadAll(`SELECT * FROM read_parquet(${list})`);
            rows = js ? reader.getRows().length : reader.currentRowCount;
            best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
        }
        const rps = (rows / best).toFixed(0);
        console.log(`rows ${rows} seconds ${best.toFixed(6)} rows_per_s ${rps}`);
    }
})().catch((e) => { console.error(e); process.exit(1); });
JS
NODE_PATH="$mods" node "$tmp/duck.cjs" "${files[@]}" > "$tmp/duck.txt"
{ read -r _ duck_rows _ duck_s _ duck_rps; read -r _ nat_rows _ nat_s _ nat_rps; } < "$tmp/duck.txt"

printf 'mill                %6d rows  %8.4f s  %10.0f rows/s\n' "$mill_rows" "$mill_s" "$mill_rps"
printf 'duckdb (JS values)  %6d rows  %8.4f s  %10.0f rows/s\n' "$duck_rows" "$duck_s" "$duck_rps"
printf 'duckdb (native)     %6d rows  %8.4f s  %10.0f rows/s\n' "$nat_rows" "$nat_s" "$nat_rps"
awk -v a="$mill_rps" -v b="$duck_rps" -v c="$nat_rps" \
    'BEGIN { printf "ratio mill/duckdb: %.2f (JS values), %.2f (native)\n", a / b, a / c }'
if [ "$mill_rows" != "$duck_rows" ] || [ "$mill_rows" != "$nat_rows" ]; then
    echo "row counts differ" >&2
    exit 1
fi
