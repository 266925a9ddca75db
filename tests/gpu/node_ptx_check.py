#!/usr/bin/env python3
"""Runs the ONNX node tests prepared by tests/gpu/prepare_node_ptx.sh on a GPU and compares each kernel's
outputs with the test's expected outputs (floats: |got - want| <= 1e-4 + 1e-3 |want|, NaN where NaN is
expected; integers and bool exactly).

    python3 tests/gpu/node_ptx_check.py DIR [--verbose]

Each test's PTX is loaded with CuPy (cupy.RawModule, the driver's PTX JIT); each kernel entry SYM_gpu(p0, ...,
ctx, err) (a node's kernel may run in parts, launched in order) gets its inputs (the test's input .pb files, or the model's initializers) and its outputs (filled
with all-ones bytes first, NaN for floats) as device buffers, a zeroed context and an error word, launched as
the compile output says (132 blocks where it says "as many as fit"). A non-zero error word, a launch error or a mismatch fails the test. Exit status 1 when any
test fails."""
import glob
import os
import re
import sys

import cupy as cp
import numpy as np
import onnx
from onnx import numpy_helper

SUPPORTED = {np.dtype(t) for t in (np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
                                   np.uint8, np.uint16, np.uint32, np.uint64, np.bool_)}


def read_plan(path):
    """The kernel lines of a plan: [(entry, (threads, blocks, shared bytes))], inputs, outputs. A node
    whose kernel runs in parts has one line per part, launched in order with the same parameters."""
    launches, ins, outs = [], None, None
    for line in open(path):
        line = line.strip()
        if line.startswith("kernel ") and ": params" in line:
            launch = re.search(r"(\d+) threads x (\d+) blocks.*?, (\d+) bytes shared", line)
            launches.append((line.split()[1], [int(x) for x in launch.groups()]))
            ins, outs = line.split(": params", 1)[1].split("->")
    if not launches:
        raise ValueError("no kernel line in " + path)
    return launches, ins.split(), outs.split()


def load_pbs(pattern):
    return [numpy_helper.to_array(onnx.load_tensor(p)) for p in sorted(glob.glob(pattern))]


def check(test_dir):
    launches, in_names, out_names = read_plan(os.path.join(test_dir, "plan.txt"))
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    data = dict(zip(graph_inputs, load_pbs(os.path.join(test_dir, "test_data_set_0", "input_*.pb"))))
    data.update(inits)
    expected = dict(zip([o.name for o in model.graph.output],
                        load_pbs(os.path.join(test_dir, "test_data_set_0", "output_*.pb"))))
    if any(n not in data for n in in_names) or any(n not in expected for n in out_names):
        return "skip", "a kernel parameter is neither a test input, an initializer nor a graph output"
    wants = [expected[n] for n in out_names]
    arrays = [np.ascontiguousarray(data[n]) for n in in_names] + wants
    if any(a.dtype not in SUPPORTED for a in arrays):
        return "skip", "dtype " + ", ".join(sorted({str(a.dtype) for a in arrays if a.dtype not in SUPPORTED}))
    args = [cp.asarray(a) if a.size else cp.zeros(1, a.dtype) for a in arrays[:len(in_names)]]
    outs = []
    for want in wants:
        buf = cp.empty(max(want.size, 1), dtype=want.dtype)
        buf.view(cp.uint8)[:] = 0xFF  # poison (NaN for floats): every element must be written
        outs.append(buf)
    ctx = cp.zeros(4, dtype=cp.int64)
    err = cp.zeros(1, dtype=cp.int32)
    module = cp.RawModule(path=os.path.join(test_dir, "kernel.ptx"))
    for entry, (threads, blocks, shared) in launches:
        kernel = module.get_function(entry)
        if shared > 48 << 10:
            kernel.max_dynamic_shared_size_bytes = shared
        kernel((blocks or 132,), (threads,), tuple(args + outs + [ctx, err]), shared_mem=shared)
    cp.cuda.Device().synchronize()
    if int(err.get()[0]) != 0:
        return "fail", "kernel error bits %d" % int(err.get()[0])
    for name, want, buf in zip(out_names, wants, outs):
        got = buf.get()[:want.size].reshape(want.shape)
        if want.dtype.kind == "f":
            w, g = want.astype(np.float64), got.astype(np.float64)
            bad = ~((np.abs(g - w) <= 1e-4 + 1e-3 * np.abs(w)) | (np.isnan(w) & np.isnan(g)) | (w == g))
        else:
            bad = got != want
        if bad.any():
            i = int(np.flatnonzero(bad.reshape(-1))[0])
            return "fail", "%s: %d of %d elements differ, first at %d: got %r want %r" % (
                name, int(bad.sum()), want.size, i, got.reshape(-1)[i], want.reshape(-1)[i])
    return "pass", ""


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    verbose = "--verbose" in sys.argv
    tests = sorted(d for d in glob.glob(os.path.join(sys.argv[1], "*")) if os.path.isdir(d))
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for d in tests:
        try:
            result, why = check(d)
        except Exception as exc:  # a launch or load error fails the test, not the run
            result, why = "fail", "%s: %s" % (type(exc).__name__, exc)
        counts[result] += 1
        if result == "fail" or verbose:
            print("%-4s %s %s" % (result, os.path.basename(d), why))
    print("gpu node tests (%s): %d passed, %d failed, %d skipped, of %d" % (
        cp.cuda.runtime.getDeviceProperties(0)["name"].decode(), counts["pass"], counts["fail"], counts["skip"],
        len(tests)))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
