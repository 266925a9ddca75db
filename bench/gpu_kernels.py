#!/usr/bin/env python3
"""tcc's GPU kernel modules (made by bench_gpu_kernels) against PyTorch on one GPU: GEMMs against cuBLAS
through torch.matmul, attention against torch's scaled_dot_product_attention.

    python3 bench/gpu_kernels.py DIR [--runner build/tcc-module-runner] [--runs 50] [--markdown]

For each DIR/gemm_[Bx]MxNxK_DTYPE/model.so (A [[B,] M, K], B [[B,] K, N]) and DIR/attention_BxHxSxD[c][kN]_DTYPE/model.so
(Q [B, H, S, D], K and V [B, N or H, S, D]; c: causal): the inputs uniform in [-1, 1) (fresh per workload, never zeros); the
module runs through tcc-module-runner (the runtime alone) with --profile, which times its kernels with
CUDA events launch by launch; the output is checked against PyTorch's (relative L2 error below 1e-2,
float32 accumulation on both sides; 1e-4 for f32, whose products PyTorch runs without TF32; tf32: f32
operands, the product in TF32 on both sides) before any time counts. PyTorch is timed in the same process
layout: 10 warm-up calls, then --runs calls each between two CUDA events, the median taken; tcc's time
is the mean kernel time over its --runs + 1 runs. Prints TFLOP/s of each and the ratio tcc / PyTorch
(above 1: tcc faster)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32, "tf32": torch.float32}
NAMES = {torch.float16: "f16", torch.bfloat16: "bf16", torch.float32: "f32"}
torch.backends.cuda.matmul.allow_tf32 = False  # f32 against cuBLAS's f32 (SIMT) products


def matmul_tf32(x, y):
    torch.backends.cuda.matmul.allow_tf32 = True
    z = torch.matmul(x, y)
    torch.backends.cuda.matmul.allow_tf32 = False
    return z


def time_torch(fn, runs):
    for _ in range(10):
        fn()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def run_module(runner, path, inputs, dtype, runs):
    """The module's output (float32, on the GPU) and its mean kernel time in ms."""
    name = NAMES[dtype]
    raw = torch.int32 if dtype == torch.float32 else torch.int16
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [runner, os.path.join(path, "model.so")]
        for i, x in enumerate(inputs):
            x.cpu().view(raw).numpy().tofile(os.path.join(tmp, f"{i}.bin"))
            cmd.append(f"{name}:{','.join(str(d) for d in x.shape)}:{tmp}/{i}.bin")
        cmd += ["-o", os.path.join(tmp, "out"), "--bench", str(runs), "--profile"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(f"runner failed: {run.stdout}{run.stderr}")
        got = torch.from_numpy(np.fromfile(os.path.join(tmp, "out", "output_0.bin"), dtype=np.int32 if raw == torch.int32 else np.int16))
        calls = re.findall(r"^call \d+ (.*): mean_ms ([0-9.]+)", run.stdout, re.M)
        return got.view(dtype).float().cuda(), sum(float(ms) for _, ms in calls)


def workload(entry):
    """(inputs, torch function, flops) of a module folder's name, or None."""
    g = re.fullmatch(r"gemm_(?:(\d+)x)?(\d+)x(\d+)x(\d+)_(f16|bf16|f32|tf32)(_.*)?", entry)
    a = re.fullmatch(r"attention_(\d+)x(\d+)x(\d+)x(\d+)(c?)(?:k(\d+))?_(f16|bf16)", entry)
    if g:
        batch = (int(g.group(1)),) if g.group(1) else ()
        m, n, k = (int(x) for x in g.groups()[1:4])
        dtype = DTYPES[g.group(5)]
        torch.manual_seed(m * 31 + n * 7 + k)
        x, y = ((torch.rand(*s, device="cuda") * 2 - 1).to(dtype) for s in (batch + (m, k), batch + (k, n)))
        product = matmul_tf32 if g.group(5) == "tf32" else torch.matmul
        return [x, y], dtype, lambda: product(x, y), 2.0 * m * n * k * (batch[0] if batch else 1)
    if a:
        b, h, s, d = (int(x) for x in a.groups()[:4])
        causal, kv, dtype = a.group(5) == "c", int(a.group(6) or h), DTYPES[a.group(7)]
        torch.manual_seed(b * 31 + h * 7 + s + d)
        q = (torch.rand(b, h, s, d, device="cuda") * 2 - 1).to(dtype)
        k, v = ((torch.rand(b, kv, s, d, device="cuda") * 2 - 1).to(dtype) for _ in range(2))
        flops = 4.0 * b * h * s * s * d / (2 if causal else 1)
        # query head i reads key/value head i mod kv (ONNX Attention, as the evaluator has it)
        kk, vv = (x.repeat(1, h // kv, 1, 1) for x in (k, v))
        return [q, k, v], dtype, lambda: F.scaled_dot_product_attention(q, kk, vv, is_causal=causal), flops
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runner", default="build/tcc-module-runner")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--markdown", action="store_true")
    o = ap.parse_args()
    rows = []
    for entry in sorted(os.listdir(o.dir)):
        w = workload(entry)
        if not w:
            continue
        inputs, dtype, fn, flops = w
        try:
            got, tcc_ms = run_module(o.runner, os.path.join(o.dir, entry), inputs, dtype, o.runs)
            ref = fn().float().reshape(-1)
            err = float((got - ref).norm() / ref.norm())
            if not err < (1e-4 if entry.split("_")[2] == "f32" else 1e-2):
                raise RuntimeError(f"wrong result: rel L2 {err:.3g}")
            rows.append((entry, (tcc_ms, time_torch(fn, o.runs), err, flops)))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"{entry}: {e}", file=sys.stderr)
            rows.append((entry, None))
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    sep = "|" if o.markdown else " "
    print(sep.join(["workload", "tcc_ms", "torch_ms", "tcc_tflops", "torch_tflops", "tcc/torch", "rel_l2"]))
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
