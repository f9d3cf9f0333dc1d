"""The fast path for CLIP text: run the causal text tower only as far as the prompts need.

The CLIP text tower is causal and pools at the end-of-text token, so a batch runs only up to its
longest prompt's end token; ``CausalTextTower.find`` checks that structurally and ``verify``
numerically (once, against the full context) before the short path is trusted.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from open_clip.transformer import ResidualAttentionBlock, TextTransformer, Transformer, text_global_pool

log = logging.getLogger(__name__)


class CausalTextTower:
    """A causal open_clip text tower run only up to the batch's last end-of-text token.

    With a causal mask, position i never sees later positions, and pooling at the end token (or
    the first token) reads only earlier ones, so the padding after the longest prompt's end token
    changes nothing. ``find`` checks that structure; ``verify`` compares with the full 77-token
    result on the first real batch before the short path is trusted.
    """

    _POOLS = ("argmax", "eos", "first")

    def __init__(self, owner: torch.nn.Module, pool: str, eos_id: int | None) -> None:
        self._owner, self.pool, self.eos_id = owner, pool, eos_id
        self.verified = False

    @classmethod
    def find(cls, model: torch.nn.Module) -> CausalTextTower | None:
        """The model's text tower if it is provably causal with end-token pooling, else None (logged)."""
        owner, pool, eos = model, getattr(model, "text_pool_type", None), getattr(model, "text_eos_id", None)
        text = getattr(model, "text", None)
        if isinstance(text, TextTransformer):
            owner, pool, eos = text, text.pool_type, text.eos_id
            if text.cls_emb is not None or text.use_pad_mask or text.output_tokens:
                pool = "cls/pad-masked"
        reason = cls._unsafe_reason(owner, pool)
        if reason:
            log.info("text fast path off (%s): full context for every text", reason)
            return None
        return cls(owner, pool, eos)

    @staticmethod
    def _unsafe_reason(owner: torch.nn.Module, pool: Any) -> str | None:
        if pool not in CausalTextTower._POOLS:
            return f"pooling {pool!r} may read later tokens"
        for attr in ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask"):
            if getattr(owner, attr, None) is None:
                return f"no {attr}"
        blocks = getattr(owner.transformer, "resblocks", [])
        if type(owner.transformer) is not Transformer or not all(
            type(b) is ResidualAttentionBlock and not hasattr(b, "ln_1_kv") for b in blocks
        ):
            return "non-standard transformer blocks"
        if not isinstance(owner.ln_final, torch.nn.LayerNorm):
            return "final norm is not a per-token LayerNorm"
        mask, n = owner.attn_mask, owner.positional_embedding.shape[0]
        if mask.dim() != 2 or mask.shape[0] != mask.shape[1] or mask.shape[0] < n:
            return "attention mask has an unexpected shape"
        future = torch.ones(mask.shape, dtype=torch.bool).triu(1)
        if not (torch.isneginf(mask[future]).all() and (mask[~future] == 0).all()):
            return "attention mask is not causal"
        return None

    def ends(self, tokens: torch.Tensor) -> torch.Tensor:
        """Position each row is pooled at (the rule of open_clip's ``text_global_pool``)."""
        if self.pool == "argmax":
            return tokens.argmax(dim=-1)
        if self.pool == "eos":
            return (tokens == self.eos_id).int().argmax(dim=-1)
        return torch.zeros(tokens.shape[0], dtype=torch.long)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unnormalised text features of ``tokens`` (B, context), computed on the first L positions."""
        o = self._owner
        length = int(self.ends(tokens).max()) + 1
        tokens = tokens[:, :length]
        cast = o.transformer.get_cast_dtype()
        x = o.token_embedding(tokens).to(cast) + o.positional_embedding[:length].to(cast)
        x = o.transformer(x, attn_mask=o.attn_mask[:length, :length])
        x = text_global_pool(o.ln_final(x), tokens, self.pool, eos_token_id=self.eos_id)
        proj = o.text_projection
        if proj is None:
            return x
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj

    def verify(self, tokens: torch.Tensor, full: torch.Tensor) -> bool:
        """Compare the short path with the full-context ``full`` features; remember and return the verdict."""
        fast = torch.nn.functional.normalize(self.encode(tokens).float(), dim=-1)
        self.verified = bool(torch.allclose(fast, torch.nn.functional.normalize(full.float(), dim=-1), atol=1e-4))
        if not self.verified:
            log.warning("truncated text tower disagrees with the full one: using the full context")
        return self.verified
