#!/usr/bin/env python3
"""The authors' SEA on advseg's networks and images, for the side-by-side table in docs/results.md.

SEA (Croce, Singh & Hein, "Towards Reliable Evaluation and Fast Training of Robust Semantic
Segmentation Models", ECCV 2024) is run with the authors' own code from
github.com/nmndeep/Robust-Segmentation, imported from a checkout given by ROBSEG_SRC (never
copied into this repository):

  semseg/attacker.py   apgd_largereps (APGD with the radius schedule 2e -> 1.5e -> e over
                       0.3/0.3/0.4 of the iterations) and the losses mask-ce-bal, mask-ce-avg, js-avg
  semseg/utils/utils.py  VOC_WTS, the fixed VOC class weights of mask-ce-bal
  tools/infer.py       eval_performance and evaluate (how SEA is driven), read from the file and run
                       unchanged except for the device string "cuda"
  tools/worse_only.py  evalSEA: worse_case_eval (per image the lowest accuracy, mean over images)
                       and worst_case_miou (greedy per-image choice that lowers the pooled mIoU)

Settings as in tools/infer.py: L-inf, use_rs=True (random start), track_loss="ce-avg",
early_stop=True, n_restarts=1, ground truth as labels, one attack per loss in the order
mask-ce-bal, mask-ce-avg, js-avg. Images are preprocessed as advseg does: Pillow bilinear resize
to the model input, [0, 1] floats (ToTensor), labels nearest-resized to the same size with
255 (void) -> -1 (the authors' ignore_index). The attack is real-valued (no 8-bit rounding).

Scores: "input" = at the model input size (what the authors' code computes on its batches),
"label" = the prediction nearest-resized to the label's size, as advseg's CLI scores (the
authors' functions run on maps padded to one size with ignored pixels, which changes nothing).

Usage (needs torch, numpy, pillow, safetensors, onnx, rich, tqdm, pyyaml; CPU is fine):
  ROBSEG_SRC=/path/to/Robust-Segmentation AUTOATTACK_SRC=/path/to/auto-attack \
  EDGENETS_SRC=/path/to/EdgeNets ADVSEG_SHARED=../shared \
  python scripts/sea_reference.py --model deeplabv3-mnv2-voc --eps 0.5/255,1/255 --iters 50 \
      --images ../shared/fixtures/images/voc --out sea_dl_50.json

AUTOATTACK_SRC: a folder holding the `autoattack` package (github.com/fra31/auto-attack, the commit
pinned in the authors' requirements.txt); not needed where `import autoattack` already works.
EDGENETS_SRC (github.com/sacmehta/EdgeNets) is needed for the ESPNetv2 models only. The networks
are built by ADVSEG_SHARED/bench/torch_reference.py (weights from ADVSEG_SHARED/weights).
Prints a table (stdout; the authors' own prints go to stderr) and writes the JSON given by --out;
beside it OUT.work/ holds predictions.pt (argmax maps at the input size: clean, and per eps and
loss) and test_results/ (the per-image stats files of their worst_case_miou). Not part of CI.
See docs/sea_reference.md for what was measured and how the authors' code was obtained.
"""
import argparse
import ast
import contextlib
import importlib
import json
import os
import random
import resource
import sys
import time
import types
from pathlib import Path

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # spin-waiting OpenMP threads stall a busy machine
import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
LOSSES = ['mask-ce-bal', 'mask-ce-avg', 'js-avg']  # the authors' "standard-SEA attacks", in their order
MODELS = {  # zoo name -> (torch_reference builder, input W x H, classes)
    'deeplabv3-mnv2-voc': ('deeplab', (257, 257), 21),
    'espnetv2-voc': ('espnetv2', (384, 384), 21),
    'espnetv2-voc-s1.0': ('espnetv2-1.0', (384, 384), 21),
    'espnetv2-voc-s0.5': ('espnetv2-0.5', (384, 384), 21),
}
INFER_FUNCTIONS = ['eval_performance', 'evaluate', 'check_imgs']


# ---------------------------------------------------------------- the authors' code, imported

def load_authors(robseg, autoattack_src, device):
    """The authors' modules, imported from their checkout without running their package
    __init__ files (semseg/__init__.py imports their whole model zoo: timm, einops, ...)."""
    robseg = Path(robseg)
    for f in ['semseg/attacker.py', 'semseg/utils/utils.py', 'tools/infer.py', 'tools/worse_only.py',
              'semseg/datasets/dataset_wrappers.py']:
        if not (robseg / f).is_file():
            sys.exit(f'ROBSEG_SRC={robseg}: {f} missing (a checkout of nmndeep/Robust-Segmentation)')
    if autoattack_src:
        sys.path.insert(0, str(autoattack_src))
    try:
        importlib.import_module('autoattack.other_utils')
    except ImportError as e:
        sys.exit(f'cannot import autoattack.other_utils ({e}): set AUTOATTACK_SRC to a folder holding '
                 'the autoattack package of github.com/fra31/auto-attack')
    for name in ['semseg', 'semseg.datasets', 'semseg.utils', 'tools']:
        shell = types.ModuleType(name)
        shell.__path__ = [str(robseg / name.replace('.', '/'))]
        sys.modules[name] = shell
    attacker = importlib.import_module('semseg.attacker')
    utils = importlib.import_module('semseg.utils.utils')
    worse_only = importlib.import_module('tools.worse_only')
    infer = infer_functions(robseg / 'tools/infer.py', device)
    return types.SimpleNamespace(attacker=attacker, VOC_WTS=utils.VOC_WTS, worse_only=worse_only,
                                 **infer)


def top_level_defs(path):
    """The top-level `def` blocks of a file, each from its `def` line to the next top-level line.
    (tools/infer.py's __main__ block uses Python 3.12 f-strings that older Pythons cannot parse;
    its functions parse everywhere.)"""
    lines = Path(path).read_text().splitlines(keepends=True)
    out, keep = [], False
    for line in lines:
        top = line[:1] not in ('', ' ', '\t', '\n', '#', ')')
        if top:
            keep = line.startswith('def ')
        if keep:
            out.append(line)
    return ''.join(out)


def infer_functions(path, device):
    """eval_performance, evaluate and check_imgs from tools/infer.py, executed as written except
    that the string constant "cuda" (their hard-coded device) becomes `device`. The module itself
    is not imported: its top level imports their model zoo and the relative `.worse_only`."""
    found = [n for n in ast.parse(top_level_defs(path), str(path)).body
             if isinstance(n, ast.FunctionDef) and n.name in INFER_FUNCTIONS]
    missing = set(INFER_FUNCTIONS) - {n.name for n in found}
    if missing:
        sys.exit(f'{path}: functions {sorted(missing)} not found (not the 2024 tools/infer.py?)')

    class Device(ast.NodeTransformer):
        swapped = 0

        def visit_Constant(self, node):
            if node.value == 'cuda':
                Device.swapped += 1
                return ast.copy_location(ast.Constant(device), node)
            return node

    mod = ast.fix_missing_locations(ast.Module(body=[Device().visit(n) for n in found], type_ignores=[]))
    from tqdm import tqdm
    ns = {'torch': torch, 'tqdm': tqdm}
    exec(compile(mod, str(path), 'exec'), ns)
    return {k: ns[k] for k in INFER_FUNCTIONS} | {'cuda_swapped': Device.swapped}


# ---------------------------------------------------------------- networks and images

def load_model(name, device):
    shared = Path(os.environ.get('ADVSEG_SHARED', REPO.parent / 'shared'))
    sys.path.insert(0, str(shared / 'bench'))
    tr = importlib.import_module('torch_reference')
    kind, (w, h), _ = MODELS[name]
    if kind == 'deeplab':
        net = tr.load_deeplab()
    else:
        if not os.environ.get('EDGENETS_SRC'):
            sys.exit('EDGENETS_SRC must name a checkout of github.com/sacmehta/EdgeNets for ESPNetv2')
        with contextlib.redirect_stdout(sys.stderr):  # EdgeNets prints a warning on stdout
            net = tr.load_espnetv2(kind.split('-')[1] if '-' in kind else '2.0', 'pascal')
    net = net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        out = net(torch.zeros(1, 3, h, w, device=device))
    if tuple(out.shape[-2:]) != (h, w):
        sys.exit(f'{name}: output {tuple(out.shape)} is not at the input size {h}x{w}')
    return net


class Items(torch.utils.data.Dataset):
    """(image, target, name) triples, as the authors' VOC datasets yield them."""

    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def load_images(folder, size):
    """NAME.png + NAME_label.png pairs sorted by image name (as advseg lists them); the image
    resized with Pillow's bilinear filter to `size` (W, H) and scaled to [0, 1] (ToTensor);
    labels nearest-resized to `size`, 255 -> -1. Also returns the labels at their own size."""
    names = sorted(p.name for p in Path(folder).iterdir()
                   if p.suffix.lower() in ('.png', '.jpg', '.jpeg') and not p.stem.endswith('_label')
                   and (p.parent / f'{p.stem}_label.png').is_file())
    if not names:
        sys.exit(f'no NAME.png + NAME_label.png pairs in {folder}')
    items, full = [], []
    for n in names:
        img = Image.open(Path(folder) / n).convert('RGB').resize(size, Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)
        lab = Image.open(Path(folder) / f'{Path(n).stem}_label.png')
        if lab.mode not in ('P', 'L'):
            sys.exit(f'{n}: label PNG mode {lab.mode}, expected class indices (P or L)')
        small = torch.from_numpy(np.asarray(lab.resize(size, Image.NEAREST)).astype(np.int64))
        big = torch.from_numpy(np.asarray(lab).astype(np.int64))
        small[small == 255] = -1
        big[big == 255] = -1
        items.append((x, small, Path(n).stem))
        full.append(big)
    return items, full


def to_label_size(preds, labels):
    """Raw predictions nearest-resized (Pillow, as advseg's CLI) to each label's size, then, as
    their eval_performance does in place, set to -1 on void pixels; predictions and labels padded
    with -1 (ignored by the authors' scoring) to one size so that their functions can stack them."""
    hm = max(l.shape[0] for l in labels)
    wm = max(l.shape[1] for l in labels)
    P = torch.full((len(labels), hm, wm), -1, dtype=torch.int64)
    T = torch.full((len(labels), hm, wm), -1, dtype=torch.int64)
    for i, (p, l) in enumerate(zip(preds, labels)):
        h, w = l.shape
        up = Image.fromarray(p.numpy().astype(np.uint8)).resize((w, h), Image.NEAREST)
        P[i, :h, :w] = torch.from_numpy(np.asarray(up).astype(np.int64))
        T[i, :h, :w] = l
    P[T == -1] = -1
    return P, T


def raw_predictions(net, x, bs, device, check=None, targets=None):
    """argmax maps of `net` on `x`; `check` (their eval_performance output, which holds -1 on void
    pixels) must agree with them on every labelled pixel."""
    with torch.no_grad():
        out = torch.cat([net(x[i:i + bs].to(device)).argmax(1).cpu() for i in range(0, len(x), bs)])
    if check is not None:
        lab = targets != -1
        assert torch.equal(out[lab], check[lab]), 'raw predictions differ from eval_performance'
    return out


# ---------------------------------------------------------------- scoring with their functions

def per_image_acc(preds, targets, n_cls):
    """Pixel accuracy of each image over its labelled pixels (worse_case_eval's final_acc_1 row)."""
    out = []
    for p, t in zip(preds, targets):
        ok = (t >= 0) & (t < n_cls)
        out.append(float(((p == t) & ok).sum()) / float(ok.sum()))
    return out


def pooled(A, preds, targets, n_cls):
    """Pooled pixel accuracy and mIoU over the batch with the authors' compute_iou_acc."""
    _, a_acc, m_iou = A.attacker.compute_iou_acc(preds.clone(), targets.clone(), n_cls)
    return float(a_acc), float(m_iou)


def greedy_choice(A, cons_ints, cons_unions, aligned=False):
    """worst_case_miou's greedy loop, step for step with their helpers, to learn which attack it
    keeps per image (their code computes the list but does not return it). Call with Python's
    `random` in the state their call started from: the result must equal their final_miou.

    Their `_compute_miou_subtraction` returns only the classes whose running union is non-zero,
    so on a set of images where some class is neither labelled nor predicted, the running lists
    shrink after the first swap and later updates are added to the wrong classes (`zip`
    truncates). On their full validation sets every class occurs and nothing shifts. With
    `aligned=True` the same loop keeps all classes in place (mIoU over classes with a non-zero
    union): the number their greedy is meant to give on a small set."""
    wo = A.worse_only
    n_img, n_cls = cons_ints.shape[1], cons_ints.shape[2]
    run_i = [cons_ints[0, :, c].sum() for c in range(n_cls)]
    run_u = [cons_unions[0, :, c].sum() for c in range(n_cls)]
    final = wo._compute_miou(run_i, run_u)
    sel = [0] * n_img
    prev_best = 10
    for _ in range(1000):
        order = list(range(n_img))
        random.shuffle(order)
        for idx in order:
            for attack in range(cons_ints.size(0)):
                ui = cons_ints[attack, idx, :] - cons_ints[sel[idx], idx, :]
                uu = cons_unions[attack, idx, :] - cons_unions[sel[idx], idx, :]
                if aligned:
                    ni = (torch.tensor(run_i) + ui).tolist()
                    nu = (torch.tensor(run_u) + uu).tolist()
                    est = float(np.mean([a / b for a, b in zip(ni, nu) if b > 0]))
                else:
                    est, ni, nu = wo._compute_miou_subtraction(torch.tensor(run_i), torch.tensor(run_u),
                                                                torch.tensor(ui), torch.tensor(uu))
                if est < final:
                    sel[idx], run_i, run_u = attack, ni, nu
            final = wo._compute_miou(torch.tensor(run_i), torch.tensor(run_u))
        if prev_best - final <= 1e-6:
            break
        prev_best = final
        final = wo._compute_miou(torch.tensor(run_i), torch.tensor(run_u))
    return sel, final, len(run_i)


def worst_case(A, loss_preds, targets, n_cls, bs, save_dir, tag):
    """The authors' evalSEA (worse_case_eval, then worst_case_miou) on stacked predictions,
    plus: per-image accuracies and winners, the pooled accuracy / mIoU of the per-image
    lowest-accuracy choice, and the greedy choice (replayed) re-scored as one pooled mIoU."""
    wo = A.worse_only
    data = Items([(torch.zeros(1), t, str(i)) for i, t in enumerate(targets)])
    (Path(save_dir) / 'test_results').mkdir(parents=True, exist_ok=True)  # where worst_case_miou saves
    save = {'seed': wo.SEED, 'worst_Acc': 0, 'worst_Acc_indiv': 0, 'final_miou': 0}
    ev = wo.evalSEA(val_data=data, l_outs=list(loss_preds), eps=tag, n_cls=n_cls, addendum='SEA_' + tag,
                    saveDir=str(save_dir), saveDict=save, modelName=tag)
    with contextlib.redirect_stdout(sys.stderr):
        ev.worse_case_eval(bs=bs, n_batches=-1)
        random.seed(wo.SEED)  # a fresh process of theirs: worse_only seeds `random` at import
        state = random.getstate()
        ev.worst_case_miou()
    stats = torch.load(Path(save_dir) / 'test_results' / f'stats_SEA_{tag}_{tag}.pt')
    random.setstate(state)
    sel, replay, n_kept = greedy_choice(A, stats['run_int_imwise'], stats['run_union_imwise'])
    random.setstate(state)
    sel_al, final_al, _ = greedy_choice(A, stats['run_int_imwise'], stats['run_union_imwise'], aligned=True)
    if abs(replay - save['final_miou']) > 1e-9:
        sys.exit(f'greedy replay {replay} != their final_miou {save["final_miou"]}')
    accs = np.array([per_image_acc(p, targets, n_cls) for p in loss_preds])  # losses x images
    low = accs.argmin(0)
    if abs(accs.min(0).mean() - save['worst_Acc']) > 1e-5:
        sys.exit(f'per-image accuracy {accs.min(0).mean()} != their worst_Acc {save["worst_Acc"]}')
    pick = lambda choice: torch.stack([loss_preds[c][i] for i, c in enumerate(choice)])
    low_acc, low_miou = pooled(A, pick(low), targets, n_cls)
    gr_acc, gr_miou = pooled(A, pick(sel), targets, n_cls)
    al_acc, al_miou = pooled(A, pick(sel_al), targets, n_cls)
    return {
        'image_mean_acc': save['worst_Acc'],  # their "SEA evaluated Acc": mean of per-image minima
        'lowest_acc_choice': {'pooled_acc': low_acc, 'miou': low_miou,
                              'winner': [LOSSES[c] for c in low]},
        'greedy_miou_choice': {'their_final_miou': save['final_miou'], 'pooled_acc': gr_acc,
                               'miou_rescored': gr_miou, 'winner': [LOSSES[c] for c in sel],
                               'classes_left_in_running_stats': n_kept},
        'greedy_miou_aligned': {'pooled_acc': al_acc, 'miou': al_miou, 'loop_miou': final_al,
                                'winner': [LOSSES[c] for c in sel_al]},
        'per_image_acc': {LOSSES[k]: accs[k].tolist() for k in range(len(loss_preds))},
    }


# ---------------------------------------------------------------- one run

def parse_eps(text):
    out = []
    for part in text.split(','):
        part = part.strip()
        num, _, den = part.partition('/')
        out.append((part, float(num) / float(den) if den else float(num)))
    return out


def run_eps(A, net, items, full_labels, eps_name, eps, iters, n_cls, bs, device, seed, save_dir):
    loader = torch.utils.data.DataLoader(Items(items), batch_size=bs, shuffle=False, num_workers=0)
    targets = torch.stack([t for _, t, _ in items])
    weights = torch.tensor(A.VOC_WTS)
    args = argparse.Namespace(norm='Linf')
    torch.manual_seed(seed)  # their infer.py leaves torch's global RNG unseeded; one seed per run here
    out = {'eps': eps_name, 'eps_value': eps, 'iters_per_loss': iters, 'seed': seed, 'losses': {}}
    preds, raws = [], []
    for loss in LOSSES:
        attack_fn = lambda model, x, y, w, loss=loss: A.attacker.apgd_largereps(
            model, x, y, w, norm='Linf', eps=eps, n_iter=iters, n_restarts=1, use_rs=True,
            loss=loss, verbose=False, track_loss='ce-avg', log_path=None, num_classes=n_cls,
            early_stop=True)
        t0 = time.time()
        with contextlib.redirect_stdout(sys.stderr):
            adv = A.evaluate(loader, net, attack_fn, -1, args, weights)
            stats, l_outs = A.eval_performance(net, adv, -1, n_cls=n_cls, ignore_index=-1)
        wall = time.time() - t0
        x_clean = torch.stack([x for x, _, _ in items])
        x_adv = torch.cat([x for x, _ in adv])
        linf = float((x_adv - x_clean).abs().amax())
        raw = raw_predictions(net, x_adv, bs, device, l_outs, targets)
        P, T = to_label_size(raw, full_labels)
        acc_l, miou_l = pooled(A, P, T, n_cls)
        acc_i, miou_i = pooled(A, l_outs, targets, n_cls)
        assert abs(acc_i - stats['aAcc']) < 1e-6 and abs(miou_i - stats['mIoU']) < 1e-6, (stats, acc_i, miou_i)
        out['losses'][loss] = {'input': {'acc': stats['aAcc'], 'miou': stats['mIoU'], 'macc': stats['mAcc']},
                               'label': {'acc': acc_l, 'miou': miou_l},
                               'linf': linf, 'linf_x255': linf * 255, 'wall_s': wall,
                               'loadavg_after': os.getloadavg()[0]}
        print(f'  {loss:12s} acc {stats["aAcc"]:.4f} mIoU {stats["mIoU"]:.4f}  L-inf {linf * 255:.4f}/255'
              f'  {wall:.1f} s', file=sys.stderr)
        preds.append(l_outs)
        raws.append(raw)
    P_all = [to_label_size(p, full_labels)[0] for p in raws]
    _, T_full = to_label_size(raws[0], full_labels)
    out['worst_case'] = {
        'input': worst_case(A, preds, targets, n_cls, bs, save_dir, f'{eps_name.replace("/", "_")}_in'),
        'label': worst_case(A, P_all, T_full, n_cls, bs, save_dir, f'{eps_name.replace("/", "_")}_lab'),
    }
    out['wall_s'] = sum(v['wall_s'] for v in out['losses'].values())
    return out, {loss: r.to(torch.uint8) for loss, r in zip(LOSSES, raws)}


def clean_scores(A, net, items, full_labels, n_cls, bs, device):
    loader = torch.utils.data.DataLoader(Items(items), batch_size=bs, shuffle=False, num_workers=0)
    with contextlib.redirect_stdout(sys.stderr):
        stats, preds = A.eval_performance(net, loader, -1, n_cls=n_cls, ignore_index=-1)
    targets = torch.stack([t for _, t, _ in items])
    raw = raw_predictions(net, torch.stack([x for x, _, _ in items]), bs, device, preds, targets)
    P, T = to_label_size(raw, full_labels)
    acc_l, miou_l = pooled(A, P, T, n_cls)
    return raw.to(torch.uint8), {'input': {'acc': stats['aAcc'], 'miou': stats['mIoU'], 'macc': stats['mAcc']},
            'label': {'acc': acc_l, 'miou': miou_l},
            'per_image_acc': per_image_acc(preds, targets, n_cls)}


# ---------------------------------------------------------------- table

def table(res):
    lines = []
    c = res['clean']
    lines.append(f"{res['model']}  {len(res['images'])} images  torch {res['torch']} threads {res['threads']}"
                 f"  device {res['device']}")
    lines.append(f"clean: at input size acc {c['input']['acc']:.4f} mIoU {c['input']['miou']:.4f};"
                 f" at label size acc {c['label']['acc']:.4f} mIoU {c['label']['miou']:.4f}")
    hdr = f"{'eps':>7} {'iters':>5} {'attack':<28} {'acc@in':>7} {'mIoU@in':>8} {'acc@lab':>8} {'mIoU@lab':>8} {'time s':>7}"
    lines.append(hdr)
    for r in res['runs']:
        for loss, v in r['losses'].items():
            lines.append(f"{r['eps']:>7} {r['iters_per_loss']:>5} {loss:<28} {v['input']['acc']:7.4f} "
                         f"{v['input']['miou']:8.4f} {v['label']['acc']:8.4f} {v['label']['miou']:8.4f} {v['wall_s']:7.1f}")
        wi, wl = r['worst_case']['input'], r['worst_case']['label']
        for key, title, mk in [('lowest_acc_choice', 'worst: lowest acc / image', 'miou'),
                               ('greedy_miou_choice', 'worst: greedy mIoU, rescored', 'miou_rescored'),
                               ('greedy_miou_aligned', 'worst: greedy mIoU, aligned', 'miou')]:
            lines.append(f"{'':>7} {'':>5} {title:<28} {wi[key]['pooled_acc']:7.4f} {wi[key][mk]:8.4f} "
                         f"{wl[key]['pooled_acc']:8.4f} {wl[key][mk]:8.4f} {'':>7}")
        lines.append(f"{'':>7} {'':>5} {'  their greedy final_miou':<28} {'':7} "
                     f"{wi['greedy_miou_choice']['their_final_miou']:8.4f} {'':8} "
                     f"{wl['greedy_miou_choice']['their_final_miou']:8.4f} {'':>7}")
        lines.append(f"{'':>7} {'':>5} {'  their image-mean acc':<28} {wi['image_mean_acc']:7.4f} {'':8} "
                     f"{wl['image_mean_acc']:8.4f} {'':8} {r['wall_s']:7.1f}")
        short = {'mask-ce-bal': 'bal', 'mask-ce-avg': 'ce', 'js-avg': 'js'}
        for key, title in [('lowest_acc_choice', 'lowest acc'), ('greedy_miou_choice', 'greedy mIoU'),
                           ('greedy_miou_aligned', 'greedy aligned')]:
            win = wi[key]['winner']
            counts = {s: win.count(l) for l, s in short.items()}
            lines.append(f"{'':>13} winners ({title}, input size): "
                         + ' '.join(f"{n}:{short[w]}" for n, w in zip(res['images'], win))
                         + '  [' + ', '.join(f'{s} {k}' for s, k in counts.items()) + ']')
    return '\n'.join(lines)


def markdown(paths):
    """The tables of docs/sea_reference.md from result files of this script."""
    short = {'mask-ce-bal': 'bal', 'mask-ce-avg': 'ce', 'js-avg': 'js'}
    f = lambda v: f'{v:.4f}' if v >= 0.001 or v == 0 else f'{v:.1e}'
    rows = ['| model | ε | iters / loss | attack | acc | mIoU | acc (label size) | mIoU (label size) | time s |',
            '|---|---|---|---|---|---|---|---|---|']
    wins = ['| model | ε | iters / loss | choice | ' + ' | '.join(json.loads(Path(paths[0]).read_text())['images'])
            + ' | bal / ce / js |', None]
    wins[1] = '|' + '---|' * (wins[0].count('|') - 1)
    for path in paths:
        res = json.loads(Path(path).read_text())
        m, c = res['model'], res['clean']
        rows.append(f"| {m} | 0 | | clean | {f(c['input']['acc'])} | {f(c['input']['miou'])} | "
                    f"{f(c['label']['acc'])} | {f(c['label']['miou'])} | |")
        for r in res['runs']:
            head = f"| {m} | {r['eps']} | {r['iters_per_loss']} |"
            for loss, v in r['losses'].items():
                rows.append(f"{head} {loss} | {f(v['input']['acc'])} | {f(v['input']['miou'])} | "
                            f"{f(v['label']['acc'])} | {f(v['label']['miou'])} | {v['wall_s']:.0f} |")
            wi, wl = r['worst_case']['input'], r['worst_case']['label']
            lo, gi, gl = wi['lowest_acc_choice'], wi['greedy_miou_choice'], wl['greedy_miou_choice']
            rows.append(f"{head} **worst, lowest acc per image** | **{f(lo['pooled_acc'])}** | **{f(lo['miou'])}** | "
                        f"{f(wl['lowest_acc_choice']['pooled_acc'])} | {f(wl['lowest_acc_choice']['miou'])} | "
                        f"{r['wall_s']:.0f} |")
            rows.append(f"{head} their image-mean acc (worse_case_eval) | {f(wi['image_mean_acc'])} | | "
                        f"{f(wl['image_mean_acc'])} | | |")
            rows.append(f"{head} their greedy final_miou (worst_case_miou) | | {f(gi['their_final_miou'])} | | "
                        f"{f(gl['their_final_miou'])} | |")
            rows.append(f"{head} their greedy choice, re-scored | {f(gi['pooled_acc'])} | {f(gi['miou_rescored'])} | "
                        f"{f(gl['pooled_acc'])} | {f(gl['miou_rescored'])} | |")
            al, all_ = wi['greedy_miou_aligned'], wl['greedy_miou_aligned']
            rows.append(f"{head} **greedy, classes aligned** | {f(al['pooled_acc'])} | **{f(al['miou'])}** | "
                        f"{f(all_['pooled_acc'])} | {f(all_['miou'])} | |")
            for key, title in [('lowest_acc_choice', 'lowest acc'), ('greedy_miou_choice', 'their greedy'),
                               ('greedy_miou_aligned', 'greedy aligned')]:
                win = wi[key]['winner']
                wins.append(f"| {m} | {r['eps']} | {r['iters_per_loss']} | {title} | "
                            + ' | '.join(short[w] for w in win) + ' | '
                            + ' / '.join(str(win.count(l)) for l in LOSSES) + ' |')
    return '\n'.join(rows) + '\n\n' + '\n'.join(wins)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='deeplabv3-mnv2-voc', choices=sorted(MODELS))
    ap.add_argument('--eps', default='0.5/255,1/255', help='comma list; a/b fractions or plain values in [0, 1]')
    ap.add_argument('--iters', type=int, default=300, help='iterations per loss (the authors evaluate with 300)')
    ap.add_argument('--images', default=str(REPO.parent / 'shared/fixtures/images/voc'))
    ap.add_argument('--out', help='JSON file to write')
    ap.add_argument('--markdown', nargs='+', metavar='JSON',
                    help='only print the markdown tables of docs/sea_reference.md from result files')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=225, help="torch seed per eps run (225: their SEED)")
    ap.add_argument('--batch', type=int, default=24, help='images per attack batch (their VOC BATCH_SIZE: 24)')
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    if a.markdown:
        print(markdown(a.markdown))
        return
    if not a.out:
        ap.error('--out is required')

    threads_before = torch.get_num_threads()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    A = load_authors(os.environ.get('ROBSEG_SRC', ''), os.environ.get('AUTOATTACK_SRC', ''), a.device)
    _, size, n_cls = MODELS[a.model]
    net = load_model(a.model, a.device)
    items, full = load_images(a.images, size)
    save_dir = Path(a.out).with_suffix('.work')
    res = {'model': a.model, 'input_wh': list(size), 'images': [n for _, _, n in items],
           'torch': torch.__version__, 'threads_default': threads_before, 'threads': torch.get_num_threads(),
           'device': a.device, 'batch': a.batch, 'robseg_src': os.environ.get('ROBSEG_SRC', ''),
           'losses': LOSSES, 'settings': {'norm': 'Linf', 'use_rs': True, 'track_loss': 'ce-avg',
                                          'early_stop': True, 'n_restarts': 1, 'labels': 'ground truth',
                                          'radius_schedule': '2e,1.5e,e over 0.3,0.3,0.4 of iters'},
           'infer_cuda_constants_swapped': A.cuda_swapped}
    t0 = time.time()
    clean_raw, res['clean'] = clean_scores(A, net, items, full, n_cls, a.batch, a.device)
    saved = {'images': res['images'], 'clean': clean_raw, 'adversarial': {}}
    res['runs'] = []
    for name, eps in parse_eps(a.eps):
        print(f'{a.model} eps {name} ({eps:.6f}), {a.iters} iterations per loss', file=sys.stderr)
        run, saved['adversarial'][name] = run_eps(A, net, items, full, name, eps, a.iters, n_cls, a.batch,
                                                  a.device, a.seed, save_dir)
        res['runs'].append(run)
        Path(a.out).write_text(json.dumps(res, indent=1))
        torch.save(saved, save_dir / 'predictions.pt')
    res['total_wall_s'] = time.time() - t0
    res['max_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(table(res))


if __name__ == '__main__':
    main()
