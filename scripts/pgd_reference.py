#!/usr/bin/env python3
"""PyTorch PGD reference for the targeted batch of docs/results.md (issue 22): every image of a
batch pushed to the clean map of one of them (targeted-image), L∞ PGD with a fixed step, CE (mean
over the pixels), the last iterate, real-valued and rounded to 8 bits; prints the agreement of
each image's map with the target and their means (all images, and the others than the target).

The networks are ../shared/bench/torch_reference.py's (EdgeNets' ESPNetv2 with the shared weights,
the shared DeepLabV3 ONNX graph run with torch ops); images are resized as advseg resizes them
(Pillow's bilinear filter to the model input, values / 255).

Usage:  EDGENETS_SRC=/path/to/EdgeNets python scripts/pgd_reference.py \
            [--model espnetv2-voc] [--images 294,474,23,8] [--target 2] [--eps 8/255] [--steps 20] [--step-factor 0.25]
Needs torch, numpy, pillow, safetensors, onnx; not part of CI.
"""
import argparse
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get('ADVSEG_SHARED', ROOT.parent / 'shared'))
sys.path.insert(0, str(SHARED / 'bench'))
import torch_reference as ref  # noqa: E402  (the shared PyTorch builders of our networks)


def load(model):
    if model == 'espnetv2-voc':
        return ref.load_espnetv2('2.0', 'pascal'), (384, 384)
    if model == 'deeplabv3-mnv2-voc':
        w = ref.WEIGHTS
        return ref.OnnxGraphTorch(w / 'deeplabv3_mnv2_257_voc.onnx', w / 'deeplabv3_mnv2_257_voc.safetensors').eval(), (257, 257)
    raise SystemExit(f'unknown model {model}')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='espnetv2-voc')
    p.add_argument('--images', default='294,474,23,8')
    p.add_argument('--target', type=int, default=2, help='1-based index of the target image')
    p.add_argument('--eps', default='8/255')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--step-factor', type=float, default=0.25)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net, (w, h) = load(a.model)
    for q in net.parameters():
        q.requires_grad_(False)
    eps = float(Fraction(a.eps))
    alpha = a.step_factor * eps
    names = a.images.split(',')
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(SHARED / 'fixtures/images/voc' / f'{n}.png').convert('RGB')
                     .resize((w, h), Image.BILINEAR), np.float32) / 255).permute(2, 0, 1) for n in names])
    with torch.no_grad():
        clean = net(x).argmax(1)
    target = clean[a.target - 1].expand_as(clean).clone()
    adv = x.clone()
    for _ in range(a.steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(net(adv), target)
        g, = torch.autograd.grad(loss, adv)
        adv = (x + (adv.detach() - alpha * g.sign() - x).clamp(-eps, eps)).clamp(0, 1)
    with torch.no_grad():
        real = net(adv).argmax(1)
        q = torch.round(adv * 255) / 255
        eight = net(q).argmax(1)
    agree = lambda m: [(m[i] == target[i]).float().mean().item() for i in range(len(names))]
    r, e = agree(real), agree(eight)
    others = [i for i in range(len(names)) if i != a.target - 1]
    print(f'{a.model} → image {a.target} ({names[a.target - 1]}), eps {a.eps}, {a.steps} steps of {a.step_factor}·eps')
    for i, n in enumerate(names):
        print(f'  {n}: clean {agree(clean)[i]:.4f} → real-valued {r[i]:.4f}, 8-bit {e[i]:.4f}')
    mean = lambda v, idx: sum(v[i] for i in idx) / len(idx)
    every = list(range(len(names)))
    print(f'  mean agreement, all {len(names)}: real-valued {mean(r, every):.4f}, 8-bit {mean(e, every):.4f}; '
          f'the {len(others)} others: {mean(r, others):.4f}, 8-bit {mean(e, others):.4f}')


if __name__ == '__main__':
    main()
