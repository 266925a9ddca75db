/* The ONNX importer on models built here: tensor encodings, Constant forms, functions, opset upgrades,
 * symbolic dims, subgraphs and the folding of shape subgraphs. */
#include <math.h>
#include <stdlib.h>

#include "frontend/onnx.pb-c.h"
#include "frontend/onnx_import.h"
#include "tests/test.h"

static tcc_arena_t B; /* builder allocations, reset per test */

static void *alloc(size_t n) { return tcc_arena_calloc(&B, 1, n); }

/* "a,b,,c" -> a string array (empty entries kept: omitted optional inputs). */
static char **names(const char *csv, size_t *n) {
  *n = 0;
  if (!csv) return NULL;
  char **out = alloc(32 * sizeof *out);
  for (const char *p = csv;;) {
    const char *e = strchr(p, ',');
    out[(*n)++] = tcc_arena_strndup(&B, p, e ? (size_t)(e - p) : strlen(p));
    if (!e) break;
    p = e + 1;
  }
  return out;
}

static Onnx__AttributeProto *attr_ints(const char *name, int64_t *v, size_t n) {
  Onnx__AttributeProto *a = alloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->ints = v;
  a->n_ints = n;
  return a;
}

static Onnx__AttributeProto *attr_int(const char *name, int64_t v) {
  Onnx__AttributeProto *a = alloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = a->has_i = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->i = v;
  return a;
}

static Onnx__AttributeProto *attr_float(const char *name, float v) {
  Onnx__AttributeProto *a = alloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = a->has_f = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->f = v;
  return a;
}

static Onnx__NodeProto *node(const char *op, const char *in, const char *out, int n_attrs, ...) {
  Onnx__NodeProto *n = alloc(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = tcc_arena_sprintf(&B, "%s_%s", op, out);
  n->input = names(in, &n->n_input);
  n->output = names(out, &n->n_output);
  n->attribute = alloc(8 * sizeof *n->attribute);
  va_list ap;
  va_start(ap, n_attrs);
  for (int i = 0; i < n_attrs; i++) n->attribute[n->n_attribute++] = va_arg(ap, Onnx__AttributeProto *);
  va_end(ap);
  return n;
}

/* dims: "batch,3,?" — '?' is an unknown dim. */
static Onnx__ValueInfoProto *tensor_info(const char *name, int dtype, const char *dims) {
  Onnx__ValueInfoProto *vi = alloc(sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = (char *)name;
  vi->type = alloc(sizeof *vi->type);
  onnx__type_proto__init(vi->type);
  vi->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  vi->type->tensor_type = alloc(sizeof *vi->type->tensor_type);
  onnx__type_proto__tensor__init(vi->type->tensor_type);
  vi->type->tensor_type->has_elem_type = 1;
  vi->type->tensor_type->elem_type = dtype;
  if (!dims) return vi;
  Onnx__TensorShapeProto *shape = alloc(sizeof *shape);
  onnx__tensor_shape_proto__init(shape);
  size_t n;
  char **parts = names(dims, &n);
  shape->dim = alloc((n + 1) * sizeof *shape->dim);
  for (size_t i = 0; i < n && dims[0]; i++) {
    Onnx__TensorShapeProto__Dimension *d = alloc(sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    if (parts[i][0] >= '0' && parts[i][0] <= '9') {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = atoll(parts[i]);
    } else if (parts[i][0] != '?') {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = parts[i];
    }
    shape->dim[shape->n_dim++] = d;
  }
  vi->type->tensor_type->shape = shape;
  return vi;
}

static Onnx__TensorProto *tensor(const char *name, int dtype, size_t rank, const int64_t *dims) {
  Onnx__TensorProto *t = alloc(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->data_type = dtype;
  t->dims = (int64_t *)dims;
  t->n_dims = rank;
  return t;
}

typedef struct {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset, opset_custom;
  Onnx__OperatorSetIdProto *opsets[2];
} model_t;

static model_t *new_model(int64_t opset) {
  model_t *m = alloc(sizeof *m);
  onnx__model_proto__init(&m->model);
  onnx__graph_proto__init(&m->graph);
  onnx__operator_set_id_proto__init(&m->opset);
  onnx__operator_set_id_proto__init(&m->opset_custom);
  m->opset.has_version = 1;
  m->opset.version = opset;
  m->opset.domain = "";
  m->opset_custom.has_version = 1;
  m->opset_custom.version = 1;
  m->opset_custom.domain = "custom";
  m->opsets[0] = &m->opset;
  m->opsets[1] = &m->opset_custom;
  m->model.opset_import = m->opsets;
  m->model.n_opset_import = 2;
  m->model.has_ir_version = 1;
  m->model.ir_version = 9;
  m->model.graph = &m->graph;
  m->graph.name = "test";
  m->graph.node = alloc(64 * sizeof(void *));
  m->graph.input = alloc(16 * sizeof(void *));
  m->graph.output = alloc(16 * sizeof(void *));
  m->graph.initializer = alloc(32 * sizeof(void *));
  return m;
}

static tcc_status_t import(model_t *mb, tcc_module_t **out) {
  size_t size = onnx__model_proto__get_packed_size(&mb->model);
  uint8_t *buf = alloc(size + 1);
  onnx__model_proto__pack(&mb->model, buf);
  tcc_onnx_import_options_t options = {0};
  return tcc_onnx_import_memory(buf, size, NULL, &options, tcc_allocator_system(), out);
}

static const char *type_of(const tcc_value_t *v) {
  static char buf[4][256];
  static int k;
  char *b = buf[k++ % 4];
  tcc_type_format(&v->type, b, 256);
  return b;
}

static int count_ops(const tcc_graph_t *g, tcc_op_t op) {
  int n = 0;
  for (size_t i = 0; i < g->num_nodes; i++) n += g->nodes[i]->op == op;
  return n;
}

static void setup(void) { tcc_arena_init(&B, tcc_allocator_system()); }
static void teardown(void) { tcc_arena_deinit(&B); }

TEST(typed_fields_of_every_encoding) {
  setup();
  model_t *mb = new_model(17);
  static const int64_t d2[] = {2}, d3[] = {3};
  Onnx__TensorProto *f16 = tensor("f16", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, 1, d2);
  static int32_t f16_bits[] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
  f16->int32_data = f16_bits, f16->n_int32_data = 2;
  Onnx__TensorProto *bf16 = tensor("bf16", ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, 1, d2);
  static int32_t bf16_bits[] = {0x3fc0, 0x4040}; /* 1.5, 3.0 */
  bf16->int32_data = bf16_bits, bf16->n_int32_data = 2;
  Onnx__TensorProto *f8 = tensor("f8", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT8E4M3FN, 1, d2);
  static int32_t f8_bits[] = {0x38, 0x7f}; /* 1.0, nan */
  f8->int32_data = f8_bits, f8->n_int32_data = 2;
  Onnx__TensorProto *i4 = tensor("i4", ONNX__TENSOR_PROTO__DATA_TYPE__INT4, 1, d3);
  static int32_t i4_bytes[] = {0xf7, 0x08}; /* 7, -1, -8 packed low nibble first */
  i4->int32_data = i4_bytes, i4->n_int32_data = 2;
  Onnx__TensorProto *i64 = tensor("i64", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, d3);
  static int64_t i64_vals[] = {-5, 0, 1LL << 40};
  i64->int64_data = i64_vals, i64->n_int64_data = 3;
  Onnx__TensorProto *u64 = tensor("u64", ONNX__TENSOR_PROTO__DATA_TYPE__UINT32, 1, d2);
  static uint64_t u64_vals[] = {7, 4000000000u};
  u64->uint64_data = u64_vals, u64->n_uint64_data = 2;
  Onnx__TensorProto *f64 = tensor("f64", ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, 1, d2);
  static double f64_vals[] = {0.25, -1e300};
  f64->double_data = f64_vals, f64->n_double_data = 2;
  Onnx__TensorProto *b = tensor("b", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 1, d2);
  static int32_t b_vals[] = {1, 0};
  b->int32_data = b_vals, b->n_int32_data = 2;
  Onnx__TensorProto *s = tensor("s", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, 1, d2);
  static ProtobufCBinaryData s_vals[] = {{3, (uint8_t *)"abc"}, {0, (uint8_t *)""}};
  s->string_data = s_vals, s->n_string_data = 2;
  Onnx__TensorProto *raw = tensor("raw", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d3);
  static float raw_vals[] = {1.5f, -2.5f, 3.25f};
  raw->has_raw_data = 1, raw->raw_data = (ProtobufCBinaryData){sizeof raw_vals, (uint8_t *)raw_vals};
  Onnx__TensorProto *all[] = {f16, bf16, f8, i4, i64, u64, f64, b, s, raw};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb->graph.initializer[mb->graph.n_initializer++] = all[i];
  mb->graph.node[mb->graph.n_node++] = node("Identity", "raw", "y", 0);
  mb->graph.output[mb->graph.n_output++] = tensor_info("y", 1, "3");
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_graph_t *g = m->graph;
#define C(name) tcc_graph_find(g, name)->constant
    CHECK(tcc_tensor_get_float(C("f16"), 0) == 1.0 && tcc_tensor_get_float(C("f16"), 1) == -2.0);
    CHECK(tcc_tensor_get_float(C("bf16"), 0) == 1.5 && tcc_tensor_get_float(C("bf16"), 1) == 3.0);
    CHECK(tcc_tensor_get_float(C("f8"), 0) == 1.0 && isnan(tcc_tensor_get_float(C("f8"), 1)));
    CHECK(tcc_tensor_get_int(C("i4"), 0) == 7 && tcc_tensor_get_int(C("i4"), 1) == -1 && tcc_tensor_get_int(C("i4"), 2) == -8);
    CHECK(C("i4")->nbytes == 2);
    CHECK(tcc_tensor_get_int(C("i64"), 2) == (1LL << 40) && tcc_tensor_get_int(C("i64"), 0) == -5);
    CHECK(tcc_tensor_get_int(C("u64"), 1) == 4000000000LL);
    CHECK(tcc_tensor_get_float(C("f64"), 1) == -1e300);
    CHECK(tcc_tensor_get_int(C("b"), 0) == 1 && tcc_tensor_get_int(C("b"), 1) == 0);
    const tcc_bytes_t *strs = C("s")->data;
    CHECK(strs[0].size == 3 && memcmp(strs[0].data, "abc", 3) == 0 && strs[1].size == 0);
    CHECK(tcc_tensor_get_float(C("raw"), 2) == 3.25);
    CHECK_STR(type_of(g->outputs[0]), "f32[3]");
#undef C
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(constant_node_forms) {
  setup();
  model_t *mb = new_model(17);
  Onnx__AttributeProto *vf = attr_float("value_float", 2.5f);
  static int64_t ints[] = {4, -1};
  Onnx__AttributeProto *vi = attr_ints("value_ints", ints, 2);
  mb->graph.node[mb->graph.n_node++] = node("Constant", NULL, "cf", 1, vf);
  mb->graph.node[mb->graph.n_node++] = node("Constant", NULL, "ci", 1, vi);
  mb->graph.node[mb->graph.n_node++] = node("Add", "cf,cf", "y", 0);
  mb->graph.output[mb->graph.n_output++] = tensor_info("y", 1, "");
  mb->graph.output[mb->graph.n_output++] = tensor_info("ci", 7, "2");
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_value_t *cf = tcc_graph_find(m->graph, "cf"), *ci = tcc_graph_find(m->graph, "ci");
    CHECK(cf->constant && cf->constant->rank == 0 && tcc_tensor_get_float(cf->constant, 0) == 2.5);
    CHECK(ci->constant && tcc_tensor_get_int(ci->constant, 1) == -1);
    CHECK(m->graph->num_nodes == 1);
    CHECK_STR(type_of(m->graph->outputs[0]), "f32[]");
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(functions_are_inlined_with_attributes) {
  setup();
  model_t *mb = new_model(17);
  /* custom::AddLeaky(a, b) = LeakyRelu(Add(a, b), alpha = @slope), slope defaults to 0.5 */
  Onnx__FunctionProto *fn = alloc(sizeof *fn);
  onnx__function_proto__init(fn);
  fn->name = "AddLeaky";
  fn->domain = "custom";
  fn->input = names("a,b", &fn->n_input);
  fn->output = names("out", &fn->n_output);
  Onnx__AttributeProto *ref = attr_float("alpha", 0);
  ref->ref_attr_name = "slope";
  fn->node = alloc(2 * sizeof *fn->node);
  fn->node[fn->n_node++] = node("Add", "a,b", "sum", 0);
  fn->node[fn->n_node++] = node("LeakyRelu", "sum", "out", 1, ref);
  fn->attribute_proto = alloc(sizeof *fn->attribute_proto);
  fn->attribute_proto[fn->n_attribute_proto++] = attr_float("slope", 0.5f);
  fn->opset_import = mb->opsets;
  fn->n_opset_import = 1;
  Onnx__FunctionProto *fns[] = {fn};
  mb->model.functions = fns;
  mb->model.n_functions = 1;
  mb->graph.input[mb->graph.n_input++] = tensor_info("x", 1, "N,4");
  Onnx__NodeProto *call1 = node("AddLeaky", "x,x", "y1", 1, attr_float("slope", 0.25f));
  Onnx__NodeProto *call2 = node("AddLeaky", "y1,x", "y2", 0);
  call1->domain = call2->domain = "custom";
  mb->graph.node[mb->graph.n_node++] = call1;
  mb->graph.node[mb->graph.n_node++] = call2;
  mb->graph.output[mb->graph.n_output++] = tensor_info("y2", 1, "N,4");
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_graph_t *g = m->graph;
    CHECK(g->num_nodes == 4 && count_ops(g, TCC_OP_ADD) == 2 && count_ops(g, TCC_OP_LEAKY_RELU) == 2);
    CHECK(g->num_nodes == 4 && tcc_node_attr_float(g->nodes[1], "alpha", 0) == 0.25);
    CHECK(g->num_nodes == 4 && tcc_node_attr_float(g->nodes[3], "alpha", 0) == 0.5);
    CHECK(g->num_nodes == 4 && g->nodes[2]->inputs[0] == tcc_graph_find(g, "y1"));
    CHECK_STR(type_of(g->outputs[0]), "f32[N, 4]");
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(older_opsets_are_upgraded) {
  setup();
  model_t *mb = new_model(11);
  static int64_t axes[] = {1};
  mb->graph.input[mb->graph.n_input++] = tensor_info("x", 1, "2,3,4");
  mb->graph.node[mb->graph.n_node++] = node("ReduceSum", "x", "r", 2, attr_ints("axes", axes, 1), attr_int("keepdims", 0));
  mb->graph.node[mb->graph.n_node++] = node("Softmax", "x", "s", 1, attr_int("axis", 1));
  mb->graph.node[mb->graph.n_node++] = node("Unsqueeze", "r", "u", 1, attr_ints("axes", axes, 1));
  mb->graph.output[mb->graph.n_output++] = tensor_info("u", 1, "2,1,4");
  mb->graph.output[mb->graph.n_output++] = tensor_info("s", 1, "2,3,4");
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_graph_t *g = m->graph;
    const tcc_node_t *reduce = g->nodes[0];
    const int64_t *v;
    int64_t n;
    CHECK(reduce->op == TCC_OP_REDUCE_SUM && reduce->num_inputs == 2 && !tcc_node_attr(reduce, "axes"));
    CHECK(reduce->num_inputs == 2 && tcc_value_const_ints(reduce->inputs[1], &v, &n) && n == 1 && v[0] == 1);
    /* Softmax-11 coerces to 2-D: flatten -> softmax(axis = 1) -> reshape back */
    CHECK(count_ops(g, TCC_OP_FLATTEN) == 1 && count_ops(g, TCC_OP_SOFTMAX) == 1);
    CHECK_STR(type_of(tcc_graph_find(g, "s")), "f32[2, 3, 4]");
    CHECK_STR(type_of(tcc_graph_find(g, "u")), "f32[2, 1, 4]");
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(symbolic_and_unknown_dims) {
  setup();
  model_t *mb = new_model(17);
  mb->graph.input[mb->graph.n_input++] = tensor_info("x", 1, "batch,?,8");
  mb->graph.node[mb->graph.n_node++] = node("Relu", "x", "y", 0);
  mb->graph.output[mb->graph.n_output++] = tensor_info("y", 1, NULL);
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_value_t *x = m->graph->inputs[0];
    CHECK(x->type.rank == 3 && tcc_dim_is_symbol(x->type.dims[0]) && !tcc_dim_is_const(x->type.dims[1]));
    CHECK(x->type.rank == 3 && x->type.dims[1] != x->type.dims[0]);
    CHECK(tcc_type_equal(&x->type, &m->graph->outputs[0]->type));
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(shape_subgraphs_fold_into_symbolic_reshapes) {
  setup();
  model_t *mb = new_model(17);
  static const int64_t one[] = {1}, none[] = {0};
  Onnx__TensorProto *zero = tensor("zero", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, none);
  static int64_t zero_val[] = {0}, one_val[] = {1}, tail_val[] = {2, 4};
  zero->int64_data = zero_val, zero->n_int64_data = 1;
  Onnx__TensorProto *idx1 = tensor("one", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, none);
  idx1->int64_data = one_val, idx1->n_int64_data = 1;
  static const int64_t two[] = {2};
  Onnx__TensorProto *tail = tensor("tail", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, two);
  tail->int64_data = tail_val, tail->n_int64_data = 2;
  Onnx__TensorProto *axes = tensor("axes", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, one);
  axes->int64_data = zero_val, axes->n_int64_data = 1;
  mb->graph.initializer[mb->graph.n_initializer++] = zero;
  mb->graph.initializer[mb->graph.n_initializer++] = idx1;
  mb->graph.initializer[mb->graph.n_initializer++] = tail;
  mb->graph.initializer[mb->graph.n_initializer++] = axes;
  mb->graph.input[mb->graph.n_input++] = tensor_info("x", 1, "batch,seq,8");
  mb->graph.node[mb->graph.n_node++] = node("Shape", "x", "shape", 0);
  mb->graph.node[mb->graph.n_node++] = node("Gather", "shape,zero", "b", 1, attr_int("axis", 0));
  mb->graph.node[mb->graph.n_node++] = node("Gather", "shape,one", "s", 1, attr_int("axis", 0));
  mb->graph.node[mb->graph.n_node++] = node("Unsqueeze", "b,axes", "b1", 0);
  mb->graph.node[mb->graph.n_node++] = node("Unsqueeze", "s,axes", "s1", 0);
  mb->graph.node[mb->graph.n_node++] = node("Concat", "b1,s1,tail", "target", 1, attr_int("axis", 0));
  mb->graph.node[mb->graph.n_node++] = node("Reshape", "x,target", "y", 0);
  mb->graph.output[mb->graph.n_output++] = tensor_info("y", 1, NULL);
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_graph_t *g = m->graph;
    CHECK_STR(type_of(g->outputs[0]), "f32[batch, seq, 2, 4]");
    CHECK(g->num_nodes == 1 && g->nodes[0]->op == TCC_OP_RESHAPE);
    const tcc_attr_t *shape = g->num_nodes ? tcc_node_attr(g->nodes[0], "shape") : NULL;
    CHECK(shape && shape->kind == TCC_ATTR_DIMS && shape->count == 4 && tcc_dim_is_symbol(shape->dims[1]));
  }
  tcc_module_destroy(m);
  teardown();
}

TEST(subgraphs_read_outer_values) {
  setup();
  model_t *mb = new_model(17);
  Onnx__GraphProto *then_g = alloc(sizeof *then_g), *else_g = alloc(sizeof *else_g);
  onnx__graph_proto__init(then_g);
  onnx__graph_proto__init(else_g);
  then_g->name = "then";
  else_g->name = "else";
  then_g->node = alloc(sizeof(void *));
  else_g->node = alloc(sizeof(void *));
  then_g->node[then_g->n_node++] = node("Relu", "x", "t", 0);
  else_g->node[else_g->n_node++] = node("Neg", "x", "e", 0);
  then_g->output = alloc(sizeof(void *));
  else_g->output = alloc(sizeof(void *));
  then_g->output[then_g->n_output++] = tensor_info("t", 1, NULL);
  else_g->output[else_g->n_output++] = tensor_info("e", 1, NULL);
  Onnx__AttributeProto *a_then = alloc(sizeof *a_then), *a_else = alloc(sizeof *a_else);
  onnx__attribute_proto__init(a_then);
  onnx__attribute_proto__init(a_else);
  a_then->name = "then_branch", a_then->g = then_g, a_then->has_type = 1, a_then->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  a_else->name = "else_branch", a_else->g = else_g, a_else->has_type = 1, a_else->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  mb->graph.input[mb->graph.n_input++] = tensor_info("c", 9, "");
  mb->graph.input[mb->graph.n_input++] = tensor_info("x", 1, "n,3");
  mb->graph.node[mb->graph.n_node++] = node("If", "c", "y", 2, a_then, a_else);
  mb->graph.output[mb->graph.n_output++] = tensor_info("y", 1, NULL);
  tcc_module_t *m = NULL;
  CHECK_OK(import(mb, &m));
  if (m) {
    const tcc_node_t *n = m->graph->nodes[0];
    const tcc_attr_t *t = tcc_node_attr(n, "then_branch");
    CHECK(n->op == TCC_OP_IF && t && t->kind == TCC_ATTR_GRAPH && t->g->parent == m->graph);
    CHECK(t && t->g->num_nodes == 1 && t->g->nodes[0]->inputs[0] == tcc_graph_find(m->graph, "x"));
    CHECK_STR(type_of(m->graph->outputs[0]), "f32[n, 3]");
  }
  tcc_module_destroy(m);
  teardown();
}

RUN_TESTS(T(typed_fields_of_every_encoding), T(constant_node_forms), T(functions_are_inlined_with_attributes),
          T(older_opsets_are_upgraded), T(symbolic_and_unknown_dims), T(shape_subgraphs_fold_into_symbolic_reshapes),
          T(subgraphs_read_outer_values))
