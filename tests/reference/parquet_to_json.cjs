// parquet_to_json.cjs: prints the rows of a Parquet file as JSON lines, read by DuckDB (npm
// @duckdb/node-api): the independent reading tests compare ours and prompts against.
// Usage: NODE_PATH=<node_modules> node parquet_to_json.cjs FILE
const { DuckDBInstance } = require('@duckdb/node-api');

async function main(file) {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const reader = await db.runAndReadAll(`SELECT * FROM read_parquet('${file.replace(/'/g, "''")}')`);
  for (const row of reader.getRowObjectsJson()) process.stdout.write(JSON.stringify(row) + '\n');
}
main(process.argv[2]).catch((e) => { console.error(e); process.exit(1); });
