"""Path-wise optimisation: the path sampler, P-Adam / P-SAGA and the attached parameters."""

from scrapl.pathwise.adam_saga import PathwiseGradientTransform
from scrapl.pathwise.attached import AttachedParams
from scrapl.pathwise.sampler import PathSampler

__all__ = ["AttachedParams", "PathSampler", "PathwiseGradientTransform"]
