"""The bridge from the solvable model to real data: a linear-probe distillation on real features.

Fit the two-cluster Gaussian mixture (delta, rho, mu) to two classes of a data
set (:mod:`.mixture`), map the features to model units, train a dense ridge
teacher and a sparse student by distillation on subsamples of n = alpha d
points, measure their test errors on held-out data (:mod:`.probe`), and put the
replica prediction at the fitted parameters beside them (:mod:`.experiment`),
with goodness-of-fit statistics that say where the isotropic mixture holds.
Features are raw pixels (PCA) or a layer of a small trained CNN (:mod:`.features`);
the experiment is one YAML file (:mod:`.config`).  Deep-network learning
curves (accuracy vs training fraction, with and without KD) are tabulated by :mod:`.curves`.
"""

from kdscope.empirical.bridge.config import BridgeConfig, load_bridge, parse_bridge
from kdscope.empirical.bridge.curves import learning_curve_table
from kdscope.empirical.bridge.experiment import BridgeResult, comparison, load_data, run_bridge
from kdscope.empirical.bridge.features import (
    FEATURE_KINDS,
    TwoClassData,
    cnn_features,
    load_two_class,
    pixel_features,
    split_two_classes,
    synthetic_features,
)
from kdscope.empirical.bridge.mixture import MixtureFit, fit_mixture, goodness_of_fit
from kdscope.empirical.bridge.probe import aggregate, measure_curve, measure_point, theory_curve, train_probe

__all__ = [
    "BridgeConfig", "load_bridge", "parse_bridge",
    "BridgeResult", "comparison", "load_data", "run_bridge",
    "FEATURE_KINDS", "TwoClassData", "cnn_features", "load_two_class", "pixel_features", "split_two_classes",
    "synthetic_features",
    "MixtureFit", "fit_mixture", "goodness_of_fit",
    "learning_curve_table",
    "aggregate", "measure_curve", "measure_point", "theory_curve", "train_probe",
]
