"""A variational autoencoder of hidden feature maps with one prior mode per class: the generator
of the book's generative-replay strategy (:class:`xaihelpers.strategies.GenerativeReplay`).

Brain-inspired replay (van de Ven, Siegelmann and Tolias 2020, *Brain-inspired replay for continual
learning with artificial neural networks*, Nature Communications 11:4069) replays *internal*
representations: the feature maps that frozen, pretrained convolutional layers make of an image,
not the image itself. Its generator is a VAE (Kingma and Welling 2014) whose prior is a mixture of
Gaussians with one learned mode per class, so that it can generate features of a chosen class.
:class:`FeatureVAE` is that generator, without BI-R's other parts (it is a separate network, not
the classifier's own layers run backwards; no context gates).

Cost: training makes 1 forward and 1 backward pass of the VAE per feature map and epoch;
generating a feature map is 1 forward pass of the decoder.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm


class FeatureVAE(nn.Module):
    """A fully connected VAE of ``(C, H, W)`` feature maps with a class-conditional Gaussian prior.

    The encoder maps a flattened feature map to the mean and log-variance of ``q(z | h)``; the
    decoder maps ``z`` back to a non-negative feature map (the features it models come after a
    ReLU). The prior of class ``c`` is ``N(m_c, I)`` with a learned mean ``m_c``.

    Args:
        shape: The feature maps' ``(C, H, W)``.
        classes: Number of classes the prior has a mode for (all tasks together).
        hidden: Width of the one hidden layer of the encoder and of the decoder.
        latent: Dimension of ``z``.
    """

    def __init__(self, shape: Sequence[int], classes: int, hidden: int = 512, latent: int = 32) -> None:
        super().__init__()
        self.shape, self.latent = tuple(shape), latent
        size = math.prod(self.shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(size, hidden), nn.ReLU())
        self.to_mean, self.to_log_variance = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, size),
                                     nn.Unflatten(1, self.shape), nn.ReLU())
        # Spread-out initial modes, so that classes start apart in the latent space.
        self.prior_means = nn.Parameter(torch.randn(classes, latent))

    def loss(self, features: torch.Tensor, classes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean negative evidence lower bound of ``features`` of ``classes``: squared reconstruction
        error (summed over the feature map) plus ``KL(q(z | h) || N(m_c, I))``."""
        encoded = self.encoder(features)
        mean, log_variance = self.to_mean(encoded), self.to_log_variance(encoded)
        noise = torch.randn(mean.shape, generator=generator)
        reconstruction = self.decoder(mean + (0.5 * log_variance).exp() * noise)
        error = F.mse_loss(reconstruction, features, reduction="none").flatten(1).sum(dim=1)
        prior = self.prior_means[classes]
        divergence = 0.5 * (log_variance.exp() + (mean - prior).pow(2) - 1 - log_variance).sum(dim=1)
        return (error + divergence).mean()

    @torch.no_grad()
    def generate(self, classes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One feature map per entry of ``classes``, decoded from ``z ~ N(m_c, I)``."""
        noise = torch.randn((len(classes), self.latent), generator=generator)
        return self.decoder(self.prior_means[classes] + noise)


def train_vae(vae: FeatureVAE, features: torch.Tensor, classes: torch.Tensor, *, epochs: int,
              generator: torch.Generator, previous: Optional[FeatureVAE] = None,
              old_classes: Optional[torch.Tensor] = None, batch_size: int = 128,
              learning_rate: float = 1e-3, progress: bool = False) -> list[float]:
    """Train ``vae`` on ``features`` of ``classes``, replaying its own past (deep generative replay).

    When ``previous`` (a frozen copy of the VAE before this task) and ``old_classes`` are given,
    every batch of real features is joined by as many features that ``previous`` generates for
    old classes drawn uniformly from ``old_classes``, so that the generator keeps the earlier
    classes while it learns the new ones (Shin et al. 2017, *Continual learning with deep
    generative replay*; BI-R does the same).

    Args:
        vae: The generator (trained in place, left in eval mode).
        features: ``(N, C, H, W)`` feature maps of the current task.
        classes: ``(N,)`` their global class indices.
        epochs: Passes over ``features``.
        generator: Draws the batches, the latent noise and the replayed classes.
        previous: The VAE as it was before this task, or ``None`` on the first task.
        old_classes: The global classes of the earlier tasks.
        batch_size: Real feature maps per step.
        learning_rate: Adam's learning rate.
        progress: Show a progress bar.

    Returns:
        The mean loss of each epoch.
    """
    optimizer = torch.optim.Adam(vae.parameters(), lr=learning_rate)
    replay = previous is not None and old_classes is not None and len(old_classes) > 0
    losses = []
    vae.train()
    bar = tqdm(total=epochs * math.ceil(len(features) / batch_size), desc="feature VAE", disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(len(features), generator=generator)
        total = 0.0
        for start in range(0, len(features), batch_size):
            index = order[start:start + batch_size]
            batch, batch_classes = features[index], classes[index]
            if replay:
                replayed = old_classes[torch.randint(0, len(old_classes), (len(index),), generator=generator)]
                batch = torch.cat([batch, previous.generate(replayed, generator)])
                batch_classes = torch.cat([batch_classes, replayed])
            loss = vae.loss(batch, batch_classes, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            bar.update()
        losses.append(total / len(features))
    bar.close()
    vae.eval()
    return losses
