#!/usr/bin/env python3
"""PyTorch's side of the GPU benchmark (scripts/gpu_bench.sh): the same networks and weights as
the project's `bench --backend wgpu`, on CUDA.

The model definitions come from the shared reference script `$ADVSEG_SHARED/bench/torch_reference.py`
(ESPNetv2 from the EdgeNets code at $EDGENETS_SRC, DeepLabV3-MobileNetV2 from the shared ONNX
graph run with torch ops); this script only moves them to the GPU and times, per model and batch
size, what `bench` times: the forward pass, and the gradient of mean per-pixel cross-entropy
against the clean argmax w.r.t. the [0,1] input (one PGD step's gradient). Median of REPS runs
after 3 warm-ups, `torch.cuda.synchronize()` around each. The first (cold) forward and step are
reported too. Prints one JSON line per (model, batch) and writes them all to --json.

Usage: ADVSEG_SHARED=… EDGENETS_SRC=… python3 bench_torch_gpu.py --models espnetv2-voc,deeplabv3-mnv2-voc --batches 1,8 --json out.json
"""
import argparse
import importlib.util
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F


def load_reference():
    path = os.path.join(os.environ['ADVSEG_SHARED'], 'bench', 'torch_reference.py')
    spec = importlib.util.spec_from_file_location('torch_reference', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(fn, reps):
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    first = time.perf_counter() - t
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return first, statistics.median(ts)


def bench(model, w, h, batch, reps):
    gen = torch.Generator(device='cuda').manual_seed(0)
    x = torch.rand(batch, 3, h, w, generator=gen, device='cuda')
    with torch.no_grad():
        target = model(x).argmax(1)

    def fwd():
        with torch.no_grad():
            model(x)

    def step():
        xx = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xx), target)
        (g,) = torch.autograd.grad(loss, xx)
        g.sign_()

    first_f, f = timed(fwd, reps)
    first_s, s = timed(step, reps)
    return {'forward_ms': f * 1e3, 'forward_backward_ms': s * 1e3,
            'first_forward_ms': first_f * 1e3, 'first_step_ms': first_s * 1e3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default='espnetv2-voc,deeplabv3-mnv2-voc,espnetv2-city')
    ap.add_argument('--batches', default='1')
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--json')
    a = ap.parse_args()
    ref = load_reference()
    torch.backends.cudnn.benchmark = True
    rows = []
    for name in a.models.split(','):
        load, (w, h) = ref.SPECS[name]
        model = load().cuda()
        consts = getattr(model.net, 'consts', None)  # the ONNX graph's initializers live in a dict
        if consts is not None:
            model.net.consts = {k: v.cuda() for k, v in consts.items()}
        for p in model.parameters():
            p.requires_grad_(False)
        for batch in (int(b) for b in a.batches.split(',')):
            row = {'model': name, 'backend': 'torch-cuda', 'width': w, 'height': h, 'batch': batch,
                   **bench(model, w, h, batch, a.reps),
                   'torch': torch.__version__, 'device': torch.cuda.get_device_name(0)}
            print('json:', json.dumps(row), flush=True)
            rows.append(row)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
