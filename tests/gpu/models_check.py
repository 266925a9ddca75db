#!/usr/bin/env python3
"""Runs compiled GPU modules on their reference data and checks the outputs.

    python3 tests/gpu/models_check.py DIR [--runner build/tcc-module-runner] [--bench N] [--tol 1e-4] [--profile N]

DIR holds one folder per model (tests/gpu/prepare_models.sh makes it): NAME/model.so (compiled by
`tcc compile -target sm_XX`) and NAME/test_data_set_0/{input,output}_K.pb (ONNX TensorProtos). Each module
runs through tcc-module-runner (the runtime alone) on its inputs; every output must have the reference's
shape and a relative L2 error ||got - ref|| / ||ref|| below --tol, with no NaN. Prints one line per model
and exits 1 when any fails; --profile N times each kernel (CUDA events, launch by launch) and prints the
N costliest. Needs numpy and onnx (to read the .pb files)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from onnx import load_tensor, numpy_helper

DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "i64": np.int64, "i32": np.int32,
          "i8": np.int8, "u8": np.uint8, "bool": np.bool_}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def load_pbs(folder, kind):
    arrays = []
    while os.path.exists(os.path.join(folder, f"{kind}_{len(arrays)}.pb")):
        arrays.append(numpy_helper.to_array(load_tensor(os.path.join(folder, f"{kind}_{len(arrays)}.pb"))))
    return arrays


def check_model(runner, model_dir, bench, tol, device, profile):
    data = os.path.join(model_dir, "test_data_set_0")
    inputs, refs = load_pbs(data, "input"), load_pbs(data, "output")
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for k, x in enumerate(inputs):
            path = os.path.join(tmp, f"in{k}.bin")
            np.ascontiguousarray(x).tofile(path)
            specs.append(f"{NAMES[x.dtype]}:{','.join(str(d) for d in x.shape)}:{path}")
        cmd = [runner, os.path.join(model_dir, "model.so"), *specs, "-o", os.path.join(tmp, "out"), "--device", device]
        if bench:
            cmd += ["--bench", str(bench)]
        if profile:
            cmd += ["--profile"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        said = run.stdout + run.stderr
        if run.returncode != 0:
            return False, f"runner failed ({run.returncode}): {said.strip()}"
        errors = []
        ok = True
        for k, ref in enumerate(refs):
            line = open(os.path.join(tmp, "out", f"output_{k}.txt")).read().split()
            dims = [int(d) for d in line[3].strip("[]").split(",") if d]
            got = np.fromfile(os.path.join(tmp, "out", f"output_{k}.bin"), dtype=DTYPES[line[2]]).reshape(dims)
            if got.shape != ref.shape:
                return False, f"output {k}: shape {got.shape}, reference {ref.shape}"
            g, r = got.astype(np.float64), ref.astype(np.float64)
            err = float(np.linalg.norm(g - r) / max(np.linalg.norm(r), 1e-30))
            ok = ok and bool(np.all(np.isfinite(g))) and err < tol
            errors.append(f"output {k} rel_l2 {err:.2e}")
        timing = " ".join(l for l in said.splitlines() if l.startswith(("median_ms", "min_ms", "time:", "device:")))
        calls = sorted((l for l in said.splitlines() if l.startswith("call ")),
                       key=lambda l: -float(l.split("mean_ms ")[1].split()[0]))
        if calls:
            total = sum(float(l.split("mean_ms ")[1].split()[0]) for l in calls)
            timing += f"\n  kernels: {total:.4f} ms per run; the costliest:\n  " + "\n  ".join(calls[:profile])
        return ok, "; ".join(errors) + " | " + timing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runner", default="build/tcc-module-runner")
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--profile", type=int, default=0, help="time each kernel; print the N costliest")
    a = ap.parse_args()
    failed = 0
    names = sorted(n for n in os.listdir(a.dir) if os.path.exists(os.path.join(a.dir, n, "model.so")))
    for name in names:
        ok, what = check_model(a.runner, os.path.join(a.dir, name), a.bench, a.tol, a.device, a.profile)
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {what}", flush=True)
    print(f"{len(names) - failed} of {len(names)} models passed")
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main())
