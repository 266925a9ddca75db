#!/usr/bin/env python3
"""A whole model on the GPU: tcc's module against PyTorch eager and torch.compile, fp16, same weights.

    python3 bench/gpu_e2e.py export OUT [--model resnet50]
    python3 bench/gpu_e2e.py run MODULE.so [--model resnet50] [--batch 1 32] [--runs 50]
                             [--runner build/tcc-module-runner]

`export` (on the GPU machine) builds the torchvision architecture with seeded random weights (batch-norm
statistics randomized too), in float16, and exports it to ONNX (opset 17, dynamic batch) as pieces of
15 MB, OUT/MODEL.onnx.00, .01, ... (`cat OUT/MODEL.onnx.* > MODEL.onnx` joins them), for machines that
bring back only small files. Compile it where tcc is built:
`tcc compile MODEL.onnx -target sm_90a --precision fp16 -o MODULE.so`.

`run` (on the GPU machine) rebuilds the same model, and for each batch: an input uniform in [-1, 1);
tcc's module through tcc-module-runner (--bench and --profile) must match PyTorch's float16 output
(relative L2 error below 3e-2) before any time counts; then PyTorch eager and torch.compile with CUDA
graphs (mode="reduce-overhead"), 10 warm-up runs (compilation included) and the median of --runs runs
between CUDA events. tcc's `total_ms` is the runner's median, with the input copied to the GPU and the
output back; `kernels_ms` the sum of its kernels' mean times (what PyTorch's figures cover)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

from gpu_torch_reference import median_ms  # bench/, beside this script

PIECE = 15 << 20


def build(name):
    torch.manual_seed(1234)
    model = getattr(torchvision.models, name)()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.1, 0.1)
    return model.eval().cuda().half()


def export(o):
    model = build(o.model)
    os.makedirs(o.path, exist_ok=True)
    x = torch.rand(1, 3, 224, 224, device="cuda", dtype=torch.float16)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        kw = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
        torch.onnx.export(model, (x,), path, opset_version=17, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True, **kw)
        data = open(path, "rb").read()
    for i in range(0, len(data), PIECE):
        open(os.path.join(o.path, f"{o.model}.onnx.{i // PIECE:02d}"), "wb").write(data[i:i + PIECE])
    print(f"{o.model}: {len(data) / 1e6:.1f} MB in {(len(data) + PIECE - 1) // PIECE} pieces")


def run_tcc(o, x):
    with tempfile.TemporaryDirectory() as tmp:
        x.cpu().view(torch.int16).numpy().tofile(os.path.join(tmp, "x.bin"))
        cmd = [o.runner, o.path, f"f16:{','.join(str(d) for d in x.shape)}:{tmp}/x.bin", "-o", os.path.join(tmp, "out"),
               "--bench", str(o.runs), "--profile"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            sys.exit(f"runner failed: {run.stdout}{run.stderr}")
        got = torch.from_numpy(np.fromfile(os.path.join(tmp, "out", "output_0.bin"), dtype=np.int16)).view(torch.float16)
        total = float(re.search(r"median_ms: ([0-9.]+)", run.stdout).group(1))
        kernels = sum(float(ms) for ms in re.findall(r"^call \d+ .*: mean_ms ([0-9.]+)", run.stdout, re.M))
        return got.float().cuda(), total, kernels


def run(o):
    model = build(o.model)
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, {o.model} fp16")
    print("batch tcc_total_ms tcc_kernels_ms eager_ms compiled_ms compiled/tcc_kernels rel_l2")
    compiled = torch.compile(model, mode="reduce-overhead")
    failed = 0
    for batch in o.batch:
        torch.manual_seed(batch)
        x = (torch.rand(batch, 3, 224, 224, device="cuda") * 2 - 1).half()
        with torch.inference_mode():
            ref = model(x).float().reshape(-1)
            got, total, kernels = run_tcc(o, x)
            err = float((got - ref).norm() / ref.norm())
            if not err < 3e-2:
                print(f"{batch} FAILED: rel L2 {err:.3g}")
                failed += 1
                continue
            eager = median_ms(model, x, o.runs)
            comp = median_ms(compiled, x, o.runs)
        print(f"{batch} {total:.4f} {kernels:.4f} {eager:.4f} {comp:.4f} {comp / kernels:.3f} {err:.1e}", flush=True)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["export", "run"])
    ap.add_argument("path")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--runner", default="build/tcc-module-runner")
    o = ap.parse_args()
    return export(o) if o.verb == "export" else run(o)


if __name__ == "__main__":
    sys.exit(main())
