#!/usr/bin/env python3
"""tcc's GPU GEMM modules (made by bench_gpu_gemm) against cuBLAS through torch.matmul, on one GPU.

    python3 bench/gpu_gemm.py DIR [--runner build/tcc-module-runner] [--runs 50] [--markdown]

For each DIR/gemm_MxNxK_DTYPE/model.so: A [M, K] and B [K, N] uniform in [-1, 1) (fresh per shape, never
zeros); the module runs through tcc-module-runner (the runtime alone) with --profile, which times its
kernel with CUDA events launch by launch; C is checked against torch.matmul (relative L2 error below
1e-2, float32 accumulation on both sides) before any time counts. torch.matmul is timed in the same
process layout: 10 warm-up products, then --runs products each between two CUDA events, the median
taken; tcc's time is the mean kernel time over its --runs + 1 runs. Prints TFLOP/s of each and the
ratio tcc / cuBLAS (above 1: tcc faster)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import torch

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def time_torch(a, b, runs):
    for _ in range(10):
        torch.matmul(a, b)
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def run_shape(runner, path, m, n, k, dtype, runs):
    torch.manual_seed(m * 31 + n * 7 + k)
    a = (torch.rand(m, k, device="cuda") * 2 - 1).to(dtype)
    b = (torch.rand(k, n, device="cuda") * 2 - 1).to(dtype)
    ref = torch.matmul(a, b).float()
    with tempfile.TemporaryDirectory() as tmp:
        name = "f16" if dtype == torch.float16 else "bf16"
        for label, x in (("a", a), ("b", b)):
            x.cpu().view(torch.int16).numpy().tofile(os.path.join(tmp, label + ".bin"))
        cmd = [runner, os.path.join(path, "model.so"), f"{name}:{m},{k}:{tmp}/a.bin", f"{name}:{k},{n}:{tmp}/b.bin",
               "-o", os.path.join(tmp, "out"), "--bench", str(runs), "--profile"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            return None, f"runner failed: {run.stdout}{run.stderr}"
        import numpy as np
        got = torch.from_numpy(np.fromfile(os.path.join(tmp, "out", "output_0.bin"), dtype=np.int16).reshape(m, n))
        got = got.view(dtype).float().cuda()
        err = float((got - ref).norm() / ref.norm())
        calls = re.findall(r"^call \d+ (.*): mean_ms ([0-9.]+)", run.stdout, re.M)
        kernel_ms = sum(float(ms) for _, ms in calls)
    if not err < 1e-2:
        return None, f"wrong result: rel L2 {err:.3g}"
    return (kernel_ms, time_torch(a, b, runs), err), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runner", default="build/tcc-module-runner")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--markdown", action="store_true")
    o = ap.parse_args()
    rows = []
    for entry in sorted(os.listdir(o.dir)):
        match = re.fullmatch(r"gemm_(\d+)x(\d+)x(\d+)_(f16|bf16)(_.*)?", entry)
        if not match:
            continue
        m, n, k = (int(x) for x in match.groups()[:3])
        result, problem = run_shape(o.runner, os.path.join(o.dir, entry), m, n, k, DTYPES[match.group(4)], o.runs)
        if problem:
            print(f"{entry}: {problem}", file=sys.stderr)
            rows.append((entry, None))
            continue
        rows.append((entry, result + (2.0 * m * n * k,)))
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    sep = "|" if o.markdown else " "
    print(sep.join(["shape", "tcc_ms", "cublas_ms", "tcc_tflops", "cublas_tflops", "tcc/cublas", "rel_l2"]))
    failed = 0
    for entry, r in rows:
        if r is None:
            failed += 1
            print(sep.join([entry, "FAILED"]))
            continue
        tcc_ms, torch_ms, err, flops = r
        print(sep.join([entry, f"{tcc_ms:.4f}", f"{torch_ms:.4f}", f"{flops / tcc_ms / 1e9:.1f}",
                        f"{flops / torch_ms / 1e9:.1f}", f"{torch_ms / tcc_ms:.3f}", f"{err:.1e}"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
