"""Lacunarity: the vectorised implementation against the box-by-box definition.

Prints, for a 224x224 heat map (the size of an ImageNet Grad-CAM upsampled to the input) and each
box size of the book (2, 4, 8), the time of ``lacunarity_reference`` (a Python loop over every
box position), the time of ``heatmaps.lacunarity`` (window sums by ``avg_pool2d``), their ratio, and the
largest difference of the results. Also the batched call on 64 maps of 32x32 (the continual-
learning chapter's case). The target is a ratio of at least 100; it is printed, not asserted.

    python benchmarks/lacunarity_speed.py            # print only (make bench)
    python benchmarks/lacunarity_speed.py --write    # also store the table
"""

from __future__ import annotations

import argparse

import numpy as np

from _results import OUT, machine, median_seconds, write
from xaihelpers import heatmaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the table under {OUT}")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    heatmap = rng.random((224, 224)) ** 4  # a skewed map, like a heat map's values
    rows = []
    print(f"lacunarity of one 224x224 map ({machine()})")
    print(f"{'box':>4} {'reference s':>12} {'vectorised s':>13} {'ratio':>8} {'|difference|':>13}")
    for size in heatmaps.BOX_SIZES:
        expected, slow = median_seconds(lambda: heatmaps.lacunarity_reference(heatmap, size), repeats=3)
        got, fast = median_seconds(lambda: heatmaps.lacunarity(heatmap, [size])[0], repeats=20)
        difference = abs(got - expected)
        print(f"{size:>4} {slow:>12.4f} {fast:>13.6f} {slow / fast:>8.0f} {difference:>13.1e}")
        rows.append([f"224x224, box {size}", f"{slow:.4f}", f"{fast:.6f}", f"{slow / fast:.0f}", f"{difference:.1e}"])
    all_sizes_slow = sum(float(r[1]) for r in rows)
    _, all_sizes_fast = median_seconds(lambda: heatmaps.lacunarity(heatmap), repeats=20)
    print(f"all three sizes: reference {all_sizes_slow:.3f} s, vectorised {all_sizes_fast:.5f} s, "
          f"ratio {all_sizes_slow / all_sizes_fast:.0f}")
    rows.append(["224x224, boxes 2+4+8", f"{all_sizes_slow:.4f}", f"{all_sizes_fast:.6f}",
                 f"{all_sizes_slow / all_sizes_fast:.0f}", ""])
    batch = rng.random((64, 32, 32))
    _, slow = median_seconds(lambda: [[heatmaps.lacunarity_reference(m, s) for s in heatmaps.BOX_SIZES] for m in batch], 3)
    _, fast = median_seconds(lambda: heatmaps.lacunarity(batch), 20)
    print(f"64 maps of 32x32, boxes 2+4+8: reference {slow:.3f} s, vectorised {fast:.5f} s, ratio {slow / fast:.0f}")
    rows.append(["64 x 32x32, boxes 2+4+8", f"{slow:.4f}", f"{fast:.6f}", f"{slow / fast:.0f}", ""])
    if args.write:  # like the other benchmarks: make bench measures, only --write replaces the stored table
        write("lacunarity_speed", ["case", "reference_s", "vectorised_s", "ratio", "max_abs_difference"], rows,
              {"machine": machine(), "target_ratio": 100})


if __name__ == "__main__":
    main()
