/* Wire-format walk of a ModelProto that moves TensorProto.raw_data out of the message (see onnx_wire.h). */
#include "frontend/onnx_wire.h"

#include <stdbool.h>
#include <string.h>

typedef enum { MSG_MODEL, MSG_GRAPH, MSG_NODE, MSG_ATTRIBUTE, MSG_FUNCTION, MSG_TENSOR, MSG_SPARSE, MSG_OTHER } msg_t;

/* The sub-message fields that can (transitively) contain tensors. */
static msg_t child_type(msg_t parent, uint32_t field) {
  switch (parent) {
    case MSG_MODEL: return field == 7 ? MSG_GRAPH : field == 25 ? MSG_FUNCTION : MSG_OTHER;
    case MSG_GRAPH: return field == 1 ? MSG_NODE : field == 5 ? MSG_TENSOR : field == 15 ? MSG_SPARSE : MSG_OTHER;
    case MSG_NODE: return field == 5 ? MSG_ATTRIBUTE : MSG_OTHER;
    case MSG_ATTRIBUTE:
      return (field == 5 || field == 10) ? MSG_TENSOR : (field == 6 || field == 11) ? MSG_GRAPH
             : (field == 22 || field == 23) ? MSG_SPARSE : MSG_OTHER;
    case MSG_FUNCTION: return field == 7 ? MSG_NODE : field == 11 ? MSG_ATTRIBUTE : MSG_OTHER;
    case MSG_SPARSE: return (field == 1 || field == 2) ? MSG_TENSOR : MSG_OTHER;
    default: return MSG_OTHER;
  }
}

typedef struct {
  const uint8_t *base; /* the original buffer */
  tcc_onnx_slim_t *out;
} walker_t;

static tcc_status_t malformed(const walker_t *w, const uint8_t *at, const char *what) {
  return tcc_status_make(TCC_INVALID_MODEL, "malformed protobuf at byte %zu: %s", (size_t)(at - w->base), what);
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

static bool reserve(tcc_onnx_slim_t *s, size_t extra) {
  if (s->size + extra <= s->capacity) return true;
  size_t cap = s->capacity ? s->capacity : 4096;
  while (cap < s->size + extra) cap *= 2;
  uint8_t *d = s->allocator.realloc(s->allocator.ctx, s->data, cap);
  if (!d) return false;
  s->data = d;
  s->capacity = cap;
  return true;
}

static bool put_bytes(tcc_onnx_slim_t *s, const void *p, size_t n) {
  if (!reserve(s, n)) return false;
  if (n) memcpy(s->data + s->size, p, n);
  s->size += n;
  return true;
}

static bool put_varint(tcc_onnx_slim_t *s, uint64_t v) {
  uint8_t buf[10];
  size_t n = 0;
  do {
    buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return put_bytes(s, buf, n);
}

/* A length prefix written as a fixed 5-byte varint, so it can be patched after the content. */
static void patch_length(tcc_onnx_slim_t *s, size_t at, uint64_t len) {
  for (int i = 0; i < 5; i++) {
    s->data[at + i] = (uint8_t)((len & 0x7f) | (i < 4 ? 0x80 : 0));
    len >>= 7;
  }
}

enum { MAX_DEPTH = 64 };

static tcc_status_t walk(walker_t *w, msg_t type, const uint8_t *p, const uint8_t *end, int depth) {
  tcc_onnx_slim_t *s = w->out;
  if (depth > MAX_DEPTH) return malformed(w, p, "messages nested too deeply");
  while (p < end) {
    const uint8_t *field_start = p;
    uint64_t key;
    if (!read_varint(&p, end, &key)) return malformed(w, field_start, "truncated field key");
    uint32_t field = (uint32_t)(key >> 3), wire = key & 7;
    if (field == 0 || key >> 3 > 0x1fffffff) return malformed(w, field_start, "invalid field number");
    const uint8_t *value = p;
    uint64_t len = 0;
    switch (wire) {
      case 0:
        if (!read_varint(&p, end, &len)) return malformed(w, field_start, "truncated varint");
        break;
      case 1:
        if (end - p < 8) return malformed(w, field_start, "truncated fixed64");
        p += 8;
        break;
      case 5:
        if (end - p < 4) return malformed(w, field_start, "truncated fixed32");
        p += 4;
        break;
      case 2:
        if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
          return malformed(w, field_start, "length-delimited field runs past the end of its message");
        value = p;
        p += len;
        break;
      default: return malformed(w, field_start, "unsupported wire type");
    }
    msg_t child = child_type(type, field);
    if (type == MSG_TENSOR && field == 9) {
      if (wire != 2) return malformed(w, field_start, "raw_data is not length-delimited");
      if (s->num_refs == s->cap_refs) {
        size_t cap = s->cap_refs ? s->cap_refs * 2 : 64;
        tcc_onnx_raw_ref_t *refs = s->allocator.realloc(s->allocator.ctx, s->refs, cap * sizeof *refs);
        if (!refs) return tcc_status_oom();
        s->refs = refs;
        s->cap_refs = cap;
      }
      s->refs[s->num_refs] = (tcc_onnx_raw_ref_t){(size_t)(value - w->base), (size_t)len};
      if (!put_varint(s, (uint64_t)TCC_ONNX_RAW_REF_FIELD << 3) || !put_varint(s, s->num_refs++))
        return tcc_status_oom();
    } else if (type == MSG_TENSOR && field == TCC_ONNX_RAW_REF_FIELD) {
      /* dropped: the model's own field with this number must not pose as a raw-data reference */
    } else if (child != MSG_OTHER) {
      if (wire != 2) return malformed(w, field_start, "sub-message is not length-delimited");
      if (!put_varint(s, key) || !reserve(s, 5)) return tcc_status_oom();
      size_t len_at = s->size;
      s->size += 5;
      TCC_RETURN_IF_ERROR(walk(w, child, value, value + len, depth + 1));
      patch_length(s, len_at, s->size - len_at - 5);
    } else if (!put_bytes(s, field_start, (size_t)(p - field_start))) {
      return tcc_status_oom();
    }
  }
  return NULL;
}

tcc_status_t tcc_onnx_wire_slim(const uint8_t *data, size_t size, tcc_allocator_t allocator, tcc_onnx_slim_t *slim) {
  memset(slim, 0, sizeof *slim);
  slim->allocator = allocator;
  walker_t w = {data, slim};
  tcc_status_t st = walk(&w, MSG_MODEL, data, data + size, 0);
  if (!st && !reserve(slim, 1)) st = tcc_status_oom();
  if (st) tcc_onnx_slim_free(slim);
  return st;
}

void tcc_onnx_slim_free(tcc_onnx_slim_t *slim) {
  tcc_free(slim->allocator, slim->data);
  tcc_free(slim->allocator, slim->refs);
  slim->data = NULL;
  slim->refs = NULL;
}
