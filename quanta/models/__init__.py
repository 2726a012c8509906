"""Models: architectures as plain ``torch.nn.Module``s, registered by name.

A model does not know its loss or its data source. Each registered model class
has a ``for_data(shapes, out_features, **params)`` class method that builds
it for a data set — ``shapes`` maps each array name (``x``, ``mask``,
``edge_index``, ...) to its per-sample shape — and the task's output size;
its constructor stays plain PyTorch. A model whose forward takes more than
``x`` names the arrays in a class attribute ``inputs`` (default ``("x",)``). ``quanta models`` lists them. This
package never imports ``quanta.data``.

Hyperparameter ranges and choices are declared in the constructors' type
hints (shared ones in :mod:`quanta.models.hints`); the registry checks them
when an experiment is resolved, and ``@checked("<name>")`` on ``__init__``
(:func:`quanta.registry.checked`) when a model is built in Python.
"""

from __future__ import annotations

from quanta.registry import Registry

MODELS = Registry("model", listing="quanta models")
for _name, _target, _description in (
    ("mlp", "mlp:MLP", "Multilayer perceptron: dense layers with a chosen activation, dropout, normalisation and init"),
    ("perceptron", "perceptron:Perceptron", "Rosenblatt's perceptron: a step-activated linear unit trained with the perceptron rule"),
    ("highway", "dense:HighwayNetwork", "Highway network: dense layers with learned transform and carry gates"),
    ("residual_mlp", "dense:ResidualMLP", "Residual MLP: dense blocks with identity shortcuts and normalisation"),
    ("mixture_of_experts", "mixture_of_experts:MixtureOfExperts",
     "Mixture of experts: a gating network weighs the outputs of several expert networks per sample"),
    ("cnn", "cnn:CNN", "Convolutional network (1D/2D/3D): conv blocks with stride, padding, dilation, pooling, then a dense head"),
    ("lenet5", "lenet:LeNet5", "LeNet-5: two convolution and pooling stages and three dense layers (LeCun et al. 1998)"),
    ("vgg", "vgg:VGG", "VGG-style network: stacks of 3x3 convolutions separated by max pooling"),
    ("resnet", "resnet:ResNet", "Residual network: basic or bottleneck blocks with identity or 1x1 projection shortcuts"),
    ("inception", "inception:InceptionNet", "Inception-style network: parallel 1x1, 3x3, 5x5 and pooling branches, concatenated"),
    ("stn_cnn", "spatial_transformer:SpatialTransformerCNN", "CNN behind a spatial transformer that learns to align its input"),
    ("unet", "unet:UNet", "U-Net: encoder-decoder with skip connections for image-to-image tasks"),
    ("autoencoder", "autoencoder:Autoencoder", "Dense autoencoder: a dense encoder to a small code and the mirrored decoder, on the flattened inputs"),
    ("conv_autoencoder", "conv_autoencoder:ConvAutoencoder", "Convolutional autoencoder: strided convolutions down to a code, transposed convolutions back up"),
    ("pretrained", "pretrained:Pretrained",
     "Pre-trained encoder with a new head: the codes of another run's network, then dense layers, fine-tuned"),
    ("rnn", "recurrent:RecurrentNet", "Recurrent network (simple RNN, GRU or LSTM): stacked, optionally bidirectional, masked"),
    ("seq2seq", "seq2seq:Seq2Seq", "Encoder-decoder GRU with additive (Bahdanau) attention"),
    ("transformer", "transformer:TransformerEncoder", "Transformer encoder: pre-norm multi-head self-attention with positional encodings"),
    ("deepsets", "deepsets:DeepSets", "Deep Sets / Particle Flow Network: per-element network, masked sum, set-level network"),
    ("set_transformer", "set_transformer:SetTransformer", "Transformer over sets: self-attention without positions, optional pairwise bias"),
    ("particle_transformer", "particle_transformer:ParticleTransformer",
     "Particle Transformer: particle attention with pairwise interaction bias, then class attention"),
    ("mpnn", "mpnn:MPNN", "Message-passing neural network with GRU vertex update"),
    ("particlenet", "particlenet:ParticleNet", "ParticleNet: EdgeConv blocks on dynamic k-nearest-neighbour graphs"),
    ("recursive_jet", "recursive:RecursiveJet",
     "QCD-aware recursive network: a jet embedded bottom up over its kt clustering tree"),
    ("lorentznet", "lorentznet:LorentzNet", "LorentzNet: Lorentz group equivariant blocks on the particles' four-momenta"),
    ("interaction_network", "interaction_network:InteractionNetwork", "Interaction network for edge classification on hit graphs"),
    ("hnn", "hamiltonian:HamiltonianNetwork", "Hamiltonian neural network: an MLP learns H(q, p); the output is its symplectic gradient"),
    ("ode_net", "neural_ode:ODENet", "Neural ODE network: input layer, a continuous-depth ODE block, a dense head"),
    ("ode_trajectory", "neural_ode:ODETrajectory",
     "Neural ODE of a dynamical system: learns dz/dt = f(z) and integrates initial states in time"),
    ("vae", "vae:VAE", "Variational autoencoder: a dense Gaussian encoder and decoder; samples from the prior, optionally conditioned"),
    ("gan", "gan:GAN", "Generative adversarial network: a dense generator and a dense critic, optionally conditional"),
):
    MODELS.declare(_name, f"quanta.models.{_target}", _description)


def register(name: str, description: str | None = None):
    """Decorator registering a user model class (it needs a ``for_data`` class method)."""
    return MODELS.register(name, description)


__all__ = ["DATA_ARGUMENTS", "MODELS", "register"]

#: constructor arguments that quanta derives from the data and the task (users do not set them)
DATA_ARGUMENTS = ("in_features", "out_features", "input_shape", "in_channels", "edge_in_features")
