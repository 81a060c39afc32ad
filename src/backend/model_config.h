/* model_config.h: model specs that name a Python Mill model config file
 * (`mill eval configs/qwen2_5_7b_instruct.py mmlu`, BEHAVIOUR.md §1.6). The file is read, not
 * run (core/pyliteral.h), and its `model = dict(type=..., ...)` becomes one of our backends
 * with its arguments, as Python Mill's loader would instantiate the class. */
#ifndef MILL_BACKEND_MODEL_CONFIG_H
#define MILL_BACKEND_MODEL_CONFIG_H

#include <mill/backend.h>

#include <stdbool.h>

/* Largest config file read. */
#define MILL_MODEL_CONFIG_MAX_BYTES ((size_t)1 << 20)

/* mill_spec_parse (core/spec.h), then, when the text before '[' names an existing regular file
 * ending in ".py", the spec that file describes: type the backend, args Python Mill's keyword
 * arguments (the dict's with run_cfg's merged over them; type, abbr and num_gpus dropped; None
 * values and empty lists meaning the default; a list joined with ';'); raw stays the text
 * given. The bracket's arguments are ignored, as Python Mill ignores them; with warn, so is said
 * once, as is every key the backend does not take (Python Mill's classes swallow unknown
 * keywords). MILL_EINVAL names the file (and line) for what cannot be read or has no backend
 * here; MILL_EIO, MILL_ENOMEM. Free with mill_spec_free. */
int mill_model_spec_parse(const char *text, bool warn, struct mill_model_spec *spec,
                          struct mill_err *err);

/* Whether spec text names a model config file (so it has no quantisation sweep to expand: its
 * bracket is ignored). */
bool mill_model_config_named(const char *text);

#endif
