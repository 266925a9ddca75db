/* A C application that embeds a compiled tcc model through its generated header.
 *
 * Build (from the repository root, after building tcc):
 *   ./build/tcc compile samples/tiny_cnn.onnx -o build/samples/tiny_cnn.so
 *   cc -O2 -std=c17 -Ibuild/samples samples/app.c build/samples/tiny_cnn.so -Wl,-rpath,'$ORIGIN' -o build/samples/app
 *   ./build/samples/app
 *
 * It classifies two 32x32 RGB images (a batch of 2: the model's `batch` dim is bound at run time), prints
 * each image's top class and probability, then times 100 runs. Everything it needs is in tiny_cnn.h
 * and tiny_cnn.so; the .so depends only on libc, libm and libpthread. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tiny_cnn.h"

enum { BATCH = 2, CHANNELS = 3, SIDE = 32, CLASSES = 10 };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  static float image[BATCH * CHANNELS * SIDE * SIDE], probs[BATCH * CLASSES];
  for (int i = 0; i < BATCH * CHANNELS * SIDE * SIDE; i++) image[i] = (float)((i * 37 % 101) - 50) / 50.0f;

  tiny_cnn_t *model;
  if (tiny_cnn_create(&model) != TINY_CNN_OK) {
    fprintf(stderr, "app: %s\n", tiny_cnn_last_error());
    return 1;
  }
  tiny_cnn_tensor_t in[TINY_CNN_NUM_INPUTS] = {
      {.data = image, .bytes = sizeof image, .dtype = TINY_CNN_F32, .rank = 4, .dims = {BATCH, CHANNELS, SIDE, SIDE}}};
  tiny_cnn_tensor_t out[TINY_CNN_NUM_OUTPUTS] = {{.data = probs, .bytes = sizeof probs}};
  if (tiny_cnn_run(model, in, out) != TINY_CNN_OK) {
    fprintf(stderr, "app: %s\n", tiny_cnn_last_error());
    tiny_cnn_destroy(model);
    return 1;
  }
  printf("%s: [%lld, %lld]\n", tiny_cnn_output_name(0), (long long)out[0].dims[0], (long long)out[0].dims[1]);
  for (int b = 0; b < BATCH; b++) {
    int best = 0;
    for (int c = 1; c < CLASSES; c++)
      if (probs[b * CLASSES + c] > probs[b * CLASSES + best]) best = c;
    printf("image %d: class %d (p = %.4f)\n", b, best, probs[b * CLASSES + best]);
  }

  /* a wrong shape is refused with a message, before anything runs */
  tiny_cnn_tensor_t bad = in[0];
  bad.dims[1] = 4;
  if (tiny_cnn_run(model, &bad, out) != TINY_CNN_OK) printf("wrong input refused: %s\n", tiny_cnn_last_error());

  enum { RUNS = 100 };
  double times[RUNS];
  for (int r = 0; r < RUNS; r++) {
    double t0 = now_ms();
    if (tiny_cnn_run(model, in, out) != TINY_CNN_OK) {
      fprintf(stderr, "app: %s\n", tiny_cnn_last_error());
      tiny_cnn_destroy(model);
      return 1;
    }
    times[r] = now_ms() - t0;
  }
  qsort(times, RUNS, sizeof *times, compare_double);
  printf("median_ms: %.4f\nmin_ms: %.4f\n", (times[RUNS / 2 - 1] + times[RUNS / 2]) / 2, times[0]);
  tiny_cnn_destroy(model);
  return 0;
}
