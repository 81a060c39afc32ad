/* oldabi.c: a --task_paths plugin built for another Mill ABI (MILL_ABI_VERSION + 1), for
 * tests/cli/test_registry.sh: the registry must skip it with a warning naming the file and the
 * ABI version, and go on. Its task would otherwise be perfectly valid. */
#include <mill/task.h>

static int oldabi_prompt(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, struct mill_err *err) {
    (void)row;
    (void)err;
    return mill_doc_set_query(doc, t->name);
}

static const char *const em[] = {"exact_match", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "oldabi_task",
     .prompt = oldabi_prompt,
     .metrics = em,
     .description = "must never be registered"},
};

const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION + 1, 1, tasks};
