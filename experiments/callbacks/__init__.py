"""Lightning callbacks of the sound-matching experiments (one module per callback), e.g.
audio examples with spectrograms and SCRAPL path-sampler plots written to the run folder
and, when attached, to TensorBoard / W&B.
"""
