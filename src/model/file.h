/* file.h: reading a whole small file (a config, a tokenizer, a vocabulary) for the model
 * layer's parsers, which may use nothing outside src/model. */
#ifndef MILL_MODEL_FILE_H
#define MILL_MODEL_FILE_H

#include <mill/mill.h>

#include <stddef.h>

/* Reads the regular file at path, of at most max bytes, into *buf (malloc'd, NUL-terminated)
 * and *n. MILL_ENOTFOUND when it does not exist, MILL_EFORMAT when it holds more than max
 * bytes, MILL_EIO (not a regular file, a read error), MILL_ENOMEM; every message names path.
 * On error *buf is NULL. */
int mill_model_read_file(const char *path, size_t max, char **buf, size_t *n, struct mill_err *err);

#endif
