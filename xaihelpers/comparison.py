"""The three CIFAR-10 CNNs side by side: their predictions on the whole test set, the fixed example
images every CIFAR chapter explains, and the tables that compare them.

The networks are the book's trained ones (:mod:`xaihelpers.zoo`), the architectures and the data
come from :mod:`xaihelpers.cifar`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from xaihelpers import cache, inference, storage, zoo
from xaihelpers.cifar import ARCHITECTURES, CifarCNN, CifarData, load_cifar


#: How many fixed test images of each kind the chapters compare the models on.
EXAMPLE_KINDS = {"all_right": 2, "all_wrong": 1, "disagree": 2}


def pick_examples(predictions: dict[str, torch.Tensor], labels: torch.Tensor,
                  counts: dict[str, int] = EXAMPLE_KINDS) -> dict[str, list[int]]:
    """Fixed, reproducible test images for comparing models: the first indices that are

    - ``all_right``: classified correctly by every model,
    - ``all_wrong``: misclassified by every model,
    - ``disagree``: given at least two different labels by the models.

    Args:
        predictions: Model name -> predicted labels ``(N,)`` on the same images.
        labels: True labels ``(N,)``.
        counts: How many indices of each kind.

    Raises:
        ValueError: For an unknown kind, or if some kind has too few images.
    """
    stacked = torch.stack(list(predictions.values()))
    right = stacked == labels
    kinds = {
        "all_right": right.all(dim=0),
        "all_wrong": (~right).all(dim=0),
        "disagree": (stacked != stacked[0]).any(dim=0),
    }
    chosen = {}
    for kind, count in counts.items():
        if kind not in kinds:
            raise ValueError(f"Unknown kind '{kind}'; choose from {sorted(kinds)}.")
        index = kinds[kind].nonzero().flatten()[:count].tolist()
        if len(index) < count:
            raise ValueError(f"Only {len(index)} images of kind '{kind}' among {len(labels)}; pass more images.")
        chosen[kind] = index
    return chosen


@dataclass
class Comparison:
    """The three trained networks, the CIFAR-10 test set, their predictions on it and the fixed
    example images every CIFAR chapter explains."""

    models: dict[str, CifarCNN]
    metas: dict[str, dict]
    test: CifarData
    probabilities: dict[str, torch.Tensor]
    examples: dict[str, list[int]]
    order: torch.Tensor

    def shuffled(self, count: int, start: int = 0) -> list[int]:
        """Test-set indices ``start .. start + count`` of the fixed shuffled order (seed 0): a
        sample of all classes (the mirror's files are sorted by class)."""
        return self.order[start:start + count].tolist()

    @property
    def predictions(self) -> dict[str, torch.Tensor]:
        return {arch: p.argmax(dim=1) for arch, p in self.probabilities.items()}

    @property
    def example_index(self) -> list[int]:
        """The example images' test-set indices, kind after kind."""
        return [i for index in self.examples.values() for i in index]

    @property
    def example_kinds(self) -> list[str]:
        return [kind for kind, index in self.examples.items() for _ in index]

    def example_images(self) -> torch.Tensor:
        """The examples as float ``[0, 1]`` images ``(N, 3, 32, 32)``."""
        return inference.to_float(self.test.images[self.example_index])

    def accuracy_table(self):
        """One row per architecture: description, parameters, training budget, test accuracy and
        test loss (cross-entropy; both measured now, on all 10,000 test images)."""
        import pandas as pd

        rows = []
        for arch, model in self.models.items():
            meta = self.metas[arch]
            rows.append({"architecture": arch, "design": ARCHITECTURES[arch][1],
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "epochs": meta["epochs"], "training minutes": round(meta["train_seconds"] / 60, 1),
                         "test accuracy": round((self.predictions[arch] == self.test.labels).float().mean().item(), 3),
                         "test loss": round(inference.mean_cross_entropy(self.probabilities[arch], self.test.labels), 3)})
        return pd.DataFrame(rows).set_index("architecture")

    def example_table(self):
        """The examples: kind, true class, and each model's predicted class and probability."""
        import pandas as pd

        rows = []
        for index, kind in zip(self.example_index, self.example_kinds):
            row = {"test index": index, "kind": kind, "true": self.test.classes[self.test.labels[index]]}
            for arch, probabilities in self.probabilities.items():
                label = int(probabilities[index].argmax())
                row[arch] = f"{self.test.classes[label]} ({probabilities[index, label]:.2f})"
            rows.append(row)
        return pd.DataFrame(rows).set_index("test index")


def compare_models(archs: Sequence[str] = tuple(ARCHITECTURES), root: Optional[Path] = None,
                   counts: dict[str, int] = EXAMPLE_KINDS) -> Comparison:
    """Load the committed networks and the test set, predict all of it, pick the fixed examples
    (the first of each kind in a shuffled order of the test set, seed 0).

    Raises:
        FileNotFoundError: If a checkpoint is missing (the message gives the training command).
        DatasetNotFoundError: If CIFAR-10 is not under the data root.
    """
    loaded = {arch: zoo.load(f"cifar10_{arch}") for arch in archs}
    test = load_cifar("cifar10", "test", root=root)
    # The three CIFAR chapters share these predictions: computed once, then read from the cache.
    images_digest = cache.tensor_digest(test.images)
    probabilities = {
        arch: cache.memoize_tensor(
            "cifar10-test-probabilities",
            {"checkpoint": storage.file_sha256(zoo.get(f"cifar10_{arch}").checkpoint), "images": images_digest,
             "batch_size": inference.images_per_pass(test.images)},
            lambda model=model: inference.predict_proba(model, test.images))
        for arch, (model, _) in loaded.items()}
    # Picked in a fixed shuffled order: in file order the first thousand images are all airplanes.
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    picked = pick_examples({a: p.argmax(dim=1)[order] for a, p in probabilities.items()}, test.labels[order], counts)
    examples = {kind: [int(order[i]) for i in index] for kind, index in picked.items()}
    return Comparison({a: m for a, (m, _) in loaded.items()}, {a: meta for a, (_, meta) in loaded.items()},
                      test, probabilities, examples, order)
