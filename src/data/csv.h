/* csv.h: the CSV reader (csv.c) beyond the reader interface: on an open stream, for the fuzz
 * target and tests. */
#ifndef MILL_DATA_CSV_H
#define MILL_DATA_CSV_H

#include <mill/value.h>

#include <stdbool.h>
#include <stdio.h>

struct mill_csv;

/* Reads the header of f and infers every column's type (a first pass over the whole stream,
 * which must rewind); own: close f with the reader. name is for messages. delim: ',' (CSV)
 * or '\t' (TSV); another byte is not tested. columns: the
 * projection (borrowed; NULL = all). MILL_EFORMAT (an empty file, a row with more fields than
 * the header, text that is not UTF-8, a quote open at the end, over 16384 columns) names the
 * row; MILL_EIO, MILL_ENOMEM. An error met while reading rows stays: next returns it again.
 * On error f is closed when own. */
int mill_csv_open_stream(FILE *f, bool own, const char *name, char delim,
                         const char *const *columns, struct mill_csv **out, struct mill_err *err);
/* 1 = *row filled (a struct in column order; the caller frees it), 0 = end, < 0 = error. */
int mill_csv_next(struct mill_csv *csv, struct mill_value *row, struct mill_err *err);
void mill_csv_close(struct mill_csv *csv);

#endif
