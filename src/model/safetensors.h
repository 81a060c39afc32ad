/* safetensors.h: a bounds-checked reader of the safetensors format (u64 little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {...}}, then the raw tensor bytes), memory-mapping the file and looking tensors up by name.
 *
 * Every header field is checked against the buffer before use: the header length is capped,
 * dtypes must be known, shape product x dtype size must equal end - begin, offsets must lie
 * inside the data section and must not overlap, names must be unique. This file must not
 * convert or copy tensor data, and must not trust any length it reads. */
#ifndef MILL_MODEL_SAFETENSORS_H
#define MILL_MODEL_SAFETENSORS_H

#include <mill/mill.h>
#include <mill/value.h>

#include <stddef.h>
#include <stdint.h>

/* A header longer than this is refused (MILL_EFORMAT) before anything is allocated. */
#define MILL_ST_HEADER_MAX ((uint64_t)100 << 20)
/* Tensors of more dimensions are refused. */
#define MILL_ST_MAX_DIMS 8

/* The dtypes of the safetensors spec. F32, F16 and BF16 are the ones models use here; the rest
 * are parsed and size-checked (an HF checkpoint may carry an I64 position_ids buffer) and left
 * for the caller to refuse by name (mill_st_dtype_name). An unknown dtype string is an error. */
enum mill_st_dtype {
    MILL_ST_F32 = 0,
    MILL_ST_F16,
    MILL_ST_BF16,
    MILL_ST_F64,
    MILL_ST_I64,
    MILL_ST_I32,
    MILL_ST_I16,
    MILL_ST_I8,
    MILL_ST_U64,
    MILL_ST_U32,
    MILL_ST_U16,
    MILL_ST_U8,
    MILL_ST_BOOL,
    MILL_ST_F8_E4M3,
    MILL_ST_F8_E5M2,
};

struct mill_st_tensor {
    const char *name; /* owned by the mill_safetensors */
    enum mill_st_dtype dtype;
    int n_dims;                      /* 0 for a scalar */
    int64_t shape[MILL_ST_MAX_DIMS]; /* torch order: shape[n_dims - 1] varies fastest */
    int64_t n_elements;              /* product of shape (1 for a scalar) */
    const void *data;                /* into the mapped file or the borrowed buffer; unaligned */
    size_t n_bytes;                  /* n_elements x dtype size */
};

struct mill_safetensors;

/* Maps and parses the file at path. MILL_ENOTFOUND / MILL_EIO when it cannot be opened or
 * mapped, MILL_EFORMAT (naming the file and the tensor or field) for a malformed file,
 * MILL_ENOMEM. Free with mill_safetensors_free. */
int mill_safetensors_open(const char *path, struct mill_safetensors **st, struct mill_err *err);
/* Parses n bytes at buf (borrowed: it must outlive *st); name is only used in messages. Same
 * codes as mill_safetensors_open. For tests and fuzzing. */
int mill_safetensors_parse(const void *buf, size_t n, const char *name,
                           struct mill_safetensors **st, struct mill_err *err);
/* Unmaps and frees; NULL-safe. */
void mill_safetensors_free(struct mill_safetensors *st);

/* Tensor count and the i-th tensor in name order (i < count). */
size_t mill_safetensors_count(const struct mill_safetensors *st);
const struct mill_st_tensor *mill_safetensors_at(const struct mill_safetensors *st, size_t i);
/* The tensor called name, or NULL. Valid until mill_safetensors_free. */
const struct mill_st_tensor *mill_safetensors_find(const struct mill_safetensors *st,
                                                   const char *name);
/* The "__metadata__" object (a MILL_V_STRUCT of strings), or NULL when the header has none. */
const struct mill_value *mill_safetensors_metadata(const struct mill_safetensors *st);

/* "F32", "BF16", ...; static storage. */
const char *mill_st_dtype_name(enum mill_st_dtype dtype);
/* Bytes per element (1 for BOOL and the F8 types). */
size_t mill_st_dtype_size(enum mill_st_dtype dtype);

#endif
