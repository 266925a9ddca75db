#!/usr/bin/env python3
"""A whole model on the GPU: tcc's module against PyTorch eager and torch.compile, fp16, same weights.

    python3 bench/gpu_e2e.py export OUT [--model resnet50|bert-base]
    python3 bench/gpu_e2e.py run MODULE.so [--model resnet50|bert-base] [--batch 1 32] [--runs 50] [--profile N]
                             [--runner build/tcc-module-runner]

`export` (on the GPU machine) builds the model with seeded random weights in float16 — torchvision's
ResNet-50 (batch-norm statistics randomized too), or BERT-base from transformers (BertConfig's defaults:
12 layers, hidden 768, 12 heads; input_ids of 128 tokens, the last hidden state out) — and exports it to
ONNX (opset 17, dynamic batch). ResNet-50 comes as pieces of 15 MB, OUT/MODEL.onnx.00, .01, ...
(`cat OUT/MODEL.onnx.* > MODEL.onnx` joins them), for machines that bring back only small files.
BERT-base's weights (220 MB) would not come back at all: its graph takes every initializer of 1024
elements or more as an input instead (OUT/bert-base.onnx, small), and `run` feeds them from the same
seeded model. Compile it where tcc is built:
`tcc compile MODEL.onnx -target sm_90a --precision fp16 -o MODULE.so`.

`run` (on the GPU machine) rebuilds the same model, and for each batch: an input (an image uniform in
[-1, 1), or random token ids); tcc's module through tcc-module-runner (--bench and --profile) must match
PyTorch's float16 output (relative L2 error below 3e-2) before any time counts; then PyTorch eager and
torch.compile with CUDA graphs (mode="reduce-overhead"), compiled afresh for each batch with static
shapes, 10 warm-up runs (compilation included) and the median of --runs runs between CUDA events. tcc's `total_ms` is the runner's median, with the inputs
copied to the GPU and the output back (for BERT-base the weights too); `kernels_ms` the sum of its
kernels' mean times (what PyTorch's figures cover)."""
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
SEQ = 128  # BERT-base's tokens
VOCAB = 30522
WEIGHT_INPUT = 1024  # initializers of this many elements or more become inputs (BERT-base)


class LastHidden(nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, ids):
        return self.bert(input_ids=ids).last_hidden_state


def build(name):
    torch.manual_seed(1234)
    if name == "bert-base":
        from transformers import BertConfig, BertModel
        return LastHidden(BertModel(BertConfig(), add_pooling_layer=False)).eval().cuda().half()
    model = getattr(torchvision.models, name)()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.1, 0.1)
    return model.eval().cuda().half()


def sample_input(name, batch):
    if name == "bert-base":
        return torch.randint(0, VOCAB, (batch, SEQ), device="cuda")
    return (torch.rand(batch, 3, 224, 224, device="cuda") * 2 - 1).half()


def onnx_bytes(name, model):
    """The model exported to ONNX; for BERT-base with its large initializers as graph inputs, and those
    initializers [(name, array)] in input order."""
    bert = name == "bert-base"
    x = sample_input(name, 1)
    names = (["input_ids"], ["hidden"]) if bert else (["input"], ["logits"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        kw = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
        torch.onnx.export(model, (x,), path, opset_version=17, input_names=names[0], output_names=names[1],
                          dynamic_axes={names[0][0]: {0: "batch"}, names[1][0]: {0: "batch"}}, do_constant_folding=True,
                          **kw)
        if not bert:
            return open(path, "rb").read(), []
        import onnx
        from onnx import numpy_helper
        m = onnx.load(path)
        weights = [t for t in m.graph.initializer if int(np.prod(t.dims)) >= WEIGHT_INPUT]
        for t in weights:
            m.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
            m.graph.initializer.remove(t)
        return m.SerializeToString(), [(t.name, numpy_helper.to_array(t)) for t in weights]


def export(o):
    data, _ = onnx_bytes(o.model, build(o.model))
    os.makedirs(o.path, exist_ok=True)
    if o.model == "bert-base":
        open(os.path.join(o.path, "bert-base.onnx"), "wb").write(data)
        print(f"{o.model}: {len(data) / 1e6:.1f} MB without its weights")
        return 0
    for i in range(0, len(data), PIECE):
        open(os.path.join(o.path, f"{o.model}.onnx.{i // PIECE:02d}"), "wb").write(data[i:i + PIECE])
    print(f"{o.model}: {len(data) / 1e6:.1f} MB in {(len(data) + PIECE - 1) // PIECE} pieces")
    return 0


DTYPE_NAMES = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32", np.dtype(np.int64): "i64"}


def run_tcc(o, x, weights):
    with tempfile.TemporaryDirectory() as tmp:
        arrays = [("x", x.cpu().numpy())] + weights
        specs = []
        for i, (_, a) in enumerate(arrays):
            a.tofile(os.path.join(tmp, f"{i}.bin"))
            specs.append(f"{DTYPE_NAMES[a.dtype]}:{','.join(str(d) for d in a.shape)}:{tmp}/{i}.bin")
        cmd = [o.runner, o.path, *specs, "-o", os.path.join(tmp, "out"), "--bench", str(o.runs), "--profile"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            sys.exit(f"runner failed: {run.stdout}{run.stderr}")
        dtype = open(os.path.join(tmp, "out", "output_0.txt")).read().split()[2]  # "output NAME f16 [dims]"
        got = torch.from_numpy(np.fromfile(os.path.join(tmp, "out", "output_0.bin"), dtype={"f16": np.float16}.get(dtype, np.float32)))
        total = float(re.search(r"median_ms: ([0-9.]+)", run.stdout).group(1))
        calls = [(float(ms), name) for name, ms in re.findall(r"^call \d+ (.*): mean_ms ([0-9.]+)", run.stdout, re.M)]
        for ms, name in sorted(calls, reverse=True)[:o.profile]:
            print(f"#   batch {x.shape[0]}: {ms:.4f} ms {name}")
        return got.float().cuda(), total, sum(ms for ms, _ in calls)


def run(o):
    model = build(o.model)
    weights = onnx_bytes(o.model, model)[1]  # the inputs beside the model's own (BERT-base's weights)
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, {o.model} fp16")
    print("batch tcc_total_ms tcc_kernels_ms eager_ms compiled_ms compiled/tcc_kernels rel_l2")
    failed = 0
    for batch in o.batch:
        torch.manual_seed(batch)
        x = sample_input(o.model, batch)
        with torch.inference_mode():
            ref = model(x).float().reshape(-1)
            got, total, kernels = run_tcc(o, x, weights)
            err = float((got - ref).norm() / ref.norm())
            if not err < 3e-2:
                print(f"{batch} FAILED: rel L2 {err:.3g}")
                failed += 1
                continue
            eager = median_ms(model, x, o.runs)
            # compiled afresh for each batch with static shapes: once a second shape is seen, a compiled
            # model recompiles with dynamic shapes and runs slower (ResNet-50 at batch 32: 2.8 ms
            # instead of 1.8 ms when batch 1 came first)
            torch._dynamo.reset()
            comp = median_ms(torch.compile(model, mode="reduce-overhead", dynamic=False), x, o.runs)
        print(f"{batch} {total:.4f} {kernels:.4f} {eager:.4f} {comp:.4f} {comp / kernels:.3f} {err:.1e}", flush=True)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["export", "run"])
    ap.add_argument("path")
    ap.add_argument("--model", default="resnet50", choices=["resnet50", "bert-base"])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--profile", type=int, default=0, help="print tcc's N costliest kernels per batch")
    ap.add_argument("--runner", default="build/tcc-module-runner")
    o = ap.parse_args()
    return export(o) if o.verb == "export" else run(o)


if __name__ == "__main__":
    sys.exit(main())
