/* Tensor files (frontend/tensor_io.h): .pb and .npy round trips for every dtype each format holds (rank 0
 * and empty tensors included), typed-field TensorProtos, .npy files written byte by byte (versions 1-3,
 * big-endian, the header variants NumPy produces), real test_data_set files from ../shared when present,
 * and must-fail inputs: truncations, mutated headers, wrong lengths, external data, allocation failure.
 * Value files: SequenceProto / OptionalProto round trips (nested, empty), ONNX's own bytes for an optional
 * sequence, bfloat16 stored as uint16, and malformed or unsupported value messages. */
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx.pb-c.h"
#include "frontend/tensor_io.h"
#include "tests/test.h"

/* ---- helpers ---- */

static char temp_dir[200];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static const char *tmp_path(const char *name) {
  static char path[8][512];
  static int k;
  if (!temp_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/tcc_tensor_io_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(temp_dir)) {
      perror("mkdtemp");
      exit(1);
    }
  }
  char *p = path[k++ % 8];
  snprintf(p, 512, "%s/%s", temp_dir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* The whole file at path (malloc'd), or NULL. */
static uint8_t *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  *size = buf && fread(buf, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
  fclose(f);
  return buf;
}

static tcc_module_t *new_module(void) {
  tcc_module_t *m = NULL;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  return m;
}

#define EXPECT_ERROR(expr, code, substring) expect_error((expr), (code), (substring), #expr, __LINE__)

static void expect_error(tcc_status_t st, tcc_status_code_t code, const char *substring, const char *what, int line) {
  if (!st) {
    fprintf(stderr, "%s:%d: %s succeeded; expected %s containing \"%s\"\n", __FILE__, line, what,
            tcc_status_code_name(code), substring);
    test_current_failed_ = 1;
    return;
  }
  const char *msg = tcc_status_message(st);
  if (tcc_status_code(st) != code || !strstr(msg, substring)) {
    fprintf(stderr, "%s:%d: got %s \"%s\"; expected %s containing \"%s\"\n", __FILE__, line,
            tcc_status_code_name(tcc_status_code(st)), msg, tcc_status_code_name(code), substring);
    test_current_failed_ = 1;
  }
  tcc_status_free(st);
}

/* A tensor of dtype and shape whose bytes follow a pattern (bools 0/1, strings of varied lengths). */
static tcc_tensor_t *pattern_tensor(tcc_module_t *m, tcc_dtype_t dt, int rank, const int64_t *dims, int seed) {
  tcc_tensor_t *t = tcc_tensor_create(m, dt, rank, dims);
  if (!t) return NULL;
  if (dt == TCC_DTYPE_STRING) {
    tcc_bytes_t *s = (tcc_bytes_t *)t->data;
    for (int64_t i = 0; i < t->numel; i++) {
      char buf[32];
      int n = snprintf(buf, sizeof buf, "%.*s#%d", (int)(i % 5), "abcde", (int)i + seed);
      if (i == 1) n = 0; /* an empty string */
      s[i] = (tcc_bytes_t){tcc_module_strdup(m, buf), (size_t)n};
    }
    return t;
  }
  uint8_t *b = (uint8_t *)t->data;
  for (size_t i = 0; i < t->nbytes; i++) b[i] = dt == TCC_DTYPE_BOOL ? (uint8_t)((i + (size_t)seed) % 2)
                                                                       : (uint8_t)(i * 37 + (size_t)seed * 11 + 5);
  return t;
}

static bool same_tensor(const tcc_tensor_t *a, const tcc_tensor_t *b) {
  if (!a || !b || a->dtype != b->dtype || a->rank != b->rank || a->numel != b->numel || a->nbytes != b->nbytes)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  if (a->dtype == TCC_DTYPE_STRING) {
    const tcc_bytes_t *x = a->data, *y = b->data;
    for (int64_t i = 0; i < a->numel; i++)
      if (x[i].size != y[i].size || (x[i].size && memcmp(x[i].data, y[i].data, x[i].size) != 0)) return false;
    return true;
  }
  return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* A .npy image: preamble for `version`, the header text padded to 64 bytes with spaces and '\n' (pad =
 * false: the header exactly as given), then data. Returns a malloc'd buffer. */
static uint8_t *npy_bytes(int version, const char *header, bool pad, const void *data, size_t data_size,
                          size_t *size) {
  size_t prefix = version == 1 ? 10 : 12, hlen = strlen(header);
  size_t total = pad ? (prefix + hlen + 1 + 63) / 64 * 64 - prefix : hlen;
  uint8_t *b = malloc(prefix + total + data_size + 1);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (uint8_t)version;
  b[7] = 0;
  for (size_t i = 0; i < prefix - 8; i++) b[8 + i] = (uint8_t)(total >> (8 * i));
  memcpy(b + prefix, header, hlen);
  if (pad) {
    memset(b + prefix + hlen, ' ', total - hlen);
    b[prefix + total - 1] = '\n';
  }
  if (data_size) memcpy(b + prefix + total, data, data_size);
  *size = prefix + total + data_size;
  return b;
}

/* Reads a .npy image; returns the status (the tensor, when read, in *out). */
static tcc_status_t read_npy_image(tcc_module_t *m, const uint8_t *b, size_t size, tcc_tensor_t **out) {
  tcc_tensor_t *t = NULL;
  tcc_status_t st = tcc_tensor_read_npy(m, b, size, &t);
  if (out) *out = t;
  return st;
}

/* Expects the header (padded, version 1) with data to fail with code and substring. */
#define EXPECT_NPY_ERROR(header, data, size, code, substring)                                  \
  do {                                                                                         \
    size_t n_;                                                                                 \
    uint8_t *b_ = npy_bytes(1, (header), true, (data), (size), &n_);                           \
    tcc_module_t *m_ = new_module();                                                           \
    expect_error(read_npy_image(m_, b_, n_, NULL), (code), (substring), header, __LINE__);     \
    tcc_module_destroy(m_);                                                                    \
    free(b_);                                                                                  \
  } while (0)

/* ---- round trips ---- */

TEST(pb_round_trip_every_dtype) {
  static const int64_t shapes[][3] = {{2, 3, 0}, {7, 0, 0}, {0, 3, 0}, {0, 0, 0}};
  static const int ranks[] = {2, 1, 2, 0}; /* [2,3], [7] (odd: a half-filled 4-bit byte), [0,3], rank 0 */
  for (int code = 1; code < TCC_DTYPE_COUNT; code++) {
    for (int s = 0; s < 4; s++) {
      tcc_module_t *m = new_module();
      tcc_tensor_t *t = pattern_tensor(m, (tcc_dtype_t)code, ranks[s], shapes[s], code);
      CHECK(t != NULL);
      char name[64];
      snprintf(name, sizeof name, "t_%s_%d", tcc_dtype_name((tcc_dtype_t)code), s);
      const char *path = tmp_path("t.pb");
      CHECK_OK(tcc_tensor_write_pb(t, name, path));
      tcc_tensor_t *back = NULL;
      const char *got_name = NULL;
      CHECK_OK(tcc_tensor_read_file(m, path, &back, &got_name));
      if (!same_tensor(t, back)) {
        fprintf(stderr, "pb round trip of %s shape %d differs\n", tcc_dtype_name((tcc_dtype_t)code), s);
        test_current_failed_ = 1;
      }
      CHECK_STR(got_name, name);
      tcc_module_destroy(m);
    }
  }
  /* Unnamed. */
  tcc_module_t *m = new_module();
  tcc_tensor_t *t = pattern_tensor(m, TCC_DTYPE_F32, 0, NULL, 1), *back = NULL;
  const char *name = NULL;
  CHECK_OK(tcc_tensor_write_pb(t, NULL, tmp_path("unnamed.pb")));
  CHECK_OK(tcc_tensor_read_file(m, tmp_path("unnamed.pb"), &back, &name));
  CHECK(same_tensor(t, back));
  CHECK_STR(name, "");
  tcc_module_destroy(m);
}

TEST(npy_round_trip_numpy_dtypes) {
  static const tcc_dtype_t dtypes[] = {TCC_DTYPE_F16, TCC_DTYPE_F32, TCC_DTYPE_F64, TCC_DTYPE_I8,  TCC_DTYPE_U8,
                                       TCC_DTYPE_I16, TCC_DTYPE_U16, TCC_DTYPE_I32, TCC_DTYPE_U32, TCC_DTYPE_I64,
                                       TCC_DTYPE_U64, TCC_DTYPE_BOOL, TCC_DTYPE_C64, TCC_DTYPE_C128};
  static const char *descrs[] = {"'<f2'", "'<f4'", "'<f8'", "'|i1'", "'|u1'", "'<i2'", "'<u2'",
                                 "'<i4'", "'<u4'", "'<i8'", "'<u8'", "'|b1'", "'<c8'", "'<c16'"};
  static const int64_t shapes[][3] = {{2, 3, 4}, {5, 0, 0}, {0, 0, 0}, {3, 0, 2}, {0, 0, 0}};
  static const int ranks[] = {3, 1, 1, 3, 0};
  static const char *shape_text[] = {"(2, 3, 4)", "(5,)", "(0,)", "(3, 0, 2)", "()"};
  for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
    for (int s = 0; s < 5; s++) {
      tcc_module_t *m = new_module();
      tcc_tensor_t *t = pattern_tensor(m, dtypes[d], ranks[s], shapes[s], (int)d), *back = NULL;
      const char *path = tmp_path("t.npy"), *name = NULL;
      CHECK_OK(tcc_tensor_write_npy(t, path));
      size_t size = 0;
      uint8_t *bytes = slurp(path, &size);
      /* The layout NumPy writes: version 1.0, data 64-byte aligned, the header NumPy's own format. */
      CHECK(bytes && size >= 64 && memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0);
      size_t hlen = bytes ? (size_t)bytes[8] | (size_t)bytes[9] << 8 : 0;
      CHECK((10 + hlen) % 64 == 0 && size == 10 + hlen + t->nbytes && bytes[9 + hlen] == '\n');
      char expect[160];
      snprintf(expect, sizeof expect, "{'descr': %s, 'fortran_order': False, 'shape': %s, }", descrs[d], shape_text[s]);
      CHECK(bytes && hlen >= strlen(expect) && memcmp(bytes + 10, expect, strlen(expect)) == 0);
      free(bytes);
      CHECK_OK(tcc_tensor_read_file(m, path, &back, &name));
      CHECK(same_tensor(t, back));
      CHECK_STR(name, "");
      tcc_module_destroy(m);
    }
  }
}

TEST(npy_refuses_dtypes_numpy_lacks) {
  static const tcc_dtype_t dtypes[] = {TCC_DTYPE_BF16, TCC_DTYPE_F8E4M3FN, TCC_DTYPE_F8E5M2FNUZ, TCC_DTYPE_I4,
                                       TCC_DTYPE_U4, TCC_DTYPE_F4E2M1, TCC_DTYPE_F8E8M0, TCC_DTYPE_STRING};
  int64_t dims[1] = {4};
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
    tcc_module_t *m = new_module();
    tcc_tensor_t *t = pattern_tensor(m, dtypes[i], 1, dims, 0);
    EXPECT_ERROR(tcc_tensor_write_npy(t, tmp_path("no.npy")), TCC_INVALID_ARGUMENT, tcc_dtype_name(dtypes[i]));
    CHECK(access(tmp_path("no.npy"), F_OK) != 0);
    tcc_module_destroy(m);
  }
}

/* ---- .npy files as NumPy writes them, by hand ---- */

TEST(npy_by_hand) {
  const int64_t vals[4] = {1, -2, 3, INT64_MAX};
  const char *headers[] = {
      "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
      "{\"shape\": (2,2), \"fortran_order\": False, \"descr\": \"<i8\"}", /* any key order, double quotes */
      "{'descr':'<i8','fortran_order':False,'shape':(2L, 2L)}",         /* Python 2 longs */
      "{'descr': '=i8', 'fortran_order': False, 'shape': (4,), }",
  };
  for (int version = 1; version <= 3; version++) {
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
      size_t size;
      uint8_t *b = npy_bytes(version, headers[h], true, vals, sizeof vals, &size);
      tcc_module_t *m = new_module();
      tcc_tensor_t *t = NULL;
      CHECK_OK(read_npy_image(m, b, size, &t));
      CHECK(t && t->dtype == TCC_DTYPE_I64 && t->numel == 4 && t->rank == (h == 3 ? 1 : 2));
      for (int i = 0; t && i < 4; i++) CHECK(tcc_tensor_get_int(t, i) == vals[i]);
      tcc_module_destroy(m);
      free(b);
    }
  }
  /* Unpadded header, big-endian floats and complex, bools that are not 0/1. */
  size_t size;
  const uint8_t be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x00, 0, 0}; /* 1.0f, -2.0f big-endian */
  uint8_t *b = npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", false, be, 8, &size);
  tcc_module_t *m = new_module();
  tcc_tensor_t *t = NULL;
  CHECK_OK(read_npy_image(m, b, size, &t));
  CHECK(t && t->dtype == TCC_DTYPE_F32 && tcc_tensor_get_float(t, 0) == 1.0 && tcc_tensor_get_float(t, 1) == -2.0);
  free(b);
  b = npy_bytes(2, "{'descr': '>c8', 'fortran_order': False, 'shape': ()}", true, be, 8, &size);
  CHECK_OK(read_npy_image(m, b, size, &t));
  float re_im[2] = {0, 0};
  if (t) memcpy(re_im, t->data, 8);
  CHECK(t && t->dtype == TCC_DTYPE_C64 && t->rank == 0 && re_im[0] == 1.0f && re_im[1] == -2.0f);
  free(b);
  const uint8_t bools[3] = {0, 1, 7};
  b = npy_bytes(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", true, bools, 3, &size);
  CHECK_OK(read_npy_image(m, b, size, &t));
  CHECK(t && t->dtype == TCC_DTYPE_BOOL && ((const uint8_t *)t->data)[2] == 1 && ((const uint8_t *)t->data)[1] == 1);
  free(b);
  tcc_module_destroy(m);
}

TEST(npy_malformed) {
  const float f[4] = {1, 2, 3, 4};
  tcc_module_t *m = new_module();
  /* Preamble. */
  EXPECT_ERROR(read_npy_image(m, (const uint8_t *)"\x93NUMPZ\x01\x00\x00\x00", 10, NULL), TCC_INVALID_MODEL, "magic");
  EXPECT_ERROR(read_npy_image(m, (const uint8_t *)"", 0, NULL), TCC_INVALID_MODEL, "magic");
  EXPECT_ERROR(read_npy_image(m, (const uint8_t *)"\x93NUMPY\x01", 7, NULL), TCC_INVALID_MODEL, "truncated");
  EXPECT_ERROR(read_npy_image(m, (const uint8_t *)"\x93NUMPY\x02\x00\x10\x00", 10, NULL), TCC_INVALID_MODEL, "truncated");
  size_t size;
  uint8_t *b = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", true, f, 16, &size);
  b[6] = 4;
  EXPECT_ERROR(read_npy_image(m, b, size, NULL), TCC_UNSUPPORTED, "version 4.0");
  b[6] = 1, b[7] = 1;
  EXPECT_ERROR(read_npy_image(m, b, size, NULL), TCC_UNSUPPORTED, "version 1.1");
  b[7] = 0, b[8] = 0xff, b[9] = 0xff;
  EXPECT_ERROR(read_npy_image(m, b, size, NULL), TCC_INVALID_MODEL, "header length 65535 exceeds");
  free(b);
  b = npy_bytes(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", true, f, 16, &size);
  b[11] = 0x80; /* 2 GB header */
  EXPECT_ERROR(read_npy_image(m, b, size, NULL), TCC_INVALID_MODEL, "exceeds");
  free(b);
  tcc_module_destroy(m);

  /* The header dict. */
  EXPECT_NPY_ERROR("", f, 16, TCC_INVALID_MODEL, "expected '{'");
  EXPECT_NPY_ERROR("['descr', '<f4']", f, 16, TCC_INVALID_MODEL, "expected '{' opening the header dict at offset 0");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}", f, 16, TCC_INVALID_MODEL,
                   "unexpected key 'extra'");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f, 16,
                   TCC_INVALID_MODEL, "'descr' twice");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False}", f, 16, TCC_INVALID_MODEL, "lacks 'shape'");
  EXPECT_NPY_ERROR("{'shape': (4,), 'fortran_order': False}", f, 16, TCC_INVALID_MODEL, "lacks 'descr'");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'shape': (4,)}", f, 16, TCC_INVALID_MODEL, "lacks 'fortran_order'");
  EXPECT_NPY_ERROR("{}", f, 16, TCC_INVALID_MODEL, "lacks");
  EXPECT_NPY_ERROR("{'descr' '<f4'}", f, 16, TCC_INVALID_MODEL, "expected ':'");
  EXPECT_NPY_ERROR("{'descr': '<f4' 'fortran_order': False}", f, 16, TCC_INVALID_MODEL, "expected ',' or '}'");
  EXPECT_NPY_ERROR("{'descr: '<f4', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_INVALID_MODEL, "expected ':'");
  EXPECT_NPY_ERROR("{'descr': '<f4", f, 16, TCC_INVALID_MODEL, "unterminated string");
  EXPECT_NPY_ERROR("{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_INVALID_MODEL,
                   "plain string character");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", f, 16, TCC_INVALID_MODEL,
                   "found the end of the header");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x", f, 16, TCC_INVALID_MODEL,
                   "only padding after the header dict");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,)}", f, 16, TCC_INVALID_MODEL,
                   "True or False");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}", f, 16, TCC_INVALID_MODEL, "True or False");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", f, 16, TCC_UNSUPPORTED, "Fortran order");
  EXPECT_NPY_ERROR("{'descr': 4, 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_INVALID_MODEL, "quoted dtype");
  {
    size_t n;
    uint8_t *nul = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", true, f, 16, &n);
    nul[10 + 3] = 0; /* a NUL inside the key */
    tcc_module_t *mm = new_module();
    EXPECT_ERROR(read_npy_image(mm, nul, n, NULL), TCC_INVALID_MODEL, "found 0x00");
    tcc_module_destroy(mm);
    free(nul);
  }

  /* Shapes. */
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}", f, 16, TCC_INVALID_MODEL, "not a tuple");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': 4}", f, 16, TCC_INVALID_MODEL, "'('");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", f, 16, TCC_INVALID_MODEL,
                   "non-negative integer");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,2)}", f, 16, TCC_INVALID_MODEL,
                   "non-negative integer");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}", f, 16, TCC_INVALID_MODEL, "',' or ')'");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", f, 16,
                   TCC_INVALID_MODEL, "too large");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", f, 16,
                   TCC_INVALID_MODEL, "too many elements");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (3037000499, 3037000499)}", f, 16,
                   TCC_INVALID_MODEL, "too many elements");
  {
    char h[512];
    int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 65; i++) n += snprintf(h + n, sizeof h - (size_t)n, "1, ");
    snprintf(h + n, sizeof h - (size_t)n, ")}");
    EXPECT_NPY_ERROR(h, f, 4, TCC_INVALID_MODEL, "more than 64 dims");
  }

  /* Dtypes. */
  EXPECT_NPY_ERROR("{'descr': '<U5', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "'<U5'");
  EXPECT_NPY_ERROR("{'descr': '|O', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "'|O'");
  EXPECT_NPY_ERROR("{'descr': '<f3', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "'<f3'");
  EXPECT_NPY_ERROR("{'descr': '|f4', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "'|f4'");
  EXPECT_NPY_ERROR("{'descr': '', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "''");
  EXPECT_NPY_ERROR("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED, "M8");
  EXPECT_NPY_ERROR("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (4,)}", f, 16, TCC_UNSUPPORTED,
                   "structured");

  /* Data length. */
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f, 15, TCC_INVALID_MODEL,
                   "data has 15 bytes but f32[4 elements] needs 16");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", f, 16, TCC_INVALID_MODEL,
                   "data has 16 bytes but f32[3 elements] needs 12");
  EXPECT_NPY_ERROR("{'descr': '<f4', 'fortran_order': False, 'shape': (0,)}", f, 4, TCC_INVALID_MODEL, "needs 0");
}

/* Every truncation and every single-byte change of a valid file must give a tensor or a status. */
TEST(npy_and_pb_mutations_never_crash) {
  tcc_module_t *m = new_module();
  int64_t dims[2] = {2, 3};
  tcc_tensor_t *t = pattern_tensor(m, TCC_DTYPE_I16, 2, dims, 3);
  const char *npy = tmp_path("m.npy"), *pb = tmp_path("m.pb");
  CHECK_OK(tcc_tensor_write_npy(t, npy));
  CHECK_OK(tcc_tensor_write_pb(t, "mutant", pb));
  for (int file = 0; file < 2; file++) {
    size_t size = 0;
    uint8_t *orig = slurp(file ? pb : npy, &size);
    uint8_t *b = malloc(size);
    for (size_t cut = 0; orig && cut < size; cut++) {
      tcc_module_t *mm = new_module();
      tcc_tensor_t *out = NULL;
      tcc_status_t st = file ? tcc_tensor_read_pb(mm, orig, cut, &out, NULL) : tcc_tensor_read_npy(mm, orig, cut, &out);
      CHECK(st != NULL || file); /* a truncated .npy never reads; a cut protobuf sometimes parses */
      CHECK((st == NULL) == (out != NULL));
      tcc_status_free(st);
      tcc_module_destroy(mm);
    }
    static const uint8_t values[] = {0, 1, 2, 0x7f, 0x80, 0xff, ' ', '\'', '"', '(', ')', ',', ':', '{', '}', '0', '9', 'L', 'T'};
    for (size_t pos = 0; orig && pos < (file ? size : 10 + 118u); pos++) {
      for (size_t v = 0; v < sizeof values; v++) {
        memcpy(b, orig, size);
        b[pos] = values[v];
        tcc_module_t *mm = new_module();
        tcc_tensor_t *out = NULL;
        tcc_status_t st = file ? tcc_tensor_read_pb(mm, b, size, &out, NULL) : tcc_tensor_read_npy(mm, b, size, &out);
        CHECK((st == NULL) == (out != NULL));
        tcc_status_free(st);
        tcc_module_destroy(mm);
      }
    }
    free(b);
    free(orig);
  }
  tcc_module_destroy(m);
}

/* ---- TensorProtos built with protobuf-c ---- */

static uint8_t *pack(const Onnx__TensorProto *tp, size_t *size) {
  *size = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *b = malloc(*size ? *size : 1);
  onnx__tensor_proto__pack(tp, b);
  return b;
}

static tcc_status_t read_proto(tcc_module_t *m, const Onnx__TensorProto *tp, tcc_tensor_t **out) {
  size_t size;
  uint8_t *b = pack(tp, &size);
  tcc_status_t st = tcc_tensor_read_pb(m, b, size, out, NULL);
  free(b);
  return st;
}

TEST(pb_typed_fields) {
  tcc_module_t *m = new_module();
  tcc_tensor_t *t = NULL;
  int64_t dims[2] = {2, 2};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  tp.n_dims = 2, tp.dims = dims, tp.has_data_type = 1;

  float fl[4] = {1.5f, -2, 0, 1e30f};
  tp.data_type = TCC_DTYPE_F32, tp.n_float_data = 4, tp.float_data = fl;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->dtype == TCC_DTYPE_F32 && tcc_tensor_get_float(t, 0) == 1.5 && tcc_tensor_get_float(t, 3) == (double)1e30f);
  tp.n_float_data = 0, tp.float_data = NULL;

  int32_t halves[4] = {0x3c00, 0xc000, 0, 0x7bff}; /* f16 in int32_data: 1, -2, 0, 65504 */
  tp.data_type = TCC_DTYPE_F16, tp.n_int32_data = 4, tp.int32_data = halves;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->nbytes == 8 && tcc_tensor_get_float(t, 1) == -2.0 && tcc_tensor_get_float(t, 3) == 65504.0);
  tp.data_type = TCC_DTYPE_BF16, halves[0] = 0x3f80; /* bf16 1.0 */
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->dtype == TCC_DTYPE_BF16 && tcc_tensor_get_float(t, 0) == 1.0);
  int32_t packed[2] = {0x21, 0xf7}; /* int4 [1, 2, 7, -1] */
  tp.data_type = TCC_DTYPE_I4, tp.n_int32_data = 2, tp.int32_data = packed;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->nbytes == 2 && tcc_tensor_get_int(t, 0) == 1 && tcc_tensor_get_int(t, 2) == 7 && tcc_tensor_get_int(t, 3) == -1);
  int32_t bools[4] = {1, 0, 1, 1};
  tp.data_type = TCC_DTYPE_BOOL, tp.n_int32_data = 4, tp.int32_data = bools;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->nbytes == 4 && tcc_tensor_get_int(t, 1) == 0 && tcc_tensor_get_int(t, 2) == 1);
  tp.n_int32_data = 0, tp.int32_data = NULL;

  int64_t longs[4] = {INT64_MIN, -1, 0, INT64_MAX};
  tp.data_type = TCC_DTYPE_I64, tp.n_int64_data = 4, tp.int64_data = longs;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && tcc_tensor_get_int(t, 0) == INT64_MIN && tcc_tensor_get_int(t, 3) == INT64_MAX);
  tp.n_int64_data = 3; /* too few values */
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_INVALID_MODEL, "has 3 values for 4 elements of i64");
  tp.n_int64_data = 0, tp.int64_data = NULL;

  uint64_t ulongs[4] = {UINT32_MAX, 0, 1, 2};
  tp.data_type = TCC_DTYPE_U32, tp.n_uint64_data = 4, tp.uint64_data = ulongs;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->nbytes == 16 && tcc_tensor_get_int(t, 0) == UINT32_MAX);
  tp.n_uint64_data = 0, tp.uint64_data = NULL;

  double dbl[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  tp.data_type = TCC_DTYPE_C128, tp.n_double_data = 8, tp.double_data = dbl;
  CHECK_OK(read_proto(m, &tp, &t));
  CHECK(t && t->nbytes == 64 && memcmp(t->data, dbl, 64) == 0);
  tp.n_double_data = 0, tp.double_data = NULL;

  ProtobufCBinaryData strs[4] = {{1, (uint8_t *)"a"}, {0, NULL}, {3, (uint8_t *)"b\0c"}, {2, (uint8_t *)"de"}};
  tp.data_type = TCC_DTYPE_STRING, tp.n_string_data = 4, tp.string_data = strs;
  CHECK_OK(read_proto(m, &tp, &t));
  const tcc_bytes_t *s = t ? t->data : NULL;
  CHECK(s && s[0].size == 1 && s[1].size == 0 && s[2].size == 3 && memcmp(s[2].data, "b\0c", 3) == 0);
  /* A string tensor round trips through a file with the bytes intact (an embedded NUL included). */
  CHECK_OK(tcc_tensor_write_pb(t, "s", tmp_path("s.pb")));
  tcc_tensor_t *back = NULL;
  CHECK_OK(tcc_tensor_read_file(m, tmp_path("s.pb"), &back, NULL));
  CHECK(same_tensor(t, back));
  tp.n_string_data = 0, tp.string_data = NULL;
  tcc_module_destroy(m);
}

TEST(pb_malformed) {
  tcc_module_t *m = new_module();
  tcc_tensor_t *t = NULL;
  const char *name = NULL;
  int64_t dims[1] = {4};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  tp.n_dims = 1, tp.dims = dims, tp.has_data_type = 1, tp.data_type = TCC_DTYPE_F32;
  uint8_t raw[16] = {0};
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){12, raw};
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_INVALID_MODEL, "data has 12 bytes but f32[4 elements] needs 16");
  tp.raw_data.len = 16;
  tp.data_type = 99;
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_UNSUPPORTED, "unknown data type 99");
  tp.data_type = TCC_DTYPE_F32;
  dims[0] = -4;
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_INVALID_MODEL, "negative dim -4");
  dims[0] = 4;
  tp.has_data_type = 0;
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_INVALID_MODEL, "no data_type");
  tp.has_data_type = 1;

  /* External data is refused for a standalone tensor, with no file access. */
  Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *entries[1] = {&loc};
  loc.key = "location", loc.value = "weights.bin";
  tp.has_raw_data = 0, tp.has_data_location = 1, tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  tp.n_external_data = 1, tp.external_data = entries;
  EXPECT_ERROR(read_proto(m, &tp, &t), TCC_UNSUPPORTED, "keeps its data in the external file 'weights.bin'");

  /* Not protobuf, cut mid-field, empty, a missing file, a directory. */
  EXPECT_ERROR(tcc_tensor_read_pb(m, "\xff\xff\xff\xff", 4, &t, &name), TCC_INVALID_MODEL, "does not parse");
  CHECK(t == NULL && name == NULL);
  tp.has_data_location = 0, tp.n_external_data = 0, tp.has_raw_data = 1;
  size_t size;
  uint8_t *b = pack(&tp, &size);
  EXPECT_ERROR(tcc_tensor_read_pb(m, b, size - 3, &t, &name), TCC_INVALID_MODEL, "does not parse");
  write_bytes(tmp_path("cut.pb"), b, size - 3);
  EXPECT_ERROR(tcc_tensor_read_file(m, tmp_path("cut.pb"), &t, &name), TCC_INVALID_MODEL, "cut.pb: not a serialized");
  free(b);
  write_bytes(tmp_path("empty.pb"), "", 0);
  EXPECT_ERROR(tcc_tensor_read_file(m, tmp_path("empty.pb"), &t, &name), TCC_INVALID_MODEL, "empty.pb: the file is empty");
  EXPECT_ERROR(tcc_tensor_read_file(m, tmp_path("missing.pb"), &t, &name), TCC_NOT_FOUND, "missing.pb: cannot open");
  EXPECT_ERROR(tcc_tensor_read_file(m, temp_dir, &t, &name), TCC_IO, "cannot read");
  write_bytes(tmp_path("bad.npy"), "\x93NUMPY\x01\x00\x02\x00{}", 12);
  EXPECT_ERROR(tcc_tensor_read_file(m, tmp_path("bad.npy"), &t, &name), TCC_INVALID_MODEL, "bad.npy: .npy header lacks");
  CHECK(t == NULL && name == NULL);
  tcc_module_destroy(m);
}

TEST(write_errors) {
  tcc_module_t *m = new_module();
  int64_t dims[1] = {4};
  tcc_tensor_t *t = pattern_tensor(m, TCC_DTYPE_F32, 1, dims, 0);
  EXPECT_ERROR(tcc_tensor_write_pb(t, "x", tmp_path("no/such/dir.pb")), TCC_NOT_FOUND, "cannot create");
  EXPECT_ERROR(tcc_tensor_write_npy(t, tmp_path("no/such/dir.npy")), TCC_NOT_FOUND, "cannot create");
  struct stat sb; /* a full disk, where the system has one */
  if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode) && access("/dev/full", W_OK) == 0) {
    EXPECT_ERROR(tcc_tensor_write_pb(t, "x", "/dev/full"), TCC_IO, "cannot write");
    EXPECT_ERROR(tcc_tensor_write_npy(t, "/dev/full"), TCC_IO, "cannot write");
    CHECK(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)); /* a device is never removed */
  }
  tcc_tensor_t bad = *t;
  bad.nbytes = 12;
  EXPECT_ERROR(tcc_tensor_write_pb(&bad, "x", tmp_path("bad.pb")), TCC_INVALID_ARGUMENT, "inconsistent f32 tensor");
  bad = *t, bad.numel = 5;
  EXPECT_ERROR(tcc_tensor_write_npy(&bad, tmp_path("bad.npy")), TCC_INVALID_ARGUMENT, "inconsistent");
  bad = *t, bad.rank = 65;
  EXPECT_ERROR(tcc_tensor_write_npy(&bad, tmp_path("bad.npy")), TCC_INVALID_ARGUMENT, "rank 65");
  bad = *t, bad.dtype = TCC_DTYPE_UNDEFINED;
  EXPECT_ERROR(tcc_tensor_write_pb(&bad, "x", tmp_path("bad.pb")), TCC_INVALID_ARGUMENT, "dtype 0");
  EXPECT_ERROR(tcc_tensor_write_pb(NULL, "x", tmp_path("bad.pb")), TCC_INVALID_ARGUMENT, "no tensor");
  tcc_module_destroy(m);
}

/* Allocation failure at every step of reading each format gives out-of-memory, never a crash or leak. */
TEST(allocation_failure) {
  tcc_module_t *m = new_module();
  int64_t dims[2] = {3, 5};
  tcc_tensor_t *t = pattern_tensor(m, TCC_DTYPE_STRING, 2, dims, 0), *f = pattern_tensor(m, TCC_DTYPE_F64, 2, dims, 0);
  CHECK_OK(tcc_tensor_write_pb(t, "strings", tmp_path("oom.pb")));
  CHECK_OK(tcc_tensor_write_npy(f, tmp_path("oom.npy")));
  CHECK_OK(tcc_tensor_write_pb(f, "f", tmp_path("oom_raw.pb")));
  const char *paths[] = {tmp_path("oom.pb"), tmp_path("oom.npy"), tmp_path("oom_raw.pb")};
  for (int k = 0; k < 3; k++) {
    long needed = -1;
    for (long n = 0; n < 10000 && needed < 0; n++) {
      long budget = n;
      tcc_module_t *mm = NULL;
      tcc_status_t st = tcc_module_create(tcc_allocator_failing(&budget), &mm);
      tcc_tensor_t *out = NULL;
      if (!st) st = tcc_tensor_read_file(mm, paths[k], &out, NULL);
      if (!st) {
        CHECK(same_tensor(out, k == 0 ? t : f));
        needed = n;
      } else if (tcc_status_code(st) != TCC_OUT_OF_MEMORY) {
        fprintf(stderr, "%s, budget %ld: expected out of memory, got %s\n", paths[k], n, tcc_status_message(st));
        test_current_failed_ = 1;
        n = 10000;
      }
      tcc_status_free(st);
      tcc_module_destroy(mm);
    }
    CHECK(needed > 0);
  }
  tcc_module_destroy(m);
}

/* ---- real test data (../shared) ---- */

static const char *shared_path(const char *env, const char *fallback, const char *rel, char *buf, size_t size) {
  const char *root = getenv(env);
  snprintf(buf, size, "%s/%s", root && root[0] ? root : fallback, rel);
  return access(buf, R_OK) == 0 ? buf : NULL;
}

TEST(real_test_data) {
  char buf[1024];
  const char *add = shared_path("TCC_ONNX_TESTS", "../shared/onnx-tests", "node/test_add/test_data_set_0/input_0.pb",
                                buf, sizeof buf);
  tcc_module_t *m = new_module();
  if (!add) {
    printf("note: ../shared/onnx-tests absent (or TCC_ONNX_TESTS unset): skipping test_add input_0.pb\n");
  } else {
    tcc_tensor_t *t = NULL;
    const char *name = NULL;
    CHECK_OK(tcc_tensor_read_file(m, add, &t, &name));
    CHECK(t && t->dtype == TCC_DTYPE_F32 && t->rank == 3 && t->dims[0] == 3 && t->dims[1] == 4 && t->dims[2] == 5);
    CHECK_STR(name, "x");
    /* .pb -> .npy -> tensor -> .pb gives the same bytes as a fresh write of the original. */
    if (t) {
      tcc_tensor_t *back = NULL;
      CHECK_OK(tcc_tensor_write_npy(t, tmp_path("add.npy")));
      CHECK_OK(tcc_tensor_read_file(m, tmp_path("add.npy"), &back, NULL));
      CHECK(same_tensor(t, back));
    }
  }
  const char *bert = shared_path("TCC_MODELS", "../shared/models", "bert_mini/test_data_set_0/input_0.pb", buf, sizeof buf);
  if (!bert) {
    printf("note: ../shared/models absent (or TCC_MODELS unset): skipping bert_mini input_0.pb\n");
  } else {
    tcc_tensor_t *t = NULL;
    CHECK_OK(tcc_tensor_read_file(m, bert, &t, NULL));
    CHECK(t && t->dtype == TCC_DTYPE_I64 && t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 64 && t->nbytes == 2 * 64 * 8);
    bool ids_ok = t != NULL;
    for (int64_t i = 0; t && i < t->numel; i++) ids_ok &= tcc_tensor_get_int(t, i) >= 0;
    CHECK(ids_ok);
  }
  tcc_module_destroy(m);
}

/* ---- value files: sequences and optionals ---- */

static bool same_value(const tcc_eval_value_t *a, const tcc_eval_value_t *b) {
  if (!a || !b || a->kind != b->kind) return false;
  if (a->kind == TCC_TYPE_TENSOR) return same_tensor(a->tensor, b->tensor);
  if (a->kind == TCC_TYPE_OPTIONAL) return !a->elem == !b->elem && (!a->elem || same_value(a->elem, b->elem));
  if (a->count != b->count) return false;
  for (int64_t i = 0; i < a->count; i++)
    if (!same_value(a->items[i], b->items[i])) return false;
  return true;
}

/* The bytes of onnx/backend/test/data/node/test_identity_opt/test_data_set_0/input_0.pb: an OptionalProto
 * "opt_in" holding a SequenceProto of one f32[5] tensor 1..5. */
static const uint8_t onnx_optional_sequence[] = {
    0x0a, 0x06, 'o',  'p',  't',  '_',  'i',  'n',  0x10, 0x03, 0x2a, 0x1e, 0x10, 0x01, 0x1a, 0x1a, 0x08,
    0x05, 0x10, 0x01, 0x4a, 0x14, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40,
    0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0xa0, 0x40};

TEST(value_files) {
  tcc_module_t *m = new_module();
  tcc_type_t f32 = {TCC_TYPE_TENSOR, TCC_DTYPE_F32, -1, NULL, NULL};
  tcc_type_t seq = {TCC_TYPE_SEQUENCE, TCC_DTYPE_UNDEFINED, -1, NULL, &f32};
  tcc_type_t seq_seq = {TCC_TYPE_SEQUENCE, TCC_DTYPE_UNDEFINED, -1, NULL, &seq};
  tcc_type_t opt_seq = {TCC_TYPE_OPTIONAL, TCC_DTYPE_UNDEFINED, -1, NULL, &seq};
  const tcc_eval_value_t *v = NULL;
  const char *name = NULL;
  CHECK_OK(tcc_tensor_read_value_pb(m, onnx_optional_sequence, sizeof onnx_optional_sequence, &opt_seq, &v, &name));
  CHECK_STR(name, "opt_in");
  const tcc_eval_value_t *s = v && v->kind == TCC_TYPE_OPTIONAL ? v->elem : NULL;
  CHECK(s && s->kind == TCC_TYPE_SEQUENCE && s->count == 1);
  const tcc_tensor_t *t = s && s->count == 1 ? s->items[0]->tensor : NULL;
  CHECK(t && t->dtype == TCC_DTYPE_F32 && t->rank == 1 && t->dims[0] == 5 && tcc_tensor_get_float(t, 4) == 5.0);

  /* round trips: the value above, a sequence of sequences (one of them empty), empty ones */
  int64_t d23[] = {2, 3}, d0[] = {0};
  const tcc_eval_value_t *a = tcc_eval_value_tensor(m, pattern_tensor(m, TCC_DTYPE_F32, 2, d23, 1));
  const tcc_eval_value_t *b = tcc_eval_value_tensor(m, pattern_tensor(m, TCC_DTYPE_F32, 1, d0, 2));
  const tcc_eval_value_t *inner[] = {a, b}, *empty = tcc_eval_value_sequence(m, 0, NULL);
  const tcc_eval_value_t *outer[] = {tcc_eval_value_sequence(m, 2, inner), empty};
  struct {
    const tcc_eval_value_t *v;
    const tcc_type_t *type;
  } cases[] = {{v, &opt_seq}, {tcc_eval_value_sequence(m, 2, outer), &seq_seq}, {empty, &seq},
               {tcc_eval_value_optional(m, NULL), &opt_seq}, {tcc_eval_value_optional(m, a), NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const tcc_type_t *type = cases[i].type;
    tcc_type_t opt_f32 = {TCC_TYPE_OPTIONAL, TCC_DTYPE_UNDEFINED, -1, NULL, &f32};
    if (!type) type = &opt_f32;
    const tcc_eval_value_t *back = NULL;
    CHECK_OK(tcc_tensor_write_value_pb(cases[i].v, cases[i].type, "val", tmp_path("value.pb")));
    CHECK_OK(tcc_tensor_read_value_file(m, tmp_path("value.pb"), type, &back, &name));
    CHECK(same_value(cases[i].v, back));
    CHECK_STR(name, "val");
  }

  /* bfloat16 stored as uint16: taken as bf16 where the type says so, top-level and inside sequences */
  int64_t d4[] = {4};
  tcc_tensor_t *u16 = pattern_tensor(m, TCC_DTYPE_U16, 1, d4, 3);
  tcc_type_t bf16 = {TCC_TYPE_TENSOR, TCC_DTYPE_BF16, 1, NULL, NULL};
  tcc_type_t seq_bf16 = {TCC_TYPE_SEQUENCE, TCC_DTYPE_UNDEFINED, -1, NULL, &bf16};
  CHECK_OK(tcc_tensor_write_pb(u16, "x", tmp_path("u16.pb")));
  CHECK_OK(tcc_tensor_read_value_file(m, tmp_path("u16.pb"), &bf16, &v, NULL));
  CHECK(v && v->tensor->dtype == TCC_DTYPE_BF16 && memcmp(v->tensor->data, u16->data, 8) == 0);
  CHECK_OK(tcc_tensor_read_value_file(m, tmp_path("u16.pb"), &f32, &v, NULL));
  CHECK(v && v->tensor->dtype == TCC_DTYPE_U16);
  const tcc_eval_value_t *one = tcc_eval_value_tensor(m, u16);
  CHECK_OK(tcc_tensor_write_value_pb(tcc_eval_value_sequence(m, 1, &one), NULL, NULL, tmp_path("useq.pb")));
  CHECK_OK(tcc_tensor_read_value_file(m, tmp_path("useq.pb"), &seq_bf16, &v, NULL));
  CHECK(v && v->count == 1 && v->items[0]->tensor->dtype == TCC_DTYPE_BF16);

  /* malformed: every truncation fails cleanly or reads a prefix; maps are unsupported */
  for (size_t n = 1; n < sizeof onnx_optional_sequence; n++) {
    tcc_status_t st = tcc_tensor_read_value_pb(m, onnx_optional_sequence, n, &opt_seq, &v, NULL);
    CHECK(!st || tcc_status_code(st) == TCC_INVALID_MODEL);
    tcc_status_free(st);
  }
  static const uint8_t map_item[] = {0x10, 0x04, 0x32, 0x00};
  EXPECT_ERROR(tcc_tensor_read_value_pb(m, map_item, sizeof map_item, &seq, &v, NULL), TCC_UNSUPPORTED,
               "map elements are not supported");
  static const uint8_t bad_wire[] = {0x0b, 0x00};
  EXPECT_ERROR(tcc_tensor_read_value_pb(m, bad_wire, sizeof bad_wire, &seq, &v, NULL), TCC_INVALID_MODEL,
               "unknown wire type");
  tcc_module_destroy(m);
}

static void cleanup(void) {
  if (temp_dir[0]) nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void run_cleanup_last(void) { atexit(cleanup); }

TEST(setup) { run_cleanup_last(); }

RUN_TESTS(T(setup), T(pb_round_trip_every_dtype), T(npy_round_trip_numpy_dtypes), T(npy_refuses_dtypes_numpy_lacks),
          T(npy_by_hand), T(npy_malformed), T(npy_and_pb_mutations_never_crash), T(pb_typed_fields), T(pb_malformed),
          T(write_errors), T(allocation_failure), T(real_test_data), T(value_files))
