"""Tasks: what is learned — output size, target checks, loss, scores and metrics.

A task owns the loss and the training step; the trainer does not special-case
any task. ``quanta tasks`` lists them.
"""

from __future__ import annotations

from quanta.registry import Registry

TASKS = Registry("task", listing="quanta tasks")
TASKS.declare("binary", "quanta.tasks.binary:Binary",
              "Two-class classification (signal 1 vs background 0): one logit, BCE loss, AUC")
TASKS.declare("multiclass", "quanta.tasks.multiclass:Multiclass",
              "K-class classification: K logits, cross-entropy loss, accuracy")
TASKS.declare("regression", "quanta.tasks.regression:Regression",
              "Regression of one or more real targets: mean squared error, or a Gaussian likelihood")
TASKS.declare("reconstruction", "quanta.tasks.reconstruction:Reconstruction",
              "Image-to-image regression (denoising, super-resolution): pixel MSE, optional multi-scale loss")
TASKS.declare("segmentation", "quanta.tasks.segmentation:Segmentation",
              "Per-pixel classification of images: cross-entropy over K classes at every pixel")
TASKS.declare("multitask", "quanta.tasks.multitask:MultiTask",
              "Several heads on one trunk: a weighted sum of per-head task losses")
TASKS.declare("perceptron", "quanta.tasks.perceptron:PerceptronRule",
              "Rosenblatt's perceptron rule: weights move by r (t - y) x for every misclassified sample")
TASKS.declare("clustering", "quanta.tasks.clustering:Clustering",
              "Unsupervised clustering: no targets needed; inertia and silhouette, adjusted Rand index against labels")
TASKS.declare("autoencoding", "quanta.tasks.autoencoding:Autoencoding", "Autoencoders: rebuild the inputs through a code; the per-sample reconstruction error is the score (anomaly detection)")
TASKS.declare("generation", "quanta.tasks.generation:Generation", "Generative modelling: learn the distribution of the inputs x, optionally conditioned, and sample from it")
TASKS.declare("embedding", "quanta.tasks.embedding:Embedding",
              "Dimensionality reduction: no targets needed; explained variance, and a 2D map of the samples coloured by label")

TASKS.declare("cwola", "quanta.tasks.weak_supervision:CWoLa",
              "Classification without labels: separate two mixed samples; a signal-vs-background classifier on true labels")
TASKS.declare("label_proportions", "quanta.tasks.weak_supervision:LabelProportions",
              "Learning from label proportions: bags of events with known signal fractions; scored against true labels")
TASKS.declare("semi_supervised", "quanta.tasks.semi_supervised:SemiSupervised",
              "Few labels and many unlabelled samples: pseudo-labels above a confidence threshold")
TASKS.declare("metric_learning", "quanta.tasks.metric_learning:MetricLearning",
              "Metric learning: an embedding where augmented views (InfoNCE) or same-class pairs (triplet, siamese) lie close")
TASKS.declare("ranking", "quanta.tasks.ranking:Ranking",
              "Learning to rank: a score whose order follows a target (pairwise logistic loss); Kendall tau and NDCG")
TASKS.declare("reinforcement", "quanta.tasks.reinforcement:Reinforcement",
              "Reinforcement learning: agents learn from an environment's rewards; the return per episode")


def register(name: str, description: str | None = None):
    """Decorator registering a user task (a subclass of :class:`quanta.tasks.base.Task`)."""
    return TASKS.register(name, description)


__all__ = ["TASKS", "register"]
