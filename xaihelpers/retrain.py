"""``python -m xaihelpers.retrain NAME... | all [--force]``: train the book's models (see :mod:`xaihelpers.zoo`).

Each named model is trained with its registry recipe and saved to its shipped checkpoint path (or
at the same place under ``--out-dir``: an exercise variant such as ``continual_ewc_strength_100``
goes to ``DIR/exercises/ewc_strength_100/continual_ewc.pt``, so no two models share a file). A
model whose checkpoint exists is kept and said so, unless ``--force``; ``all`` therefore trains
exactly the models that are missing. The Makefile targets (``make pollen``,
``make cifar``, ``make continual``, ``make exercise-models``) call this command.

Like a chapter, this program fixes the thread count and deterministic kernels
(:func:`xaihelpers.repro.seed_everything`): the last digits of a trained model depend on them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from xaihelpers import continual, repro, zoo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.retrain", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"model names, or 'all' (every model), or 'exercises' (the exercise variants): "
                             f"{', '.join(zoo.MODELS)}")
    parser.add_argument("--force", action="store_true", help="replace existing checkpoints")
    parser.add_argument("--out-dir", type=Path,
                        help="write the checkpoints here, each at its place relative to the shipped folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one setting of the recipe, e.g. --set seed=1 (needs --out-dir)")
    parser.add_argument("--list", action="store_true", help="print the registry and exit")
    return parser


def resolve(names: Sequence[str]) -> list[str]:
    """Registry names for the command line's ``names`` (``all`` and ``exercises`` expanded).

    Raises:
        KeyError: For an unknown name.
    """
    chosen: list[str] = []
    for name in names:
        if name == "all":
            expanded = list(zoo.MODELS)
        elif name == "exercises":
            expanded = [n for n, spec in zoo.MODELS.items() if spec.exercise]
        else:
            expanded = [zoo.get(name).name]
        chosen.extend(n for n in expanded if n not in chosen)
    return chosen


def parse_settings(name: str, pairs: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings -> recipe overrides, each converted to the type of the recipe's value.

    Raises:
        ValueError: For a malformed pair, an unknown key or a value of the wrong type.
    """
    spec, overrides = zoo.get(name), {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in spec.recipe:
            raise ValueError(f"--set {pair!r}: write KEY=VALUE with a KEY of {name}'s recipe: {sorted(spec.recipe)}")
        current = spec.recipe[key]
        if isinstance(current, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(f"--set {key}= takes true or false, got {text!r}")
            overrides[key] = text.lower() == "true"
        else:
            try:
                overrides[key] = type(current)(text)
            except ValueError:
                raise ValueError(f"--set {key}= takes a {type(current).__name__}, got {text!r}") from None
    return overrides


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        print(zoo.table().to_string())
        return 0
    if not args.names:
        parser.error("name at least one model, or 'all' (--list shows them)")
    try:
        names = resolve(args.names)
        overrides = {name: parse_settings(name, args.set) for name in names}
    except KeyError as error:
        parser.error(error.args[0])
    except ValueError as error:
        parser.error(str(error))
    if args.set and not args.out_dir:
        parser.error("--set trains a variant: give --out-dir, so that the book's checkpoint stays as it is")
    with continual.shared_pretraining():  # the continual learners start from one pretraining
        for name in names:
            _train_one(name, args.out_dir, args.force, overrides[name])
    return 0


def _train_one(name: str, out_dir: Optional[Path], force: bool, overrides: dict) -> None:
    spec = zoo.get(name)
    target = zoo.checkpoint_path(name, out_dir)
    if target.exists() and not force:
        print(f"{name}: {target} exists; kept (--force replaces it)")
        return
    repro.seed_everything()  # threads and deterministic kernels, as the shipped checkpoints had
    print(f"{name}: training ({spec.description}; about {spec.minutes:g} minutes on 2 cores)")
    written = zoo.train(name, out=target, force=force, **overrides)
    _, meta = zoo.load(name, written)
    summary = {key: round(meta[key], 3) for key in ("val_accuracy", "test_accuracy") if key in meta}
    print(f"{name}: saved {written} in {meta['train_seconds']:.0f} s {summary or ''}".rstrip())


if __name__ == "__main__":
    sys.exit(main())
