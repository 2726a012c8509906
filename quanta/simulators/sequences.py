"""The toy sequence tasks of the recurrent-network lectures: palindromes, copying, adding.

Each task needs memory of the past that a feed-forward network of a fixed
input window does not have naturally: is this sequence the same backwards
(compare symbols far apart)? Repeat what you saw after a pause (store a whole
sequence)? Add the numbers that were marked (remember two values over many
steps)? Generation is a few vectorised NumPy calls (2x10^5 to 3x10^6 sequences/s), so
nothing is cached.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked

TASKS = ("palindrome", "copy", "sum")


@checked
def sequences(
    task: Literal["palindrome", "copy", "sum"] = "palindrome",
    size: Annotated[int, Field(ge=2, description="an integer >= 2")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    min_length: Annotated[int, Field(ge=1, description="an integer >= 1")] = 1,
    max_length: int = 10,
    vocabulary: Annotated[int, Field(ge=2, description="an integer >= 2")] = 10,
    encoding: Literal["onehot", "index"] = "onehot",
    near_miss: Annotated[float, Field(ge=0, le=1, description="a fraction in [0, 1]")] = 0.5,
    delay: Annotated[int, Field(ge=0, description="an integer >= 0")] = 0,
    marked: int = 0,
) -> Dataset:
    """Toy sequence tasks for recurrent networks: palindrome recognition, copy and sum

    Sequences of symbols 0 ... ``vocabulary`` - 1 with lengths L drawn
    uniformly from [``min_length``, ``max_length``], padded to a common length
    T. Which task:

    ``palindrome`` - is the sequence the same read backwards? ``y`` int64[N],
        classes ``"not palindrome"`` (0) and ``"palindrome"`` (1), exactly
        ``size // 2`` palindromes. Palindromes are built explicitly (a random
        first half, mirrored). A fraction ``near_miss`` of the
        non-palindromes are near misses: a palindrome with one symbol (not the
        middle one) replaced, so that a single comparison of two distant
        positions decides the class; the rest are random sequences that are
        not palindromes. A sequence of length 1 is always a palindrome, so
        non-palindromes have L >= 2. T = ``max_length``.
    ``copy`` - reproduce the input after a pause. Steps 0 ... L-1 show the
        symbols, step L a separator, then ``delay`` blank steps, then L blank
        steps during which the network must output the symbols again: T =
        2 ``max_length`` + 1 + ``delay``. ``y`` int64[N, T] is the symbol to
        output at each step, class ``vocabulary`` ("blank") where nothing is
        to be output; ``target_mask`` bool[N, T] marks the L output steps (the
        usual loss and accuracy count only them).
    ``sum`` - the adding problem: regress the sum of the symbol values (0 ...
        ``vocabulary`` - 1) at the marked steps; ``y`` float32[N]. With
        ``marked`` = 0 every step is marked (the plain sum of the sequence);
        with ``marked`` = 2 two random steps are, as in Hochreiter and
        Schmidhuber's adding problem, and the network must ignore the others.
        T = ``max_length``.

    Inputs: ``x`` float32[N, T, F] and ``mask`` bool[N, T] (True on the steps
    of the sequence, including the copy task's separator, pause and output
    steps; padding is all zeros), ``length`` int64[N] = the number of True
    steps. Per step, with ``encoding``:
        ``onehot`` - F = ``vocabulary`` channels, a one-hot symbol (blank and
            padding: all zeros);
        ``index`` - F = 1 channel, symbol + 1 (so that 0 means no symbol).
    The copy task adds a last channel that is 1 at the separator; the sum task
    adds a last channel that is 1 at the marked steps.

    Extra arrays: ``symbols`` int64[N, T] (the input symbols, -1 where there is
    none); palindrome: ``near_miss`` bool[N] (the non-palindromes made from a
    palindrome); sum: ``marker`` bool[N, T].

    Args:
        task: which task (see above).
        size: number of sequences (>= 2).
        seed: seeds everything; the data is a deterministic function of the parameters.
        min_length, max_length: range of sequence lengths, 1 <= min <= max
            (palindrome: max >= 2; sum: min >= ``marked``).
        vocabulary: number of symbols (>= 2).
        encoding: ``onehot`` or ``index`` inputs (see Inputs).
        near_miss: palindrome: fraction of the non-palindromes that are near misses, in [0, 1].
        delay: copy: blank steps between the separator and the output phase (>= 0).
        marked: sum: number of marked steps (0: all of them).

    Defaults: the palindrome task of the lecture - lengths 1 to 10 over 10
    symbols, one-hot, half of the non-palindromes near misses. Flattened into
    boosted trees or an MLP it is hard (measured test accuracy ~0.78-0.80, AUC
    0.85, with 20,000 sequences); an LSTM or GRU is expected to pass 95 %.

    References:
        S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural
        Comput. 9 (1997) 1735 (the adding problem, long time lags).
        A. Graves, G. Wayne and I. Danihelka, "Neural Turing machines",
        arXiv:1410.5401 (2014) (the copy task).
        M. Arjovsky, A. Shah and Y. Bengio, "Unitary evolution recurrent neural
        networks", ICML 2016, arXiv:1511.06464 (copy with a delay, adding).
    """
    palindrome = task == "palindrome"
    if max_length < max(min_length, 2 if palindrome else 1):
        raise bad_param("sequences", "max_length", f"an integer >= min_length = {min_length}"
                        + (" and >= 2 (palindrome)" if palindrome else ""), max_length)
    if not 0 <= marked <= min_length:
        raise bad_param("sequences", "marked", f"an integer in [0, min_length = {min_length}] (0: every step)", marked)
    rng = np.random.default_rng([int(seed), TASKS.index(task)])
    info: dict[str, Any] = {"task": task, "size": size, "seed": seed, "min_length": min_length,
                            "max_length": max_length, "vocabulary": vocabulary, "encoding": encoding,
                            "near_miss": near_miss, "delay": delay, "marked": marked}
    if task == "palindrome":
        arrays, classes = palindromes(rng, size, min_length, max_length, vocabulary, near_miss), \
            ["not palindrome", "palindrome"]
    elif task == "copy":
        arrays, classes = copies(rng, size, min_length, max_length, vocabulary, delay), \
            [str(s) for s in range(vocabulary)] + ["blank"]
    else:
        arrays, classes = sums(rng, size, min_length, max_length, vocabulary, marked), None
    symbols = arrays["symbols"]
    x = encode(symbols, vocabulary, encoding)  # [N, T, F]
    extra = arrays.pop("flag", None)  # separator (copy) or marker (sum) channel
    if extra is not None:
        x = np.concatenate([x, extra[..., None].astype(np.float32)], axis=2)
    arrays["x"] = x
    arrays["length"] = arrays["mask"].sum(axis=1).astype(np.int64)
    names = [f"symbol_{s}" for s in range(vocabulary)] if encoding == "onehot" else ["symbol_plus_1"]
    names += {"copy": ["separator"], "sum": ["marker"]}.get(task, [])
    return Dataset(arrays=arrays, name="sequences", feature_names=names, classes=classes, info=info)


def encode(symbols: np.ndarray, vocabulary: int, encoding: str) -> np.ndarray:
    """Symbols int[N, T] (-1: none) -> inputs float32[N, T, F] (one-hot, or symbol + 1)."""
    if encoding == "index":
        return (symbols + 1).astype(np.float32)[..., None]  # [N, T, 1]
    onehot = np.zeros((*symbols.shape, vocabulary + 1), np.float32)  # last column catches -1
    np.put_along_axis(onehot, symbols[..., None] % (vocabulary + 1), 1.0, axis=2)
    return onehot[..., :vocabulary]  # [N, T, V]


def random_lengths(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return rng.integers(low, high + 1, n)


def padded(rng: np.random.Generator, lengths: np.ndarray, width: int, vocabulary: int) -> np.ndarray:
    """Random symbols int64[N, width], -1 beyond each row's length."""
    symbols = rng.integers(0, vocabulary, (len(lengths), width))
    return np.where(np.arange(width)[None, :] < lengths[:, None], symbols, -1)


def mirror(symbols: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row read backwards within its length: ``out[i, t] = symbols[i, L_i - 1 - t]``."""
    width = symbols.shape[1]
    source = lengths[:, None] - 1 - np.arange(width)[None, :]  # [N, T]
    inside = source >= 0
    return np.where(inside, np.take_along_axis(symbols, np.maximum(source, 0), axis=1), -1)


def is_palindrome(symbols: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """bool[N]: row equals its reverse (padding -1 compares equal to padding)."""
    return (symbols == mirror(symbols, lengths)).all(axis=1)


def palindromes(rng: np.random.Generator, size: int, min_length: int, max_length: int,
                vocabulary: int, near_miss: float) -> dict[str, np.ndarray]:
    """Balanced palindromes and non-palindromes (near misses and random), rows shuffled."""
    n_yes = size // 2
    n_no = size - n_yes
    n_near = int(round(near_miss * n_no))
    # palindromes, and the palindromes the near misses are made from
    lengths = np.concatenate([random_lengths(rng, n_yes, min_length, max_length),
                              random_lengths(rng, n_near, max(min_length, 2), max_length)])
    half = padded(rng, (lengths + 1) // 2, max_length, vocabulary)  # first ceil(L/2) symbols
    symbols = np.where(np.arange(max_length)[None, :] < (lengths[:, None] + 1) // 2, half, mirror(half, lengths))
    # near misses: change one symbol outside the middle of an odd length (the middle has no partner)
    near = slice(n_yes, n_yes + n_near)
    n_pairs = lengths[near] // 2
    pair = (rng.random(n_near) * n_pairs).astype(np.int64)  # 0 ... pairs-1
    position = np.where(rng.random(n_near) < 0.5, pair, lengths[near] - 1 - pair)
    rows = np.arange(n_yes, n_yes + n_near)
    symbols[rows, position] = (symbols[rows, position] + rng.integers(1, vocabulary, n_near)) % vocabulary
    # random non-palindromes: draw, and draw again the few that happen to be palindromes
    other_lengths = random_lengths(rng, n_no - n_near, max(min_length, 2), max_length)
    others = padded(rng, other_lengths, max_length, vocabulary)
    redo = is_palindrome(others, other_lengths)
    while redo.any():
        others[redo] = padded(rng, other_lengths[redo], max_length, vocabulary)
        redo[redo] = is_palindrome(others[redo], other_lengths[redo])
    symbols = np.concatenate([symbols, others])
    all_lengths = np.concatenate([lengths, other_lengths])
    y = (np.arange(size) < n_yes).astype(np.int64)
    near_flag = (np.arange(size) >= n_yes) & (np.arange(size) < n_yes + n_near)
    order = rng.permutation(size)
    mask = np.arange(max_length)[None, :] < all_lengths[:, None]
    return {"symbols": symbols[order], "mask": mask[order], "y": y[order], "near_miss": near_flag[order]}


def copies(rng: np.random.Generator, size: int, min_length: int, max_length: int, vocabulary: int,
           delay: int) -> dict[str, np.ndarray]:
    """The copy task: symbols, separator, ``delay`` blanks, then the symbols as per-step targets."""
    width = 2 * max_length + 1 + delay
    lengths = random_lengths(rng, size, min_length, max_length)
    steps = np.arange(width)[None, :]
    shown = padded(rng, lengths, max_length, vocabulary)  # [N, max_length]
    symbols = np.full((size, width), -1, np.int64)
    symbols[:, :max_length] = shown
    start = lengths + 1 + delay  # first output step
    output = (steps >= start[:, None]) & (steps < (start + lengths)[:, None])  # [N, T]
    source = np.clip(steps - start[:, None], 0, max_length - 1)
    y = np.where(output, np.take_along_axis(shown, source, axis=1), vocabulary)  # blank elsewhere
    return {"symbols": symbols, "flag": steps == lengths[:, None], "y": y,
            "mask": steps < (start + lengths)[:, None], "target_mask": output}


def sums(rng: np.random.Generator, size: int, min_length: int, max_length: int, vocabulary: int,
         marked: int) -> dict[str, np.ndarray]:
    """The adding problem: the sum of the symbol values at ``marked`` random steps (0: all)."""
    lengths = random_lengths(rng, size, min_length, max_length)
    symbols = padded(rng, lengths, max_length, vocabulary)
    mask = symbols >= 0
    if marked:
        # the `marked` steps with the smallest random keys among the valid ones
        keys = np.where(mask, rng.random(symbols.shape), np.inf)
        ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
        marker = ranks < marked
    else:
        marker = mask
    y = (np.where(marker, symbols, 0)).sum(axis=1).astype(np.float32)
    return {"symbols": symbols, "flag": marker, "marker": marker, "y": y, "mask": mask}


def show(data: Dataset):
    """Figure of a sequences data set: a few examples as grids of symbols, titled with their targets.

    Palindrome: examples of each class (near misses marked); copy: input
    symbols, separator and the symbols to output; sum: the symbols with the
    marked steps framed and the target sum.
    """
    import matplotlib.pyplot as plt

    task = data.info.get("task", "palindrome")
    symbols, mask = data["symbols"], data["mask"]
    vocabulary = data.info.get("vocabulary", 10)
    if task == "palindrome":
        near = data["near_miss"]
        picks = [*np.flatnonzero(data.y == 1)[:4], *np.flatnonzero(near)[:2],
                 *np.flatnonzero((data.y == 0) & ~near)[:2]]
        labels = ["palindrome"] * 4 + ["near miss (not palindrome)"] * 2 + ["random (not palindrome)"] * 2
    elif task == "copy":
        picks = list(range(min(4, len(data))))
        labels = ["input"] * len(picks)
    else:
        picks = list(range(min(8, len(data))))
        labels = [f"y = {data.y[i]:g}" for i in picks]
    picks = [int(i) for i in picks]
    rows = 2 * len(picks) if task == "copy" else len(picks)
    width = symbols.shape[1]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * width + 3.5), 0.45 * rows + 1.4), constrained_layout=True)
    grid = np.full((rows, width), np.nan)
    text: list[tuple[int, int, str]] = []
    row_names = []
    for k, (i, label) in enumerate(zip(picks, labels, strict=True)):
        r = 2 * k if task == "copy" else k
        shown = symbols[i] >= 0
        grid[r, shown] = symbols[i, shown]
        text += [(r, t, str(symbols[i, t])) for t in np.flatnonzero(shown)]
        row_names.append((r, f"#{i}: {label}"))
        if task == "copy":
            separator = int(np.flatnonzero(data.x[i, :, -1])[0])
            text += [(r, t, "|" if t == separator else ".") for t in np.flatnonzero(mask[i] & ~shown)]
            out = data["target_mask"][i]
            grid[r + 1, out] = data.y[i, out]
            text += [(r + 1, t, str(data.y[i, t])) for t in np.flatnonzero(out)]
            row_names.append((r + 1, f"#{i}: target (after {data.info.get('delay', 0)} blanks)"))
        if task == "palindrome" and data.y[i] == 0:  # frame the symbols that differ from their mirror
            length = int(mask[i].sum())
            for t in np.flatnonzero(symbols[i, :length] != symbols[i, :length][::-1]):
                ax.add_patch(plt.Rectangle((t - 0.45, r - 0.45), 0.9, 0.9, fill=False, lw=2, color="red"))
        if task == "sum":
            for t in np.flatnonzero(data["marker"][i]):
                ax.add_patch(plt.Rectangle((t - 0.45, r - 0.45), 0.9, 0.9, fill=False, lw=2, color="k"))
    ax.imshow(np.ma.masked_invalid(grid), cmap="tab10" if vocabulary <= 10 else "viridis",
              vmin=-0.5, vmax=max(vocabulary, 10) - 0.5, aspect="auto", alpha=0.5)
    for r, t, s in text:
        ax.text(t, r, s, ha="center", va="center", fontsize=10)
    ax.set_yticks([r for r, _ in row_names], [name for _, name in row_names])
    ax.set_xticks(range(width))
    ax.set_xlabel("step (blank: padding" + (", '.': blank step, '|': separator" if task == "copy" else "")
                  + (", framed: marked" if task == "sum" else "")
                  + (", red frame: differs from its mirror" if task == "palindrome" else "") + ")")
    ax.set_title(f"sequences: task {task}, {len(data):,} sequences,\nlengths {data.info.get('min_length')}-"
                 f"{data.info.get('max_length')}, {vocabulary} symbols", fontsize=10)
    return fig
