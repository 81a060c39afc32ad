// arrow_fixtures.cjs: Arrow IPC files written by apache-arrow (the Arrow project's JavaScript
// implementation, an independent writer) for tests/cli/test_arrow.sh, each with the rows the same
// library reads back as JSON Lines in Mill's value conventions: integers as numbers (64-bit ones
// as decimal strings marked {"$int": "..."}), floats as numbers, binary as {"$hex": ...}, lists,
// structs, maps as lists of {key, value}, dictionary-encoded columns as their values, nulls,
// decimals as {"$dec": [unscaled integer, scale]}.
// Some are compressed buffer by buffer (LZ4_FRAME, ZSTD), the codecs being Debian's lz4 and
// zstd tools. Usage: NODE_PATH=<node_modules> node arrow_fixtures.cjs OUTDIR  (writes
// NAME.arrow and NAME.jsonl per fixture, index.txt; and bad_*.arrow, which must be refused).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const A = require('apache-arrow');

const tool = (cmd, args) => (b) =>
    new Uint8Array(execFileSync(cmd, args, { input: b, maxBuffer: 1 << 30 }));
A.compressionRegistry.set(A.CompressionType.LZ4_FRAME,
    { encode: tool('lz4', ['-q', '-c']), decode: tool('lz4', ['-q', '-d', '-c']) });
A.compressionRegistry.set(A.CompressionType.ZSTD,
    { encode: tool('zstd', ['-q', '-c']), decode: tool('zstd', ['-q', '-d', '-c']) });
// apache-arrow 21.2.0 puts a compressed buffer's compressed length in its 8-byte prefix, where
// the format (and pyarrow, which then refuses the file) wants the uncompressed length; upstream
// fixed it in apache/arrow-js#470. The same fix, unless a fixture asks for the old prefix.
let oldPrefix = false;
const compressBuffers = A.RecordBatchWriter.prototype._compressBodyBuffers;
A.RecordBatchWriter.prototype._compressBodyBuffers = function (buffers) {
    const out = compressBuffers.call(this, buffers);
    buffers.forEach((b, i) => {
        const p = out.buffers[2 * i];
        const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
        if (!oldPrefix && p.byteLength === 8 && v.getBigInt64(0, true) !== -1n)
            v.setBigInt64(0, BigInt(b.byteLength), true);
    });
    return out;
};

const dir = process.argv[2];
const names = [];

// A JS value as the test compares it.
function plain(v, type) {
    if (v === null || v === undefined) return null;
    if (typeof v === 'bigint') return { $int: v.toString() };
    if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
    if (A.DataType.isList(type) || A.DataType.isFixedSizeList(type) ||
        type.typeId === A.Type.LargeList)
        return Array.from(v, (x) => plain(x, type.children[0].type));
    if (A.DataType.isMap(type)) {
        const entry = type.children[0].type;
        return Array.from(v, ([k, x]) => ({ key: plain(k, entry.children[0].type),
            value: plain(x, entry.children[1].type) }));
    }
    if (A.DataType.isStruct(type)) {
        const o = {};
        for (const f of type.children) o[f.name] = plain(v[f.name], f.type);
        return o;
    }
    if (A.DataType.isDictionary(type)) return plain(v, type.dictionary);
    if (A.DataType.isDecimal(type)) { /* the unscaled integer from its words (arrow-js's own
                                         * String() of a 256-bit one keeps the low 128 bits) */
        let u = 0n;
        for (let k = type.bitWidth / 32 - 1; k >= 0; k--) u = (u << 32n) | BigInt(v[k] >>> 0);
        return { $dec: [BigInt.asIntN(type.bitWidth, u).toString(), type.scale] };
    }
    if (A.DataType.isDate(type)) { /* arrow-js gives milliseconds; stored: days or ms */
        const ms = typeof v === 'number' ? v : v.getTime();
        return type.unit === A.DateUnit.DAY ? Math.floor(ms / 86400000) : ms;
    }
    if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
    throw new Error('no plain form for ' + type);
}

// Writes NAME.arrow (compressed with codec, a CompressionType, when given) and NAME.jsonl, the
// rows apache-arrow reads back from those bytes.
function write(name, table, format, codec) {
    const W = format === 'file' ? A.RecordBatchFileWriter : A.RecordBatchStreamWriter;
    const bytes = codec === undefined ? A.tableToIPC(table, format)
        : W.writeAll(table, { compressionType: codec }).toUint8Array(true);
    fs.writeFileSync(path.join(dir, name + '.arrow'), bytes);
    const back = A.tableFromIPC(bytes);
    if (back.numRows !== table.numRows) throw new Error(name + ': rows read back differ');
    const rows = [];
    for (let i = 0; i < back.numRows; i++) {
        const o = {};
        for (const f of back.schema.fields) o[f.name] = plain(back.getChild(f.name).get(i), f.type);
        rows.push(JSON.stringify(o));
    }
    fs.writeFileSync(path.join(dir, name + '.jsonl'), rows.map((r) => r + '\n').join(''));
    names.push(name);
}

const vec = (type, values) => A.vectorFromArray(values, type);

// Scalars of every width, nulls, strings (Unicode, empty), binary, booleans, floats.
function scalars() {
    const n = 7;
    const cols = {
        i8: vec(new A.Int8(), [1, -128, 127, null, 0, -1, 5]),
        i16: vec(new A.Int16(), [1, -32768, 32767, 0, null, 3, 4]),
        i32: vec(new A.Int32(), [7, -2147483648, 2147483647, 0, 1, null, 2]),
        i64: vec(new A.Int64(), [7n, -9223372036854775808n, 9223372036854775807n, 0n, 1n, 2n, null]),
        u8: vec(new A.Uint8(), [255, 0, 1, 2, 3, 4, 5]),
        u32: vec(new A.Uint32(), [4294967295, 0, 1, 2, 3, 4, 5]),
        u64: vec(new A.Uint64(), [0n, 1n, 9223372036854775807n, 5n, 6n, 7n, 8n]),
        f32: vec(new A.Float32(), [0.5, -1.25, 3.4028234663852886e38, null, 0, 1e-10, 2]),
        f64: vec(new A.Float64(), [0.1, -2.5e300, 5e-324, 1, null, 3.141592653589793, -0.0]),
        b: vec(new A.Bool(), [true, false, null, true, true, false, true]),
        s: vec(new A.Utf8(), ['a', '', 'caf\u00e9 \u65e5\u672c \ud83d\ude00', null, 'x\ny', '"q"', 'z']),
        ls: vec(new A.LargeUtf8(), ['big', null, '', 'b', 'c', 'd', 'e']),
        bin: vec(new A.Binary(), [Uint8Array.of(0, 1, 255), new Uint8Array(0), null,
            Uint8Array.of(7), Uint8Array.of(8), Uint8Array.of(9), Uint8Array.of(10)]),
        fsb: vec(new A.FixedSizeBinary(2), [Uint8Array.of(1, 2), Uint8Array.of(3, 4), null,
            Uint8Array.of(5, 6), Uint8Array.of(7, 8), Uint8Array.of(9, 10), Uint8Array.of(11, 12)]),
        nul: vec(new A.Null(), new Array(n).fill(null)),
    };
    return new A.Table(cols);
}

// Nested: lists (with nulls and empty ones), large lists, fixed-size lists, structs holding
// lists, lists of structs, maps, and an image-like {bytes, path} struct as datasets stores one.
function nested() {
    const i32 = new A.Int32(), utf8 = new A.Utf8();
    const lst = new A.List(new A.Field('item', i32, true));
    const cols = {
        l: vec(lst, [[1, 2], [], null, [3, null, 4]]),
        ll: vec(new A.LargeList(new A.Field('item', utf8, true)), [['a'], null, [], ['b', 'c']]),
        fl: vec(new A.FixedSizeList(2, new A.Field('item', i32, true)), [[1, 2], [3, null], null,
            [5, 6]]),
        st: vec(new A.Struct([new A.Field('x', i32, true), new A.Field('ys', lst, true)]),
            [{ x: 1, ys: [1] }, null, { x: null, ys: null }, { x: 4, ys: [] }]),
        los: vec(new A.List(new A.Field('item', new A.Struct([new A.Field('k', utf8, true)]), true)),
            [[{ k: 'a' }, { k: 'b' }], [], [null], null]),
        m: vec(new A.Map_(new A.Field('entries', new A.Struct([new A.Field('key', utf8, false),
            new A.Field('value', i32, true)]), false)),
        [new Map([['a', 1], ['b', null]]), new Map(), null, new Map([['z', 26]])]),
        image: vec(new A.Struct([new A.Field('bytes', new A.Binary(), true),
            new A.Field('path', utf8, true)]),
        [{ bytes: Uint8Array.of(137, 80, 78, 71), path: 'a.png' }, { bytes: null, path: 'b.png' },
            null, { bytes: Uint8Array.of(1), path: null }]),
    };
    return new A.Table(cols);
}

// Dictionary-encoded strings (what datasets' ClassLabel is not, but pandas categoricals are),
// across several record batches.
function dictionary() {
    const t = new A.Dictionary(new A.Utf8(), new A.Int32());
    const parts = [['cat', 'dog', null, 'cat'], ['dog', 'bird'], ['fish']].map((vals) =>
        new A.Table({ label: vec(t, vals), n: vec(new A.Int64(), vals.map((_, i) => BigInt(i))) }));
    return parts.slice(1).reduce((a, b) => a.concat(b), parts[0]);
}

// Several record batches (and, below, a table of no rows).
function batches() {
    const mk = (vals) => new A.Table({ v: vec(new A.Int32(), vals), s: vec(new A.Utf8(),
        vals.map((x) => (x === null ? null : 'r' + x))) });
    return [mk([1, 2, 3]), mk([4, null]), mk([6])].reduce((a, b) => a.concat(b));
}

// Dictionaries as arrow-js writes them otherwise: one extended by a delta batch, and inside a
// list and a struct (after the reader review's files).
function deltaDictionary() {
    const values = vec(new A.Utf8(), ['a', 'b']).concat(vec(new A.Utf8(), ['c']));
    const type = new A.Dictionary(new A.Utf8(), new A.Int32(), 7);
    return new A.Table({ d: A.makeVector(A.makeData({ type, length: 4, nullCount: 0,
        data: Int32Array.of(0, 2, 1, 2), dictionary: values })) });
}

function nestedDictionaries() {
    const lt = new A.List(new A.Field('item', new A.Dictionary(new A.Utf8(), new A.Int8(), 3), true));
    const st = new A.Struct([new A.Field('k', new A.Dictionary(new A.Utf8(), new A.Int16(), 4),
        true)]);
    return new A.Table({ l: vec(lt, [['x', 'y'], [], null, ['y']]),
        s: vec(st, [{ k: 'p' }, { k: null }, null, { k: 'q' }]) });
}

// Half floats, dates (days, milliseconds), millisecond timestamps: their stored numbers.
function temporal() {
    return new A.Table({
        h: vec(new A.Float16(), [1.5, -65504, 0.5, null]),
        dd: vec(new A.DateDay(), [new Date(0), new Date(86400000 * 19000), null,
            new Date(-86400000)]),
        dm: vec(new A.DateMillisecond(), [new Date(1234567), null, new Date(0), new Date(-5)]),
        ts: vec(new A.TimestampMillisecond(), [0, 1700000000123, null, -1]),
    });
}

// Decimals of 128 and 256 bits (unscaled integers as little-endian 32-bit words): signs,
// values past 2^53 (rounding), the largest 128-bit one, a negative scale, and nulls.
function decimals() {
    const words = (vals, n) => {
        const w = new Uint32Array(vals.length * n);
        vals.forEach((x, i) => {
            let u = BigInt.asUintN(32 * n, x);
            for (let k = 0; k < n; k++, u >>= 32n) w[i * n + k] = Number(u & 0xffffffffn);
        });
        return w;
    };
    const col = (type, n, vals, nulls) => A.makeVector(A.makeData({ type, length: vals.length,
        nullCount: nulls.length, data: words(vals, n),
        nullBitmap: Uint8Array.of(vals.reduce((m, _, i) => m | (nulls.includes(i) ? 0 : 1 << i), 0)) }));
    const v = [12345n, -12345n, 0n, 9007199254740993n, -(2n ** 127n), 2n ** 127n - 1n, 1n];
    return new A.Table({
        d2: col(new A.Decimal(2, 38, 128), 4, v, [6]),
        d30: col(new A.Decimal(30, 38, 128), 4, v, []),
        dneg: col(new A.Decimal(-3, 10, 128), 4, v, [2]),
        d256: col(new A.Decimal(40, 76, 256), 8, v.map((x) => x * 10n ** 30n + 7n), []),
    });
}

for (const [name, t] of [['scalars', scalars()], ['nested', nested()], ['batches', batches()],
    ['delta', deltaDictionary()], ['nested_dict', nestedDictionaries()],
    ['temporal', temporal()], ['decimal', decimals()]]) {
    write(name + '_stream', t, 'stream');
    write(name + '_file', t, 'file'); /* its schema in the footer alone, as arrow-js writes it */
}
// a dictionary replaced in each batch (the stream format only: files allow no replacement)
write('dictionary_stream', dictionary(), 'stream');
write('empty_stream', new A.Table({ v: vec(new A.Int32(), []) }), 'stream');
// Compressed per buffer (buffers that do not shrink are stored with the prefix -1), what
// pyarrow writes with IpcWriteOptions(compression='lz4' or 'zstd'); dictionaries compressed too.
const { LZ4_FRAME, ZSTD } = A.CompressionType;
write('scalars_lz4_stream', scalars(), 'stream', LZ4_FRAME);
write('scalars_zstd_file', scalars(), 'file', ZSTD);
write('nested_zstd_stream', nested(), 'stream', ZSTD);
write('nested_dict_lz4_file', nestedDictionaries(), 'file', LZ4_FRAME);
write('dictionary_zstd_stream', dictionary(), 'stream', ZSTD);
write('delta_lz4_stream', deltaDictionary(), 'stream', LZ4_FRAME);
// apache-arrow 21.2.0's own prefix (the compressed length): pyarrow refuses it, so must we.
const big = new A.Table({ v: vec(new A.Int32(), Array.from({ length: 4096 }, (_, i) => i % 7)) });
oldPrefix = true;
for (const [c, tag] of [[LZ4_FRAME, 'lz4'], [ZSTD, 'zstd']])
    fs.writeFileSync(path.join(dir, `bad_prefix_${tag}.arrow`),
        A.RecordBatchStreamWriter.writeAll(big, { compressionType: c }).toUint8Array(true));
oldPrefix = false;
// A codec writing each buffer as two frames: Arrow C++ reads two ZSTD frames, but only one LZ4
// frame, so the first is a fixture and the second must be refused.
const twoFrames = (enc) => (b) => {
    const h = b.length >> 1, x = enc(b.subarray(0, h)), y = enc(b.subarray(h));
    const out = new Uint8Array(x.length + y.length);
    out.set(x); out.set(y, x.length);
    return out;
};
A.compressionRegistry.set(ZSTD, { encode: twoFrames(tool('zstd', ['-q', '-c'])),
    decode: tool('zstd', ['-q', '-d', '-c']) });
write('scalars_zstd_frames_stream', scalars(), 'stream', ZSTD);
A.compressionRegistry.set(LZ4_FRAME, { encode: twoFrames(tool('lz4', ['-q', '-c'])),
    decode: tool('lz4', ['-q', '-d', '-c']) });
fs.writeFileSync(path.join(dir, 'bad_lz4_frames.arrow'),
    A.RecordBatchStreamWriter.writeAll(big, { compressionType: LZ4_FRAME }).toUint8Array(true));
// a 128-bit Decimal of precision 39, which pyarrow refuses
fs.writeFileSync(path.join(dir, 'bad_decimal_precision.arrow'), A.tableToIPC(new A.Table({
    d: A.makeVector(A.makeData({ type: new A.Decimal(2, 39, 128), length: 1, nullCount: 0,
        data: new Uint32Array(4) })) }), 'stream'));
// pyarrow 0.17's mark of a compressed V4 message, in a batch's custom metadata
const marked = new A.RecordBatch(big.schema, big.batches[0].data,
    new Map([['ARROW:experimental_compression', 'ZSTD']]));
fs.writeFileSync(path.join(dir, 'bad_experimental.arrow'),
    A.RecordBatchStreamWriter.writeAll([marked]).toUint8Array(true));
fs.writeFileSync(path.join(dir, 'index.txt'), names.join('\n') + '\n');
