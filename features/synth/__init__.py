"""The synthetic partnership: Lantern's embedded default, with known ground truth.

>>> from features.synth import SynthConfig, generate
>>> partnership = generate(SynthConfig(children=2_000, seed=1))  # doctest: +SKIP

See ``targets.yaml`` for the figures it is calibrated to and ``mechanics.yaml`` for how.
"""

from features.synth.config import SynthConfig
from features.synth.generate import Partnership, generate, write_partnership

__all__ = ["Partnership", "SynthConfig", "generate", "write_partnership"]
