/* Kernel IR printer:
 *   kernel add(in x: f32[n, 4], in y: f32[4], out z: f32[n, 4]) {
 *     for i in 0..n parallel {
 *       for j in 0..4 {
 *         z[i, j] = add(x[i, j], y[j])
 *       }
 *     }
 *   } */
#include "ir/kernel.h"

static void print_expr(FILE *out, const tcc_kexpr_t *e);

static void print_index(FILE *out, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index) {
  fprintf(out, "%s[", buf->name);
  for (int i = 0; i < buf->rank; i++) {
    if (i) fputs(", ", out);
    print_expr(out, index[i]);
  }
  fputc(']', out);
}

static void print_dim(FILE *out, const tcc_dim_t *d) {
  char buf[256];
  tcc_dim_format(d, buf, sizeof buf);
  fputs(buf, out);
}

static void print_expr(FILE *out, const tcc_kexpr_t *e) {
  switch (e->kind) {
    case TCC_KEXPR_INT:
      fprintf(out, "%lld", (long long)e->i);
      if (e->dtype != TCC_DTYPE_I64) fprintf(out, ":%s", tcc_dtype_name(e->dtype));
      break;
    case TCC_KEXPR_FLOAT: fprintf(out, "%.9g:%s", e->f, tcc_dtype_name(e->dtype)); break;
    case TCC_KEXPR_VAR: fputs(e->var->name, out); break;
    case TCC_KEXPR_DIM:
      fputs("dim(", out);
      print_dim(out, e->dim);
      fputc(')', out);
      break;
    case TCC_KEXPR_LOAD: print_index(out, e->buf, e->index); break;
    case TCC_KEXPR_UNARY:
    case TCC_KEXPR_BINARY:
      fprintf(out, "%s(", tcc_kop_name(e->op));
      print_expr(out, e->a);
      if (e->kind == TCC_KEXPR_BINARY) {
        fputs(", ", out);
        print_expr(out, e->b);
      }
      fputc(')', out);
      break;
    case TCC_KEXPR_SELECT:
      fputs("select(", out);
      print_expr(out, e->a);
      fputs(", ", out);
      print_expr(out, e->b);
      fputs(", ", out);
      print_expr(out, e->c);
      fputc(')', out);
      break;
    case TCC_KEXPR_CAST:
      fprintf(out, "%s<%s>(", e->saturate ? "cast_sat" : "cast", tcc_dtype_name(e->dtype));
      print_expr(out, e->a);
      fputc(')', out);
      break;
    default: fputs("<?>", out);
  }
}

static void print_buf_decl(FILE *out, const tcc_kbuf_t *b) {
  fprintf(out, "%s %s: %s[", tcc_kbuf_scope_name(b->scope), b->name, tcc_dtype_name(b->dtype));
  for (int i = 0; i < b->rank; i++) {
    if (i) fputs(", ", out);
    print_dim(out, b->dims[i]);
  }
  fputc(']', out);
}

static void print_block(FILE *out, const tcc_kblock_t *block, int depth) {
  for (size_t n = 0; n < block->count; n++) {
    const tcc_kstmt_t *s = block->stmts[n];
    fprintf(out, "%*s", 2 * depth, "");
    switch (s->kind) {
      case TCC_KSTMT_FOR:
        fprintf(out, "for %s in 0..", s->var->name);
        print_expr(out, s->extent);
        if (s->loop != TCC_KLOOP_SERIAL) fprintf(out, " %s", tcc_kloop_kind_name(s->loop));
        fputs(" {\n", out);
        print_block(out, &s->body, depth + 1);
        fprintf(out, "%*s}\n", 2 * depth, "");
        break;
      case TCC_KSTMT_STORE:
        print_index(out, s->buf, s->index);
        fputs(" = ", out);
        print_expr(out, s->value);
        fputc('\n', out);
        break;
      case TCC_KSTMT_IF:
        fputs("if ", out);
        print_expr(out, s->cond);
        fputs(" {\n", out);
        print_block(out, &s->body, depth + 1);
        if (s->orelse.count) {
          fprintf(out, "%*s} else {\n", 2 * depth, "");
          print_block(out, &s->orelse, depth + 1);
        }
        fprintf(out, "%*s}\n", 2 * depth, "");
        break;
      case TCC_KSTMT_ALLOC:
        fputs("alloc ", out);
        print_buf_decl(out, s->buf);
        fputc('\n', out);
        break;
      case TCC_KSTMT_BARRIER: fputs("barrier\n", out); break;
      case TCC_KSTMT_CALL:
        fprintf(out, "call %s(", s->callee);
        for (int i = 0; i < s->num_args; i++) fprintf(out, "%s%s", i ? ", " : "", s->args[i]->name);
        for (int i = 0; i < s->num_scalars; i++) {
          fputs(i || s->num_args ? ", " : "", out);
          print_expr(out, s->scalars[i]);
        }
        fputs(")\n", out);
        break;
      default: fputs("<?>\n", out);
    }
  }
}

tcc_status_t tcc_kernel_print(const tcc_kernel_t *k, FILE *out) {
  fprintf(out, "kernel %s(", k->name);
  for (int i = 0; i < k->num_params; i++) {
    if (i) fputs(", ", out);
    print_buf_decl(out, k->params[i]);
  }
  fputs(") {\n", out);
  print_block(out, &k->body, 1);
  fputs("}\n", out);
  return ferror(out) ? tcc_status_make(TCC_IO, "writing kernel '%s' failed", k->name) : NULL;
}
