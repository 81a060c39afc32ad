// write_mmlu_pro.cjs: writes a small Parquet file in TIGER-Lab/MMLU-Pro's columns (question_id,
// question, options list<string>, answer letter, answer_index, cot_content, category, src) with
// DuckDB (npm @duckdb/node-api), for tests/cli/test_mmlu_pro.sh and test_kill_resume.sh.
// Usage: node write_mmlu_pro.cjs OUT [COPIES]: COPIES (default 1) repeats the four rows, copy k
// with question_id + 100 k.
const { DuckDBInstance } = require('@duckdb/node-api');

async function main(out, copies) {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  await db.run(`CREATE TABLE t AS SELECT * FROM (VALUES
    (70, '  Which gas do plants absorb?  ', ['Oxygen', 'Carbon dioxide', 'Nitrogen', 'Helium'],
     'B', 1, '', 'biology', 'ori'),
    (71, 'What is 7 x 6?', ['42', '48', '36', '49', '54', '56', '64', '35', '40', '45'],
     'A', 0, '', 'math', 'ori'),
    (72, E'Which is a prime?\\nPick one.', ['21', '27', '29', '33', '39'],
     'C', 2, '', 'math', 'stemez'),
    (73, 'Capital of Peru?', ['Quito', 'Lima', 'Bogota', 'Caracas', 'Santiago', 'La Paz',
     'Asuncion', 'Montevideo', 'Brasilia', 'Buenos Aires'], 'B', 1, '', 'history', 'ori')
  ) AS v(question_id, question, options, answer, answer_index, cot_content, category, src)`);
  await db.run(`CREATE TABLE u AS SELECT question_id + 100 * k AS question_id, question, options,
    answer, answer_index, cot_content, category, src FROM t, range(${copies}) AS r(k)
    ORDER BY k, t.question_id`);
  await db.run(`COPY u TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
}
main(process.argv[2], Number(process.argv[3] || 1)).catch((e) => { console.error(e); process.exit(1); });
