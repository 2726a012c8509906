"""Input encodings before a scikit-learn learner: one-hot categories and bag-of-words counts.

A categorical input - a lepton flavour, a number of b-tagged jets, a
detector region - is a code, not a quantity: a linear model (or a distance)
on the raw code assumes that category 2 lies between 1 and 3. ``one_hot``
turns each such feature into one 0/1 column per category seen in training
(scikit-learn's ``OneHotEncoder``); a category first met at prediction is
all zeros, with scikit-learn's warning naming the column. A sequence of
token ids ([N, L], e.g. the ``sequences`` source with ``encoding: index``,
or hit cell ids) becomes, with ``bag_of_words``, the count of each token of
the training vocabulary in the row, ignoring order and padding (steps whose
``mask`` is False); unknown tokens are not counted.

Both are parameters of every scikit-learn method, declared once here
(:data:`PARAMETERS`) and added to each method's signature by
:func:`with_encodings`, so that the registry checks them like the method's
own. Features are named by the data's ``feature_names`` (the last axis of
``x``); the encoded columns follow the other inputs in the learner's table.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.errors import UserError, closest

#: the most categories (or tokens) one feature may have: the encoded columns are dense, rows x
#: categories x 4 bytes, and a feature with more distinct values is rather a measured quantity
MAX_CATEGORIES = 1000

FeatureNames = Annotated[tuple[str, ...], Field(description="a list of feature names")]

#: the encoding parameters every scikit-learn method takes, keyword-only, with their defaults
PARAMETERS = tuple(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=(),
                                     annotation=FeatureNames)
                   for name in ("one_hot", "bag_of_words"))


def with_encodings(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` (a method's ``__init__``) also taking the :data:`PARAMETERS`, in its signature too.

    The wrapper stores them as attributes after ``init`` ran; its signature and
    type hints are ``init``'s plus theirs, so that :mod:`quanta.registry`,
    the config's defaults and saving read them as the method's own.
    """
    signature = inspect.signature(init)
    names = [parameter.name for parameter in PARAMETERS]
    if any(name in signature.parameters for name in names):
        raise TypeError(f"{init.__qualname__}: {', '.join(names)} are declared by "
                        "quanta.methods.encoding")

    @functools.wraps(init)
    def __init__(self, *args: Any, one_hot: Sequence[str] = (), bag_of_words: Sequence[str] = (),
                 **params: Any) -> None:
        init(self, *args, **params)
        self.one_hot = tuple(one_hot)
        self.bag_of_words = tuple(bag_of_words)

    parameters = list(signature.parameters.values())
    last = len(parameters) if not parameters or parameters[-1].kind != parameters[-1].VAR_KEYWORD \
        else len(parameters) - 1
    __init__.__signature__ = signature.replace(parameters=[*parameters[:last], *PARAMETERS,
                                                           *parameters[last:]])
    hints = {parameter.name: parameter.annotation for parameter in PARAMETERS}
    __init__.__annotations__ = {**init.__annotations__, **hints}
    return __init__


class InputEncoding:
    """One-hot columns of categorical features and bag-of-words counts of token features.

    The inputs ``x`` [N, ..., F] are read as [N, P, F]: P positions (1 for
    a table, L steps of a sequence) of F named features. The table handed to
    the learner is, in this order: the other features at every position (as
    :func:`quanta.methods.base.table` flattens them), one 0/1 column per
    category of each ``one_hot`` feature at each position, and one count
    per vocabulary token of each ``bag_of_words`` feature over the positions.

    Args:
        method: the method's name, for messages.
        one_hot: names of the categorical features (integer codes).
        bag_of_words: names of the token features (integer token ids).
    """

    def __init__(self, method: str, one_hot: Sequence[str], bag_of_words: Sequence[str]):
        self.method = method
        self.one_hot = tuple(one_hot)
        self.bag_of_words = tuple(bag_of_words)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, chunks: Iterable[Dataset], feature_names: Sequence[str] | None,
            input_shape: Sequence[int]) -> InputEncoding:
        """Learn the categories and the vocabulary from the training part, chunk by chunk."""
        from sklearn.preprocessing import OneHotEncoder

        self.positions_, self.features_ = _layout(input_shape)
        self.one_hot_columns_ = self._indices("one_hot", self.one_hot, feature_names)
        self.word_columns_ = self._indices("bag_of_words", self.bag_of_words, feature_names)
        both = set(self.one_hot_columns_) & set(self.word_columns_)
        if both:
            name = feature_names[min(both)]
            raise UserError(f"{self.method}: feature '{name}' is in both one_hot and bag_of_words; "
                            "give it to one of them")
        encoded = set(self.one_hot_columns_) | set(self.word_columns_)
        self.plain_columns_ = [f for f in range(self.features_) if f not in encoded]
        self.names_ = [str(name) for name in feature_names]
        categories = [np.zeros(0, np.float32)] * (self.positions_ * len(self.one_hot_columns_))
        words = [np.zeros(0, np.float32)] * len(self.word_columns_)
        for chunk in chunks:
            x = self._grid(chunk)
            codes = x[:, :, self.one_hot_columns_].reshape(len(x), -1)  # [N, P * k]
            for column in range(codes.shape[1]):
                found = self._codes(codes[:, column], column, "one_hot")
                categories[column] = self._limited(np.union1d(categories[column], found), column,
                                                   "one_hot", "categories")
            steps = _steps(chunk, x)
            for k, feature in enumerate(self.word_columns_):
                tokens = self._codes(x[:, :, feature][steps], k, "bag_of_words")
                words[k] = self._limited(np.union1d(words[k], tokens), k, "bag_of_words", "tokens")
        self.vocabularies_ = [w.astype(np.float32) for w in words]
        self.encoder_ = None
        if categories:
            self.encoder_ = OneHotEncoder(categories=[c.astype(np.float32) for c in categories],
                                          handle_unknown="ignore", sparse_output=False,
                                          dtype=np.float32)
            longest = max(len(c) for c in categories)
            seen = np.stack([np.resize(c, longest) for c in categories], axis=1)  # [C, P * k]
            self.encoder_.fit(seen)
        return self

    def _indices(self, parameter: str, names: Sequence[str],
                 feature_names: Sequence[str] | None) -> list[int]:
        if not names:
            return []
        if not feature_names or len(feature_names) != self.features_:
            raise UserError(f"{self.method}: {parameter} names features, but these inputs have no "
                            f"names for their last axis of {self.features_}; give a data set with "
                            "feature_names (e.g. the files source)")
        known = [str(n) for n in feature_names]
        indices = []
        for name in names:
            if name not in known:
                guess = closest(name, known)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise UserError(f"{self.method}: {parameter}: unknown feature '{name}'{hint} "
                                f"allowed: {', '.join(known)}")
            indices.append(known.index(name))
        return indices

    def _feature(self, parameter: str, index: int) -> str:
        """The feature name behind encoded column ``index`` of ``parameter``."""
        if parameter == "one_hot":
            return self.names_[self.one_hot_columns_[index % len(self.one_hot_columns_)]]
        return self.names_[self.word_columns_[index]]

    def _codes(self, values: np.ndarray, index: int, parameter: str) -> np.ndarray:
        """The distinct codes of ``values``, which must be whole numbers."""
        found = np.unique(values)
        broken = found[found != np.round(found)]
        if len(broken):
            feature = self._feature(parameter, index)
            raise UserError(f"{self.method}: {parameter}: feature '{feature}' "
                            f"holds values that are not whole numbers (e.g. {broken[0]:g}); "
                            f"{parameter} applies to integer codes")
        return found

    def _limited(self, found: np.ndarray, index: int, parameter: str, what: str) -> np.ndarray:
        if len(found) > MAX_CATEGORIES:
            feature = self._feature(parameter, index)
            raise UserError(f"{self.method}: {parameter}: feature '{feature}' takes more than "
                            f"{MAX_CATEGORIES:,} distinct values in the training rows; {parameter} "
                            f"is for at most {MAX_CATEGORIES:,} {what} per feature")
        return found

    # -- applying ----------------------------------------------------------------------------
    def table(self, data: Dataset) -> np.ndarray:
        """The learner's inputs [N, columns]: other features, one-hot columns, token counts."""
        if not hasattr(self, "positions_"):
            raise RuntimeError("InputEncoding is not fitted yet: call fit first")
        x = self._grid(data)
        parts = [x[:, :, self.plain_columns_].reshape(len(x), -1)]
        if self.encoder_ is not None:
            codes = x[:, :, self.one_hot_columns_].reshape(len(x), -1)  # [N, P * k]
            self._warn_unknown(codes)
            with warnings.catch_warnings():  # said above, by feature name
                warnings.filterwarnings("ignore", "Found unknown categories", UserWarning)
                parts.append(self.encoder_.transform(codes))
        steps = _steps(data, x)
        for feature, vocabulary in zip(self.word_columns_, self.vocabularies_, strict=True):
            parts.append(_counts(x[:, :, feature], steps, vocabulary))
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    def _warn_unknown(self, codes: np.ndarray) -> None:
        """Warn, by feature name, of rows whose category training never saw (they get no column)."""
        for column, categories in enumerate(self.encoder_.categories_):
            unknown = ~np.isin(codes[:, column], categories)
            if unknown.any():
                example = codes[np.argmax(unknown), column]
                feature = self._feature("one_hot", column)
                warnings.warn(f"{self.method}: one_hot: feature '{feature}' has "
                              f"{int(unknown.sum()):,} rows with a category not seen in training "
                              f"(e.g. {example:g}); they are all zeros in its one-hot columns",
                              UserWarning, stacklevel=3)

    def column_names(self) -> list[str]:
        """The table's column names: ``pt``, ``flavour=11``, ``token[2]=3``, ``count(token=3)``."""
        def at(position: int) -> str:
            return "" if self.positions_ == 1 else f"[{position}]"

        names = [f"{self.names_[f]}{at(p)}" for p in range(self.positions_)
                 for f in self.plain_columns_]
        if self.encoder_ is not None:
            for column, categories in enumerate(self.encoder_.categories_):
                position, k = divmod(column, len(self.one_hot_columns_))
                name = f"{self.names_[self.one_hot_columns_[k]]}{at(position)}"
                names += [f"{name}={value:g}" for value in categories]
        for feature, vocabulary in zip(self.word_columns_, self.vocabularies_, strict=True):
            names += [f"count({self.names_[feature]}={value:g})" for value in vocabulary]
        return names

    def _grid(self, data: Dataset) -> np.ndarray:
        """``x`` as [N, P, F]."""
        x = data.x
        layout = _layout(x.shape[1:])
        if layout != (self.positions_, self.features_):
            raise UserError(f"{self.method}: inputs of shape {list(x.shape[1:])} differ from the "
                            f"training inputs ({self.positions_} positions of {self.features_} "
                            "features)")
        return x.reshape(len(x), self.positions_, self.features_)

    # -- saving (plain values, arrays and one scikit-learn encoder: see quanta.methods.sklearn) ---
    def state(self) -> dict[str, Any]:
        return {"one_hot": list(self.one_hot), "bag_of_words": list(self.bag_of_words),
                "positions": self.positions_, "features": self.features_, "names": self.names_,
                "one_hot_columns": self.one_hot_columns_, "word_columns": self.word_columns_,
                "plain_columns": self.plain_columns_, "vocabularies": self.vocabularies_,
                "encoder": self.encoder_}

    @classmethod
    def from_state(cls, method: str, state: dict[str, Any]) -> InputEncoding:
        encoding = cls(method, state["one_hot"], state["bag_of_words"])
        encoding.positions_, encoding.features_ = int(state["positions"]), int(state["features"])
        encoding.names_ = list(state["names"])
        encoding.one_hot_columns_ = [int(c) for c in state["one_hot_columns"]]
        encoding.word_columns_ = [int(c) for c in state["word_columns"]]
        encoding.plain_columns_ = [int(c) for c in state["plain_columns"]]
        encoding.vocabularies_ = [np.asarray(v, np.float32) for v in state["vocabularies"]]
        encoding.encoder_ = state["encoder"]
        return encoding


def _layout(input_shape: Sequence[int]) -> tuple[int, int]:
    """(positions P, features F) of inputs of per-sample shape ``input_shape``."""
    shape = tuple(int(s) for s in input_shape) or (1,)
    return int(np.prod(shape[:-1])), shape[-1]


def _steps(data: Dataset, x: np.ndarray) -> np.ndarray:
    """bool [N, P]: the positions that hold a token (the data's ``mask``, where it marks them)."""
    if "mask" in data and data["mask"].shape == x.shape[:2]:
        return data["mask"].astype(bool, copy=False)
    return np.ones(x.shape[:2], bool)


def _counts(tokens: np.ndarray, steps: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """float32 [N, V]: how often each vocabulary token occurs at the marked steps of each row."""
    rows, width = len(tokens), len(vocabulary)
    where = np.searchsorted(vocabulary, tokens)  # [N, P]
    known = steps & (where < width)
    known[known] = vocabulary[where[known]] == tokens[known]
    flat = (np.arange(rows)[:, None] * width + where)[known]
    return np.bincount(flat, minlength=rows * width).reshape(rows, width).astype(np.float32)


__all__ = ["MAX_CATEGORIES", "PARAMETERS", "InputEncoding", "with_encodings"]
