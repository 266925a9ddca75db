/* Building blocks for the CPU templates (codegen/template_ir.h). */
#include "codegen/template_ir.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "autotune/space.h"

tcc_status_t tcc_tir_init(tcc_tir_t *t, tcc_llvm_emitter_t *e, const char *target) {
  memset(t, 0, sizeof *t);
  LLVMModuleRef mod = tcc_llvm_emitter_module(e);
  if (!mod) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  tcc_space_target_t caps;
  TCC_RETURN_IF_ERROR(tcc_space_target_caps(target, &caps));
  if (caps.lanes < 1 || caps.lanes > 64)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "target '%s': %d f32 lanes", target, caps.lanes);
  t->e = e, t->mod = mod, t->ctx = LLVMGetModuleContext(mod), t->lanes = caps.lanes;
  t->target = tcc_cpu_target_find(target ? target : "native");
  t->i1 = LLVMInt1TypeInContext(t->ctx), t->i32 = LLVMInt32TypeInContext(t->ctx);
  t->i64 = LLVMInt64TypeInContext(t->ctx), t->f32 = LLVMFloatTypeInContext(t->ctx);
  t->ptr = LLVMPointerTypeInContext(t->ctx, 0), t->void_t = LLVMVoidTypeInContext(t->ctx);
  t->vf = LLVMVectorType(t->f32, (unsigned)t->lanes), t->vi = LLVMVectorType(t->i32, (unsigned)t->lanes);
  t->b = LLVMCreateBuilderInContext(t->ctx);
  return NULL;
}

void tcc_tir_dispose(tcc_tir_t *t) {
  if (t->b) LLVMDisposeBuilder(t->b);
  t->b = NULL;
}

/* ---- values ---- */

LLVMValueRef tcc_tir_i64c(tcc_tir_t *t, int64_t v) { return LLVMConstInt(t->i64, (unsigned long long)v, v < 0); }
LLVMValueRef tcc_tir_i32c(tcc_tir_t *t, int32_t v) {
  return LLVMConstInt(t->i32, (unsigned long long)(int64_t)v, v < 0);
}
LLVMValueRef tcc_tir_f32c(tcc_tir_t *t, double v) { return LLVMConstReal(t->f32, v); }

LLVMValueRef tcc_tir_splat(tcc_tir_t *t, LLVMValueRef scalar) {
  if (LLVMIsConstant(scalar) && LLVMTypeOf(scalar) == t->f32) {
    LLVMValueRef elems[64];
    for (int i = 0; i < t->lanes; i++) elems[i] = scalar;
    return LLVMConstVector(elems, (unsigned)t->lanes);
  }
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)t->lanes);
  LLVMValueRef one = LLVMBuildInsertElement(t->b, LLVMGetPoison(vt), scalar, tcc_tir_i32c(t, 0), "");
  return LLVMBuildShuffleVector(t->b, one, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(t->i32, (unsigned)t->lanes)),
                                "splat");
}

LLVMValueRef tcc_tir_vc(tcc_tir_t *t, double v) { return tcc_tir_splat(t, tcc_tir_f32c(t, v)); }

LLVMValueRef tcc_tir_intrinsic(tcc_tir_t *t, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args,
                               int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(t->mod, id, tys, (size_t)ntys);
  LLVMTypeRef fty = LLVMIntrinsicGetType(t->ctx, id, tys, (size_t)ntys);
  return LLVMBuildCall2(t->b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef tcc_tir_vcall1(tcc_tir_t *t, const char *name, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  return tcc_tir_intrinsic(t, name, &ty, 1, &x, 1);
}

LLVMValueRef tcc_tir_vcall2(tcc_tir_t *t, const char *name, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  LLVMValueRef a[2] = {x, y};
  return tcc_tir_intrinsic(t, name, &ty, 1, a, 2);
}

LLVMValueRef tcc_tir_fma3(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMTypeRef ty = LLVMTypeOf(a);
  LLVMValueRef args[3] = {a, b, c};
  return tcc_tir_intrinsic(t, "llvm.fma", &ty, 1, args, 3);
}

LLVMValueRef tcc_tir_smin(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) { return tcc_tir_vcall2(t, "llvm.smin", a, b); }
LLVMValueRef tcc_tir_vadd(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(t->b, a, b, ""); }
LLVMValueRef tcc_tir_vsub(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(t->b, a, b, ""); }
LLVMValueRef tcc_tir_vmul(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(t->b, a, b, ""); }
LLVMValueRef tcc_tir_vdiv(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(t->b, a, b, ""); }
LLVMValueRef tcc_tir_fmax(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) {
  return tcc_tir_vcall2(t, "llvm.maxnum", a, b);
}
LLVMValueRef tcc_tir_fmin(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b) {
  return tcc_tir_vcall2(t, "llvm.minnum", a, b);
}

LLVMValueRef tcc_tir_fsel(tcc_tir_t *t, LLVMRealPredicate pred, LLVMValueRef x, LLVMValueRef y, LLVMValueRef then,
                          LLVMValueRef otherwise) {
  return LLVMBuildSelect(t->b, LLVMBuildFCmp(t->b, pred, x, y, ""), then, otherwise, "");
}

/* ---- vector math ---- */

static LLVMValueRef polynomial(tcc_tir_t *t, const double *coef, int n, LLVMValueRef x) {
  LLVMValueRef poly = tcc_tir_vc(t, coef[0]);
  for (int i = 1; i < n; i++) poly = tcc_tir_fma3(t, poly, x, tcc_tir_vc(t, coef[i]));
  return poly;
}

/* exp: range reduction by ln 2 (Cody-Waite), a degree-6 polynomial, scaling through the exponent bits. */
LLVMValueRef tcc_tir_vexp(tcc_tir_t *t, LLVMValueRef x) {
  x = tcc_tir_fmin(t, tcc_tir_fmax(t, x, tcc_tir_vc(t, -87.3365447504)), tcc_tir_vc(t, 88.3762626647949));
  LLVMValueRef n = tcc_tir_vcall1(t, "llvm.roundeven", tcc_tir_vmul(t, x, tcc_tir_vc(t, 1.44269504088896341)));
  LLVMValueRef r = tcc_tir_fma3(t, n, tcc_tir_vc(t, -0.693359375), x);
  r = tcc_tir_fma3(t, n, tcc_tir_vc(t, 2.12194440e-4), r);
  static const double coef[] = {1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                1.6666665459e-1, 5.0000001201e-1};
  LLVMValueRef poly = polynomial(t, coef, 6, r);
  LLVMValueRef y = tcc_tir_vadd(t, tcc_tir_fma3(t, poly, tcc_tir_vmul(t, r, r), r), tcc_tir_vc(t, 1));
  LLVMValueRef ni = LLVMBuildFPToSI(t->b, n, t->vi, "");
  LLVMValueRef bits = LLVMBuildShl(t->b, LLVMBuildAdd(t->b, ni, tcc_tir_splat(t, tcc_tir_i32c(t, 127)), ""),
                                   tcc_tir_splat(t, tcc_tir_i32c(t, 23)), "");
  return tcc_tir_vmul(t, y, LLVMBuildBitCast(t->b, bits, t->vf, ""));
}

LLVMValueRef tcc_tir_vtanh(tcc_tir_t *t, LLVMValueRef x) {
  LLVMValueRef ax = tcc_tir_vcall1(t, "llvm.fabs", x);
  /* |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1), with the sign of x */
  LLVMValueRef e2 = tcc_tir_vexp(t, tcc_tir_vmul(t, tcc_tir_fmin(t, ax, tcc_tir_vc(t, 10)), tcc_tir_vc(t, 2)));
  LLVMValueRef big = tcc_tir_vcall2(
      t, "llvm.copysign",
      tcc_tir_vsub(t, tcc_tir_vc(t, 1), tcc_tir_vdiv(t, tcc_tir_vc(t, 2), tcc_tir_vadd(t, e2, tcc_tir_vc(t, 1)))), x);
  /* |x| < 0.625: x + x^3 P(x^2) */
  LLVMValueRef z = tcc_tir_vmul(t, x, x);
  static const double coef[] = {-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                                -3.33332819422e-1};
  LLVMValueRef small = tcc_tir_fma3(t, tcc_tir_vmul(t, polynomial(t, coef, 5, z), z), x, x);
  return tcc_tir_fsel(t, LLVMRealOLT, ax, tcc_tir_vc(t, 0.625), small, big);
}

/* erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
LLVMValueRef tcc_tir_verf(tcc_tir_t *t, LLVMValueRef x) {
  LLVMValueRef ax = tcc_tir_vcall1(t, "llvm.fabs", x);
  LLVMValueRef u = tcc_tir_vdiv(t, tcc_tir_vc(t, 1), tcc_tir_fma3(t, ax, tcc_tir_vc(t, 0.3275911), tcc_tir_vc(t, 1)));
  static const double coef[] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
  LLVMValueRef e = tcc_tir_vexp(t, LLVMBuildFNeg(t->b, tcc_tir_vmul(t, ax, ax), ""));
  LLVMValueRef y = tcc_tir_vsub(t, tcc_tir_vc(t, 1), tcc_tir_vmul(t, tcc_tir_vmul(t, polynomial(t, coef, 5, u), u), e));
  return tcc_tir_vcall2(t, "llvm.copysign", y, x);
}

/* ---- memory ---- */

LLVMValueRef tcc_tir_gep_f32(tcc_tir_t *t, LLVMValueRef base, LLVMValueRef index) {
  return LLVMBuildGEP2(t->b, t->f32, base, &index, 1, "");
}

LLVMValueRef tcc_tir_load_aligned(tcc_tir_t *t, LLVMTypeRef type, LLVMValueRef p, unsigned align) {
  LLVMValueRef v = LLVMBuildLoad2(t->b, type, p, "");
  LLVMSetAlignment(v, align);
  return v;
}

void tcc_tir_store_aligned(tcc_tir_t *t, LLVMValueRef v, LLVMValueRef p, unsigned align) {
  LLVMSetAlignment(LLVMBuildStore(t->b, v, p), align);
}

LLVMValueRef tcc_tir_masked_load(tcc_tir_t *t, LLVMValueRef p, LLVMValueRef mask, LLVMValueRef passthru) {
  LLVMTypeRef tys[2] = {t->vf, t->ptr};
  LLVMValueRef args[4] = {p, tcc_tir_i32c(t, 4), mask, passthru ? passthru : LLVMConstNull(t->vf)};
  return tcc_tir_intrinsic(t, "llvm.masked.load", tys, 2, args, 4);
}

void tcc_tir_masked_store(tcc_tir_t *t, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {t->vf, t->ptr};
  LLVMValueRef args[4] = {v, p, tcc_tir_i32c(t, 4), mask};
  tcc_tir_intrinsic(t, "llvm.masked.store", tys, 2, args, 4);
}

LLVMValueRef tcc_tir_lane_mask(tcc_tir_t *t, LLVMValueRef count) {
  LLVMValueRef clamped =
      tcc_tir_smin(t, tcc_tir_vcall2(t, "llvm.smax", count, tcc_tir_i64c(t, 0)), tcc_tir_i64c(t, t->lanes));
  LLVMValueRef c = LLVMBuildTrunc(t->b, clamped, t->i32, "");
  LLVMValueRef iota[64];
  for (int i = 0; i < t->lanes; i++) iota[i] = tcc_tir_i32c(t, i);
  return LLVMBuildICmp(t->b, LLVMIntSLT, LLVMConstVector(iota, (unsigned)t->lanes), tcc_tir_splat(t, c), "mask");
}

/* ---- control flow and functions ---- */

LLVMValueRef tcc_tir_alloca(tcc_tir_t *t, LLVMTypeRef type, const char *name) {
  LLVMBuilderRef eb = LLVMCreateBuilderInContext(t->ctx);
  LLVMValueRef first = LLVMGetFirstInstruction(t->entry);
  if (first) LLVMPositionBuilderBefore(eb, first);
  else LLVMPositionBuilderAtEnd(eb, t->entry);
  LLVMValueRef a = LLVMBuildAlloca(eb, type, name);
  LLVMDisposeBuilder(eb);
  return a;
}

LLVMBasicBlockRef tcc_tir_block(tcc_tir_t *t, const char *name) {
  return LLVMAppendBasicBlockInContext(t->ctx, t->fn, name);
}

LLVMValueRef tcc_tir_loop_begin(tcc_tir_t *t, tcc_tir_loop_t *l, LLVMValueRef start, LLVMValueRef end,
                                LLVMValueRef step, const char *name) {
  l->var = tcc_tir_alloca(t, t->i64, name);
  l->step = step;
  LLVMBuildStore(t->b, start, l->var);
  l->cond = tcc_tir_block(t, name);
  LLVMBasicBlockRef body = tcc_tir_block(t, "body");
  l->exit = tcc_tir_block(t, "done");
  LLVMBuildBr(t->b, l->cond);
  LLVMPositionBuilderAtEnd(t->b, l->cond);
  LLVMValueRef iv = LLVMBuildLoad2(t->b, t->i64, l->var, name);
  LLVMBuildCondBr(t->b, LLVMBuildICmp(t->b, LLVMIntSLT, iv, end, ""), body, l->exit);
  LLVMPositionBuilderAtEnd(t->b, body);
  return iv;
}

void tcc_tir_loop_end(tcc_tir_t *t, tcc_tir_loop_t *l) {
  LLVMValueRef iv = LLVMBuildLoad2(t->b, t->i64, l->var, "");
  LLVMBuildStore(t->b, LLVMBuildAdd(t->b, iv, l->step, ""), l->var);
  LLVMBuildBr(t->b, l->cond);
  LLVMPositionBuilderAtEnd(t->b, l->exit);
}

LLVMBasicBlockRef tcc_tir_if_begin(tcc_tir_t *t, LLVMValueRef cond) {
  LLVMBasicBlockRef then = tcc_tir_block(t, "then"), join = tcc_tir_block(t, "join");
  LLVMBuildCondBr(t->b, cond, then, join);
  LLVMPositionBuilderAtEnd(t->b, then);
  return join;
}

void tcc_tir_if_end(tcc_tir_t *t, LLVMBasicBlockRef join) {
  LLVMBuildBr(t->b, join);
  LLVMPositionBuilderAtEnd(t->b, join);
}

LLVMValueRef tcc_tir_function(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                              bool internal) {
  LLVMValueRef fn = LLVMAddFunction(t->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
  if (internal) LLVMSetLinkage(fn, LLVMInternalLinkage);
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(t->ctx, nounwind, 0));
  char width[16];
  snprintf(width, sizeof width, "%d", t->lanes * 32);
  const tcc_cpu_target_t *tg = t->target;
  const char *attrs[][2] = {{"min-legal-vector-width", width}, {"prefer-vector-width", width},
                            {"target-cpu", tg && tg->cpu ? tg->cpu : NULL},
                            {"target-features", tg && tg->features && *tg->features ? tg->features : NULL}};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if (attrs[i][1])
      LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                              LLVMCreateStringAttribute(t->ctx, attrs[i][0], (unsigned)strlen(attrs[i][0]), attrs[i][1],
                                                        (unsigned)strlen(attrs[i][1])));
  return fn;
}

void tcc_tir_begin(tcc_tir_t *t, LLVMValueRef fn) {
  t->fn = fn;
  t->entry = LLVMAppendBasicBlockInContext(t->ctx, fn, "entry");
  LLVMBasicBlockRef start = tcc_tir_block(t, "start");
  LLVMPositionBuilderAtEnd(t->b, t->entry);
  LLVMBuildBr(t->b, start);
  LLVMPositionBuilderAtEnd(t->b, start);
}

LLVMValueRef tcc_tir_call(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n, LLVMValueRef *args) {
  LLVMTypeRef fty;
  LLVMValueRef fn = tcc_tir_libc(t, name, ret, params, n, &fty);
  return LLVMBuildCall2(t->b, fty, fn, args, (unsigned)n, "");
}

LLVMValueRef tcc_tir_ptx(tcc_tir_t *t, const char *text, const char *constraints, LLVMTypeRef ret, LLVMValueRef *args,
                         int n) {
  LLVMTypeRef tys[512];
  for (int i = 0; i < n && i < 512; i++) tys[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef fty = LLVMFunctionType(ret, tys, (unsigned)n, 0);
  LLVMValueRef asm_fn = LLVMGetInlineAsm(fty, text, strlen(text), constraints, strlen(constraints), 1, 0,
                                         LLVMInlineAsmDialectATT, 0);
  return LLVMBuildCall2(t->b, fty, asm_fn, args, (unsigned)n, "");
}

void tcc_tir_ptx_statement(tcc_tir_t *t, const char *text) { tcc_tir_ptx(t, text, "~{memory}", t->void_t, NULL, 0); }

LLVMValueRef tcc_tir_sreg(tcc_tir_t *t, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
  return tcc_tir_call(t, full, t->i32, NULL, 0, NULL);
}

void tcc_tir_barrier(tcc_tir_t *t) { tcc_tir_call(t, "llvm.nvvm.barrier0", t->void_t, NULL, 0, NULL); }

void tcc_tir_cp_async16(tcc_tir_t *t, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes) {
  LLVMValueRef args[3] = {dst, src, bytes}; /* a 32-bit shared address: fewer instructions than LLVM's 64-bit form */
  tcc_tir_ptx(t, "cp.async.cg.shared.global [$0], [$1], 16, $2;", "r,l,r,~{memory}", t->void_t, args, 3);
}

void tcc_tir_cp_async_commit(tcc_tir_t *t) { tcc_tir_call(t, "llvm.nvvm.cp.async.commit.group", t->void_t, NULL, 0, NULL); }

void tcc_tir_cp_async_wait(tcc_tir_t *t, int pending) {
  LLVMValueRef n = tcc_tir_i32c(t, pending);
  tcc_tir_call(t, "llvm.nvvm.cp.async.wait.group", t->void_t, &t->i32, 1, &n);
}

void tcc_tir_ldmatrix_x4(tcc_tir_t *t, LLVMValueRef shared, bool trans, LLVMValueRef out[4]) {
  LLVMTypeRef r4[4] = {t->i32, t->i32, t->i32, t->i32}, p3 = LLVMTypeOf(shared);
  LLVMValueRef v = tcc_tir_call(t, trans ? "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.trans.b16.p3"
                                         : "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3",
                                LLVMStructTypeInContext(t->ctx, r4, 4, 0), &p3, 1, &shared);
  for (int i = 0; i < 4; i++) out[i] = LLVMBuildExtractValue(t->b, v, (unsigned)i, "");
}

LLVMValueRef tcc_tir_gpu_dynamic_shared(tcc_tir_t *t) {
  LLVMValueRef smem = LLVMGetNamedGlobal(t->mod, "tcc_gpu_dynamic_shared");
  if (!smem) {
    smem = LLVMAddGlobalInAddressSpace(t->mod, LLVMArrayType2(LLVMInt8TypeInContext(t->ctx), 0), "tcc_gpu_dynamic_shared", 3);
    LLVMSetLinkage(smem, LLVMExternalLinkage);
    LLVMSetAlignment(smem, 16);
  }
  return smem;
}

void tcc_tir_mma_16816(tcc_tir_t *t, bool bf16, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef acc[4]) {
  LLVMBuilderRef bd = t->b;
  LLVMTypeRef op = bf16 ? t->i32 : LLVMVectorType(LLVMHalfTypeInContext(t->ctx), 2), f = t->f32;
  LLVMTypeRef tys[10] = {op, op, op, op, op, op, f, f, f, f};
  LLVMValueRef args[10];
  for (int i = 0; i < 4; i++) args[i] = bf16 ? a[i] : LLVMBuildBitCast(bd, a[i], op, "");
  for (int i = 0; i < 2; i++) args[4 + i] = bf16 ? b[i] : LLVMBuildBitCast(bd, b[i], op, "");
  for (int i = 0; i < 4; i++) args[6 + i] = acc[i];
  LLVMTypeRef f4[4] = {f, f, f, f};
  LLVMValueRef r = tcc_tir_call(t, bf16 ? "llvm.nvvm.mma.m16n8k16.row.col.bf16" : "llvm.nvvm.mma.m16n8k16.row.col.f32.f32",
                                LLVMStructTypeInContext(t->ctx, f4, 4, 0), tys, 10, args);
  for (int i = 0; i < 4; i++) acc[i] = LLVMBuildExtractValue(bd, r, (unsigned)i, "");
}

void tcc_tir_mma_1688_tf32(tcc_tir_t *t, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef acc[4]) {
  LLVMTypeRef i = t->i32, f = t->f32;
  LLVMTypeRef tys[10] = {i, i, i, i, i, i, f, f, f, f}, f4[4] = {f, f, f, f};
  LLVMValueRef args[10] = {a[0], a[1], a[2], a[3], b[0], b[1], acc[0], acc[1], acc[2], acc[3]};
  LLVMValueRef r = tcc_tir_call(t, "llvm.nvvm.mma.m16n8k8.row.col.tf32", LLVMStructTypeInContext(t->ctx, f4, 4, 0), tys,
                                10, args);
  for (int k = 0; k < 4; k++) acc[k] = LLVMBuildExtractValue(t->b, r, (unsigned)k, "");
}

LLVMValueRef tcc_tir_wgmma_descriptor(tcc_tir_t *t, LLVMValueRef shared, int leading_bytes, int stride_bytes) {
  LLVMBuilderRef bd = t->b;
  LLVMValueRef addr = LLVMBuildPtrToInt(bd, shared, t->i64, "");
  addr = LLVMBuildLShr(bd, LLVMBuildAnd(bd, addr, tcc_tir_i64c(t, 0x3FFFF), ""), tcc_tir_i64c(t, 4), "");
  uint64_t fields = ((uint64_t)(leading_bytes >> 4) << 16) | ((uint64_t)(stride_bytes >> 4) << 32) | (1ull << 62);
  return LLVMBuildOr(bd, addr, LLVMConstInt(t->i64, fields, 0), "");
}

enum { MAX_WGMMA_REGS = 128 };

void tcc_tir_wgmma(tcc_tir_t *t, bool bf16, int n, LLVMValueRef da, LLVMValueRef *a_regs, LLVMValueRef db, bool trans_b,
                   bool accumulate, LLVMValueRef *acc) {
  int regs = n / 2, a_count = da ? 1 : 4;
  const char *type = bf16 ? "bf16" : "f16";
  char text[2048], constraints[2048], a_text[64];
  if (da) snprintf(a_text, sizeof a_text, "$%d", regs);
  else snprintf(a_text, sizeof a_text, "{$%d, $%d, $%d, $%d}", regs, regs + 1, regs + 2, regs + 3);
  int at = snprintf(text, sizeof text, "{\n.reg .pred p;\nsetp.ne.b32 p, $%d, 0;\nwgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {",
                    regs + a_count + 1, n, type, type);
  int ct = 0;
  for (int i = 0; i < regs; i++) {
    at += snprintf(text + at, sizeof text - (size_t)at, "%s$%d", i ? ", " : "", i);
    ct += snprintf(constraints + ct, sizeof constraints - (size_t)ct, "=f,");
  }
  /* a descriptor A takes imm-trans-a; registers do not */
  snprintf(text + at, sizeof text - (size_t)at, "}, %s, $%d, p, 1, 1%s, %d;\n}", a_text, regs + a_count, da ? ", 0" : "",
           trans_b ? 1 : 0);
  ct += snprintf(constraints + ct, sizeof constraints - (size_t)ct, da ? "l,l,r" : "r,r,r,r,l,r");
  for (int i = 0; i < regs; i++) ct += snprintf(constraints + ct, sizeof constraints - (size_t)ct, ",%d", i);
  snprintf(constraints + ct, sizeof constraints - (size_t)ct, ",~{memory}");
  LLVMValueRef args[MAX_WGMMA_REGS + 6];
  int k = 0;
  if (da) args[k++] = da;
  else
    for (int i = 0; i < 4; i++) args[k++] = a_regs[i];
  args[k++] = db, args[k++] = tcc_tir_i32c(t, accumulate ? 1 : 0);
  for (int i = 0; i < regs; i++) args[k++] = accumulate ? acc[i] : tcc_tir_f32c(t, 0);
  LLVMTypeRef fields[MAX_WGMMA_REGS];
  for (int i = 0; i < regs; i++) fields[i] = t->f32;
  LLVMValueRef r = tcc_tir_ptx(t, text, constraints, LLVMStructTypeInContext(t->ctx, fields, (unsigned)regs, 0), args, k);
  for (int i = 0; i < regs; i++) acc[i] = LLVMBuildExtractValue(t->b, r, (unsigned)i, "");
}

void tcc_tir_pin(tcc_tir_t *t, LLVMValueRef *values, int n) {
  char constraints[2048];
  int ct = 0;
  for (int i = 0; i < n; i++) ct += snprintf(constraints + ct, sizeof constraints - (size_t)ct, "=f,");
  for (int i = 0; i < n; i++) ct += snprintf(constraints + ct, sizeof constraints - (size_t)ct, "%s%d", i ? "," : "", i);
  LLVMTypeRef fields[512];
  for (int i = 0; i < n; i++) fields[i] = t->f32;
  LLVMValueRef r = tcc_tir_ptx(t, "", constraints, LLVMStructTypeInContext(t->ctx, fields, (unsigned)n, 0), values, n);
  for (int i = 0; i < n; i++) values[i] = LLVMBuildExtractValue(t->b, r, (unsigned)i, "");
}

void tcc_tir_gpu_kernel(tcc_tir_t *t, LLVMValueRef fn, int max_threads) {
  LLVMMetadataRef md[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(t->ctx, "kernel", 6),
                           LLVMValueAsMetadata(tcc_tir_i32c(t, 1))};
  LLVMAddNamedMetadataOperand(t->mod, "nvvm.annotations", LLVMMetadataAsValue(t->ctx, LLVMMDNodeInContext2(t->ctx, md, 3)));
  if (max_threads <= 0) return;
  md[1] = LLVMMDStringInContext2(t->ctx, "maxntidx", 8), md[2] = LLVMValueAsMetadata(tcc_tir_i32c(t, max_threads));
  LLVMAddNamedMetadataOperand(t->mod, "nvvm.annotations", LLVMMetadataAsValue(t->ctx, LLVMMDNodeInContext2(t->ctx, md, 3)));
}

void tcc_tir_gpu_min_blocks(tcc_tir_t *t, LLVMValueRef fn, int blocks) {
  LLVMMetadataRef md[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(t->ctx, "minctasm", 8),
                           LLVMValueAsMetadata(tcc_tir_i32c(t, blocks))};
  LLVMAddNamedMetadataOperand(t->mod, "nvvm.annotations", LLVMMetadataAsValue(t->ctx, LLVMMDNodeInContext2(t->ctx, md, 3)));
}

void tcc_tir_gpu_cluster(tcc_tir_t *t, LLVMValueRef fn, int blocks) {
  size_t len;
  const char *name = LLVMGetValueName2(fn, &len);
  LLVMMetadataRef md[2] = {LLVMMDStringInContext2(t->ctx, name, len), LLVMValueAsMetadata(tcc_tir_i32c(t, blocks))};
  LLVMAddNamedMetadataOperand(t->mod, "tcc.clusters", LLVMMetadataAsValue(t->ctx, LLVMMDNodeInContext2(t->ctx, md, 2)));
}

void tcc_tir_gpu_entry(tcc_tir_t *t, const char *node_name, const char *fallback, char entry[256]) {
  char name[200];
  tcc_tir_unique_name(t->mod, node_name, fallback, name);
  snprintf(entry, 256, "%s_gpu", name);
}

tcc_status_t tcc_tir_gpu_keep(tcc_tir_t *t, const char *entry, tcc_status_t st) {
  LLVMValueRef fn = st ? LLVMGetNamedFunction(t->mod, entry) : NULL;
  if (fn) LLVMDeleteFunction(fn);
  return st;
}

LLVMValueRef tcc_tir_libc(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                          LLVMTypeRef *fty) {
  *fty = LLVMFunctionType(ret, params, (unsigned)n, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(t->mod, name);
  return fn ? fn : LLVMAddFunction(t->mod, name, *fty);
}

void tcc_tir_unique_name(LLVMModuleRef mod, const char *node_name, const char *fallback, char out[200]) {
  const size_t cap = 200;
  char base[160];
  size_t j = 0;
  for (const char *s = node_name ? node_name : ""; *s && j + 1 < sizeof base; s++)
    base[j++] = isalnum((unsigned char)*s) || *s == '_' ? *s : '_';
  base[j] = 0;
  if (j == 0 || isdigit((unsigned char)base[0])) {
    char tmp[sizeof base + 16];
    snprintf(tmp, sizeof tmp, "%.8s_%s", fallback, base);
    memcpy(base, tmp, sizeof base - 1);
    base[sizeof base - 1] = 0;
  }
  snprintf(out, cap, "%s", base);
  for (int suffix = 2;; suffix++) {
    char packed[256];
    snprintf(packed, sizeof packed, "%.200s_packed", out);
    if (!LLVMGetNamedFunction(mod, out) && !LLVMGetNamedFunction(mod, packed)) return;
    snprintf(out, cap, "%s_%d", base, suffix);
  }
}

void tcc_tir_dispatch(tcc_tir_t *t, LLVMValueRef ctx, LLVMValueRef body, LLVMValueRef args, LLVMValueRef tasks) {
  LLVMTypeRef ctx_fields[4] = {t->ptr, t->ptr, t->ptr, t->i32};
  LLVMTypeRef ctx_ty = LLVMStructTypeInContext(t->ctx, ctx_fields, 4, 0);
  LLVMValueRef pfor = LLVMBuildLoad2(t->b, t->ptr, LLVMBuildStructGEP2(t->b, ctx_ty, ctx, 1, ""), "parallel_for");
  LLVMValueRef pool = LLVMBuildLoad2(t->b, t->ptr, LLVMBuildStructGEP2(t->b, ctx_ty, ctx, 2, ""), "pool");
  LLVMValueRef threads = LLVMBuildLoad2(t->b, t->i32, LLVMBuildStructGEP2(t->b, ctx_ty, ctx, 3, ""), "threads");
  LLVMValueRef serial = LLVMBuildOr(t->b, LLVMBuildICmp(t->b, LLVMIntSLE, tasks, tcc_tir_i64c(t, 1), ""),
                                    LLVMBuildOr(t->b, LLVMBuildICmp(t->b, LLVMIntSLE, threads, tcc_tir_i32c(t, 1), ""),
                                                LLVMBuildIsNull(t->b, pfor, ""), ""),
                                    "serial");
  LLVMBasicBlockRef here = tcc_tir_block(t, "here"), pooled = tcc_tir_block(t, "pooled");
  LLVMBuildCondBr(t->b, serial, here, pooled);
  LLVMPositionBuilderAtEnd(t->b, here);
  LLVMValueRef bargs[3] = {args, tcc_tir_i64c(t, 0), tasks};
  LLVMBuildRet(t->b, LLVMBuildCall2(t->b, LLVMGlobalGetValueType(body), body, bargs, 3, ""));
  LLVMPositionBuilderAtEnd(t->b, pooled);
  LLVMTypeRef pf_params[5] = {t->ptr, t->i64, t->i64, t->ptr, t->ptr};
  LLVMValueRef pargs[5] = {pool, tasks, tcc_tir_i64c(t, 1), body, args};
  LLVMBuildRet(t->b, LLVMBuildCall2(t->b, LLVMFunctionType(t->i32, pf_params, 5, 0), pfor, pargs, 5, ""));
}

void tcc_tir_emit_unpacked(tcc_tir_t *t, const char *name, LLVMValueRef packed, int n) {
  LLVMTypeRef params[65];
  if (n > 64) n = 64;
  for (int i = 0; i <= n; i++) params[i] = t->ptr;
  LLVMValueRef fn = tcc_tir_function(t, name, t->i32, params, n + 1, false);
  tcc_tir_begin(t, fn);
  LLVMValueRef arr = tcc_tir_alloca(t, LLVMArrayType(t->ptr, (unsigned)(n > 0 ? n : 1)), "params");
  for (int i = 0; i < n; i++) {
    LLVMValueRef idx = tcc_tir_i64c(t, i);
    LLVMBuildStore(t->b, LLVMGetParam(fn, (unsigned)i), LLVMBuildGEP2(t->b, t->ptr, arr, &idx, 1, ""));
  }
  LLVMValueRef args[2] = {arr, LLVMGetParam(fn, (unsigned)n)};
  LLVMBuildRet(t->b, LLVMBuildCall2(t->b, LLVMGlobalGetValueType(packed), packed, args, 2, ""));
}

tcc_status_t tcc_tir_emit_kernel(tcc_tir_t *t, const char *node_name, const char *fallback, int num_params,
                                 tcc_tir_body_fn body, tcc_tir_packed_fn packed, void *ctx, const char **symbol) {
  char name[200], fname[240];
  tcc_tir_unique_name(t->mod, node_name, fallback, name);
  snprintf(fname, sizeof fname, "%s_body", name);
  LLVMValueRef body_fn = body(t, ctx, fname), packed_fn = NULL;
  snprintf(fname, sizeof fname, "%s_packed", name);
  tcc_status_t st = packed(t, ctx, fname, body_fn, &packed_fn);
  if (st) {
    LLVMDeleteFunction(body_fn);
    if (packed_fn) LLVMDeleteFunction(packed_fn);
    return st;
  }
  tcc_tir_emit_unpacked(t, name, packed_fn, num_params);
  size_t len = 0;
  *symbol = LLVMGetValueName2(LLVMGetNamedFunction(t->mod, name), &len);
  return NULL;
}

LLVMValueRef tcc_tir_begin_packed(tcc_tir_t *t, const char *name, LLVMValueRef *params, LLVMValueRef *ctx,
                                  LLVMValueRef *syms) {
  LLVMTypeRef types[2] = {t->ptr, t->ptr};
  LLVMValueRef fn = tcc_tir_function(t, name, t->i32, types, 2, false);
  tcc_tir_begin(t, fn);
  *params = LLVMGetParam(fn, 0), *ctx = LLVMGetParam(fn, 1);
  *syms = LLVMBuildLoad2(t->b, t->ptr, *ctx, "syms");
  return fn;
}

LLVMValueRef tcc_tir_param(tcc_tir_t *t, LLVMValueRef params, int i) {
  LLVMValueRef idx = tcc_tir_i64c(t, i);
  return LLVMBuildLoad2(t->b, t->ptr, LLVMBuildGEP2(t->b, t->ptr, params, &idx, 1, ""), "");
}
