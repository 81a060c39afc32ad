// write_mmmu_pro.cjs: writes a Parquet file in MMMU/MMMU_Pro's `standard (10 options)` columns
// (id, question, options as a Python list literal, explanation, image_1..image_7 as the Hub's
// image structs {bytes: binary, path: string} or null, img_type, answer, topic_difficulty,
// subject) with DuckDB (npm @duckdb/node-api), for tests/cli/test_vision_tasks.sh.
// Usage: node write_mmmu_pro.cjs ROWS.jsonl OUT.parquet
// ROWS.jsonl: one object per row with those fields; an image is {"bytes": base64, "path": str}
// or null.
const { DuckDBInstance } = require('@duckdb/node-api');

const IMAGE = 'STRUCT(bytes VARCHAR, path VARCHAR)';
const images = [1, 2, 3, 4, 5, 6, 7].map((i) => `image_${i}`);

async function main(rows, out) {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const q = (s) => `'${s.replace(/'/g, "''")}'`;
  const types = ['id', 'question', 'options', 'explanation'].map((c) => `${c}: 'VARCHAR'`)
    .concat(images.map((c) => `${c}: '${IMAGE}'`))
    .concat(['img_type', 'answer', 'topic_difficulty', 'subject'].map((c) => `${c}: 'VARCHAR'`));
  const cols = ['id', 'question', 'options', 'explanation']
    .concat(images.map((c) => `CASE WHEN ${c} IS NULL THEN NULL ELSE ` +
      `struct_pack(bytes := from_base64(${c}.bytes), path := ${c}.path) END AS ${c}`))
    .concat(['img_type', 'answer', 'topic_difficulty', 'subject']);
  await db.run(`CREATE TABLE t AS SELECT ${cols.join(', ')} FROM read_json(${q(rows)}, ` +
    `format = 'newline_delimited', columns = {${types.join(', ')}})`);
  await db.run(`COPY t TO ${q(out)} (FORMAT parquet, COMPRESSION zstd)`);
}
main(process.argv[2], process.argv[3]).catch((e) => { console.error(e); process.exit(1); });
