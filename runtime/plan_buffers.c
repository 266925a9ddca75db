/* Run-time memory planning for modules whose buffer sizes depend on symbols: greedy by size, best fit
 * (contract in tcc/runtime.h, tcc_rt_plan_buffers). Buffers are placed largest first; each goes into the
 * smallest gap, among the already placed buffers whose lifetimes intersect its own, that holds it, or
 * above the highest of them. */
#include <stdlib.h>

#include "tcc/runtime.h"

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) & ~(a - 1); }

int tcc_rt_plan_buffers(int n, const int64_t *sizes, const int32_t *first, const int32_t *last, int64_t alignment,
                        int64_t *offsets, int64_t *arena_bytes) {
  *arena_bytes = 0;
  if (n <= 0) return 0;
  if (alignment <= 0 || (alignment & (alignment - 1))) return -1;
  int *order = malloc((size_t)n * 2 * sizeof *order);
  if (!order) return -1;
  int *placed = order + n, num_placed = 0;
  for (int i = 0; i < n; i++) {
    if (sizes[i] < 0 || sizes[i] > INT64_MAX / 4) {
      free(order);
      return -1;
    }
    order[i] = i;
  }
  /* largest first (insertion sort keeps equal sizes in program order: stable plans) */
  for (int i = 1; i < n; i++) {
    int b = order[i], j = i;
    for (; j > 0 && sizes[order[j - 1]] < sizes[b]; j--) order[j] = order[j - 1];
    order[j] = b;
  }
  int64_t top = 0;
  for (int k = 0; k < n; k++) {
    int b = order[k];
    int64_t size = align_up(sizes[b], alignment), best = -1, best_gap = INT64_MAX, cursor = 0;
    /* placed buffers are kept sorted by offset: walk the gaps between those that overlap b in time */
    for (int p = 0; p < num_placed; p++) {
      int o = placed[p];
      if (first[o] > last[b] || first[b] > last[o]) continue;
      int64_t gap = offsets[o] - cursor;
      if (gap >= size && gap < best_gap) best = cursor, best_gap = gap;
      int64_t end = align_up(offsets[o] + sizes[o], alignment);
      if (end > cursor) cursor = end;
    }
    offsets[b] = best >= 0 ? best : cursor;
    if (offsets[b] + size > top) top = offsets[b] + size;
    int p = num_placed++;
    for (; p > 0 && offsets[placed[p - 1]] > offsets[b]; p--) placed[p] = placed[p - 1];
    placed[p] = b;
  }
  free(order);
  *arena_bytes = top;
  return 0;
}
