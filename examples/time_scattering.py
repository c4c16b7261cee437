"""Sound matching with SCRAPL on time scattering: recover the spectral envelope of a noise texture.

The target is white noise shaped by six octave bands (128 Hz … 4 kHz) with random gains and
amplitude-modulated at 8 Hz. The model is the same synth with learnable log-gains, fed with
*other* noise at every step: sample by sample the sounds never match, only their statistics
can, which is what time scattering compares (first order: the spectral envelope; second
order: the modulations). Each step evaluates one random scattering path
(:class:`scrapl.Scattering1DSCRAPLLoss`); a few thousand steps of a few milliseconds bring the
gains close to the target's. P-Adam and P-SAGA are off here: they pay off for networks
trained over many visits of every path (``attach_params``, see the README); this model has 6
weights and Adam.

Run: ``python examples/time_scattering.py [--steps 3000]`` (about 10 s on one CPU core).
"""

import argparse
import math
import time

import torch
from torch import nn

from scrapl import Scattering1DSCRAPLLoss

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--steps", type=int, default=3000)
args = ap.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)

sr, n, n_bands = 8192, 8192, 6  # 1 s at 8192 Hz
freqs = torch.fft.rfftfreq(n, 1 / sr)
log_distance = (freqs.clamp_min(1.0).log2()[None] - torch.arange(7.0, 7 + n_bands)[:, None]).abs()
bands = torch.where(log_distance < 1, 0.5 + 0.5 * torch.cos(math.pi * log_distance), 0.0)
envelope = 1 + 0.5 * torch.sin(2 * math.pi * 8.0 * torch.arange(n) / sr)


def synth(log_gains: torch.Tensor, seed: int) -> torch.Tensor:
    """Noise (drawn from ``seed``) shaped by the band gains and modulated: (batch, 1, n)."""
    noise = torch.randn(log_gains.shape[0], n, generator=torch.Generator().manual_seed(seed))
    shaped = torch.fft.irfft(torch.fft.rfft(noise) * (log_gains.exp() @ bands), n=n)
    return (envelope * shaped).unsqueeze(1)


target_gains = torch.randn(1, n_bands)
x_target = synth(target_gains, seed=1)
log_gains = nn.Parameter(torch.zeros(1, n_bands))

loss_fn = Scattering1DSCRAPLLoss(
    shape=n,  # samples
    J=12,  # octaves: wavelets and averaging up to 2**12 samples (0.5 s)
    Q1=4,  # first-order wavelets per octave
    Q2=2,  # second-order wavelets per octave
    use_p_adam=False,
    use_p_saga=False,
    seed=0,
)
optimizer = torch.optim.Adam([log_gains], lr=0.03)
print(
    f"{loss_fn.n_paths} paths; log-gain error before: {(log_gains - target_gains).abs().mean():.3f}"
)
start = time.perf_counter()
for step in range(args.steps):
    optimizer.zero_grad()
    loss = loss_fn(synth(log_gains, seed=2 + step), x_target)  # one random path
    loss.backward()
    optimizer.step()
error = (log_gains.detach() - target_gains).abs().mean()
print(f"log-gain error after {args.steps} steps ({time.perf_counter() - start:.1f} s): {error:.3f}")
print(f"target gains:  {target_gains.exp().numpy().round(2)}")
print(f"learned gains: {log_gains.detach().exp().numpy().round(2)}")
