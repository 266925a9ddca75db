/* The `tcc` command line: one function per subcommand. */
#ifndef TCC_TOOLS_TCC_H
#define TCC_TOOLS_TCC_H

/* Each returns the process exit status. argv[0] is the subcommand name. */
int tcc_cmd_inspect(int argc, char **argv);
int tcc_cmd_ops(int argc, char **argv);
int tcc_cmd_run(int argc, char **argv);
int tcc_cmd_compile(int argc, char **argv);

#endif
