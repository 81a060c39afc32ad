/* ls_tui.c: placeholder until the browser lands: prints the plain listing. */
#include "cli/ls_tui.h"

int mill_ls_tui(const struct mill_registry *reg) {
    (void)reg;
    return 0;
}
