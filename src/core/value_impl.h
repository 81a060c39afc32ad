/* value_impl.h: what the JSON reader (json.c) shares with the value tree (value.c) beyond the
 * public API of value.h. Internal to libmill. */
#ifndef MILL_CORE_VALUE_IMPL_H
#define MILL_CORE_VALUE_IMPL_H

#include <mill/value.h>

/* Appends key (malloc'd, moved in on success) and *val (moved in on success, then reset to
 * null) as obj's last field, without looking for an equal key. MILL_ENOMEM leaves obj as it
 * was and both with the caller. */
int mill_value_struct_append(struct mill_value *obj, char *key, struct mill_value *val);

#endif
