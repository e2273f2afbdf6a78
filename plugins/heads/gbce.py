"""gBCE head (gSASRec): BCE with more negatives and a calibrated positive term; torch-free registration."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class GBCEOptions:
    negatives: int = option(256, help="uniform negatives per target position", min=1)
    t: float = option(0.75, help="calibration parameter t in [0, 1] (0 = plain BCE, 1 = fully calibrated)",
                      min=0.0, max=1.0)


SPECS = [PluginSpec(
    name="gbce", kind="head", factory="workbench_plugins.heads.gbce_impl:GBCEHead", options=GBCEOptions,
    description="Generalised BCE (gSASRec, Petrov & Macdonald 2023) with calibration t and k negatives.")]
