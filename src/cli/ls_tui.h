/* ls_tui.h: the interactive `mill ls` browser (a full-screen terminal UI). */
#ifndef MILL_CLI_LS_TUI_H
#define MILL_CLI_LS_TUI_H

struct mill_registry;

/* Runs the browser on the controlling terminal until Enter (copy a name), Esc or Ctrl+C.
 * Returns an exit code. */
int mill_ls_tui(const struct mill_registry *reg);

#endif
