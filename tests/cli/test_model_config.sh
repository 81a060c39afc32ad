#!/usr/bin/env bash
# test_model_config.sh: Python Mill's model config files as model specs (BEHAVIOUR.md §1.6):
# `mill eval configs/x.py TASKS` reads the file's `model = dict(type=..., ...)` without running
# it, maps Python Mill's class (or registry name, or plain Hub id) to our backend, merges
# run_cfg, drops what Python Mill's loader drops, ignores the bracket's arguments, and evaluates
# as the same inline spec would. Which backend and which model name each class gives is seen
# through `schedule --dry_run`, which opens backends without loading anything. Bad configs: a
# clear error naming the file and line, exit 2. (The llama backend through a config, end to
# end, is in test_llama.sh.)
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export HF_HUB_OFFLINE=1 MILL_CACHE_DIR="$tmp/cache"

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"
cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
cat > "$tmp/resp.jsonl" <<'JSON'
{"task": "toy_qa", "doc_id": 0, "response": "2"}
{"task": "toy_qa", "doc_id": 1, "response": " Rome "}
{"task": "toy_qa", "doc_id": 2, "response": "3"}
{"task": "toy_qa", "doc_id": 3, "response": "Jupiter"}
{"task": "toy_qa", "doc_id": 4, "response": "water"}
JSON

# A registry name as the type, with run_cfg, abbr, a None and Python-only keys: the same
# results as the inline spec, under the same model name.
cat > "$tmp/replay_cfg.py" <<PY
"""The replay backend by its registry name."""
from mill.models.transformers import TransformersModel  # imported, not used

model = dict(
    type="replay",
    abbr="toy",
    file="$tmp/resp.jsonl",
    name='cfg-model',
    modalities=["text"],
    revision=None,
    run_cfg=dict(num_gpus=1, batch_size=4,),
)
PY
"$MILL" --output_dir "$tmp/inline" eval "replay[file=$tmp/resp.jsonl,name=cfg-model]" toy_qa \
    --task_paths "$tmp/plug" >"$tmp/inline.out" 2>/dev/null
(cd "$tmp" && "$MILL" --output_dir "$tmp/cfg" eval "replay_cfg.py[name=other]" toy_qa \
    --task_paths "$tmp/plug" >"$tmp/cfg.out" 2>"$tmp/cfg.err"); rc=$?
check "a config with a registry name runs (exit 0)" "[ $rc -eq 0 ]"
check "its aggregate.csv and score table equal the inline spec's" \
    "cmp -s '$tmp/inline/aggregate.csv' '$tmp/cfg/aggregate.csv' && cmp -s '$tmp/inline.out' '$tmp/cfg.out'"
check "its samples equal the inline spec's" \
    "cmp -s '$tmp/inline/outputs/cfg-model/toy_qa_2shot.jsonl' '$tmp/cfg/outputs/cfg-model/toy_qa_2shot.jsonl'"
check "the bracket's arguments are said to be ignored (name=other did not apply)" \
    "grep -q 'the arguments in \[...\] are ignored' '$tmp/cfg.err' && [ ! -e '$tmp/cfg/outputs/other' ]"
check "keys the backend does not take are named (batch_size), run_cfg's num_gpus and abbr not" \
    "grep -q 'takes no batch_size; ignored' '$tmp/cfg.err' && ! grep -q 'num_gpus\|abbr' '$tmp/cfg.err'"

# The bracket is ignored whole: a quantisation sweep in it is not expanded (one job, the
# config's model name).
(cd "$tmp" && "$MILL" --output_dir "$tmp/sw" eval "replay_cfg.py[quant=A;B]" toy_qa \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/sw.err"); rc=$?
check "a sweep in a config's bracket is ignored: one job under the config's name" \
    "[ $rc -eq 0 ] && [ \$(ls '$tmp/sw/outputs') = cfg-model ] && [ \$(grep -c 'Evaluating toy_qa |' '$tmp/sw.err') -eq 1 ]"
# run_cfg's None overrides the key above it, as Python's dict.update does: the default name.
cat > "$tmp/none_cfg.py" <<PY
model = dict(type="replay", file="$tmp/resp.jsonl", name="top", num_gpus=1,
             run_cfg=dict(name=None))
PY
"$MILL" --output_dir "$tmp/nn" eval "$tmp/none_cfg.py" toy_qa --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/nn.err"
check "run_cfg's None overrides (the backend's default name), top-level num_gpus dropped quietly" \
    "[ -d '$tmp/nn/outputs/replay__resp.jsonl' ] && [ ! -e '$tmp/nn/outputs/top' ] && ! grep -q num_gpus '$tmp/nn.err'"

# Python Mill's classes and names, each to our backend and model name (schedule --dry_run's
# model_abbr column), without loading a model.
w() { printf '%s\n' "$2" > "$tmp/$1.py"; }
w hf 'from mill.models.transformers import TransformersModel
model = dict(type=TransformersModel, abbr="q", path="Qwen/Qwen3-0.6B-Base", modalities=["text"],
             dtype="bfloat16", max_context_length=8192, run_cfg=dict(num_gpus=1, batch_size=16))'
w hubid 'model = dict(type="Qwen/Qwen2.5-0.5B", dtype="bfloat16")'
w clap 'from mill.models.hf_clip import HFContrastiveModel
model = dict(type=HFContrastiveModel, abbr="clap", path="laion/clap-htsat-unfused",
             modalities=["audio", "text"], dtype="float32", run_cfg=dict(num_gpus=1, batch_size=32))'
w openclip 'from mill.models.clip import OpenCLIPModel as C
model = {"type": C, "path": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}'
w vllm 'from mill.models.vllm import VLLMModel
model = dict(type=VLLMModel, path="Qwen/Qwen3-8B", tensor_parallel_size=2)'
w litellm 'from mill.models.litellm import LiteLLMModel
model = dict(type=LiteLLMModel, model="gpt-4o-mini", requests_per_minute=60, modalities=[])'
w vllm2 'from mill.models.vllm import VLLMModel
model = dict(type=VLLMModel, path="org/served", model="other/name")'
w clap2 'from mill.models.hf_clip import HFContrastiveModel
model = dict(type=HFContrastiveModel, path="laion/clap-htsat-unfused", run_cfg=dict(modality="audio"))'
(cd "$tmp" && "$MILL" --output_dir "$tmp/sch" schedule hf.py,hubid.py,clap.py,openclip.py,vllm.py,litellm.py,vllm2.py \
    mmlu_pro,esc50,cifar10 --dry_run >"$tmp/sch.out" 2>"$tmp/sch.err"); rc=$?
check "schedule --dry_run opens every class's backend (exit 0)" "[ $rc -eq 0 ] || { cat '$tmp/sch.err'; false; }"
row() { grep -Eq "^ *[0-9]+ +$1 +$2 +$3 +0\$" "$tmp/sch.out"; }
check "TransformersModel: the llama backend, named by its path" "row Qwen__Qwen3-0.6B-Base hf.py mmlu_pro"
check "a plain Hub id as the type: TransformersModel with that path" "row Qwen__Qwen2.5-0.5B hubid.py mmlu_pro"
check "HFContrastiveModel with audio: CLAP (esc50's zero-shot variant, not mmlu's)" \
    "row laion__clap-htsat-unfused clap.py esc50"
check "OpenCLIPModel: CLIP, named path/pretrained (cifar10's zero-shot variant)" \
    "row ViT-B-32__laion2b_s34b_b79k openclip.py cifar10"
check "VLLMModel: the vllm backend, its path the served model" "row Qwen__Qwen3-8B vllm.py mmlu_pro"
check "LiteLLMModel: the openai backend, named by its model" "row gpt-4o-mini litellm.py mmlu_pro"
check "VLLMModel with path and model: named by its path, as Python Mill's; no warning about path" \
    "row org__served vllm2.py mmlu_pro && ! grep -q 'takes no path' '$tmp/sch.err'"
check "an empty modalities list is the default (openai accepts the config)" \
    "! grep -q 'modalities must be' '$tmp/sch.err'"
expect_exit "HFContrastiveModel with audio is CLAP: an image task is refused before any download" 1 \
    "cannot ingest input modalities \['image'\]" --output_dir "$tmp/bad" eval "$tmp/clap.py" cifar10

expect_exit "HFContrastiveModel with run_cfg's modality audio is CLAP too" 1 \
    "cannot ingest input modalities \\['image'\\]" --output_dir "$tmp/bad" eval "$tmp/clap2.py" cifar10
# Bad configs: exit 2, the file (and line) named. refused NAME TASK WHAT PATTERN: config NAME (just
# written by w) run on TASK.
refused() { expect_exit "$3" 2 "$4" --output_dir "$tmp/bad" eval "$tmp/$1.py" "$2" --task_paths "$tmp/plug"; }
w call 'import os
model = dict(path=os.path.join("a", "b"))'
refused call toy_qa "an attribute call: refused naming file:line" 'call.py:2: attributes'
w block 'if True:
    model = dict(type="replay")'
refused block toy_qa "an if block: refused naming file:line" 'block.py:1: only imports and NAME = value'
w nomodel 'config = dict(type="replay")'
refused nomodel toy_qa "no model variable: Python Mill's message" 'nomodel.py: must export a top-level `model = dict'
w notype 'model = dict(path="x")'
refused notype toy_qa "no type: refused" 'notype.py: the model dict needs a type='
w timm 'from mill.models.timm import TimmModel
model = dict(type=TimmModel, path="resnet50")'
refused timm cifar10 "TimmModel: no such backend here, said so" 'timm.py: Mill in C has no timm backend'
w mine 'from my.models import Mine
model = dict(type=Mine, path="x")'
refused mine toy_qa "a class of the user's own: refused by name" "type my.models:Mine is not one of Python Mill's"
w nested 'model = dict(type="replay", file="f", name=dict(a=1))'
refused nested toy_qa "a dict as a backend argument: refused naming it" 'argument name: a dict'
w nomod 'from mill.models.hf_clip import HFContrastiveModel
model = dict(type=HFContrastiveModel, path="x/y")'
refused nomod cifar10 "HFContrastiveModel without a modality: refused, asking for one" "needs modality='image' \\(CLIP\\) or"
w timmname 'model = dict(type="timm", path="resnet50")'
refused timmname cifar10 "the registry name timm: no such backend here, said so" 'Mill in C has no timm backend'
w impval 'from names import QWEN
model = dict(type="replay", file="f", name=QWEN)'
refused impval toy_qa "an imported name as a value: refused, not read as a string" 'argument name: an imported name is read only as type='
w impmodel 'from pkg.cfg import model'
refused impmodel toy_qa "an imported model: refused" '`model` is imported \(pkg.cfg:model\)'
"$PY" -c "print('x = 1\n' * 600000 + 'model = dict()')" > "$tmp/big.py"
refused big toy_qa "a config over 1 MB: exit 2 naming it" 'big.py: [0-9]+ bytes, more than the 1048576 allowed'
w wrongtype 'model = dict(type="replay", file="f", name=5)'
refused wrongtype toy_qa "a value of the wrong type: the backend's own message" 'name must be a string'
check "nothing was written for the refused configs" "[ ! -e '$tmp/bad/aggregate.csv' ]"
finish
