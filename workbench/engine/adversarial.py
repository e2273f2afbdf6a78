"""Adversarial training on embeddings (FGSM / PGD style), a trainer option.

The perturbation is added to the *outputs of every ``nn.Embedding`` lookup* inside
the model's views (item, position, action, ... embeddings as used in the forward
pass). Tables used without a lookup (e.g. the tied item table a head scores
against) are not perturbed.

``loss = L(x) + weight * L(x + delta)`` with
- fgsm: ``delta = epsilon * g / ||g||_2`` per embedding vector (``norm = "l2"``,
  the FGM of Miyato et al.) or ``epsilon * sign(g)`` (``norm = "sign"``, FGSM);
- pgd: ``steps`` ascent steps of size ``epsilon * 2.5 / steps`` projected back onto
  the epsilon ball after each step (Madry et al.).
Torch is imported lazily; the options dataclass is torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.options import option


@dataclass
class AdversarialOptions:
    method: str = option("off", help="perturb the embedding lookups", choices=["off", "fgsm", "pgd"])
    epsilon: float = option(0.05, help="size of the perturbation (per embedding vector)", min=0.0)
    norm: str = option("l2", help="l2: scaled gradient (FGM), sign: signed gradient (FGSM)",
                       choices=["l2", "sign"])
    steps: int = option(3, help="PGD ascent steps", min=1, max=20)
    weight: float = option(1.0, help="weight of the adversarial loss", min=0.0)


class EmbeddingAdversary:
    """Wraps a model whose ``loss(batch)`` is the training loss (the engine's ComposedModel).

    ``adversary.loss(batch)`` returns ``clean + weight * adversarial`` (one tensor to backward).
    """

    def __init__(self, model, options: AdversarialOptions):
        from torch import nn

        self.model, self.options = model, options
        root = getattr(model, "views", model)
        self.embeddings = [m for m in root.modules() if isinstance(m, nn.Embedding)]
        self._outputs: list = []
        self._deltas: list | None = None
        self._handles = [m.register_forward_hook(self._hook) for m in self.embeddings]

    @property
    def active(self) -> bool:
        return self.options.method != "off" and self.options.epsilon > 0

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, module, inputs, output):
        k = len(self._outputs)
        if self._deltas is not None and k < len(self._deltas) and self._deltas[k] is not None \
                and self._deltas[k].shape == output.shape:
            output = output + self._deltas[k]
        self._outputs.append(output)
        return output

    def _run(self, batch, deltas):
        self._outputs, self._deltas = [], deltas
        try:
            loss = self.model.loss(batch)
        finally:
            self._deltas = None
        outputs, self._outputs = self._outputs, []
        return loss, outputs

    def _step(self, grad, eps):
        import torch

        if self.options.norm == "sign":
            return eps * torch.sign(grad)
        return eps * grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def _project(self, delta):
        import torch

        eps = self.options.epsilon
        if self.options.norm == "sign":
            return delta.clamp(-eps, eps)
        n = delta.norm(dim=-1, keepdim=True)
        return delta * torch.clamp(eps / n.clamp(min=1e-12), max=1.0)

    def loss(self, batch):
        import torch

        clean, outputs = self._run(batch, None)
        if not self.active or not self.model.training:
            return clean
        need = [o for o in outputs if o.requires_grad]
        if not need:
            return clean
        grads = torch.autograd.grad(clean, need, retain_graph=True, allow_unused=True)
        by_id = {id(o): g for o, g in zip(need, grads)}
        deltas = [None if by_id.get(id(o)) is None else self._step(by_id[id(o)].detach(), self.options.epsilon)
                  for o in outputs]
        if self.options.method == "pgd":
            size = self.options.epsilon * 2.5 / self.options.steps
            deltas = [None if d is None else d * (size / self.options.epsilon) for d in deltas]
            for _ in range(self.options.steps - 1):
                probe = [None if d is None else d.clone().requires_grad_(True) for d in deltas]
                adv, _ = self._run(batch, probe)
                live = [p for p in probe if p is not None]
                step_grads = torch.autograd.grad(adv, live, allow_unused=True)
                it = iter(step_grads)
                deltas = [None if p is None else self._project(p.detach() + self._step(
                    g if (g := next(it)) is not None else torch.zeros_like(p), size)) for p in probe]
        adv, _ = self._run(batch, [None if d is None else d.detach() for d in deltas])
        return clean + self.options.weight * adv


def adversary_for(model, trainer_options) -> EmbeddingAdversary | None:
    """The adversary asked for by the trainer options (``adversarial*`` fields), or None when off.

    ``fgm``: L2-scaled gradient step; ``fgsm``: signed gradient step; ``pgd``: projected L2 steps."""
    method = getattr(trainer_options, "adversarial", "off")
    eps = getattr(trainer_options, "adversarial_epsilon", 0.0)
    if method == "off" or eps <= 0:
        return None
    options = AdversarialOptions(method="pgd" if method == "pgd" else "fgsm", epsilon=eps,
                                 norm="sign" if method == "fgsm" else "l2",
                                 steps=getattr(trainer_options, "adversarial_steps", 3),
                                 weight=getattr(trainer_options, "adversarial_weight", 1.0))
    return EmbeddingAdversary(model, options)
