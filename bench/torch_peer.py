#!/usr/bin/python3
"""PyTorch peer of nfp's NF-P model, for `nfp bench`.

The same network as policy/ (the structure a user would write with nflows):
  state encoder  residual MLP over the normalised state history -> context
  flow           L rational-quadratic spline coupling layers (K bins, tail bound B, linear
                 tails); layer l transforms coordinate i when ((i >> p) & 1) ^ (l & 1),
                 p = (l // 2) mod P, 2^P >= D; the conditioner is a residual MLP over
                 [untouched coordinates, context] whose blocks are gated by
                 sigmoid(W_c context + b_c) (nflows' ResidualNet with context)
  base           N(0, I); sampling draws u ~ N(0, sigma^2 I)
and the same workloads: single sample, SBS-N (N candidates for one observation, keep the
best log p), GR (gradient ascent on log p with the step-size rule of nfp's sampler),
and one training step (NLL, backward, grad-norm clip, AdamW) at a given batch.

With --encoder SPEC, the same for a model with an image encoder (policy/include/nfp/cnn.h):
  trunk   torchvision's resnet18 with every BatchNorm a GroupNorm(C // 16, C), without
          avgpool and fc (kind=resnet18), or four conv (no bias) + GroupNorm(8) + ReLU units
          3->32 k5, 32->32 k3, 32->64 k3, 64->64 k3, all stride 2, padding k // 2 (kind=cnn)
  then    flatten, concatenate the state, the encoder's residual MLP -> context, the flow
timed as: encoder latency at batch 1 (uint8 image -> ImageNet normalisation -> trunk ->
MLP; median and p99) and one training step of the whole model at train_batch.

Run it with Debian's /usr/bin/python3 (python3-torch). Thread pools: torch's own
(torch.set_num_threads) AND OpenBLAS's, which Debian's torch uses for matrix maths and
torch.set_num_threads does not control; set both, plus OMP_WAIT_POLICY=PASSIVE.

Usage:
  torch_peer.py --threads 1 --repeats 30 \
      --model name=default,action_dim=14,horizon=8,state_dim=14,n_obs=2,context=64,\
enc_hidden=256,enc_blocks=1,layers=10,bins=8,hidden=128,blocks=2,tail=3,sbs=128,gr_steps=10,\
gr_step=0.01,sigma=0.5,train_batch=256
  torch_peer.py ... --encoder name=resnet18,kind=resnet18,n_cam=1,img_h=56,img_w=72,\
<the model keys above, train_batch=64>
Prints one JSON object on stdout: {"torch_version", "threads", "models": [{...}],
"encoders": [{...}]}.
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time


def set_openblas_threads(n):
    """Set the thread count of every OpenBLAS loaded in this process; returns the libs set."""
    done = []
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        paths = set()
    for p in sorted(paths):
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_set_num_threads(ctypes.c_int(n))
            done.append(p)
        except (OSError, AttributeError):
            pass
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--train-repeats", type=int, default=10)
    ap.add_argument("--encoder-repeats", type=int, default=100)
    ap.add_argument("--encoder-train-repeats", type=int, default=3)
    ap.add_argument("--model", action="append", default=[],
                    help="comma-separated key=value model description (see the module doc)")
    ap.add_argument("--encoder", action="append", default=[],
                    help="the same plus kind, n_cam, img_h, img_w: an image-encoder model")
    args = ap.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    try:
        import torch  # after the environment is set: OpenBLAS reads it when it loads
    except ImportError as e:
        json.dump({"error": f"torch is not importable by {sys.executable}: {e}"}, sys.stdout)
        sys.stdout.write("\n")
        return

    torch.set_num_threads(args.threads)
    blas = set_openblas_threads(args.threads)
    out = {
        "torch_version": torch.__version__,
        "threads": args.threads,
        "openblas_threads_set": len(blas) > 0,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "models": [],
        "encoders": [],
    }
    for spec in args.model:
        cfg = parse_spec(spec)
        out["models"].append(bench_model(torch, cfg, args))
    for spec in args.encoder:
        cfg = parse_spec(spec, ["kind", "n_cam", "img_h", "img_w"])
        out["encoders"].append(bench_encoder(torch, cfg, args))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def parse_spec(spec, extra=()):
    cfg = {}
    for item in spec.split(","):
        k, _, v = item.partition("=")
        if not _:
            raise SystemExit(f"torch_peer: bad model item '{item}' (want key=value)")
        cfg[k] = v if k in ("name", "kind") else float(v)
    need = ["action_dim", "horizon", "state_dim", "n_obs", "context", "enc_hidden", "enc_blocks",
            "layers", "bins", "hidden", "blocks", "tail", "sbs", "gr_steps", "gr_step", "sigma",
            "train_batch"] + [k for k in extra if k != "kind"]
    if "kind" in extra and cfg.get("kind") not in ("resnet18", "cnn"):
        raise SystemExit(f"torch_peer: encoder kind must be resnet18 or cnn, got {cfg.get('kind')}")
    missing = [k for k in need if k not in cfg]
    if missing:
        raise SystemExit(f"torch_peer: model spec misses {missing}")
    for k in need:
        if k not in ("tail", "gr_step", "sigma"):
            cfg[k] = int(cfg[k])
    return cfg


def build(torch, cfg):
    nn = torch.nn
    F = torch.nn.functional

    class ResMLP(nn.Module):
        def __init__(self, n_in, hidden, blocks, n_ctx, n_out, zero_out):
            super().__init__()
            self.inp = nn.Linear(n_in, hidden)
            self.l0 = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])
            self.l1 = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])
            self.gate = nn.ModuleList([nn.Linear(n_ctx, hidden) for _ in range(blocks)]) if n_ctx else None
            self.out = nn.Linear(hidden, n_out)
            for l in self.l1:
                nn.init.uniform_(l.weight, -1e-3, 1e-3)
                nn.init.uniform_(l.bias, -1e-3, 1e-3)
            if zero_out:
                nn.init.zeros_(self.out.weight)
                nn.init.zeros_(self.out.bias)

        def forward(self, x, ctx=None):
            h = self.inp(x)
            for k in range(len(self.l0)):
                t = self.l1[k](F.relu(self.l0[k](F.relu(h))))
                if self.gate is not None:
                    t = t * torch.sigmoid(self.gate[k](ctx))
                h = h + t
            return self.out(h)

    K, B = cfg["bins"], cfg["tail"]
    wmin = hmin = dmin = 1e-3
    dshift = math.log(math.expm1(1.0 - dmin))

    def rq_spline(x, raw, inverse):
        """Elementwise RQ spline, linear tails outside [-B, B]. x [N], raw [N, 3K-1]."""
        inside = (x >= -B) & (x <= B)
        xc = x.clamp(-B, B)
        w = wmin + (1 - K * wmin) * F.softmax(raw[:, :K], dim=-1)
        h = hmin + (1 - K * hmin) * F.softmax(raw[:, K:2 * K], dim=-1)
        cw = F.pad(torch.cumsum(w, -1), (1, 0)) * 2 * B - B
        ch = F.pad(torch.cumsum(h, -1), (1, 0)) * 2 * B - B
        cw = torch.cat([torch.full_like(cw[:, :1], -B), cw[:, 1:-1], torch.full_like(cw[:, :1], B)], -1)
        ch = torch.cat([torch.full_like(ch[:, :1], -B), ch[:, 1:-1], torch.full_like(ch[:, :1], B)], -1)
        ones = torch.ones_like(raw[:, :1])
        d = torch.cat([ones, dmin + F.softplus(raw[:, 2 * K:] + dshift), ones], -1)
        knots = ch if inverse else cw
        k = torch.searchsorted(knots[:, 1:-1].contiguous(), xc[:, None], right=True).clamp(0, K - 1)
        g = lambda t: t.gather(-1, k)[:, 0]
        xk, wk = g(cw[:, :-1]), g(cw[:, 1:] - cw[:, :-1])
        yk, hk = g(ch[:, :-1]), g(ch[:, 1:] - ch[:, :-1])
        d0, d1 = g(d[:, :-1]), g(d[:, 1:])
        s = hk / wk
        if not inverse:
            th = ((xc - xk) / wk).clamp(0, 1)
            t1 = th * (1 - th)
            den = s + (d0 + d1 - 2 * s) * t1
            y = yk + hk * (s * th * th + d0 * t1) / den
            ld = torch.log(s * s * (d1 * th * th + 2 * s * t1 + d0 * (1 - th) ** 2)) - 2 * torch.log(den)
        else:
            dy = xc - yk
            gg = d0 + d1 - 2 * s
            a = hk * (s - d0) + dy * gg
            b = hk * d0 - dy * gg
            c = -s * dy
            disc = (b * b - 4 * a * c).clamp_min(0)
            th = ((2 * c) / (-b - torch.sqrt(disc))).clamp(0, 1)
            t1 = th * (1 - th)
            den = s + gg * t1
            y = xk + th * wk
            ld = -(torch.log(s * s * (d1 * th * th + 2 * s * t1 + d0 * (1 - th) ** 2)) - 2 * torch.log(den))
        y = torch.where(inside, y, x)
        ld = torch.where(inside, ld, torch.zeros_like(ld))
        return y, ld

    D = cfg["action_dim"] * cfg["horizon"]
    C = cfg["context"]
    P = 0
    while (1 << P) < D:
        P += 1

    class Coupling(nn.Module):
        def __init__(self, l):
            super().__init__()
            tr = [i for i in range(D)
                  if D == 1 or ((i >> ((l // 2) % P)) & 1) ^ (l & 1)]
            idn = [i for i in range(D) if i not in tr]
            self.register_buffer("tr", torch.tensor(tr, dtype=torch.long))
            self.register_buffer("idn", torch.tensor(idn, dtype=torch.long))
            self.mlp = ResMLP(len(idn) + C, cfg["hidden"], cfg["blocks"], C, len(tr) * (3 * K - 1), True)

        def forward(self, x, ctx, inverse):
            raw = self.mlp(torch.cat([x[:, self.idn], ctx], -1), ctx)
            n = x.shape[0]
            y, ld = rq_spline(x[:, self.tr].reshape(-1), raw.reshape(-1, 3 * K - 1), inverse)
            out = x.clone()
            out[:, self.tr] = y.reshape(n, -1)
            return out, ld.reshape(n, -1).sum(-1)

    class NFP(nn.Module):
        def __init__(self):
            super().__init__()
            n_in = cfg["state_dim"] * cfg["n_obs"]
            self.trunk = build_trunk(torch, cfg["kind"]) if "kind" in cfg else None
            if self.trunk is not None:
                with torch.no_grad():
                    feat = self.trunk(torch.zeros(1, 3, cfg["img_h"], cfg["img_w"])).numel()
                n_in += cfg["n_cam"] * feat
                self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
                self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
            self.enc = ResMLP(n_in, cfg["enc_hidden"], cfg["enc_blocks"], 0, C, False)
            self.flow = nn.ModuleList([Coupling(l) for l in range(cfg["layers"])])

        def encode(self, obs, img=None):
            if self.trunk is None:
                return self.enc(obs)
            # img: uint8 [B, n_cam, H, W, 3] -> ImageNet-normalised NCHW, one trunk for all cameras
            n = img.shape[0]
            x = img.reshape(-1, img.shape[2], img.shape[3], 3).permute(0, 3, 1, 2).float() / 255.0
            feat = self.trunk((x - self.mean) / self.std).reshape(n, -1)
            return self.enc(torch.cat([feat, obs], -1))

        def logprob(self, a, ctx):
            z, ld = a, torch.zeros(a.shape[0])
            for layer in self.flow:
                z, l = layer(z, ctx, False)
                ld = ld + l
            return -0.5 * (z * z).sum(-1) - 0.5 * D * math.log(2 * math.pi) + ld

        def inverse(self, u, ctx):
            x, ld = u, torch.zeros(u.shape[0])
            for layer in reversed(self.flow):
                x, l = layer(x, ctx, True)
                ld = ld + l
            return x, -0.5 * (u * u).sum(-1) - 0.5 * D * math.log(2 * math.pi) - ld

    return NFP(), D


def build_trunk(torch, kind):
    """The image trunk of nfp's cnn.h: its output is flattened, not pooled."""
    nn = torch.nn
    if kind == "resnet18":
        import torchvision
        r = torchvision.models.resnet18(norm_layer=lambda c: nn.GroupNorm(c // 16, c))
        return nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4)
    units, c = [], 3
    for oc, k in ((32, 5), (32, 3), (64, 3), (64, 3)):
        units += [nn.Conv2d(c, oc, k, 2, k // 2, bias=False), nn.GroupNorm(8, oc), nn.ReLU()]
        c = oc
    return nn.Sequential(*units)


def timed_all(fn, warmup, repeats):
    """Milliseconds of each timed call: wall time, and process CPU time."""
    for _ in range(warmup):
        fn()
    ts, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    return ts, cpu


def p99(ts):
    """Nearest-rank 99th percentile (as nfp bench)."""
    s = sorted(ts)
    return s[min(len(s) - 1, max(0, math.ceil(0.99 * len(s)) - 1))]


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts)


def bench_model(torch, cfg, args):
    torch.manual_seed(0)
    model, D = build(torch, cfg)
    # Trained flows are not the identity: give the output layers small random weights so
    # every spline has non-trivial bins (the cost is the same, the maths is exercised).
    with torch.no_grad():
        for layer in model.flow:
            layer.mlp.out.weight.uniform_(-0.01, 0.01)
    obs = torch.randn(1, cfg["state_dim"] * cfg["n_obs"]) * 0.5
    sigma = cfg["sigma"]

    def single():
        with torch.no_grad():
            ctx = model.encode(obs)
            return model.inverse(sigma * torch.randn(1, D), ctx)

    def sbs():
        with torch.no_grad():
            ctx = model.encode(obs).expand(cfg["sbs"], -1)
            a, lp = model.inverse(sigma * torch.randn(cfg["sbs"], D), ctx)
            return a[lp.argmax()]

    def gr():
        # nfp's rule: step along the gradient; keep a step that raises log p (and take the
        # gradient there, eta * 1.2), else undo it (eta / 2). Backward only on acceptance.
        with torch.no_grad():
            ctx = model.encode(obs)
            a, _ = model.inverse(sigma * torch.randn(1, D), ctx)
        a = a.requires_grad_(True)
        lp_t = model.logprob(a, ctx)
        (g,) = torch.autograd.grad(lp_t.sum(), a)
        lp = lp_t.item()
        eta = cfg["gr_step"]
        for _ in range(cfg["gr_steps"]):
            cand = (a + eta * g).detach().requires_grad_(True)
            lpc_t = model.logprob(cand, ctx)
            lpc = lpc_t.item()
            if math.isfinite(lpc) and lpc > lp:
                (g,) = torch.autograd.grad(lpc_t.sum(), cand)
                a, lp, eta = cand, lpc, eta * 1.2
            else:
                eta *= 0.5
        return a.detach()

    Bt = cfg["train_batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    tobs = torch.randn(Bt, cfg["state_dim"] * cfg["n_obs"]) * 0.5
    tact = torch.rand(Bt, D) * 1.8 - 0.9

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = -model.logprob(tact, model.encode(tobs)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    res = {"name": cfg["name"], "params": sum(p.numel() for p in model.parameters()),
           "flow_params": sum(p.numel() for p in model.flow.parameters())}
    res["single_ms"] = timed(single, args.warmup, args.repeats)
    res["sbs_ms"] = timed(sbs, args.warmup, max(5, args.repeats // 3))
    res["gr_ms"] = timed(gr, max(2, args.warmup // 2), max(5, args.repeats // 3))
    train_ms = timed(train_step, 2, args.train_repeats)
    res["train_step_ms"] = train_ms
    res["train_samples_per_s"] = Bt / (train_ms * 1e-3)
    return res


def bench_encoder(torch, cfg, args):
    torch.manual_seed(0)
    try:
        model, D = build(torch, cfg)
    except ImportError as e:
        return {"name": cfg["name"], "error": f"torchvision is not importable: {e}"}
    with torch.no_grad():
        for layer in model.flow:
            layer.mlp.out.weight.uniform_(-0.01, 0.01)
    shape = (cfg["n_cam"], cfg["img_h"], cfg["img_w"], 3)
    obs = torch.randn(1, cfg["state_dim"] * cfg["n_obs"]) * 0.5
    img = torch.randint(0, 256, (1,) + shape, dtype=torch.uint8)

    def encode():
        with torch.no_grad():
            return model.encode(obs, img)

    Bt = cfg["train_batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    tobs = torch.randn(Bt, cfg["state_dim"] * cfg["n_obs"]) * 0.5
    timg = torch.randint(0, 256, (Bt,) + shape, dtype=torch.uint8)
    tact = torch.rand(Bt, D) * 1.8 - 0.9

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = -model.logprob(tact, model.encode(tobs, timg)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    res = {"name": cfg["name"], "params": sum(p.numel() for p in model.parameters()),
           "encoder_params": sum(p.numel() for p in model.trunk.parameters())
           + sum(p.numel() for p in model.enc.parameters())}
    ts, cpu = timed_all(encode, args.warmup, args.encoder_repeats)
    res["encode_ms"] = statistics.median(ts)
    res["encode_p99_ms"] = p99(ts)
    res["encode_cpu_ms"] = statistics.median(cpu)
    ts, cpu = timed_all(train_step, 1, args.encoder_train_repeats)
    res["train_step_ms"] = statistics.median(ts)
    res["train_samples_per_s"] = Bt / (res["train_step_ms"] * 1e-3)
    res["train_cpu_samples_per_s"] = Bt / (statistics.median(cpu) * 1e-3)
    return res


if __name__ == "__main__":
    main()
