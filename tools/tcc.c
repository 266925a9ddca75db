/* tcc: command-line entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "tools/tcc.h"

#include "base/version.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: tcc <command> [options]\n"
          "\n"
          "commands:\n"
          "  inspect MODEL.onnx [--ir] [--json]   graph, shapes, op histogram, parameters, op coverage\n"
          "  inspect MODEL.onnx --plan [-target T] the optimization pipeline's kernels and memory plan\n"
          "  run MODEL.onnx [--input N=F] [--compare DIR] [--output-dir DIR]\n"
          "                                       evaluate with the reference evaluator\n"
          "                                       (--pipeline: optimized first)\n"
          "  compile MODEL.onnx --emit llvm|asm|obj -target T -o FILE\n"
          "                                       the model's kernels as one LLVM module (no .so yet)\n"
          "  ops [--markdown]                     the ONNX operators tcc imports\n"
          "  help                                 this text\n"
          "  version                              print the version\n"
          "\n"
          "Run 'tcc <command> --help' for a command's options. Documentation: docs/cli.md\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "inspect") == 0) return tcc_cmd_inspect(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0) return tcc_cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "ops") == 0) return tcc_cmd_ops(argc - 1, argv + 1);
  if (strcmp(cmd, "compile") == 0) return tcc_cmd_compile(argc - 1, argv + 1);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("tcc %s\n", TCC_VERSION);
    return 0;
  }
  fprintf(stderr, "tcc: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
