"""A checkpoint as a TransformerLens HookedTransformer with the same weights, so that the field's tools run on our
models (transformer-lens 3.x, the `interp` extra: `pip install -e .[interp]`).

    python -m interp.export CKPT OUT          # OUT: {"cfg": HookedTransformerConfig's fields, "state_dict": ...}

    from interp.export import load_exported, to_transformer_lens
    tl_model = to_transformer_lens(model)     # or load_exported(OUT): a HookedTransformer in eval mode

Mapped: LayerNorm (bias-free ones get a zero bias) or RMSNorm, RoPE (adjacent pairs, as model.py rotates them) or
learned positions, GELU or SwiGLU MLPs, biases or none, tied embeddings (W_U is wte transposed), tied layers (the one
block's weights copied into every layer). Refused in one line: qk_norm, relu2 MLPs, SwiGLU with biases, pos_emb
'none', and the ablation switches (run them as hooks instead). A sequence is one document with positions 0..T-1, as
TransformerLens runs it.
Site names, ours -> TransformerLens's: ("embed",) hook_embed; ("resid_pre", l) blocks.l.hook_resid_pre (l = n_layer:
blocks.{n_layer-1}.hook_resid_post); ("resid_mid", l) hook_resid_mid; ("attn_out", l) hook_attn_out; ("mlp_out", l)
hook_mlp_out; ("mlp_post", l) mlp.hook_post; ("q", l) / ("k", l) attn.hook_rot_q / hook_rot_k (learned positions:
hook_q / hook_k) and ("v", l) attn.hook_v
((B, T, H, D) there, (B, H, T, D) here); ("pattern", l) attn.hook_pattern; ("head", l, h) attn.hook_z[:, :, h].
"""
import argparse
import copy
import sys

import torch

from pbb.checkpoint import load_model, save_checkpoint
from pbb.common import UserError

TL_SITE = {"embed": "hook_embed", "resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid",
           "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out", "mlp_post": "mlp.hook_post", "q": "attn.hook_rot_q",
           "k": "attn.hook_rot_k", "v": "attn.hook_v", "pattern": "attn.hook_pattern", "head": "attn.hook_z"}


def tl_name(site, config):
    """TransformerLens's hook name of one of our sites in a model of this GPTConfig (the module docstring)."""
    if site[0] == "embed":
        return "hook_embed"
    if site == ("resid_pre", config.n_layer):
        return f"blocks.{config.n_layer - 1}.hook_resid_post"
    name = TL_SITE[site[0]]
    return f"blocks.{site[1]}.{name if config.pos_emb == 'rope' else name.replace('_rot', '')}"


def tl_config(c):
    """HookedTransformerConfig's fields for a GPTConfig; UserError for what TransformerLens cannot express."""
    refused = [(c.qk_norm, "qk_norm"), (c.mlp == "relu2", "mlp='relu2'"), (c.pos_emb == "none", "pos_emb='none'"),
               (c.mlp == "swiglu" and c.bias, "mlp='swiglu' with bias (its gated MLP adds b_in after the gate)"),
               (bool(c.ablate_heads or c.ablate_mlps), "ablate_heads / ablate_mlps (run them as hooks instead)")]
    bad = [name for cond, name in refused if cond]
    if bad:
        raise UserError(f"TransformerLens cannot express {', '.join(bad)}; export a model without it")
    D = c.n_embd // c.n_head
    hidden = model_hidden(c)
    cfg = dict(n_layers=c.n_layer, d_model=c.n_embd, n_ctx=c.block_size, d_head=D, n_heads=c.n_head, d_mlp=hidden,
               d_vocab=c.vocab_size, act_fn="silu" if c.mlp == "swiglu" else "gelu", gated_mlp=c.mlp == "swiglu",
               normalization_type="RMS" if c.norm == "rmsnorm" else "LN", eps=1e-5,
               positional_embedding_type="rotary" if c.pos_emb == "rope" else "standard",
               default_prepend_bos=False, original_architecture="pbb-small")
    if c.pos_emb == "rope":
        cfg.update(rotary_dim=D, rotary_base=c.rope_base, rotary_adjacent_pairs=True)
    return cfg


def model_hidden(c):
    from model import MLP
    with torch.device("meta"):
        return MLP(c).c_proj.in_features


@torch.no_grad()
def tl_state_dict(model, template):
    """The HookedTransformer state dict (keys and shapes from `template`, a fresh one) holding model's weights."""
    c, sd = model.config, {k: v.clone() for k, v in template.items()}
    H, D, C = c.n_head, c.n_embd // c.n_head, c.n_embd
    put = lambda key, t: sd.__setitem__(key, t.detach().clone() if t is not None else torch.zeros_like(sd[key]))
    sd["embed.W_E"] = model.wte.weight.clone()
    if c.pos_emb == "learned":
        sd["pos_embed.W_pos"] = model.wpe.weight.clone()
    for l in range(c.n_layer):
        b = model.blocks[0 if c.tied_layers else l]
        p = f"blocks.{l}."
        for ln, ours in (("ln1", b.ln_1), ("ln2", b.ln_2)):
            sd[p + ln + ".w"] = ours.weight.clone()
            if p + ln + ".b" in sd:  # LN: a bias-free LayerNorm gets a zero bias
                put(p + ln + ".b", getattr(ours, "bias", None))
        W, bias = b.attn.c_attn.weight, b.attn.c_attn.bias  # (3C, C): q, k, v, head after head
        for i, name in enumerate("QKV"):
            sd[p + f"attn.W_{name}"] = W[i * C:(i + 1) * C].view(H, D, C).transpose(1, 2).clone()
            put(p + f"attn.b_{name}", None if bias is None else bias[i * C:(i + 1) * C].view(H, D))
        sd[p + "attn.W_O"] = b.attn.c_proj.weight.T.reshape(H, D, C).clone()
        put(p + "attn.b_O", b.attn.c_proj.bias)
        fc, proj = b.mlp.c_fc, b.mlp.c_proj
        hidden = proj.in_features
        if c.mlp == "swiglu":  # ours: silu(gate) * up, gate the first half of c_fc's outputs
            sd[p + "mlp.W_gate"], sd[p + "mlp.W_in"] = fc.weight[:hidden].T.clone(), fc.weight[hidden:].T.clone()
            put(p + "mlp.b_in", None)  # tl_config refuses SwiGLU with biases
        else:
            sd[p + "mlp.W_in"] = fc.weight.T.clone()
            put(p + "mlp.b_in", fc.bias)
        sd[p + "mlp.W_out"] = proj.weight.T.clone()
        put(p + "mlp.b_out", proj.bias)
    sd["ln_final.w"] = model.ln_f.weight.clone()
    if "ln_final.b" in sd:
        put("ln_final.b", getattr(model.ln_f, "bias", None))
    sd["unembed.W_U"] = model.lm_head.weight.T.clone()
    put("unembed.b_U", None)
    return sd


def build(cfg, state_dict=None):
    """A HookedTransformer of these config fields (and weights), in eval mode, float32."""
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError as e:
        raise UserError(f"TransformerLens is not installed ({e}); `pip install -e .[interp]` installs it")
    tl = HookedTransformer(HookedTransformerConfig(**cfg))
    tl.cfg_fields = cfg  # what load_exported rebuilds it from
    if state_dict is not None:
        tl.load_state_dict(state_dict, strict=True)
    return tl.eval()


def to_transformer_lens(model):
    """A HookedTransformer computing what `model` computes (the module docstring)."""
    tl = build(tl_config(model.config))
    tl.load_state_dict(tl_state_dict(copy.deepcopy(model).float().cpu(), tl.state_dict()), strict=True)
    return tl


def load_exported(path):
    """The HookedTransformer a `python -m interp.export` file holds."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return build(obj["cfg"], obj["state_dict"])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m interp.export", description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt", help="a checkpoint written by train.py")
    p.add_argument("out", help="the file to write (torch.save of the config fields and the state dict)")
    a = p.parse_args(argv)
    try:
        model, _ = load_model(a.ckpt)
        tl = to_transformer_lens(model)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_checkpoint(a.out, {"cfg": tl.cfg_fields, "state_dict": tl.state_dict()})
    print(f"wrote {a.out}: a HookedTransformer of {sum(p.numel() for p in tl.parameters()) / 1e6:.2f}M parameters; "
          "interp.export.load_exported(path) loads it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
