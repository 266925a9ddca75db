#!/usr/bin/env python3
"""PyTorch's latency for the architectures of the shared CNNs, for comparison with tcc's GPU modules.

    python3 bench/gpu_torch_reference.py [--runs 100] [--batch 1] [--dtype fp16] [--no-compile]

torchvision's resnet18, mobilenet_v2 and squeezenet1_1 (random weights: the time does not depend on them)
in eval mode at the given batch and dtype, input already on the GPU: eager, and torch.compile with CUDA
graphs (mode="reduce-overhead"), each warmed up (compilation included) and then timed over --runs runs
between CUDA events, median printed. tcc's numbers (tests/gpu/models_check.py --bench) also count the
input copy to and the output copy from the GPU, which these do not."""
import argparse

import torch
import torchvision


def median_ms(fn, x, runs):
    for _ in range(10):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16", "fp32"])
    ap.add_argument("--no-compile", action="store_true")
    o = ap.parse_args()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[o.dtype]
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, batch {o.batch}, {o.dtype}")
    print("model eager_ms compiled_ms")
    for name in ("resnet18", "mobilenet_v2", "squeezenet1_1"):
        model = getattr(torchvision.models, name)().eval().cuda().to(dtype)
        x = torch.rand(o.batch, 3, 224, 224, device="cuda", dtype=dtype)
        with torch.inference_mode():
            eager = median_ms(model, x, o.runs)
            compiled = float("nan")
            if not o.no_compile:
                compiled = median_ms(torch.compile(model, mode="reduce-overhead"), x, o.runs)
        print(f"{name} {eager:.4f} {compiled:.4f}", flush=True)


if __name__ == "__main__":
    main()
