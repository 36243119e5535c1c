"""Deep-network distillation experiments in PyTorch (CPU, offline data).

Data (:mod:`.data`), models with named stages (:mod:`.models`), distillation losses
(:mod:`.losses`), path aggregators (:mod:`.aggregators`), activation hooks
(:mod:`.hooks`), YAML experiment configs (:mod:`.config`), training with checkpoints
(:mod:`.train`), multi-seed experiments (:mod:`.runner`), reading run folders back
(:mod:`.store`), a store of pre-trained teachers reused across experiments
(:mod:`.teacher_store`), statistics over seeds (:mod:`.statistics`) and the limited-label
protocol (:mod:`.limited_labels`).  Convention: a student minimises (1 - xi) CE + xi KD, xi weighting the
teacher term, KD = tau^2 KL at temperature tau.
"""

from kdscope.empirical.aggregators import (
    AGGREGATORS,
    AbstractAggregator,
    FixedAggregator,
    GradNormAggregator,
    UncertaintyAggregator,
    build_aggregator,
)
from kdscope.empirical.config import (
    DataConfig,
    ExperimentConfig,
    FeaturePathConfig,
    ModelConfig,
    StudentConfig,
    TeacherConfig,
    TrainConfig,
    ValidatedConfig,
    load_experiment,
    parse_experiment,
)
from kdscope.empirical.data import (
    DATASETS,
    DataSplits,
    DatasetNotFoundError,
    RawDataset,
    add_label_noise,
    class_balanced_indices,
    load_digits,
    load_fashion_mnist,
    load_raw,
    make_splits,
    read_idx,
)
from kdscope.empirical.hooks import capture, resolve_module
from kdscope.empirical.losses import (
    FEATURE_LOSSES,
    SOFT_LOSSES,
    HintRegressor,
    attention_loss,
    attention_map,
    cross_entropy,
    hint_loss,
    kd_kl,
    kd_kl_limit,
    logit_mse,
    mix,
)
from kdscope.empirical.metrics import accuracy, agreement, expected_calibration_error, predict_logits
from kdscope.empirical.models import ARCHITECTURES, ResNet, SmallCNN, build_model, count_parameters, layer_paths
from kdscope.empirical.registry import ConfigError, Registry
from kdscope.empirical.runner import ExperimentResult, format_summary, load_analysis_input, run_experiment, summarize
from kdscope.empirical.store import list_models, load_logs, load_model, load_run_config, load_splits
from kdscope.empirical.devices import DEVICES, DeviceError, resolve_device
from kdscope.empirical.teacher_store import StoredTeacher, TeacherSpec, get_teacher, teacher_outputs
from kdscope.empirical.train import TrainingDivergedError, TrainResult, train_learner

__all__ = [
    "AGGREGATORS", "ARCHITECTURES", "DATASETS", "FEATURE_LOSSES", "SOFT_LOSSES",
    "AbstractAggregator", "FixedAggregator", "GradNormAggregator", "UncertaintyAggregator", "build_aggregator",
    "ConfigError", "Registry",
    "DataConfig", "ExperimentConfig", "FeaturePathConfig", "ModelConfig", "StudentConfig", "TeacherConfig",
    "TrainConfig", "ValidatedConfig", "load_experiment", "parse_experiment",
    "DataSplits", "DatasetNotFoundError", "RawDataset", "add_label_noise", "class_balanced_indices",
    "load_digits", "load_fashion_mnist", "load_raw", "make_splits", "read_idx",
    "capture", "resolve_module",
    "HintRegressor", "attention_loss", "attention_map", "cross_entropy", "hint_loss", "kd_kl", "kd_kl_limit",
    "logit_mse", "mix",
    "accuracy", "agreement", "expected_calibration_error", "predict_logits",
    "ResNet", "SmallCNN", "build_model", "count_parameters", "layer_paths",
    "ExperimentResult", "format_summary", "load_analysis_input", "run_experiment", "summarize",
    "list_models", "load_logs", "load_model", "load_run_config", "load_splits",
    "TrainResult", "TrainingDivergedError", "train_learner",
    "DEVICES", "DeviceError", "resolve_device",
    "StoredTeacher", "TeacherSpec", "get_teacher", "teacher_outputs",
]
