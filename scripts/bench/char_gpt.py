"""PyTorch side of examples/char_gpt: the same character-level GPT, trained and evaluated the same way.

Model (nanoGPT's, as crates/selfsup-nn/src/backbones/gpt.rs): token + learned position embeddings,
n_layer pre-LayerNorm blocks (causal scaled_dot_product_attention, exact GELU MLP of width 4d), final
LayerNorm, output layer tied to the token embedding, no biases, LayerNorm eps 1e-5. Init: Linear and
Embedding weights N(0, 0.02), residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2 n_layer)),
LayerNorm weights 1.

Training: AdamW (betas 0.9/0.99, eps 1e-8, weight decay 0.1 on parameters with >= 2 dimensions, none on
LayerNorm weights), learning rate lr*(s+1)/W for step s < W = min(warmup, T), then min_lr + (lr-min_lr)(1+cos(pi (s-W)/(T-W)))/2
(selfsup_train::schedule::LrSchedule), gradient-norm clipping at 1.0, batch 12 windows of block+1 characters
at uniform random offsets (or exactly the Rust run's offsets with --offsets runs/char_gpt/offsets.json),
mean cross-entropy of the next character. Vocabulary: <pad>, <unk>, <mask>, then the training file's
characters in code-point order (as selfsup_data's char tokenizer).

Validation: every eval_every steps, the mean cross-entropy (nats/char) over The Tempest cut into windows of
block+1 characters starting every block characters (selfsup_data::SequentialWindows), in batches of 128.

--init runs/char_gpt/init.safetensors starts from the Rust run's initial weights (read without the
safetensors package). Prints progress and one JSON summary line (steps/s over the training steps only, peak
RSS from getrusage).

Run by `cargo xtask bench` (no arguments, BENCH_SAMPLES_JSON set), it prints two rows instead (see
_bench.py; BENCH_FILTER selects them):
- `char_gpt/train_step_b12_ctx64_d128_l4`: one training step (forward, cross-entropy, backward, clipping,
  AdamW) on 64 fixed random batches, cycled; paired with examples/benches/char_gpt.rs (steps/s);
- `char_gpt/train_val_steps`: both full trainings of BENCH_CHAR_GPT_STEPS steps (default 2000), one after
  the other in fresh processes, each with its own initialisation and data order: the selfsup example
  (`target/release/examples/char_gpt`, built with cargo when missing; its run folder is kept in
  target/bench-char-gpt) and this script; the row carries
  both validation losses at the last step, both steps/s and both peak RSS."""
import argparse
import json
import math
import os
import resource
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def parse():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(root, "data", "shakespeare"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--offsets", default=None, help="offsets.json written by the Rust example")
    p.add_argument("--init", default=None, help="init.safetensors written by the Rust example")
    return p.parse_args()


class LayerNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class Block(nn.Module):
    def __init__(self, d, h, dropout):
        super().__init__()
        self.h, self.dropout = h, dropout
        self.ln_1 = LayerNorm(d)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(d, 3 * d, bias=False)
        self.attn.c_proj = nn.Linear(d, d, bias=False)
        self.ln_2 = LayerNorm(d)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(d, 4 * d, bias=False)
        self.mlp.c_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        n, l, d = x.shape
        p = self.dropout if self.training else 0.0
        qkv = self.attn.c_attn(self.ln_1(x)).view(n, l, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=p, is_causal=True)
        x = x + F.dropout(self.attn.c_proj(a.transpose(1, 2).reshape(n, l, d)), p, self.training)
        m = self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))
        return x + F.dropout(m, p, self.training)


class GPT(nn.Module):
    def __init__(self, vocab, block, layers, heads, d, dropout):
        super().__init__()
        self.dropout = dropout
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList([Block(d, heads, dropout) for _ in range(layers)])
        self.ln_f = LayerNorm(d)
        for name, prm in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(prm, 0.0, 0.02 / math.sqrt(2 * layers))
            elif prm.dim() >= 2:
                nn.init.normal_(prm, 0.0, 0.02)

    def forward(self, idx):
        l = idx.shape[1]
        x = F.dropout(self.wte(idx) + self.wpe.weight[:l], self.dropout if self.training else 0.0, self.training)
        for b in self.h:
            x = b(x)
        return F.linear(self.ln_f(x), self.wte.weight)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", meta
        a, b = meta["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy()).view(meta["shape"])
    return out


def lr_at(s, a):
    w = min(a.warmup, a.steps)
    if s < w:
        return a.lr * (s + 1) / w
    t = min(1.0, (s - w) / max(1, a.steps - w))
    return a.min_lr + (a.lr - a.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def main():
    wall = time.perf_counter()
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_text = open(os.path.join(a.data, "train.txt"), encoding="utf-8").read()
    val_text = open(os.path.join(a.data, "val.txt"), encoding="utf-8").read()
    itos = ["<pad>", "<unk>", "<mask>"] + sorted(set(train_text))
    stoi = {c: i for i, c in enumerate(itos) if i >= 3}
    train = torch.tensor([stoi[c] for c in train_text], dtype=torch.long)
    val = torch.tensor([stoi[c] for c in val_text], dtype=torch.long)
    nval = (len(val) - 1) // a.block
    val_windows = torch.stack([val[i * a.block: i * a.block + a.block + 1] for i in range(nval)])

    model = GPT(len(itos), a.block, a.layers, a.heads, a.width, a.dropout)
    if a.init:
        w = read_safetensors(a.init)
        sd = {k[len("backbone."):]: v for k, v in w.items()}
        model.load_state_dict(sd, strict=True)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"char GPT (PyTorch {torch.__version__}): vocab {len(itos)}, {nparams} parameters, "
          f"{len(train)} train tokens, {nval} val windows", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.99), eps=1e-8)
    offsets = None
    if a.offsets:
        o = json.load(open(a.offsets))
        assert o["block"] == a.block and o["batch"] == a.batch, "offsets file made for another block/batch"
        offsets = torch.tensor(o["offsets"], dtype=torch.long)
        assert len(offsets) >= a.steps
    gen = torch.Generator().manual_seed(a.seed)
    ar = torch.arange(a.block + 1)

    def evaluate():
        model.eval()
        nll, count = 0.0, 0
        with torch.no_grad():
            for i in range(0, nval, 128):
                w = val_windows[i:i + 128]
                logits = model(w[:, :-1])
                nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1),
                                       reduction="sum").item()
                count += w[:, 1:].numel()
        model.train()
        return nll / count

    train_time, losses, curve = 0.0, [], []
    model.train()
    for s in range(a.steps):
        t0 = time.perf_counter()
        o = offsets[s] if offsets is not None else torch.randint(0, len(train) - a.block, (a.batch,), generator=gen)
        w = train[o[:, None] + ar]
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        lr = lr_at(s, a)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        losses.append(loss.item())
        train_time += time.perf_counter() - t0
        done = s + 1
        if done % a.eval_every == 0 or done == a.steps:
            v = evaluate()
            print(f"step {done:>5}  train loss {losses[-1]:.4f}  val loss {v:.4f} nats/char "
                  f"({v / math.log(2):.4f} bits/char, ppl {math.exp(v):.3f})  {done / train_time:.2f} steps/s",
                  flush=True)
            curve.append([done, v])
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "steps": a.steps, "batch": a.batch, "block": a.block,
        "params": nparams, "threads": a.threads, "train_time_s": train_time, "steps_per_s": a.steps / train_time,
        "val": curve, "first_losses": losses[:5],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "same_offsets": offsets is not None, "same_init": a.init is not None,
        "wall_s": time.perf_counter() - wall,
    }))


def bench():
    """The `cargo xtask bench` rows (see the module doc)."""
    from _bench import run, selected, emit

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    threads = int(os.environ.get("BENCH_CHAR_GPT_THREADS", "1"))
    step_id = "char_gpt/train_step_b12_ctx64_d128_l4"
    if selected(step_id):
        torch.set_num_threads(threads)
        torch.manual_seed(1337)
        text = open(os.path.join(root, "data", "shakespeare", "train.txt"), encoding="utf-8").read()
        itos = ["<pad>", "<unk>", "<mask>"] + sorted(set(text))
        stoi = {c: i for i, c in enumerate(itos) if i >= 3}
        train = torch.tensor([stoi[c] for c in text], dtype=torch.long)
        gen = torch.Generator().manual_seed(1337)
        ar = torch.arange(65)
        batches = [train[torch.randint(0, len(train) - 64, (12,), generator=gen)[:, None] + ar] for _ in range(64)]
        model = GPT(len(itos), 64, 4, 4, 128, 0.0)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
        model.train()
        state = {"i": 0}

        def step():
            w = batches[state["i"] % len(batches)]
            state["i"] += 1
            logits = model(w[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss.item()

        run(step_id, step, 1, "steps/s",
            "torch: char GPT 4x128, batch 12x64, forward + CE + backward + clip 1.0 + AdamW (foreach)",
            f"torch {threads} thread(s)", torch=torch.__version__)
    val_id = "char_gpt/train_val_steps"
    if not selected(val_id):
        return
    steps = int(os.environ.get("BENCH_CHAR_GPT_STEPS", "2000"))
    exe = os.path.join(root, "target", "release", "examples", "char_gpt")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "-p", "selfsup-examples", "--example", "char_gpt"],
                       cwd=root, check=True, stdout=sys.stderr)

    def last_json(out):
        return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])

    # The selfsup run folder is kept (model.safetensors, vocab.json, model.json) for
    # examples/play_attribution --gpt-run target/bench-char-gpt.
    out_dir = os.path.join(root, "target", "bench-char-gpt")
    common = ["--steps", str(steps), "--eval-every", str(steps), "--threads", str(threads)]
    ours = last_json(subprocess.run([exe, *common, "--out", out_dir, "--sample-tokens", "0"], cwd=root, check=True,
                                    capture_output=True, text=True).stdout)
    theirs = last_json(subprocess.run([sys.executable, os.path.abspath(__file__), *common], cwd=root, check=True,
                                      capture_output=True, text=True).stdout)
    vo, vt = ours["val"][-1][1], theirs["val"][-1][1]
    emit(val_id, 1, [theirs["train_time_s"] / steps], "steps/s",
         f"{steps}-step trainings, own init + data order each: val nats/char (The Tempest) selfsup {vo:.4} vs "
         f"PyTorch {vt:.4} (diff {vo - vt:+.4f}); steps/s selfsup {ours['steps_per_s']:.2f} vs PyTorch "
         f"{theirs['steps_per_s']:.2f} ({ours['steps_per_s'] / theirs['steps_per_s']:.2f}x); peak RSS selfsup "
         f"{ours['peak_rss_mib']:.0f} MiB vs PyTorch {theirs['peak_rss_mib']:.0f} MiB",
         f"{threads} / {threads}", steps=steps, val_selfsup=vo, val_pytorch=vt,
         steps_per_s_selfsup=ours["steps_per_s"], steps_per_s_pytorch=theirs["steps_per_s"],
         peak_rss_mib_selfsup=ours["peak_rss_mib"], peak_rss_mib_pytorch=theirs["peak_rss_mib"],
         torch=torch.__version__)


if __name__ == "__main__":
    if len(sys.argv) == 1 and "BENCH_SAMPLES_JSON" in os.environ:
        bench()
    else:
        main()
