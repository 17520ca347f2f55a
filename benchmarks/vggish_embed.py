"""Examples per second of VGGish.embed against a bare session.run of the same graph.

    python benchmarks/vggish_embed.py [--checkpoint CKPT] [--examples 512]

Without --checkpoint, a random-weights checkpoint in the official layout is written to a
temporary folder (speed does not depend on weight values). Every figure comes from this one
run: embed at batch sizes 1, 32 and 128, and session.run fed directly with batches of the
same sizes on the same input. The last line is the ratio of embed at its default batch size
to the best bare run (1.0 means no overhead; the floor is 0.9).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _rate(function, examples, repeats=2):
    function(examples[:128])  # warm-up: first runs allocate and pick kernels
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(examples)
        best = min(best, time.perf_counter() - started)
    return examples.shape[0] / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a VGGish checkpoint (default: random weights)")
    parser.add_argument("--examples", type=int, default=512)
    args = parser.parse_args()

    from vggish.model import VGGish
    from vggish.testing import write_random_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.checkpoint or write_random_checkpoint(Path(folder) / "vggish_model.ckpt")
        examples = np.random.default_rng(0).normal(-4, 2, (args.examples, 96, 64)).astype(np.float32)
        default_batch = VGGish.__init__.__kwdefaults__["batch_size"]
        embed_rates, bare_rates = {}, {}
        for batch_size in (1, 32, 128):
            count = examples if batch_size > 1 else examples[: max(64, args.examples // 4)]
            with VGGish(checkpoint, batch_size=batch_size) as model:
                embed_rates[batch_size] = _rate(model.embed, count)

                def bare(batch):
                    for start in range(0, batch.shape[0], batch_size):
                        model._session.run(model._output, feed_dict={model._input: batch[start : start + batch_size]})

                bare_rates[batch_size] = _rate(bare, count)
            print(f"batch_size={batch_size:<4d} embed_examples_per_s={embed_rates[batch_size]:7.1f} "
                  f"bare_session_run_examples_per_s={bare_rates[batch_size]:7.1f}")
    best_bare = max(bare_rates.values())
    print(f"default_batch_size={default_batch}")
    print(f"best_bare_examples_per_s={best_bare:.1f}")
    print(f"ratio_embed_default_to_best_bare={embed_rates[default_batch] / best_bare:.3f}")


if __name__ == "__main__":
    main()
