// parquet_fixtures.cjs: writes Parquet fixtures for tests/unit/test_parquet_oracle.c with three
// independent writers (DuckDB: data page v1, PLAIN/dictionary, V2 encodings, every codec;
// hyparquet-writer: data page v2, dictionaries, DELTA_* / BYTE_STREAM_SPLIT, SNAPPY and GZIP;
// parquet-wasm, the arrow-rs writer, in parquet_fixtures_wasm.cjs: pages v1 and v2, six codecs,
// dictionary on / off / fallback, DELTA_* / BYTE_STREAM_SPLIT, nested types, wide DECIMALs),
// and next to each fixture <name>.jsonl, its rows as DuckDB reads them back (the oracle).
// Must not write outside the directory given as its argument, nor touch the network.
//
// Usage: NODE_PATH=$MILL_NODE_MODULES node parquet_fixtures.cjs DIR
// Writes DIR/<name>.parquet, DIR/<name>.jsonl and DIR/index.txt (one fixture name a line;
// "<name> error" for a corrupt fixture that must be rejected, which has no .jsonl). Hand-built
// files (Thrift through hyparquet-writer's serializer) add legacy list layouts, INT96,
// FLOAT16, byte-array DECIMAL and page CRCs.
// JSON shape: one object per row, columns in file order. The JSON type follows DuckDB's column
// type (recursing into LIST / ARRAY / STRUCT / MAP), never the JS value: FLOAT, DOUBLE and
// DECIMAL are numbers with a point or an exponent (3.0, -0.0, 0.1, 1e+21, 5e-324; NaN /
// Infinity / -Infinity as bare words); a DECIMAL is the correctly rounded double of its exact
// value; integers of every width are exact digits, never with a point; BOOLEAN true / false;
// VARCHAR a string; BLOB -> {"$hex": "..."}; MAP -> a list of {"key", "value"}; DATE -> days;
// TIMESTAMP -> microseconds (integers). Any other type is an error.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const duck = require('@duckdb/node-api');
const hw = require('hyparquet-writer');
const { writeWasmFixtures, writeLz4Twins } = require('./parquet_fixtures_wasm.cjs');
const { ByteWriter } = require('hyparquet-writer/src/bytewriter.js');
const { serializeTCompactProtocol } = require('hyparquet-writer/src/thrift.js');
const { writeRleBitPackedHybrid } = require('hyparquet-writer/src/encoding.js');
const { writePlain } = require('hyparquet-writer/src/plain.js');

const dir = process.argv[2];
if (!dir) {
    console.error('usage: parquet_fixtures.cjs DIR');
    process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
const names = [];

// ---- the oracle's JSON ----

const T = duck.DuckDBTypeId;
const INTEGRAL = new Set([T.TINYINT, T.SMALLINT, T.INTEGER, T.BIGINT, T.HUGEINT, T.UTINYINT,
    T.USMALLINT, T.UINTEGER, T.UBIGINT, T.UHUGEINT]);

// A double as JSON that says it is one: a point or an exponent always ('3.0', '-0.0', '1e+21',
// '0.1'); NaN / Infinity / -Infinity as bare words.
function float(x) {
    if (typeof x !== 'number') throw new Error('parquet_fixtures: float column holds ' + typeof x);
    if (Number.isNaN(x)) return 'NaN';
    if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
    if (Object.is(x, -0)) return '-0.0';
    const s = String(x);
    return /[.e]/.test(s) ? s : s + '.0';
}

// DuckDB's exact decimal (unscaled bigint and scale) as a decimal string.
function decimalString(unscaled, scale) {
    const neg = unscaled < 0n;
    let digits = (neg ? -unscaled : unscaled).toString();
    if (scale > 0) {
        digits = digits.padStart(scale + 1, '0');
        digits = digits.slice(0, -scale) + '.' + digits.slice(-scale);
    }
    return (neg ? '-' : '') + digits;
}

// Value v of DuckDB type t as JSON; the type, not the JS value, decides float against integer.
function ser(v, t) {
    if (v === null || v === undefined) return 'null';
    switch (t.typeId) {
    case T.FLOAT: case T.DOUBLE: return float(v);
    // The correctly rounded double of the exact decimal (Number() of its string).
    case T.DECIMAL: return float(Number(decimalString(v.value, v.scale)));
    case T.BOOLEAN: return String(v);
    case T.VARCHAR: return JSON.stringify(v);
    case T.BLOB: return JSON.stringify({ $hex: Buffer.from(v.bytes).toString('hex') });
    case T.DATE: return String(v.days);
    case T.TIMESTAMP: return v.micros.toString();
    case T.LIST: case T.ARRAY: return '[' + v.items.map((x) => ser(x, t.valueType)).join(',') + ']';
    case T.STRUCT:
        return '{' + Object.entries(v.entries).map(([k, x]) => JSON.stringify(k) + ':' +
            ser(x, t.entryTypes[t.entryIndexes[k]])).join(',') + '}';
    case T.MAP:
        return '[' + v.entries.map((e) => '{"key":' + ser(e.key, t.keyType) + ',"value":' +
            ser(e.value, t.valueType) + '}').join(',') + ']';
    default: break;
    }
    if (INTEGRAL.has(t.typeId) && (typeof v === 'bigint' || Number.isInteger(v)))
        return v.toString();
    throw new Error(`parquet_fixtures: unhandled DuckDB type ${t} (value ${v})`);
}

async function expect(conn, name, select = '*') {
    const file = path.join(dir, name + '.parquet').replaceAll("'", "''");
    const reader = await conn.runAndReadAll(`SELECT ${select} FROM read_parquet('${file}')`);
    const cols = reader.columnNames(), types = reader.columnTypes();
    const lines = reader.getRows().map((row) =>
        '{' + row.map((v, i) => JSON.stringify(cols[i]) + ':' + ser(v, types[i])).join(',') +
        '}\n');
    fs.writeFileSync(path.join(dir, name + '.jsonl'), lines.join(''));
    names.push(name);
}

// ---- DuckDB fixtures (data page v1; V2 encodings with PARQUET_VERSION V2) ----

const FLAT = `SELECT i::INTEGER AS i32,
  CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1000003::BIGINT - 5000000000 END AS i64,
  CASE WHEN i = 1 THEN 'inf'::DOUBLE WHEN i = 2 THEN '-inf'::DOUBLE WHEN i = 3 THEN 'nan'::DOUBLE
       WHEN i % 11 = 0 THEN NULL ELSE i / 7.0 END::DOUBLE AS f64,
  (i * 0.1)::REAL AS f32,
  CASE WHEN i % 5 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
  CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN '' ELSE 'row ' || i || repeat('é', i % 4)
       END AS s,
  ['red', 'green', 'blue', NULL][1 + i % 4] AS cat,
  CASE WHEN i % 9 = 0 THEN NULL ELSE unhex(printf('%04x00ff', i)) END AS bin,
  (i % 200 - 100)::TINYINT AS i8, (i * 3 - 7000)::SMALLINT AS i16, (i % 250)::UTINYINT AS u8,
  (i * 800000)::UINTEGER AS u32, i::UBIGINT * 3000000000000000 AS u64,
  DATE '2020-01-01' + i::INTEGER AS d, TIMESTAMP '2020-01-01' + i * INTERVAL 1 MINUTE AS ts,
  (i / 100)::DECIMAL(9, 2) AS dec9, (i * 1.001 - 2000)::DECIMAL(18, 3) AS dec18,
  (i * 12345.6789 - 1e7)::DECIMAL(30, 4) AS dec30
FROM range(5000) t(i)`;

const NESTED = `SELECT i AS id,
  CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN []::VARCHAR[]
       ELSE ['a' || i, NULL, 'c', 'dd' || i][1:i % 5] END AS tags,
  CASE WHEN i % 6 = 0 THEN NULL
       ELSE {'bytes': unhex(printf('%02x00', i % 256)),
             'path': CASE WHEN i % 4 = 0 THEN NULL ELSE 'img' || i || '.png' END} END AS image,
  CASE WHEN i % 8 = 0 THEN NULL
       ELSE [{'a': i, 'b': 'x' || i}, {'a': NULL, 'b': NULL}, NULL][1:i % 4] END AS pairs,
  {'text': CASE WHEN i % 5 = 0 THEN NULL ELSE ['t' || i, 'u'][1:i % 3] END,
   'answer_start': [i::INTEGER, i::INTEGER + 1]} AS answers,
  CASE WHEN i % 7 = 0 THEN NULL ELSE [[i, NULL], [], NULL][1:i % 4] END AS nested,
  CASE WHEN i % 9 = 0 THEN NULL ELSE MAP {'k' || i: i, 'z': NULL} END AS m
FROM range(3000) t(i)`;

const BIG = `SELECT i AS id, repeat(chr((65 + i % 26)::INTEGER), (i % 3000)::INTEGER) AS long_text,
  [repeat('x', (i % 700)::INTEGER), repeat('y', 300)] AS long_list
FROM range(6000) t(i)`;

async function duckdbFixtures() {
    const db = await duck.DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run('SET threads = 1');
    const jobs = [
        ['duck_flat_zstd', FLAT, 'COMPRESSION zstd, ROW_GROUP_SIZE 2048'],
        ['duck_flat_snappy', FLAT, 'COMPRESSION snappy, ROW_GROUP_SIZE 2048'],
        ['duck_flat_gzip', FLAT, 'COMPRESSION gzip'],
        ['duck_flat_none', FLAT, 'COMPRESSION uncompressed, ROW_GROUP_SIZE 3000'],
        ['duck_flat_v2_zstd', FLAT, 'COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 2048'],
        ['duck_nested_snappy', NESTED, 'COMPRESSION snappy, ROW_GROUP_SIZE 1024'],
        ['duck_nested_gzip', NESTED, 'COMPRESSION gzip'],
        ['duck_nested_v2_none', NESTED, 'COMPRESSION uncompressed, PARQUET_VERSION V2'],
        ['duck_big_zstd', BIG, 'COMPRESSION zstd'],
        ['duck_big_v2_snappy', BIG, 'COMPRESSION snappy, PARQUET_VERSION V2'],
    ];
    for (const [name, sql, opts] of jobs) {
        const file = path.join(dir, name + '.parquet').replaceAll("'", "''");
        await conn.run(`COPY (${sql}) TO '${file}' (FORMAT parquet, ${opts})`);
        await expect(conn, name);
    }
    return conn;
}

// ---- hyparquet-writer fixtures (data page v2, dictionaries, SNAPPY and GZIP) ----

const gzip = { GZIP: (b) => zlib.gzipSync(b) };

function flatColumns(n) {
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const col = (name, type, f, extra) => ({ name, type, ...extra,
        data: Array.from({ length: n }, (_, i) => f(i)) });
    return [
        col('word', 'STRING', (i) => (i % 11 === 0 ? null : words[i % 5])),
        col('text', 'STRING', (i) => (i % 13 === 0 ? null : `line ${i} ` + 'ü'.repeat(i % 5))),
        col('i32', 'INT32', (i) => (i % 7 === 0 ? null : i * 7919 - 1000000)),
        col('i64', 'INT64', (i) => (i % 5 === 0 ? null : BigInt(i) * 4000000000007n - 9n ** 19n)),
        col('f64', 'DOUBLE', (i) => (i % 3 === 0 ? null : i / 3)),
        col('f32', 'FLOAT', (i) => Math.fround(i * 0.37)),
        col('flag', 'BOOLEAN', (i) => (i % 4 === 0 ? null : i % 3 === 1)),
        col('bin', 'BYTE_ARRAY', (i) => (i % 6 === 0 ? null : new Uint8Array([i & 255, 0, 255]))),
    ];
}

function encodedColumns(n) {
    const cols = flatColumns(n);
    const enc = { i32: 'DELTA_BINARY_PACKED', i64: 'DELTA_BINARY_PACKED', f64: 'BYTE_STREAM_SPLIT',
        f32: 'BYTE_STREAM_SPLIT', flag: 'RLE', text: 'DELTA_BYTE_ARRAY',
        word: 'DELTA_LENGTH_BYTE_ARRAY', bin: 'DELTA_LENGTH_BYTE_ARRAY' };
    for (const c of cols) c.encoding = enc[c.name];
    return cols;
}

const NESTED_SCHEMA = [
    { name: 'root', num_children: 3 },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'choices', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
    { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
    { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];

function nestedColumns(n) {
    const choice = (i) => (i % 10 === 0 ? null : i % 10 === 1 ? []
        : ['A' + i, null, 'C', 'D' + (i % 3)].slice(0, i % 5));
    const image = (i) => (i % 6 === 0 ? null : {
        bytes: i % 4 === 0 ? null : new Uint8Array([i & 255, 1]),
        path: i % 5 === 0 ? null : `img${i}.jpg`,
    });
    const range = Array.from({ length: n }, (_, i) => i);
    return [
        { name: 'id', data: range },
        { name: 'choices', data: range.map(choice) },
        { name: 'image', data: range.map(image) },
    ];
}

async function hyparquetFixtures(conn) {
    const jobs = [
        ['hyp_flat_snappy', { columnData: flatColumns(2500), rowGroupSize: 1000 }],
        ['hyp_flat_gzip', { columnData: flatColumns(1200), codec: 'GZIP', compressors: gzip }],
        ['hyp_flat_none', { columnData: flatColumns(700), codec: 'UNCOMPRESSED' }],
        ['hyp_encodings_snappy', { columnData: encodedColumns(3000), rowGroupSize: 1300 }],
        ['hyp_encodings_none', { columnData: encodedColumns(500), codec: 'UNCOMPRESSED' }],
        ['hyp_nested_snappy', { columnData: nestedColumns(2000), schema: NESTED_SCHEMA,
            rowGroupSize: 700, pageSize: 2000 }],
        ['hyp_nested_gzip', { columnData: nestedColumns(1500), schema: NESTED_SCHEMA,
            codec: 'GZIP', compressors: gzip }],
    ];
    for (const [name, opts] of jobs) {
        hw.parquetWriteFile({ filename: path.join(dir, name + '.parquet'), ...opts });
        await expect(conn, name);
    }
}

// ---- hand-built files: one row group, PLAIN data pages v1, uncompressed ----

const PAR1 = new TextEncoder().encode('PAR1');
const TYPES = { BOOLEAN: 0, INT32: 1, INT64: 2, INT96: 3, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6,
    FIXED_LEN_BYTE_ARRAY: 7 };

function levels(values, max) {
    const w = new ByteWriter();
    writeRleBitPackedHybrid(w, values, Math.ceil(Math.log2(max + 1)));
    const out = new ByteWriter();
    out.appendUint32(w.offset);
    out.appendBytes(w.getBytes());
    return out.getBytes();
}

// One data page of entries [lo, hi) of column c.
function writePage(w, c, lo, hi) {
    const body = new ByteWriter();
    const defs = c.defs && c.defs.slice(lo, hi);
    if (c.maxRep) body.appendBytes(levels(c.reps.slice(lo, hi), c.maxRep));
    if (c.maxDef) body.appendBytes(levels(defs, c.maxDef));
    const before = c.defs ? c.defs.slice(0, lo).filter((d) => d === c.maxDef).length : lo;
    const count = defs ? defs.filter((d) => d === c.maxDef).length : hi - lo;
    if (c.raw) body.appendBytes(c.raw);
    else writePlain(body, c.values.slice(before, before + count), c.type, c.len);
    const b = body.getBytes();
    const crc = c.crc ? (zlib.crc32(b) ^ (c.crc === 'bad' ? 1 : 0)) | 0 : undefined;
    serializeTCompactProtocol(w, { field_1: 0, field_2: b.length, field_3: b.length,
        field_4: crc, field_5: { field_1: hi - lo, field_2: 0, field_3: 3, field_4: 3 } });
    w.appendBytes(b);
}

// One column chunk; c: {path, type, len, defs, reps, maxDef, maxRep, values (PLAIN-written)
// or raw and n (PLAIN bytes), crc: 'good' | 'bad', splits: entry indices starting new pages}.
function writeChunk(w, c) {
    if (c.write) return c.write(w);
    const n = c.defs ? c.defs.length : c.raw ? c.n : c.values.length;
    const offset = w.offset;
    const cuts = [0, ...(c.splits || []), n];
    for (let k = 0; k + 1 < cuts.length; k++) writePage(w, c, cuts[k], cuts[k + 1]);
    const size = BigInt(w.offset - offset);
    return { field_2: BigInt(offset), field_3: { field_1: TYPES[c.type], field_2: [0, 3],
        field_3: c.path, field_4: 0, field_5: BigInt(n), field_6: size, field_7: size,
        field_9: BigInt(offset) } };
}

function handFile(name, schema, nrows, columns) {
    const w = new ByteWriter();
    w.appendBytes(PAR1);
    const chunks = columns.map((c) => writeChunk(w, c));
    const meta = new ByteWriter();
    serializeTCompactProtocol(meta, { field_1: 1, field_2: schema, field_3: BigInt(nrows),
        field_4: [{ field_1: chunks, field_2: BigInt(w.offset), field_3: BigInt(nrows) }] });
    w.appendBytes(meta.getBytes());
    w.appendUint32(meta.offset);
    w.appendBytes(PAR1);
    fs.writeFileSync(path.join(dir, name + '.parquet'), w.getBytes());
}

// Schema elements: type, repetition (0 required, 1 optional, 2 repeated), children, converted.
const el = (name, rep, o = {}) => ({ field_1: o.type, field_2: o.len, field_3: rep,
    field_4: name, field_5: o.kids, field_6: o.conv, field_7: o.scale, field_8: o.prec,
    field_10: o.logical });

// Legacy lists: 2-level primitive (repeated int32 array), 'array' group, bare repeated, _tuple.
function legacyLists() {
    const schema = [el('root', undefined, { kids: 4 }),
        el('a', 1, { kids: 1, conv: 3 }), el('array', 2, { type: 1 }),
        el('b', 1, { kids: 1, conv: 3 }), el('array', 2, { kids: 1 }),
        el('s', 0, { type: 6, conv: 0 }),
        el('c', 2, { type: 1 }),
        el('d', 1, { kids: 1, conv: 3 }), el('d_tuple', 2, { kids: 1 }), el('x', 0, { type: 1 })];
    // rows: a = [1,2], null, [], [3]; b = [{s:x}], [], null, [{s:y},{s:z}];
    // c = [5], [], [6,7], []; d = [{x:9}], null, [{x:1},{x:2}], []
    handFile('hand_legacy_lists', schema, 4, [
        { path: ['a', 'array'], type: 'INT32', maxDef: 2, maxRep: 1, defs: [2, 2, 0, 1, 2],
            reps: [0, 1, 0, 0, 0], values: [1, 2, 3] },
        { path: ['b', 'array', 's'], type: 'BYTE_ARRAY', maxDef: 2, maxRep: 1,
            defs: [2, 1, 0, 2, 2], reps: [0, 0, 0, 0, 1],
            values: ['x', 'y', 'z'].map((t) => new TextEncoder().encode(t)) },
        { path: ['c'], type: 'INT32', maxDef: 1, maxRep: 1, defs: [1, 0, 1, 1, 0],
            reps: [0, 0, 0, 1, 0], values: [5, 6, 7] },
        { path: ['d', 'd_tuple', 'x'], type: 'INT32', maxDef: 2, maxRep: 1,
            defs: [2, 0, 2, 2, 1], reps: [0, 0, 0, 1, 0], values: [9, 1, 2] },
    ]);
}

function int96(days, nanos) {
    const b = Buffer.alloc(12);
    b.writeBigInt64LE(nanos, 0);
    b.writeUInt32LE(days, 8);
    return b;
}

// INT96 timestamps, FLOAT16, DECIMAL in BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY, UINT_64, UINT_32.
function types() {
    const schema = [el('root', undefined, { kids: 6 }),
        el('ts96', 0, { type: 3 }),
        el('f16', 0, { type: 7, len: 2, logical: { field_15: {} } }),
        el('dec', 1, { type: 6, conv: 5, scale: 2, prec: 10 }),
        el('decf', 0, { type: 7, len: 5, conv: 5, scale: 3, prec: 11 }),
        el('u64', 0, { type: 2, conv: 14 }),
        el('u32', 0, { type: 1, conv: 13 })];
    const be = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'));
    handFile('hand_types', schema, 4, [
        { path: ['ts96'], type: 'INT96', n: 4, raw: Buffer.concat([int96(2458850, 1234000n),
            int96(2440588, 0n), int96(2415021, 86399999999000n), int96(2460000, 5000n)]) },
        { path: ['f16'], type: 'FIXED_LEN_BYTE_ARRAY', len: 2,
            values: ['003e', '00c0', 'ff7b', '0100'].map(be) },
        { path: ['dec'], type: 'BYTE_ARRAY', maxDef: 1, defs: [1, 1, 0, 1],
            values: ['3039', 'ff', '00'].map(be) },
        { path: ['decf'], type: 'FIXED_LEN_BYTE_ARRAY', len: 5,
            values: ['fff8a432eb', '0000000001', '7fffffffff', '8000000000'].map(be) },
        { path: ['u64'], type: 'INT64', values: [0n, 1n, -1n, 9223372036854775807n] },
        { path: ['u32'], type: 'INT32', values: [0, 1, -1, -294967296] },
    ]);
}

// Byte arrays annotated ENUM (converted and logical), BSON and JSON, as Arrow's schema mapping
// reads them (parquet/arrow/schema_internal.cc): ENUM and BSON as binary, JSON as a string.
// DuckDB reads ENUM as text, so the rows are written here.
function annotated() {
    const schema = [el('root', undefined, { kids: 4 }), el('e', 1, { type: 6, conv: 4 }),
        el('le', 1, { type: 6, logical: { field_4: {} } }), el('bs', 1, { type: 6, conv: 20 }),
        el('j', 1, { type: 6, conv: 19 })];
    const u = (t) => new TextEncoder().encode(t);
    handFile('hand_annotated', schema, 2, [
        { path: ['e'], type: 'BYTE_ARRAY', maxDef: 1, defs: [1, 0], values: [u('HAPPY')] },
        { path: ['le'], type: 'BYTE_ARRAY', maxDef: 1, defs: [1, 1], values: [u('SAD'), u('')] },
        { path: ['bs'], type: 'BYTE_ARRAY', maxDef: 1, defs: [0, 1], values: [u('\u0005')] },
        { path: ['j'], type: 'BYTE_ARRAY', maxDef: 1, defs: [1, 1], values: [u('{"a": 1}'),
            u('[]')] },
    ]);
    const hex = (t) => JSON.stringify({ $hex: Buffer.from(t).toString('hex') });
    fs.writeFileSync(path.join(dir, 'hand_annotated.jsonl'),
        `{"e":${hex('HAPPY')},"le":${hex('SAD')},"bs":null,"j":"{\\"a\\": 1}"}\n` +
        `{"e":null,"le":${hex('')},"bs":${hex('\u0005')},"j":"[]"}\n`);
    names.push('hand_annotated');
}

// Page CRCs: a good one must read, a bad one must be rejected.
function crcs() {
    const schema = [el('root', undefined, { kids: 1 }), el('v', 1, { type: 1 })];
    for (const crc of ['good', 'bad'])
        handFile('hand_crc_' + crc, schema, 3, [{ path: ['v'], type: 'INT32', maxDef: 1,
            defs: [1, 0, 1], values: [7, -7], crc }]);
}

// All-null pages as parquet-java and Spark write them: a data page v2 marked compressed
// (SNAPPY) whose values section is 0 bytes, which no codec decodes (Arrow skips it: GH-45252);
// and a dictionary-encoded v1 page with no values at all, not even the index bit width.
function allNull() {
    const schema = [el('root', undefined, { kids: 1 }), el('v', 1, { type: 1 })];
    const meta = (offset, size, codec, encodings, dictOffset) => ({ field_2: BigInt(offset),
        field_3: { field_1: 1, field_2: encodings, field_3: ['v'], field_4: codec, field_5: 3n,
            field_6: size, field_7: size, field_9: BigInt(offset), field_11: dictOffset } });
    handFile('hand_null_v2_snappy', schema, 3, [{ write: (w) => {
        const offset = w.offset, lv = new ByteWriter();
        writeRleBitPackedHybrid(lv, [0, 0, 0], 1);
        const l = lv.getBytes();
        serializeTCompactProtocol(w, { field_1: 3, field_2: l.length, field_3: l.length,
            field_8: { field_1: 3, field_2: 3, field_3: 3, field_4: 0, field_5: l.length,
                field_6: 0, field_7: true } });
        w.appendBytes(l);
        return meta(offset, BigInt(w.offset - offset), 1, [0, 3], undefined);
    } }]);
    handFile('hand_null_dict', schema, 3, [{ write: (w) => {
        const dict = w.offset, d = new ByteWriter();
        writePlain(d, [5], 'INT32');
        const db = d.getBytes();
        serializeTCompactProtocol(w, { field_1: 2, field_2: db.length, field_3: db.length,
            field_7: { field_1: 1, field_2: 0 } });
        w.appendBytes(db);
        const data = w.offset, b = levels([0, 0, 0], 1);
        serializeTCompactProtocol(w, { field_1: 0, field_2: b.length, field_3: b.length,
            field_5: { field_1: 3, field_2: 8, field_3: 3, field_4: 3 } });
        w.appendBytes(b);
        const m = meta(data, BigInt(w.offset - dict), 0, [0, 3, 8], BigInt(dict));
        m.field_2 = BigInt(dict);
        return m;
    } }]);
}

// Rows whose list entries straddle data page v1 boundaries (allowed in v1 pages).
function splitPages() {
    const schema = [el('root', undefined, { kids: 2 }), el('id', 0, { type: 1 }),
        el('l', 1, { kids: 1, conv: 3 }), el('list', 2, { kids: 1 }),
        el('element', 1, { type: 6, conv: 0 })];
    const words = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => new TextEncoder().encode(t));
    // l = [a, b, c], [d, null], null, [], [e, f]
    handFile('hand_split_pages', schema, 5, [
        { path: ['id'], type: 'INT32', values: [0, 1, 2, 3, 4], splits: [2, 3] },
        { path: ['l', 'list', 'element'], type: 'BYTE_ARRAY', maxDef: 3, maxRep: 1,
            defs: [3, 3, 3, 3, 2, 0, 1, 3, 3], reps: [0, 1, 1, 0, 1, 0, 0, 0, 1],
            values: words, splits: [1, 4, 8] },
    ]);
}

async function handFixtures(conn) {
    splitPages();
    await expect(conn, 'hand_split_pages');
    legacyLists();
    // The spec makes a one-field group named 'array' or '<list>_tuple' the element itself (a
    // struct, as Arrow reads it); DuckDB unwraps it, so its rows are re-wrapped here.
    await expect(conn, 'hand_legacy_lists', "a, list_transform(b, v -> {'s': v}) AS b, c, " +
        "list_transform(d, v -> {'x': v}) AS d");
    types();
    await expect(conn, 'hand_types', 'epoch_ns(ts96) AS ts96, * EXCLUDE (ts96)');
    crcs();
    await expect(conn, 'hand_crc_good');
    allNull();
    await expect(conn, 'hand_null_v2_snappy');
    /* DuckDB reads a bit width past the page ("Decode bit width too large"); Arrow's
     * DictDecoder takes an empty page as no values (decoder.cc): its rows, written here */
    fs.writeFileSync(path.join(dir, 'hand_null_dict.jsonl'), '{"v":null}\n'.repeat(3));
    names.push('hand_null_dict');
    annotated();
    names.push('hand_crc_bad error');
}

(async () => {
    const conn = await duckdbFixtures();
    await hyparquetFixtures(conn);
    for (const name of writeWasmFixtures(dir)) await expect(conn, name);
    for (const [twin, src] of writeLz4Twins(dir)) { /* DuckDB reads no LZ4: the twin's rows */
        fs.copyFileSync(path.join(dir, src + '.jsonl'), path.join(dir, twin + '.jsonl'));
        names.push(twin);
    }
    await handFixtures(conn);
    fs.writeFileSync(path.join(dir, 'index.txt'), names.join('\n') + '\n');
})().catch((e) => {
    console.error('parquet_fixtures: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
});
