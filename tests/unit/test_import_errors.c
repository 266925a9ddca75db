/* Must-fail inputs of the ONNX importer: each bad model is built here (protobuf-c structs or raw bytes),
 * written to a temporary directory, imported, and must give the expected status code and a message
 * naming the problem. Also: external data that must import (including a sparse 2.4 GB weights file that
 * must not be held in memory), and allocation failure injected at every step of a small import. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx.pb-c.h"
#include "frontend/onnx_import.h"
#include "tests/test.h"

/* ---- temporary directories ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static char *make_temp_dir(void) {
  static char dir[200];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/tcc_import_errors_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    exit(1);
  }
  return dir;
}

static void remove_temp_dir(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static const char *path_in(const char *dir, const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static void write_path(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

static const char *write_file(const char *dir, const char *name, const void *data, size_t size) {
  const char *path = path_in(dir, name);
  write_path(path, data, size);
  return path;
}

/* ---- checking a failed import ---- */

/* Runs the import `st` first, then checks it and the module pointer it set. */
#define EXPECT_ERROR(st, m, code, substring)                   \
  do {                                                         \
    tcc_status_t expect_st_ = (st);                            \
    expect_error(expect_st_, (m), (code), (substring), __LINE__); \
  } while (0)

static void expect_error(tcc_status_t st, tcc_module_t *m, tcc_status_code_t code, const char *substring, int line) {
  if (!st) {
    fprintf(stderr, "%s:%d: import succeeded; expected %s containing \"%s\"\n", __FILE__, line,
            tcc_status_code_name(code), substring);
    test_current_failed_ = 1;
    tcc_module_destroy(m);
    return;
  }
  if (m) {
    fprintf(stderr, "%s:%d: a failed import left a module\n", __FILE__, line);
    test_current_failed_ = 1;
  }
  const char *msg = tcc_status_message(st);
  if (tcc_status_code(st) != code || !strstr(msg, substring)) {
    fprintf(stderr, "%s:%d: got %s \"%s\"; expected %s containing \"%s\"\n", __FILE__, line,
            tcc_status_code_name(tcc_status_code(st)), msg, tcc_status_code_name(code), substring);
    test_current_failed_ = 1;
  }
  tcc_status_free(st);
}

static tcc_status_t import_path(const char *path, tcc_module_t **m) {
  tcc_onnx_import_options_t options = {0};
  return tcc_onnx_import_file(path, &options, tcc_allocator_system(), m);
}

/* ---- building models with the protobuf-c structs (all storage in a bump pool, reset per model) ---- */

static _Alignas(max_align_t) char pool[1 << 16];
static size_t pool_used;

static void *pool_alloc(size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (pool_used + size > sizeof pool) {
    fprintf(stderr, "test model pool exhausted\n");
    exit(1);
  }
  void *p = pool + pool_used;
  pool_used += size;
  return memset(p, 0, size);
}

#define POOL_NEW(type, init) ((type *)memcpy(pool_alloc(sizeof(type)), &(type)init, sizeof(type)))

enum { MAX_ITEMS = 16 };

typedef struct {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto *opsets[4];
  Onnx__NodeProto *nodes[MAX_ITEMS];
  Onnx__TensorProto *inits[MAX_ITEMS];
  Onnx__ValueInfoProto *inputs[MAX_ITEMS], *outputs[MAX_ITEMS];
  Onnx__FunctionProto *functions[4];
} builder_t;

static void mb_init(builder_t *b, int64_t opset) {
  pool_used = 0;
  memset(b, 0, sizeof *b);
  b->model = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
  b->graph = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
  b->model.has_ir_version = 1;
  b->model.ir_version = 8;
  b->model.producer_name = "test_import_errors";
  b->model.graph = &b->graph;
  b->model.opset_import = b->opsets;
  b->graph.name = "g";
  b->graph.node = b->nodes;
  b->graph.initializer = b->inits;
  b->graph.input = b->inputs;
  b->graph.output = b->outputs;
  b->model.functions = b->functions;
  Onnx__OperatorSetIdProto *os = POOL_NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
  os->domain = "";
  os->has_version = 1;
  os->version = opset;
  b->opsets[b->model.n_opset_import++] = os;
}

static size_t count_names(const char *const *names) {
  size_t n = 0;
  while (names && names[n]) n++;
  return n;
}

/* A NULL-terminated name list; new_node copies it into the pool (compound literals die with their block). */
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static char **pool_names(const char *const *names) {
  size_t n = count_names(names);
  char **copy = pool_alloc((n + 1) * sizeof *copy);
  for (size_t i = 0; i < n; i++) copy[i] = (char *)names[i];
  return copy;
}

static Onnx__NodeProto *new_node(const char *op_type, const char *name, const char *const *inputs,
                                 const char *const *outputs) {
  Onnx__NodeProto *n = POOL_NEW(Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
  n->op_type = (char *)op_type;
  n->name = (char *)name;
  n->n_input = count_names(inputs);
  n->input = pool_names(inputs);
  n->n_output = count_names(outputs);
  n->output = pool_names(outputs);
  return n;
}

static Onnx__NodeProto *mb_node(builder_t *b, const char *op_type, const char *name, const char *const *inputs,
                                const char *const *outputs) {
  Onnx__NodeProto *n = new_node(op_type, name, inputs, outputs);
  b->nodes[b->graph.n_node++] = n;
  return n;
}

static Onnx__ValueInfoProto *value_info(const char *name, int elem_type, int rank, const int64_t *dims) {
  Onnx__ValueInfoProto *vi = POOL_NEW(Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
  vi->name = (char *)name;
  if (elem_type) {
    Onnx__TypeProto *tp = POOL_NEW(Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = POOL_NEW(Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *shape = POOL_NEW(Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    tt->shape = shape;
    shape->n_dim = (size_t)rank;
    shape->dim = pool_alloc((size_t)(rank + 1) * sizeof *shape->dim);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension *d =
          POOL_NEW(Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
      if (dims[i] < 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = "batch";
      } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      }
      shape->dim[i] = d;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
  }
  return vi;
}

/* A float input; dims < 0 are the symbol "batch". */
static void mb_input(builder_t *b, const char *name, int rank, const int64_t *dims) {
  b->inputs[b->graph.n_input++] = value_info(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, dims);
}

static void mb_output(builder_t *b, const char *name) { b->outputs[b->graph.n_output++] = value_info(name, 0, 0, NULL); }

/* A float initializer with the given shape and no data yet. */
static Onnx__TensorProto *mb_tensor(builder_t *b, const char *name, int rank, const int64_t *dims) {
  Onnx__TensorProto *t = POOL_NEW(Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->n_dims = (size_t)rank;
  t->dims = (int64_t *)dims;
  b->inits[b->graph.n_initializer++] = t;
  return t;
}

static void set_external(Onnx__TensorProto *t, const char *location, const char *offset, const char *length) {
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  t->external_data = pool_alloc(3 * sizeof *t->external_data);
  const char *keys[3] = {"location", "offset", "length"}, *values[3] = {location, offset, length};
  for (int i = 0; i < 3; i++) {
    if (!values[i]) continue;
    Onnx__StringStringEntryProto *e = POOL_NEW(Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
    e->key = (char *)keys[i];
    e->value = (char *)values[i];
    t->external_data[t->n_external_data++] = e;
  }
}

/* The serialized model (malloc'd; caller frees). */
static uint8_t *mb_pack(builder_t *b, size_t *size) {
  *size = onnx__model_proto__get_packed_size(&b->model);
  uint8_t *bytes = malloc(*size ? *size : 1);
  if (!bytes) exit(1);
  onnx__model_proto__pack(&b->model, bytes);
  return bytes;
}

/* Packs the model, writes it as dir/model.onnx and imports it. */
static tcc_status_t import_built(builder_t *b, const char *dir, tcc_module_t **m) {
  size_t size;
  uint8_t *bytes = mb_pack(b, &size);
  const char *path = write_file(dir, "model.onnx", bytes, size);
  free(bytes);
  return import_path(path, m);
}

/* A valid model: y = Relu(x + W), W f32[4] with raw data. */
static void small_model(builder_t *b) {
  static const int64_t dims[] = {4};
  static const float w[4] = {1, -2, 3, -4};
  mb_init(b, 17);
  mb_input(b, "x", 1, dims);
  Onnx__TensorProto *t = mb_tensor(b, "W", 1, dims);
  t->has_raw_data = 1;
  t->raw_data = (ProtobufCBinaryData){sizeof w, (uint8_t *)w};
  mb_node(b, "Add", "add", NAMES("x", "W"), NAMES("s"));
  mb_node(b, "Relu", "relu", NAMES("s"), NAMES("y"));
  mb_output(b, "y");
}

/* ---- malformed files ---- */

TEST(empty_file) {
  char *dir = make_temp_dir();
  tcc_module_t *m;
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", "", 0), &m), m, TCC_INVALID_MODEL, "is empty");
  remove_temp_dir(dir);
}

TEST(truncated_file) {
  char *dir = make_temp_dir();
  builder_t b;
  small_model(&b);
  size_t size;
  uint8_t *bytes = mb_pack(&b, &size);
  tcc_module_t *m;
  CHECK_OK(import_path(write_file(dir, "model.onnx", bytes, size), &m)); /* the whole model is fine */
  tcc_module_destroy(m);
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", bytes, size / 2), &m), m, TCC_INVALID_MODEL,
               "runs past the end of its message");
  free(bytes);
  remove_temp_dir(dir);
}

static uint64_t rng_state;
static uint32_t rng(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33);
}

TEST(random_bytes) {
  char *dir = make_temp_dir();
  uint8_t bytes[4096];
  rng_state = 42;
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)rng();
  tcc_module_t *m;
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", bytes, sizeof bytes), &m), m, TCC_INVALID_MODEL,
               "malformed protobuf");
  /* Many more, from memory: every one must fail cleanly as an invalid model. */
  for (int round = 0; round < 2000; round++) {
    size_t size = 1 + rng() % 512;
    for (size_t i = 0; i < size; i++) bytes[i] = (uint8_t)rng();
    tcc_status_t st = tcc_onnx_import_memory(bytes, size, NULL, NULL, tcc_allocator_system(), &m);
    if (!st || tcc_status_code(st) != TCC_INVALID_MODEL) {
      fprintf(stderr, "random model %d (%zu bytes): %s\n", round, size, st ? tcc_status_message(st) : "imported");
      test_current_failed_ = 1;
    }
    tcc_status_free(st);
    tcc_module_destroy(m);
  }
  remove_temp_dir(dir);
}

TEST(not_a_model_proto) {
  char *dir = make_temp_dir();
  tcc_module_t *m;
  /* A TensorProto alone: dims (field 1, varint) then data_type (field 2, varint), where ModelProto has
   * producer_name (a string). */
  static const int64_t dims[] = {2, 2};
  static const float values[] = {1, 2, 3, 4};
  Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
  t.n_dims = 2;
  t.dims = (int64_t *)dims;
  t.has_data_type = 1;
  t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t.n_float_data = 4;
  t.float_data = (float *)values;
  t.name = "t";
  uint8_t bytes[256];
  size_t size = onnx__tensor_proto__pack(&t, bytes);
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", bytes, size), &m), m, TCC_INVALID_MODEL,
               "does not parse as a ModelProto");
  /* ModelProto.graph (field 7) sent as a varint instead of a sub-message. */
  static const uint8_t wrong_wire[] = {0x08, 0x08, 0x38, 0x01};
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", wrong_wire, sizeof wrong_wire), &m), m, TCC_INVALID_MODEL,
               "sub-message is not length-delimited");
  /* A well-formed protobuf with no graph: ir_version only. */
  static const uint8_t no_graph[] = {0x08, 0x08};
  EXPECT_ERROR(import_path(write_file(dir, "model.onnx", no_graph, sizeof no_graph), &m), m, TCC_INVALID_MODEL,
               "has no graph");
  remove_temp_dir(dir);
}

/* ---- inconsistent graphs ---- */

TEST(graph_with_cycle) {
  char *dir = make_temp_dir();
  builder_t b;
  mb_init(&b, 17);
  mb_node(&b, "Relu", "first", NAMES("b"), NAMES("a"));
  mb_node(&b, "Relu", "second", NAMES("a"), NAMES("b"));
  mb_output(&b, "a");
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "the graph has a cycle");
  remove_temp_dir(dir);
}

TEST(dangling_value) {
  char *dir = make_temp_dir();
  builder_t b;
  static const int64_t dims[] = {4};
  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  mb_node(&b, "Add", "adder", NAMES("x", "nobody_makes_this"), NAMES("y"));
  mb_output(&b, "y");
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL,
               "node 'adder' (Add) reads 'nobody_makes_this', which no node produces");
  /* A graph output nothing produces. */
  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  mb_output(&b, "ghost");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "graph output 'ghost' is not produced");
  remove_temp_dir(dir);
}

TEST(duplicate_names) {
  char *dir = make_temp_dir();
  builder_t b;
  static const int64_t dims[] = {4};
  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  mb_node(&b, "Relu", "one", NAMES("x"), NAMES("y"));
  mb_node(&b, "Neg", "two", NAMES("x"), NAMES("y"));
  mb_output(&b, "y");
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "value 'y' is produced by both node 'one' and node 'two'");

  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  mb_node(&b, "Relu", "one", NAMES("x"), NAMES("y"));
  mb_output(&b, "y");
  mb_output(&b, "y");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "graph output 'y' is listed twice");

  mb_init(&b, 17); /* a node overwriting a graph input */
  mb_input(&b, "x", 1, dims);
  mb_node(&b, "Relu", "one", NAMES("x"), NAMES("x"));
  mb_output(&b, "x");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "node 'one' produces 'x', which is already a graph input");
  remove_temp_dir(dir);
}

TEST(initializer_size_mismatch) {
  char *dir = make_temp_dir();
  builder_t b;
  static const int64_t dims[] = {2, 3};
  static const float data[6] = {0};
  tcc_module_t *m;

  mb_init(&b, 17);
  Onnx__TensorProto *t = mb_tensor(&b, "W", 2, dims);
  t->has_raw_data = 1;
  t->raw_data = (ProtobufCBinaryData){20, (uint8_t *)data}; /* needs 24 */
  mb_node(&b, "Relu", "r", NAMES("W"), NAMES("y"));
  mb_output(&b, "y");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'W': data has 20 bytes but f32[6 elements] needs 24");

  mb_init(&b, 17);
  t = mb_tensor(&b, "W", 2, dims);
  t->n_float_data = 5;
  t->float_data = (float *)data;
  mb_node(&b, "Relu", "r", NAMES("W"), NAMES("y"));
  mb_output(&b, "y");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'W' has 5 values for 6 elements of f32");

  mb_init(&b, 17); /* dims whose product overflows int64 */
  static const int64_t huge[] = {INT64_MAX / 2, 4};
  t = mb_tensor(&b, "W", 2, huge);
  mb_output(&b, "W");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'W' has too many elements");
  remove_temp_dir(dir);
}

/* Found by fuzzing: a Constant's value_* attribute whose type does not match its name was read from the
 * wrong (NULL) field. */
TEST(constant_attribute_type_mismatch) {
  char *dir = make_temp_dir();
  static const int64_t ints[] = {1, 2, 3};
  static const float floats[] = {1, 2, 3};
  builder_t b;
  tcc_module_t *m;
  for (int form = 0; form < 3; form++) {
    mb_init(&b, 17);
    Onnx__NodeProto *c = mb_node(&b, "Constant", "const", NULL, NAMES("k"));
    Onnx__AttributeProto *a = POOL_NEW(Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    a->has_type = 1;
    if (form == 0) { /* value_ints holding floats */
      a->name = "value_ints";
      a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
      a->n_floats = 3;
      a->floats = (float *)floats;
    } else { /* value_floats / value_strings holding ints */
      a->name = form == 1 ? "value_floats" : "value_strings";
      a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
      a->n_ints = 3;
      a->ints = (int64_t *)ints;
    }
    c->n_attribute = 1;
    c->attribute = pool_alloc(sizeof *c->attribute);
    c->attribute[0] = a;
    mb_output(&b, "k");
    static const char *const expected[] = {"attribute 'value_ints' has type floats, not ints",
                                           "attribute 'value_floats' has type ints, not floats",
                                           "attribute 'value_strings' has type ints, not strings"};
    EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, expected[form]);
  }
  remove_temp_dir(dir);
}

/* The importer's internal raw-data reference field (onnx_wire.h) must not be settable by the model: a
 * tensor carrying it must not alias another tensor's bytes. */
TEST(raw_reference_field_is_not_trusted) {
  char *dir = make_temp_dir();
  static const int64_t dims[] = {4};
  static const float w[4] = {1, 2, 3, 4};
  static uint8_t index0[] = {0};
  builder_t b;
  mb_init(&b, 17);
  Onnx__TensorProto *a = mb_tensor(&b, "A", 1, dims);
  a->has_raw_data = 1;
  a->raw_data = (ProtobufCBinaryData){sizeof w, (uint8_t *)w};
  Onnx__TensorProto *spoof = mb_tensor(&b, "B", 1, dims);
  static ProtobufCMessageUnknownField field = {1000, PROTOBUF_C_WIRE_TYPE_VARINT, 1, index0};
  spoof->base.n_unknown_fields = 1;
  spoof->base.unknown_fields = &field;
  mb_node(&b, "Add", "add", NAMES("A", "B"), NAMES("y"));
  mb_output(&b, "y");
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'B' (f32, 4 elements) has no data");
  remove_temp_dir(dir);
}

/* ---- unsupported input ---- */

TEST(unsupported_opset) {
  char *dir = make_temp_dir();
  builder_t b;
  small_model(&b);
  b.opsets[0]->version = 99;
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_UNSUPPORTED, "default-domain opset 99 is newer than tcc supports");
  remove_temp_dir(dir);
}

TEST(unsupported_op) {
  char *dir = make_temp_dir();
  builder_t b;
  static const int64_t dims[] = {4};
  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  mb_node(&b, "NoSuchOp", "mystery_node", NAMES("x"), NAMES("y"));
  mb_output(&b, "y");
  tcc_module_t *m;
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_UNSUPPORTED, "node 'mystery_node' (NoSuchOp, opset 17)");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_UNSUPPORTED, "operator NoSuchOp is not supported");
  /* keep_unsupported imports it as an unsupported node instead. */
  size_t size;
  uint8_t *bytes = mb_pack(&b, &size);
  tcc_onnx_import_options_t keep = {.keep_unsupported = true};
  CHECK_OK(tcc_onnx_import_memory(bytes, size, NULL, &keep, tcc_allocator_system(), &m));
  if (m) {
    CHECK(m->graph->num_nodes == 1 && m->graph->nodes[0]->op == TCC_OP_UNSUPPORTED);
    tcc_module_destroy(m);
  }
  free(bytes);
  remove_temp_dir(dir);
}

/* ---- external data ---- */

/* y = Relu(W) with W f32[n] stored externally. */
static void external_model(builder_t *b, const int64_t *dims, const char *location, const char *offset,
                           const char *length) {
  mb_init(b, 17);
  set_external(mb_tensor(b, "W", 1, dims), location, offset, length);
  mb_node(b, "Relu", "r", NAMES("W"), NAMES("y"));
  mb_output(b, "y");
}

TEST(external_data_escaping) {
  char *dir = make_temp_dir();
  static const int64_t dims[] = {4};
  static const float w[4] = {1, 2, 3, 4};
  builder_t b;
  tcc_module_t *m;
  char outside[256];
  snprintf(outside, sizeof outside, "%s_outside.bin", dir);
  write_path(outside, w, sizeof w); /* a real file beside the directory */

  external_model(&b, dims, outside, NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_PERMISSION, "is absolute");

  external_model(&b, dims, "../x.bin", NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_PERMISSION, "external data location '../x.bin' contains '..'");

  external_model(&b, dims, "sub/../../x.bin", NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_PERMISSION, "contains '..'");

  CHECK(symlink(outside, path_in(dir, "link.bin")) == 0);
  external_model(&b, dims, "link.bin", NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_PERMISSION, "outside the model's directory");

  /* From memory without a directory, external data is refused. */
  external_model(&b, dims, "w.bin", NULL, NULL);
  size_t size;
  uint8_t *bytes = mb_pack(&b, &size);
  EXPECT_ERROR(tcc_onnx_import_memory(bytes, size, NULL, NULL, tcc_allocator_system(), &m), m, TCC_PERMISSION,
               "needs the model's directory");
  free(bytes);
  remove(outside);
  remove_temp_dir(dir);
}

TEST(external_data_missing_or_short) {
  char *dir = make_temp_dir();
  static const int64_t dims[] = {4};
  static const float w[4] = {1, 2, 3, 4};
  builder_t b;
  tcc_module_t *m;
  external_model(&b, dims, "missing.bin", NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_NOT_FOUND, "missing.bin': No such file");

  write_file(dir, "w.bin", w, sizeof w);
  external_model(&b, dims, "w.bin", "17", NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "external data offset 17 is beyond the end of 'w.bin'");

  external_model(&b, dims, "w.bin", "4", "16");
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "external data range [4, 20) runs past the end of 'w.bin'");

  external_model(&b, dims, "w.bin", "4", NULL); /* to the end: 12 bytes for 16 */
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'W': data has 12 bytes");

  external_model(&b, dims, "w.bin", "-1", NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "external data offset '-1' is not a non-negative integer");

  CHECK(mkfifo(path_in(dir, "pipe.bin"), 0644) == 0); /* opening it must not block */
  external_model(&b, dims, "pipe.bin", NULL, NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "pipe.bin' is not a regular file");

  external_model(&b, dims, NULL, "0", NULL);
  EXPECT_ERROR(import_built(&b, dir, &m), m, TCC_INVALID_MODEL, "tensor 'W' is stored externally but has no location");
  remove_temp_dir(dir);
}

TEST(external_data_imports) {
  char *dir = make_temp_dir();
  static const int64_t dims[] = {4};
  float file[12];
  for (int i = 0; i < 12; i++) file[i] = (float)i * 0.5f - 1.0f;
  write_file(dir, "weights.bin", file, sizeof file);
  builder_t b;
  external_model(&b, dims, "weights.bin", "16", "16");
  tcc_module_t *m;
  CHECK_OK(import_built(&b, dir, &m));
  if (!m) goto done;
  tcc_value_t *w = tcc_graph_find(m->graph, "W");
  CHECK(w && w->constant);
  if (w && w->constant) {
    const tcc_tensor_t *t = w->constant;
    CHECK(t->dtype == TCC_DTYPE_F32 && t->numel == 4 && t->nbytes == 16);
    CHECK(t->data && memcmp(t->data, file + 4, 16) == 0);
    for (int i = 0; i < 4; i++) CHECK(tcc_tensor_get_float(t, i) == file[4 + i]);
  }
  tcc_module_destroy(m);
done:
  remove_temp_dir(dir);
}

/* Peak resident set (VmHWM) in bytes, or -1. */
static long long peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static void reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5" resets VmHWM to the current RSS (Linux >= 4.0) */
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

/* A model whose weights exceed 2 GB imports without holding them twice (nor once: the file is mapped
 * and only the pages read become resident). The weights file is sparse, so the test costs no disk. */
TEST(weights_over_2gb_are_mapped) {
  enum { N = 600000000 };
  static const int64_t dims[] = {N};
  static const int64_t probes[] = {0, 123456789, N - 1};
  static const float values[] = {1.5f, -2.25f, 3.0f};
  char *dir = make_temp_dir();
  const char *bin = path_in(dir, "weights.bin");
  int fd = open(bin, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  if (fd < 0) goto done;
  bool written = ftruncate(fd, (off_t)N * 4) == 0;
  for (int i = 0; i < 3; i++) written = written && pwrite(fd, &values[i], 4, (off_t)probes[i] * 4) == 4;
  close(fd);
  CHECK(written);
  if (!written) goto done;

  builder_t b;
  mb_init(&b, 17);
  mb_input(&b, "x", 1, dims);
  set_external(mb_tensor(&b, "W", 1, dims), "weights.bin", "0", "2400000000");
  mb_node(&b, "Add", "add", NAMES("x", "W"), NAMES("y"));
  mb_output(&b, "y");

  reset_peak_rss();
  long long before = peak_rss();
  tcc_module_t *m;
  CHECK_OK(import_built(&b, dir, &m));
  if (!m) goto done;
  tcc_value_t *w = tcc_graph_find(m->graph, "W");
  CHECK(w && w->constant);
  if (w && w->constant) {
    CHECK(w->constant->numel == N);
    CHECK(w->constant->nbytes == (size_t)N * 4);
    for (int i = 0; i < 3; i++) CHECK(tcc_tensor_get_float(w->constant, probes[i]) == values[i]);
    CHECK(tcc_tensor_get_float(w->constant, 1000) == 0.0); /* a hole reads as zero */
  }
  long long after = peak_rss();
  if (before >= 0 && after >= 0) {
    long long growth = after - before;
    if (growth >= 256ll << 20) fprintf(stderr, "peak RSS grew by %lld MB importing 2.4 GB of weights\n", growth >> 20);
    CHECK(growth < 256ll << 20);
  }
  tcc_module_destroy(m);
done:
  remove_temp_dir(dir);
}

/* ---- allocation failure ---- */

/* Inputs, initializers in raw and typed form, a Constant, a model-local function, shape arithmetic; with
 * `file`, also an external initializer (w.bin, f32[4]) and an unsupported node (for keep_unsupported). */
static uint8_t *rich_model(bool file, size_t *size) {
  static const int64_t x_dims[] = {-1, 4}, w_dims[] = {4, 3}, b_dims[] = {3};
  static const float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, bias[3] = {0.5f, -0.5f, 0};
  static builder_t b;
  mb_init(&b, 17);
  Onnx__OperatorSetIdProto *local = POOL_NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
  local->domain = "local";
  local->has_version = 1;
  local->version = 1;
  b.opsets[b.model.n_opset_import++] = local;
  mb_input(&b, "x", 2, x_dims);
  Onnx__TensorProto *t = mb_tensor(&b, "W", 2, w_dims);
  t->has_raw_data = 1;
  t->raw_data = (ProtobufCBinaryData){sizeof w, (uint8_t *)w};
  t = mb_tensor(&b, "B", 1, b_dims);
  t->n_float_data = 3;
  t->float_data = (float *)bias;
  mb_node(&b, "Gemm", "gemm", NAMES("x", "W", "B"), NAMES("h"));
  mb_node(&b, "MyRelu", "call", NAMES("h"), NAMES("r"))->domain = "local";
  mb_node(&b, "Shape", "shape", NAMES("r"), NAMES("s"));
  mb_node(&b, "Reshape", "reshape", NAMES("r", "s"), NAMES("y"));
  Onnx__NodeProto *c = mb_node(&b, "Constant", "const", NULL, NAMES("k"));
  Onnx__AttributeProto *a = POOL_NEW(Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
  static const int64_t ints[] = {2, 3};
  a->name = "value_ints";
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = 2;
  a->ints = (int64_t *)ints;
  c->n_attribute = 1;
  c->attribute = pool_alloc(sizeof *c->attribute);
  c->attribute[0] = a;
  mb_output(&b, "y");
  mb_output(&b, "k");
  if (file) {
    static const int64_t e_dims[] = {4};
    set_external(mb_tensor(&b, "E", 1, e_dims), "w.bin", NULL, NULL);
    mb_node(&b, "NoSuchOp", "mystery", NAMES("E"), NAMES("u"));
    mb_output(&b, "u");
  }

  Onnx__FunctionProto *fn = POOL_NEW(Onnx__FunctionProto, ONNX__FUNCTION_PROTO__INIT);
  fn->name = "MyRelu";
  fn->domain = "local";
  fn->n_input = 1;
  fn->input = (char **)NAMES("a");
  fn->n_output = 1;
  fn->output = (char **)NAMES("b");
  fn->n_node = 1;
  fn->node = pool_alloc(sizeof *fn->node);
  fn->node[0] = new_node("Relu", "inner", NAMES("a"), NAMES("b"));
  fn->n_opset_import = 1;
  fn->opset_import = b.opsets;
  b.functions[b.model.n_functions++] = fn;
  return mb_pack(&b, size);
}

/* Every budget from 0 up to the first that succeeds must give a module or an out-of-memory status, with
 * nothing leaked (ASan). Mode 0: from memory; mode 1: from a file, with external data and keep_unsupported. */
TEST(allocation_failure) {
  char *dir = make_temp_dir();
  size_t size, file_size;
  uint8_t *bytes = rich_model(false, &size), *file_bytes = rich_model(true, &file_size);
  char path[512];
  snprintf(path, sizeof path, "%s", write_file(dir, "model.onnx", file_bytes, file_size));
  free(file_bytes);
  static const float w[4] = {1, 2, 3, 4};
  write_file(dir, "w.bin", w, sizeof w);
  tcc_onnx_import_options_t keep = {.keep_unsupported = true};
  tcc_module_t *m;
  CHECK_OK(tcc_onnx_import_memory(bytes, size, NULL, NULL, tcc_allocator_system(), &m));
  if (m) {
    CHECK(m->graph->num_outputs == 2);
    tcc_module_destroy(m);
  }
  CHECK_OK(tcc_onnx_import_file(path, &keep, tcc_allocator_system(), &m));
  if (m) {
    CHECK(m->graph->num_outputs == 3);
    tcc_module_destroy(m);
  }
  for (int mode = 0; mode < 2; mode++) {
    long budget_needed = -1;
    for (long n = 0; n < 100000 && budget_needed < 0; n++) {
      long budget = n;
      tcc_allocator_t failing = tcc_allocator_failing(&budget);
      tcc_status_t st = mode == 0 ? tcc_onnx_import_memory(bytes, size, NULL, NULL, failing, &m)
                                  : tcc_onnx_import_file(path, &keep, failing, &m);
      if (!st) {
        CHECK(m != NULL);
        tcc_module_destroy(m);
        budget_needed = n;
      } else {
        CHECK(m == NULL);
        if (tcc_status_code(st) != TCC_OUT_OF_MEMORY) {
          fprintf(stderr, "mode %d, budget %ld: expected out of memory, got %s\n", mode, n, tcc_status_message(st));
          test_current_failed_ = 1;
          n = 100000; /* stop this mode */
        }
        tcc_status_free(st);
      }
    }
    CHECK(budget_needed > 0); /* some budget succeeds, and a budget of 0 does not */
  }
  free(bytes);
  remove_temp_dir(dir);
}

RUN_TESTS(T(empty_file), T(truncated_file), T(random_bytes), T(not_a_model_proto), T(graph_with_cycle),
          T(dangling_value), T(duplicate_names), T(initializer_size_mismatch), T(constant_attribute_type_mismatch),
          T(raw_reference_field_is_not_trusted), T(unsupported_opset), T(unsupported_op), T(external_data_escaping), T(external_data_missing_or_short),
          T(external_data_imports), T(weights_over_2gb_are_mapped), T(allocation_failure))
