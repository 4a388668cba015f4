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

Run it with Debian's /usr/bin/python3 (python3-torch). Thread pools: torch's own
(torch.set_num_threads) AND OpenBLAS's, which Debian's torch uses for matrix maths and
torch.set_num_threads does not control; set both, plus OMP_WAIT_POLICY=PASSIVE.

Usage:
  torch_peer.py --threads 1 --repeats 30 \
      --model name=default,action_dim=14,horizon=8,state_dim=14,n_obs=2,context=64,\
enc_hidden=256,enc_blocks=1,layers=10,bins=8,hidden=128,blocks=2,tail=3,sbs=128,gr_steps=10,\
gr_step=0.01,sigma=0.5,train_batch=256
Prints one JSON object on stdout: {"torch_version", "threads", "models": [{...}]}.
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
    ap.add_argument("--model", action="append", required=True,
                    help="comma-separated key=value model description (see the module doc)")
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
    }
    for spec in args.model:
        cfg = parse_spec(spec)
        out["models"].append(bench_model(torch, cfg, args))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def parse_spec(spec):
    cfg = {}
    for item in spec.split(","):
        k, _, v = item.partition("=")
        if not _:
            raise SystemExit(f"torch_peer: bad model item '{item}' (want key=value)")
        cfg[k] = v if k == "name" else float(v)
    need = ["action_dim", "horizon", "state_dim", "n_obs", "context", "enc_hidden", "enc_blocks",
            "layers", "bins", "hidden", "blocks", "tail", "sbs", "gr_steps", "gr_step", "sigma",
            "train_batch"]
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
            self.enc = ResMLP(cfg["state_dim"] * cfg["n_obs"], cfg["enc_hidden"], cfg["enc_blocks"], 0, C, False)
            self.flow = nn.ModuleList([Coupling(l) for l in range(cfg["layers"])])

        def encode(self, obs):
            return self.enc(obs)

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


if __name__ == "__main__":
    main()
