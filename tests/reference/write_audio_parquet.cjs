// write_audio_parquet.cjs: writes a Parquet file in the Hub layout of one of the audio datasets
// (columns and types as the Hub's files have them, audio as datasets' Audio() feature stores it:
// struct<bytes: binary, path: string>), with apache-arrow and parquet-wasm (the arrow-rs writer,
// as pyarrow-written Hub files are Arrow-written too), for tests/cli/test_audio_tasks.sh,
// test_llama_audio.sh and bench/audio_lm.sh.
// Usage: node write_audio_parquet.cjs LAYOUT ROWS.jsonl OUT.parquet
//   LAYOUT  clotho  (lmms-lab/ClothoAQA, config clotho_aqa: file_name, question, answer, audio)
//           esc50   (ashraq/esc50: filename, fold, target, category, esc10, src_file, take, audio)
//           us8k    (danavery/urbansound8K: slice_file_name, fsID, start, end, salience, fold,
//                    classID, class, audio)
//   ROWS.jsonl  one object per row with those columns; audio is {"file": a local file whose bytes
//               go into the struct (null: no bytes), "path": the name stored beside them}, or
//               null. A column absent from a row is null.
'use strict';

const fs = require('fs');
const A = require('apache-arrow');
const pw = require('parquet-wasm');

const field = (name, type) => new A.Field(name, type, true);
const AUDIO = new A.Struct([field('bytes', new A.Binary()), field('path', new A.Utf8())]);
const S = () => new A.Utf8(), I = () => new A.Int64(), F = () => new A.Float64();

const LAYOUTS = {
    clotho: [['file_name', S], ['question', S], ['answer', S], ['audio', null]],
    esc50: [['filename', S], ['fold', I], ['target', I], ['category', S], ['esc10', () => new A.Bool()],
        ['src_file', I], ['take', S], ['audio', null]],
    us8k: [['slice_file_name', S], ['fsID', I], ['start', F], ['end', F], ['salience', I],
        ['fold', I], ['classID', I], ['class', S], ['audio', null]],
};

function column(rows, name, make) {
    if (!make) {
        return A.vectorFromArray(rows.map((r) => (r.audio ? {
            bytes: r.audio.file ? new Uint8Array(fs.readFileSync(r.audio.file)) : null,
            path: r.audio.path ?? null,
        } : null)), AUDIO);
    }
    const type = make();
    const big = type instanceof A.Int64;
    return A.vectorFromArray(rows.map((r) => (r[name] === undefined || r[name] === null ? null
        : big ? BigInt(r[name]) : r[name])), type);
}

function main(layout, rowsFile, out) {
    const cols = LAYOUTS[layout];
    if (!cols) throw new Error(`unknown layout ${layout}`);
    const rows = fs.readFileSync(rowsFile, 'utf8').split('\n').filter((l) => l.trim())
        .map((l) => JSON.parse(l));
    const vectors = {};
    for (const [name, make] of cols) vectors[name] = column(rows, name, make);
    const table = new A.Table(vectors);
    const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).build();
    fs.writeFileSync(out, pw.writeParquet(pw.Table.fromIPCStream(A.tableToIPC(table, 'stream')),
        props));
}

main(process.argv[2], process.argv[3], process.argv[4]);
