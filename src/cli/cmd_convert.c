/* cmd_convert.c: `mill convert DIR OUT.gguf [--dtype bfloat16] [--quant Q8_0]`: a transformers
 * checkpoint directory (config.json, *.safetensors, tokenizer.json) written as a llama.cpp
 * GGUF, the conversion the llama backend does into its cache (src/model/convert/). Prints
 * nothing on stdout; a progress bar on stderr. */
#include "cli/cli.h"

#include "core/stop.h"
#include "model/convert/hf_convert.h"

#include <stdio.h>
#include <unistd.h>

static void draw(void *ud, const char *tensor, int64_t done, int64_t total, int64_t bytes_done,
                 int64_t bytes_total) {
    (void)ud;
    int pct = bytes_total > 0 ? (int)(100 * bytes_done / bytes_total) : (int)(100 * done / total);
    int fill = pct * 30 / 100;
    fprintf(stderr, "\rconverting [%.*s%*s] %3d%% %lld/%lld %-32.32s", fill,
            "==============================", 30 - fill, "", pct, (long long)done, (long long)total,
            tensor);
    if (done == total)
        fputc('\n', stderr);
}

static int run_convert(const struct mill_args *a) {
    const char *dir = mill_arg_pos(a, &mill_cmd_convert, 0);
    const char *out = mill_arg_pos(a, &mill_cmd_convert, 1);
    if (!dir || !out)
        return mill_cli_error(MILL_EXIT_USAGE, "convert needs DIR and OUT.gguf (see mill convert "
                                               "--help)");
    struct mill_hf_params p = mill_hf_default_params();
    const char *dtype = mill_arg(a, "dtype"), *quant = mill_arg(a, "quant");
    if (quant && (!mill_hf_parse_type(quant, &p.type) || p.type != MILL_HF_Q8_0))
        return mill_cli_error(MILL_EXIT_USAGE, "--quant wants Q8_0, got '%s'", quant);
    if (!quant && dtype && (!mill_hf_parse_type(dtype, &p.type) || p.type == MILL_HF_Q8_0))
        return mill_cli_error(MILL_EXIT_USAGE,
                              "--dtype wants float32, float16 or bfloat16, got "
                              "'%s'",
                              dtype);
    if (!mill_hf_is_checkpoint(dir))
        return mill_cli_error(MILL_EXIT_USAGE,
                              "%s is not a transformers checkpoint directory "
                              "(config.json and model.safetensors or "
                              "model.safetensors.index.json)",
                              dir);
    if (isatty(STDERR_FILENO))
        p.progress = draw;
    struct mill_err err = {0};
    mill_cli_catch_stop_signals("stopping the conversion");
    p.stop = mill_stop_signal;
    if (mill_hf_convert(dir, out, &p, &err))
        return mill_cli_error(err.code == MILL_EINTR    ? 128 + mill_stop_signal()
                              : err.code == MILL_EINVAL ? MILL_EXIT_USAGE
                                                        : MILL_EXIT_FAIL,
                              "%s", err.msg);
    return MILL_EXIT_OK;
}

static const struct mill_opt convert_opts[] = {
    {"dtype", MILL_OPT_STR, "TYPE", "bfloat16 (default), float16 or float32"},
    {"quant", MILL_OPT_STR, "Q8_0", "quantise the matrices to Q8_0 (ggml's quantiser)"},
};

static const char *const convert_pos[] = {"dir", "out", NULL};

const struct mill_command mill_cmd_convert = {
    .name = "convert",
    .summary = "Convert a transformers checkpoint (safetensors + tokenizer.json) to a GGUF.",
    .usage = "convert DIR OUT.gguf [--dtype bfloat16|float16|float32] [--quant Q8_0]",
    .positionals = convert_pos,
    .opts = convert_opts,
    .n_opts = sizeof convert_opts / sizeof convert_opts[0],
    .run = run_convert,
};
