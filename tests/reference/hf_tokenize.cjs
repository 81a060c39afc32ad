// hf_tokenize.cjs: tokenises llama.cpp's tokenizer tests (a ggml-vocab-*.gguf.inp file: texts
// separated by "\n__ggml_vocab_test__\n") with a Hugging Face tokenizer directory (tokenizer.json,
// tokenizer_config.json) through transformers.js's tokenizers (npm @lenml/tokenizers, a port of
// the tokenizers library), and prints one line of ids per text as llama.cpp's .out files hold them
// (" id id ..."), no special tokens added: the independent oracle of tests/cli/test_hf_tokenizer.sh
// for a tokenizer llama.cpp ships no .out for.
// Usage: NODE_PATH=<node_modules> node hf_tokenize.cjs DIR FILE.inp
const fs = require('fs');
const { TokenizerLoader } = require('@lenml/tokenizers');

const [dir, inp] = process.argv.slice(2);
const read = (name) => JSON.parse(fs.readFileSync(`${dir}/${name}`, 'utf8'));
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: read('tokenizer.json'),
  tokenizerConfig: read('tokenizer_config.json'),
});
const tests = fs.readFileSync(inp, 'utf8').split('\n__ggml_vocab_test__\n');
if (tests.pop() !== '') {
  console.error(`${inp}: does not end with a test separator`);
  process.exit(1);
}
for (const text of tests) {
  const ids = tok.encode(text, { add_special_tokens: false });
  process.stdout.write(ids.map((id) => ` ${id}`).join('') + '\n');
}
