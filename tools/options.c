/* Command-line options shared by the subcommands (tools/tcc.h). */
#include <stdio.h>
#include <string.h>

#include "tools/tcc.h"

int tcc_cli_option(tcc_cli_option_t *o, const char *command, int argc, char **argv, int *i,
                   const char *const *with_value) {
  const char *a = argv[*i], *eq = a[0] == '-' ? strchr(a, '=') : NULL;
  o->name = a, o->value = NULL;
  if (eq && eq - a < (int)sizeof o->buf) { /* --opt=VALUE */
    snprintf(o->buf, sizeof o->buf, "%.*s", (int)(eq - a), a);
    o->name = o->buf, o->value = eq + 1;
  }
  bool takes_value = false;
  for (const char *const *w = with_value; *w; w++) takes_value |= strcmp(o->name, *w) == 0;
  if (takes_value && !o->value) {
    if (*i + 1 >= argc) return fprintf(stderr, "tcc %s: %s needs a value\n", command, o->name), 2;
    o->value = argv[++*i];
  }
  if (!takes_value && o->value) return fprintf(stderr, "tcc %s: unexpected argument '%s'\n", command, a), 2;
  return 0;
}
