#!/usr/bin/python3
"""Independent reference values for nfp's rational-quadratic spline.

Written from the formulas of Durkan et al. 2019 (nflows-style, linear tails) in
torch float64, with nfp's conventions: 3K-1 raw parameters per dimension (K width
logits, K height logits, K-1 interior derivative logits), derivatives
dmin + softplus(logit + log(expm1(1 - dmin))), boundary derivatives 1.
Gradients come from torch autograd, so they check nfp's hand-written backward.

Run with Debian's torch:  /usr/bin/python3 make_spline_reference.py > spline_reference.txt
Each case line: raw[3K-1] x y logdet dy/dx dlogdet/dx dy/draw[3K-1] dlogdet/draw[3K-1]
                y_inv x_inv logdet_inv
"""
import math
import sys

import torch

torch.set_default_dtype(torch.float64)
K, B = 8, 3.0
WMIN = HMIN = DMIN = 1e-3
P = 3 * K - 1


def knots(logits, vmin):
    p = torch.softmax(logits, dim=-1)
    sizes = vmin + (1 - K * vmin) * p
    cum = torch.cumsum(sizes, dim=-1)
    cum = torch.cat([torch.zeros(1), 2 * B * cum - B])
    cum = torch.cat([torch.tensor([-B]), cum[1:K], torch.tensor([B])])
    return cum


def geometry(raw):
    cw = knots(raw[:K], WMIN)
    ch = knots(raw[K:2 * K], HMIN)
    shift = math.log(math.expm1(1 - DMIN))
    inner = DMIN + torch.nn.functional.softplus(raw[2 * K:] + shift)
    d = torch.cat([torch.ones(1), inner, torch.ones(1)])
    return cw, ch, d


def find_bin(cum, v):
    k = int(torch.sum(v >= cum[1:K]).item())  # right edge stays in bin K-1
    return min(k, K - 1)


def forward(raw, x):
    if not (-B <= x.item() <= B):
        return x * 1.0, x * 0.0
    cw, ch, d = geometry(raw)
    k = find_bin(cw, x)
    xk, w = cw[k], cw[k + 1] - cw[k]
    yk, h = ch[k], ch[k + 1] - ch[k]
    d0, d1 = d[k], d[k + 1]
    s = h / w
    th = torch.clamp((x - xk) / w, 0.0, 1.0)
    t = th * (1 - th)
    den = s + (d0 + d1 - 2 * s) * t
    y = yk + h * (s * th ** 2 + d0 * t) / den
    num = s ** 2 * (d1 * th ** 2 + 2 * s * t + d0 * (1 - th) ** 2)
    return y, torch.log(num) - 2 * torch.log(den)


def inverse(raw, y):
    if not (-B <= y <= B):
        return y, 0.0
    cw, ch, d = geometry(raw)
    k = find_bin(ch, torch.tensor(y))
    xk, w = cw[k], cw[k + 1] - cw[k]
    yk, h = ch[k], ch[k + 1] - ch[k]
    d0, d1 = d[k], d[k + 1]
    s = h / w
    g = d0 + d1 - 2 * s
    dy = y - yk
    a = h * (s - d0) + dy * g
    b = h * d0 - dy * g
    c = -s * dy
    disc = torch.clamp(b * b - 4 * a * c, min=0.0)
    if b < 0 and a != 0:  # the same root without cancellation
        th = (-b + torch.sqrt(disc)) / (2 * a)
    else:
        th = 2 * c / (-b - torch.sqrt(disc))
    th = torch.clamp(th, 0.0, 1.0)
    t = th * (1 - th)
    den = s + g * t
    num = s ** 2 * (d1 * th ** 2 + 2 * s * t + d0 * (1 - th) ** 2)
    x = xk + th * w
    return x.item(), -(torch.log(num) - 2 * torch.log(den)).item()


def main():
    gen = torch.Generator().manual_seed(20240601)
    scales = [0.0, 0.3, 1.0, 3.0, 10.0, 50.0, 1e-3]
    lines = [f"{K} {B!r} {WMIN!r} {HMIN!r} {DMIN!r}"]
    for scale in scales:
        for rep in range(3):
            raw = torch.randn(P, generator=gen) * scale
            cw, ch, _ = geometry(raw)
            xs = list((torch.rand(6, generator=gen) * 2 * B - B).tolist())
            xs += [cw[1].item(), cw[K // 2].item(), -B, B, B + 0.5, -B - 2.0]
            ys = list((torch.rand(6, generator=gen) * 2 * B - B).tolist())
            ys += [ch[1].item(), ch[K // 2].item(), -B, B, B + 0.5, -B - 2.0]
            for x0, y0 in zip(xs, ys):
                r = raw.clone().requires_grad_(True)
                x = torch.tensor(x0, requires_grad=True)
                y, ld = forward(r, x)
                gy = torch.autograd.grad(y, [x, r], allow_unused=True)
                r2 = raw.clone().requires_grad_(True)
                x2 = torch.tensor(x0, requires_grad=True)
                _, ld2 = forward(r2, x2)
                if ld2.requires_grad:
                    gl = torch.autograd.grad(ld2, [x2, r2], allow_unused=True)
                else:
                    gl = (None, None)
                zero = torch.zeros(P)
                dydx = gy[0].item() if gy[0] is not None else 0.0
                dydr = gy[1] if gy[1] is not None else zero
                dldx = gl[0].item() if gl[0] is not None else 0.0
                dldr = gl[1] if gl[1] is not None else zero
                xi, ldi = inverse(raw, y0)
                at_knot = float(any(x0 == cw[j].item() for j in range(1, K)))
                vals = raw.tolist() + [x0, y.item(), float(ld), dydx, dldx] + dydr.tolist() + \
                    dldr.tolist() + [y0, xi, ldi, at_knot]
                lines.append(" ".join(repr(float(v)) for v in vals))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
