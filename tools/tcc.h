/* The `tcc` command line: one function per subcommand. */
#ifndef TCC_TOOLS_TCC_H
#define TCC_TOOLS_TCC_H

#include <stdbool.h>

/* Each returns the process exit status. argv[0] is the subcommand name. */
int tcc_cmd_inspect(int argc, char **argv);
int tcc_cmd_ops(int argc, char **argv);
int tcc_cmd_run(int argc, char **argv);
int tcc_cmd_compile(int argc, char **argv);

/* One option of a subcommand: argv[*i] as `--opt=VALUE`, or `--opt VALUE` (advancing *i) for the names
 * in with_value (NULL-terminated); other arguments come back with value NULL. Returns 0, or 2 after
 * printing `tcc COMMAND: ...` when a value is missing or given to an option that takes none. */
typedef struct {
  const char *name, *value;
  char buf[64];
} tcc_cli_option_t;
int tcc_cli_option(tcc_cli_option_t *o, const char *command, int argc, char **argv, int *i,
                   const char *const *with_value);

#endif
