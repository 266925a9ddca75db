/* Kernel IR -> LLVM IR (contract and kernel ABI in codegen/llvm_emit.h).
 *
 * One kernel becomes one function (plus one internal function per PARALLEL loop body, built the same way
 * from an env struct) built with two builders: `eb` appends to the entry block (run-time sizes, strides,
 * small-float constants, temporaries: everything that depends only on syms), `b` follows the statements.
 * Inside a vector loop body (fn_t.vvar set) expressions evaluate to vectors of `lanes` values, or to
 * scalars when they do not depend on the loop variable; what has no exact vector form is built lane by
 * lane by the scalar code (unary_value, binary_value, cast_value take operand values for that). Values keep the evaluator's classes: integers at their own width (bool i1, 4-bit i4),
 * f32 for every float type but f64, f64. The conversions between f32 and the small float types are
 * internal always-inline helper functions of the module, written here in LLVM IR after the evaluator's
 * encodings (round to nearest even on the exponent/mantissa fields; ONNX's NaN, infinity and saturation
 * rules), so modules need no runtime support for them. */
#include "codegen/llvm_emit.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/schedule_cpu.h"
#include "codegen/target.h"
#include "ir/dim.h"

enum { STACK_LIMIT = 64 * 1024 };

struct tcc_llvm_emitter {
  LLVMContextRef ctx;
  bool own_ctx;
  LLVMModuleRef mod;
  bool taken;
  tcc_llvm_emit_options_t opt;
  char **syms;
  int num_syms, cap_syms;
  char **names; /* function names handed out */
  int num_names;
  int lanes;       /* of VECTORIZED loops; 1: they are emitted as serial loops */
  int num_bodies;  /* outlined PARALLEL loop bodies, for their names */
  LLVMTypeRef i1, i4, i8, i16, i32, i64, f32, f64, ptr;
};

/* ---- small float formats (ONNX / OCP definitions) ---- */

typedef struct {
  const char *name;
  int eb, mb, bias;
  unsigned maxcode, inf, nan;
  bool uz, always_sat, ieee;
} fmt_t;

static const fmt_t FMT_F16 = {"f16", 5, 10, 15, 0x7bff, 0x7c00, 0x7e00, false, false, true};
static const fmt_t FMT_BF16 = {"bf16", 8, 7, 127, 0x7f7f, 0x7f80, 0x7fc0, false, false, true};
static const fmt_t FMT_E4M3FN = {"e4m3fn", 4, 3, 7, 0x7e, 0, 0x7f, false, false, false};
static const fmt_t FMT_E4M3FNUZ = {"e4m3fnuz", 4, 3, 8, 0x7f, 0, 0x80, true, false, false};
static const fmt_t FMT_E5M2 = {"e5m2", 5, 2, 15, 0x7b, 0x7c, 0x7f, false, false, false};
static const fmt_t FMT_E5M2FNUZ = {"e5m2fnuz", 5, 2, 16, 0x7f, 0, 0x80, true, false, false};
static const fmt_t FMT_E2M1 = {"e2m1", 2, 1, 1, 0x7, 0, 0x7, false, true, false};

static const fmt_t *fmt_of(tcc_dtype_t dt) {
  switch (dt) {
    case TCC_DTYPE_F16: return &FMT_F16;
    case TCC_DTYPE_BF16: return &FMT_BF16;
    case TCC_DTYPE_F8E4M3FN: return &FMT_E4M3FN;
    case TCC_DTYPE_F8E4M3FNUZ: return &FMT_E4M3FNUZ;
    case TCC_DTYPE_F8E5M2: return &FMT_E5M2;
    case TCC_DTYPE_F8E5M2FNUZ: return &FMT_E5M2FNUZ;
    case TCC_DTYPE_F4E2M1: return &FMT_E2M1;
    default: return NULL;
  }
}

enum { CLS_I, CLS_F, CLS_D };

static int dclass(tcc_dtype_t dt) { return dt == TCC_DTYPE_F64 ? CLS_D : tcc_dtype_is_float(dt) ? CLS_F : CLS_I; }

static bool supported(tcc_dtype_t dt) {
  return dt == TCC_DTYPE_BOOL || tcc_dtype_is_int(dt) || tcc_dtype_is_float(dt);
}

static bool is_unsigned(tcc_dtype_t dt) { return dt == TCC_DTYPE_BOOL || !tcc_dtype_is_signed_int(dt); }

static int int_bits(tcc_dtype_t dt) { return dt == TCC_DTYPE_BOOL ? 1 : tcc_dtype_bits(dt); }

static LLVMTypeRef vtype(const tcc_llvm_emitter_t *e, tcc_dtype_t dt) {
  switch (dclass(dt)) {
    case CLS_D: return e->f64;
    case CLS_F: return e->f32;
    default:
      switch (int_bits(dt)) {
        case 1: return e->i1;
        case 4: return e->i4;
        case 8: return e->i8;
        case 16: return e->i16;
        case 32: return e->i32;
        default: return e->i64;
      }
  }
}

/* ---- small helpers over a builder ---- */

static bool is_vector_type(LLVMTypeRef t) { return LLVMGetTypeKind(t) == LLVMVectorTypeKind; }
static bool is_vector(LLVMValueRef v) { return is_vector_type(LLVMTypeOf(v)); }

/* The constant c repeated over the lanes of the vector type t (t itself when scalar). */
static LLVMValueRef const_like(LLVMTypeRef t, LLVMValueRef c) {
  if (!is_vector_type(t)) return c;
  unsigned n = LLVMGetVectorSize(t);
  LLVMValueRef lanes[64];
  for (unsigned i = 0; i < n && i < 64; i++) lanes[i] = c;
  return LLVMConstVector(lanes, n < 64 ? n : 64);
}

static LLVMTypeRef scalar_type(LLVMTypeRef t) { return is_vector_type(t) ? LLVMGetElementType(t) : t; }

/* Constants of a scalar type, or splatted over a vector type. */
static LLVMValueRef ci(LLVMTypeRef t, long long v) {
  return const_like(t, LLVMConstInt(scalar_type(t), (unsigned long long)v, v < 0));
}
static LLVMValueRef cf(LLVMTypeRef t, double v) { return const_like(t, LLVMConstReal(scalar_type(t), v)); }
/* The bit width of an integer type or of its lanes. */
static unsigned int_width(LLVMTypeRef t) { return LLVMGetIntTypeWidth(scalar_type(t)); }

static LLVMValueRef intrinsic(tcc_llvm_emitter_t *e, LLVMBuilderRef b, const char *name, LLVMTypeRef *tys, int ntys,
                              LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef decl = LLVMGetIntrinsicDeclaration(e->mod, id, tys, (size_t)ntys);
  LLVMTypeRef ft = LLVMIntrinsicGetType(e->ctx, id, tys, (size_t)ntys);
  return LLVMBuildCall2(b, ft, decl, args, (unsigned)nargs, "");
}

static LLVMValueRef intr1(tcc_llvm_emitter_t *e, LLVMBuilderRef b, const char *name, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return intrinsic(e, b, name, &t, 1, &x, 1);
}

/* llvm.fpto[su]i.sat: no poison for NaN or out-of-range inputs. */
static LLVMValueRef fp_to_int_sat(tcc_llvm_emitter_t *e, LLVMBuilderRef b, LLVMValueRef x, LLVMTypeRef to, bool uns) {
  LLVMTypeRef tys[2] = {to, LLVMTypeOf(x)};
  return intrinsic(e, b, uns ? "llvm.fptoui.sat" : "llvm.fptosi.sat", tys, 2, &x, 1);
}

static LLVMValueRef declare(tcc_llvm_emitter_t *e, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                            LLVMTypeRef *fty) {
  *fty = LLVMFunctionType(ret, params, (unsigned)n, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, name);
  return fn ? fn : LLVMAddFunction(e->mod, name, *fty);
}

/* A libm function of one or two arguments of type t (expf / exp ...). */
static LLVMValueRef libm(tcc_llvm_emitter_t *e, LLVMBuilderRef b, const char *base, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef t = LLVMTypeOf(x), fty, ps[2] = {t, t};
  char name[40];
  snprintf(name, sizeof name, "%s%s%s", e->opt.gpu ? "__nv_" : "", base, t == e->f32 ? "f" : "");
  LLVMValueRef fn = declare(e, name, t, ps, y ? 2 : 1, &fty);
  LLVMValueRef args[2] = {x, y};
  return LLVMBuildCall2(b, fty, fn, args, y ? 2 : 1, "");
}

static void add_attr(tcc_llvm_emitter_t *e, LLVMValueRef fn, const char *attr) {
  unsigned kind = LLVMGetEnumAttributeKindForName(attr, strlen(attr));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, kind, 0));
}

/* An internal helper function: returns it, and a builder at its (empty) entry when it must be written. */
static LLVMValueRef helper(tcc_llvm_emitter_t *e, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                           LLVMBuilderRef *body) {
  *body = NULL;
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, name);
  if (fn) return fn;
  fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(e, fn, "alwaysinline");
  add_attr(e, fn, "nounwind");
  *body = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(*body, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
  return fn;
}

static LLVMValueRef call1(LLVMBuilderRef b, LLVMValueRef fn, LLVMValueRef x) {
  return LLVMBuildCall2(b, LLVMGlobalGetValueType(fn), fn, &x, 1, "");
}

#define SEL(c, x, y) LLVMBuildSelect(h, (c), (x), (y), "")
#define ICMP(p, x, y) LLVMBuildICmp(h, (p), (x), (y), "")
#define FCMP(p, x, y) LLVMBuildFCmp(h, (p), (x), (y), "")
#define AND(x, y) LLVMBuildAnd(h, (x), (y), "")
#define OR(x, y) LLVMBuildOr(h, (x), (y), "")
#define ADD(x, y) LLVMBuildAdd(h, (x), (y), "")
#define SUB(x, y) LLVMBuildSub(h, (x), (y), "")
#define SHL(x, y) LLVMBuildShl(h, (x), (y), "")
#define LSHR(x, y) LLVMBuildLShr(h, (x), (y), "")

/* f16 bits -> f32 (exact). */
static LLVMValueRef f16_decode_fn(tcc_llvm_emitter_t *e) {
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, "tcc.f16.decode", e->f32, &e->i16, 1, &h);
  if (!h) return fn;
  LLVMValueRef x = LLVMBuildZExt(h, LLVMGetParam(fn, 0), e->i32, "");
  LLVMValueRef sign = SHL(AND(x, ci(e->i32, 0x8000)), ci(e->i32, 16)), em = AND(x, ci(e->i32, 0x7fff));
  LLVMValueRef special = OR(OR(sign, ci(e->i32, 0x7f800000)), SHL(AND(em, ci(e->i32, 0x3ff)), ci(e->i32, 13)));
  LLVMValueRef normal = OR(sign, ADD(SHL(em, ci(e->i32, 13)), ci(e->i32, 0x38000000)));
  LLVMValueRef w = SEL(ICMP(LLVMIntUGE, em, ci(e->i32, 0x7c00)), special, normal);
  LLVMValueRef sub = LLVMBuildFMul(h, LLVMBuildUIToFP(h, em, e->f32, ""), cf(e->f32, 0x1p-24), "");
  sub = SEL(ICMP(LLVMIntNE, sign, ci(e->i32, 0)), LLVMBuildFNeg(h, sub, ""), sub);
  LLVMValueRef r = SEL(ICMP(LLVMIntUGE, em, ci(e->i32, 0x400)), LLVMBuildBitCast(h, w, e->f32, ""), sub);
  LLVMBuildRet(h, r);
  LLVMDisposeBuilder(h);
  return fn;
}

/* f32 -> f16 bits, round to nearest even; NaN payloads kept; >= 65520 gives infinity. */
static LLVMValueRef f16_encode_fn(tcc_llvm_emitter_t *e) {
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, "tcc.f16.encode", e->i16, &e->f32, 1, &h);
  if (!h) return fn;
  LLVMValueRef v = LLVMGetParam(fn, 0), x0 = LLVMBuildBitCast(h, v, e->i32, "");
  LLVMValueRef sign = AND(LSHR(x0, ci(e->i32, 16)), ci(e->i32, 0x8000)), x = AND(x0, ci(e->i32, 0x7fffffff));
  LLVMValueRef nanv = OR(OR(sign, ci(e->i32, 0x7e00)), AND(LSHR(x, ci(e->i32, 13)), ci(e->i32, 0x3ff)));
  LLVMValueRef infv = OR(sign, ci(e->i32, 0x7c00));
  LLVMValueRef scaled = intrinsic(e, h, "llvm.roundeven", &e->f32, 1,
                                  (LLVMValueRef[]){LLVMBuildFMul(h, intr1(e, h, "llvm.fabs", v), cf(e->f32, 0x1p24), "")}, 1);
  LLVMValueRef subv = OR(sign, fp_to_int_sat(e, h, scaled, e->i32, true));
  LLVMValueRef t = ADD(ADD(x, ci(e->i32, 0xfff)), AND(LSHR(x, ci(e->i32, 13)), ci(e->i32, 1)));
  LLVMValueRef normv = OR(sign, LSHR(SUB(t, ci(e->i32, 0x38000000)), ci(e->i32, 13)));
  LLVMValueRef r = SEL(ICMP(LLVMIntULT, x, ci(e->i32, 0x38800000)), subv, normv);
  r = SEL(ICMP(LLVMIntUGE, x, ci(e->i32, 0x477ff000)), infv, r);
  r = SEL(ICMP(LLVMIntUGT, x, ci(e->i32, 0x7f800000)), nanv, r);
  LLVMBuildRet(h, LLVMBuildTrunc(h, r, e->i16, ""));
  LLVMDisposeBuilder(h);
  return fn;
}

/* f32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet bit set). */
static LLVMValueRef bf16_encode_fn(tcc_llvm_emitter_t *e) {
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, "tcc.bf16.encode", e->i16, &e->f32, 1, &h);
  if (!h) return fn;
  LLVMValueRef x = LLVMBuildBitCast(h, LLVMGetParam(fn, 0), e->i32, "");
  LLVMValueRef nanv = OR(LSHR(x, ci(e->i32, 16)), ci(e->i32, 0x40));
  LLVMValueRef rounded = LSHR(ADD(ADD(x, ci(e->i32, 0x7fff)), AND(LSHR(x, ci(e->i32, 16)), ci(e->i32, 1))), ci(e->i32, 16));
  LLVMValueRef r = SEL(ICMP(LLVMIntUGT, AND(x, ci(e->i32, 0x7fffffff)), ci(e->i32, 0x7f800000)), nanv, rounded);
  LLVMBuildRet(h, LLVMBuildTrunc(h, r, e->i16, ""));
  LLVMDisposeBuilder(h);
  return fn;
}

/* A power of two 2^k as an f64, k an i64 in the normal range. */
static LLVMValueRef pow2(tcc_llvm_emitter_t *e, LLVMBuilderRef h, LLVMValueRef k) {
  return LLVMBuildBitCast(h, SHL(ADD(k, ci(e->i64, 1023)), ci(e->i64, 52)), e->f64, "");
}

/* f64 -> code of format f (i32), round to nearest even; saturate per ONNX Cast. */
static LLVMValueRef mini_encode_fn(tcc_llvm_emitter_t *e, const fmt_t *f, bool saturate) {
  saturate = f->always_sat || (saturate && !f->ieee);
  char name[64];
  snprintf(name, sizeof name, "tcc.mini.%s.encode%s", f->name, saturate ? ".sat" : "");
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, name, e->i32, &e->f64, 1, &h);
  if (!h) return fn;
  LLVMTypeRef I = e->i32, L = e->i64;
  LLVMValueRef x = LLVMGetParam(fn, 0), bits = LLVMBuildBitCast(h, x, L, "");
  LLVMValueRef sign = SEL(ICMP(LLVMIntSLT, bits, ci(L, 0)), ci(I, 1ll << (f->eb + f->mb)), ci(I, 0));
  LLVMValueRef isnan = FCMP(LLVMRealUNO, x, x), a = intr1(e, h, "llvm.fabs", x);
  LLVMValueRef isinf = FCMP(LLVMRealOEQ, a, cf(e->f64, INFINITY)), iszero = FCMP(LLVMRealOEQ, a, cf(e->f64, 0));
  LLVMValueRef nanv = f->uz ? ci(I, f->nan) : OR(sign, ci(I, f->nan));
  LLVMValueRef ovf = saturate ? OR(sign, ci(I, f->maxcode)) : f->uz ? ci(I, f->nan) : OR(sign, ci(I, f->inf ? f->inf : f->nan));
  LLVMValueRef zero = f->uz ? ci(I, 0) : sign;
  LLVMValueRef e0 = SUB(AND(LSHR(bits, ci(L, 52)), ci(L, 0x7ff)), ci(L, 1023)), emin = ci(L, 1 - f->bias);
  LLVMValueRef e1 = SEL(ICMP(LLVMIntSLT, e0, emin), emin, e0);
  LLVMValueRef q = LLVMBuildFMul(h, a, pow2(e, h, SUB(ci(L, f->mb), e1)), "");
  LLVMValueRef n0 = intr1(e, h, "llvm.roundeven", q);
  LLVMValueRef carry = FCMP(LLVMRealOGE, n0, cf(e->f64, ldexp(1, f->mb + 1)));
  LLVMValueRef n = SEL(carry, LLVMBuildFMul(h, n0, cf(e->f64, 0.5), ""), n0);
  LLVMValueRef ex = SEL(carry, ADD(e1, ci(L, 1)), e1);
  LLVMValueRef ni = fp_to_int_sat(e, h, n, L, false), low = ci(L, 1ll << f->mb);
  LLVMValueRef code = SEL(ICMP(LLVMIntSLT, ni, low), ni, OR(SHL(ADD(ex, ci(L, f->bias)), ci(L, f->mb)), SUB(ni, low)));
  LLVMValueRef over = OR(ICMP(LLVMIntSGT, ex, ci(L, 4 * f->bias + 8)), ICMP(LLVMIntSGT, code, ci(L, f->maxcode)));
  LLVMValueRef r = SEL(over, ovf, OR(sign, LLVMBuildTrunc(h, code, I, "")));
  r = SEL(FCMP(LLVMRealOEQ, n, cf(e->f64, 0)), zero, r);
  r = SEL(iszero, zero, r);
  r = SEL(isinf, ovf, r);
  r = SEL(isnan, nanv, r);
  LLVMBuildRet(h, r);
  LLVMDisposeBuilder(h);
  return fn;
}

/* code of format f (i32) -> f64 (exact). */
static LLVMValueRef mini_decode_fn(tcc_llvm_emitter_t *e, const fmt_t *f) {
  char name[64];
  snprintf(name, sizeof name, "tcc.mini.%s.decode", f->name);
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, name, e->f64, &e->i32, 1, &h);
  if (!h) return fn;
  LLVMTypeRef I = e->i32, D = e->f64;
  unsigned sbit = 1u << (f->eb + f->mb);
  LLVMValueRef bits = LLVMGetParam(fn, 0), mag = AND(bits, ci(I, sbit - 1));
  LLVMValueRef neg = ICMP(LLVMIntNE, AND(bits, ci(I, sbit)), ci(I, 0));
  LLVMValueRef special = f->uz ? ICMP(LLVMIntEQ, bits, ci(I, f->nan)) : ICMP(LLVMIntUGT, mag, ci(I, f->maxcode));
  LLVMValueRef nanv = f->uz ? cf(D, NAN) : SEL(neg, cf(D, -NAN), cf(D, NAN));
  LLVMValueRef specv = nanv;
  if (!f->uz && f->inf)
    specv = SEL(ICMP(LLVMIntEQ, mag, ci(I, f->inf)), SEL(neg, cf(D, -INFINITY), cf(D, INFINITY)), nanv);
  LLVMValueRef ex = LSHR(mag, ci(I, f->mb)), mant = AND(mag, ci(I, (1 << f->mb) - 1));
  LLVMValueRef sub = ICMP(LLVMIntEQ, ex, ci(I, 0));
  LLVMValueRef m = SEL(sub, mant, OR(mant, ci(I, 1 << f->mb)));
  LLVMValueRef k = SEL(sub, ci(I, 1 - f->bias - f->mb), SUB(ex, ci(I, f->bias + f->mb)));
  LLVMValueRef v = LLVMBuildFMul(h, LLVMBuildUIToFP(h, m, D, ""), pow2(e, h, LLVMBuildSExt(h, k, e->i64, "")), "");
  v = SEL(neg, LLVMBuildFNeg(h, v, ""), v);
  LLVMBuildRet(h, SEL(special, specv, v));
  LLVMDisposeBuilder(h);
  return fn;
}

/* f64 -> f8e8m0 code (i32): rounds up in magnitude to a power of two (ONNX's default round_mode). */
static LLVMValueRef e8m0_encode_fn(tcc_llvm_emitter_t *e, bool saturate) {
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, saturate ? "tcc.e8m0.encode.sat" : "tcc.e8m0.encode", e->i32, &e->f64, 1, &h);
  if (!h) return fn;
  LLVMTypeRef I = e->i32, L = e->i64;
  LLVMValueRef x = LLVMGetParam(fn, 0), a = intr1(e, h, "llvm.fabs", x), bits = LLVMBuildBitCast(h, a, L, "");
  LLVMValueRef ebits = AND(LSHR(bits, ci(L, 52)), ci(L, 0x7ff));
  LLVMValueRef exact = ICMP(LLVMIntEQ, AND(bits, ci(L, (1ll << 52) - 1)), ci(L, 0));
  LLVMValueRef t = ADD(SEL(exact, SUB(ebits, ci(L, 1023)), SUB(ebits, ci(L, 1022))), ci(L, 127));
  LLVMValueRef r = SEL(ICMP(LLVMIntSLT, t, ci(L, 0)), ci(L, 0), t);
  r = LLVMBuildTrunc(h, SEL(ICMP(LLVMIntSGT, t, ci(L, 254)), ci(L, saturate ? 0xfe : 0xff), r), I, "");
  r = SEL(FCMP(LLVMRealOEQ, a, cf(e->f64, 0)), ci(I, 0), r);
  r = SEL(FCMP(LLVMRealOEQ, a, cf(e->f64, INFINITY)), ci(I, saturate ? 0xfe : 0xff), r);
  r = SEL(FCMP(LLVMRealUNO, x, x), ci(I, 0xff), r);
  LLVMBuildRet(h, r);
  LLVMDisposeBuilder(h);
  return fn;
}

static LLVMValueRef e8m0_decode_fn(tcc_llvm_emitter_t *e) {
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, "tcc.e8m0.decode", e->f32, &e->i32, 1, &h);
  if (!h) return fn;
  LLVMValueRef bits = LLVMGetParam(fn, 0);
  LLVMValueRef v = LLVMBuildFPTrunc(h, pow2(e, h, SUB(LLVMBuildZExt(h, bits, e->i64, ""), ci(e->i64, 127))), e->f32, "");
  LLVMBuildRet(h, SEL(ICMP(LLVMIntEQ, bits, ci(e->i32, 0xff)), cf(e->f32, NAN), v));
  LLVMDisposeBuilder(h);
  return fn;
}

/* Integer power with the evaluator's rules: wraps; a negative signed exponent truncates 1 / a^-b. */
static LLVMValueRef ipow_fn(tcc_llvm_emitter_t *e, LLVMTypeRef t, bool uns) {
  char name[48];
  snprintf(name, sizeof name, "tcc.ipow.i%u%s", LLVMGetIntTypeWidth(t), uns ? "u" : "s");
  LLVMBuilderRef h;
  LLVMValueRef fn = helper(e, name, t, (LLVMTypeRef[]){t, t}, 2, &h);
  if (!h) return fn;
  LLVMValueRef a = LLVMGetParam(fn, 0), bexp = LLVMGetParam(fn, 1);
  LLVMBasicBlockRef entry = LLVMGetInsertBlock(h), loop = LLVMAppendBasicBlockInContext(e->ctx, fn, "loop"),
                    done = LLVMAppendBasicBlockInContext(e->ctx, fn, "done"),
                    negb = LLVMAppendBasicBlockInContext(e->ctx, fn, "neg");
  LLVMValueRef one = ci(t, 1), zero = ci(t, 0);
  if (!uns) LLVMBuildCondBr(h, ICMP(LLVMIntSLT, bexp, zero), negb, loop);
  else LLVMBuildBr(h, loop);
  LLVMPositionBuilderAtEnd(h, negb);
  {
    LLVMValueRef odd = ICMP(LLVMIntNE, AND(bexp, one), zero);
    LLVMValueRef m1 = ci(t, -1);
    LLVMValueRef r = SEL(ICMP(LLVMIntEQ, a, one), one, SEL(ICMP(LLVMIntEQ, a, m1), SEL(odd, m1, one), zero));
    if (LLVMGetIntTypeWidth(t) == 1) r = SEL(ICMP(LLVMIntEQ, a, one), one, zero);
    LLVMBuildRet(h, r);
  }
  LLVMPositionBuilderAtEnd(h, loop);
  LLVMValueRef r = LLVMBuildPhi(h, t, "r"), x = LLVMBuildPhi(h, t, "x"), ev = LLVMBuildPhi(h, t, "e");
  LLVMValueRef rn = SEL(ICMP(LLVMIntNE, AND(ev, one), zero), LLVMBuildMul(h, r, x, ""), r);
  LLVMValueRef xn = LLVMBuildMul(h, x, x, ""), en = LSHR(ev, one);
  LLVMBuildCondBr(h, ICMP(LLVMIntEQ, ev, zero), done, loop);
  LLVMValueRef inc_r[2] = {one, rn}, inc_x[2] = {a, xn}, inc_e[2] = {bexp, en};
  LLVMBasicBlockRef from[2] = {entry, loop};
  LLVMAddIncoming(r, inc_r, from, 2);
  LLVMAddIncoming(x, inc_x, from, 2);
  LLVMAddIncoming(ev, inc_e, from, 2);
  LLVMPositionBuilderAtEnd(h, done);
  LLVMBuildRet(h, r);
  LLVMDisposeBuilder(h);
  return fn;
}

#undef SEL
#undef ICMP
#undef FCMP
#undef AND
#undef OR
#undef ADD
#undef SUB
#undef SHL
#undef LSHR

/* A float-class value (f32) rounded to dt, as the evaluator's round_to does for f32 inputs. */
static LLVMValueRef round_f(tcc_llvm_emitter_t *e, LLVMBuilderRef b, tcc_dtype_t dt, LLVMValueRef v, bool sat) {
  switch (dt) {
    case TCC_DTYPE_F32: return v;
    case TCC_DTYPE_F16: return call1(b, f16_decode_fn(e), call1(b, f16_encode_fn(e), v));
    case TCC_DTYPE_BF16: {
      LLVMValueRef bits = LLVMBuildZExt(b, call1(b, bf16_encode_fn(e), v), e->i32, "");
      return LLVMBuildBitCast(b, LLVMBuildShl(b, bits, ci(e->i32, 16), ""), e->f32, "");
    }
    case TCC_DTYPE_F8E8M0:
      return call1(b, e8m0_decode_fn(e), call1(b, e8m0_encode_fn(e, sat), LLVMBuildFPExt(b, v, e->f64, "")));
    default: {
      const fmt_t *f = fmt_of(dt);
      LLVMValueRef code = call1(b, mini_encode_fn(e, f, sat), LLVMBuildFPExt(b, v, e->f64, ""));
      return LLVMBuildFPTrunc(b, call1(b, mini_decode_fn(e, f), code), e->f32, "");
    }
  }
}

/* An f64 value rounded to the float-class dtype dt (f32 result), rounding once. */
static LLVMValueRef round_d(tcc_llvm_emitter_t *e, LLVMBuilderRef b, tcc_dtype_t dt, LLVMValueRef d, bool sat) {
  LLVMValueRef narrow = LLVMBuildFPTrunc(b, d, e->f32, "");
  if (dt == TCC_DTYPE_F32) return narrow;
  if (dt == TCC_DTYPE_F16 || dt == TCC_DTYPE_BF16) {
    const fmt_t *f = fmt_of(dt);
    LLVMValueRef exact = LLVMBuildFCmp(b, LLVMRealUEQ, LLVMBuildFPExt(b, narrow, e->f64, ""), d, "");
    LLVMValueRef once = LLVMBuildFPTrunc(b, call1(b, mini_decode_fn(e, f), call1(b, mini_encode_fn(e, f, false), d)),
                                         e->f32, "");
    return LLVMBuildSelect(b, exact, round_f(e, b, dt, narrow, sat), once, "");
  }
  if (dt == TCC_DTYPE_F8E8M0) return call1(b, e8m0_decode_fn(e), call1(b, e8m0_encode_fn(e, sat), d));
  const fmt_t *f = fmt_of(dt);
  return LLVMBuildFPTrunc(b, call1(b, mini_decode_fn(e, f), call1(b, mini_encode_fn(e, f, sat), d)), e->f32, "");
}

/* ---- per-function state ---- */

typedef struct {
  LLVMValueRef base;             /* element memory */
  LLVMValueRef *dims, *strides;  /* i64, in the entry block; NULL until first needed */
  LLVMValueRef bytes;            /* temporaries: size in bytes */
} bufv_t;

typedef struct {
  const tcc_dim_t *d;
  LLVMValueRef v;
} dimc_t;

typedef struct {
  tcc_llvm_emitter_t *e;
  const tcc_kernel_t *k;
  LLVMValueRef fn;
  LLVMBuilderRef b, eb;
  LLVMBasicBlockRef entry, exit;
  LLVMValueRef ctx, syms, err, nomem; /* ctx: the tcc_module_kernel_ctx_t; syms: ctx->symbols */
  LLVMValueRef *vars; /* by id */
  bufv_t *bufs;       /* by id */
  dimc_t *dims;
  int num_dims, cap_dims;
  LLVMValueRef *mallocs;
  int num_mallocs;
  bool outlined;             /* the body of a PARALLEL loop: nested PARALLEL loops run serially */
  const tcc_kstmt_t *grid;   /* GPU mode: the loop spread over the grid (emit_grid_loop) */
  LLVMValueRef has_work;     /* GPU mode with a grid loop: whether this thread gets iterations (entry block) */
  const tcc_kvar_t *vvar;    /* inside a vector loop body: its variable (lanes vbase .. vbase + lanes - 1) */
  LLVMValueRef vbase;
  tcc_status_t st;
} fn_t;

static void fail(fn_t *f, tcc_status_t st) {
  if (!f->st) f->st = st;
  else tcc_status_free(st);
}

static int symbol_index(tcc_llvm_emitter_t *e, const char *name) {
  for (int i = 0; i < e->num_syms; i++)
    if (strcmp(e->syms[i], name) == 0) return i;
  if (e->num_syms == e->cap_syms) {
    int cap = e->cap_syms ? 2 * e->cap_syms : 8;
    char **s = realloc(e->syms, (size_t)cap * sizeof *s);
    if (!s) return -1;
    e->syms = s, e->cap_syms = cap;
  }
  char *copy = strdup(name);
  if (!copy) return -1;
  e->syms[e->num_syms] = copy;
  return e->num_syms++;
}

/* ---- run-time sizes: a dim's text form (ir/dim.h) evaluated in i64 in the entry block ---- */

typedef struct {
  fn_t *f;
  const char *p;
  bool bad;
} dparse_t;

static LLVMValueRef dp_expr(dparse_t *d);

static void dp_space(dparse_t *d) {
  while (*d->p == ' ') d->p++;
}

static LLVMValueRef dp_symbol(dparse_t *d, const char *name) {
  fn_t *f = d->f;
  int i = symbol_index(f->e, name);
  if (i < 0) {
    d->bad = true;
    return ci(f->e->i64, 0);
  }
  LLVMValueRef idx = ci(f->e->i64, i);
  LLVMValueRef p = LLVMBuildGEP2(f->eb, f->e->i64, f->syms, &idx, 1, "");
  return LLVMBuildLoad2(f->eb, f->e->i64, p, name);
}

static LLVMValueRef dp_factor(dparse_t *d) {
  fn_t *f = d->f;
  LLVMTypeRef L = f->e->i64;
  dp_space(d);
  const char *s = d->p;
  if (*s == '-') {
    d->p++;
    return LLVMBuildNeg(f->eb, dp_factor(d), "");
  }
  if (*s == '(') {
    d->p++;
    LLVMValueRef v = dp_expr(d);
    dp_space(d);
    if (*d->p != ')') d->bad = true;
    else d->p++;
    return v;
  }
  if (isdigit((unsigned char)*s)) {
    char *end;
    long long v = strtoll(s, &end, 10);
    d->p = end;
    return ci(L, v);
  }
  char name[256];
  size_t n = 0;
  if (*s == '"') {
    for (s++; *s && *s != '"'; s++) {
      if (*s == '\\' && s[1]) s++;
      if (n + 1 < sizeof name) name[n++] = *s;
    }
    if (*s != '"') d->bad = true;
    d->p = *s ? s + 1 : s;
  } else if (*s == '?' || isalpha((unsigned char)*s) || *s == '_') {
    for (name[n++] = *s++; (isalnum((unsigned char)*s) || *s == '_') && n + 1 < sizeof name; s++) name[n++] = *s;
    d->p = s;
  } else {
    d->bad = true;
    return ci(L, 0);
  }
  name[n] = 0;
  return dp_symbol(d, name);
}

static LLVMValueRef dp_term(dparse_t *d) {
  fn_t *f = d->f;
  LLVMValueRef t = dp_factor(d);
  for (;;) {
    dp_space(d);
    if (d->bad) return t;
    if (d->p[0] == '/' && d->p[1] == '/') {
      d->p += 2;
      dp_space(d);
      char *end;
      long long c = strtoll(d->p, &end, 10);
      if (end == d->p || c <= 0) {
        d->bad = true;
        return t;
      }
      d->p = end;
      LLVMValueRef cv = ci(f->e->i64, c);
      LLVMValueRef q = LLVMBuildSDiv(f->eb, t, cv, ""), r = LLVMBuildSRem(f->eb, t, cv, "");
      LLVMValueRef adj = LLVMBuildZExt(f->eb, LLVMBuildICmp(f->eb, LLVMIntSLT, r, ci(f->e->i64, 0), ""), f->e->i64, "");
      t = LLVMBuildSub(f->eb, q, adj, "");
    } else if (d->p[0] == '*') {
      d->p++;
      t = LLVMBuildMul(f->eb, t, dp_factor(d), "");
    } else {
      return t;
    }
  }
}

static LLVMValueRef dp_expr(dparse_t *d) {
  fn_t *f = d->f;
  LLVMValueRef v = dp_term(d);
  for (;;) {
    dp_space(d);
    if (d->bad) return v;
    if (*d->p == '+') d->p++, v = LLVMBuildAdd(f->eb, v, dp_term(d), "");
    else if (*d->p == '-') d->p++, v = LLVMBuildSub(f->eb, v, dp_term(d), "");
    else return v;
  }
}

static LLVMValueRef dim_value(fn_t *f, const tcc_dim_t *dim) {
  if (tcc_dim_is_const(dim)) return ci(f->e->i64, tcc_dim_value(dim));
  for (int i = 0; i < f->num_dims; i++)
    if (f->dims[i].d == dim) return f->dims[i].v;
  char text[1024];
  int len = tcc_dim_format(dim, text, sizeof text);
  dparse_t d = {f, text, len <= 0 || (size_t)len >= sizeof text};
  LLVMValueRef v = d.bad ? NULL : dp_expr(&d);
  dp_space(&d);
  if (d.bad || *d.p) {
    fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': cannot evaluate the size '%s' at run time", f->k->name, text));
    return ci(f->e->i64, 0);
  }
  if (f->num_dims == f->cap_dims) {
    int cap = f->cap_dims ? 2 * f->cap_dims : 16;
    dimc_t *n = realloc(f->dims, (size_t)cap * sizeof *n);
    if (!n) {
      fail(f, tcc_status_oom());
      return v;
    }
    f->dims = n, f->cap_dims = cap;
  }
  f->dims[f->num_dims++] = (dimc_t){dim, v};
  return v;
}

/* Dims and row-major strides of a buffer (entry block, once). */
static bufv_t *layout(fn_t *f, const tcc_kbuf_t *buf) {
  bufv_t *bv = &f->bufs[buf->id];
  if (bv->dims) return bv;
  bv->dims = calloc((size_t)buf->rank + 1, sizeof *bv->dims);
  bv->strides = calloc((size_t)buf->rank + 1, sizeof *bv->strides);
  if (!bv->dims || !bv->strides) {
    fail(f, tcc_status_oom());
    free(bv->dims), free(bv->strides);
    bv->dims = bv->strides = NULL;
    return NULL;
  }
  LLVMValueRef s = ci(f->e->i64, 1);
  for (int i = buf->rank - 1; i >= 0; i--) {
    bv->dims[i] = dim_value(f, buf->dims[i]);
    bv->strides[i] = s;
    s = LLVMBuildMul(f->eb, s, bv->dims[i], "");
  }
  bv->dims[buf->rank] = s; /* element count */
  return bv;
}

static void set_err(fn_t *f, LLVMValueRef cond, int bit) {
  LLVMValueRef cur = LLVMBuildLoad2(f->b, f->e->i32, f->err, "");
  LLVMValueRef add = cond ? LLVMBuildSelect(f->b, cond, ci(f->e->i32, bit), ci(f->e->i32, 0), "") : ci(f->e->i32, bit);
  LLVMBuildStore(f->b, LLVMBuildOr(f->b, cur, add, ""), f->err);
}

static LLVMBasicBlockRef new_block(fn_t *f, const char *name) {
  return LLVMAppendBasicBlockInContext(f->e->ctx, f->fn, name);
}

/* ---- expressions ---- */

static LLVMValueRef emit_expr(fn_t *f, const tcc_kexpr_t *x);

/* Whether evaluating x may read memory or divide integers: such select arms are evaluated lazily. */
static bool needs_guard(const tcc_kexpr_t *x) {
  if (!x) return false;
  if (x->kind == TCC_KEXPR_LOAD) return true;
  if (x->kind == TCC_KEXPR_BINARY && dclass(x->dtype) == CLS_I &&
      (x->op == TCC_KOP_DIV || x->op == TCC_KOP_FMOD || x->op == TCC_KOP_FLOORDIV || x->op == TCC_KOP_FLOORMOD))
    return true;
  return needs_guard(x->a) || needs_guard(x->b) || needs_guard(x->c);
}

static LLVMValueRef const_float(fn_t *f, tcc_dtype_t dt, double v) {
  if (dt == TCC_DTYPE_F64) return cf(f->e->f64, v);
  if (dt == TCC_DTYPE_F32) return cf(f->e->f32, (float)v);
  return round_d(f->e, f->eb, dt, cf(f->e->f64, v), true); /* in the entry block; folded by the optimizer */
}

/* The flat element offset (i64) of buf[index], and (bounds_check) whether every index is in range. */
static LLVMValueRef offset(fn_t *f, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index, LLVMValueRef *ok) {
  bufv_t *bv = layout(f, buf);
  LLVMValueRef off = ci(f->e->i64, 0);
  *ok = NULL;
  if (!bv) return off;
  for (int i = 0; i < buf->rank; i++) {
    LLVMValueRef ix = emit_expr(f, index[i]);
    off = LLVMBuildAdd(f->b, off, LLVMBuildMul(f->b, ix, bv->strides[i], ""), "");
    if (f->e->opt.bounds_check) {
      LLVMValueRef in = LLVMBuildICmp(f->b, LLVMIntULT, ix, bv->dims[i], "");
      *ok = *ok ? LLVMBuildAnd(f->b, *ok, in, "") : in;
    }
  }
  return off;
}

static LLVMValueRef gep(fn_t *f, LLVMTypeRef t, const tcc_kbuf_t *buf, LLVMValueRef off) {
  return LLVMBuildGEP2(f->b, t, f->bufs[buf->id].base, &off, 1, "");
}

/* Loads element `off` of buf as a value of its class. */
static LLVMValueRef load_elem(fn_t *f, const tcc_kbuf_t *buf, LLVMValueRef off) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  tcc_dtype_t dt = buf->dtype;
  if (dt == TCC_DTYPE_I4 || dt == TCC_DTYPE_U4 || dt == TCC_DTYPE_F4E2M1) {
    LLVMValueRef byte = LLVMBuildLoad2(b, e->i8, gep(f, e->i8, buf, LLVMBuildLShr(b, off, ci(e->i64, 1), "")), "");
    LLVMValueRef odd = LLVMBuildTrunc(b, off, e->i1, "");
    LLVMValueRef hi = LLVMBuildLShr(b, byte, ci(e->i8, 4), ""), nib = LLVMBuildSelect(b, odd, hi, byte, "");
    LLVMValueRef v4 = LLVMBuildTrunc(b, nib, e->i4, "");
    if (dt != TCC_DTYPE_F4E2M1) return v4;
    LLVMValueRef d = call1(b, mini_decode_fn(e, &FMT_E2M1), LLVMBuildZExt(b, v4, e->i32, ""));
    return LLVMBuildFPTrunc(b, d, e->f32, "");
  }
  switch (dt) {
    case TCC_DTYPE_BOOL:
      return LLVMBuildICmp(b, LLVMIntNE, LLVMBuildLoad2(b, e->i8, gep(f, e->i8, buf, off), ""), ci(e->i8, 0), "");
    case TCC_DTYPE_F16: return call1(b, f16_decode_fn(e), LLVMBuildLoad2(b, e->i16, gep(f, e->i16, buf, off), ""));
    case TCC_DTYPE_BF16: {
      LLVMValueRef bits = LLVMBuildZExt(b, LLVMBuildLoad2(b, e->i16, gep(f, e->i16, buf, off), ""), e->i32, "");
      return LLVMBuildBitCast(b, LLVMBuildShl(b, bits, ci(e->i32, 16), ""), e->f32, "");
    }
    case TCC_DTYPE_F8E8M0:
      return call1(b, e8m0_decode_fn(e),
                   LLVMBuildZExt(b, LLVMBuildLoad2(b, e->i8, gep(f, e->i8, buf, off), ""), e->i32, ""));
    default: break;
  }
  const fmt_t *fm = fmt_of(dt);
  if (fm) {
    LLVMValueRef bits = LLVMBuildZExt(b, LLVMBuildLoad2(b, e->i8, gep(f, e->i8, buf, off), ""), e->i32, "");
    return LLVMBuildFPTrunc(b, call1(b, mini_decode_fn(e, fm), bits), e->f32, "");
  }
  LLVMTypeRef t = vtype(e, dt);
  return LLVMBuildLoad2(b, t, gep(f, t, buf, off), "");
}

static void store_elem(fn_t *f, const tcc_kbuf_t *buf, LLVMValueRef off, LLVMValueRef v) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  tcc_dtype_t dt = buf->dtype;
  if (dt == TCC_DTYPE_I4 || dt == TCC_DTYPE_U4 || dt == TCC_DTYPE_F4E2M1) {
    LLVMValueRef nib = dt == TCC_DTYPE_F4E2M1
                           ? LLVMBuildTrunc(b, call1(b, mini_encode_fn(e, &FMT_E2M1, false), LLVMBuildFPExt(b, v, e->f64, "")),
                                            e->i8, "")
                           : LLVMBuildZExt(b, v, e->i8, "");
    nib = LLVMBuildAnd(b, nib, ci(e->i8, 15), "");
    LLVMValueRef p = gep(f, e->i8, buf, LLVMBuildLShr(b, off, ci(e->i64, 1), ""));
    LLVMValueRef byte = LLVMBuildLoad2(b, e->i8, p, ""), odd = LLVMBuildTrunc(b, off, e->i1, "");
    LLVMValueRef hi = LLVMBuildOr(b, LLVMBuildAnd(b, byte, ci(e->i8, 0x0f), ""), LLVMBuildShl(b, nib, ci(e->i8, 4), ""), "");
    LLVMValueRef lo = LLVMBuildOr(b, LLVMBuildAnd(b, byte, ci(e->i8, 0xf0), ""), nib, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, odd, hi, lo, ""), p);
    return;
  }
  switch (dt) {
    case TCC_DTYPE_BOOL: LLVMBuildStore(b, LLVMBuildZExt(b, v, e->i8, ""), gep(f, e->i8, buf, off)); return;
    case TCC_DTYPE_F16: LLVMBuildStore(b, call1(b, f16_encode_fn(e), v), gep(f, e->i16, buf, off)); return;
    case TCC_DTYPE_BF16: LLVMBuildStore(b, call1(b, bf16_encode_fn(e), v), gep(f, e->i16, buf, off)); return;
    case TCC_DTYPE_F8E8M0: {
      LLVMValueRef code = call1(b, e8m0_encode_fn(e, false), LLVMBuildFPExt(b, v, e->f64, ""));
      LLVMBuildStore(b, LLVMBuildTrunc(b, code, e->i8, ""), gep(f, e->i8, buf, off));
      return;
    }
    default: break;
  }
  const fmt_t *fm = fmt_of(dt);
  if (fm) {
    LLVMValueRef code = call1(b, mini_encode_fn(e, fm, false), LLVMBuildFPExt(b, v, e->f64, ""));
    LLVMBuildStore(b, LLVMBuildTrunc(b, code, e->i8, ""), gep(f, e->i8, buf, off));
    return;
  }
  LLVMBuildStore(b, v, gep(f, vtype(e, dt), buf, off));
}

/* Runs body() only where ok holds (bounds_check); a value-producing access yields zero elsewhere. */
static LLVMValueRef emit_load(fn_t *f, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index) {
  LLVMValueRef ok, off = offset(f, buf, index, &ok);
  if (!ok) return load_elem(f, buf, off);
  LLVMBasicBlockRef yes = new_block(f, "in"), no = new_block(f, "out"), join = new_block(f, "join");
  LLVMBuildCondBr(f->b, ok, yes, no);
  LLVMPositionBuilderAtEnd(f->b, yes);
  LLVMValueRef v = load_elem(f, buf, off);
  LLVMBasicBlockRef yes_end = LLVMGetInsertBlock(f->b);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, no);
  set_err(f, NULL, TCC_KERNEL_ERR_BOUNDS);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, join);
  LLVMValueRef phi = LLVMBuildPhi(f->b, LLVMTypeOf(v), "");
  LLVMValueRef vals[2] = {v, LLVMConstNull(LLVMTypeOf(v))};
  LLVMBasicBlockRef from[2] = {yes_end, no};
  LLVMAddIncoming(phi, vals, from, 2);
  return phi;
}

static LLVMValueRef ext64(fn_t *f, LLVMValueRef v, tcc_dtype_t dt) {
  if (int_width(LLVMTypeOf(v)) == 64) return v;
  return is_unsigned(dt) ? LLVMBuildZExt(f->b, v, f->e->i64, "") : LLVMBuildSExt(f->b, v, f->e->i64, "");
}

/* float (as f64) -> integer dtype dt per ONNX Cast (evaluator's float_to_int). */
static LLVMValueRef float_to_int(fn_t *f, LLVMValueRef d, tcc_dtype_t dt) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  LLVMTypeRef t = vtype(e, dt);
  if (dt == TCC_DTYPE_BOOL) return LLVMBuildFCmp(b, LLVMRealUNE, d, cf(e->f64, 0), "");
  bool uns = is_unsigned(dt);
  int w = int_bits(dt);
  if (w == 4) {
    double lo = uns ? 0 : -8, hi = uns ? 15 : 7;
    LLVMValueRef c = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, d, cf(e->f64, lo), ""), cf(e->f64, lo), d, "");
    c = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, c, cf(e->f64, hi), ""), cf(e->f64, hi), c, "");
    LLVMValueRef r = fp_to_int_sat(e, b, intr1(e, b, "llvm.roundeven", c), e->i8, false);
    r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, d, d, ""), ci(e->i8, 0), r, "");
    return LLVMBuildTrunc(b, r, e->i4, "");
  }
  double lo = uns ? 0 : -ldexp(1, w - 1), hi = uns ? ldexp(1, w) : ldexp(1, w - 1);
  LLVMValueRef tr = intr1(e, b, "llvm.trunc", d);
  LLVMValueRef in = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOGE, tr, cf(e->f64, lo), ""),
                                 LLVMBuildFCmp(b, LLVMRealOLT, tr, cf(e->f64, hi), ""), "");
  LLVMValueRef v = fp_to_int_sat(e, b, tr, t, uns);
  LLVMValueRef minv = uns ? ci(t, 0) : LLVMConstInt(t, 1ull << (w - 1), 0);
  return LLVMBuildSelect(b, in, v, minv, "");
}

static LLVMValueRef int_to_int(fn_t *f, LLVMValueRef v, tcc_dtype_t from, tcc_dtype_t to) {
  LLVMBuilderRef b = f->b;
  LLVMTypeRef t = vtype(f->e, to);
  if (to == TCC_DTYPE_BOOL) return LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
  LLVMValueRef x = ext64(f, v, from);
  LLVMTypeRef L = f->e->i64;
  if (int_bits(to) == 4) {
    long long lo = is_unsigned(to) ? 0 : -8, hi = is_unsigned(to) ? 15 : 7;
    if (is_unsigned(from)) {
      x = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGT, x, ci(L, hi), ""), ci(L, hi), x, "");
    } else {
      x = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, ci(L, lo), ""), ci(L, lo), x, "");
      x = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, ci(L, hi), ""), ci(L, hi), x, "");
    }
  }
  return t == L ? x : LLVMBuildTrunc(b, x, t, "");
}

/* The CAST x applied to the value v of its operand. */
static LLVMValueRef cast_value(fn_t *f, const tcc_kexpr_t *x, LLVMValueRef v) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  tcc_dtype_t from = x->a->dtype, to = x->dtype;
  int fc = dclass(from), tc = dclass(to);
  if (fc == CLS_I) {
    if (tc == CLS_I) return int_to_int(f, v, from, to);
    LLVMValueRef w = ext64(f, v, from);
    bool uns = is_unsigned(from);
    if (to == TCC_DTYPE_F32) return uns ? LLVMBuildUIToFP(b, w, e->f32, "") : LLVMBuildSIToFP(b, w, e->f32, "");
    LLVMValueRef d = uns ? LLVMBuildUIToFP(b, w, e->f64, "") : LLVMBuildSIToFP(b, w, e->f64, "");
    return tc == CLS_D ? d : round_d(e, b, to, d, x->saturate);
  }
  if (fc == CLS_F) {
    if (tc == CLS_I) return float_to_int(f, LLVMBuildFPExt(b, v, e->f64, ""), to);
    if (tc == CLS_D) return LLVMBuildFPExt(b, v, e->f64, "");
    return round_f(e, b, to, v, x->saturate);
  }
  if (tc == CLS_I) return float_to_int(f, v, to);
  if (tc == CLS_D) return v;
  return round_d(e, b, to, v, x->saturate);
}

/* The UNARY x applied to the value a of its operand; vector-safe for the operators vector_native accepts. */
static LLVMValueRef unary_value(fn_t *f, const tcc_kexpr_t *x, LLVMValueRef a) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  int c = dclass(x->a->dtype);
  if (x->op == TCC_KOP_IS_NAN || x->op == TCC_KOP_IS_INF) {
    if (c == CLS_I) return ci(e->i1, 0);
    if (x->op == TCC_KOP_IS_NAN) return LLVMBuildFCmp(b, LLVMRealUNO, a, a, "");
    return LLVMBuildFCmp(b, LLVMRealOEQ, intr1(e, b, "llvm.fabs", a), cf(t, INFINITY), "");
  }
  if (x->op == TCC_KOP_NOT)
    return c == CLS_I ? LLVMBuildICmp(b, LLVMIntEQ, a, LLVMConstNull(t), "") : LLVMBuildFCmp(b, LLVMRealOEQ, a, cf(t, 0), "");
  if (c == CLS_I) {
    bool uns = is_unsigned(x->a->dtype);
    switch (x->op) {
      case TCC_KOP_NEG: return LLVMBuildNeg(b, a, "");
      case TCC_KOP_ABS:
        return uns ? a : LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, a, LLVMConstNull(t), ""), LLVMBuildNeg(b, a, ""), a, "");
      case TCC_KOP_SIGN:
        if (uns) return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, a, LLVMConstNull(t), ""), t, "");
        return LLVMBuildSub(b, LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntSGT, a, LLVMConstNull(t), ""), t, ""),
                            LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntSLT, a, LLVMConstNull(t), ""), t, ""), "");
      case TCC_KOP_BITNOT: return LLVMBuildNot(b, a, "");
      default:
        fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': %s of an integer", f->k->name, tcc_kop_name(x->op)));
        return a;
    }
  }
  LLVMValueRef one = cf(t, 1);
  switch (x->op) {
    case TCC_KOP_NEG: return LLVMBuildFNeg(b, a, "");
    case TCC_KOP_ABS: return intr1(e, b, "llvm.fabs", a);
    case TCC_KOP_SIGN: {
      LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, cf(t, 0), ""), cf(t, -1), a, "");
      return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, cf(t, 0), ""), one, r, "");
    }
    case TCC_KOP_SQRT: return intr1(e, b, "llvm.sqrt", a);
    case TCC_KOP_RSQRT: return LLVMBuildFDiv(b, one, intr1(e, b, "llvm.sqrt", a), "");
    case TCC_KOP_RECIPROCAL: return LLVMBuildFDiv(b, one, a, "");
    case TCC_KOP_EXP: return libm(e, b, "exp", a, NULL);
    case TCC_KOP_LOG: return libm(e, b, "log", a, NULL);
    case TCC_KOP_ERF: return libm(e, b, "erf", a, NULL);
    case TCC_KOP_TANH: return libm(e, b, "tanh", a, NULL);
    case TCC_KOP_SIGMOID:
      return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, libm(e, b, "exp", LLVMBuildFNeg(b, a, ""), NULL), ""), "");
    case TCC_KOP_SIN: return libm(e, b, "sin", a, NULL);
    case TCC_KOP_COS: return libm(e, b, "cos", a, NULL);
    case TCC_KOP_TAN: return libm(e, b, "tan", a, NULL);
    case TCC_KOP_ASIN: return libm(e, b, "asin", a, NULL);
    case TCC_KOP_ACOS: return libm(e, b, "acos", a, NULL);
    case TCC_KOP_ATAN: return libm(e, b, "atan", a, NULL);
    case TCC_KOP_SINH: return libm(e, b, "sinh", a, NULL);
    case TCC_KOP_COSH: return libm(e, b, "cosh", a, NULL);
    case TCC_KOP_ASINH: return libm(e, b, "asinh", a, NULL);
    case TCC_KOP_ACOSH: return libm(e, b, "acosh", a, NULL);
    case TCC_KOP_ATANH: return libm(e, b, "atanh", a, NULL);
    case TCC_KOP_FLOOR: return intr1(e, b, "llvm.floor", a);
    case TCC_KOP_CEIL: return intr1(e, b, "llvm.ceil", a);
    case TCC_KOP_ROUND_EVEN: return intr1(e, b, "llvm.roundeven", a);
    case TCC_KOP_BITNOT:
    default:
      fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': %s of a float", f->k->name, tcc_kop_name(x->op)));
      return a;
  }
}

/* Integer DIV / FMOD / FLOORDIV / FLOORMOD: b == 0 gives 0 and sets the error bit; b == -1 never traps. */
static LLVMValueRef int_division(fn_t *f, tcc_kop_t op, LLVMValueRef a, LLVMValueRef bv, bool uns) {
  LLVMBuilderRef b = f->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef zero = LLVMConstNull(t), one = ci(t, 1);
  LLVMValueRef bz = LLVMBuildICmp(b, LLVMIntEQ, bv, zero, "");
  set_err(f, bz, TCC_KERNEL_ERR_DIV_ZERO);
  LLVMValueRef r;
  if (uns || int_width(t) == 1) {
    LLVMValueRef d = LLVMBuildSelect(b, bz, one, bv, "");
    r = op == TCC_KOP_DIV || op == TCC_KOP_FLOORDIV ? LLVMBuildUDiv(b, a, d, "") : LLVMBuildURem(b, a, d, "");
  } else {
    LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, bv, LLVMConstAllOnes(t), "");
    LLVMValueRef d = LLVMBuildSelect(b, LLVMBuildOr(b, bz, m1, ""), one, bv, "");
    LLVMValueRef q = LLVMBuildSDiv(b, a, d, ""), rem = LLVMBuildSRem(b, a, d, "");
    LLVMValueRef rnz = LLVMBuildICmp(b, LLVMIntNE, rem, zero, "");
    switch (op) {
      case TCC_KOP_DIV: r = LLVMBuildSelect(b, m1, LLVMBuildNeg(b, a, ""), q, ""); break;
      case TCC_KOP_FMOD: r = LLVMBuildSelect(b, m1, zero, rem, ""); break;
      case TCC_KOP_FLOORDIV: {
        LLVMValueRef sd = LLVMBuildXor(b, LLVMBuildICmp(b, LLVMIntSLT, a, zero, ""), LLVMBuildICmp(b, LLVMIntSLT, bv, zero, ""), "");
        LLVMValueRef adj = LLVMBuildSelect(b, LLVMBuildAnd(b, rnz, sd, ""), LLVMBuildSub(b, q, one, ""), q, "");
        r = LLVMBuildSelect(b, m1, LLVMBuildNeg(b, a, ""), adj, "");
        break;
      }
      default: { /* FLOORMOD */
        LLVMValueRef sd = LLVMBuildXor(b, LLVMBuildICmp(b, LLVMIntSLT, rem, zero, ""), LLVMBuildICmp(b, LLVMIntSLT, bv, zero, ""), "");
        LLVMValueRef adj = LLVMBuildSelect(b, LLVMBuildAnd(b, rnz, sd, ""), LLVMBuildAdd(b, rem, bv, ""), rem, "");
        r = LLVMBuildSelect(b, m1, zero, adj, "");
        break;
      }
    }
  }
  return LLVMBuildSelect(b, bz, zero, r, "");
}

/* The BINARY x applied to the values a and c of its operands; vector-safe for the operators vector_native
 * accepts. */
static LLVMValueRef binary_value(fn_t *f, const tcc_kexpr_t *x, LLVMValueRef a, LLVMValueRef c) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  int cls = dclass(x->a->dtype);
  bool uns = cls == CLS_I && is_unsigned(x->a->dtype);
  if (tcc_kop_is_comparison(x->op)) {
    int k = (int)(x->op - TCC_KOP_EQ);
    if (cls == CLS_I) {
      static const LLVMIntPredicate S[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
      static const LLVMIntPredicate U[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT, LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
      return LLVMBuildICmp(b, uns ? U[k] : S[k], a, c, "");
    }
    static const LLVMRealPredicate R[6] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT, LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
    return LLVMBuildFCmp(b, R[k], a, c, "");
  }
  if (cls == CLS_I) {
    unsigned w = int_width(t);
    switch (x->op) {
      case TCC_KOP_ADD: return LLVMBuildAdd(b, a, c, "");
      case TCC_KOP_SUB: return LLVMBuildSub(b, a, c, "");
      case TCC_KOP_MUL: return LLVMBuildMul(b, a, c, "");
      case TCC_KOP_DIV: case TCC_KOP_FMOD: case TCC_KOP_FLOORDIV: case TCC_KOP_FLOORMOD:
        return int_division(f, x->op, a, c, uns);
      case TCC_KOP_POW: {
        LLVMValueRef fn = ipow_fn(e, t, uns), args[2] = {a, c};
        return LLVMBuildCall2(b, LLVMGlobalGetValueType(fn), fn, args, 2, "");
      }
      case TCC_KOP_MIN: return LLVMBuildSelect(b, LLVMBuildICmp(b, uns ? LLVMIntULT : LLVMIntSLT, a, c, ""), a, c, "");
      case TCC_KOP_MAX: return LLVMBuildSelect(b, LLVMBuildICmp(b, uns ? LLVMIntUGT : LLVMIntSGT, a, c, ""), a, c, "");
      case TCC_KOP_AND: return LLVMBuildAnd(b, a, c, "");
      case TCC_KOP_OR: return LLVMBuildOr(b, a, c, "");
      case TCC_KOP_XOR: return LLVMBuildXor(b, a, c, "");
      case TCC_KOP_SHL:
      case TCC_KOP_SHR: {
        /* a shift by the width or more gives 0 (also for a signed right shift), as in the evaluator */
        LLVMValueRef big = w == 1 ? LLVMBuildICmp(b, LLVMIntNE, c, LLVMConstNull(t), "")
                                  : LLVMBuildICmp(b, LLVMIntUGE, c, ci(t, w), "");
        LLVMValueRef amount = LLVMBuildSelect(b, big, LLVMConstNull(t), c, "");
        LLVMValueRef r = x->op == TCC_KOP_SHL ? LLVMBuildShl(b, a, amount, "")
                         : uns ? LLVMBuildLShr(b, a, amount, "") : LLVMBuildAShr(b, a, amount, "");
        return LLVMBuildSelect(b, big, LLVMConstNull(t), r, "");
      }
      default:
        fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': %s of integers", f->k->name, tcc_kop_name(x->op)));
        return a;
    }
  }
  switch (x->op) {
    case TCC_KOP_ADD: return LLVMBuildFAdd(b, a, c, "");
    case TCC_KOP_SUB: return LLVMBuildFSub(b, a, c, "");
    case TCC_KOP_MUL: return LLVMBuildFMul(b, a, c, "");
    case TCC_KOP_DIV: return LLVMBuildFDiv(b, a, c, "");
    case TCC_KOP_FMOD: return LLVMBuildFRem(b, a, c, "");
    case TCC_KOP_POW: return libm(e, b, "pow", a, c);
    case TCC_KOP_MIN:
    case TCC_KOP_MAX: {
      /* NaN in a wins; otherwise a when strictly smaller (greater), else b */
      LLVMValueRef take_a = LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealUNO, a, a, ""),
                                        LLVMBuildFCmp(b, x->op == TCC_KOP_MIN ? LLVMRealOLT : LLVMRealOGT, a, c, ""), "");
      return LLVMBuildSelect(b, take_a, a, c, "");
    }
    default:
      fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': %s of floats", f->k->name, tcc_kop_name(x->op)));
      return a;
  }
}

static LLVMValueRef as_cond(fn_t *f, LLVMValueRef v) {
  LLVMTypeRef t = LLVMTypeOf(v), st = scalar_type(t);
  if (st == f->e->i1) return v;
  if (st == f->e->f32 || st == f->e->f64) return LLVMBuildFCmp(f->b, LLVMRealUNE, v, cf(t, 0), "");
  return LLVMBuildICmp(f->b, LLVMIntNE, v, LLVMConstNull(t), "");
}

static LLVMValueRef emit_select(fn_t *f, const tcc_kexpr_t *x) {
  LLVMValueRef c = as_cond(f, emit_expr(f, x->a));
  if (!needs_guard(x->b) && !needs_guard(x->c))
    return LLVMBuildSelect(f->b, c, emit_expr(f, x->b), emit_expr(f, x->c), "");
  LLVMBasicBlockRef bt = new_block(f, "sel.t"), bf = new_block(f, "sel.f"), join = new_block(f, "sel.join");
  LLVMBuildCondBr(f->b, c, bt, bf);
  LLVMPositionBuilderAtEnd(f->b, bt);
  LLVMValueRef vt = emit_expr(f, x->b);
  LLVMBasicBlockRef et = LLVMGetInsertBlock(f->b);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, bf);
  LLVMValueRef vf = emit_expr(f, x->c);
  LLVMBasicBlockRef ef = LLVMGetInsertBlock(f->b);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, join);
  LLVMValueRef phi = LLVMBuildPhi(f->b, LLVMTypeOf(vt), "");
  LLVMValueRef vals[2] = {vt, vf};
  LLVMBasicBlockRef from[2] = {et, ef};
  LLVMAddIncoming(phi, vals, from, 2);
  return phi;
}

static LLVMValueRef emit_expr(fn_t *f, const tcc_kexpr_t *x) {
  tcc_llvm_emitter_t *e = f->e;
  if (!supported(x->dtype)) {
    fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': expression of %s", f->k->name, tcc_dtype_name(x->dtype)));
    return ci(e->i64, 0);
  }
  int cls = dclass(x->dtype);
  switch (x->kind) {
    case TCC_KEXPR_INT: {
      if (cls != CLS_I) return const_float(f, x->dtype, (double)x->i);
      if (x->dtype == TCC_DTYPE_BOOL) return ci(e->i1, x->i != 0);
      int w = int_bits(x->dtype);
      uint64_t v = (uint64_t)x->i;
      if (w < 64) v &= (1ull << w) - 1;
      return LLVMConstInt(vtype(e, x->dtype), v, 0);
    }
    case TCC_KEXPR_FLOAT:
      if (cls == CLS_I) {
        fail(f, tcc_status_make(TCC_INTERNAL, "kernel '%s': float constant of %s", f->k->name, tcc_dtype_name(x->dtype)));
        return ci(vtype(e, x->dtype), 0);
      }
      return const_float(f, x->dtype, x->f);
    case TCC_KEXPR_VAR:
      if (!x->var || x->var->id >= f->k->next_id || !f->vars[x->var->id]) {
        fail(f, tcc_status_make(TCC_INTERNAL, "kernel '%s': variable used outside its loop", f->k->name));
        return ci(e->i64, 0);
      }
      return f->vars[x->var->id];
    case TCC_KEXPR_DIM: return dim_value(f, x->dim);
    case TCC_KEXPR_LOAD: return emit_load(f, x->buf, x->index);
    case TCC_KEXPR_UNARY: return unary_value(f, x, emit_expr(f, x->a));
    case TCC_KEXPR_BINARY: {
      LLVMValueRef a = emit_expr(f, x->a);
      return binary_value(f, x, a, emit_expr(f, x->b));
    }
    case TCC_KEXPR_SELECT: return emit_select(f, x);
    case TCC_KEXPR_CAST: return cast_value(f, x, emit_expr(f, x->a));
    default:
      fail(f, tcc_status_make(TCC_INTERNAL, "kernel '%s': unknown expression kind %d", f->k->name, (int)x->kind));
      return ci(e->i64, 0);
  }
}

/* ---- statements ---- */

static void emit_block(fn_t *f, const tcc_kblock_t *blk);

/* A counted loop: i from start while i < end; loop_open leaves the builder in the body (blocks named head,
 * body, done; i named var), loop_close (after the body) steps i by step, branches back and leaves the builder
 * after the loop. */
typedef struct {
  LLVMBasicBlockRef pre, head, done;
  LLVMValueRef start, i;
} counted_loop_t;

static counted_loop_t loop_open(fn_t *f, LLVMValueRef start, LLVMValueRef end, const char *var, const char *head,
                                const char *body, const char *done) {
  LLVMBuilderRef b = f->b;
  counted_loop_t l = {.pre = LLVMGetInsertBlock(b), .head = new_block(f, head), .start = start};
  LLVMBasicBlockRef body_block = new_block(f, body);
  l.done = new_block(f, done);
  LLVMBuildBr(b, l.head);
  LLVMPositionBuilderAtEnd(b, l.head);
  l.i = LLVMBuildPhi(b, f->e->i64, var);
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, l.i, end, ""), body_block, l.done);
  LLVMPositionBuilderAtEnd(b, body_block);
  return l;
}

static void loop_close_by(fn_t *f, const counted_loop_t *l, LLVMValueRef step) {
  LLVMBuilderRef b = f->b;
  LLVMValueRef next = LLVMBuildAdd(b, l->i, step, "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
  LLVMBuildBr(b, l->head);
  LLVMValueRef vals[2] = {l->start, next};
  LLVMBasicBlockRef from[2] = {l->pre, latch};
  LLVMAddIncoming(l->i, vals, from, 2);
  LLVMPositionBuilderAtEnd(b, l->done);
}

static void loop_close(fn_t *f, const counted_loop_t *l, int64_t step) { loop_close_by(f, l, ci(f->e->i64, step)); }

/* A serial loop of s's body over [start, end). */
static void emit_range(fn_t *f, const tcc_kstmt_t *s, LLVMValueRef start, LLVMValueRef end) {
  counted_loop_t l = loop_open(f, start, end, s->var->name, s->var->name, "body", "done");
  f->vars[s->var->id] = l.i;
  emit_block(f, &s->body);
  f->vars[s->var->id] = NULL;
  loop_close(f, &l, 1);
}

/* ---- vector loops: lanes vbase + j of the loop variable, j < lanes ---- */

static LLVMTypeRef vec_of(fn_t *f, LLVMTypeRef t) { return LLVMVectorType(scalar_type(t), (unsigned)f->e->lanes); }

static LLVMValueRef splat(fn_t *f, LLVMValueRef v) {
  if (is_vector(v)) return v;
  LLVMTypeRef vt = vec_of(f, LLVMTypeOf(v));
  LLVMValueRef one = LLVMBuildInsertElement(f->b, LLVMGetPoison(vt), v, ci(f->e->i32, 0), "");
  return LLVMBuildShuffleVector(f->b, one, LLVMGetPoison(vt), LLVMConstNull(vec_of(f, f->e->i32)), "");
}

static LLVMValueRef lane(fn_t *f, LLVMValueRef v, int j) {
  return is_vector(v) ? LLVMBuildExtractElement(f->b, v, ci(f->e->i32, j), "") : v;
}

static LLVMValueRef set_lane(fn_t *f, LLVMValueRef vec, LLVMValueRef s, int j) {
  if (!vec) vec = LLVMGetPoison(vec_of(f, LLVMTypeOf(s)));
  return LLVMBuildInsertElement(f->b, vec, s, ci(f->e->i32, j), "");
}

/* x evaluated by the scalar emitter once per lane (gathers, lazy selects, what has no vector form). */
static LLVMValueRef per_lane(fn_t *f, const tcc_kexpr_t *x) {
  const tcc_kvar_t *v = f->vvar;
  LLVMValueRef base = f->vbase, r = NULL;
  f->vvar = NULL;
  for (int j = 0; j < f->e->lanes && !f->st; j++) {
    f->vars[v->id] = LLVMBuildAdd(f->b, base, ci(f->e->i64, j), "");
    r = set_lane(f, r, emit_expr(f, x), j);
  }
  f->vars[v->id] = base;
  f->vvar = v;
  return r ? r : ci(f->e->i64, 0);
}

/* Operators whose scalar builders (unary_value, binary_value) are exact on vectors lane by lane. */
static bool vector_native(const tcc_kexpr_t *x) {
  int cls = dclass(x->a->dtype);
  if (x->kind == TCC_KEXPR_UNARY) {
    switch (x->op) {
      case TCC_KOP_IS_NAN: case TCC_KOP_IS_INF: case TCC_KOP_NOT: case TCC_KOP_NEG: case TCC_KOP_ABS: case TCC_KOP_SIGN:
        return true;
      case TCC_KOP_BITNOT: return cls == CLS_I;
      case TCC_KOP_SQRT: case TCC_KOP_RSQRT: case TCC_KOP_RECIPROCAL: case TCC_KOP_FLOOR: case TCC_KOP_CEIL:
      case TCC_KOP_ROUND_EVEN:
        return cls != CLS_I;
      default: return false; /* libm calls */
    }
  }
  if (tcc_kop_is_comparison(x->op)) return true;
  switch (x->op) {
    case TCC_KOP_ADD: case TCC_KOP_SUB: case TCC_KOP_MUL: case TCC_KOP_MIN: case TCC_KOP_MAX: return true;
    case TCC_KOP_DIV: return cls != CLS_I;
    case TCC_KOP_AND: case TCC_KOP_OR: case TCC_KOP_XOR: case TCC_KOP_SHL: case TCC_KOP_SHR: return cls == CLS_I;
    default: return false;
  }
}

static LLVMValueRef vector_expr(fn_t *f, const tcc_kexpr_t *x);

/* Dtypes held in memory as their own LLVM element type, loaded and stored as whole vectors. */
static bool plain_vector_dtype(tcc_dtype_t dt) {
  if (dt == TCC_DTYPE_F32 || dt == TCC_DTYPE_F64) return true;
  return tcc_dtype_is_int(dt) && tcc_dtype_bits(dt) >= 8;
}

static LLVMValueRef vector_load(fn_t *f, const tcc_kexpr_t *x) {
  tcc_llvm_emitter_t *e = f->e;
  tcc_dtype_t dt = x->buf->dtype;
  bool half = dt == TCC_DTYPE_F16 || dt == TCC_DTYPE_BF16;
  if (!tcc_kindex_contiguous(x->index, x->buf->rank, f->vvar) ||
      !(plain_vector_dtype(dt) || half || dt == TCC_DTYPE_BOOL))
    return per_lane(f, x);
  LLVMValueRef ok, off = offset(f, x->buf, x->index, &ok); /* lane 0's element */
  LLVMTypeRef mt = dt == TCC_DTYPE_BOOL ? e->i8 : half ? e->i16 : vtype(e, dt);
  LLVMValueRef ld = LLVMBuildLoad2(f->b, vec_of(f, mt), gep(f, mt, x->buf, off), "");
  LLVMSetAlignment(ld, (unsigned)(LLVMGetIntTypeWidth(mt == e->f32 ? e->i32 : mt == e->f64 ? e->i64 : mt) / 8));
  if (dt == TCC_DTYPE_BOOL) return LLVMBuildICmp(f->b, LLVMIntNE, ld, LLVMConstNull(LLVMTypeOf(ld)), "");
  if (dt == TCC_DTYPE_BF16) {
    LLVMValueRef bits = LLVMBuildShl(f->b, LLVMBuildZExt(f->b, ld, vec_of(f, e->i32), ""), ci(vec_of(f, e->i32), 16), "");
    return LLVMBuildBitCast(f->b, bits, vec_of(f, e->f32), "");
  }
  if (dt == TCC_DTYPE_F16) {
    LLVMValueRef r = NULL, dec = f16_decode_fn(e);
    for (int j = 0; j < e->lanes; j++) r = set_lane(f, r, call1(f->b, dec, lane(f, ld, j)), j);
    return r;
  }
  return ld;
}

static LLVMValueRef vector_cast(fn_t *f, const tcc_kexpr_t *x, LLVMValueRef v) {
  tcc_llvm_emitter_t *e = f->e;
  tcc_dtype_t from = x->a->dtype, to = x->dtype;
  if (from == to) return v;
  v = splat(f, v);
  if (from == TCC_DTYPE_F32 && to == TCC_DTYPE_F64) return LLVMBuildFPExt(f->b, v, vec_of(f, e->f64), "");
  if (from == TCC_DTYPE_F64 && to == TCC_DTYPE_F32) return LLVMBuildFPTrunc(f->b, v, vec_of(f, e->f32), "");
  if (dclass(from) == CLS_I && (to == TCC_DTYPE_F32 || to == TCC_DTYPE_F64)) {
    bool uns = is_unsigned(from);
    LLVMValueRef w = v;
    if (int_width(LLVMTypeOf(v)) < 64)
      w = uns ? LLVMBuildZExt(f->b, v, vec_of(f, e->i64), "") : LLVMBuildSExt(f->b, v, vec_of(f, e->i64), "");
    LLVMTypeRef t = vec_of(f, to == TCC_DTYPE_F32 ? e->f32 : e->f64);
    return uns ? LLVMBuildUIToFP(f->b, w, t, "") : LLVMBuildSIToFP(f->b, w, t, "");
  }
  LLVMValueRef r = NULL;
  for (int j = 0; j < e->lanes && !f->st; j++) r = set_lane(f, r, cast_value(f, x, lane(f, v, j)), j);
  return r;
}

/* x over the lanes: a vector, or a scalar when x does not depend on the loop variable. */
static LLVMValueRef vector_expr(fn_t *f, const tcc_kexpr_t *x) {
  tcc_llvm_emitter_t *e = f->e;
  if (!tcc_kexpr_uses_var(x, f->vvar) || f->st) return emit_expr(f, x);
  switch (x->kind) {
    case TCC_KEXPR_VAR: {
      LLVMValueRef iota[64];
      for (int j = 0; j < e->lanes; j++) iota[j] = ci(e->i64, j);
      return LLVMBuildAdd(f->b, splat(f, f->vbase), LLVMConstVector(iota, (unsigned)e->lanes), "");
    }
    case TCC_KEXPR_LOAD: return vector_load(f, x);
    case TCC_KEXPR_UNARY: {
      LLVMValueRef a = vector_expr(f, x->a);
      if (vector_native(x)) return splat(f, unary_value(f, x, splat(f, a)));
      LLVMValueRef r = NULL;
      for (int j = 0; j < e->lanes && !f->st; j++) r = set_lane(f, r, unary_value(f, x, lane(f, a, j)), j);
      return r;
    }
    case TCC_KEXPR_BINARY: {
      LLVMValueRef a = vector_expr(f, x->a), c = vector_expr(f, x->b);
      if (vector_native(x)) return binary_value(f, x, splat(f, a), splat(f, c));
      LLVMValueRef r = NULL;
      for (int j = 0; j < e->lanes && !f->st; j++) r = set_lane(f, r, binary_value(f, x, lane(f, a, j), lane(f, c, j)), j);
      return r;
    }
    case TCC_KEXPR_SELECT: {
      if (needs_guard(x->b) || needs_guard(x->c)) return per_lane(f, x);
      LLVMValueRef c = as_cond(f, vector_expr(f, x->a));
      LLVMValueRef t = splat(f, vector_expr(f, x->b));
      return LLVMBuildSelect(f->b, c, t, splat(f, vector_expr(f, x->c)), "");
    }
    case TCC_KEXPR_CAST: return vector_cast(f, x, vector_expr(f, x->a));
    default: return per_lane(f, x);
  }
}

static void vector_store(fn_t *f, const tcc_kstmt_t *s) {
  tcc_llvm_emitter_t *e = f->e;
  tcc_dtype_t dt = s->buf->dtype;
  LLVMValueRef ok, off = offset(f, s->buf, s->index, &ok); /* lane 0's element */
  LLVMValueRef v = splat(f, vector_expr(f, s->value));
  if (f->st) return;
  LLVMTypeRef mt = NULL;
  if (plain_vector_dtype(dt)) {
    mt = vtype(e, dt);
  } else if (dt == TCC_DTYPE_BOOL) {
    mt = e->i8, v = LLVMBuildZExt(f->b, v, vec_of(f, e->i8), "");
  } else if (dt == TCC_DTYPE_F16 || dt == TCC_DTYPE_BF16) {
    LLVMValueRef enc = dt == TCC_DTYPE_F16 ? f16_encode_fn(e) : bf16_encode_fn(e), r = NULL;
    for (int j = 0; j < e->lanes; j++) r = set_lane(f, r, call1(f->b, enc, lane(f, v, j)), j);
    mt = e->i16, v = r;
  }
  if (!mt) { /* element by element, in lane order (sub-byte and 8-bit float encodings) */
    for (int j = 0; j < e->lanes; j++) store_elem(f, s->buf, LLVMBuildAdd(f->b, off, ci(e->i64, j), ""), lane(f, v, j));
    return;
  }
  LLVMValueRef st = LLVMBuildStore(f->b, v, gep(f, mt, s->buf, off));
  LLVMSetAlignment(st, (unsigned)(LLVMGetIntTypeWidth(mt == e->f32 ? e->i32 : mt == e->f64 ? e->i64 : mt) / 8));
}

/* Element types worth vectors: the others (float8, float4, e8m0, 4-bit integers) would expand into long
 * lane-by-lane conversion code, so their loops stay serial. */
static bool vector_dtype(tcc_dtype_t dt) {
  return plain_vector_dtype(dt) || dt == TCC_DTYPE_BOOL || dt == TCC_DTYPE_F16 || dt == TCC_DTYPE_BF16;
}

static bool vector_friendly(const tcc_kexpr_t *x) {
  if (!x) return true;
  if (!vector_dtype(x->dtype)) return false;
  if (x->kind == TCC_KEXPR_LOAD) {
    if (!vector_dtype(x->buf->dtype)) return false;
    for (int i = 0; i < x->buf->rank; i++)
      if (!vector_friendly(x->index[i])) return false;
  }
  if (x->kind == TCC_KEXPR_BINARY && x->op == TCC_KOP_POW && dclass(x->dtype) == CLS_I) return false;
  return vector_friendly(x->a) && vector_friendly(x->b) && vector_friendly(x->c);
}

/* Whether s (a VECTORIZED loop) can be emitted with vectors here; otherwise it runs as a serial loop. */
static bool vector_loop_ok(fn_t *f, const tcc_kstmt_t *s) {
  if (f->e->lanes < 2 || f->vvar || f->e->opt.bounds_check || !tcc_schedule_loop_vectorizable(s)) return false;
  for (size_t n = 0; n < s->body.count; n++) {
    const tcc_kstmt_t *st = s->body.stmts[n];
    if (!vector_dtype(st->buf->dtype) || !vector_friendly(st->value)) return false;
    for (int i = 0; i < st->buf->rank; i++)
      if (!vector_friendly(st->index[i])) return false;
  }
  return true;
}

/* [start, end) in steps of `lanes` while whole vectors fit, then a scalar remainder loop. */
static void emit_vector_loop(fn_t *f, const tcc_kstmt_t *s, LLVMValueRef start, LLVMValueRef end) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuilderRef b = f->b;
  LLVMValueRef count = LLVMBuildSub(b, end, start, "");
  count = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, count, ci(e->i64, 0), ""), ci(e->i64, 0), count, "");
  LLVMValueRef vend = LLVMBuildAdd(b, start, LLVMBuildAnd(b, count, ci(e->i64, -(long long)e->lanes), ""), "vend");
  counted_loop_t l = loop_open(f, start, vend, s->var->name, "vloop", "vbody", "vdone");
  f->vvar = s->var, f->vbase = l.i, f->vars[s->var->id] = l.i;
  for (size_t n = 0; n < s->body.count && !f->st; n++) vector_store(f, s->body.stmts[n]);
  f->vvar = NULL, f->vbase = NULL, f->vars[s->var->id] = NULL;
  loop_close(f, &l, e->lanes);
  emit_range(f, s, vend, end);
}

/* ---- parallel loops: the body outlined into `int32_t body(void *env, int64_t begin, int64_t end)` ---- */

static void fn_open(fn_t *f, LLVMBasicBlockRef *body);
static LLVMValueRef fn_close(fn_t *f, LLVMBasicBlockRef body);
static void setup_local(fn_t *f, const tcc_kbuf_t *buf);
static void free_fn(fn_t *f);

/* The LLVM type of tcc_module_kernel_ctx_t (runtime/module_abi.h). */
static LLVMTypeRef kernel_ctx_type(tcc_llvm_emitter_t *e) {
  LLVMTypeRef fields[4] = {e->ptr, e->ptr, e->ptr, e->i32};
  return LLVMStructTypeInContext(e->ctx, fields, 4, 0);
}

static void collect_allocs(const tcc_kblock_t *blk, bool *inside) {
  for (size_t i = 0; i < blk->count; i++) {
    const tcc_kstmt_t *s = blk->stmts[i];
    if (s->kind == TCC_KSTMT_ALLOC) inside[s->buf->id] = true;
    if (s->kind == TCC_KSTMT_FOR || s->kind == TCC_KSTMT_IF) collect_allocs(&s->body, inside);
    if (s->kind == TCC_KSTMT_IF) collect_allocs(&s->orelse, inside);
  }
}

static void collect_loop_vars(const tcc_kblock_t *blk, bool *bound) {
  for (size_t i = 0; i < blk->count; i++) {
    const tcc_kstmt_t *s = blk->stmts[i];
    if (s->kind == TCC_KSTMT_FOR) bound[s->var->id] = true, collect_loop_vars(&s->body, bound);
    if (s->kind == TCC_KSTMT_IF) collect_loop_vars(&s->body, bound), collect_loop_vars(&s->orelse, bound);
  }
}

/* Whether x can be evaluated before the loop: no loads, no variables bound inside it. */
static bool closed(const tcc_kexpr_t *x, const bool *bound) {
  if (!x) return true;
  if (x->kind == TCC_KEXPR_LOAD) return false;
  if (x->kind == TCC_KEXPR_VAR) return !bound[x->var->id];
  return closed(x->a, bound) && closed(x->b, bound) && closed(x->c, bound);
}

/* Innermost iterations of one run of blk (i64, at least 1), counting loops whose extents are closed. */
static LLVMValueRef block_work(fn_t *f, const tcc_kblock_t *blk, const bool *bound) {
  LLVMTypeRef L = f->e->i64;
  LLVMValueRef sum = ci(L, 0);
  for (size_t i = 0; i < blk->count; i++) {
    const tcc_kstmt_t *s = blk->stmts[i];
    if (s->kind == TCC_KSTMT_FOR) {
      LLVMValueRef n = closed(s->extent, bound) ? emit_expr(f, s->extent) : ci(L, 1);
      n = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, n, ci(L, 1), ""), ci(L, 1), n, "");
      sum = LLVMBuildAdd(f->b, sum, LLVMBuildMul(f->b, n, block_work(f, &s->body, bound), ""), "");
    } else if (s->kind == TCC_KSTMT_IF) {
      sum = LLVMBuildAdd(f->b, sum, block_work(f, &s->body, bound), "");
      sum = LLVMBuildAdd(f->b, sum, block_work(f, &s->orelse, bound), "");
    }
  }
  return LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, sum, ci(L, 1), ""), ci(L, 1), sum, "");
}

enum { DEFAULT_PARALLEL_MIN_WORK = 8192 };

static void emit_parallel(fn_t *f, const tcc_kstmt_t *s, LLVMValueRef extent) {
  tcc_llvm_emitter_t *e = f->e;
  const tcc_kernel_t *k = f->k;
  uint32_t nid = k->next_id;
  bool *inside = calloc((size_t)nid + 1, sizeof *inside), *bound = calloc((size_t)nid + 1, sizeof *bound);
  LLVMTypeRef *types = calloc(2 * (size_t)nid + 4, sizeof *types);
  LLVMValueRef *vals = calloc(2 * (size_t)nid + 4, sizeof *vals);
  uint32_t *ids = calloc(2 * (size_t)nid + 4, sizeof *ids); /* field -> buffer id, or nid + variable id */
  fn_t g = {.e = e, .k = k, .outlined = true};
  g.vars = calloc((size_t)nid + 1, sizeof *g.vars);
  g.bufs = calloc((size_t)nid + 1, sizeof *g.bufs);
  if (!inside || !bound || !types || !vals || !ids || !g.vars || !g.bufs) {
    fail(f, tcc_status_oom());
    goto done;
  }
  collect_allocs(&s->body, inside);
  bound[s->var->id] = true;
  collect_loop_vars(&s->body, bound);

  /* env: error slot, ctx, then the buffers and loop variables the body sees from here */
  int nf = 0;
  LLVMValueRef slot = LLVMBuildAlloca(f->eb, e->i32, "par.err");
  LLVMBuildStore(f->b, ci(e->i32, 0), slot);
  types[nf] = e->ptr, vals[nf] = slot, ids[nf++] = UINT32_MAX;
  types[nf] = e->ptr, vals[nf] = f->ctx, ids[nf++] = UINT32_MAX;
  for (uint32_t id = 0; id < nid; id++)
    if (f->bufs[id].base && !inside[id]) types[nf] = e->ptr, vals[nf] = f->bufs[id].base, ids[nf++] = id;
  for (uint32_t id = 0; id < nid; id++)
    if (f->vars[id]) types[nf] = e->i64, vals[nf] = f->vars[id], ids[nf++] = nid + id;
  LLVMTypeRef env_t = LLVMStructTypeInContext(e->ctx, types, (unsigned)nf, 0);
  LLVMValueRef env = LLVMBuildAlloca(f->eb, env_t, "env");
  for (int i = 0; i < nf; i++) LLVMBuildStore(f->b, vals[i], LLVMBuildStructGEP2(f->b, env_t, env, (unsigned)i, ""));

  /* the outlined body */
  char name[640];
  size_t len = 0;
  const char *kname = LLVMGetValueName2(f->fn, &len);
  snprintf(name, sizeof name, "%.*s.body%d", (int)(len < 600 ? len : 600), kname, e->num_bodies++);
  LLVMTypeRef bt[3] = {e->ptr, e->i64, e->i64};
  g.fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->i32, bt, 3, 0));
  LLVMSetLinkage(g.fn, LLVMInternalLinkage);
  add_attr(e, g.fn, "nounwind");
  LLVMBasicBlockRef body;
  fn_open(&g, &body);
  LLVMValueRef genv = LLVMGetParam(g.fn, 0), gslot = NULL;
  for (int i = 0; i < nf; i++) {
    LLVMValueRef v = LLVMBuildLoad2(g.eb, types[i], LLVMBuildStructGEP2(g.eb, env_t, genv, (unsigned)i, ""), "");
    if (i == 0) gslot = v;
    else if (i == 1) g.ctx = v;
    else if (ids[i] < nid) g.bufs[ids[i]].base = v;
    else g.vars[ids[i] - nid] = v;
  }
  g.syms = LLVMBuildLoad2(g.eb, e->ptr, g.ctx, "syms");
  for (int i = 0; i < k->num_locals && !g.st; i++)
    if (inside[k->locals[i]->id]) setup_local(&g, k->locals[i]);
  if (!g.st && vector_loop_ok(&g, s)) /* an innermost loop: each chunk runs with vectors */
    emit_vector_loop(&g, s, LLVMGetParam(g.fn, 1), LLVMGetParam(g.fn, 2));
  else if (!g.st)
    emit_range(&g, s, LLVMGetParam(g.fn, 1), LLVMGetParam(g.fn, 2));
  LLVMValueRef gerr = fn_close(&g, body);
  LLVMBasicBlockRef report = LLVMAppendBasicBlockInContext(e->ctx, g.fn, "report"),
                    ret = LLVMAppendBasicBlockInContext(e->ctx, g.fn, "ret");
  LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntNE, gerr, ci(e->i32, 0), ""), report, ret);
  LLVMPositionBuilderAtEnd(g.b, report);
  LLVMBuildAtomicRMW(g.b, LLVMAtomicRMWBinOpOr, gslot, gerr, LLVMAtomicOrderingMonotonic, 0);
  LLVMBuildBr(g.b, ret);
  LLVMPositionBuilderAtEnd(g.b, ret);
  LLVMBuildRet(g.b, ci(e->i32, 0));
  if (g.st) {
    fail(f, g.st);
    g.st = NULL;
    goto done;
  }

  /* here: ctx->parallel_for(ctx->pool, extent, grain, body, env) when extent > 0 */
  LLVMValueRef min_work = ci(e->i64, e->opt.parallel_min_work > 0 ? e->opt.parallel_min_work : DEFAULT_PARALLEL_MIN_WORK);
  LLVMValueRef work = block_work(f, &s->body, bound);
  LLVMValueRef grain = LLVMBuildSDiv(f->b, LLVMBuildSub(f->b, LLVMBuildAdd(f->b, min_work, work, ""), ci(e->i64, 1), ""), work, "grain");
  LLVMBasicBlockRef call = new_block(f, "par.call"), after = new_block(f, "par.done");
  LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSGT, extent, ci(e->i64, 0), ""), call, after);
  LLVMPositionBuilderAtEnd(f->b, call);
  LLVMTypeRef ctx_t = kernel_ctx_type(e);
  LLVMValueRef pf = LLVMBuildLoad2(f->b, e->ptr, LLVMBuildStructGEP2(f->b, ctx_t, f->ctx, 1, ""), "parallel_for");
  LLVMValueRef pool = LLVMBuildLoad2(f->b, e->ptr, LLVMBuildStructGEP2(f->b, ctx_t, f->ctx, 2, ""), "pool");
  LLVMTypeRef pt[5] = {e->ptr, e->i64, e->i64, e->ptr, e->ptr};
  LLVMValueRef args[5] = {pool, extent, grain, g.fn, env};
  LLVMValueRef rc = LLVMBuildCall2(f->b, LLVMFunctionType(e->i32, pt, 5, 0), pf, args, 5, "");
  LLVMValueRef bits = LLVMBuildOr(f->b, rc, LLVMBuildLoad2(f->b, e->i32, slot, ""), "");
  LLVMBuildStore(f->b, LLVMBuildOr(f->b, LLVMBuildLoad2(f->b, e->i32, f->err, ""), bits, ""), f->err);
  LLVMBuildBr(f->b, after);
  LLVMPositionBuilderAtEnd(f->b, after);
done:
  free(inside), free(bound), free(types), free(vals), free(ids);
  free_fn(&g);
}

static void emit_grid_loop(fn_t *f, const tcc_kstmt_t *s);

static void emit_for(fn_t *f, const tcc_kstmt_t *s) {
  if (s == f->grid) {
    emit_grid_loop(f, s);
    return;
  }
  LLVMValueRef extent = emit_expr(f, s->extent);
  if (s->loop == TCC_KLOOP_PARALLEL && !f->outlined) emit_parallel(f, s, extent);
  else if (s->loop == TCC_KLOOP_VECTORIZED && vector_loop_ok(f, s)) emit_vector_loop(f, s, ci(f->e->i64, 0), extent);
  else emit_range(f, s, ci(f->e->i64, 0), extent);
}

static void emit_store(fn_t *f, const tcc_kstmt_t *s) {
  LLVMValueRef ok, off = offset(f, s->buf, s->index, &ok);
  LLVMValueRef v = emit_expr(f, s->value);
  if (!ok) {
    store_elem(f, s->buf, off, v);
    return;
  }
  LLVMBasicBlockRef yes = new_block(f, "in"), no = new_block(f, "out"), join = new_block(f, "join");
  LLVMBuildCondBr(f->b, ok, yes, no);
  LLVMPositionBuilderAtEnd(f->b, yes);
  store_elem(f, s->buf, off, v);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, no);
  set_err(f, NULL, TCC_KERNEL_ERR_BOUNDS);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, join);
}

static void emit_if(fn_t *f, const tcc_kstmt_t *s) {
  LLVMValueRef c = as_cond(f, emit_expr(f, s->cond));
  LLVMBasicBlockRef bt = new_block(f, "then"), bf = new_block(f, "else"), join = new_block(f, "endif");
  LLVMBuildCondBr(f->b, c, bt, bf);
  LLVMPositionBuilderAtEnd(f->b, bt);
  emit_block(f, &s->body);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, bf);
  emit_block(f, &s->orelse);
  LLVMBuildBr(f->b, join);
  LLVMPositionBuilderAtEnd(f->b, join);
}

static void emit_call(fn_t *f, const tcc_kstmt_t *s) {
  tcc_llvm_emitter_t *e = f->e;
  if (e->opt.gpu) {
    fail(f, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': calls the runtime's %s, which GPU kernels cannot yet",
                            f->k->name, s->callee));
    return;
  }
  int n = s->num_args + s->num_scalars;
  LLVMTypeRef *tys = calloc((size_t)n + 1, sizeof *tys);
  LLVMValueRef *args = calloc((size_t)n + 1, sizeof *args);
  if (!tys || !args) {
    free(tys), free(args);
    fail(f, tcc_status_oom());
    return;
  }
  for (int i = 0; i < s->num_args; i++) tys[i] = e->ptr, args[i] = f->bufs[s->args[i]->id].base;
  for (int i = 0; i < s->num_scalars; i++) tys[s->num_args + i] = e->i64, args[s->num_args + i] = emit_expr(f, s->scalars[i]);
  LLVMTypeRef fty;
  LLVMValueRef fn = declare(e, s->callee, e->i32, tys, n, &fty);
  if (LLVMGlobalGetValueType(fn) != fty) {
    fail(f, tcc_status_make(TCC_INVALID_ARGUMENT, "kernel '%s': extern '%s' called with different signatures", f->k->name,
                            s->callee));
  } else {
    LLVMValueRef r = LLVMBuildCall2(f->b, fty, fn, args, (unsigned)n, "");
    set_err(f, LLVMBuildICmp(f->b, LLVMIntNE, r, ci(e->i32, 0), ""), TCC_KERNEL_ERR_EXTERN);
  }
  free(tys);
  free(args);
}

static void emit_block(fn_t *f, const tcc_kblock_t *blk) {
  for (size_t i = 0; i < blk->count && !f->st; i++) {
    const tcc_kstmt_t *s = blk->stmts[i];
    switch (s->kind) {
      case TCC_KSTMT_FOR: emit_for(f, s); break;
      case TCC_KSTMT_STORE: emit_store(f, s); break;
      case TCC_KSTMT_IF: emit_if(f, s); break;
      case TCC_KSTMT_ALLOC: {
        bufv_t *bv = &f->bufs[s->buf->id];
        if (!bv->base) {
          fail(f, tcc_status_make(TCC_INTERNAL, "kernel '%s': alloc of '%s', not a temporary", f->k->name, s->buf->name));
          break;
        }
        LLVMBuildMemSet(f->b, bv->base, ci(f->e->i8, 0), bv->bytes, 16);
        break;
      }
      case TCC_KSTMT_BARRIER: break; /* one thread per kernel call on CPUs */
      case TCC_KSTMT_CALL: emit_call(f, s); break;
      default:
        fail(f, tcc_status_make(TCC_INTERNAL, "kernel '%s': unknown statement kind %d", f->k->name, (int)s->kind));
        break;
    }
  }
}

/* A temporary: a constant-size stack array up to STACK_LIMIT bytes, else malloc on entry. */
static void setup_local(fn_t *f, const tcc_kbuf_t *buf) {
  tcc_llvm_emitter_t *e = f->e;
  bufv_t *bv = layout(f, buf);
  if (!bv) return;
  LLVMValueRef n = bv->dims[buf->rank];
  int bits = tcc_dtype_bits(buf->dtype);
  LLVMValueRef bytes = bits == 4 ? LLVMBuildLShr(f->eb, LLVMBuildAdd(f->eb, n, ci(e->i64, 1), ""), ci(e->i64, 1), "")
                                 : LLVMBuildMul(f->eb, n, ci(e->i64, bits / 8), "");
  bv->bytes = bytes;
  if (LLVMIsAConstantInt(bytes) && LLVMConstIntGetSExtValue(bytes) <= STACK_LIMIT) {
    long long size = LLVMConstIntGetSExtValue(bytes);
    /* at the top of the entry block, which GPU mallocs may have split (static allocas only there) */
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(e->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(f->entry);
    if (first) LLVMPositionBuilderBefore(ab, first);
    else LLVMPositionBuilderAtEnd(ab, f->entry);
    LLVMValueRef a = LLVMBuildAlloca(ab, LLVMArrayType2(e->i8, (uint64_t)(size > 0 ? size : 1)), buf->name);
    LLVMDisposeBuilder(ab);
    LLVMSetAlignment(a, 16);
    bv->base = a;
    return;
  }
  LLVMTypeRef fty;
  LLVMValueRef mallocf = declare(e, "malloc", e->ptr, &e->i64, 1, &fty);
  LLVMValueRef size = LLVMBuildSelect(f->eb, LLVMBuildICmp(f->eb, LLVMIntSGT, bytes, ci(e->i64, 0), ""), bytes,
                                      ci(e->i64, 1), "");
  LLVMValueRef p, null;
  if (f->has_work) { /* GPU: a thread without iterations allocates nothing */
    LLVMBasicBlockRef from = LLVMGetInsertBlock(f->eb), alloc = new_block(f, "alloc"), next = new_block(f, "allocated");
    LLVMBuildCondBr(f->eb, f->has_work, alloc, next);
    LLVMPositionBuilderAtEnd(f->eb, alloc);
    LLVMValueRef got = LLVMBuildCall2(f->eb, fty, mallocf, &size, 1, buf->name);
    LLVMBuildBr(f->eb, next);
    LLVMPositionBuilderAtEnd(f->eb, next);
    p = LLVMBuildPhi(f->eb, e->ptr, buf->name);
    LLVMValueRef vals[2] = {got, LLVMConstNull(e->ptr)};
    LLVMBasicBlockRef froms[2] = {alloc, from};
    LLVMAddIncoming(p, vals, froms, 2);
    null = LLVMBuildAnd(f->eb, f->has_work, LLVMBuildIsNull(f->eb, p, ""), "");
  } else {
    p = LLVMBuildCall2(f->eb, fty, mallocf, &size, 1, buf->name);
    null = LLVMBuildIsNull(f->eb, p, "");
  }
  bv->base = p;
  f->nomem = f->nomem ? LLVMBuildOr(f->eb, f->nomem, null, "") : null;
  LLVMValueRef *m = realloc(f->mallocs, (size_t)(f->num_mallocs + 1) * sizeof *m);
  if (!m) {
    fail(f, tcc_status_oom());
    return;
  }
  f->mallocs = m;
  f->mallocs[f->num_mallocs++] = p;
}

/* Starts f->fn: blocks entry (eb: sizes, temporaries), body (b: the statements) and exit; the error bits. */
static void fn_open(fn_t *f, LLVMBasicBlockRef *body) {
  f->b = LLVMCreateBuilderInContext(f->e->ctx);
  f->eb = LLVMCreateBuilderInContext(f->e->ctx);
  f->entry = new_block(f, "entry");
  *body = new_block(f, "body");
  f->exit = new_block(f, "exit");
  LLVMPositionBuilderAtEnd(f->eb, f->entry);
  LLVMPositionBuilderAtEnd(f->b, *body);
  f->err = LLVMBuildAlloca(f->eb, f->e->i32, "err");
  LLVMBuildStore(f->eb, ci(f->e->i32, 0), f->err);
}

/* Ends the statements of f->fn: the entry jumps to the body, or (a temporary's malloc failed) sets
 * TCC_KERNEL_ERR_NOMEM and skips it; exit frees the temporaries. Returns the error bits, b in exit. */
static LLVMValueRef fn_close(fn_t *f, LLVMBasicBlockRef body) {
  tcc_llvm_emitter_t *e = f->e;
  LLVMBuildBr(f->b, f->exit);
  if (f->nomem) {
    LLVMBasicBlockRef oom = new_block(f, "nomem");
    LLVMBuildCondBr(f->eb, f->nomem, oom, body);
    LLVMPositionBuilderAtEnd(f->b, oom);
    LLVMBuildStore(f->b, ci(e->i32, TCC_KERNEL_ERR_NOMEM), f->err);
    LLVMBuildBr(f->b, f->exit);
  } else {
    LLVMBuildBr(f->eb, body);
  }
  LLVMPositionBuilderAtEnd(f->b, f->exit);
  if (f->num_mallocs) {
    LLVMTypeRef fty;
    LLVMValueRef freef = declare(e, "free", LLVMVoidTypeInContext(e->ctx), &e->ptr, 1, &fty);
    for (int i = 0; i < f->num_mallocs; i++) LLVMBuildCall2(f->b, fty, freef, &f->mallocs[i], 1, "");
  }
  return LLVMBuildLoad2(f->b, e->i32, f->err, "");
}

static char *function_name(tcc_llvm_emitter_t *e, const char *kname) {
  size_t n = strlen(kname ? kname : "");
  char *name = malloc(n + 32);
  if (!name) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) name[j++] = isalnum((unsigned char)kname[i]) || kname[i] == '_' ? kname[i] : '_';
  if (j == 0 || isdigit((unsigned char)name[0])) {
    memmove(name + 2, name, j);
    name[0] = 'k', name[1] = '_', j += 2;
  }
  name[j] = 0;
  char packed[600];
  for (int suffix = 2;; suffix++) {
    snprintf(packed, sizeof packed, "%s_packed", name);
    if (!LLVMGetNamedFunction(e->mod, name) && !LLVMGetNamedFunction(e->mod, packed)) return name;
    snprintf(name + j, 32, "_%d", suffix);
  }
}

static void free_fn(fn_t *f) {
  if (f->bufs)
    for (uint32_t i = 0; i < f->k->next_id; i++) free(f->bufs[i].dims), free(f->bufs[i].strides);
  free(f->bufs);
  free(f->vars);
  free(f->dims);
  free(f->mallocs);
  if (f->b) LLVMDisposeBuilder(f->b);
  if (f->eb) LLVMDisposeBuilder(f->eb);
}

/* ---- GPU kernels (options.gpu) ---- */

/* The loop a GPU kernel spreads over its grid: the kernel's top level is temporaries and one PARALLEL
 * loop; NULL otherwise (the kernel then runs on one thread). */
static const tcc_kstmt_t *grid_loop(const tcc_kernel_t *k);

bool tcc_llvm_gpu_kernel_strides(const tcc_kernel_t *k) { return grid_loop(k) != NULL; }

static const tcc_kstmt_t *grid_loop(const tcc_kernel_t *k) {
  const tcc_kstmt_t *loop = NULL;
  for (size_t i = 0; i < k->body.count; i++) {
    const tcc_kstmt_t *s = k->body.stmts[i];
    if (s->kind == TCC_KSTMT_ALLOC) continue;
    if (s->kind != TCC_KSTMT_FOR || s->loop != TCC_KLOOP_PARALLEL || loop) return NULL;
    loop = s;
  }
  return loop;
}

static LLVMValueRef sreg(tcc_llvm_emitter_t *e, LLVMBuilderRef b, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
  LLVMTypeRef fty;
  LLVMValueRef fn = declare(e, full, e->i32, NULL, 0, &fty);
  return LLVMBuildZExt(b, LLVMBuildCall2(b, fty, fn, NULL, 0, ""), e->i64, "");
}

/* The chain of PARALLEL loops that starts at s: each next one is the whole body of the one before and
 * its extent uses none of their variables (codegen/schedule_gpu.h); up to max loops into chain. */
static int grid_chain(const tcc_kstmt_t *s, const tcc_kstmt_t **chain, int max) {
  int n = 0;
  while (s && n < max) {
    for (int i = 0; i < n; i++)
      if (tcc_kexpr_uses_var(s->extent, chain[i]->var)) return n;
    chain[n++] = s;
    const tcc_kstmt_t *inner = s->body.count == 1 ? s->body.stmts[0] : NULL;
    s = inner && inner->kind == TCC_KSTMT_FOR && inner->loop == TCC_KLOOP_PARALLEL ? inner : NULL;
  }
  return n;
}

/* In the entry block: whether this thread's first grid index is below the iterations of s's chain (its
 * extents use symbols only: the chain is the kernel's top level). */
static LLVMValueRef grid_has_work(fn_t *f, const tcc_kstmt_t *s) {
  enum { MAX_CHAIN = 16 };
  const tcc_kstmt_t *chain[MAX_CHAIN];
  int n = grid_chain(s, chain, MAX_CHAIN);
  LLVMBuilderRef body = f->b;
  f->b = f->eb;
  LLVMValueRef total = ci(f->e->i64, 1);
  for (int i = 0; i < n; i++) total = LLVMBuildMul(f->b, total, emit_expr(f, chain[i]->extent), "");
  LLVMValueRef first = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, sreg(f->e, f->b, "ctaid.x"), sreg(f->e, f->b, "ntid.x"), ""),
                                    sreg(f->e, f->b, "tid.x"), "");
  LLVMValueRef work = LLVMBuildICmp(f->b, LLVMIntSLT, first, total, "has_work");
  f->b = body;
  return work;
}

/* The iterations of s's chain of PARALLEL loops spread over the grid as one flat index
 * i = ctaid.x * ntid.x + tid.x, stepping by nctaid.x * ntid.x, split into the loops' variables with the
 * innermost fastest. */
static void emit_grid_loop(fn_t *f, const tcc_kstmt_t *s) {
  tcc_llvm_emitter_t *e = f->e;
  enum { MAX_CHAIN = 16 };
  const tcc_kstmt_t *chain[MAX_CHAIN];
  int n = grid_chain(s, chain, MAX_CHAIN);
  LLVMValueRef extents[MAX_CHAIN], total = NULL;
  for (int i = 0; i < n; i++) {
    extents[i] = emit_expr(f, chain[i]->extent);
    /* a negative extent is an empty loop */
    extents[i] = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSGT, extents[i], ci(e->i64, 0), ""), extents[i],
                                 ci(e->i64, 0), "");
    total = total ? LLVMBuildMul(f->b, total, extents[i], "") : extents[i];
  }
  LLVMValueRef ntid = sreg(e, f->b, "ntid.x");
  LLVMValueRef first = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, sreg(e, f->b, "ctaid.x"), ntid, ""), sreg(e, f->b, "tid.x"), "");
  LLVMValueRef step = LLVMBuildMul(f->b, sreg(e, f->b, "nctaid.x"), ntid, "");
  /* the split into the loops' indices in 32 bits when the iterations fit (GPUs divide 64-bit integers
   * in software); the test is loop-invariant */
  LLVMValueRef narrow = LLVMBuildICmp(f->b, LLVMIntSLE, total, ci(e->i64, INT32_MAX), "narrow");
  counted_loop_t l = loop_open(f, first, total, s->var->name, "grid", "body", "done");
  LLVMBasicBlockRef from[2] = {new_block(f, "split32"), new_block(f, "split64")}, join = new_block(f, "split");
  LLVMBuildCondBr(f->b, narrow, from[0], from[1]);
  LLVMValueRef index[2][MAX_CHAIN];
  for (int w = 0; w < 2; w++) {
    LLVMPositionBuilderAtEnd(f->b, from[w]);
    LLVMTypeRef t = w ? e->i64 : e->i32;
    LLVMValueRef rest = w ? l.i : LLVMBuildTrunc(f->b, l.i, t, "");
    for (int i = n - 1; i >= 0; i--) {
      LLVMValueRef extent = w ? extents[i] : LLVMBuildTrunc(f->b, extents[i], t, "");
      LLVMValueRef v = i ? LLVMBuildURem(f->b, rest, extent, "") : rest;
      index[w][i] = w ? v : LLVMBuildZExt(f->b, v, e->i64, "");
      if (i) rest = LLVMBuildUDiv(f->b, rest, extent, "");
    }
    from[w] = LLVMGetInsertBlock(f->b);
    LLVMBuildBr(f->b, join);
  }
  LLVMPositionBuilderAtEnd(f->b, join);
  for (int i = 0; i < n; i++) {
    LLVMValueRef v = LLVMBuildPhi(f->b, e->i64, chain[i]->var->name), vals[2] = {index[0][i], index[1][i]};
    LLVMAddIncoming(v, vals, from, 2);
    f->vars[chain[i]->var->id] = v;
  }
  emit_block(f, &chain[n - 1]->body);
  for (int i = 0; i < n; i++) f->vars[chain[i]->var->id] = NULL;
  loop_close_by(f, &l, step);
}

/* The entry point: `void SYM_gpu(p0, ..., pN-1, ctx, err)`, a kernel (nvvm.annotations) that calls SYM and
 * ORs a non-zero result into *err; without a grid loop only thread 0 of block 0 runs it. */
static tcc_status_t emit_gpu_entry(tcc_llvm_emitter_t *e, const tcc_kernel_t *k, LLVMValueRef fn, const char *name,
                                   bool grid) {
  int n = k->num_params;
  LLVMTypeRef *ps = calloc((size_t)n + 2, sizeof *ps);
  LLVMValueRef *args = calloc((size_t)n + 2, sizeof *args);
  if (!ps || !args) {
    free(ps), free(args);
    return tcc_status_oom();
  }
  for (int i = 0; i < n + 2; i++) ps[i] = e->ptr;
  char entry[600];
  snprintf(entry, sizeof entry, "%s_gpu", name);
  LLVMValueRef g = LLVMAddFunction(e->mod, entry, LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), ps, (unsigned)n + 2, 0));
  add_attr(e, g, "nounwind");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, g, "entry"));
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(e->ctx, g, "run");
  LLVMBasicBlockRef report = LLVMAppendBasicBlockInContext(e->ctx, g, "report");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, g, "done");
  if (grid) {
    LLVMBuildBr(b, run);
  } else {
    LLVMValueRef first = LLVMBuildOr(b, sreg(e, b, "tid.x"), sreg(e, b, "ctaid.x"), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, first, ci(e->i64, 0), ""), run, done);
  }
  LLVMPositionBuilderAtEnd(b, run);
  for (int i = 0; i <= n; i++) args[i] = LLVMGetParam(g, (unsigned)i);
  LLVMValueRef rc = LLVMBuildCall2(b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)n + 1, "rc");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, rc, ci(e->i32, 0), ""), report, done);
  LLVMPositionBuilderAtEnd(b, report);
  LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpOr, LLVMGetParam(g, (unsigned)n + 1), rc, LLVMAtomicOrderingMonotonic, 0);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(e, fn, "alwaysinline");
  LLVMMetadataRef md[3] = {LLVMValueAsMetadata(g), LLVMMDStringInContext2(e->ctx, "kernel", 6),
                           LLVMValueAsMetadata(ci(e->i32, 1))};
  LLVMAddNamedMetadataOperand(e->mod, "nvvm.annotations", LLVMMetadataAsValue(e->ctx, LLVMMDNodeInContext2(e->ctx, md, 3)));
  free(ps), free(args);
  return NULL;
}

tcc_status_t tcc_llvm_emit_kernel(tcc_llvm_emitter_t *e, const tcc_kernel_t *k, const char **symbol) {
  if (symbol) *symbol = NULL;
  if (e->taken) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
  for (int i = 0; i < k->num_params; i++)
    if (!supported(k->params[i]->dtype))
      return tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': parameter '%s' of %s", k->name, k->params[i]->name,
                             tcc_dtype_name(k->params[i]->dtype));
  for (int i = 0; i < k->num_locals; i++)
    if (!supported(k->locals[i]->dtype))
      return tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': temporary '%s' of %s", k->name, k->locals[i]->name,
                             tcc_dtype_name(k->locals[i]->dtype));
  int saved_syms = e->num_syms;
  char *name = function_name(e, k->name);
  if (!name) return tcc_status_oom();
  fn_t f = {.e = e, .k = k};
  f.vars = calloc((size_t)k->next_id + 1, sizeof *f.vars);
  f.bufs = calloc((size_t)k->next_id + 1, sizeof *f.bufs);
  LLVMTypeRef *ps = calloc((size_t)k->num_params + 2, sizeof *ps);
  if (!f.vars || !f.bufs || !ps) {
    free(ps), free(name), free_fn(&f);
    return tcc_status_oom();
  }
  for (int i = 0; i <= k->num_params; i++) ps[i] = e->ptr;
  f.fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->i32, ps, (unsigned)k->num_params + 1, 0));
  add_attr(e, f.fn, "nounwind");
  LLVMBasicBlockRef body;
  fn_open(&f, &body);
  f.ctx = LLVMGetParam(f.fn, (unsigned)k->num_params);
  LLVMSetValueName2(f.ctx, "ctx", 3);
  /* ctx->symbols is the context's first field */
  f.syms = LLVMBuildLoad2(f.eb, e->ptr, f.ctx, "syms");
  for (int i = 0; i < k->num_params; i++) {
    LLVMValueRef p = LLVMGetParam(f.fn, (unsigned)i);
    LLVMSetValueName2(p, k->params[i]->name, strlen(k->params[i]->name));
    f.bufs[k->params[i]->id].base = p;
  }
  f.grid = e->opt.gpu ? grid_loop(k) : NULL;
  if (f.grid && k->num_locals) f.has_work = grid_has_work(&f, f.grid);
  for (int i = 0; i < k->num_locals && !f.st; i++) setup_local(&f, k->locals[i]);
  f.outlined = e->opt.gpu; /* on GPUs other PARALLEL loops run serially */
  if (!f.st) emit_block(&f, &k->body);
  LLVMBuildRet(f.b, fn_close(&f, body));

  /* SYM_packed(params, ctx) */
  if (!f.st) {
    char packed[600];
    snprintf(packed, sizeof packed, "%s_packed", name);
    LLVMTypeRef pt[2] = {e->ptr, e->ptr};
    LLVMValueRef pf = LLVMAddFunction(e->mod, packed, LLVMFunctionType(e->i32, pt, 2, 0));
    add_attr(e, pf, "nounwind");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, pf, "entry"));
    LLVMValueRef *args = calloc((size_t)k->num_params + 2, sizeof *args);
    if (!args) {
      fail(&f, tcc_status_oom());
    } else {
      for (int i = 0; i < k->num_params; i++) {
        LLVMValueRef idx = ci(e->i64, i);
        args[i] = LLVMBuildLoad2(b, e->ptr, LLVMBuildGEP2(b, e->ptr, LLVMGetParam(pf, 0), &idx, 1, ""), "");
      }
      args[k->num_params] = LLVMGetParam(pf, 1);
      LLVMBuildRet(b, LLVMBuildCall2(b, LLVMGlobalGetValueType(f.fn), f.fn, args, (unsigned)k->num_params + 1, ""));
      free(args);
    }
    LLVMDisposeBuilder(b);
    tcc_status_t entry = e->opt.gpu ? emit_gpu_entry(e, k, f.fn, name, f.grid != NULL) : NULL;
    if (entry) fail(&f, entry);
  }
  free(ps);
  tcc_status_t st = f.st;
  if (st) {
    LLVMDeleteFunction(f.fn);
    for (int i = saved_syms; i < e->num_syms; i++) free(e->syms[i]);
    e->num_syms = saved_syms;
    free(name);
  } else {
    char **names = realloc(e->names, (size_t)(e->num_names + 1) * sizeof *names);
    if (!names) {
      free(name);
      free_fn(&f);
      return tcc_status_oom();
    }
    e->names = names;
    e->names[e->num_names++] = name;
    if (symbol) *symbol = name;
  }
  free_fn(&f);
  return st;
}

/* ---- sizes for callers outside kernels (templates, the packager's plan functions) ---- */

int tcc_llvm_emitter_add_symbol(tcc_llvm_emitter_t *e, const char *name) { return symbol_index(e, name); }

tcc_status_t tcc_llvm_emit_dim(tcc_llvm_emitter_t *e, LLVMBuilderRef b, LLVMValueRef syms, const tcc_dim_t *dim,
                               LLVMValueRef *out) {
  fn_t f = {.e = e, .eb = b, .syms = syms};
  *out = dim_value(&f, dim);
  free(f.dims);
  if (f.st) *out = NULL;
  return f.st;
}

tcc_status_t tcc_llvm_emit_dims_fn(tcc_llvm_emitter_t *e, const char *name, int n, const tcc_dim_t *const *dims) {
  if (e->taken) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  LLVMTypeRef pt[2] = {e->ptr, e->ptr};
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), pt, 2, 0));
  add_attr(e, fn, "nounwind");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
  tcc_status_t st = NULL;
  for (int i = 0; i < n && !st; i++) {
    LLVMValueRef v, idx = ci(e->i64, i);
    st = tcc_llvm_emit_dim(e, b, LLVMGetParam(fn, 0), dims[i], &v);
    if (!st) LLVMBuildStore(b, v, LLVMBuildGEP2(b, e->i64, LLVMGetParam(fn, 1), &idx, 1, ""));
  }
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  if (st) LLVMDeleteFunction(fn);
  return st;
}

/* ---- the emitter ---- */

int tcc_llvm_target_vector_lanes(const char *target) {
  if (!target) return 4;
  if (strcmp(target, "x86-64-v4") == 0 || strcmp(target, "znver4") == 0) return 16;
  if (strcmp(target, "x86-64-v3") == 0) return 8;
  if (strcmp(target, "native") != 0) return 4;
  char *features = LLVMGetHostCPUFeatures();
  int lanes = features && strstr(features, "+avx512f") ? 16 : features && strstr(features, "+avx2") ? 8 : 4;
  LLVMDisposeMessage(features);
  return lanes;
}

tcc_status_t tcc_llvm_emitter_create(const char *name, LLVMContextRef ctx, const tcc_llvm_emit_options_t *options,
                                     tcc_llvm_emitter_t **out) {
  *out = NULL;
  tcc_llvm_emitter_t *e = calloc(1, sizeof *e);
  if (!e) return tcc_status_oom();
  e->own_ctx = ctx == NULL;
  e->ctx = ctx ? ctx : LLVMContextCreate();
  e->mod = LLVMModuleCreateWithNameInContext(name ? name : "tcc", e->ctx);
  if (options) e->opt = *options;
  e->opt.target = NULL; /* not kept: the caller's string */
  int lanes = options && options->vector_lanes > 0 ? options->vector_lanes
              : options && options->target        ? tcc_llvm_target_vector_lanes(options->target)
                                                   : 4;
  e->lanes = 1;
  while (e->lanes * 2 <= lanes && e->lanes < 64) e->lanes *= 2;
  e->i1 = LLVMInt1TypeInContext(e->ctx);
  e->i4 = LLVMIntTypeInContext(e->ctx, 4);
  e->i8 = LLVMInt8TypeInContext(e->ctx);
  e->i16 = LLVMInt16TypeInContext(e->ctx);
  e->i32 = LLVMInt32TypeInContext(e->ctx);
  e->i64 = LLVMInt64TypeInContext(e->ctx);
  e->f32 = LLVMFloatTypeInContext(e->ctx);
  e->f64 = LLVMDoubleTypeInContext(e->ctx);
  e->ptr = LLVMPointerTypeInContext(e->ctx, 0);
  *out = e;
  return NULL;
}

void tcc_llvm_emitter_destroy(tcc_llvm_emitter_t *e) {
  if (!e) return;
  if (!e->taken) LLVMDisposeModule(e->mod);
  if (e->own_ctx) LLVMContextDispose(e->ctx);
  for (int i = 0; i < e->num_syms; i++) free(e->syms[i]);
  free(e->syms);
  for (int i = 0; i < e->num_names; i++) free(e->names[i]);
  free(e->names);
  free(e);
}

int tcc_llvm_emitter_num_symbols(const tcc_llvm_emitter_t *e) { return e->num_syms; }
const char *tcc_llvm_emitter_symbol(const tcc_llvm_emitter_t *e, int i) {
  return i >= 0 && i < e->num_syms ? e->syms[i] : NULL;
}

LLVMModuleRef tcc_llvm_emitter_module(tcc_llvm_emitter_t *e) { return e->taken ? NULL : e->mod; }

LLVMModuleRef tcc_llvm_emitter_take_module(tcc_llvm_emitter_t *e) {
  if (e->taken) return NULL;
  e->taken = true;
  return e->mod;
}

/* The CUDA toolkit's libdevice (the __nv_ math functions), linked into a GPU module that calls them. */
static tcc_status_t link_libdevice(tcc_llvm_emitter_t *e) {
  bool used = false;
  for (LLVMValueRef fn = LLVMGetFirstFunction(e->mod); fn && !used; fn = LLVMGetNextFunction(fn)) {
    size_t len = 0;
    used = LLVMIsDeclaration(fn) && strncmp(LLVMGetValueName2(fn, &len), "__nv_", 5) == 0;
  }
  if (!used) return NULL;
  const char *env = getenv("TCC_LIBDEVICE");
  const char *path = env && *env ? env : "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc";
  LLVMMemoryBufferRef buf = NULL;
  LLVMModuleRef lib = NULL;
  char *msg = NULL;
  if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg)) {
    tcc_status_t st = tcc_status_make(TCC_UNSUPPORTED,
                                      "the kernels call math functions, which GPU targets take from the CUDA toolkit's "
                                      "libdevice: cannot read '%s' (%s); set TCC_LIBDEVICE", path, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return st;
  }
  bool bad = LLVMParseBitcodeInContext2(e->ctx, buf, &lib);
  LLVMDisposeMemoryBuffer(buf);
  if (bad) return tcc_status_make(TCC_INVALID_ARGUMENT, "'%s' is not LLVM bitcode", path);
  LLVMSetTarget(lib, LLVMGetTarget(e->mod));
  LLVMSetDataLayout(lib, LLVMGetDataLayoutStr(e->mod));
  if (LLVMLinkModules2(e->mod, lib)) return tcc_status_make(TCC_INTERNAL, "linking '%s' failed", path);
  /* what the kernels do not call goes away; flush-to-zero off (libdevice asks through __nvvm_reflect) */
  for (LLVMValueRef fn = LLVMGetFirstFunction(e->mod); fn; fn = LLVMGetNextFunction(fn)) {
    size_t len = 0;
    const char *name = LLVMGetValueName2(fn, &len);
    if (!LLVMIsDeclaration(fn) && (strncmp(name, "__nv_", 5) == 0 || strncmp(name, "__internal", 10) == 0))
      LLVMSetLinkage(fn, LLVMInternalLinkage);
  }
  LLVMAddModuleFlag(e->mod, LLVMModuleFlagBehaviorOverride, "nvvm-reflect-ftz", 16,
                    LLVMValueAsMetadata(ci(e->i32, 0)));
  return NULL;
}

tcc_status_t tcc_llvm_emitter_finish(tcc_llvm_emitter_t *e, const char *target, bool optimize) {
  if (e->taken) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  LLVMTargetMachineRef tm;
  TCC_RETURN_IF_ERROR(tcc_target_machine_create(target, &tm));
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(e->mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(e->mod, dl);
  LLVMDisposeTargetData(dl);
  char *msg = NULL;
  tcc_status_t st = tcc_gpu_target_find(target) ? link_libdevice(e) : NULL;
  if (!st && LLVMVerifyModule(e->mod, LLVMReturnStatusAction, &msg))
    st = tcc_status_make(TCC_INTERNAL, "LLVM module verification failed: %s", msg ? msg : "");
  LLVMDisposeMessage(msg);
  if (!st && optimize) {
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMErrorRef err = LLVMRunPasses(e->mod, "default<O3>", tm, o);
    LLVMDisposePassBuilderOptions(o);
    if (err) {
      char *m = LLVMGetErrorMessage(err);
      st = tcc_status_make(TCC_INTERNAL, "LLVM optimization failed: %s", m);
      LLVMDisposeErrorMessage(m);
    }
  }
  LLVMDisposeTargetMachine(tm);
  return st;
}

/* The PTX at `path` with `.explicitcluster` and `.reqnctapercluster N, 1, 1` added to each kernel named in
 * the module's tcc.clusters metadata ({name, N}; LLVM 19 does not write them). */
static tcc_status_t write_cluster_directives(LLVMModuleRef mod, const char *path) {
  unsigned count = LLVMGetNamedMetadataNumOperands(mod, "tcc.clusters");
  if (!count) return NULL;
  LLVMValueRef *nodes = malloc(count * sizeof *nodes);
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long size = 0;
  if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) free(text), text = NULL;
  }
  if (f) fclose(f);
  if (!nodes || !text) return free(nodes), free(text), tcc_status_make(TCC_IO, "cannot read back '%s'", path);
  text[size] = 0;
  LLVMGetNamedMetadataOperands(mod, "tcc.clusters", nodes);
  tcc_status_t st = NULL;
  for (unsigned i = 0; i < count && !st; i++) {
    LLVMValueRef ops[2];
    LLVMGetMDNodeOperands(nodes[i], ops);
    unsigned len;
    const char *name = LLVMGetMDString(ops[0], &len);
    char entry[300];
    snprintf(entry, sizeof entry, ".entry %.*s(", (int)len, name);
    char *at = strstr(text, entry), *body = at ? strstr(at, "\n{") : NULL;
    if (!body) {
      st = tcc_status_make(TCC_INTERNAL, "kernel '%.*s' is not in the PTX", (int)len, name);
      break;
    }
    char directive[80];
    int n = snprintf(directive, sizeof directive, "\n.explicitcluster\n.reqnctapercluster %lld, 1, 1",
                     (long long)LLVMConstIntGetSExtValue(ops[1]));
    char *grown = malloc(strlen(text) + (size_t)n + 1);
    if (!grown) {
      st = tcc_status_oom();
      break;
    }
    size_t head = (size_t)(body - text);
    memcpy(grown, text, head);
    memcpy(grown + head, directive, (size_t)n);
    strcpy(grown + head + n, body);
    free(text), text = grown;
  }
  if (!st) {
    f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0) st = tcc_status_make(TCC_IO, "cannot write '%s'", path);
    if (f) fclose(f);
  }
  free(nodes), free(text);
  return st;
}

tcc_status_t tcc_llvm_emitter_write(tcc_llvm_emitter_t *e, const char *target, tcc_emit_kind_t kind, const char *path) {
  if (e->taken) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  char *msg = NULL;
  tcc_status_t st = NULL;
  if (kind == TCC_EMIT_LLVM) {
    if (LLVMPrintModuleToFile(e->mod, path, &msg)) st = tcc_status_make(TCC_IO, "cannot write '%s': %s", path, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return st;
  }
  LLVMTargetMachineRef tm;
  TCC_RETURN_IF_ERROR(tcc_target_machine_create(target, &tm));
  if (LLVMTargetMachineEmitToFile(tm, e->mod, path, kind == TCC_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg))
    st = tcc_status_make(TCC_IO, "cannot emit '%s' for target '%s': %s", path, target, msg ? msg : "");
  LLVMDisposeMessage(msg);
  LLVMDisposeTargetMachine(tm);
  if (!st && kind == TCC_EMIT_ASM) st = write_cluster_directives(e->mod, path);
  return st;
}
