"""The limited-label protocol: a pre-trained teacher distilled into students on label budgets.

Config (:mod:`.config`, ``protocol: limited_labels`` files), the run (:mod:`.protocol`) and
its statistics (:mod:`.summary`: mean, 95% CI and paired difference to the student alone), and
for a two-class run the replica prediction beside the measured errors (:mod:`.theory`).
"""

from kdscope.empirical.limited_labels.config import (
    PROTOCOL,
    LimitedLabelConfig,
    LimitedLearner,
    LimitedTeacher,
    StudentSchedule,
    TheoryOverlay,
    is_limited_labels,
    load_limited_labels,
    parse_limited_labels,
)
from kdscope.empirical.limited_labels.protocol import LimitedLabelResult, run_limited_labels, train_student
from kdscope.empirical.limited_labels.summary import (
    SUMMARY_COLUMNS,
    format_limited_summary,
    read_settings,
    summarize_limited,
    write_summary,
)
from kdscope.empirical.limited_labels.theory import format_theory_practice, theory_practice_table

__all__ = [
    "PROTOCOL", "LimitedLabelConfig", "LimitedLearner", "LimitedTeacher", "StudentSchedule", "TheoryOverlay",
    "is_limited_labels",
    "load_limited_labels", "parse_limited_labels", "LimitedLabelResult", "run_limited_labels", "train_student",
    "SUMMARY_COLUMNS", "format_limited_summary", "read_settings", "summarize_limited", "write_summary",
    "format_theory_practice", "theory_practice_table",
]
