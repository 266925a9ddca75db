/* Host operators over strings: StringConcat, StringSplit, StringNormalizer, RegexFullMatch, Cast and
 * CastLike to and from strings, Equal on strings and TfIdfVectorizer (contract in ir/host_ops.h).
 *
 * Strings are UTF-8 bytes. Numbers print as numpy's str() does (ONNX's reference Cast is
 * x.astype(np.str_), and the backend tests hold its output): the shortest digits that read back to the
 * same value of the source type, positional for 1e-4 <= |x| < 1e16 ("0.1", "100.0"), scientific
 * otherwise ("1e-05", "1.5e+16"), "nan", "inf", "-inf" (numpy <= 2.2; numpy 2.3 moved the f32 cut-off to
 * 1e6 and f16's to 1e3); integers in decimal, bools "True" / "False". Parsing accepts plain and scientific forms and "NaN", "INF", "+INF", "-INF" in any case.
 * Case mapping uses the C.UTF-8 locale's tables where the C library has them (ASCII otherwise); regular
 * expressions are RE2 patterns translated to POSIX extended syntax, and constructs without a POSIX
 * equivalent are reported as unsupported. */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "ir/host_util.h"

static tcc_status_t need_strings(const tcc_tensor_t *const *in, int count) {
  for (int i = 0; i < count; i++) {
    if (!in[i]) return tcc_status_make(TCC_INVALID_ARGUMENT, "input %d is missing", i);
    if (in[i]->dtype != TCC_DTYPE_STRING)
      return tcc_status_make(TCC_UNSUPPORTED, "input %d is %s, not a string tensor", i, tcc_dtype_name(in[i]->dtype));
  }
  return NULL;
}

/* A growable byte buffer in the module arena. */
typedef struct {
  tcc_module_t *m;
  char *data;
  size_t len, cap;
} buf_t;

static bool buf_put(buf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *data = tcc_module_alloc(b->m, cap);
    if (!data) return false;
    if (b->len) memcpy(data, b->data, b->len);
    b->data = data, b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
  return true;
}

static bool buf_str(buf_t *b, const char *s) { return buf_put(b, s, strlen(s)); }

/* ---- StringConcat, Equal --------------------------------------------------------------------------- */

typedef struct {
  int rank;
  int64_t dims[64];
} shape_t;

static tcc_status_t broadcast(const tcc_tensor_t *a, const tcc_tensor_t *b, shape_t *s) {
  if (a->rank > 64 || b->rank > 64) return tcc_status_make(TCC_UNSUPPORTED, "rank above 64");
  if (!tcc_host_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &s->rank, s->dims))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "the input shapes do not broadcast");
  return NULL;
}

tcc_status_t tcc_host_string_concat(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_strings(in, 2));
  shape_t s;
  TCC_RETURN_IF_ERROR(broadcast(in[0], in[1], &s));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_STRING, s.rank, s.dims));
  if (!out[0]) return NULL;
  for (int64_t o = 0; o < out[0]->numel; o++) {
    tcc_bytes_t x = tcc_host_str(in[0], tcc_host_broadcast_offset(o, s.rank, s.dims, in[0]->rank, in[0]->dims));
    tcc_bytes_t y = tcc_host_str(in[1], tcc_host_broadcast_offset(o, s.rank, s.dims, in[1]->rank, in[1]->dims));
    buf_t b = {m, NULL, 0, 0};
    if (!buf_put(&b, x.data, x.size) || !buf_put(&b, y.data, y.size) || !tcc_host_set_str(m, out[0], o, b.data, b.len))
      return tcc_status_oom();
  }
  return NULL;
}

/* Equal where both operands are strings (numeric Equal has a compute definition). */
tcc_status_t tcc_host_equal(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out) {
  if (!in[0] || !in[1]) return tcc_status_make(TCC_INVALID_ARGUMENT, "Equal needs two inputs");
  if (in[0]->dtype != TCC_DTYPE_STRING || in[1]->dtype != TCC_DTYPE_STRING)
    return tcc_status_make(TCC_UNSUPPORTED, "Equal over %s and %s is not supported", tcc_dtype_name(in[0]->dtype),
                           tcc_dtype_name(in[1]->dtype));
  shape_t s;
  TCC_RETURN_IF_ERROR(broadcast(in[0], in[1], &s));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_BOOL, s.rank, s.dims));
  if (!out[0]) return NULL;
  for (int64_t o = 0; o < out[0]->numel; o++) {
    int64_t i = tcc_host_broadcast_offset(o, s.rank, s.dims, in[0]->rank, in[0]->dims);
    int64_t j = tcc_host_broadcast_offset(o, s.rank, s.dims, in[1]->rank, in[1]->dims);
    ((uint8_t *)out[0]->data)[o] = tcc_host_compare(in[0], i, in[1], j) == 0;
  }
  return NULL;
}

/* ---- StringSplit ----------------------------------------------------------------------------------- */

/* Python's str.isspace over ASCII (the separators of str.split() without a delimiter). */
static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

typedef struct {
  const char *p;
  size_t n;
} piece_t;

/* Splits s as Python's str.split(sep, maxsplit) (sep NULL: runs of whitespace, ends trimmed); pieces
 * NULL only counts. Returns the number of pieces. */
static int64_t split(tcc_bytes_t s, const char *sep, size_t sep_len, int64_t maxsplit, piece_t *pieces) {
  int64_t count = 0;
  size_t i = 0;
  if (!sep) {
    for (;;) {
      while (i < s.size && is_space(s.data[i])) i++;
      if (i == s.size) break;
      size_t j = s.size;
      if (maxsplit < 0 || count < maxsplit)
        for (j = i; j < s.size && !is_space(s.data[j]);) j++;
      if (pieces) pieces[count] = (piece_t){s.data + i, j - i};
      count++;
      i = j;
    }
    return count;
  }
  for (;;) {
    const char *hit = (maxsplit < 0 || count < maxsplit) && s.size - i >= sep_len
                          ? memmem(s.data + i, s.size - i, sep, sep_len)
                          : NULL;
    size_t j = hit ? (size_t)(hit - s.data) : s.size;
    if (pieces) pieces[count] = (piece_t){s.data + i, j - i};
    count++;
    if (!hit) break;
    i = j + sep_len;
  }
  return count;
}

/* Y [..., max pieces] padded with empty strings; Z: the number of pieces of each element. */
tcc_status_t tcc_host_string_split(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                   tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_strings(in, 1));
  const tcc_tensor_t *x = in[0];
  const tcc_attr_t *d = tcc_node_attr(node, "delimiter");
  const char *sep = d && d->kind == TCC_ATTR_STRING && d->s.size ? d->s.data : NULL;
  size_t sep_len = sep ? d->s.size : 0;
  int64_t maxsplit = tcc_node_attr_int(node, "maxsplit", -1);
  if (x->rank >= 64) return tcc_status_make(TCC_UNSUPPORTED, "rank above 63");
  int64_t most = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t c = split(tcc_host_str(x, i), sep, sep_len, maxsplit, NULL);
    if (c > most) most = c;
  }
  int64_t dims[64];
  memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
  dims[x->rank] = most;
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_STRING, x->rank + 1, dims));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 1, TCC_DTYPE_I64, x->rank, x->dims));
  piece_t *pieces = tcc_host_scratch(m, most, sizeof *pieces);
  if (!pieces) return tcc_status_oom();
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t c = split(tcc_host_str(x, i), sep, sep_len, maxsplit, pieces);
    if (out[0])
      for (int64_t j = 0; j < c; j++)
        if (!tcc_host_set_str(m, out[0], i * most + j, pieces[j].p, pieces[j].n)) return tcc_status_oom();
    if (node->num_outputs > 1 && out[1]) ((int64_t *)out[1]->data)[i] = c;
  }
  return NULL;
}

/* ---- StringNormalizer ------------------------------------------------------------------------------ */

/* One code point from s[*i..n) (an invalid byte is returned as itself, flagged by *raw). */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i, bool *raw) {
  unsigned c = s[*i];
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  *raw = false;
  if (len == 1 || len == 0 || *i + (size_t)len > n) {
    *raw = len != 1;
    return s[(*i)++];
  }
  uint32_t cp = c & (0x7f >> len);
  for (int k = 1; k < len; k++) {
    if ((s[*i + (size_t)k] & 0xc0) != 0x80) {
      *raw = true;
      return s[(*i)++];
    }
    cp = cp << 6 | (s[*i + (size_t)k] & 0x3f);
  }
  *i += (size_t)len;
  return cp;
}

static size_t utf8_put(uint32_t cp, char *out) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* s with every code point mapped to lower (upper) case; invalid UTF-8 bytes are kept. */
static bool change_case(tcc_module_t *m, locale_t loc, tcc_bytes_t s, bool upper, tcc_bytes_t *out) {
  char *d = tcc_module_alloc(m, s.size * 2 + 4); /* a mapped code point never needs more than twice */
  if (!d) return false;
  size_t i = 0, o = 0;
  const unsigned char *u = (const unsigned char *)s.data;
  while (i < s.size) {
    bool raw;
    uint32_t cp = utf8_next(u, s.size, &i, &raw);
    if (raw) {
      d[o++] = (char)cp;
      continue;
    }
    uint32_t mapped = cp;
    if (loc) mapped = (uint32_t)(upper ? towupper_l((wint_t)cp, loc) : towlower_l((wint_t)cp, loc));
    else if (cp < 0x80) mapped = (uint32_t)(upper ? toupper((int)cp) : tolower((int)cp));
    o += utf8_put(mapped, d + o);
  }
  d[o] = 0;
  *out = (tcc_bytes_t){d, o};
  return true;
}

static bool bytes_eq(tcc_bytes_t a, tcc_bytes_t b) { return a.size == b.size && (!a.size || !memcmp(a.data, b.data, a.size)); }

/* [C] or [1, C]: drops the elements equal to a stopword (compared case-insensitively unless
 * is_case_sensitive), then changes case (NONE, LOWER, UPPER). Nothing left gives [""] (or [[""]]). */
tcc_status_t tcc_host_string_normalizer(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                        tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_strings(in, 1));
  const tcc_tensor_t *x = in[0];
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "the input must be [C] or [1, C]");
  const char *action = tcc_node_attr_string(node, "case_change_action", "NONE");
  bool lower = strcmp(action, "LOWER") == 0, upper = strcmp(action, "UPPER") == 0;
  if (!lower && !upper && strcmp(action, "NONE") != 0)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "unknown case_change_action '%s' (NONE, LOWER or UPPER)", action);
  bool sensitive = tcc_node_attr_int(node, "is_case_sensitive", 0) != 0;
  const tcc_attr_t *stop = tcc_node_attr(node, "stopwords");
  int64_t nstop = stop && stop->kind == TCC_ATTR_STRINGS ? stop->count : 0;
  locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  tcc_status_t st = NULL;
  tcc_bytes_t *stops = tcc_host_scratch(m, nstop, sizeof *stops), *kept = tcc_host_scratch(m, x->numel, sizeof *kept);
  if (!stops || !kept) st = tcc_status_oom();
  for (int64_t i = 0; i < nstop && !st; i++)
    if (sensitive) stops[i] = stop->strings[i];
    else if (!change_case(m, loc, stop->strings[i], false, &stops[i])) st = tcc_status_oom();
  int64_t count = 0;
  for (int64_t i = 0; i < x->numel && !st; i++) {
    tcc_bytes_t s = tcc_host_str(x, i), key = s;
    if (!sensitive && nstop && !change_case(m, loc, s, false, &key)) st = tcc_status_oom();
    bool drop = false;
    for (int64_t j = 0; j < nstop && !drop && !st; j++) drop = bytes_eq(key, stops[j]);
    if (drop || st) continue;
    if ((lower || upper) && !change_case(m, loc, s, upper, &s)) st = tcc_status_oom();
    kept[count++] = s;
  }
  if (loc) freelocale(loc);
  TCC_RETURN_IF_ERROR(st);
  int64_t n = count ? count : 1, dims[2] = {1, n};
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_STRING, x->rank, x->rank == 1 ? dims + 1 : dims));
  for (int64_t i = 0; i < count && out[0]; i++)
    if (!tcc_host_set_str(m, out[0], i, kept[i].data, kept[i].size)) return tcc_status_oom();
  return NULL;
}

/* ---- RegexFullMatch -------------------------------------------------------------------------------- */

static bool is_ere_special(char c) { return c && strchr(".[]()*+?{}|^$\\", c) != NULL; }

static tcc_status_t regex_unsupported(const char *pattern, const char *what) {
  return tcc_status_make(TCC_UNSUPPORTED, "pattern '%s': %s has no POSIX extended equivalent", pattern, what);
}

/* A bracket expression starting at p[*i] == '[' translated to POSIX (escapes resolved, ']' first and
 * '-' last). */
static tcc_status_t translate_bracket(const char *p, size_t *i, buf_t *o) {
  size_t k = *i + 1;
  bool neg = false, rbracket = false, dash = false, caret = false;
  buf_t items = {o->m, NULL, 0, 0};
  if (!buf_put(&items, "", 0)) return tcc_status_oom();
  if (p[k] == '^') neg = true, k++;
  bool first = true;
  while (p[k] && (p[k] != ']' || first)) {
    first = false;
    char c = p[k];
    if (c == '[' && p[k + 1] == ':') { /* [:alpha:] */
      const char *end = strstr(p + k + 2, ":]");
      if (!end) return regex_unsupported(p, "an unterminated character class");
      if (!buf_put(&items, p + k, (size_t)(end + 2 - (p + k)))) return tcc_status_oom();
      k = (size_t)(end + 2 - p);
      continue;
    }
    char lit = c;
    if (c == '\\') {
      char e = p[k + 1];
      const char *cls = e == 'd' ? "0-9" : e == 'w' ? "A-Za-z0-9_" : e == 's' ? " \t\n\f\r" : NULL;
      if (cls) {
        if (!buf_str(&items, cls)) return tcc_status_oom();
        k += 2;
        continue;
      }
      if (e == 'D' || e == 'W' || e == 'S') return regex_unsupported(p, "a negated class escape inside brackets");
      if (isalnum((unsigned char)e) && !strchr("ntrfv", e)) return regex_unsupported(p, "this escape inside brackets");
      lit = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'f' ? '\f' : e == 'v' ? '\v' : e;
      if (!e) return regex_unsupported(p, "a trailing backslash");
      k += 2;
    } else {
      k++;
    }
    if (p[k] == '-' && p[k + 1] && p[k + 1] != ']') { /* a range lit-hi */
      char hi = p[k + 1];
      size_t step = 2;
      if (hi == '\\') {
        hi = p[k + 2];
        step = 3;
        if (!hi || isalnum((unsigned char)hi)) return regex_unsupported(p, "this range end inside brackets");
      }
      if (lit == ']' || lit == '-' || lit == '^' || hi == ']' || hi == '-' || hi == '^' || lit == '[' || hi == '[')
        return regex_unsupported(p, "a range over ']', '-', '^' or '['");
      char range[3] = {lit, '-', hi};
      if (!buf_put(&items, range, 3)) return tcc_status_oom();
      k += step;
      continue;
    }
    if (lit == ']') rbracket = true;
    else if (lit == '-') dash = true;
    else if (lit == '^') caret = true;
    else if (lit == '[') {
      if (!buf_put(&items, "[", 1)) return tcc_status_oom(); /* alone, '[' is literal in a bracket */
    } else if (!buf_put(&items, &lit, 1)) return tcc_status_oom();
  }
  if (p[k] != ']') return regex_unsupported(p, "an unterminated bracket expression");
  *i = k + 1;
  if (!neg && !rbracket && items.len == 0 && caret && !dash) return buf_str(o, "\\^") ? NULL : tcc_status_oom();
  if (!buf_str(o, neg ? "[^" : "[") || (rbracket && !buf_str(o, "]")) || !buf_put(o, items.data, items.len) ||
      (caret && !buf_str(o, "^")) || (dash && !buf_str(o, "-")) || !buf_str(o, "]"))
    return tcc_status_oom();
  return NULL;
}

/* An RE2 pattern as a POSIX extended expression matching the whole string. */
static tcc_status_t translate_re2(const char *p, buf_t *o) {
  if (!buf_str(o, "^(")) return tcc_status_oom();
  bool after_quantifier = false;
  for (size_t i = 0; p[i];) {
    char c = p[i];
    bool quantifier = false;
    tcc_status_t st = NULL;
    if (c == '\\') {
      char e = p[i + 1];
      const char *rep = e == 'd' ? "[0-9]" : e == 'D' ? "[^0-9]" : e == 'w' ? "[A-Za-z0-9_]" : e == 'W' ? "[^A-Za-z0-9_]"
                      : e == 's' ? "[ \t\n\f\r]" : e == 'S' ? "[^ \t\n\f\r]" : e == 'b' ? "\\b" : e == 'B' ? "\\B"
                      : e == 'n' ? "\n" : e == 't' ? "\t" : e == 'r' ? "\r" : e == 'f' ? "\f" : e == 'v' ? "\v" : NULL;
      char lit[3] = {'\\', e, 0};
      if (!e) return regex_unsupported(p, "a trailing backslash");
      if (!rep && isalnum((unsigned char)e)) {
        char what[32];
        snprintf(what, sizeof what, "the escape '\\%c'", e);
        return regex_unsupported(p, what);
      }
      if (!rep) rep = is_ere_special(e) ? lit : lit + 1;
      if (!buf_str(o, rep)) return tcc_status_oom();
      i += 2;
    } else if (c == '[') {
      st = translate_bracket(p, &i, o);
    } else if (c == '(' && p[i + 1] == '?') {
      if (p[i + 2] == ':') i += 3;
      else if (p[i + 2] == 'P' && p[i + 3] == '<') {
        const char *end = strchr(p + i, '>');
        if (!end) return regex_unsupported(p, "an unterminated group name");
        i = (size_t)(end + 1 - p);
      } else return regex_unsupported(p, "a group with flags '(?...)'");
      if (!buf_str(o, "(")) return tcc_status_oom();
    } else if (c == '?' && after_quantifier) {
      i++; /* lazy quantifier: the same strings match in full */
      continue;
    } else if (c == '{') {
      size_t j = i + 1;
      while (p[j] && (isdigit((unsigned char)p[j]) || p[j] == ',')) j++;
      bool repeat = p[j] == '}' && j > i + 1 && p[i + 1] != ',';
      if (!buf_put(o, repeat ? p + i : "\\{", repeat ? j + 1 - i : 2)) return tcc_status_oom();
      quantifier = repeat;
      i = repeat ? j + 1 : i + 1;
    } else {
      quantifier = c == '*' || c == '+' || c == '?';
      if (!buf_put(o, &c, 1)) return tcc_status_oom();
      i++;
    }
    TCC_RETURN_IF_ERROR(st);
    after_quantifier = quantifier;
  }
  return buf_str(o, ")$") ? NULL : tcc_status_oom();
}

/* Whether each string matches `pattern` (RE2 syntax) as a whole. */
tcc_status_t tcc_host_regex_full_match(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                       tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_strings(in, 1));
  const char *pattern = tcc_node_attr_string(node, "pattern", NULL);
  if (!pattern) return tcc_status_make(TCC_INVALID_ARGUMENT, "attribute 'pattern' is required");
  buf_t ere = {m, NULL, 0, 0};
  TCC_RETURN_IF_ERROR(translate_re2(pattern, &ere));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_BOOL, in[0]->rank, in[0]->dims));
  locale_t loc = newlocale(LC_CTYPE_MASK | LC_COLLATE_MASK, "C.UTF-8", (locale_t)0);
  locale_t old = loc ? uselocale(loc) : (locale_t)0;
  regex_t re;
  int rc = regcomp(&re, ere.data, REG_EXTENDED | REG_NOSUB);
  tcc_status_t st = NULL;
  if (rc) {
    char msg[128];
    regerror(rc, &re, msg, sizeof msg);
    st = tcc_status_make(TCC_UNSUPPORTED, "pattern '%s' (as POSIX '%s'): %s", pattern, ere.data, msg);
  }
  for (int64_t i = 0; !rc && out[0] && i < in[0]->numel; i++) {
    tcc_bytes_t s = tcc_host_str(in[0], i);
    bool match = false;
    if (strlen(s.data) == s.size) match = regexec(&re, s.data, 0, NULL, 0) == 0;
    ((uint8_t *)out[0]->data)[i] = match;
  }
  if (!rc) regfree(&re);
  if (loc) uselocale(old), freelocale(loc);
  return st;
}

/* ---- Cast to and from strings ---------------------------------------------------------------------- */

static int ieq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

/* s as a double (plain, scientific, NaN / INF / +INF / -INF in any case, surrounding spaces allowed). */
static bool parse_double(const char *s, double *v) {
  while (isspace((unsigned char)*s)) s++;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (end == s) return false;
  while (isspace((unsigned char)*end)) end++;
  return *end == 0;
}

static bool parse_float(const char *s, float *v) {
  double d;
  if (!parse_double(s, &d)) return false;
  while (isspace((unsigned char)*s)) s++;
  *v = strtof(s, NULL); /* rounded once, from the decimal text */
  return true;
}

static tcc_status_t bad_number(tcc_bytes_t s, tcc_dtype_t to) {
  return tcc_status_make(TCC_INVALID_ARGUMENT, "string '%.64s' is not a number (casting to %s)", s.data,
                         tcc_dtype_name(to));
}

static tcc_status_t cast_from_string(tcc_module_t *m, const tcc_tensor_t *x, tcc_tensor_t *y, bool saturate) {
  tcc_dtype_t to = y->dtype;
  int64_t n = x->numel;
  bool is_float = tcc_dtype_is_float(to);
  tcc_tensor_t *mid = NULL; /* f64 or i64 values converted into y afterwards */
  if (to != TCC_DTYPE_F32 && to != TCC_DTYPE_F64 && to != TCC_DTYPE_U64 && to != TCC_DTYPE_BOOL &&
      !(mid = tcc_tensor_create(m, is_float ? TCC_DTYPE_F64 : TCC_DTYPE_I64, 1, &n)))
    return tcc_status_oom();
  for (int64_t i = 0; i < n; i++) {
    tcc_bytes_t s = tcc_host_str(x, i);
    if (strlen(s.data) != s.size) return bad_number(s, to);
    double d = 0;
    if (to == TCC_DTYPE_F32) {
      float f;
      if (!parse_float(s.data, &f)) return bad_number(s, to);
      ((float *)y->data)[i] = f;
    } else if (is_float) {
      if (!parse_double(s.data, &d)) return bad_number(s, to);
      ((double *)(mid ? mid : y)->data)[i] = d;
    } else if (to == TCC_DTYPE_BOOL) {
      const char *t = s.data;
      while (isspace((unsigned char)*t)) t++;
      bool named = ieq(t, "true") || ieq(t, "false");
      if (!named && !parse_double(t, &d)) return bad_number(s, to);
      ((uint8_t *)y->data)[i] = named ? ieq(t, "true") : d != 0;
    } else {
      char *end;
      const char *t = s.data;
      while (isspace((unsigned char)*t)) t++;
      errno = 0;
      bool neg = *t == '-';
      int64_t iv = 0;
      uint64_t uv = 0;
      if (to == TCC_DTYPE_U64 && !neg) uv = strtoull(t, &end, 10);
      else iv = strtoll(t, &end, 10);
      while (isspace((unsigned char)*end)) end++;
      if (end == t || *end || errno) { /* "100.5" -> 100, like a float -> int cast */
        if (!parse_double(t, &d) || isnan(d)) return bad_number(s, to);
        if (to == TCC_DTYPE_U64 && !neg) uv = d >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)d;
        else iv = d >= 9.2233720368547758e18 ? INT64_MAX : d <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)d;
      }
      if (to == TCC_DTYPE_U64) {
        uint64_t u = neg ? (uint64_t)iv : uv;
        memcpy((char *)y->data + i * 8, &u, 8);
      } else {
        ((int64_t *)mid->data)[i] = iv;
      }
    }
  }
  return mid ? tcc_host_convert(m, mid, y, saturate) : NULL;
}

/* Whether d (a double read from decimal text) rounds to the value with code `code` of a small float type
 * (f16, bf16, float8, float4), whose non-negative codes order like the values they encode. */
static double decode_small(tcc_dtype_t dt, unsigned code) {
  int64_t one = 1;
  uint16_t word = (uint16_t)code;
  tcc_tensor_t t = {dt, 1, &one, 1, &word, sizeof word};
  return tcc_tensor_get_float(&t, 0);
}

static bool reads_back_small(tcc_dtype_t dt, unsigned code, double d) {
  int bits = tcc_dtype_bits(dt);
  unsigned sign = dt == TCC_DTYPE_F8E8M0 ? 0 : 1u << (bits - 1), limit = 1u << bits;
  unsigned mag = sign ? code & (sign - 1) : code, base = code & sign;
  double v = decode_small(dt, code), av = fabs(v), ad = fabs(d);
  if (isnan(v) || (v != 0 && d != 0 && signbit(d) != signbit(v))) return false;
  double lo = mag ? fabs(decode_small(dt, base | (mag - 1))) : -fabs(decode_small(dt, base | 1u));
  double hi = mag + 1 < (sign ? sign : limit) ? fabs(decode_small(dt, base | (mag + 1))) : NAN;
  if (!isfinite(hi)) hi = av + (av - lo);
  double diff = ad - av, half = diff > 0 ? (hi - av) / 2 : (av - lo) / 2;
  return diff == 0 || fabs(diff) < half || (fabs(diff) == half && (mag & 1) == 0);
}

/* Shortest decimal digits of v (that read back as the same value of dtype dt) in numpy's str() form. */
static void format_float(double v, tcc_dtype_t dt, unsigned code, char *out, size_t size) {
  if (isnan(v)) {
    snprintf(out, size, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(out, size, v < 0 ? "-inf" : "inf");
    return;
  }
  char sci[40];
  int max = dt == TCC_DTYPE_F64 ? 17 : 9;
  for (int p = 1; p <= max; p++) {
    snprintf(sci, sizeof sci, "%.*e", p - 1, v);
    bool ok;
    if (dt == TCC_DTYPE_F64) ok = strtod(sci, NULL) == v;
    else if (dt == TCC_DTYPE_F32) ok = strtof(sci, NULL) == (float)v;
    else ok = reads_back_small(dt, code, strtod(sci, NULL));
    if (ok) break;
  }
  /* sci: [-]d[.ddd]e[+-]xx -> digits and exponent */
  char digits[40];
  size_t nd = 0;
  const char *s = sci;
  bool neg = *s == '-';
  if (neg) s++;
  for (; *s && *s != 'e'; s++)
    if (isdigit((unsigned char)*s)) digits[nd++] = *s;
  int exp = atoi(s + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  double a = fabs(v);
  size_t o = 0;
  char buf[400];
  if (neg) buf[o++] = '-';
  if (a == 0 || (a >= 1e-4 && a < 1e16)) {
    if (a == 0) exp = 0, nd = 1, digits[0] = '0';
    if (exp >= 0) {
      for (int k = 0; k <= exp; k++) buf[o++] = (size_t)k < nd ? digits[k] : '0';
      buf[o++] = '.';
      if ((size_t)exp + 1 >= nd) buf[o++] = '0';
      for (size_t k = (size_t)exp + 1; k < nd; k++) buf[o++] = digits[k];
    } else {
      buf[o++] = '0', buf[o++] = '.';
      for (int k = 0; k < -exp - 1; k++) buf[o++] = '0';
      for (size_t k = 0; k < nd; k++) buf[o++] = digits[k];
    }
    buf[o] = 0;
  } else {
    buf[o++] = digits[0];
    if (nd > 1) {
      buf[o++] = '.';
      for (size_t k = 1; k < nd; k++) buf[o++] = digits[k];
    }
    snprintf(buf + o, sizeof buf - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  }
  snprintf(out, size, "%s", buf);
}

static tcc_status_t cast_to_string(tcc_module_t *m, const tcc_tensor_t *x, tcc_tensor_t *y) {
  tcc_dtype_t dt = x->dtype;
  int bits = tcc_dtype_bits(dt);
  if (dt == TCC_DTYPE_C64 || dt == TCC_DTYPE_C128)
    return tcc_status_make(TCC_UNSUPPORTED, "Cast from %s to string is not supported", tcc_dtype_name(dt));
  for (int64_t i = 0; i < x->numel; i++) {
    char text[64];
    if (dt == TCC_DTYPE_BOOL) snprintf(text, sizeof text, "%s", tcc_tensor_get_int(x, i) ? "True" : "False");
    else if (dt == TCC_DTYPE_U64) {
      uint64_t u;
      memcpy(&u, (const char *)x->data + i * 8, 8);
      snprintf(text, sizeof text, "%llu", (unsigned long long)u);
    } else if (tcc_dtype_is_int(dt)) {
      snprintf(text, sizeof text, "%lld", (long long)tcc_tensor_get_int(x, i));
    } else {
      unsigned code = 0;
      if (bits == 4) code = (i & 1) ? ((const uint8_t *)x->data)[i / 2] >> 4 : ((const uint8_t *)x->data)[i / 2] & 15;
      else if (bits == 8) code = ((const uint8_t *)x->data)[i];
      else if (bits == 16) {
        uint16_t h;
        memcpy(&h, (const char *)x->data + i * 2, 2);
        code = h;
      }
      format_float(tcc_tensor_get_float(x, i), dt, code, text, sizeof text);
    }
    if (!tcc_host_set_str(m, y, i, text, strlen(text))) return tcc_status_oom();
  }
  return NULL;
}

/* Cast / CastLike where the source or the target is a string (others have a compute definition). */
tcc_status_t tcc_host_cast(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out) {
  if (!in[0]) return tcc_status_make(TCC_INVALID_ARGUMENT, "input 0 is missing");
  tcc_dtype_t from = in[0]->dtype, to;
  if (node->op == TCC_OP_CAST_LIKE) {
    if (node->num_inputs < 2 || !in[1]) return tcc_status_make(TCC_INVALID_ARGUMENT, "input 1 is missing");
    to = in[1]->dtype;
  } else {
    int64_t code = tcc_node_attr_int(node, "to", 0);
    if (code <= 0 || code > INT32_MAX || !tcc_dtype_is_valid((int)code))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "attribute 'to' is not a known element type (%lld)", (long long)code);
    to = (tcc_dtype_t)code;
  }
  if (from != TCC_DTYPE_STRING && to != TCC_DTYPE_STRING)
    return tcc_status_make(TCC_UNSUPPORTED, "Cast from %s to %s is not supported", tcc_dtype_name(from),
                           tcc_dtype_name(to));
  if (from == TCC_DTYPE_STRING && to != TCC_DTYPE_STRING && !tcc_dtype_is_float(to) && !tcc_dtype_is_int(to) &&
      to != TCC_DTYPE_BOOL)
    return tcc_status_make(TCC_UNSUPPORTED, "Cast from string to %s is not supported", tcc_dtype_name(to));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, to, in[0]->rank, in[0]->dims));
  if (!out[0]) return NULL;
  if (from == to) {
    for (int64_t i = 0; i < in[0]->numel; i++)
      if (!tcc_host_copy_elem(m, out[0], i, in[0], i)) return tcc_status_oom();
    return NULL;
  }
  bool saturate = tcc_node_attr_int(node, "saturate", 1) != 0;
  return from == TCC_DTYPE_STRING ? cast_from_string(m, in[0], out[0], saturate) : cast_to_string(m, in[0], out[0]);
}

/* ---- TfIdfVectorizer ------------------------------------------------------------------------------- */

/* The n-gram pool as a trie (the reference implementation's structure, so duplicate or overlapping pool
 * entries count the same way): children of a node are a linked list. */
typedef struct {
  int64_t key; /* pool item: an integer, or an index into the string pool */
  int64_t id;  /* 1-based n-gram id, 0 when this node only prefixes longer n-grams */
  int64_t child, next; /* -1 when none */
} trie_node_t;

typedef struct {
  trie_node_t *nodes;
  int64_t count;
  const int64_t *ints;      /* pool_int64s, or NULL */
  const tcc_bytes_t *strs;  /* pool_strings, or NULL */
} trie_t;

static bool pool_eq(const trie_t *t, int64_t key, const tcc_tensor_t *x, int64_t i) {
  if (t->ints) return x->dtype != TCC_DTYPE_STRING && tcc_tensor_get_int(x, i) == t->ints[key];
  return x->dtype == TCC_DTYPE_STRING && bytes_eq(tcc_host_str(x, i), t->strs[key]);
}

static bool pool_same(const trie_t *t, int64_t a, int64_t b) {
  return t->ints ? t->ints[a] == t->ints[b] : bytes_eq(t->strs[a], t->strs[b]);
}

/* The child of parent (-1 = root's list head holder at nodes[0]) holding pool item `item`, created if absent. */
static int64_t trie_emplace(trie_t *t, int64_t parent, int64_t item) {
  int64_t *link = &t->nodes[parent].child;
  for (int64_t c = *link; c >= 0; c = t->nodes[c].next) {
    if (pool_same(t, t->nodes[c].key, item)) return c;
    link = &t->nodes[c].next;
  }
  int64_t c = t->count++;
  t->nodes[c] = (trie_node_t){item, 0, -1, -1};
  *link = c;
  return c;
}

tcc_status_t tcc_host_tfidf_vectorizer(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                       tcc_tensor_t **out) {
  if (!in[0]) return tcc_status_make(TCC_INVALID_ARGUMENT, "input 0 is missing");
  const tcc_tensor_t *x = in[0];
  if (x->dtype != TCC_DTYPE_STRING && x->dtype != TCC_DTYPE_I32 && x->dtype != TCC_DTYPE_I64)
    return tcc_status_make(TCC_UNSUPPORTED, "input type %s (string, i32 or i64 expected)", tcc_dtype_name(x->dtype));
  if (x->rank != 1 && x->rank != 2) return tcc_status_make(TCC_INVALID_ARGUMENT, "the input must be [C] or [N, C]");
  const char *mode = tcc_node_attr_string(node, "mode", "");
  int weighting = strcmp(mode, "TF") == 0 ? 1 : strcmp(mode, "IDF") == 0 ? 2 : strcmp(mode, "TFIDF") == 0 ? 3 : 0;
  if (!weighting) return tcc_status_make(TCC_INVALID_ARGUMENT, "unknown mode '%s' (TF, IDF or TFIDF)", mode);
  int64_t min_gram = tcc_node_attr_int(node, "min_gram_length", 1), max_gram = tcc_node_attr_int(node, "max_gram_length", 1);
  int64_t max_skip = tcc_node_attr_int(node, "max_skip_count", 0);
  const int64_t *counts = NULL, *indexes = NULL;
  int64_t ncounts = 0, nindexes = 0;
  tcc_node_attr_ints(node, "ngram_counts", &counts, &ncounts);
  tcc_node_attr_ints(node, "ngram_indexes", &indexes, &nindexes);
  const tcc_attr_t *pi = tcc_node_attr(node, "pool_int64s"), *ps = tcc_node_attr(node, "pool_strings");
  const tcc_attr_t *wa = tcc_node_attr(node, "weights");
  trie_t t = {NULL, 1, NULL, NULL};
  int64_t total = 0;
  if (pi && pi->kind == TCC_ATTR_INTS && pi->count) t.ints = pi->ints, total = pi->count;
  else if (ps && ps->kind == TCC_ATTR_STRINGS && ps->count) t.strs = ps->strings, total = ps->count;
  int64_t nweights = wa && wa->kind == TCC_ATTR_FLOATS ? wa->count : 0;
  if (!nindexes) return tcc_status_make(TCC_INVALID_ARGUMENT, "attribute 'ngram_indexes' is required");
  int64_t k = 0;
  for (int64_t i = 0; i < nindexes; i++) {
    if (indexes[i] < 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "ngram_indexes has a negative entry");
    if (indexes[i] + 1 > k) k = indexes[i] + 1;
  }
  if (nweights && nweights < k)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%lld weights for %lld outputs", (long long)nweights, (long long)k);
  if (!(t.nodes = tcc_host_scratch(m, total + 1, sizeof *t.nodes))) return tcc_status_oom();
  t.nodes[0] = (trie_node_t){0, 0, -1, -1};
  int64_t ngram_id = 1;
  for (int64_t i = 0, size = 1; i < ncounts; i++, size++) {
    int64_t start = counts[i], end = i + 1 < ncounts ? counts[i + 1] : total;
    if (start < 0 || end > total || start > end)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "ngram_counts does not fit the pool of %lld items", (long long)total);
    int64_t ngrams = (end - start) / size;
    if (end - start <= 0) continue;
    if (size < min_gram || size > max_gram) {
      ngram_id += ngrams;
      continue;
    }
    int64_t item = start;
    for (int64_t g = 0; g < ngrams; g++)
      for (int64_t n = 1, at = 0; item < total; n++) {
        at = trie_emplace(&t, at, item++);
        if (n == size) {
          t.nodes[at].id = ngram_id++;
          break;
        }
      }
  }
  int64_t rows = x->rank == 2 ? x->dims[0] : 1, c = x->dims[x->rank - 1];
  int64_t dims[2] = {rows, k};
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_F32, x->rank, x->rank == 2 ? dims : dims + 1));
  if (!out[0]) return NULL;
  int64_t *freq = tcc_host_scratch(m, rows * k, sizeof *freq);
  if (!freq) return tcc_status_oom();
  for (int64_t r = 0; r < rows && c > 0; r++) {
    int64_t start_size = min_gram;
    for (int64_t skip = 1; skip <= max_skip + 1; skip++) {
      for (int64_t s = 0; s < c; s++) {
        if (s + skip * (start_size - 1) >= c) break;
        int64_t at = 0;
        for (int64_t size = 1, item = s; t.nodes[at].child >= 0 && size <= max_gram && item < c; size++, item += skip) {
          int64_t hit = -1;
          for (int64_t ch = t.nodes[at].child; ch >= 0 && hit < 0; ch = t.nodes[ch].next)
            if (pool_eq(&t, t.nodes[ch].key, x, r * c + item)) hit = ch;
          if (hit < 0) break;
          int64_t id = t.nodes[hit].id;
          if (size >= start_size && id) {
            if (id - 1 >= nindexes)
              return tcc_status_make(TCC_INVALID_ARGUMENT, "n-gram %lld has no entry in ngram_indexes", (long long)id);
            freq[r * k + indexes[id - 1]]++;
          }
          at = hit;
        }
      }
      if (start_size == 1 && ++start_size > max_gram) break;
    }
  }
  float *y = (float *)out[0]->data;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < k; i++) {
      int64_t f = freq[r * k + i];
      double w = nweights ? wa->floats[i] : 1.0;
      y[r * k + i] = weighting == 1 ? (float)f : weighting == 2 ? (f > 0 ? (float)w : 0.0f) : (float)(w * (double)f);
    }
  return NULL;
}
