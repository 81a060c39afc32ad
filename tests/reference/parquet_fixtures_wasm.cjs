// parquet_fixtures_wasm.cjs: the third writer for parquet_fixtures.cjs. Builds Arrow tables with
// apache-arrow and writes them with parquet-wasm (the arrow-rs Parquet writer compiled to wasm):
// every codec DuckDB can read back (the deprecated Hadoop-framed LZ4 it cannot, and LZO arrow-rs
// cannot write), data page v1 and v2, dictionary on / off / fallback, DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT, nested lists, structs and maps,
// DECIMAL in INT32, INT64 and FIXED_LEN_BYTE_ARRAY. Nulls in every column.
//
// parquet-wasm can set an encoding per top-level column only (a nested leaf cannot be named), so
// nested leaves get DELTA_* through the V2 writer's defaults (dictionary off: DELTA_BINARY_PACKED
// for integers, DELTA_BYTE_ARRAY for byte arrays) or through a global encoding on a table whose
// leaves all share one physical type. arrow-rs panics (a wasm 'unreachable') on a combination it
// rejects, so only combinations known to work are listed here.
'use strict';

const fs = require('fs');
const path = require('path');
const A = require('apache-arrow');
const pw = require('parquet-wasm');

const field = (name, type) => new A.Field(name, type, true);
const listOf = (type) => new A.List(field('item', type));
const vec = (type, n, f) => A.vectorFromArray(Array.from({ length: n }, (_, i) => f(i)), type);

// A fixed-width vector straight from a typed array (the builders take timestamps in ms).
function fixed(type, Arr, n, f) {
    const data = new Arr(n), valid = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    for (let i = 0; i < n; i++) {
        const v = f(i);
        if (v === null) nulls++;
        else { data[i] = v; valid[i >> 3] |= 1 << (i & 7); }
    }
    return A.makeVector(A.makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, data }));
}

// A DECIMAL128 value: the unscaled integer as four little-endian 32-bit words.
function dec(u) {
    if (u === null) return null;
    const w = new Uint32Array(4);
    let x = BigInt.asUintN(128, u);
    for (let k = 0; k < 4; k++, x >>= 32n) w[k] = Number(x & 0xffffffffn);
    return w;
}

const sign = (i) => (i % 3 === 0 ? -1n : 1n);
// Unscaled DECIMAL(18,4) values: most above 2^53 (12345678901234.5678, 2^53 + 1); extremes,
// +-0.0001, 0 and integral ones.
const DEC18 = { 1: 123456789012345678n, 2: -123456789012345678n, 3: 999999999999999999n,
    4: -999999999999999999n, 5: 1n, 6: -1n, 7: 0n, 9: 2n ** 53n + 1n };
const dec18 = (i) => (i % 8 === 0 ? null : DEC18[i] ?? (i % 10 === 9 ? BigInt(i) * -10000n
    : sign(i) * (BigInt(i) * 300000000000017n + BigInt(i % 9973))));
// Unscaled DECIMAL(38,10) values: 1234567890123456789012345678.0123456789, extremes, tiny ones.
const DEC38 = { 1: 12345678901234567890123456780123456789n,
    2: -12345678901234567890123456780123456789n, 4: 10n ** 38n - 1n, 5: 1n - 10n ** 38n, 6: 1n,
    7: -1n, 8: 0n };
const dec38 = (i) => (i % 8 === 3 ? null : DEC38[i] ?? (i % 10 === 9 ? BigInt(i) * 10n ** 10n
    : sign(i) * (BigInt(i) * 33333333333333333333333333333333n + BigInt(i))));

const F64 = { 1: Infinity, 2: -Infinity, 4: NaN, 5: -0, 7: 1e21, 8: 1.5e-7, 10: 2 ** 53 + 2,
    11: -1e300, 13: 5e-324 };
const F32 = { 1: NaN, 2: -Infinity, 3: -0, 5: 3.4028234663852886e38, 6: 1e-45 };

function flatTable(n) {
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'ζeta'];
    return new A.Table({
        i32: vec(new A.Int32(), n, (i) => (i % 7 === 0 ? null : i === 1 ? 2147483647
            : i === 2 ? -2147483648 : i * 7919 - 1000000)),
        i64: vec(new A.Int64(), n, (i) => (i % 5 === 0 ? null : i === 1 ? 2n ** 63n - 1n
            : i === 2 ? -(2n ** 63n) : BigInt(i) * 4000000000007n - 9n ** 19n)),
        u64: vec(new A.Uint64(), n, (i) => (i % 9 === 0 ? null : i === 1 ? 2n ** 64n - 1n
            : BigInt(i) * 3000000000000000n)),
        f64: vec(new A.Float64(), n, (i) => (i % 3 === 0 ? null : F64[i] ?? i / 4 +
            (i % 2 ? 0.1 : 0))),
        f32: vec(new A.Float32(), n, (i) => (i % 4 === 0 ? null : F32[i] ?? Math.fround(i * 0.37))),
        f16: vec(new A.Float16(), n, (i) => (i % 6 === 0 ? null : (i % 512) * 0.25 - 60)),
        b: vec(new A.Bool(), n, (i) => (i % 5 === 0 ? null : i % 3 === 0)),
        word: vec(new A.Utf8(), n, (i) => (i % 11 === 0 ? null : words[i % 6])),
        text: vec(new A.Utf8(), n, (i) => (i % 13 === 0 ? null : i % 17 === 0 ? ''
            : `row ${String(i).padStart(5, '0')} ` + 'é'.repeat(i % 4))),
        bin: vec(new A.Binary(), n, (i) => (i % 9 === 0 ? null
            : Uint8Array.of(i & 255, 0, 255, i >> 8))),
        dec9: vec(new A.Decimal(2, 9, 128), n, (i) => dec(i % 10 === 1 ? null
            : sign(i) * BigInt((i * 1234567) % 999999999))),
        dec18: vec(new A.Decimal(4, 18, 128), n, (i) => dec(dec18(i))),
        dec38: vec(new A.Decimal(10, 38, 128), n, (i) => dec(dec38(i))),
        d: vec(new A.DateDay(), n, (i) => (i % 12 === 0 ? null : (i * 3 - 2000) * 86400000)),
        ts: fixed(new A.TimestampMicrosecond(), BigInt64Array, n, (i) => (i % 14 === 0 ? null
            : 1600000000000000n + BigInt(i) * 61000123n)),
    });
}

function nestedTable(n) {
    const mapType = (k, v) => new A.Map_(new A.Field('entries', new A.Struct([
        new A.Field('key', k, false), field('value', v)]), false));
    const inner = (i, j) => (j === 1 ? null : j === 2 ? []
        : [`s${i}_${j}`, null, 'x'].slice(0, 1 + ((i + j) % 3)));
    const entries = (i) => new Map(Array.from({ length: 1 + (i % 4) },
        (_, k) => [`k${k}_${i % 3}`, k === 1 ? null : i * (k + 1)]));
    return new A.Table({
        id: vec(new A.Int32(), n, (i) => (i % 50 === 49 ? null : i)),
        li: vec(listOf(new A.Int32()), n, (i) => (i % 10 === 0 ? null : i % 10 === 1 ? []
            : Array.from({ length: i % 5 }, (_, k) => (k === 1 ? null : i * 10 + k)))),
        lls: vec(listOf(listOf(new A.Utf8())), n, (i) => (i % 9 === 0 ? null : i % 9 === 1 ? []
            : Array.from({ length: 1 + (i % 4) }, (_, j) => inner(i, j)))),
        st: vec(new A.Struct([field('a', new A.Int32()), field('w', new A.Float64()),
            field('tags', listOf(new A.Utf8()))]), n, (i) => (i % 6 === 0 ? null : {
            a: i % 4 === 0 ? null : i,
            w: i % 7 === 0 ? null : i / 2,
            tags: i % 5 === 0 ? null : ['t' + i, null, 'u'].slice(0, i % 4),
        })),
        m: vec(mapType(new A.Utf8(), new A.Int32()), n, (i) => (i % 8 === 0 ? null
            : i % 8 === 1 ? new Map() : entries(i))),
        lf: vec(listOf(new A.Float64()), n, (i) => (i % 11 === 0 ? null
            : [i, i + 0.5, null, -0].slice(0, i % 5))),
        ldec: vec(listOf(new A.Decimal(4, 18, 128)), n, (i) => (i % 13 === 0 ? null
            : [dec(dec18(i)), null, dec(dec18(i + 1))].slice(0, i % 4))),
    });
}

// Nested columns whose leaves are all strings, for a global DELTA_LENGTH_BYTE_ARRAY.
function nestedStringTable(n) {
    const t = nestedTable(n);
    const mapType = new A.Map_(new A.Field('entries', new A.Struct([
        new A.Field('key', new A.Utf8(), false), field('value', new A.Utf8())]), false));
    return new A.Table({
        name: vec(new A.Utf8(), n, (i) => (i % 7 === 0 ? null : `name ${i}`)),
        lls: t.getChild('lls'),
        st: vec(new A.Struct([field('s', new A.Utf8()), field('tags', listOf(new A.Utf8()))]), n,
            (i) => (i % 6 === 0 ? null : { s: i % 4 === 0 ? null : 'é' + i,
                tags: i % 5 === 0 ? null : ['t' + i, null, ''].slice(0, i % 4) })),
        m: vec(mapType, n, (i) => (i % 8 === 0 ? null : new Map(Array.from({ length: i % 4 },
            (_, k) => [`k${k}`, k === 1 ? null : `v${i}_${k}`])))),
    });
}

const C = pw.Compression, E = pw.Encoding;

// o: {v: 1 | 2, codec, dict (default on), dictLimit, pageLimit, batch, rowGroup,
//     enc: {column: encoding} for top-level columns, all: one encoding for every column}.
function props(o) {
    let b = new pw.WriterPropertiesBuilder()
        .setWriterVersion(o.v === 2 ? pw.WriterVersion.V2 : pw.WriterVersion.V1)
        .setCompression(C[o.codec]).setCreatedBy('parquet-wasm (Mill fixtures)');
    if (o.dict === false) b = b.setDictionaryEnabled(false);
    if (o.dictLimit) b = b.setDictionaryPageSizeLimit(o.dictLimit);
    if (o.pageLimit) b = b.setDataPageSizeLimit(o.pageLimit);
    if (o.batch) b = b.setWriteBatchSize(o.batch);
    if (o.rowGroup) b = b.setMaxRowGroupSize(o.rowGroup);
    if (o.all) b = b.setEncoding(E[o.all]);
    for (const [col, e] of Object.entries(o.enc || {})) b = b.setColumnEncoding(col, E[e]);
    return b.build();
}

// Explicit encodings for the flat table's top-level columns.
const DELTA = { i32: 'DELTA_BINARY_PACKED', i64: 'DELTA_BINARY_PACKED', u64: 'DELTA_BINARY_PACKED',
    d: 'DELTA_BINARY_PACKED', ts: 'DELTA_BINARY_PACKED', dec9: 'DELTA_BINARY_PACKED',
    dec18: 'DELTA_BINARY_PACKED', f32: 'BYTE_STREAM_SPLIT', f64: 'BYTE_STREAM_SPLIT',
    word: 'DELTA_LENGTH_BYTE_ARRAY', bin: 'DELTA_LENGTH_BYTE_ARRAY', text: 'DELTA_BYTE_ARRAY',
    dec38: 'DELTA_BYTE_ARRAY' };
const DELTA_SWAP = { ...DELTA, word: 'DELTA_BYTE_ARRAY', bin: 'DELTA_BYTE_ARRAY',
    text: 'DELTA_LENGTH_BYTE_ARRAY' };
const SMALL = { pageLimit: 2048, batch: 100 };

// [name, table, writer options]; each name says writer, feature, codec, data page version.
function jobs() {
    const flat = flatTable(3000), nested = nestedTable(2000), strings = nestedStringTable(1500);
    const codecs = [['none', 'UNCOMPRESSED'], ['snappy', 'SNAPPY'], ['gzip', 'GZIP'],
        ['brotli', 'BROTLI'], ['zstd', 'ZSTD'], ['lz4raw', 'LZ4_RAW']];
    const out = [];
    codecs.forEach(([tag, codec], k) => {
        // Dictionary on (arrow-rs default); every other codec with small pages, row groups.
        const more = k % 2 ? { ...SMALL, rowGroup: 1100 } : {};
        out.push([`wasm_${tag}_v1`, flat, { v: 1, codec, ...more }]);
        out.push([`wasm_${tag}_v2`, flat, { v: 2, codec, ...(k % 2 ? {} : SMALL) }]);
    });
    out.push(
        ['wasm_nodict_snappy_v1', flat, { v: 1, codec: 'SNAPPY', dict: false, ...SMALL }],
        ['wasm_nodict_zstd_v2', flat, { v: 2, codec: 'ZSTD', dict: false }],
        ['wasm_dictfallback_gzip_v1', flat, { v: 1, codec: 'GZIP', dictLimit: 1024 }],
        ['wasm_dictfallback_lz4raw_v2', flat, { v: 2, codec: 'LZ4_RAW', dictLimit: 1024,
            ...SMALL }],
        ['wasm_dictfallback_delta_none_v1', flat, { v: 1, codec: 'UNCOMPRESSED', dictLimit: 1024,
            enc: DELTA_SWAP }],
        ['wasm_delta_none_v1', flat, { v: 1, codec: 'UNCOMPRESSED', dict: false, enc: DELTA }],
        ['wasm_delta_zstd_v2', flat, { v: 2, codec: 'ZSTD', dict: false, enc: DELTA_SWAP,
            ...SMALL, rowGroup: 1700 }],
        ['wasm_delta_brotli_v2', flat, { v: 2, codec: 'BROTLI', dict: false, enc: DELTA }],
        ['wasm_nested_snappy_v1', nested, { v: 1, codec: 'SNAPPY' }],
        ['wasm_nested_zstd_v2', nested, { v: 2, codec: 'ZSTD', ...SMALL, rowGroup: 700 }],
        ['wasm_nested_nodict_brotli_v1', nested, { v: 1, codec: 'BROTLI', dict: false,
            ...SMALL }],
        ['wasm_nested_nodict_gzip_v2', nested, { v: 2, codec: 'GZIP', dict: false }],
        ['wasm_nested_dictfallback_none_v2', nested, { v: 2, codec: 'UNCOMPRESSED',
            dictLimit: 512, ...SMALL }],
        ['wasm_nested_dlba_lz4raw_v1', strings, { v: 1, codec: 'LZ4_RAW', dict: false,
            all: 'DELTA_LENGTH_BYTE_ARRAY', ...SMALL }],
        ['wasm_nested_dlba_snappy_v2', strings, { v: 2, codec: 'SNAPPY', dict: false,
            all: 'DELTA_LENGTH_BYTE_ARRAY' }],
    );
    return out;
}

// Writes DIR/<name>.parquet for every parquet-wasm fixture; returns their names.
function writeWasmFixtures(dir) {
    return jobs().map(([name, table, opts]) => {
        const bytes = pw.writeParquet(pw.Table.fromIPCStream(A.tableToIPC(table, 'stream')),
            props(opts));
        fs.writeFileSync(path.join(dir, name + '.parquet'), bytes);
        return name;
    });
}

// The deprecated LZ4 codec (arrow-rs writes it with Hadoop's framing), which DuckDB cannot read:
// each twin is written from the same table and options as an LZ4_RAW fixture DuckDB does read,
// so that fixture's rows are the twin's oracle. Returns [twin, source] name pairs.
function writeLz4Twins(dir) {
    const byName = new Map(jobs().map((j) => [j[0], j]));
    return [['wasm_lz4hadoop_v2', 'wasm_lz4raw_v2'],
        ['wasm_nested_lz4hadoop_v1', 'wasm_nested_dlba_lz4raw_v1']].map(([twin, src]) => {
        const [, table, opts] = byName.get(src);
        const bytes = pw.writeParquet(pw.Table.fromIPCStream(A.tableToIPC(table, 'stream')),
            props({ ...opts, codec: 'LZ4' }));
        fs.writeFileSync(path.join(dir, twin + '.parquet'), bytes);
        return [twin, src];
    });
}

module.exports = { writeWasmFixtures, writeLz4Twins };
