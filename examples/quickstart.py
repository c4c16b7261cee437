"""The package's quick-start example: the SCRAPLLoss API on random signals and a toy model."""

import logging

import torch as tr
from torch import nn
from torch.optim import SGD

from scrapl import SCRAPLLoss

logging.basicConfig(level=logging.INFO)

# Initialize SCRAPLLoss with the minimum required hyperparameters
scrapl_loss = SCRAPLLoss(
    shape=48000,  # Length of x and x_target in samples
    J=12,  # Number of octaves (1st and 2nd order temporal filters)
    Q1=8,  # Filters per octave (1st order temporal filters)
    Q2=2,  # Filters per octave (2nd order temporal filters)
    J_fr=3,  # Number of octaves (2nd order frequential filters)
    Q_fr=2,  # Filters per octave (2nd order frequential filters)
)

# Two random tensors of shape (batch_size, num_channels, signal_length)
x = tr.randn(4, 1, 48000)
x_target = tr.randn(4, 1, 48000)
# SCRAPL is stochastic: the loss differs at each call
loss = scrapl_loss(x, x_target)
print(f"SCRAPL loss: {loss.item()}")

print(f"Number of scattering paths: {scrapl_loss.n_paths}")
print(f"Uniform path sampling probability: {scrapl_loss.unif_prob:.6f}")
print(f"Most recently sampled path index (prev. example): {scrapl_loss.curr_path_idx}")
loss = scrapl_loss(x, x_target, path_idx=8)
print(f"Most recently sampled path index (specific): {scrapl_loss.curr_path_idx}")
loss = scrapl_loss(x, x_target, seed=42)
print(f"Most recently sampled path index (random seed): {scrapl_loss.curr_path_idx}")
print(f"Path sampling statistics (original): {scrapl_loss.path_counts}")
state_dict = scrapl_loss.state_dict()
scrapl_loss.clear()
print(f"Path sampling statistics (cleared): {scrapl_loss.path_counts}")
scrapl_loss.load_state_dict(state_dict)
print(f"Path sampling statistics (loaded): {scrapl_loss.path_counts}")

# P-Adam and P-SAGA act on the attached weights; the downstream optimizer is plain SGD
model = nn.Sequential(
    nn.Linear(in_features=48000, out_features=8),
    nn.PReLU(),
    nn.Linear(in_features=8, out_features=48000),
    nn.Tanh(),
)
scrapl_loss.attach_params(model.parameters())
sgd_optimizer = SGD(model.parameters(), lr=1e-4, weight_decay=0.01)
sgd_optimizer.zero_grad()
x_hat = model(x)
loss = scrapl_loss(x_hat, x_target)
loss.backward()  # gradients are transformed by P-Adam and P-SAGA here
sgd_optimizer.step()
scrapl_loss.attach_params([])
