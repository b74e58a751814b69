#!/usr/bin/env python3
"""Export the ONNX test fixtures of tests/fixtures/onnx/ (not run in CI: it needs torch).

Every network is exported with both exporters of current PyTorch — the TorchScript-based one
(`dynamo=False`, suffix `_ts`) and `torch.export` (`dynamo=True`, suffix `_dynamo`) — as one
self-contained `.onnx` (no external data), and gets a reference file `NAME.ref.safetensors`:

  x01       [1, 3, H, W]  the input, RGB in [0, 1] (a fixture VOC image, Pillow bilinear)
  logits    PyTorch's output of the graph on x01 after the file's described preprocessing, at
            every 2nd row and column (the files stay small); the script checks that onnxruntime
            gives the same on both exported files (within 1e-4)
  grad_x01  d/dx01 of the mean per-pixel cross-entropy of the *evaluated* logits (the graph's
            output resized to the input size as described) against their own argmax, PyTorch
            autograd through the preprocessing, the network and the resize

Networks:
  espnetv2_s0.5   ESPNetv2 s=0.5 VOC (EdgeNets code, the shared trained weights), 96x96. The
                  TorchScript exporter cannot export adaptive average pooling to a size that does
                  not divide the input (ESPNetv2's pyramid pooling does that), so for that exporter
                  the script swaps F.adaptive_avg_pool2d for its exact matrix form (A_h x A_w^T);
                  dynamo exports the original code (Gather/GatherND/Where index arithmetic).
                  _ts normalises inside the graph (metadata says so); _dynamo takes normalised
                  input (metadata gives ImageNet mean/std).
  lraspp_mnv3     torchvision LR-ASPP on MobileNetV3-Large (width 0.25, reduced tail), random
                  weights, 6 classes; its _ts graph has free batch, height and width (metadata:
                  size 64x64).
  deeplabv3_mnv3  torchvision DeepLabV3 on MobileNetV3-Small (width 0.25, reduced tail; ASPP with
                  32 channels), random weights, 6 classes; input described as 0-255 with mean/std.
  segformer       a small SegFormer (transformers), random weights, 6 classes; no metadata at all
                  (the defaults: RGB in [0, 1]; its output is 1/4 of the input, resized bilinearly).
  opzoo           a small network made to use the ops the others do not: ConvTranspose, LeakyRelu,
                  Tanh, MaxPool (ceil mode), reflect / edge Pad, asymmetric padding, nearest Resize,
                  Split, Flatten + Gemm, Squeeze, Expand, Pow / Sqrt / ReduceSum, Clip, Softmax, Elu;
                  5 classes; input described as BGR.
  bad_external    a tiny network saved with external data, committed WITHOUT its data file (the
                  loader must say which file is missing).
  bad_output      a graph whose output is [N, X] (flattened), not a score map.
  bad_dynamic     a graph whose Slice end is computed from the pixel values (a data-dependent shape).
  more_ops        the operators and settings the networks above lack (normalisations, elementwise
                  functions, variadic and reduction ops, GatherElements, DepthToSpace, Tile, Split,
                  batched MatMul, Gemm with alpha/beta, SAME padding, output_shape, edge/reflect
                  pads, host shape arithmetic: Range, Mod, Equal, Not, Where, Expand), side by side;
                  reference: onnxruntime's output.
  resize_modes    every Resize mode (linear / nearest, each coordinate transformation and rounding,
                  sizes and scales) side by side; reference: onnxruntime's output.

Usage (from the repository root; ../shared holds the weights and fixture images):
  EDGENETS_SRC=/path/to/EdgeNets /work/venv/bin/python scripts/onnx_fixtures.py [--out DIR]
  ESPNETV2_FULL=1 ...   also writes espnetv2_s2.0_{ts,dynamo}.onnx at 384x384 (for `bench`, not
                        committed: 3.4 MB each) into DIR/../../../out/onnx/ (or $FULL_OUT)
"""
import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.numpy import save_file
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get('ADVSEG_SHARED', ROOT.parent / 'shared'))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# images whose statistics set the random networks' BatchNorms
CALIBRATION = ('0', '1', '8', '20', '23', '114', '166', '294', '417', '474')


def voc_batch(w, h, names):
    """Fixture VOC images resized with Pillow's bilinear filter, as x01 [N, 3, h, w]."""
    arrs = []
    for n in names:
        im = Image.open(SHARED / 'fixtures/images/voc' / f'{n}.png').convert('RGB').resize((w, h), Image.BILINEAR)
        arrs.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    return torch.from_numpy(np.ascontiguousarray(np.stack(arrs)))


class Normalise(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Graph(nn.Module):
    """What goes into the ONNX file: optional normalisation, the network, the output key."""

    def __init__(self, net, normalise=None, key=None):
        super().__init__()
        self.net, self.normalise, self.key = net, normalise, key

    def forward(self, x):
        if self.normalise is not None:
            x = self.normalise(x)
        y = self.net(x)
        if self.key == 'hf':
            return y.logits
        if self.key is not None:
            return y[self.key]
        return y


def randomise(net, seed, size, pre=None):
    """Random weights with a fixed seed (Linear layers at the scale of 1/sqrt(fan_in)), then the
    BatchNorm statistics measured on fixture images (so every layer carries signal and the class
    map depends on the image, as in a trained network), then eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(m.weight.shape[1]))
                if m.bias is not None:
                    m.bias.zero_()
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.reset_running_stats()
                m.momentum = None
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        net.eval()
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.train()
        calib = voc_batch(size, size, CALIBRATION)
        calib = pre(calib) if pre is not None else calib
        net(calib)
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                # a channel nearly constant on the calibration images must not amplify another's noise
                m.running_var.clamp_(min=0.1 * m.running_var.mean().item() + 1e-3)
    return net.eval(), calib


def balance_head(net, heads, calib, key=None, spread=2.0):
    """Scale the output convolutions (`heads`, whose outputs add up to the logits) so the logits
    have standard deviation `spread` on the calibration images and each class mean 0 there:
    every class then wins somewhere, as in a trained network."""
    with torch.no_grad():
        y = net(calib)
        y = y.logits if key == 'hf' else (y[key] if key else y)
        mean = y.mean(dim=(0, 2, 3))
        k = spread / y.std().item()
        for h in heads:
            h.weight.mul_(k)
            h.bias.mul_(k).sub_(mean * k / len(heads))
    return net


# ---------------------------------------------------------------- networks

def espnetv2(s):
    src = os.environ.get('EDGENETS_SRC', '')
    if not src:
        sys.exit('EDGENETS_SRC must point at a checkout of github.com/sacmehta/EdgeNets')
    if src not in sys.path:
        sys.path.insert(0, src)
    from model.segmentation.espnetv2 import espnetv2_seg
    args = argparse.Namespace(s=float(s), dataset='pascal', classes=21, channels=3, model_width=384,
                              model_height=384, num_classes=1000, weights='')
    net = espnetv2_seg(args)
    net.load_state_dict(load_file(str(SHARED / f'weights/espnetv2_s_{s}_pascal_384x384.safetensors')), strict=True)
    return net.eval()


def adaptive_matrix(out, inp):
    """Row i averages input [floor(i·inp/out), ceil((i+1)·inp/out)): a constant in the graph."""
    m = np.zeros((out, inp), dtype=np.float32)
    for i in range(out):
        a, b = (i * inp) // out, -(-((i + 1) * inp) // out)
        m[i, a:b] = 1.0 / (b - a)
    return torch.from_numpy(m)


def adaptive_avg_pool2d_as_matmul(x, output_size):
    """F.adaptive_avg_pool2d written as A_h · x · A_wᵀ (what the TorchScript exporter can export)."""
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    h, w = (int(v) for v in x.shape[-2:])
    return adaptive_matrix(int(oh), h) @ x @ adaptive_matrix(int(ow), w).t()


def mnv3_backbone(arch, width):
    from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
    setting, last = _mobilenet_v3_conf(arch, width_mult=width, reduced_tail=True, dilated=True)
    return MobileNetV3(setting, last)


def lraspp_mnv3(size, classes=6):
    from torchvision.models.segmentation.lraspp import _lraspp_mobilenetv3
    torch.manual_seed(1)
    net, calib = randomise(_lraspp_mobilenetv3(mnv3_backbone('mobilenet_v3_large', 0.25), classes), 1, size,
                           Normalise(IMAGENET_MEAN, IMAGENET_STD))
    return balance_head(net, [net.classifier.low_classifier, net.classifier.high_classifier], calib, 'out')


def deeplabv3_mnv3(size, classes=6):
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabV3
    torch.manual_seed(2)
    features = mnv3_backbone('mobilenet_v3_small', 0.25).features
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, '_is_cn', False)] + [len(features) - 1]
    out_pos = stages[-1]
    backbone = IntermediateLayerGetter(features, return_layers={str(out_pos): 'out'})
    head = nn.Sequential(ASPP(features[out_pos].out_channels, [12, 24, 36], 32),
                         nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, classes, 1))
    net, calib = randomise(DeepLabV3(backbone, head, None), 2, size, Normalise(IMAGENET_MEAN, IMAGENET_STD))
    return balance_head(net, [head[-1]], calib, 'out')


def segformer(size, classes=6):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    torch.manual_seed(3)
    cfg = SegformerConfig(num_channels=3, num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1],
                          hidden_sizes=[8, 16, 32, 48], num_attention_heads=[1, 1, 2, 2], patch_sizes=[7, 3, 3, 3],
                          strides=[4, 2, 2, 2], mlp_ratios=[2, 2, 2, 2], decoder_hidden_size=32, num_labels=classes)
    net, calib = randomise(SegformerForSemanticSegmentation(cfg), 3, size)
    return balance_head(net, [net.decode_head.classifier], calib, 'hf')


class OpZoo(nn.Module):
    """Ops the other fixtures do not use, in a small encoder–decoder."""

    def __init__(self, classes=5):
        super().__init__()
        self.stem = nn.Conv2d(3, 12, 3, stride=2, bias=True)              # asymmetric F.pad before it
        self.bn = nn.BatchNorm2d(12)
        self.dil = nn.Conv2d(12, 12, 3, padding=2, dilation=2, groups=3)
        self.down = nn.Conv2d(12, 16, 3, padding=1)
        self.fc1 = nn.Linear(16, 8)
        self.fc2 = nn.Linear(8, 16)
        self.up = nn.ConvTranspose2d(16, 12, 3, stride=2, padding=1, output_padding=1)
        self.mix = nn.Conv2d(24, 12, 1)
        self.head = nn.Conv2d(12, classes, 3, padding=1)

    def forward(self, x):
        y = F.pad(x, (0, 1, 0, 1))                                         # TF-style SAME for stride 2
        y = F.leaky_relu(self.bn(self.stem(y)), 0.1)                       # [12, H/2]
        a, b = torch.split(y, [4, 8], dim=1)
        a = torch.tanh(a)
        b = F.elu(b)
        y = torch.cat([a, b], 1)
        y = y + self.dil(F.pad(y, (1, 1, 1, 1), mode='reflect')[..., 1:-1, 1:-1])
        skip = y
        z = F.max_pool2d(F.pad(y, (1, 1, 1, 1), mode='replicate'), 3, stride=2, ceil_mode=True)
        z = F.hardtanh(self.down(z), -2.0, 2.0)                             # Clip
        s = torch.flatten(F.adaptive_max_pool2d(z, 1), 1)                  # GlobalMaxPool + Flatten
        s = s + torch.amax(z, dim=(2, 3), keepdim=True).squeeze(3).squeeze(2)  # ReduceMax + Squeeze
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))                   # Gemm
        z = z * s[:, :, None, None]
        z = z / torch.sqrt(torch.sum(z.pow(2), dim=1, keepdim=True) / 16 + 1e-3)
        z = self.up(z)                                                     # ConvTranspose
        z = z[..., : skip.shape[-2], : skip.shape[-1]]
        skip = skip + z.mean(dim=1, keepdim=True).expand(-1, skip.shape[1], -1, -1)  # Expand
        att = torch.softmax(z.mean(dim=(2, 3), keepdim=True), dim=1)
        y = self.mix(torch.cat([skip, z * att * 12 - 0.5], 1))
        y = F.interpolate(y, scale_factor=2, mode='nearest')
        return self.head(y)


def opzoo(size):
    torch.manual_seed(4)
    net, calib = randomise(OpZoo(), 4, size, lambda v: v.flip(1))
    return balance_head(net, [net.head], calib)


# ---------------------------------------------------------------- export and references

def export(graph, x, path, dynamo, opset, dynamic_batch=False, patch_pool=False):
    """One self-contained ONNX file from `graph` traced on `x`."""
    kwargs = dict(input_names=['image'], output_names=['logits'], opset_version=opset, dynamo=dynamo)
    if dynamo:
        kwargs['external_data'] = False
    elif dynamic_batch:
        # batch, height and width free (the graph computes its resize sizes from Shape)
        kwargs['dynamic_axes'] = {'image': {0: 'batch', 2: 'height', 3: 'width'}, 'logits': {0: 'batch', 2: 'h', 3: 'w'}}
    saved = F.adaptive_avg_pool2d
    if patch_pool:
        F.adaptive_avg_pool2d = adaptive_avg_pool2d_as_matmul
    try:
        with torch.no_grad():
            torch.onnx.export(graph, (x,), str(path), **kwargs)
    finally:
        F.adaptive_avg_pool2d = saved
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return model


def strip_debug_info(model):
    """Drop the per-node stack traces and doc strings the exporters embed (most of a dynamo file)."""
    for n in model.graph.node:
        del n.metadata_props[:]
        n.doc_string = ''


def set_metadata(model, path, meta):
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = f'advseg.{k}', v
    onnx.save(model, str(path))


def run_ort(path, x):
    """The file's output on `x` (one image at a time where its batch is fixed to 1)."""
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    name = sess.get_inputs()[0].name
    if sess.get_inputs()[0].shape[0] == 1 and x.shape[0] > 1:
        return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(x.shape[0])])
    return sess.run(None, {name: x})[0]


def reference(name, graph, pre, x01, out_dir, resize):
    """PyTorch's logits (every 2nd row and column: the file stays small) and input gradient."""
    x = x01.clone().requires_grad_(True)
    logits = graph(pre(x))
    full = logits
    if logits.shape[-2:] != x01.shape[-2:]:
        full = F.interpolate(logits, size=x01.shape[-2:], mode='bilinear', align_corners=(resize == 'bilinear-align-corners'))
    loss = F.cross_entropy(full, full.argmax(1))
    (grad,) = torch.autograd.grad(loss, x)
    t = logits.detach().numpy()
    # (safetensors writes an array's memory as it lies: every array made C-contiguous)
    save_file({k: np.ascontiguousarray(v) for k, v in {'x01': x01.numpy(), 'logits': t[..., ::2, ::2], 'grad_x01': grad.numpy()}.items()},
              str(out_dir / f'{name}.ref.safetensors'))
    return t


def both(name, graph, x01, out_dir, meta, pre=None, opsets=(17, 18), dynamic_batch=False, patch_pool=False,
         meta_dynamo=None, graph_dynamo=None, pre_dynamo=None):
    """Export `graph` with both exporters; one reference (PyTorch) for both files, each file's
    onnxruntime output checked against it."""
    identity = lambda v: v
    resize = (meta or {}).get('output_resize', 'bilinear')
    ref = reference(name, graph.eval(), pre or identity, x01, out_dir, resize)
    for dynamo, opset in ((False, opsets[0]), (True, opsets[1])):
        g = (graph_dynamo if (dynamo and graph_dynamo is not None) else graph).eval()
        p = (pre_dynamo if dynamo and pre_dynamo is not None else pre) or identity
        m = meta_dynamo if dynamo and meta_dynamo is not None else meta
        tag = f'{name}_{"dynamo" if dynamo else "ts"}'
        path = out_dir / f'{tag}.onnx'
        model = export(g, p(x01[:1]), path, dynamo, opset, dynamic_batch=dynamic_batch and not dynamo,
                       patch_pool=patch_pool and not dynamo)
        strip_debug_info(model)
        set_metadata(model, path, m or {})
        ops = sorted({n.op_type for n in onnx.load(str(path)).graph.node})
        got = run_ort(path, p(x01).detach().numpy().astype(np.float32))
        err = np.abs(got - ref).max()
        print(f'{tag}.onnx  {path.stat().st_size / 1e6:.2f} MB  opset {opset}  |ort - torch| {err:.1e}  ops {" ".join(ops)}')
        assert err < 1e-4, f'{tag}: onnxruntime and PyTorch differ by {err}'


def bad_external(out_dir):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1)).eval()
    path = out_dir / 'bad_external.onnx'
    with torch.no_grad():
        torch.onnx.export(net, (torch.rand(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17)
    model = onnx.load(str(path))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location='bad_external.onnx.data', size_threshold=0)
    (out_dir / 'bad_external.onnx.data').unlink()
    print('bad_external.onnx (its external data file removed)')


def bad_graphs(out_dir):
    """Small hand-made graphs the loader must refuse with a clear message."""
    from onnx import TensorProto, helper
    image = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 16, 16])
    flat = helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1, 768])
    g = helper.make_graph([helper.make_node('Flatten', ['image'], ['scores'], axis=1, name='flatten')],
                          'bad_output', [image], [flat])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)]), str(out_dir / 'bad_output.onnx'))
    consts = [helper.make_tensor('starts', TensorProto.INT64, [1], [0]),
              helper.make_tensor('axes', TensorProto.INT64, [1], [3]),
              helper.make_tensor('one', TensorProto.INT64, [1], [1])]
    nodes = [helper.make_node('ReduceMax', ['image'], ['peak'], keepdims=0, name='peak'),
             helper.make_node('Mul', ['peak', 'sixteen'], ['scaled'], name='scale'),
             helper.make_node('Cast', ['scaled'], ['end'], to=TensorProto.INT64, name='to_int'),
             helper.make_node('Reshape', ['end', 'one'], ['ends'], name='as_list'),
             helper.make_node('Slice', ['image', 'starts', 'ends', 'axes'], ['cut'], name='cut_by_brightness')]
    consts.append(helper.make_tensor('sixteen', TensorProto.FLOAT, [], [16.0]))
    out = helper.make_tensor_value_info('cut', TensorProto.FLOAT, [1, 3, 16, None])
    g = helper.make_graph(nodes, 'bad_dynamic', [image], [out], initializer=consts)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)]), str(out_dir / 'bad_dynamic.onnx'))
    print('bad_output.onnx, bad_dynamic.onnx')


def resize_modes(out_dir):
    """One Resize per mode (linear and nearest, every coordinate transformation, every nearest
    rounding, sizes and scales) of a 16x16 image to 24x20, concatenated; the reference is
    onnxruntime's output (full, no gradient: resizes are linear)."""
    from onnx import TensorProto, helper
    image = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 16, 16])
    inits = [helper.make_tensor('sizes', TensorProto.INT64, [4], [1, 3, 24, 20]),
             helper.make_tensor('scales', TensorProto.FLOAT, [4], [1.0, 1.0, 1.5, 1.25])]
    modes = [('linear', 'half_pixel', 'floor', 'sizes'), ('linear', 'pytorch_half_pixel', 'floor', 'sizes'),
             ('linear', 'align_corners', 'floor', 'sizes'), ('linear', 'asymmetric', 'floor', 'sizes'),
             ('linear', 'half_pixel', 'floor', 'scales'), ('nearest', 'half_pixel', 'round_prefer_floor', 'sizes'),
             ('nearest', 'tf_half_pixel_for_nn', 'round_prefer_ceil', 'sizes'), ('nearest', 'asymmetric', 'floor', 'scales'),
             ('nearest', 'align_corners', 'ceil', 'sizes')]
    nodes, outs = [], []
    for i, (mode, coord, near, by) in enumerate(modes):
        ins = ['image', '', 'scales'] if by == 'scales' else ['image', '', '', 'sizes']
        nodes.append(helper.make_node('Resize', ins, [f'r{i}'], mode=mode, coordinate_transformation_mode=coord,
                                      nearest_mode=near, name=f'{mode}_{coord}_{near}_{by}'))
        outs.append(f'r{i}')
    nodes.append(helper.make_node('Concat', outs, ['scores'], axis=1, name='all'))
    out = helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1, 3 * len(modes), 24, 20])
    g = helper.make_graph(nodes, 'resize_modes', [image], [out], initializer=inits)
    path = out_dir / 'resize_modes.onnx'
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 18)]), str(path))
    x = voc_batch(16, 16, ('294',)).numpy()
    y = run_ort(path, x)
    save_file({'x01': np.ascontiguousarray(x), 'logits': np.ascontiguousarray(y)}, str(out_dir / 'resize_modes.ref.safetensors'))
    print(f'resize_modes.onnx: {len(modes)} modes')


def more_ops_graph(opset=21):
    from onnx import TensorProto as T, helper as h, numpy_helper as nh
    rng = np.random.default_rng(0)
    inits, nodes, outs = [], [], []
    def const(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name)); return name
    def node(op, ins, out, **kw):
        nodes.append(h.make_node(op, ins, [out] if isinstance(out, str) else out, name=kw.pop('name', out if isinstance(out, str) else out[0]), **kw)); return out
    def emit(name):  # a [1, c, 16, 16] result
        outs.append(name)
    x = 'image'
    const('one', np.array(1.0, np.float32)); const('half', np.array(0.5, np.float32)); const('ten', np.array(10.0, np.float32)); const('four', np.array(4.0, np.float32))
    node('Sub', [x, 'half'], 'xc')
    node('Add', [x, 'one'], 'x1')
    # normalisations
    const('s3', rng.uniform(0.5, 1.5, 3).astype(np.float32)); const('b3', rng.normal(0, .1, 3).astype(np.float32))
    emit(node('InstanceNormalization', [x, 's3', 'b3'], 'instnorm', epsilon=1e-3))
    # elementwise
    for op, src in [('Exp', 'xc'), ('Log', 'x1'), ('Softplus', 'xc'), ('Softsign', 'xc'), ('Mish', 'xc'), ('Selu', 'xc'),
                    ('Sign', 'xc'), ('Reciprocal', 'x1'), ('Abs', 'xc'), ('Neg', 'xc')]:
        emit(node(op, [src], op.lower()))
    emit(node('Celu', ['xc'], 'celu', alpha=0.7))
    emit(node('ThresholdedRelu', [x], 'threlu', alpha=0.5))
    emit(node('Elu', ['xc'], 'elu', alpha=0.7))
    emit(node('HardSigmoid', ['xc'], 'hsig', alpha=0.3, beta=0.4))
    emit(node('Gelu', ['xc'], 'gelu_tanh', approximate='tanh'))
    node('Mul', [x, 'four'], 'x4')
    for op in ('Floor', 'Ceil', 'Round'):
        emit(node(op, ['x4'], op.lower()))
    node('Mul', [x, 'ten'], 'x10'); const('three', np.array(3.0, np.float32))
    emit(node('Mod', ['x10', 'three'], 'mod', fmod=1))
    const('lo', np.array(0.3, np.float32))
    emit(node('Clip', [x, 'lo'], 'clipmin'))
    # variadic
    node('Transpose', [x], 'xt', perm=[0, 1, 3, 2])
    for op in ('Max', 'Min', 'Sum', 'Mean'):
        emit(node(op, [x, 'xt', 'xc'], op.lower() + '3'))
    emit(node('LogSoftmax', [x], 'logsoftmax', axis=1))
    # reductions to [1, 1, 16, 16]
    for op in ('ReduceL2', 'ReduceSumSquare', 'ReduceMin', 'ReduceMax'):
        emit(node(op, [x, const(op + '_axes', np.array([1], np.int64))], op.lower(), keepdims=1))
    # GatherElements along W
    emit(node('GatherElements', [x, const('ge_idx', rng.integers(-16, 16, (1, 3, 16, 16)).astype(np.int64))], 'gatherel', axis=3))
    # DepthToSpace / SpaceToDepth / Tile / Slice
    node('Concat', [x, 'xc', 'x1', 'xt'], 'x12', axis=1)
    node('DepthToSpace', ['x12'], 'd2s', blocksize=2, mode='CRD')
    node('SpaceToDepth', ['d2s'], 's2d', blocksize=2)
    emit(node('Slice', ['s2d', const('sl_s', np.array([3], np.int64)), const('sl_e', np.array([9], np.int64)), const('sl_a', np.array([1], np.int64))], 's2d_part'))
    node('DepthToSpace', ['x12'], 'd2s_dcr', blocksize=2, mode='DCR')
    node('AveragePool', ['d2s_dcr'], 'd2s_pool', kernel_shape=[2, 2], strides=[2, 2])
    emit('d2s_pool')
    node('Tile', [x, const('reps', np.array([1, 1, 2, 2], np.int64))], 'tiled')
    emit(node('Slice', ['tiled', const('t_s', np.array([8, 8], np.int64)), const('t_e', np.array([24, 24], np.int64)), const('t_a', np.array([2, 3], np.int64))], 'tile_part'))
    # Split in 3 (opset 18+: num_outputs)
    node('Split', [x], ['sp0', 'sp1', 'sp2'], axis=1, num_outputs=3)
    emit(node('Concat', ['sp2', 'sp0', 'sp1'], 'split_rot', axis=1))
    # batched MatMul and a Gemm with alpha / beta (kept a Gemm)
    emit(node('MatMul', [x, 'xt'], 'bmm'))
    node('Reshape', [x, const('to48', np.array([48, 16], np.int64))], 'x48')
    node('Gemm', ['x48', const('gB', rng.normal(0, .3, (16, 16)).astype(np.float32)), const('gC', rng.normal(0, .1, 16).astype(np.float32))], 'gemm', alpha=0.5, beta=2.0)
    emit(node('Reshape', ['gemm', const('back', np.array([1, 3, 16, 16], np.int64))], 'gemm4'))
    # SAME_UPPER strided conv with a 3x2 kernel, nearest x2 back; MaxPool SAME_LOWER; AveragePool without the pads
    node('Conv', [x, const('cw', rng.normal(0, .3, (4, 3, 3, 2)).astype(np.float32)), const('cb', rng.normal(0, .1, 4).astype(np.float32))], 'conv_same', auto_pad='SAME_UPPER', strides=[2, 2])
    node('Resize', ['conv_same', '', const('sc2', np.array([1, 1, 2, 2], np.float32))], 'conv_up', mode='nearest')
    emit('conv_up')
    emit(node('MaxPool', [x], 'maxpool_same', kernel_shape=[3, 3], auto_pad='SAME_LOWER'))
    emit(node('AveragePool', [x], 'avg_nopad', kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0))
    # ConvTranspose with output_shape
    node('ConvTranspose', [x, const('tw', rng.normal(0, .3, (3, 2, 3, 3)).astype(np.float32))], 'tconv', strides=[2, 2], output_shape=[31, 31])
    node('Slice', ['tconv', const('tc_s', np.array([0, 0], np.int64)), const('tc_e', np.array([16, 16], np.int64)), const('tc_a', np.array([2, 3], np.int64))], 'tconv_part')
    emit('tconv_part')
    # edge / reflect pads then a crop back
    for mode in ('edge', 'reflect'):
        node('Pad', [x, const('p_' + mode, np.array([0, 0, 2, 1, 0, 0, 0, 3], np.int64))], 'pad_' + mode, mode=mode)
        emit(node('Slice', ['pad_' + mode, const('ps_' + mode, np.array([0, 3], np.int64)), const('pe_' + mode, np.array([16, 19], np.int64)), const('pa_' + mode, np.array([2, 3], np.int64))], 'padcrop_' + mode))
    # shape arithmetic on the host: a column ramp, odd columns masked out (Range, Cast, Not, Equal, Mod, Where, Expand)
    node('Shape', [x], 'shp'); node('Gather', ['shp', const('i3', np.array(3, np.int64))], 'w')
    node('Range', [const('r0', np.array(0, np.int64)), 'w', const('r1', np.array(1, np.int64))], 'cols')
    node('Mod', ['cols', const('two_i', np.array(2, np.int64))], 'parity')
    node('Equal', ['parity', const('zero_i', np.array(0, np.int64))], 'even')
    node('Not', ['even'], 'odd')
    node('Cast', ['cols'], 'colsf', to=T.FLOAT)
    node('Where', ['odd', const('zf', np.array(0.0, np.float32)), 'colsf'], 'ramp')
    node('Mul', [x, 'ramp'], 'ramped')
    emit('ramped')
    node('Expand', ['ramp', const('exp_shape', np.array([1, 2, 16, 16], np.int64))], 'ramp4')
    emit('ramp4')
    nodes.append(h.make_node('Concat', outs, ['scores'], axis=1, name='all'))
    image = h.make_tensor_value_info('image', T.FLOAT, [1, 3, 16, 16])
    out = h.make_tensor_value_info('scores', T.FLOAT, [1, None, 16, 16])
    g = h.make_graph(nodes, 'more_ops', [image], [out], initializer=inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid('', opset)])
    onnx.checker.check_model(m)
    return m



def more_ops(out_dir):
    """The operators and settings no network fixture has, each on the image, concatenated into
    one [1, 129, 16, 16] output; the reference is onnxruntime's output (no gradient)."""
    path = out_dir / 'more_ops.onnx'
    onnx.save(more_ops_graph(), str(path))
    x = voc_batch(16, 16, ('294',)).numpy()
    y = run_ort(path, x)
    save_file({'x01': np.ascontiguousarray(x), 'logits': np.ascontiguousarray(y)}, str(out_dir / 'more_ops.ref.safetensors'))
    print(f'more_ops.onnx: {y.shape[1]} channels')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=str(ROOT / 'tests/fixtures/onnx'))
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    voc_meta = {'dataset': 'voc'}

    esp = espnetv2('0.5')
    x = voc_batch(96, 96, names=('294',))
    both('espnetv2_s0.5', Graph(esp, Normalise(IMAGENET_MEAN, IMAGENET_STD)), x, out,
         meta={**voc_meta, 'name': 'espnetv2-s0.5-onnx'},
         meta_dynamo={**voc_meta, 'mean': ','.join(map(str, IMAGENET_MEAN)), 'std': ','.join(map(str, IMAGENET_STD))},
         graph_dynamo=Graph(esp), pre_dynamo=Normalise(IMAGENET_MEAN, IMAGENET_STD), patch_pool=True)

    x = voc_batch(64, 64, names=('294',))
    inet = {'mean': ','.join(map(str, IMAGENET_MEAN)), 'std': ','.join(map(str, IMAGENET_STD))}
    both('lraspp_mnv3', Graph(lraspp_mnv3(64), key='out'), x, out, meta={**inet, 'size': '64x64'},
         pre=Normalise(IMAGENET_MEAN, IMAGENET_STD), pre_dynamo=Normalise(IMAGENET_MEAN, IMAGENET_STD),
         dynamic_batch=True)
    both('deeplabv3_mnv3', Graph(deeplabv3_mnv3(64), key='out'), x, out,
         meta={'classes': 'background,sky,road,person,car,tree', 'range': '0-255', 'mean': '123.675,116.28,103.53',
               'std': '58.395,57.12,57.375'},
         pre=lambda v: (v * 255 - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1))
         / torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1))
    both('segformer', Graph(segformer(64), key='hf'), voc_batch(64, 64, names=('294',)), out, meta=None, opsets=(17, 20))
    both('opzoo', Graph(opzoo(48)), voc_batch(48, 48, names=('294',)), out, meta={'channels': 'BGR'},
         pre=lambda v: v.flip(1), opsets=(17, 18))
    bad_external(out)
    bad_graphs(out)
    resize_modes(out)
    more_ops(out)

    if os.environ.get('ESPNETV2_FULL'):
        full = Path(os.environ.get('FULL_OUT', ROOT / 'out/onnx'))
        full.mkdir(parents=True, exist_ok=True)
        big = espnetv2('2.0')
        xb = voc_batch(384, 384, names=('294',))
        for dynamo in (False, True):
            path = full / f'espnetv2_s2.0_{"dynamo" if dynamo else "ts"}.onnx'
            m = export(Graph(big, Normalise(IMAGENET_MEAN, IMAGENET_STD)), xb, path, dynamo, 18 if dynamo else 17,
                       patch_pool=not dynamo)
            set_metadata(m, path, {'dataset': 'voc'})
            print(f'{path} {path.stat().st_size / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
