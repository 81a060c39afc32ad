/* notasks.c: a shared object that exports no TASKS_TABLE (an unrelated library dropped into a
 * task directory), for tests/cli/test_registry.sh: the registry must skip it with a warning
 * naming the file and the missing TASKS_TABLE, and go on. */

/* Something exported, so the object is not empty; Mill must not care about it. */
int notasks_answer(void);
int notasks_answer(void) { return 42; }
