"""Bayesian optimisation vs random search on Branin (2-D) and Hartmann-6: simple regret.

For each problem and each seed, runs quanta.bayesopt.optimise with expected
improvement and with the upper confidence bound, and random search with the
same budget, and prints (1) the mean simple regret (best value so far minus
the known minimum) +- its standard error over the seeds after n evaluations,
and (2) the evaluations needed to reach a regret threshold (mean over the
seeds that reached it, and how many did).

    python benchmarks/bayesopt_regret.py [--seeds 5] [--problems branin hartmann6] [--batch 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: problem -> (budget of evaluations, regret threshold, checkpoints of the table)
PROBLEMS = {
    "branin": (30, 0.05, (10, 20, 30)),
    "hartmann6": (60, 0.3, (20, 40, 60)),
}


def problem(name: str):
    """The function (a 1-D NumPy array in, a float out), its box (d, 2) and its known minimum."""
    import torch
    from botorch.test_functions import Branin, Hartmann

    test = Branin() if name == "branin" else Hartmann(dim=6)

    def function(x: np.ndarray) -> float:
        return float(test(torch.as_tensor(x, dtype=torch.float64).unsqueeze(0)))

    return function, test.bounds.T.numpy(), float(test.optimal_value)


def curves(name: str, seeds: int, batch: int) -> dict[str, np.ndarray]:
    """Regret curves, shape (seeds, budget), per method."""
    from quanta.bayesopt import optimise, random_search

    function, box, optimum = problem(name)
    budget = PROBLEMS[name][0]
    out: dict[str, list[np.ndarray]] = {"BO-EI": [], "BO-UCB": [], "random search": []}
    for seed in range(seeds):
        for label, acquisition in (("BO-EI", "ei"), ("BO-UCB", "ucb")):
            start = time.perf_counter()
            result = optimise(
                function, box, evaluations=budget, batch=batch, acquisition=acquisition, seed=seed
            )
            out[label].append(result.regret(optimum))
            print(
                f"  {name} {label} seed {seed}: regret {out[label][-1][-1]:.4g} "
                f"({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
        out["random search"].append(
            random_search(function, box, evaluations=budget, seed=seed).regret(optimum)
        )
    return {label: np.array(rows) for label, rows in out.items()}


def evaluations_to_reach(curve: np.ndarray, threshold: float) -> int | None:
    """The first evaluation (counting from 1) at which the regret is <= threshold, or None."""
    hits = np.flatnonzero(curve <= threshold)
    return int(hits[0]) + 1 if len(hits) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = parser.parse_args()
    for name in args.problems:
        budget, threshold, checkpoints = PROBLEMS[name]
        table = curves(name, args.seeds, args.batch)
        print(
            f"\n{name}: mean simple regret +- standard error over {args.seeds} seeds "
            f"(batch {args.batch})"
        )
        print(f"  {'method':<14}" + "".join(f"{f'n={n}':>20}" for n in checkpoints))
        for label, rows in table.items():
            cells = []
            for n in checkpoints:
                column = rows[:, n - 1]
                cells.append(
                    f"{column.mean():.4f} +- {column.std(ddof=1) / np.sqrt(len(column)):.4f}"
                )
            print(f"  {label:<14}" + "".join(f"{c:>20}" for c in cells))
        print(f"{name}: evaluations to reach regret <= {threshold} (budget {budget})")
        for label, rows in table.items():
            counts = [evaluations_to_reach(row, threshold) for row in rows]
            reached = [c for c in counts if c is not None]
            mean = f"{np.mean(reached):.1f}" if reached else "-"
            print(
                f"  {label:<14} mean {mean:>6} over the {len(reached)}/{len(counts)} "
                "seeds that reached it"
            )


if __name__ == "__main__":
    main()
