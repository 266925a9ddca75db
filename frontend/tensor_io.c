/* Tensor files: TensorProto (.pb) through protobuf-c and the shared converter (onnx_tensor.h), and NumPy
 * .npy with a strict parser of its header (a Python dict literal) that treats every byte as hostile. */
#include "frontend/tensor_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx.pb-c.h"
#include "frontend/onnx_tensor.h"

enum { MAX_RANK = 64 };

static tcc_status_t file_error(const char *fmt, ...) TCC_PRINTF(1, 2);
static tcc_status_t file_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = tcc_status_makev(TCC_INVALID_MODEL, fmt, ap);
  va_end(ap);
  return st;
}

/* ---- NumPy dtypes ---- */

typedef struct {
  tcc_dtype_t dtype;
  char kind; /* NumPy kind: f float, i signed, u unsigned, b bool, c complex */
  int size;  /* bytes per element */
} npy_type_t;

static const npy_type_t npy_types[] = {
    {TCC_DTYPE_F16, 'f', 2},  {TCC_DTYPE_F32, 'f', 4},   {TCC_DTYPE_F64, 'f', 8}, {TCC_DTYPE_I8, 'i', 1},
    {TCC_DTYPE_I16, 'i', 2},  {TCC_DTYPE_I32, 'i', 4},   {TCC_DTYPE_I64, 'i', 8}, {TCC_DTYPE_U8, 'u', 1},
    {TCC_DTYPE_U16, 'u', 2},  {TCC_DTYPE_U32, 'u', 4},   {TCC_DTYPE_U64, 'u', 8}, {TCC_DTYPE_BOOL, 'b', 1},
    {TCC_DTYPE_C64, 'c', 8},  {TCC_DTYPE_C128, 'c', 16},
};

static const npy_type_t *npy_type_of(tcc_dtype_t dt) {
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
    if (npy_types[i].dtype == dt) return &npy_types[i];
  return NULL;
}

/* ---- .npy header parsing ---- */

typedef struct {
  const char *p, *begin, *end;
} cursor_t;

typedef struct {
  const char *s;
  size_t len;
} span_t;

static void skip_space(cursor_t *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* The current character for messages: printable, or its code. */
static const char *shown(const cursor_t *c, char buf[8]) {
  if (c->p >= c->end) return "the end of the header";
  unsigned char ch = (unsigned char)*c->p;
  if (ch >= 0x20 && ch < 0x7f) snprintf(buf, 8, "'%c'", ch);
  else snprintf(buf, 8, "0x%02x", ch);
  return buf;
}

static tcc_status_t syntax_error(const cursor_t *c, const char *expected) {
  char buf[8];
  return file_error(".npy header: expected %s at offset %td, found %s", expected, c->p - c->begin, shown(c, buf));
}

static bool accept(cursor_t *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

/* A quoted Python string without escapes. */
static tcc_status_t parse_string(cursor_t *c, span_t *out, const char *what) {
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return syntax_error(c, what);
  char quote = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != quote) {
    if (*c->p == '\n') break; /* Python strings end on their line */
    if (*c->p == '\\' || (unsigned char)*c->p < 0x20) return syntax_error(c, "a plain string character");
    c->p++;
  }
  if (c->p >= c->end || *c->p != quote) return file_error(".npy header: unterminated string at offset %td", start - 1 - c->begin);
  *out = (span_t){start, (size_t)(c->p - start)};
  c->p++;
  return NULL;
}

static bool accept_word(cursor_t *c, const char *word) {
  skip_space(c);
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return false;
  const char *after = c->p + n;
  if (after < c->end && (*after == '_' || (*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                         (*after >= '0' && *after <= '9')))
    return false;
  c->p = after;
  return true;
}

/* A shape tuple: "()", "(5,)", "(2, 3)", entries non-negative integers (an "L" suffix is tolerated). */
static tcc_status_t parse_shape(cursor_t *c, int *rank, int64_t dims[MAX_RANK]) {
  if (!accept(c, '(')) return syntax_error(c, "'(' opening the shape tuple");
  *rank = 0;
  for (;;) {
    if (accept(c, ')')) return NULL;
    if (*rank == MAX_RANK) return file_error(".npy header: the shape has more than %d dims", MAX_RANK);
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return syntax_error(c, "a non-negative integer in the shape");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      int digit = *c->p++ - '0';
      if (v > (INT64_MAX - digit) / 10) return file_error(".npy header: shape dim %d is too large", *rank);
      v = v * 10 + digit;
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    dims[(*rank)++] = v;
    if (accept(c, ',')) continue;
    if (accept(c, ')')) return *rank == 1 ? file_error(".npy header: the shape '(%" PRId64 ")' is not a tuple "
                                                       "(a 1-D shape is written '(%" PRId64 ",)')", v, v)
                                          : NULL;
    return syntax_error(c, "',' or ')' in the shape");
  }
}

/* Maps a descr such as "<f4" to a dtype; *swap when its elements are big-endian. */
static tcc_status_t parse_descr(span_t d, const npy_type_t **out, bool *swap) {
  char kind = d.len >= 2 ? d.s[1] : 0;
  int size = 0;
  bool digits = d.len >= 3 && d.len <= 4;
  for (size_t i = 2; digits && i < d.len; i++) {
    if (d.s[i] < '0' || d.s[i] > '9') digits = false;
    else size = size * 10 + (d.s[i] - '0');
  }
  char order = d.len ? d.s[0] : 0;
  if (!digits || !order || !strchr("<>|=", order))
    return tcc_status_make(TCC_UNSUPPORTED, ".npy dtype '%.*s' is not a plain numeric dtype (structured, string, "
                           "object and date types are not supported)", (int)(d.len > 32 ? 32 : d.len), d.s);
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
    if (npy_types[i].kind != kind || npy_types[i].size != size) continue;
    if (order == '|' && size > 1) break; /* byte order "not applicable" only fits 1-byte types */
    *out = &npy_types[i];
    *swap = order == '>' && size > 1; /* '=' is native: tcc hosts are little-endian */
    return NULL;
  }
  return tcc_status_make(TCC_UNSUPPORTED, ".npy dtype '%.*s' has no ONNX equivalent tcc reads", (int)(d.len > 32 ? 32 : d.len),
                         d.s);
}

typedef struct {
  const npy_type_t *type;
  bool swap;
  int rank;
  int64_t dims[MAX_RANK];
} npy_header_t;

/* The header dict: exactly the keys 'descr', 'fortran_order' and 'shape', each once, in any order. */
static tcc_status_t parse_header(const char *text, size_t len, npy_header_t *h) {
  cursor_t c = {text, text, text + len};
  bool have_descr = false, have_order = false, have_shape = false;
  span_t descr = {NULL, 0};
  if (!accept(&c, '{')) return syntax_error(&c, "'{' opening the header dict");
  while (!accept(&c, '}')) {
    span_t key;
    TCC_RETURN_IF_ERROR(parse_string(&c, &key, "a quoted key or '}'"));
    if (!accept(&c, ':')) return syntax_error(&c, "':' after a key");
    bool *seen;
    if (key.len == 5 && memcmp(key.s, "descr", 5) == 0) {
      seen = &have_descr;
      skip_space(&c);
      if (c.p < c.end && *c.p == '[')
        return tcc_status_make(TCC_UNSUPPORTED, ".npy structured dtypes (a 'descr' list) are not supported");
      TCC_RETURN_IF_ERROR(parse_string(&c, &descr, "a quoted dtype for 'descr'"));
    } else if (key.len == 13 && memcmp(key.s, "fortran_order", 13) == 0) {
      seen = &have_order;
      if (accept_word(&c, "True"))
        return tcc_status_make(TCC_UNSUPPORTED, ".npy array is in Fortran order; tcc reads C order only "
                               "(save numpy.ascontiguousarray(a))");
      if (!accept_word(&c, "False")) return syntax_error(&c, "True or False for 'fortran_order'");
    } else if (key.len == 5 && memcmp(key.s, "shape", 5) == 0) {
      seen = &have_shape;
      TCC_RETURN_IF_ERROR(parse_shape(&c, &h->rank, h->dims));
    } else {
      return file_error(".npy header has the unexpected key '%.*s' (only 'descr', 'fortran_order', 'shape')",
                        (int)(key.len > 32 ? 32 : key.len), key.s);
    }
    if (*seen) return file_error(".npy header lists '%.*s' twice", (int)key.len, key.s);
    *seen = true;
    if (!accept(&c, ',')) {
      if (accept(&c, '}')) break;
      return syntax_error(&c, "',' or '}' after a value");
    }
  }
  skip_space(&c);
  if (c.p != c.end) return syntax_error(&c, "only padding after the header dict");
  if (!have_descr || !have_order || !have_shape)
    return file_error(".npy header lacks '%s'", !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  return parse_descr(descr, &h->type, &h->swap);
}

static void swap_elements(uint8_t *p, size_t nbytes, size_t size) {
  for (size_t i = 0; i + size <= nbytes; i += size)
    for (size_t a = i, b = i + size - 1; a < b; a++, b--) {
      uint8_t t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

tcc_status_t tcc_tensor_read_npy(tcc_module_t *m, const void *data, size_t size, tcc_tensor_t **out) {
  *out = NULL;
  const uint8_t *b = data;
  if (size < 6 || memcmp(b, "\x93NUMPY", 6) != 0) return file_error("not a .npy file (no \\x93NUMPY magic)");
  if (size < 10) return file_error(".npy file is truncated in its preamble");
  int major = b[6], minor = b[7];
  if (major < 1 || major > 3 || minor != 0)
    return tcc_status_make(TCC_UNSUPPORTED, ".npy format version %d.%d is not supported (1.0, 2.0, 3.0)", major, minor);
  size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) return file_error(".npy file is truncated in its preamble");
  size_t header_len = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                                 : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
  if (header_len > size - prefix)
    return file_error(".npy header length %zu exceeds the file (%zu bytes after the preamble)", header_len, size - prefix);
  npy_header_t h;
  TCC_RETURN_IF_ERROR(parse_header((const char *)b + prefix, header_len, &h));
  int64_t numel = 1;
  for (int i = 0; i < h.rank; i++) {
    if (h.dims[i] && numel > INT64_MAX / h.dims[i]) return file_error(".npy shape has too many elements");
    numel *= h.dims[i];
  }
  int64_t want = tcc_dtype_storage_bytes(h.type->dtype, numel);
  if (want < 0) return file_error(".npy shape has too many elements");
  size_t have = size - prefix - header_len;
  if (have != (uint64_t)want)
    return file_error(".npy data has %zu bytes but %s[%" PRId64 " elements] needs %" PRId64, have,
                      tcc_dtype_name(h.type->dtype), numel, want);
  tcc_tensor_t *t = tcc_tensor_create(m, h.type->dtype, h.rank, h.dims);
  if (!t) return tcc_status_oom();
  uint8_t *dst = (uint8_t *)t->data;
  if (have) memcpy(dst, b + prefix + header_len, have);
  if (h.swap) swap_elements(dst, have, (size_t)(h.type->kind == 'c' ? h.type->size / 2 : h.type->size));
  if (h.type->dtype == TCC_DTYPE_BOOL)
    for (size_t i = 0; i < have; i++) dst[i] = dst[i] != 0;
  *out = t;
  return NULL;
}

/* ---- TensorProto ---- */

tcc_status_t tcc_tensor_read_pb(tcc_module_t *m, const void *data, size_t size, tcc_tensor_t **out,
                                const char **name) {
  *out = NULL;
  if (name) *name = NULL;
  if (size == 0) return file_error("the TensorProto is empty");
  tcc_onnx_pb_allocator_t pc;
  tcc_onnx_pb_allocator_init(&pc, m->allocator);
  ProtobufCAllocator *pba = &pc.pb;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(pba, size, data);
  if (!tp)
    return pc.failed ? tcc_status_oom() : file_error("not a serialized ONNX TensorProto (the protobuf does not parse)");
  tcc_status_t st = NULL;
  if (!tp->has_data_type) st = file_error("the TensorProto has no data_type (is this a tensor file?)");
  tcc_onnx_tensor_source_t src = {m, NULL, NULL, NULL, NULL};
  tcc_tensor_t *t = NULL;
  if (!st) st = tcc_onnx_tensor_convert(&src, tp, &t);
  const char *copy = st || !name ? NULL : tcc_module_strdup(m, tp->name ? tp->name : "");
  if (!st && name && !copy) st = tcc_status_oom();
  onnx__tensor_proto__free_unpacked(tp, pba);
  if (st) return st;
  *out = t;
  if (name) *name = copy;
  return NULL;
}

/* ---- files ---- */

static tcc_status_t read_all(tcc_allocator_t a, const char *path, uint8_t **out, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "cannot open: %s", strerror(errno));
  size_t len = 0, cap = 1 << 16;
  uint8_t *buf = tcc_alloc(a, cap);
  tcc_status_t st = buf ? NULL : tcc_status_oom();
  while (!st) {
    if (len == cap) {
      uint8_t *bigger = cap <= SIZE_MAX / 2 ? a.realloc(a.ctx, buf, cap * 2) : NULL;
      if (!bigger) {
        st = tcc_status_oom();
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) st = tcc_status_make(TCC_IO, "cannot read: %s", strerror(errno));
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (st) {
    tcc_free(a, buf);
    return st;
  }
  *out = buf;
  *size = len;
  return NULL;
}

tcc_status_t tcc_tensor_read_file(tcc_module_t *m, const char *path, tcc_tensor_t **out, const char **name) {
  *out = NULL;
  if (name) *name = NULL;
  uint8_t *data = NULL;
  size_t size = 0;
  tcc_status_t st = read_all(m->allocator, path, &data, &size);
  if (!st && size == 0) st = file_error("the file is empty");
  if (!st && size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0) {
    st = tcc_tensor_read_npy(m, data, size, out);
    if (!st && name && !(*name = tcc_module_strdup(m, ""))) st = tcc_status_oom();
  } else if (!st) {
    st = tcc_tensor_read_pb(m, data, size, out, name);
  }
  tcc_free(m->allocator, data);
  if (st) {
    *out = NULL;
    if (name) *name = NULL;
    return tcc_status_annotate(st, "%s: ", path);
  }
  return NULL;
}

/* ---- writing ---- */

static tcc_status_t check_tensor(const tcc_tensor_t *t) {
  if (!t) return tcc_status_make(TCC_INVALID_ARGUMENT, "no tensor to write");
  if (!tcc_dtype_is_valid((int)t->dtype) || t->dtype == TCC_DTYPE_UNDEFINED)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cannot write a tensor of dtype %d", (int)t->dtype);
  if (t->rank < 0 || t->rank > MAX_RANK || (t->rank > 0 && !t->dims))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cannot write a tensor of rank %d", t->rank);
  int64_t numel = 1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] < 0 || (t->dims[i] && numel > INT64_MAX / t->dims[i]))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "cannot write a tensor with dim %d = %" PRId64, i, t->dims[i]);
    numel *= t->dims[i];
  }
  int64_t want = t->dtype == TCC_DTYPE_STRING ? numel * (int64_t)sizeof(tcc_bytes_t)
                                               : tcc_dtype_storage_bytes(t->dtype, numel);
  if (numel != t->numel || want < 0 || t->nbytes != (uint64_t)want || (want > 0 && !t->data))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "inconsistent %s tensor: %" PRId64 " elements by its dims, numel %"
                           PRId64 ", %zu bytes", tcc_dtype_name(t->dtype), numel, t->numel, t->nbytes);
  return NULL;
}

typedef struct {
  ProtobufCBuffer base;
  FILE *f;
  bool failed;
} file_buffer_t;

static void file_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data) {
  file_buffer_t *fb = (file_buffer_t *)buffer;
  if (!fb->failed && len && fwrite(data, 1, len, fb->f) != len) fb->failed = true;
}

static tcc_status_t open_output(const char *path, FILE **f) {
  *f = fopen(path, "wb");
  return *f ? NULL : tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "cannot create '%s': %s", path,
                                     strerror(errno));
}

/* Closes f; on a write error (failed, or at close) removes the partial file, when it is a regular file
 * (never a device or FIFO the caller named). */
static tcc_status_t close_output(FILE *f, const char *path, bool failed) {
  int saved = failed ? errno : 0;
  struct stat sb;
  bool regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
  if (fclose(f) != 0 && !failed) failed = true, saved = errno;
  if (!failed) return NULL;
  if (regular) unlink(path);
  return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, saved ? strerror(saved) : "write failed");
}

/* A TensorProto view of t (no data copied); *strings (free it) holds the string_data array. */
static tcc_status_t fill_tensor_proto(const tcc_tensor_t *t, const char *name, Onnx__TensorProto *tp, int64_t *dims,
                                      ProtobufCBinaryData **strings) {
  TCC_RETURN_IF_ERROR(check_tensor(t));
  *tp = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
  *strings = NULL;
  if (t->rank) memcpy(dims, t->dims, (size_t)t->rank * sizeof *dims);
  tp->n_dims = (size_t)t->rank;
  tp->dims = dims;
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  tp->name = name ? (char *)name : NULL;
  if (t->dtype == TCC_DTYPE_STRING) {
    const tcc_bytes_t *s = t->data;
    if (t->numel > 0 && !(*strings = calloc((size_t)t->numel, sizeof **strings))) return tcc_status_oom();
    for (int64_t i = 0; i < t->numel; i++) (*strings)[i] = (ProtobufCBinaryData){s[i].size, (uint8_t *)s[i].data};
    tp->n_string_data = (size_t)t->numel;
    tp->string_data = *strings;
  } else {
    tp->has_raw_data = 1;
    tp->raw_data = (ProtobufCBinaryData){t->nbytes, (uint8_t *)t->data};
  }
  return NULL;
}

tcc_status_t tcc_tensor_write_pb(const tcc_tensor_t *t, const char *name, const char *path) {
  Onnx__TensorProto tp;
  int64_t dims[MAX_RANK];
  ProtobufCBinaryData *strings = NULL;
  TCC_RETURN_IF_ERROR(fill_tensor_proto(t, name, &tp, dims, &strings));
  FILE *f;
  tcc_status_t st = open_output(path, &f);
  if (!st) {
    file_buffer_t fb = {{file_append}, f, false};
    onnx__tensor_proto__pack_to_buffer(&tp, &fb.base);
    st = close_output(f, path, fb.failed);
  }
  free(strings);
  return st;
}

tcc_status_t tcc_tensor_write_npy(const tcc_tensor_t *t, const char *path) {
  TCC_RETURN_IF_ERROR(check_tensor(t));
  const npy_type_t *type = npy_type_of(t->dtype);
  if (!type)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "NumPy has no dtype for %s: a .npy cannot hold this tensor (write a "
                           ".pb TensorProto instead)", tcc_dtype_name(t->dtype));
  /* "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", padded with spaces and a final newline
   * so that the data starts at a multiple of 64 bytes. At most 64 dims of 20 digits: under 2 KB. */
  char header[2048];
  int len = snprintf(header + 10, sizeof header - 10, "{'descr': '%c%c%d', 'fortran_order': False, 'shape': (",
                     type->size == 1 ? '|' : '<', type->kind, type->size);
  for (int i = 0; i < t->rank; i++)
    len += snprintf(header + 10 + len, sizeof header - 10 - (size_t)len, "%s%" PRId64, i ? ", " : "", t->dims[i]);
  len += snprintf(header + 10 + len, sizeof header - 10 - (size_t)len, "%s), }", t->rank == 1 ? "," : "");
  size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
  memset(header + 10 + len, ' ', total - 10 - (size_t)len - 1);
  header[total - 1] = '\n';
  memcpy(header, "\x93NUMPY\x01\x00", 8);
  header[8] = (char)((total - 10) & 0xff);
  header[9] = (char)((total - 10) >> 8);
  FILE *f;
  TCC_RETURN_IF_ERROR(open_output(path, &f));
  bool failed = fwrite(header, 1, total, f) != total;
  if (!failed && t->nbytes) failed = fwrite(t->data, 1, t->nbytes, f) != t->nbytes;
  return close_output(f, path, failed);
}

/* ---- sequences and optionals ----
 * SequenceProto and OptionalProto (onnx.proto3 of ONNX 1.10+) are read and written at the wire level:
 *   SequenceProto { string name = 1; int32 elem_type = 2; repeated TensorProto tensor_values = 3;
 *                   repeated SparseTensorProto sparse_tensor_values = 4; repeated SequenceProto
 *                   sequence_values = 5; repeated MapProto map_values = 6; repeated OptionalProto
 *                   optional_values = 7; }
 *   OptionalProto { string name = 1; int32 elem_type = 2; TensorProto tensor_value = 3; (4-7: the same
 *                   kinds as above, one each) }
 * with elem_type UNDEFINED 0, TENSOR 1, SPARSE_TENSOR 2, SEQUENCE 3, MAP 4, OPTIONAL 5. */

enum { ELEM_UNDEFINED = 0, ELEM_TENSOR = 1, ELEM_SPARSE = 2, ELEM_SEQUENCE = 3, ELEM_MAP = 4, ELEM_OPTIONAL = 5 };
enum { MAX_VALUE_DEPTH = 16 };

typedef struct {
  const uint8_t *p, *end;
} wire_t;

static bool wire_varint(wire_t *w, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
    uint8_t b = *w->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* The next field: its number, and its payload (a varint in *v, or bytes in *data / *len). */
static tcc_status_t wire_field(wire_t *w, uint64_t *field, uint64_t *v, const uint8_t **data, size_t *len) {
  uint64_t key = 0;
  *v = 0, *data = NULL, *len = 0, *field = 0;
  if (!wire_varint(w, &key)) return file_error("truncated field key");
  *field = key >> 3;
  switch (key & 7) {
    case 0: return wire_varint(w, v) ? NULL : file_error("truncated varint in field %" PRIu64, *field);
    case 1:
    case 5: {
      size_t n = (key & 7) == 1 ? 8 : 4;
      if ((size_t)(w->end - w->p) < n) return file_error("truncated field %" PRIu64, *field);
      w->p += n;
      return NULL;
    }
    case 2:
      if (!wire_varint(w, v) || *v > (uint64_t)(w->end - w->p))
        return file_error("field %" PRIu64 " runs past the end of its message", *field);
      *data = w->p, *len = (size_t)*v;
      w->p += *len;
      return NULL;
    default: return file_error("field %" PRIu64 " has the unknown wire type %d", *field, (int)(key & 7));
  }
}

/* Where `hint` declares bfloat16, a uint16 tensor is one (the ONNX test suite stores them so). */
static void retag_bf16(tcc_tensor_t *t, const tcc_type_t *hint) {
  if (hint && hint->kind == TCC_TYPE_TENSOR && hint->dtype == TCC_DTYPE_BF16 && t->dtype == TCC_DTYPE_U16)
    t->dtype = TCC_DTYPE_BF16;
}

static const tcc_type_t *elem_hint(const tcc_type_t *hint, tcc_type_kind_t kind) {
  return hint && hint->kind == kind ? hint->elem : NULL;
}

static tcc_status_t read_message(tcc_module_t *m, const uint8_t *data, size_t size, tcc_type_kind_t kind,
                                 const tcc_type_t *hint, int depth, const tcc_eval_value_t **out, const char **name);

/* A value field (3, 5 or 7) of a SequenceProto or OptionalProto. */
static tcc_status_t read_field_value(tcc_module_t *m, uint64_t field, const uint8_t *data, size_t len,
                                     const tcc_type_t *hint, int depth, const tcc_eval_value_t **out) {
  tcc_type_kind_t kind = field == 3 ? TCC_TYPE_TENSOR : field == 5 ? TCC_TYPE_SEQUENCE : TCC_TYPE_OPTIONAL;
  return read_message(m, data, len, kind, hint && hint->kind == kind ? hint : NULL, depth + 1, out, NULL);
}

static tcc_status_t read_message(tcc_module_t *m, const uint8_t *data, size_t size, tcc_type_kind_t kind,
                                 const tcc_type_t *hint, int depth, const tcc_eval_value_t **out, const char **name) {
  *out = NULL;
  if (name) *name = NULL;
  if (depth > MAX_VALUE_DEPTH) return file_error("values nested more than %d deep", MAX_VALUE_DEPTH);
  if (kind == TCC_TYPE_TENSOR) {
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(size ? tcc_tensor_read_pb(m, data, size, &t, name)
                             : file_error("an empty TensorProto inside a sequence or optional"));
    retag_bf16(t, hint);
    return (*out = tcc_eval_value_tensor(m, t)) ? NULL : tcc_status_oom();
  }
  const char *what = kind == TCC_TYPE_SEQUENCE ? "SequenceProto" : "OptionalProto";
  const tcc_type_t *sub = elem_hint(hint, kind);
  const tcc_eval_value_t **items = NULL, *elem = NULL;
  int64_t count = 0, cap = 0;
  span_t text = {"", 0};
  wire_t w = {data, data + size};
  while (w.p < w.end) {
    uint64_t field = 0, v = 0;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    TCC_RETURN_IF_ERROR(tcc_status_annotate(wire_field(&w, &field, &v, &bytes, &len), "%s: ", what));
    if (field == 1 && bytes) {
      text = (span_t){(const char *)bytes, len};
    } else if (field == 4 || field == 6) {
      return tcc_status_make(TCC_UNSUPPORTED, "%s: %s elements are not supported", what,
                             field == 4 ? "sparse tensor" : "map");
    } else if ((field == 3 || field == 5 || field == 7) && bytes) {
      const tcc_eval_value_t *x = NULL;
      TCC_RETURN_IF_ERROR(read_field_value(m, field, bytes, len, sub, depth, &x));
      if (kind == TCC_TYPE_OPTIONAL) {
        elem = x;
        continue;
      }
      if (count == cap) {
        cap = cap ? 2 * cap : 8;
        const tcc_eval_value_t **bigger = tcc_module_alloc(m, (size_t)cap * sizeof *bigger);
        if (!bigger) return tcc_status_oom();
        if (count) memcpy(bigger, items, (size_t)count * sizeof *items);
        items = bigger;
      }
      items[count++] = x;
    } else if (field == 2 && !bytes) { /* elem_type: the fields present tell what the value holds */
    } else if (field >= 1 && field <= 7) {
      return file_error("%s: field %" PRIu64 " has the wrong wire type", what, field);
    }
  }
  *out = kind == TCC_TYPE_SEQUENCE ? tcc_eval_value_sequence(m, count, items) : tcc_eval_value_optional(m, elem);
  if (!*out) return tcc_status_oom();
  if (name && !(*name = tcc_arena_strndup(&m->arena, text.s, text.len))) return tcc_status_oom();
  return NULL;
}

tcc_status_t tcc_tensor_read_value_pb(tcc_module_t *m, const void *data, size_t size, const tcc_type_t *type,
                                      const tcc_eval_value_t **out, const char **name) {
  tcc_type_kind_t kind = type && (type->kind == TCC_TYPE_SEQUENCE || type->kind == TCC_TYPE_OPTIONAL) ? type->kind
                                                                                                   : TCC_TYPE_TENSOR;
  if (kind == TCC_TYPE_TENSOR && size == 0) return file_error("the TensorProto is empty");
  return read_message(m, data, size, kind, type, 0, out, name);
}

tcc_status_t tcc_tensor_read_value_file(tcc_module_t *m, const char *path, const tcc_type_t *type,
                                        const tcc_eval_value_t **out, const char **name) {
  *out = NULL;
  if (name) *name = NULL;
  tcc_status_t st = NULL;
  if (!type || (type->kind != TCC_TYPE_SEQUENCE && type->kind != TCC_TYPE_OPTIONAL)) {
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(tcc_tensor_read_file(m, path, &t, name));
    retag_bf16(t, type);
    return (*out = tcc_eval_value_tensor(m, t)) ? NULL : tcc_status_oom();
  }
  uint8_t *data = NULL;
  size_t size = 0;
  st = read_all(m->allocator, path, &data, &size);
  if (!st) st = tcc_tensor_read_value_pb(m, data, size, type, out, name);
  tcc_free(m->allocator, data);
  if (st) {
    *out = NULL;
    if (name) *name = NULL;
    return tcc_status_annotate(st, "%s: ", path);
  }
  return NULL;
}

/* A growable byte buffer for the writer. */
typedef struct {
  uint8_t *p;
  size_t len, cap;
  bool failed;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t len) {
  if (b->failed || !len) return;
  if (b->cap - b->len < len) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < len) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
}

static void put_varint(bytes_t *b, uint64_t v) {
  uint8_t buf[10];
  size_t n = 0;
  do {
    buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, buf, n);
}

static void put_bytes_field(bytes_t *b, unsigned field, const void *data, size_t len) {
  put_varint(b, (uint64_t)field << 3 | 2);
  put_varint(b, len);
  put(b, data, len);
}

static int elem_type_of(tcc_type_kind_t kind) {
  return kind == TCC_TYPE_TENSOR     ? ELEM_TENSOR
         : kind == TCC_TYPE_SEQUENCE ? ELEM_SEQUENCE
         : kind == TCC_TYPE_OPTIONAL ? ELEM_OPTIONAL
                                     : ELEM_UNDEFINED;
}

/* Appends the message of v (a TensorProto, SequenceProto or OptionalProto) called name to b. */
static tcc_status_t encode_value(bytes_t *b, const tcc_eval_value_t *v, const tcc_type_t *hint, const char *name,
                                 int depth) {
  if (depth > MAX_VALUE_DEPTH) return tcc_status_make(TCC_INVALID_ARGUMENT, "values nested more than %d deep", MAX_VALUE_DEPTH);
  if (v->kind == TCC_TYPE_TENSOR) {
    Onnx__TensorProto tp;
    int64_t dims[MAX_RANK];
    ProtobufCBinaryData *strings = NULL;
    TCC_RETURN_IF_ERROR(fill_tensor_proto(v->tensor, name, &tp, dims, &strings));
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *packed = malloc(n ? n : 1);
    if (packed) put(b, packed, onnx__tensor_proto__pack(&tp, packed));
    free(packed);
    free(strings);
    return packed ? NULL : tcc_status_oom();
  }
  if (v->kind != TCC_TYPE_SEQUENCE && v->kind != TCC_TYPE_OPTIONAL)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cannot write a value of kind %d", (int)v->kind);
  if (name && name[0]) put_bytes_field(b, 1, name, strlen(name));
  const tcc_type_t *sub = elem_hint(hint, v->kind);
  const tcc_eval_value_t *first = v->kind == TCC_TYPE_SEQUENCE ? (v->count ? v->items[0] : NULL) : v->elem;
  /* an empty sequence names its declared element kind (tensors by default); an empty optional UNDEFINED */
  int elem_type = first                          ? elem_type_of(first->kind)
                  : v->kind == TCC_TYPE_OPTIONAL ? ELEM_UNDEFINED
                  : sub && sub->kind != TCC_TYPE_UNKNOWN ? elem_type_of(sub->kind)
                                                         : ELEM_TENSOR;
  put_varint(b, 2 << 3);
  put_varint(b, (uint64_t)elem_type);
  int64_t n = v->kind == TCC_TYPE_SEQUENCE ? v->count : v->elem ? 1 : 0;
  for (int64_t i = 0; i < n; i++) {
    const tcc_eval_value_t *x = v->kind == TCC_TYPE_SEQUENCE ? v->items[i] : v->elem;
    bytes_t inner = {NULL, 0, 0, false};
    tcc_status_t st = encode_value(&inner, x, sub, NULL, depth + 1);
    if (!st && inner.failed) st = tcc_status_oom();
    unsigned field = x->kind == TCC_TYPE_TENSOR ? 3 : x->kind == TCC_TYPE_SEQUENCE ? 5 : 7;
    if (!st) put_bytes_field(b, field, inner.p, inner.len);
    free(inner.p);
    TCC_RETURN_IF_ERROR(st);
  }
  return NULL;
}

tcc_status_t tcc_tensor_write_value_pb(const tcc_eval_value_t *v, const tcc_type_t *type, const char *name,
                                       const char *path) {
  if (!v) return tcc_status_make(TCC_INVALID_ARGUMENT, "no value to write");
  if (v->kind == TCC_TYPE_TENSOR) return tcc_tensor_write_pb(v->tensor, name, path);
  bytes_t b = {NULL, 0, 0, false};
  tcc_status_t st = encode_value(&b, v, type, name, 0);
  if (!st && b.failed) st = tcc_status_oom();
  FILE *f = NULL;
  if (!st && !(st = open_output(path, &f))) {
    bool failed = b.len && fwrite(b.p, 1, b.len, f) != b.len;
    st = close_output(f, path, failed);
  }
  free(b.p);
  return st;
}
