/* The textual form of the graph IR: printer and recursive-descent parser (syntax: docs/ir-text.md). */
#include "ir/text.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
  MAX_DEPTH = 64,           /* nesting of subgraphs and seq/opt types */
  MAX_DIM_OPS = 128,        /* '(' and '-' in one dim expression (tcc_dim_parse recurses on them) */
  MAX_NUMBER = 64,          /* characters in one number */
  MMAP_BYTES = 1 << 20,     /* elided constants this big are zero pages, not arena memory */
};
#define MAX_CONSTANT_BYTES ((int64_t)1 << 44)

/* ---- shared: names, element bits, float formats ------------------------------------------------- */

static bool is_word_char(int c) { return isalnum(c) || c == '_'; }
static bool is_name_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '%'; }

static bool is_bare_name(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!is_name_char((unsigned char)*s)) return false;
  return true;
}

static bool is_complex(tcc_dtype_t dt) { return dt == TCC_DTYPE_C64 || dt == TCC_DTYPE_C128; }

/* Bytes of a tensor's data for numel elements, or -1. */
static int64_t data_bytes(tcc_dtype_t dt, int64_t numel) {
  if (dt == TCC_DTYPE_STRING)
    return numel > INT64_MAX / (int64_t)sizeof(tcc_bytes_t) ? -1 : numel * (int64_t)sizeof(tcc_bytes_t);
  if (tcc_dtype_bits(dt) == 4) return numel < 0 ? -1 : numel / 2 + numel % 2; /* storage_bytes overflows at INT64_MAX */
  return tcc_dtype_storage_bytes(dt, numel);
}

/* Element i's bits, little-endian (elements of at most 64 bits). */
static uint64_t load_bits(const tcc_tensor_t *t, int64_t i) {
  const uint8_t *b = t->data;
  int bits = tcc_dtype_bits(t->dtype);
  if (bits == 4) return (i & 1) ? b[i / 2] >> 4 : b[i / 2] & 15;
  size_t w = (size_t)bits / 8;
  uint64_t v = 0;
  for (size_t k = 0; k < w; k++) v |= (uint64_t)b[(size_t)i * w + k] << (8 * k);
  return v;
}

static void store_bits(uint8_t *b, tcc_dtype_t dt, int64_t i, uint64_t v) {
  int bits = tcc_dtype_bits(dt);
  if (bits == 4) {
    uint8_t *p = &b[i / 2];
    *p = (i & 1) ? (uint8_t)((*p & 15) | (v & 15) << 4) : (uint8_t)((*p & 0xf0) | (v & 15));
    return;
  }
  size_t w = (size_t)bits / 8;
  for (size_t k = 0; k < w; k++) b[(size_t)i * w + k] = (uint8_t)(v >> (8 * k));
}

/* strtod, with nan/inf spelled and signed the way the printer writes them. */
static double text_to_double(const char *s) {
  bool neg = *s == '-';
  const char *a = neg ? s + 1 : s;
  if (strcmp(a, "nan") == 0) return neg ? -NAN : NAN;
  if (strcmp(a, "inf") == 0) return neg ? -INFINITY : INFINITY;
  return strtod(s, NULL);
}

static float text_to_float(const char *s) {
  const char *a = *s == '-' ? s + 1 : s;
  if (strcmp(a, "nan") == 0 || strcmp(a, "inf") == 0) return (float)text_to_double(s);
  return strtof(s, NULL);
}

/* v rounded to nearest even in an IEEE binary format with infinities (f16: 5, 10; bf16: 8, 7). */
static uint64_t encode_ieee(double v, int eb, int mb) {
  int bias = (1 << (eb - 1)) - 1;
  uint64_t sign = signbit(v) ? (uint64_t)1 << (eb + mb) : 0, exp_ones = (((uint64_t)1 << eb) - 1) << mb;
  if (isnan(v)) return sign | exp_ones | (uint64_t)1 << (mb - 1);
  double a = fabs(v);
  if (isinf(a)) return sign | exp_ones;
  if (a == 0) return sign;
  int k;
  frexp(a, &k);
  int e = k - 1; /* a = 1.f * 2^e */
  if (e < 1 - bias) return sign | (uint64_t)nearbyint(ldexp(a, mb + bias - 1)); /* subnormal (or min normal) */
  double q = nearbyint(ldexp(a, mb - e));
  if (q >= ldexp(1, mb + 1)) {
    q /= 2;
    e++;
  }
  if (e > bias) return sign | exp_ones;
  return sign | (uint64_t)(e + bias) << mb | ((uint64_t)q - ((uint64_t)1 << mb));
}

/* Float element encoding for one dtype; the formats of 8 bits or fewer by table. */
typedef struct {
  tcc_dtype_t dtype;
  int ncodes;
  double decoded[256];
} codec_t;

static void codec_init(codec_t *c, tcc_dtype_t dt) {
  c->dtype = dt;
  c->ncodes = 0;
  if (dt == TCC_DTYPE_F32 || dt == TCC_DTYPE_F64 || dt == TCC_DTYPE_F16 || dt == TCC_DTYPE_BF16) return;
  c->ncodes = 1 << tcc_dtype_bits(dt);
  for (int i = 0; i < c->ncodes; i++) {
    uint8_t byte = (uint8_t)i;
    int64_t one = 1;
    tcc_tensor_t t = {dt, 1, &one, 1, &byte, 1};
    c->decoded[i] = tcc_tensor_get_float(&t, 0);
  }
}

/* The exact code for v, else the nearest (ties to the even code); NaN when the format has one. */
static uint64_t nearest_code(const codec_t *c, double v) {
  if (isnan(v)) {
    for (int i = 0; i < c->ncodes; i++)
      if (isnan(c->decoded[i])) return (uint64_t)i;
    return 0;
  }
  for (int i = 0; i < c->ncodes; i++)
    if (c->decoded[i] == v && signbit(c->decoded[i]) == signbit(v)) return (uint64_t)i;
  if (isinf(v)) v = v > 0 ? DBL_MAX : -DBL_MAX;
  int best = -1;
  double best_d = 0;
  for (int i = 0; i < c->ncodes; i++) {
    if (isnan(c->decoded[i])) continue;
    double d = fabs(c->decoded[i] - v);
    if (best < 0 || d < best_d || (d == best_d && (best & 1) && !(i & 1))) best = i, best_d = d;
  }
  return best < 0 ? 0 : (uint64_t)best;
}

static uint64_t codec_encode(const codec_t *c, const char *text) {
  switch (c->dtype) {
    case TCC_DTYPE_F32: {
      float f = text_to_float(text);
      uint32_t u;
      memcpy(&u, &f, 4);
      return u;
    }
    case TCC_DTYPE_F64: {
      double d = text_to_double(text);
      uint64_t u;
      memcpy(&u, &d, 8);
      return u;
    }
    case TCC_DTYPE_F16: return encode_ieee(text_to_double(text), 5, 10);
    case TCC_DTYPE_BF16: return encode_ieee(text_to_double(text), 8, 7);
    default: return nearest_code(c, text_to_double(text));
  }
}

/* "%.*g", made to look like a float ("1" -> "1.0"). */
static void format_g(char *buf, size_t size, int precision, double v) {
  snprintf(buf, size, "%.*g", precision, v);
  if (!strpbrk(buf, ".eEni")) strncat(buf, ".0", size - strlen(buf) - 1);
}

static bool format_special(char *buf, size_t size, double v) {
  if (isnan(v)) snprintf(buf, size, "%snan", signbit(v) ? "-" : "");
  else if (isinf(v)) snprintf(buf, size, "%sinf", v < 0 ? "-" : "");
  else return false;
  return true;
}

/* Integral values below 1e7 print whole ("448.0", not "4.5e+02"). */
static bool format_integral(char *buf, size_t size, double v) {
  if (v != trunc(v) || fabs(v) >= 1e7) return false;
  snprintf(buf, size, "%.0f.0", v);
  return true;
}

/* The shortest text that encodes back to element i's bits. */
static void format_element(const codec_t *c, const tcc_tensor_t *t, int64_t i, char *buf, size_t size) {
  double v = tcc_tensor_get_float(t, i);
  if (format_special(buf, size, v)) return;
  uint64_t bits = load_bits(t, i);
  if (format_integral(buf, size, v) && codec_encode(c, buf) == bits) return;
  for (int p = 1; p <= 17; p++) {
    format_g(buf, size, p, v);
    if (codec_encode(c, buf) == bits) return;
  }
}

/* A float attribute: the shortest exact double, or a shorter float32 spelling with an 'f' suffix. */
static void format_double(char *buf, size_t size, double x) {
  if (format_special(buf, size, x) || format_integral(buf, size, x)) return;
  for (int p = 1; p <= 17; p++) {
    format_g(buf, size, p, x);
    double y = text_to_double(buf);
    if (memcmp(&x, &y, sizeof x) == 0) break;
  }
  if (fabs(x) > FLT_MAX || (double)(float)x != x) return;
  char fb[48];
  float f = (float)x;
  for (int p = 1; p <= 9; p++) {
    format_g(fb, sizeof fb, p, f);
    float g = text_to_float(fb);
    if (memcmp(&f, &g, sizeof f) == 0) break;
  }
  if (strlen(fb) + 1 < strlen(buf)) snprintf(buf, size, "%sf", fb);
}

/* ---- printer ------------------------------------------------------------------------------------- */

typedef struct {
  FILE *out;
  size_t max_inline;
  tcc_status_t status; /* the first thing the syntax could not express */
} printer_t;

static void bad_ir(printer_t *pr, const char *fmt, ...) TCC_PRINTF(2, 3);
static void bad_ir(printer_t *pr, const char *fmt, ...) {
  if (pr->status) return;
  va_list ap;
  va_start(ap, fmt);
  pr->status = tcc_status_makev(TCC_INVALID_ARGUMENT, fmt, ap);
  va_end(ap);
}

static void print_quoted(FILE *out, const char *s, size_t n) {
  putc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': fputs("\\\"", out); break;
      case '\\': fputs("\\\\", out); break;
      case '\n': fputs("\\n", out); break;
      case '\t': fputs("\\t", out); break;
      case '\r': fputs("\\r", out); break;
      default:
        if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", c);
        else putc(c, out);
    }
  }
  putc('"', out);
}

static void print_cstring(FILE *out, const char *s) { print_quoted(out, s ? s : "", s ? strlen(s) : 0); }

static void print_name(FILE *out, const char *s) {
  if (s && is_bare_name(s)) fputs(s, out);
  else print_cstring(out, s);
}

static void print_ref(FILE *out, const tcc_value_t *v) {
  if (!v) {
    putc('_', out);
    return;
  }
  putc('%', out);
  print_name(out, v->name);
}

static void print_indent(FILE *out, int indent) { fprintf(out, "%*s", indent, ""); }

static void print_type(printer_t *pr, const tcc_type_t *type) {
  char small[256];
  int n = tcc_type_format(type, small, sizeof small);
  if (n >= 0 && (size_t)n < sizeof small) {
    fputs(small, pr->out);
    return;
  }
  char *big = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (!big) {
    bad_ir(pr, "cannot format a type");
    return;
  }
  tcc_type_format(type, big, (size_t)n + 1);
  fputs(big, pr->out);
  free(big);
}

static void print_dim(printer_t *pr, const tcc_dim_t *d) {
  char small[128];
  int n = tcc_dim_format(d, small, sizeof small);
  if (n >= 0 && (size_t)n < sizeof small) {
    fputs(small, pr->out);
    return;
  }
  char *big = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (!big) {
    bad_ir(pr, "cannot format a dim");
    return;
  }
  tcc_dim_format(d, big, (size_t)n + 1);
  fputs(big, pr->out);
  free(big);
}

/* Whether type is exactly the tensor's own type (dtype, constant dims). */
static bool tensor_has_type(const tcc_tensor_t *t, const tcc_type_t *type) {
  if (type->kind != TCC_TYPE_TENSOR || type->dtype != t->dtype || type->rank != t->rank) return false;
  for (int i = 0; i < t->rank; i++)
    if (!tcc_dim_is_const(type->dims[i]) || tcc_dim_value(type->dims[i]) != t->dims[i]) return false;
  return true;
}

static bool tensor_ok(const tcc_tensor_t *t) {
  if (!t || !tcc_dtype_is_valid((int)t->dtype) || t->rank < 0 || (t->rank && !t->dims)) return false;
  int64_t numel = 1;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] < 0 || __builtin_mul_overflow(numel, t->dims[i], &numel)) return false;
  int64_t bytes = data_bytes(t->dtype, numel);
  return numel == t->numel && bytes >= 0 && t->nbytes >= (uint64_t)bytes && (t->data || bytes == 0);
}

/* `TYPE dense<...>`; the type is left out when it equals ctx. */
static void print_tensor(printer_t *pr, const tcc_tensor_t *t, const tcc_type_t *ctx) {
  FILE *out = pr->out;
  if (!tensor_ok(t)) {
    bad_ir(pr, "a constant tensor is malformed (null, invalid dtype, or too little data)");
    fputs("dense<invalid>", out);
    return;
  }
  if (!ctx || !tensor_has_type(t, ctx)) {
    fprintf(out, "%s[", tcc_dtype_name(t->dtype));
    for (int i = 0; i < t->rank; i++) fprintf(out, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    fputs("] ", out);
  }
  fputs("dense<", out);
  if ((uint64_t)t->numel > pr->max_inline) {
    if (t->dtype == TCC_DTYPE_STRING) fputs("elided", out);
    else fprintf(out, "elided, %" PRId64 " bytes", data_bytes(t->dtype, t->numel));
  } else if (is_complex(t->dtype)) {
    fputs("0x", out);
    for (int64_t i = 0; i < data_bytes(t->dtype, t->numel); i++) fprintf(out, "%02x", ((const uint8_t *)t->data)[i]);
  } else {
    codec_t codec;
    if (tcc_dtype_is_float(t->dtype)) codec_init(&codec, t->dtype);
    putc('[', out);
    for (int64_t i = 0; i < t->numel; i++) {
      if (i) fputs(", ", out);
      if (t->dtype == TCC_DTYPE_STRING) {
        tcc_bytes_t s;
        memcpy(&s, (const char *)t->data + (size_t)i * sizeof s, sizeof s);
        print_quoted(out, s.data, s.data ? s.size : 0);
      } else if (tcc_dtype_is_float(t->dtype)) {
        char buf[64];
        format_element(&codec, t, i, buf, sizeof buf);
        fputs(buf, out);
      } else if (t->dtype == TCC_DTYPE_BOOL) {
        uint64_t b = load_bits(t, i);
        if (b <= 1) fputs(b ? "true" : "false", out);
        else fprintf(out, "%" PRIu64, b);
      } else if (t->dtype == TCC_DTYPE_U64) {
        fprintf(out, "%" PRIu64, load_bits(t, i));
      } else {
        fprintf(out, "%" PRId64, tcc_tensor_get_int(t, i));
      }
    }
    putc(']', out);
  }
  putc('>', out);
}

static void print_graph(printer_t *pr, const tcc_graph_t *g, int indent);

/* Empty lists and dims/types lists carry their kind: `ints []`, `dims [batch, 4]`. */
static void print_list_open(FILE *out, const tcc_attr_t *a) {
  if (a->count == 0 || a->kind == TCC_ATTR_TYPES || a->kind == TCC_ATTR_DIMS)
    fprintf(out, "%s ", tcc_attr_kind_name(a->kind));
  putc('[', out);
}

static void print_attr_value(printer_t *pr, const tcc_attr_t *a, int indent) {
  FILE *out = pr->out;
  char buf[64];
  bool list = a->kind >= TCC_ATTR_INTS && a->kind <= TCC_ATTR_DIMS;
  if (list && a->count < 0) {
    bad_ir(pr, "attribute '%s' has a negative count", a->name);
    return;
  }
  if (list) print_list_open(out, a);
  for (int64_t i = 0; list && i < a->count; i++) {
    if (i) fputs(", ", out);
    switch (a->kind) {
      case TCC_ATTR_INTS: fprintf(out, "%" PRId64, a->ints[i]); break;
      case TCC_ATTR_FLOATS: format_double(buf, sizeof buf, a->floats[i]), fputs(buf, out); break;
      case TCC_ATTR_STRINGS: print_quoted(out, a->strings[i].data, a->strings[i].data ? a->strings[i].size : 0); break;
      case TCC_ATTR_TENSORS: print_tensor(pr, a->tensors[i], NULL); break;
      case TCC_ATTR_GRAPHS:
        if (a->graphs[i]) print_graph(pr, a->graphs[i], indent);
        else bad_ir(pr, "attribute '%s' holds a null graph", a->name);
        break;
      case TCC_ATTR_TYPES: print_type(pr, &a->types[i]); break;
      default: print_dim(pr, a->dims[i]); break;
    }
  }
  if (list) {
    putc(']', out);
    return;
  }
  switch (a->kind) {
    case TCC_ATTR_INT: fprintf(out, "%" PRId64, a->i); break;
    case TCC_ATTR_FLOAT: format_double(buf, sizeof buf, a->f), fputs(buf, out); break;
    case TCC_ATTR_STRING: print_quoted(out, a->s.data, a->s.data ? a->s.size : 0); break;
    case TCC_ATTR_TENSOR: print_tensor(pr, a->t, NULL); break;
    case TCC_ATTR_GRAPH:
      if (a->g) print_graph(pr, a->g, indent);
      else bad_ir(pr, "attribute '%s' holds a null graph", a->name);
      break;
    case TCC_ATTR_TYPE: fputs("type ", out), print_type(pr, &a->type); break;
    default: bad_ir(pr, "attribute '%s' has an invalid kind %d", a->name, (int)a->kind); fputs("?", out);
  }
}

static void print_node(printer_t *pr, const tcc_node_t *n, int indent) {
  FILE *out = pr->out;
  print_indent(out, indent);
  for (int i = 0; i < n->num_outputs; i++) {
    if (i) fputs(", ", out);
    print_ref(out, n->outputs[i]);
  }
  if (n->num_outputs) fputs(" = ", out);
  if ((unsigned)n->op >= TCC_OP_COUNT) bad_ir(pr, "node '%s' has an invalid op %d", n->name, (int)n->op);
  fprintf(out, "%s(", tcc_op_name(n->op));
  for (int i = 0; i < n->num_inputs; i++) {
    if (i) fputs(", ", out);
    print_ref(out, n->inputs[i]);
  }
  putc(')', out);
  if (n->num_attrs) {
    fputs(" {", out);
    for (int i = 0; i < n->num_attrs; i++) {
      if (i) fputs(", ", out);
      print_name(out, n->attrs[i].name);
      fputs(" = ", out);
      print_attr_value(pr, &n->attrs[i], indent);
    }
    putc('}', out);
  }
  bool first = true;
  for (int i = 0; i < n->num_outputs; i++) {
    const tcc_value_t *v = n->outputs[i];
    if (!v) continue;
    fputs(first ? " : " : ", ", out);
    first = false;
    print_type(pr, &v->type);
    if (v->constant) fputs(" = ", out), print_tensor(pr, v->constant, &v->type);
  }
  fputs(" @", out);
  print_name(out, n->name);
  const char *sep = " [";
  if (n->domain && n->domain[0]) fputs(sep, out), fputs("domain = ", out), print_cstring(out, n->domain), sep = ", ";
  if (n->op_type && strcmp(n->op_type, tcc_op_name(n->op)) != 0)
    fputs(sep, out), fputs("op_type = ", out), print_cstring(out, n->op_type), sep = ", ";
  if (n->opset) fprintf(out, "%sopset = %" PRId64, sep, n->opset), sep = ", ";
  if (n->unsupported) fputs(sep, out), fputs("reason = ", out), print_cstring(out, n->unsupported), sep = ", ";
  if (sep[0] == ',') putc(']', out);
  putc('\n', out);
}

static void print_graph(printer_t *pr, const tcc_graph_t *g, int indent) {
  FILE *out = pr->out;
  fputs("graph ", out);
  print_name(out, g->name);
  putc('(', out);
  for (size_t i = 0; i < g->num_inputs; i++) {
    const tcc_value_t *v = g->inputs[i];
    if (i) fputs(", ", out);
    print_ref(out, v);
    fputs(": ", out);
    print_type(pr, &v->type);
    if (v->constant) fputs(" = ", out), print_tensor(pr, v->constant, &v->type);
  }
  fputs(") -> (", out);
  for (size_t i = 0; i < g->num_outputs; i++) {
    if (i) fputs(", ", out);
    print_ref(out, g->outputs[i]);
  }
  fputs(") {\n", out);
  for (size_t i = 0; i < g->num_values; i++) {
    const tcc_value_t *v = g->values[i];
    if (v->is_input || v->producer || !v->constant) continue;
    print_indent(out, indent + 2);
    print_ref(out, v);
    fputs(" = const ", out);
    print_tensor(pr, v->constant, NULL);
    if (tensor_ok(v->constant) && !tensor_has_type(v->constant, &v->type)) fputs(" : ", out), print_type(pr, &v->type);
    putc('\n', out);
  }
  for (size_t i = 0; i < g->num_nodes; i++) print_node(pr, g->nodes[i], indent + 2);
  print_indent(out, indent);
  putc('}', out);
}

static size_t inline_limit(const tcc_text_options_t *opts) {
  return opts ? opts->max_inline_constant_elems : TCC_TEXT_DEFAULT_INLINE_ELEMS;
}

static tcc_status_t finish_print(printer_t *pr) {
  if (ferror(pr->out)) {
    tcc_status_free(pr->status);
    return tcc_status_make(TCC_IO, "writing the IR text failed");
  }
  return pr->status;
}

tcc_status_t tcc_text_print_graph(const tcc_graph_t *g, FILE *out, const tcc_text_options_t *opts) {
  if (!g || !out) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_text_print_graph: null graph or file");
  printer_t pr = {out, inline_limit(opts), NULL};
  print_graph(&pr, g, 0);
  putc('\n', out);
  return finish_print(&pr);
}

tcc_status_t tcc_text_print(const tcc_module_t *m, FILE *out, const tcc_text_options_t *opts) {
  if (!m || !m->graph || !out) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_text_print: null module or file");
  printer_t pr = {out, inline_limit(opts), NULL};
  const char *sep = "module {";
  if (m->ir_version) fprintf(out, "%sir_version = %" PRId64, sep, m->ir_version), sep = ", ";
  if (m->model_version) fprintf(out, "%smodel_version = %" PRId64, sep, m->model_version), sep = ", ";
  const struct {
    const char *key, *value;
  } strings[] = {{"producer_name", m->producer_name}, {"producer_version", m->producer_version},
                 {"domain", m->domain}, {"doc", m->doc}};
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    if (!strings[i].value) continue;
    fprintf(out, "%s%s = ", sep, strings[i].key);
    print_cstring(out, strings[i].value);
    sep = ", ";
  }
  if (sep[0] == ',') fputs("}\n", out);
  for (size_t i = 0; i < m->num_opsets; i++) {
    fputs(i ? ", " : "opsets {", out);
    print_cstring(out, m->opsets[i].domain);
    fprintf(out, ": %" PRId64, m->opsets[i].version);
  }
  if (m->num_opsets) fputs("}\n", out);
  for (size_t i = 0; i < m->num_metadata; i++) {
    fputs(i ? ", " : "metadata {", out);
    print_cstring(out, m->metadata[i].key);
    fputs(": ", out);
    print_cstring(out, m->metadata[i].value);
  }
  if (m->num_metadata) fputs("}\n", out);
  print_graph(&pr, m->graph, 0);
  putc('\n', out);
  return finish_print(&pr);
}

/* ---- parser -------------------------------------------------------------------------------------- */

typedef struct {
  const char *text, *p, *end;
  tcc_module_t *m;
  tcc_status_t error; /* the first error; every parse function returns false once it is set */
  int depth;
} parser_t;

static bool fail_at(parser_t *ps, const char *at, const char *fmt, ...) TCC_PRINTF(3, 4);
static bool fail_at(parser_t *ps, const char *at, const char *fmt, ...) {
  if (ps->error) return false;
  if (ps->m->failed) {
    ps->error = tcc_status_oom();
    return false;
  }
  int line = 1, col = 1;
  for (const char *q = ps->text; q < at; q++) {
    if (*q == '\n') line++, col = 1;
    else col++;
  }
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ps->error = tcc_status_make(TCC_INVALID_ARGUMENT, "line %d, col %d: %s", line, col, msg);
  return false;
}

static bool expected(parser_t *ps, const char *at, const char *what) {
  char found[24] = "end of input";
  if (*at) {
    size_t n = 0;
    found[n++] = '\'';
    for (const char *q = at; *q && !isspace((unsigned char)*q) && n < 16; q++)
      found[n++] = isprint((unsigned char)*q) ? *q : '?';
    if (n == 1) found[n++] = *at == '\n' ? ' ' : '?'; /* whitespace: show something */
    found[n++] = '\'';
    found[n] = 0;
  }
  return fail_at(ps, at, "expected %s, found %s", what, found);
}

static bool oom(parser_t *ps) {
  if (!ps->error) ps->error = tcc_status_oom();
  ps->m->failed = true;
  return false;
}

static void skip_ws(parser_t *ps) {
  for (;;) {
    char c = *ps->p;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') ps->p++;
    else if (c == '#')
      while (*ps->p && *ps->p != '\n') ps->p++;
    else return;
  }
}

static bool accept_char(parser_t *ps, char c) {
  skip_ws(ps);
  if (*ps->p != c) return false;
  ps->p++;
  return true;
}

static bool expect_char(parser_t *ps, char c, const char *what) {
  return accept_char(ps, c) || expected(ps, ps->p, what);
}

static size_t word_len(const char *p) {
  if (!isalpha((unsigned char)*p) && *p != '_') return 0;
  size_t n = 1;
  while (is_word_char((unsigned char)p[n])) n++;
  return n;
}

static bool peek_word(parser_t *ps, const char *w) {
  skip_ws(ps);
  size_t n = word_len(ps->p);
  return n == strlen(w) && memcmp(ps->p, w, n) == 0;
}

static bool accept_word(parser_t *ps, const char *w) {
  if (!peek_word(ps, w)) return false;
  ps->p += strlen(w);
  return true;
}

/* The word at the cursor into buf (not consumed); false when it is empty or too long. */
static bool peek_word_into(parser_t *ps, char *buf, size_t size) {
  skip_ws(ps);
  size_t n = word_len(ps->p);
  if (n == 0 || n >= size) return false;
  memcpy(buf, ps->p, n);
  buf[n] = 0;
  return true;
}

static void *grow(parser_t *ps, void *items, size_t elem, size_t count, size_t *cap) {
  void *p = tcc_arena_grow(&ps->m->arena, items, elem, count, cap, count + 1);
  if (!p) oom(ps);
  return p;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A quoted string with escapes (\" \\ \n \t \r \xHH) into a NUL-terminated arena copy. */
static bool parse_string(parser_t *ps, tcc_bytes_t *out) {
  skip_ws(ps);
  const char *s = ps->p;
  if (*s != '"') return expected(ps, s, "a quoted string");
  const char *q = s + 1;
  while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
  if (!*q) return fail_at(ps, s, "unterminated string");
  char *buf = tcc_arena_alloc(&ps->m->arena, (size_t)(q - s));
  if (!buf) return oom(ps);
  size_t n = 0;
  for (const char *r = s + 1; r < q; r++) {
    if (*r != '\\') {
      buf[n++] = *r;
      continue;
    }
    r++;
    switch (*r) {
      case '"': case '\\': buf[n++] = *r; break;
      case 'n': buf[n++] = '\n'; break;
      case 't': buf[n++] = '\t'; break;
      case 'r': buf[n++] = '\r'; break;
      case 'x': {
        int hi = r + 1 < q ? hex_digit(r[1]) : -1, lo = r + 2 < q ? hex_digit(r[2]) : -1;
        if (hi < 0 || lo < 0) return expected(ps, r - 1, "two hex digits after \\x");
        buf[n++] = (char)(hi * 16 + lo);
        r += 2;
        break;
      }
      default: return expected(ps, r - 1, "an escape (\\\" \\\\ \\n \\t \\r \\xHH)");
    }
  }
  buf[n] = 0;
  ps->p = q + 1;
  *out = (tcc_bytes_t){buf, n};
  return true;
}

static bool parse_cstring(parser_t *ps, const char **out) {
  const char *at = (skip_ws(ps), ps->p);
  tcc_bytes_t b;
  if (!parse_string(ps, &b)) return false;
  if (memchr(b.data, 0, b.size)) return fail_at(ps, at, "this string must not contain NUL bytes");
  *out = b.data;
  return true;
}

/* A bare name (letters, digits, '_', '.', '%') or a quoted one. */
static bool parse_name(parser_t *ps, const char **out, const char *what) {
  skip_ws(ps);
  if (*ps->p == '"') return parse_cstring(ps, out);
  const char *s = ps->p;
  while (is_name_char((unsigned char)*ps->p)) ps->p++;
  if (ps->p == s) return expected(ps, s, what);
  if (!(*out = tcc_arena_strndup(&ps->m->arena, s, (size_t)(ps->p - s)))) return oom(ps);
  return true;
}

/* `%name`. */
static bool parse_value_name(parser_t *ps, const char **out) {
  if (!accept_char(ps, '%')) return expected(ps, ps->p, "a value (%name)");
  if (*ps->p != '"' && !is_name_char((unsigned char)*ps->p)) return expected(ps, ps->p, "a value name after '%'");
  return parse_name(ps, out, "a value name");
}

/* Values named "%N" (tcc_graph_add_value's default) push the module's id counter past N. */
static void note_value_name(parser_t *ps, const char *name) {
  if (name[0] != '%' || !isdigit((unsigned char)name[1])) return;
  char *end;
  errno = 0;
  unsigned long long n = strtoull(name + 1, &end, 10);
  if (*end || errno || n >= UINT32_MAX) return;
  if (ps->m->next_id <= n) ps->m->next_id = (uint32_t)n + 1;
}

typedef struct {
  const char *s;
  size_t n;
  bool is_float;
} number_t;

static bool lex_number(parser_t *ps, number_t *num, const char *what) {
  skip_ws(ps);
  const char *s = ps->p, *q = s;
  bool is_float = false;
  if (*q == '-') q++;
  if (word_len(q) == 3 && (memcmp(q, "inf", 3) == 0 || memcmp(q, "nan", 3) == 0)) {
    q += 3;
    is_float = true;
  } else {
    if (!isdigit((unsigned char)*q)) return expected(ps, s, what);
    while (isdigit((unsigned char)*q)) q++;
    if (*q == '.') {
      is_float = true;
      for (q++; isdigit((unsigned char)*q);) q++;
    }
    if (*q == 'e' || *q == 'E') {
      const char *r = q + 1;
      if (*r == '+' || *r == '-') r++;
      if (isdigit((unsigned char)*r)) {
        is_float = true;
        for (q = r; isdigit((unsigned char)*q);) q++;
      }
    }
    if (*q == 'f' && is_float) q++; /* float32 spelling */
  }
  if (is_name_char((unsigned char)*q)) return expected(ps, s, what);
  if ((size_t)(q - s) >= MAX_NUMBER) return fail_at(ps, s, "number is too long");
  ps->p = q;
  *num = (number_t){s, (size_t)(q - s), is_float};
  return true;
}

/* The number's text without an 'f' suffix; *f32 tells whether it had one. */
static void number_text(const number_t *num, char buf[MAX_NUMBER], bool *f32) {
  size_t n = num->n;
  *f32 = n > 0 && num->s[n - 1] == 'f' && num->is_float && !(n >= 3 && memcmp(num->s + n - 3, "inf", 3) == 0);
  if (*f32) n--;
  memcpy(buf, num->s, n);
  buf[n] = 0;
}

static bool number_int(parser_t *ps, const number_t *num, int64_t *out) {
  if (num->is_float) return expected(ps, num->s, "an integer");
  char buf[MAX_NUMBER];
  bool f32;
  number_text(num, buf, &f32);
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno) return fail_at(ps, num->s, "integer out of range");
  *out = v;
  return true;
}

static double number_double(const number_t *num) {
  char buf[MAX_NUMBER];
  bool f32;
  number_text(num, buf, &f32);
  return f32 ? (double)text_to_float(buf) : text_to_double(buf);
}

static bool parse_int(parser_t *ps, int64_t *out, const char *what) {
  number_t num;
  return lex_number(ps, &num, what) && number_int(ps, &num, out);
}

/* Fresh dims are "?N": keep the module's counter past every N the text uses. */
static void note_fresh_dims(parser_t *ps, const char *s, const char *end) {
  for (const char *q = s; q < end; q++) {
    if (*q != '?' || !isdigit((unsigned char)q[1])) continue;
    unsigned long long n = 0;
    for (q++; q < end && isdigit((unsigned char)*q); q++) n = n < UINT32_MAX ? n * 10 + (unsigned)(*q - '0') : n;
    if (n > ps->m->next_fresh_dim) ps->m->next_fresh_dim = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX - 1;
  }
}

static bool parse_dim(parser_t *ps, const tcc_dim_t **out) {
  skip_ws(ps);
  const char *s = ps->p;
  int ops = 0;
  for (const char *q = s; *q && *q != ',' && *q != ']'; q++) {
    if (*q == '"') {
      for (q++; *q && *q != '"'; q++)
        if (*q == '\\' && q[1]) q++;
      if (!*q) break;
    } else if ((*q == '(' || *q == '-') && ++ops > MAX_DIM_OPS) {
      return fail_at(ps, s, "dim expression is too complex");
    }
  }
  const char *end = s;
  const tcc_dim_t *d = tcc_dim_parse(ps->m, s, &end);
  if (!d) return expected(ps, end, "a dim (constant, symbol or expression)");
  note_fresh_dims(ps, s, end);
  ps->p = end;
  *out = d;
  return true;
}

static bool parse_type(parser_t *ps, tcc_type_t *out);

/* `[*]`, `[]` or `[d, ...]` right after an element type. */
static bool parse_shape(parser_t *ps, tcc_type_t *out) {
  if (*ps->p != '[') return expected(ps, ps->p, "'[' right after the element type");
  ps->p++;
  out->rank = 0;
  out->dims = NULL;
  if (accept_char(ps, '*')) {
    out->rank = -1;
    return expect_char(ps, ']', "']' after '*'");
  }
  if (accept_char(ps, ']')) return true;
  const tcc_dim_t **dims = NULL;
  size_t count = 0, cap = 0;
  do {
    if (count >= INT32_MAX) return fail_at(ps, ps->p, "too many dims");
    if (!(dims = grow(ps, dims, sizeof *dims, count, &cap))) return false;
    if (!parse_dim(ps, &dims[count])) return false;
    count++;
  } while (accept_char(ps, ','));
  out->rank = (int)count;
  out->dims = dims;
  return expect_char(ps, ']', "',' or ']' in the shape");
}

static bool parse_type_inner(parser_t *ps, tcc_type_t *out) {
  memset(out, 0, sizeof *out);
  out->rank = -1;
  skip_ws(ps);
  const char *at = ps->p;
  if (*at == '?') {
    ps->p++;
    if (*ps->p != '[') return true; /* TCC_TYPE_UNKNOWN */
    out->kind = TCC_TYPE_TENSOR;
    out->dtype = TCC_DTYPE_UNDEFINED;
    return parse_shape(ps, out);
  }
  char w[32];
  if (!peek_word_into(ps, w, sizeof w)) return expected(ps, at, "a type");
  if (strcmp(w, "seq") == 0 || strcmp(w, "opt") == 0) {
    ps->p += strlen(w);
    out->kind = w[0] == 's' ? TCC_TYPE_SEQUENCE : TCC_TYPE_OPTIONAL;
    tcc_type_t *elem = tcc_arena_calloc(&ps->m->arena, 1, sizeof *elem);
    if (!elem) return oom(ps);
    out->elem = elem;
    return expect_char(ps, '<', "'<' after seq/opt") && parse_type(ps, elem) &&
           expect_char(ps, '>', "'>' closing the element type");
  }
  tcc_dtype_t dt;
  if (!tcc_dtype_from_name(w, &dt)) return expected(ps, at, "a type (f32[...], ?, seq<...>, opt<...>)");
  ps->p += strlen(w);
  out->kind = TCC_TYPE_TENSOR;
  out->dtype = dt;
  return parse_shape(ps, out);
}

static bool parse_type(parser_t *ps, tcc_type_t *out) {
  if (ps->depth >= MAX_DEPTH) return fail_at(ps, ps->p, "nesting is too deep");
  ps->depth++;
  bool ok = parse_type_inner(ps, out);
  ps->depth--;
  return ok;
}

static void unmap(void *ctx) {
  const size_t *mapping = ctx; /* {address, length} */
  munmap((void *)(uintptr_t)mapping[0], mapping[1]);
}

/* Zeroed read-only data: arena memory, or zero pages for big elided constants. */
static const void *zero_data(parser_t *ps, int64_t nbytes) {
  if (nbytes < MMAP_BYTES) {
    void *p = tcc_arena_calloc(&ps->m->arena, 1, (size_t)nbytes);
    return p ? p : (oom(ps), NULL);
  }
  if ((uint64_t)nbytes > SIZE_MAX / 2) return oom(ps), NULL;
  size_t *mapping = tcc_arena_alloc(&ps->m->arena, 2 * sizeof *mapping);
  if (!mapping) return oom(ps), NULL;
  void *p = mmap(NULL, (size_t)nbytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return oom(ps), NULL;
  mapping[0] = (size_t)p;
  mapping[1] = (size_t)nbytes;
  tcc_status_t st = tcc_module_on_destroy(ps->m, unmap, mapping);
  if (st) {
    tcc_status_free(st);
    munmap(p, (size_t)nbytes);
    return oom(ps), NULL;
  }
  return p;
}

static bool parse_element(parser_t *ps, tcc_dtype_t dt, const codec_t *codec, uint8_t *data, int64_t i) {
  const char *at = (skip_ws(ps), ps->p);
  if (dt == TCC_DTYPE_STRING) {
    tcc_bytes_t s;
    if (!parse_string(ps, &s)) return false;
    memcpy(data + (size_t)i * sizeof s, &s, sizeof s);
    return true;
  }
  if (dt == TCC_DTYPE_BOOL && (peek_word(ps, "true") || peek_word(ps, "false"))) {
    store_bits(data, dt, i, *ps->p == 't');
    ps->p += *ps->p == 't' ? 4 : 5;
    return true;
  }
  number_t num;
  if (!lex_number(ps, &num, dt == TCC_DTYPE_BOOL ? "true, false or a number" : "a number")) return false;
  if (tcc_dtype_is_float(dt)) {
    char buf[MAX_NUMBER];
    bool f32;
    number_text(&num, buf, &f32);
    store_bits(data, dt, i, codec_encode(codec, buf));
    return true;
  }
  if (num.is_float) return expected(ps, at, "an integer");
  char buf[MAX_NUMBER];
  bool f32;
  number_text(&num, buf, &f32);
  errno = 0;
  if (dt == TCC_DTYPE_U64) {
    unsigned long long u = strtoull(buf, NULL, 10);
    if (errno || buf[0] == '-') return fail_at(ps, at, "value out of range for u64");
    store_bits(data, dt, i, u);
    return true;
  }
  long long v = strtoll(buf, NULL, 10);
  int bits = tcc_dtype_bits(dt);
  bool is_signed = tcc_dtype_is_signed_int(dt);
  long long lo = !is_signed ? 0 : bits == 64 ? LLONG_MIN : -(1LL << (bits - 1));
  long long hi = bits == 64 ? LLONG_MAX : is_signed ? (1LL << (bits - 1)) - 1 : (1LL << bits) - 1;
  if (errno || v < lo || v > hi) return fail_at(ps, at, "value out of range for %s", tcc_dtype_name(dt));
  store_bits(data, dt, i, (uint64_t)v);
  return true;
}

/* `[TYPE] dense<[e, ...] | elided[, N bytes] | 0xHEX>`; TYPE may be left out when ctx gives it. */
static bool parse_tensor(parser_t *ps, const tcc_type_t *ctx, const tcc_tensor_t **out) {
  skip_ws(ps);
  const char *at = ps->p;
  tcc_type_t type;
  if (!peek_word(ps, "dense")) {
    if (!parse_type(ps, &type)) return false;
    ctx = &type;
  } else if (!ctx) {
    return expected(ps, at, "the tensor's type before 'dense'");
  }
  if (ctx->kind != TCC_TYPE_TENSOR || !tcc_dtype_is_valid((int)ctx->dtype) || ctx->rank < 0)
    return fail_at(ps, at, "a constant needs a known dtype and rank");
  int64_t *dims = tcc_arena_alloc(&ps->m->arena, (size_t)(ctx->rank ? ctx->rank : 1) * sizeof *dims);
  if (!dims) return oom(ps);
  int64_t numel = 1;
  for (int i = 0; i < ctx->rank; i++) {
    if (!tcc_dim_is_const(ctx->dims[i]) || (dims[i] = tcc_dim_value(ctx->dims[i])) < 0)
      return fail_at(ps, at, "a constant needs constant, non-negative dims");
    if (__builtin_mul_overflow(numel, dims[i], &numel)) return fail_at(ps, at, "constant is too large");
  }
  tcc_dtype_t dt = ctx->dtype;
  int64_t nbytes = data_bytes(dt, numel);
  if (nbytes < 0 || nbytes > MAX_CONSTANT_BYTES) return fail_at(ps, at, "constant is too large");
  if (!accept_word(ps, "dense")) return expected(ps, ps->p, "'dense'");
  if (!expect_char(ps, '<', "'<' after 'dense'")) return false;
  skip_ws(ps);
  const char *body = ps->p;
  const void *data;
  if (accept_word(ps, "elided")) {
    if (accept_char(ps, ',')) {
      int64_t n;
      if (!parse_int(ps, &n, "the byte count")) return false;
      if (!accept_word(ps, "bytes")) return expected(ps, ps->p, "'bytes'");
      if (n != nbytes)
        return fail_at(ps, body, "elided size %" PRId64 " does not match the type (%" PRId64 " bytes)", n, nbytes);
    }
    if (!(data = zero_data(ps, nbytes))) return false;
  } else if (body[0] == '0' && body[1] == 'x') {
    if (nbytes > (ps->end - body) / 2) return fail_at(ps, body, "expected %" PRId64 " bytes of hex data", nbytes);
    uint8_t *bytes = tcc_arena_alloc(&ps->m->arena, (size_t)nbytes);
    if (!bytes) return oom(ps);
    const char *q = body + 2;
    for (int64_t i = 0; i < nbytes; i++, q += 2) {
      int hi = hex_digit(q[0]), lo = hi >= 0 ? hex_digit(q[1]) : -1;
      if (hi < 0 || lo < 0) return fail_at(ps, body, "expected %" PRId64 " bytes of hex data", nbytes);
      bytes[i] = (uint8_t)(hi * 16 + lo);
    }
    if (isxdigit((unsigned char)*q)) return fail_at(ps, body, "expected %" PRId64 " bytes of hex data", nbytes);
    ps->p = q;
    data = bytes;
  } else {
    if (!expect_char(ps, '[', "'[', 'elided' or 0x hex data")) return false;
    if (is_complex(dt)) return fail_at(ps, body, "complex constants are written as 0x hex data");
    if (numel > ps->end - ps->p) return fail_at(ps, body, "expected %" PRId64 " elements", numel);
    uint8_t *bytes = tcc_arena_calloc(&ps->m->arena, 1, (size_t)nbytes);
    if (!bytes) return oom(ps);
    codec_t codec;
    if (tcc_dtype_is_float(dt)) codec_init(&codec, dt);
    for (int64_t i = 0; i < numel; i++) {
      if (i && !accept_char(ps, ',')) {
        skip_ws(ps);
        return fail_at(ps, ps->p, "expected %" PRId64 " elements, found %" PRId64, numel, i);
      }
      if (!parse_element(ps, dt, &codec, bytes, i)) return false;
    }
    if (!accept_char(ps, ']')) return expected(ps, ps->p, numel ? "']' after the last element" : "']' (no elements)");
    data = bytes;
  }
  if (!expect_char(ps, '>', "'>' closing the constant")) return false;
  tcc_tensor_t *t = tcc_arena_alloc(&ps->m->arena, sizeof *t);
  if (!t) return oom(ps);
  *t = (tcc_tensor_t){dt, ctx->rank, dims, numel, data, (size_t)nbytes};
  *out = t;
  return true;
}

static bool parse_graph(parser_t *ps, tcc_graph_t *parent, tcc_graph_t **out);

/* Elements of a list attribute after '['; kind -1 infers it from the first element. */
static bool parse_list(parser_t *ps, tcc_graph_t *g, int kind, tcc_attr_t *a) {
  skip_ws(ps);
  if (kind < 0) {
    char w[32];
    tcc_dtype_t dt;
    char c = *ps->p;
    if (c == ']' || c == '-' || isdigit((unsigned char)c) || peek_word(ps, "inf") || peek_word(ps, "nan"))
      kind = TCC_ATTR_INTS; /* or FLOATS: decided by the numbers */
    else if (*ps->p == '"') kind = TCC_ATTR_STRINGS;
    else if (peek_word(ps, "graph")) kind = TCC_ATTR_GRAPHS;
    else if (peek_word_into(ps, w, sizeof w) && tcc_dtype_from_name(w, &dt)) kind = TCC_ATTR_TENSORS;
    else return expected(ps, ps->p, "a list element (number, string, tensor or graph)");
  }
  bool numbers = kind == TCC_ATTR_INTS || kind == TCC_ATTR_FLOATS, any_float = false;
  size_t elem = numbers ? sizeof(number_t)
              : kind == TCC_ATTR_STRINGS ? sizeof(tcc_bytes_t)
              : kind == TCC_ATTR_TYPES ? sizeof(tcc_type_t)
              : sizeof(void *);
  void *items = NULL;
  size_t count = 0, cap = 0;
  if (!accept_char(ps, ']')) {
    do {
      if (!(items = grow(ps, items, elem, count, &cap))) return false;
      void *item = (char *)items + count * elem;
      bool ok;
      switch (kind) {
        case TCC_ATTR_STRINGS: ok = parse_string(ps, item); break;
        case TCC_ATTR_TENSORS: ok = parse_tensor(ps, NULL, item); break;
        case TCC_ATTR_GRAPHS: ok = parse_graph(ps, g, item); break;
        case TCC_ATTR_TYPES: ok = parse_type(ps, item); break;
        case TCC_ATTR_DIMS: ok = parse_dim(ps, item); break;
        default:
          ok = lex_number(ps, item, "a number");
          any_float |= ok && ((number_t *)item)->is_float;
      }
      if (!ok) return false;
      count++;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, ']', "',' or ']' in the list")) return false;
  }
  if (numbers && any_float && kind == TCC_ATTR_INTS && a->kind != TCC_ATTR_INTS) kind = TCC_ATTR_FLOATS;
  a->kind = (tcc_attr_kind_t)kind;
  a->count = (int64_t)count;
  if (kind == TCC_ATTR_INTS || kind == TCC_ATTR_FLOATS) {
    const number_t *nums = items;
    void *values = tcc_arena_alloc(&ps->m->arena, (count ? count : 1) * 8);
    if (!values) return oom(ps);
    for (size_t i = 0; i < count; i++) {
      if (kind == TCC_ATTR_FLOATS) ((double *)values)[i] = number_double(&nums[i]);
      else if (!number_int(ps, &nums[i], &((int64_t *)values)[i])) return false;
    }
    if (kind == TCC_ATTR_INTS) a->ints = values;
    else a->floats = values;
    return true;
  }
  if (!items && !(items = tcc_arena_alloc(&ps->m->arena, elem))) return oom(ps);
  switch (kind) {
    case TCC_ATTR_STRINGS: a->strings = items; break;
    case TCC_ATTR_TENSORS: a->tensors = items; break;
    case TCC_ATTR_GRAPHS: a->graphs = items; break;
    case TCC_ATTR_TYPES: a->types = items; break;
    default: a->dims = items;
  }
  return true;
}

static bool parse_attr_value(parser_t *ps, tcc_graph_t *g, tcc_attr_t *a) {
  skip_ws(ps);
  const char *at = ps->p;
  if (*at == '"') {
    a->kind = TCC_ATTR_STRING;
    return parse_string(ps, &a->s);
  }
  if (*at == '[') {
    ps->p++;
    return parse_list(ps, g, -1, a);
  }
  if (*at == '-' || isdigit((unsigned char)*at) || peek_word(ps, "inf") || peek_word(ps, "nan")) {
    number_t num;
    if (!lex_number(ps, &num, "a number")) return false;
    a->kind = num.is_float ? TCC_ATTR_FLOAT : TCC_ATTR_INT;
    if (num.is_float) a->f = number_double(&num);
    return num.is_float || number_int(ps, &num, &a->i);
  }
  if (peek_word(ps, "graph")) {
    a->kind = TCC_ATTR_GRAPH;
    return parse_graph(ps, g, &a->g);
  }
  if (accept_word(ps, "type")) {
    a->kind = TCC_ATTR_TYPE;
    return parse_type(ps, &a->type);
  }
  for (int k = TCC_ATTR_INTS; k <= TCC_ATTR_DIMS; k++)
    if (accept_word(ps, tcc_attr_kind_name((tcc_attr_kind_t)k))) {
      a->kind = (tcc_attr_kind_t)k; /* an explicit INTS stays INTS */
      return expect_char(ps, '[', "'[' after the list kind") && parse_list(ps, g, k, a);
    }
  char w[32];
  tcc_dtype_t dt;
  if (peek_word_into(ps, w, sizeof w) && tcc_dtype_from_name(w, &dt)) {
    a->kind = TCC_ATTR_TENSOR;
    return parse_tensor(ps, NULL, &a->t);
  }
  return expected(ps, at, "an attribute value");
}

/* `{name = value, ...}` after '{'. */
static bool parse_attrs(parser_t *ps, tcc_graph_t *g, tcc_attr_t **out, int *count_out) {
  tcc_attr_t *attrs = NULL;
  size_t count = 0, cap = 0;
  tcc_strmap_t seen; /* names, to refuse duplicates */
  tcc_strmap_init(&seen, &ps->m->arena);
  if (!accept_char(ps, '}')) {
    do {
      skip_ws(ps);
      const char *at = ps->p;
      if (count >= INT32_MAX || !(attrs = grow(ps, attrs, sizeof *attrs, count, &cap))) return oom(ps);
      tcc_attr_t *a = &attrs[count];
      memset(a, 0, sizeof *a);
      a->kind = TCC_ATTR_KIND_COUNT;
      if (!parse_name(ps, &a->name, "an attribute name")) return false;
      if (tcc_strmap_get(&seen, a->name)) return fail_at(ps, at, "duplicate attribute '%s'", a->name);
      if (!tcc_strmap_put(&seen, a->name, a)) return oom(ps);
      if (!expect_char(ps, '=', "'=' after the attribute name") || !parse_attr_value(ps, g, a)) return false;
      count++;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, '}', "',' or '}' in the attributes")) return false;
  }
  *out = attrs;
  *count_out = (int)count;
  return true;
}

/* Refuses a name that g already defines. */
static bool check_new_name(parser_t *ps, tcc_graph_t *g, const char *name, const char *at) {
  if (tcc_strmap_get(&g->by_name, name)) return fail_at(ps, at, "value %%%s is already defined", name);
  note_value_name(ps, name);
  return true;
}

/* `%c = const TENSOR [: TYPE]` after `const`. */
static bool parse_const(parser_t *ps, tcc_graph_t *g, const char *name, const char *at) {
  const tcc_tensor_t *t;
  tcc_type_t type;
  if (!parse_tensor(ps, NULL, &t)) return false;
  bool typed = accept_char(ps, ':');
  if ((typed && !parse_type(ps, &type)) || !check_new_name(ps, g, name, at)) return false;
  tcc_value_t *v = tcc_graph_add_constant(g, name, t);
  if (!v) return oom(ps);
  if (typed) v->type = type;
  return true;
}

typedef struct {
  const char *name; /* NULL for `_` */
  const char *at;
  tcc_type_t type;
  const tcc_tensor_t *constant;
} result_t;

/* `[ key = value, ... ]` after '[': the node's origin. */
static bool parse_origin(parser_t *ps, tcc_node_t *n) {
  do {
    skip_ws(ps);
    const char *at = ps->p;
    if (accept_word(ps, "domain")) {
      if (!expect_char(ps, '=', "'='") || !parse_cstring(ps, &n->domain)) return false;
    } else if (accept_word(ps, "op_type")) {
      if (!expect_char(ps, '=', "'='") || !parse_cstring(ps, &n->op_type)) return false;
    } else if (accept_word(ps, "opset")) {
      if (!expect_char(ps, '=', "'='") || !parse_int(ps, &n->opset, "the opset version")) return false;
    } else if (accept_word(ps, "reason")) {
      if (!expect_char(ps, '=', "'='") || !parse_cstring(ps, &n->unsupported)) return false;
    } else {
      return expected(ps, at, "domain, op_type, opset or reason");
    }
  } while (accept_char(ps, ','));
  return expect_char(ps, ']', "',' or ']' after the node's origin");
}

/* One line of a graph body: a constant or a node. */
static bool parse_statement(parser_t *ps, tcc_graph_t *g) {
  result_t *results = NULL;
  size_t nresults = 0, cap = 0, named = 0;
  skip_ws(ps);
  if (*ps->p == '%' || (*ps->p == '_' && !is_name_char((unsigned char)ps->p[1]))) {
    do {
      skip_ws(ps);
      if (nresults >= INT32_MAX || !(results = grow(ps, results, sizeof *results, nresults, &cap))) return oom(ps);
      result_t *r = &results[nresults];
      memset(r, 0, sizeof *r);
      r->at = ps->p;
      if (*ps->p == '_' && !is_name_char((unsigned char)ps->p[1])) ps->p++;
      else if (!parse_value_name(ps, &r->name)) return false;
      else named++;
      nresults++;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, '=', "'=' after the results")) return false;
  }
  skip_ws(ps);
  const char *op_at = ps->p;
  char w[64];
  if (!peek_word_into(ps, w, sizeof w))
    return expected(ps, op_at, nresults ? "an op name or 'const'" : "a node, a value or '}'");
  ps->p += strlen(w);
  if (strcmp(w, "const") == 0) {
    if (nresults != 1 || !results[0].name) return fail_at(ps, op_at, "'const' defines exactly one named value");
    return parse_const(ps, g, results[0].name, results[0].at);
  }
  tcc_op_t op;
  if (!tcc_op_from_name(w, &op)) return fail_at(ps, op_at, "unknown op '%s'", w);
  if (!expect_char(ps, '(', "'(' after the op name")) return false;
  tcc_value_t **inputs = NULL;
  size_t ninputs = 0, icap = 0;
  if (!accept_char(ps, ')')) {
    do {
      skip_ws(ps);
      const char *at = ps->p;
      if (ninputs >= INT32_MAX || !(inputs = grow(ps, inputs, sizeof *inputs, ninputs, &icap))) return oom(ps);
      const char *name;
      if (*ps->p == '_' && !is_name_char((unsigned char)ps->p[1])) {
        ps->p++;
        inputs[ninputs++] = NULL;
        continue;
      }
      if (!parse_value_name(ps, &name)) return false;
      if (!(inputs[ninputs++] = tcc_graph_find(g, name))) return fail_at(ps, at, "undefined value %%%s", name);
    } while (accept_char(ps, ','));
    if (!expect_char(ps, ')', "',' or ')' after the inputs")) return false;
  }
  tcc_attr_t *attrs = NULL;
  int nattrs = 0;
  if (accept_char(ps, '{') && !parse_attrs(ps, g, &attrs, &nattrs)) return false;
  if (named) {
    if (!expect_char(ps, ':', "':' and the result types")) return false;
    for (size_t i = 0, k = 0; i < nresults; i++) {
      if (!results[i].name) continue;
      if (k++ && !expect_char(ps, ',', "',' and the type of the next result")) return false;
      if (!parse_type(ps, &results[i].type)) return false;
      if (accept_char(ps, '=') && !parse_tensor(ps, &results[i].type, &results[i].constant)) return false;
    }
  }
  const char *node_name = NULL;
  if (accept_char(ps, '@') && !parse_name(ps, &node_name, "the node's name after '@'")) return false;
  tcc_node_t *n = tcc_graph_add_node(g, op, node_name, (int)ninputs, (int)nresults);
  if (!n) return oom(ps);
  if (accept_char(ps, '[') && !parse_origin(ps, n)) return false;
  if (ninputs) memcpy(n->inputs, inputs, ninputs * sizeof *inputs);
  n->attrs = attrs;
  n->num_attrs = nattrs;
  for (size_t i = 0; i < nresults; i++) {
    if (!results[i].name) continue;
    tcc_value_t *v;
    if (!check_new_name(ps, g, results[i].name, results[i].at)) return false;
    if (!(v = tcc_graph_add_value(g, results[i].name))) return oom(ps);
    v->type = results[i].type;
    v->constant = results[i].constant;
    tcc_node_set_output(n, (int)i, v);
  }
  return true;
}

/* `graph NAME(%in: TYPE [= TENSOR], ...) -> (%out, ...) { statements }`; parent NULL: the main graph. */
static bool parse_graph_inner(parser_t *ps, tcc_graph_t *parent, tcc_graph_t **out) {
  if (!accept_word(ps, "graph")) return expected(ps, ps->p, "'graph'");
  const char *name;
  if (!parse_name(ps, &name, "the graph's name")) return false;
  tcc_graph_t *g = parent ? tcc_graph_create(ps->m, parent, name) : ps->m->graph;
  if (!g) return oom(ps);
  g->name = name;
  *out = g;
  if (!expect_char(ps, '(', "'(' and the graph's inputs")) return false;
  if (!accept_char(ps, ')')) {
    do {
      skip_ws(ps);
      const char *at = ps->p, *vname;
      tcc_type_t type;
      if (!parse_value_name(ps, &vname) || !expect_char(ps, ':', "':' and the input's type") || !parse_type(ps, &type))
        return false;
      tcc_value_t *v;
      if (!check_new_name(ps, g, vname, at)) return false;
      if (!(v = tcc_graph_add_input(g, vname))) return oom(ps);
      v->type = type;
      if (accept_char(ps, '=') && !parse_tensor(ps, &v->type, &v->constant)) return false;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, ')', "',' or ')' after the inputs")) return false;
  }
  skip_ws(ps);
  if (ps->p[0] != '-' || ps->p[1] != '>') return expected(ps, ps->p, "'->' and the graph's outputs");
  ps->p += 2;
  if (!expect_char(ps, '(', "'(' and the graph's outputs")) return false;
  result_t *outs = NULL;
  size_t nouts = 0, cap = 0;
  if (!accept_char(ps, ')')) {
    do {
      skip_ws(ps);
      if (!(outs = grow(ps, outs, sizeof *outs, nouts, &cap))) return false;
      outs[nouts].at = ps->p;
      if (!parse_value_name(ps, &outs[nouts].name)) return false;
      nouts++;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, ')', "',' or ')' after the outputs")) return false;
  }
  if (!expect_char(ps, '{', "'{' opening the graph's body")) return false;
  while (!accept_char(ps, '}'))
    if (!parse_statement(ps, g)) return false;
  for (size_t i = 0; i < nouts; i++) {
    tcc_value_t *v = tcc_graph_find(g, outs[i].name);
    if (!v) return fail_at(ps, outs[i].at, "undefined output %%%s", outs[i].name);
    if (!tcc_graph_add_output(g, v)) return oom(ps);
  }
  return true;
}

static bool parse_graph(parser_t *ps, tcc_graph_t *parent, tcc_graph_t **out) {
  if (ps->depth >= MAX_DEPTH) return fail_at(ps, ps->p, "nesting is too deep");
  ps->depth++;
  bool ok = parse_graph_inner(ps, parent, out);
  ps->depth--;
  return ok;
}

/* `module {key = value, ...}`, `opsets {...}`, `metadata {...}`: each optional, in this order. */
static bool parse_header(parser_t *ps) {
  tcc_module_t *m = ps->m;
  if (accept_word(ps, "module") && accept_char(ps, '{') && !accept_char(ps, '}')) {
    do {
      skip_ws(ps);
      const char *at = ps->p;
      char w[32];
      if (!peek_word_into(ps, w, sizeof w)) return expected(ps, at, "a module field");
      ps->p += strlen(w);
      if (!expect_char(ps, '=', "'=' after the field name")) return false;
      bool ok;
      if (strcmp(w, "ir_version") == 0) ok = parse_int(ps, &m->ir_version, "the IR version");
      else if (strcmp(w, "model_version") == 0) ok = parse_int(ps, &m->model_version, "the model version");
      else if (strcmp(w, "producer_name") == 0) ok = parse_cstring(ps, &m->producer_name);
      else if (strcmp(w, "producer_version") == 0) ok = parse_cstring(ps, &m->producer_version);
      else if (strcmp(w, "domain") == 0) ok = parse_cstring(ps, &m->domain);
      else if (strcmp(w, "doc") == 0) ok = parse_cstring(ps, &m->doc);
      else return expected(ps, at, "a module field (ir_version, model_version, producer_name, ...)");
      if (!ok) return false;
    } while (accept_char(ps, ','));
    if (!expect_char(ps, '}', "',' or '}' in the module fields")) return false;
  }
  if (accept_word(ps, "opsets")) {
    if (!expect_char(ps, '{', "'{' after 'opsets'")) return false;
    size_t cap = 0;
    if (!accept_char(ps, '}')) {
      do {
        if (!(m->opsets = grow(ps, m->opsets, sizeof *m->opsets, m->num_opsets, &cap))) return false;
        tcc_opset_t *o = &m->opsets[m->num_opsets];
        if (!parse_cstring(ps, &o->domain) || !expect_char(ps, ':', "':' after the domain") ||
            !parse_int(ps, &o->version, "the opset version"))
          return false;
        m->num_opsets++;
      } while (accept_char(ps, ','));
      if (!expect_char(ps, '}', "',' or '}' in the opsets")) return false;
    }
  }
  if (accept_word(ps, "metadata")) {
    if (!expect_char(ps, '{', "'{' after 'metadata'")) return false;
    size_t cap = 0;
    if (!accept_char(ps, '}')) {
      do {
        if (!(m->metadata = grow(ps, m->metadata, sizeof *m->metadata, m->num_metadata, &cap))) return false;
        tcc_string_pair_t *kv = &m->metadata[m->num_metadata];
        if (!parse_cstring(ps, &kv->key) || !expect_char(ps, ':', "':' after the key") ||
            !parse_cstring(ps, &kv->value))
          return false;
        m->num_metadata++;
      } while (accept_char(ps, ','));
      if (!expect_char(ps, '}', "',' or '}' in the metadata")) return false;
    }
  }
  return true;
}

tcc_status_t tcc_text_parse(const char *text, tcc_allocator_t allocator, tcc_module_t **out) {
  *out = NULL;
  if (!text) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_text_parse: null text");
  tcc_module_t *m;
  TCC_RETURN_IF_ERROR(tcc_module_create(allocator, &m));
  parser_t ps = {text, text, text + strlen(text), m, NULL, 0};
  tcc_graph_t *g;
  if (parse_header(&ps) && parse_graph(&ps, NULL, &g)) {
    skip_ws(&ps);
    if (*ps.p) expected(&ps, ps.p, "end of input after the graph");
  }
  tcc_status_t st = ps.error ? ps.error : tcc_module_check(m);
  if (st) {
    tcc_module_destroy(m);
    return st;
  }
  *out = m;
  return NULL;
}
