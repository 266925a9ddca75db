/* Compute definitions of the image family (ir/compute_image.c): kernels build and verify for every op over
 * symbolic dims, unsupported operands name the node, and the trickiest sampling rules — Resize's antialias
 * and exclude_outside windows, tf_crop_and_resize extrapolation, GridSample reflection with bicubic taps,
 * RoiAlign's adaptive sampling grid, DeformConv with groups and offset groups — match C references written
 * from the ONNX reference implementation. */
#include <math.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

#define INTS(...) (int64_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}
#define FLOATS(...) (int64_t)(sizeof((float[]){__VA_ARGS__}) / sizeof(float)), (float[]){__VA_ARGS__}

/* ---- building ------------------------------------------------------------------------------------- */

TEST(every_op_builds_and_verifies) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32;
  /* resize: nearest by scales, linear by symbolic sizes, cubic antialias (run-time window), keep-aspect, crop */
  tcc_node_t *n = node(g, TCC_OP_RESIZE, 1, 3, input(g, f32, "batch, 3, h, w"), NULL, const_f32(g, FLOATS(1, 1, 2, 2)));
  build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[batch, 3, 2*h, 2*w]");
  n = node(g, TCC_OP_RESIZE, 1, 4, input(g, TCC_DTYPE_U8, "batch, 3, h, w"), NULL, NULL,
           shape_input(g, "batch, 3, 5, w"));
  attr_string(n, "mode", "linear");
  build_kernel(n);
  n = node(g, TCC_OP_RESIZE, 1, 4, input(g, f32, "1, 3, h, w"), NULL, NULL, const_i64(g, 1, 2, (int64_t[]){4, 4}));
  attr_string(n, "mode", "cubic"), attr_int(n, "antialias", 1), attr_ints(n, "axes", INTS(2, 3));
  build_kernel(n);
  n = node(g, TCC_OP_RESIZE, 1, 4, input(g, f32, "1, 3, 6, 8"), NULL, NULL, const_i64(g, 1, 2, (int64_t[]){4, 4}));
  attr_string(n, "keep_aspect_ratio_policy", "not_smaller"), attr_ints(n, "axes", INTS(2, 3));
  build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 3, 4, 5]");
  n = node(g, TCC_OP_RESIZE, 1, 4, input(g, f32, "2, 3, h, 4"), const_f32(g, FLOATS(0.2f, 0.8f)), NULL,
           const_i64(g, 1, 1, (int64_t[]){3}));
  attr_string(n, "coordinate_transformation_mode", "tf_crop_and_resize"), attr_ints(n, "axes", INTS(-1));
  build_kernel(n);
  /* grid_sample 2-D and 3-D */
  static const char *const modes[] = {"linear", "nearest", "cubic"}, *const pads[] = {"zeros", "border", "reflection"};
  for (int i = 0; i < 3; i++) {
    n = node(g, TCC_OP_GRID_SAMPLE, 1, 2, input(g, f32, "batch, 3, h, w"), input(g, f32, "batch, 5, 6, 2"));
    attr_string(n, "mode", modes[i]), attr_string(n, "padding_mode", pads[i]), attr_int(n, "align_corners", i & 1);
    build_kernel(n);
  }
  build_kernel(
      node(g, TCC_OP_GRID_SAMPLE, 1, 2, input(g, TCC_DTYPE_F16, "1, 2, d, h, w"), input(g, f32, "1, 3, 4, 5, 3")));
  /* affine_grid, roi_align, max_unpool, col2im, deform_conv */
  n = node(g, TCC_OP_AFFINE_GRID, 1, 2, input(g, f32, "n, 3, 4"), shape_input(g, "n, 3, d, h, w"));
  build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[n, d, h, w, 3]");
  n = node(g, TCC_OP_ROI_ALIGN, 1, 3, input(g, f32, "batch, 3, h, w"), input(g, f32, "r, 4"),
           input(g, TCC_DTYPE_I64, "r"));
  attr_string(n, "mode", "max"), attr_int(n, "output_height", 2), attr_int(n, "output_width", 3);
  build_kernel(n);
  n = node(g, TCC_OP_MAX_UNPOOL, 1, 2, input(g, f32, "batch, 3, h, w"), input(g, TCC_DTYPE_I64, "batch, 3, h, w"));
  attr_ints(n, "kernel_shape", INTS(2, 2)), attr_ints(n, "strides", INTS(2, 2));
  build_kernel(n);
  n = node(g, TCC_OP_COL2IM, 1, 3, input(g, f32, "batch, 12, 6"), const_i64(g, 1, 2, (int64_t[]){3, 4}),
           const_i64(g, 1, 2, (int64_t[]){2, 2}));
  build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[batch, 3, 3, 4]");
  n = node(g, TCC_OP_DEFORM_CONV, 1, 5, input(g, f32, "batch, 4, 5, 5"), input(g, f32, "2, 2, 3, 3"),
           input(g, f32, "batch, 36, 3, 3"), input(g, f32, "2"), input(g, f32, "batch, 18, 3, 3"));
  attr_int(n, "group", 2), attr_int(n, "offset_group", 2);
  build_kernel(n);
  tcc_module_destroy(m);
}

TEST(unsupported_operands_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n =
      node(g, TCC_OP_RESIZE, 1, 3, input(g, TCC_DTYPE_F32, "1, 1, 4, 4"), NULL, input(g, TCC_DTYPE_F32, "4"));
  n->name = "dyn_scales";
  CHECK(build_unsupported(n, "'scales' must be a constant"));
  n = node(g, TCC_OP_RESIZE, 1, 3, input(g, TCC_DTYPE_F32, "1, 1, 4, 4"), NULL, const_f32(g, FLOATS(1, 1, 2, 2)));
  attr_string(n, "mode", "area");
  n->name = "area_resize";
  CHECK(build_unsupported(n, "mode 'area'"));
  n = node(g, TCC_OP_GRID_SAMPLE, 1, 2, input(g, TCC_DTYPE_I32, "1, 1, 4, 4"), input(g, TCC_DTYPE_F32, "1, 2, 2, 2"));
  n->name = "int_grid_sample";
  CHECK(build_unsupported(n, "element type i32"));
  n = node(g, TCC_OP_COL2IM, 1, 3, input(g, TCC_DTYPE_F32, "1, 4, 4"), const_i64(g, 1, 2, (int64_t[]){3, 3}),
           input(g, TCC_DTYPE_I64, "2"));
  n->name = "dyn_block";
  CHECK(build_unsupported(n, "'block_shape' must be a constant"));
  /* fuzz: garbage rois 1e12 away make sample grids of 1e11 x 1e11 per bin; refused, not run for hours */
  tcc_tensor_t *far = tcc_tensor_create(m, TCC_DTYPE_F32, 2, (int64_t[]){1, 4});
  memcpy((void *)far->data, (float[]){0, 0, 1e12f, 1e12f}, sizeof(float[4]));
  n = node(g, TCC_OP_ROI_ALIGN, 1, 3, input(g, TCC_DTYPE_F32, "1, 1, 14, 10"), tcc_graph_add_constant(g, NULL, far),
           const_i64(g, 1, 1, (int64_t[]){0}));
  attr_int(n, "output_height", 5), attr_int(n, "output_width", 5);
  n->name = "far_rois";
  CHECK(build_unsupported(n, "region 0 takes"));
  /* an empty grid along h (negative height) still runs the loop over w's 2e11 samples per bin */
  memcpy((void *)far->data, (float[]){0, 0, 1e12f, -1}, sizeof(float[4]));
  CHECK(build_unsupported(n, "region 0 takes 5 x"));
  tcc_module_destroy(m);
}

/* ---- resize --------------------------------------------------------------------------------------- */

typedef struct {
  int mode; /* 0 nearest (round_prefer_floor), 1 linear, 2 cubic */
  const char *ct;
  bool antialias, exclude;
  double a, extrapolation, roi[2];
} rs_ref_t;

/* The ONNX reference's 1-D weights of output position o: taps idx[0..n) (edge-clamped) and weights w;
 * returns n, or -1 when tf_crop_and_resize puts the position outside the input. */
static int rs_ref_1d(const rs_ref_t *c, int in, int out, double scale, int o, int *idx, double *w) {
  double ow = scale * in, x;
  if (!strcmp(c->ct, "align_corners")) x = ow == 1 ? 0 : o * (in - 1) / (ow - 1);
  else if (!strcmp(c->ct, "asymmetric")) x = o / scale;
  else if (!strcmp(c->ct, "tf_crop_and_resize")) {
    x = (ow == 1 ? (c->roi[1] - c->roi[0]) * (in - 1) / 2 : o * (c->roi[1] - c->roi[0]) * (in - 1) / (ow - 1)) +
        c->roi[0] * (in - 1);
    if (x < 0 || x > in - 1) return -1;
  } else if (!strcmp(c->ct, "half_pixel_symmetric")) {
    x = in / 2.0 * (1 - out / ow) + (o + 0.5) / scale - 0.5;
  } else {
    x = (o + 0.5) / scale - 0.5;
  }
  double base = floor(x) == x ? x - 1 : floor(x), r = x - base, s = c->antialias ? fmin(scale, 1) : 1, sum = 0;
  int start = c->mode == 0 ? 0 : c->mode == 1 ? (int)floor(-1 / s) + 1 : (int)floor(-2 / s) + 1;
  int n = c->mode == 0 ? 2 : 2 - 2 * start;
  for (int j = 0; j < n; j++) {
    int t = (int)base + start + j;
    double d = fabs((start + j - r) * s), a = c->a;
    if (c->mode == 0) w[j] = j == (r <= 0.5 ? 0 : 1);
    else if (c->mode == 1) w[j] = fmax(0, 1 - d);
    else w[j] = d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0;
    if (c->exclude && (t < 0 || t >= in)) w[j] = 0;
    sum += w[j];
    idx[j] = t < 0 ? 0 : t >= in ? in - 1 : t;
  }
  if (c->antialias || c->exclude)
    for (int j = 0; j < n; j++) w[j] /= sum;
  return n;
}

/* Resizes the last two dims of x [planes, ih, iw] to [planes, oh, ow] by separable 1-D weights. */
static void rs_ref(const rs_ref_t *c, const float *x, double *y, int planes, int ih, int iw, int oh, int ow, double sh,
                   double sw) {
  int iy[64], ix[64];
  double wy[64], wx[64];
  for (int p = 0; p < planes; p++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        int ny = rs_ref_1d(c, ih, oh, sh, i, iy, wy), nx = rs_ref_1d(c, iw, ow, sw, j, ix, wx);
        double v = 0;
        for (int a = 0; a < ny; a++)
          for (int b = 0; b < nx; b++) v += wy[a] * wx[b] * x[(p * ih + iy[a]) * iw + ix[b]];
        y[(p * oh + i) * ow + j] = ny < 0 || nx < 0 ? c->extrapolation : v;
      }
}

/* One resize of x [2, 3, ih, iw] by scales (sh, sw) or, when sizes, to (oh, ow), compared with rs_ref. */
static void check_resize(const rs_ref_t *c, int ih, int iw, int oh, int ow, double sh, double sw, bool sizes,
                         unsigned seed) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  char shape[64];
  snprintf(shape, sizeof shape, "2, 3, %d, %d", ih, iw);
  tcc_value_t *x = input(g, TCC_DTYPE_F32, shape);
  bool crop = !strcmp(c->ct, "tf_crop_and_resize");
  tcc_value_t *roi = crop ? const_f32(g, 4, (float[]){(float)c->roi[0], (float)c->roi[0], (float)c->roi[1],
                                                     (float)c->roi[1]}) : NULL;
  tcc_node_t *n = sizes ? node(g, TCC_OP_RESIZE, 1, 4, x, roi, NULL, const_i64(g, 1, 2, (int64_t[]){oh, ow}))
                        : node(g, TCC_OP_RESIZE, 1, 3, x, roi, const_f32(g, 2, (float[]){(float)sh, (float)sw}));
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  attr_string(n, "mode", modes[c->mode]), attr_string(n, "coordinate_transformation_mode", c->ct);
  attr_ints(n, "axes", INTS(2, 3)), attr_int(n, "antialias", c->antialias), attr_int(n, "exclude_outside", c->exclude);
  attr_float(n, "cubic_coeff_a", c->a), attr_float(n, "extrapolation_value", c->extrapolation);
  tcc_kernel_t *k = build_kernel(n);
  if (sizes) sh = (double)oh / ih, sw = (double)ow / iw;
  else sh = (float)sh, sw = (float)sw;
  params_t p = params(k, seed);
  if (run(k, p.buf)) {
    double *want = calloc((size_t)(6 * oh * ow), sizeof *want);
    rs_ref(c, F(p, 0), want, 6, ih, iw, oh, ow, sh, sw);
    CHECK_CLOSE(F(p, k->num_params - 1), want, 6 * oh * ow);
    free(want);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

TEST(resize_numeric) {
  /* antialiased downsampling widens the window to 1 / scale taps and normalizes it */
  check_resize(&(rs_ref_t){.mode = 1, .ct = "half_pixel", .antialias = true}, 7, 9, 3, 4, 0.45, 0.5, false, 1);
  check_resize(&(rs_ref_t){.mode = 2, .ct = "pytorch_half_pixel", .antialias = true, .a = -0.75}, 8, 5, 3, 2, 0, 0,
               true, 2);
  /* exclude_outside renormalizes cubic weights over the taps inside the input */
  check_resize(&(rs_ref_t){.mode = 2, .ct = "half_pixel", .exclude = true, .a = -0.5}, 3, 4, 7, 9, 0, 0, true, 3);
  check_resize(&(rs_ref_t){.mode = 2, .ct = "align_corners", .a = -0.75}, 4, 4, 2, 3, 0.6, 0.8, false, 4);
  check_resize(&(rs_ref_t){.mode = 1, .ct = "half_pixel_symmetric"}, 4, 5, 5, 7, 1.3, 1.5, false, 5);
  check_resize(&(rs_ref_t){.mode = 0, .ct = "asymmetric"}, 3, 5, 7, 4, 0, 0, true, 6);
  /* tf_crop_and_resize: positions outside the input give extrapolation_value */
  check_resize(&(rs_ref_t){.mode = 1, .ct = "tf_crop_and_resize", .extrapolation = 7, .roi = {-0.35, 1.15}}, 4, 5, 4, 6,
               0, 0, true, 7);
}

/* Resize-10 (no coordinate or nearest_mode attributes): asymmetric; nearest floors when upsampling, rounds up
 * when downsampling. */
TEST(resize_opset10_nearest) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_RESIZE, 1, 3, input(g, TCC_DTYPE_F32, "1, 1, 2, 5"), NULL,
                       const_f32(g, FLOATS(1, 1, 2, 0.6f)));
  n->op_type = "Resize", n->opset = 10;
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 1, 4, 3]");
  params_t p = params(k, 11);
  if (run(k, p.buf)) {
    double want[12];
    static const int rows[] = {0, 0, 1, 1}, cols[] = {0, 2, 4};
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 3; j++) want[i * 3 + j] = F(p, 0)[rows[i] * 5 + cols[j]];
    CHECK_CLOSE(F(p, 2), want, 12);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- grid_sample ---------------------------------------------------------------------------------- */

static double gs_reflect(double x, double lo, double hi) {
  double rng = hi - lo;
  if (x < lo) {
    double dx = lo - x;
    int n = (int)(dx / rng);
    double r = dx - n * rng;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    int n = (int)(dx / rng);
    double r = dx - n * rng;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

/* Bicubic, reflection padding, align_corners = 0, over grids reaching well outside [-1, 1]. */
TEST(grid_sample_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_GRID_SAMPLE, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4, 5"),
                       input(g, TCC_DTYPE_F32, "2, 3, 6, 2"));
  attr_string(n, "mode", "cubic"), attr_string(n, "padding_mode", "reflection");
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 8);
  if (k)
    for (int i = 0; i < 2 * 3 * 6 * 2; i++) F(p, 1)[i] *= 2.9f; /* +-[0.29, 2.9] */
  if (run(k, p.buf)) {
    double want[2 * 3 * 3 * 6];
    const int H = 4, W = 5;
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 3; c++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 6; j++) {
            const float *gp = &F(p, 1)[((b * 3 + i) * 6 + j) * 2];
            double px = gs_reflect(((gp[0] + 1.0) * W - 1) / 2, -0.5, W - 0.5);
            double py = gs_reflect(((gp[1] + 1.0) * H - 1) / 2, -0.5, H - 0.5);
            double fx = floor(px), fy = floor(py), v = 0;
            for (int u = 0; u < 4; u++)
              for (int t = 0; t < 4; t++) {
                double dy = fabs(u - 1 - (py - fy)), dx = fabs(t - 1 - (px - fx)), a = -0.75, w[2];
                for (int q = 0; q < 2; q++) {
                  double d = q ? dx : dy;
                  w[q] = d <= 1  ? ((a + 2) * d - (a + 3)) * d * d + 1
                         : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
                                 : 0;
                }
                int yy = (int)gs_reflect(fy - 1 + u, -0.5, H - 0.5), xx = (int)gs_reflect(fx - 1 + t, -0.5, W - 0.5);
                v += w[0] * w[1] * F(p, 0)[((b * 3 + c) * H + yy) * W + xx];
              }
            want[((b * 3 + c) * 3 + i) * 6 + j] = v;
          }
    check_close(F(p, 2), want, 2 * 3 * 3 * 6, 1e-4, "grid_sample", __FILE__, __LINE__);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- roi_align ------------------------------------------------------------------------------------ */

/* Adaptive sampling (sampling_ratio = 0: ceil(roi size / bins) samples per bin), average, output_half_pixel,
 * with a region partly outside the image. */
TEST(roi_align_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ROI_ALIGN, 1, 3, input(g, TCC_DTYPE_F32, "2, 2, 6, 7"),
                       input(g, TCC_DTYPE_F32, "2, 4"), input(g, TCC_DTYPE_I64, "2"));
  attr_int(n, "output_height", 2), attr_int(n, "output_width", 3), attr_float(n, "spatial_scale", 0.5);
  attr_string(n, "coordinate_transformation_mode", "output_half_pixel");
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 9);
  const float rois[] = {1.0f, 2.0f, 11.0f, 9.0f, -4.0f, 3.0f, 17.0f, 15.0f};
  const int H = 6, W = 7, PH = 2, PW = 3;
  if (k) {
    memcpy(F(p, 1), rois, sizeof rois);
    ((int64_t *)p.buf[2])[0] = 1, ((int64_t *)p.buf[2])[1] = 0;
  }
  if (run(k, p.buf)) {
    double want[2 * 2 * 2 * 3];
    for (int r = 0; r < 2; r++) {
      int b = (int)((int64_t *)p.buf[2])[r];
      double x0 = rois[r * 4] * 0.5, y0 = rois[r * 4 + 1] * 0.5;
      double rw = fmax(rois[r * 4 + 2] * 0.5 - x0, 1), rh = fmax(rois[r * 4 + 3] * 0.5 - y0, 1);
      double bh = rh / PH, bw = rw / PW;
      int gh = (int)ceil(rh / PH), gw = (int)ceil(rw / PW);
      for (int c = 0; c < 2; c++)
        for (int i = 0; i < PH; i++)
          for (int j = 0; j < PW; j++) {
            double s = 0;
            for (int u = 0; u < gh; u++)
              for (int v = 0; v < gw; v++) {
                double y = y0 + i * bh + (u + 0.5) * bh / gh, x = x0 + j * bw + (v + 0.5) * bw / gw;
                if (y < -1 || y > H || x < -1 || x > W) continue;
                y = fmax(y, 0), x = fmax(x, 0);
                int yl = (int)y, xl = (int)x, yh = yl + 1, xh = xl + 1;
                if (yl >= H - 1) yl = yh = H - 1, y = yl;
                if (xl >= W - 1) xl = xh = W - 1, x = xl;
                double ly = y - yl, lx = x - xl;
                const float *X = &F(p, 0)[(b * 2 + c) * H * W];
                s += (1 - ly) * (1 - lx) * X[yl * W + xl] + (1 - ly) * lx * X[yl * W + xh] +
                     ly * (1 - lx) * X[yh * W + xl] + ly * lx * X[yh * W + xh];
              }
            want[((r * 2 + c) * PH + i) * PW + j] = s / (gh * gw);
          }
    }
    CHECK_CLOSE(F(p, 3), want, 24);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- deform_conv ---------------------------------------------------------------------------------- */

/* Two groups and two offset groups, stride 2, padding, a mask and a bias; offsets move taps off the image. */
TEST(deform_conv_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  enum { N = 1, C = 4, H = 5, W = 6, OC = 4, KH = 2, KW = 3, OH = 3, OW = 3, G = 2, OG = 2 };
  tcc_node_t *n = node(g, TCC_OP_DEFORM_CONV, 1, 5, input(g, TCC_DTYPE_F32, "1, 4, 5, 6"),
                       input(g, TCC_DTYPE_F32, "4, 2, 2, 3"), input(g, TCC_DTYPE_F32, "1, 24, 3, 3"),
                       input(g, TCC_DTYPE_F32, "4"), input(g, TCC_DTYPE_F32, "1, 12, 3, 3"));
  attr_int(n, "group", G), attr_int(n, "offset_group", OG), attr_ints(n, "strides", INTS(2, 2));
  attr_ints(n, "pads", INTS(1, 0, 1, 1));
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 4, 3, 3]");
  params_t p = params(k, 10);
  if (k)
    for (int i = 0; i < 24 * OH * OW; i++) F(p, 2)[i] *= 2.5f;
  if (run(k, p.buf)) {
    double want[OC * OH * OW];
    for (int oc = 0; oc < OC; oc++)
      for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
          double s = F(p, 3)[oc];
          for (int icg = 0; icg < C / G; icg++) {
            int ic = oc / (OC / G) * (C / G) + icg, og = ic / (C / OG);
            for (int u = 0; u < KH; u++)
              for (int v = 0; v < KW; v++) {
                int tap = (og * KH + u) * KW + v;
                double py = i * 2 - 1 + u + F(p, 2)[(tap * 2) * OH * OW + i * OW + j];
                double px = j * 2 + v + F(p, 2)[(tap * 2 + 1) * OH * OW + i * OW + j];
                double fy = floor(py), fx = floor(px), val = 0;
                for (int a = 0; a < 2; a++)
                  for (int b = 0; b < 2; b++) {
                    int yy = (int)fy + a, xx = (int)fx + b;
                    if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                    double wy = a ? py - fy : 1 - (py - fy), wx = b ? px - fx : 1 - (px - fx);
                    val += wy * wx * F(p, 0)[(ic * H + yy) * W + xx];
                  }
                s += F(p, 1)[((oc * (C / G) + icg) * KH + u) * KW + v] * F(p, 4)[tap * OH * OW + i * OW + j] * val;
              }
          }
          want[(oc * OH + i) * OW + j] = s;
        }
    CHECK_CLOSE(F(p, 5), want, OC * OH * OW);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

RUN_TESTS(T(every_op_builds_and_verifies), T(unsupported_operands_name_the_node), T(resize_numeric),
          T(resize_opset10_nearest), T(grid_sample_numeric), T(roi_align_numeric), T(deform_conv_numeric))
