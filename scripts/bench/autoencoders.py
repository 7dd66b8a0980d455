"""PyTorch side of crates/selfsup-autoencoder/benches/autoencoders.rs: one training step (forward, backward,
AdamW step) of the same masked autoencoder and VAE as the Rust benches, on the same shapes.

- `autoencoder/mae_train_step_b128`: the default `MaeConfig` on 28×28 MNIST-shaped images — patch 4 (49
  patches), encoder width 128, depth 4, 4 heads, MLP ratio 4, decoder width 64, depth 2, 4 heads, mask
  ratio 0.75 (facebookresearch/mae `models_mae.py`: patch embedding, random masking by argsort of uniform
  noise, class token, timm pre-norm blocks, decoder with mask tokens and fixed sin-cos position
  embeddings, MSE on the removed patches); AdamW β = (0.9, 0.95), weight decay 0.05; batch 128.
- `autoencoder/vae_train_step_b128`: pytorch/examples' VAE (784-400-20, decoder 20-400-784, BCE on logits
  summed per sample + KL), AdamW; batch 128.

Prints one JSON object per line with the per-call times of N repeats (see _bench.py and xtask/src/bench.rs).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _bench import run


def sincos_2d(dim, rows, cols, cls_token):
    """MAE util/pos_embed.py `get_2d_sincos_pos_embed` on a rows × cols grid."""

    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    gw, gh = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
    emb = np.concatenate([one(dim // 2, gw), one(dim // 2, gh)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return torch.from_numpy(emb).float().unsqueeze(0)


class Block(nn.Module):
    """timm's pre-norm ViT block (qkv attention through scaled_dot_product_attention, GELU MLP)."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, int(round(dim * mlp_ratio)))
        self.fc2 = nn.Linear(int(round(dim * mlp_ratio)), dim)

    def forward(self, x):
        n, l, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(n, l, d)
        x = x + self.proj(a)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class TinyMae(nn.Module):
    """facebookresearch/mae `MaskedAutoencoderViT` at the sizes of selfsup's default `MaeConfig`."""

    def __init__(self, img=28, patch=4, chans=1, dim=128, depth=4, heads=4, dec_dim=64, dec_depth=2,
                 dec_heads=4, mlp_ratio=4.0, mask_ratio=0.75):
        super().__init__()
        self.patch, self.chans, self.mask_ratio = patch, chans, mask_ratio
        self.grid = img // patch
        L = self.grid * self.grid
        self.patch_embed = nn.Conv2d(chans, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", sincos_2d(dim, self.grid, self.grid, True))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.register_buffer("decoder_pos_embed", sincos_2d(dec_dim, self.grid, self.grid, True))
        self.decoder_blocks = nn.ModuleList([Block(dec_dim, dec_heads, mlp_ratio) for _ in range(dec_depth)])
        self.decoder_norm = nn.LayerNorm(dec_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(dec_dim, patch * patch * chans)
        assert self.pos_embed.shape[1] == L + 1
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)

    def patchify(self, imgs):
        p, h, c = self.patch, self.grid, self.chans
        x = imgs.reshape(imgs.shape[0], c, h, p, h, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(imgs.shape[0], h * h, p * p * c)

    def forward(self, imgs):
        x = self.patch_embed(imgs).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:, :]
        N, L, D = x.shape
        keep = int(L * (1 - self.mask_ratio))
        noise = torch.rand(N, L)
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x = torch.gather(x, 1, ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones(N, L)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(N, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for b in self.blocks:
            x = b(x)
        x = self.decoder_embed(self.norm(x))
        mt = self.mask_token.repeat(N, L + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mt], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for b in self.decoder_blocks:
            x = b(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        loss = ((pred - self.patchify(imgs)) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()


class Vae(nn.Module):
    """pytorch/examples' VAE (fc1 784-400, fc21/fc22 400-20, fc3 20-400, fc4 400-784)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        x = x.reshape(x.shape[0], 784)
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.fc4(F.relu(self.fc3(z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return bce + kl


def param_groups(model, weight_decay):
    """No weight decay on biases and norms (1-D parameters), as MAE's `add_weight_decay` and selfsup's
    `exclude_bias_and_norm`."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def step_fn(model, opt, x):
    def step():
        opt.zero_grad()
        model(x).backward()
        opt.step()

    return step


if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.rand(128, 1, 28, 28)
    mae = TinyMae()
    opt = torch.optim.AdamW(param_groups(mae, 0.05), lr=1.5e-4, betas=(0.9, 0.95))
    run("autoencoder/mae_train_step_b128", step_fn(mae, opt, x), 128, "images/s",
        "torch: MAE forward (mask 0.75) + backward + AdamW step", "torch 1 thread")
    vae = Vae()
    opt = torch.optim.AdamW(param_groups(vae, 0.01), lr=1e-3)
    run("autoencoder/vae_train_step_b128", step_fn(vae, opt, x), 128, "images/s",
        "torch: VAE forward + backward + AdamW step", "torch 1 thread")
