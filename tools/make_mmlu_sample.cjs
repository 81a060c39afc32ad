// make_mmlu_sample.cjs: writes data/sample/cais_mmlu, a few subjects of the real MMLU (MIT) in
// the Hub's cais/mmlu layout and columns, small enough to commit: `make run` evaluates on it
// offline. Run once by a developer with DuckDB from npm (NODE_PATH=<deps>/node/node_modules);
// the committed files are its output. Source: tests/data/mmlu (the Hub's Parquet files).
const { DuckDBInstance } = require('@duckdb/node-api');
const { mkdirSync } = require('node:fs');

async function main(src, dst) {
  const subjects = ['abstract_algebra', 'high_school_geography', 'marketing', 'world_religions'];
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  for (const s of subjects) {
    mkdirSync(`${dst}/${s}`, { recursive: true });
    for (const [split, n] of [['dev', 5], ['test', 12]]) {
      const f = `${src}/${s}/${split}-00000-of-00001.parquet`;
      await db.run(`COPY (SELECT * FROM read_parquet('${f}') LIMIT ${n}) TO ` +
        `'${dst}/${s}/${split}-00000-of-00001.parquet' (FORMAT parquet, COMPRESSION snappy)`);
    }
  }
}
main(process.argv[2], process.argv[3]).catch((e) => { console.error(e); process.exit(1); });
