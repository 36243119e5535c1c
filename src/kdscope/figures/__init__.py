"""kdscope.figures: pure drawing functions (tidy DataFrame in, matplotlib Figure out).

Learning curves (:func:`plot_error_curve`, :func:`plot_double_descent`), phase
diagrams (:func:`plot_phase_diagram`) and the publication style context
(:func:`paper_style`).  Nothing here solves or simulates: thresholds and
baselines arrive as columns or arguments.  The empirical figures live in
``kdscope.figures.empirical`` and ``kdscope.figures.embeddings``.
"""

from .curves import plot_double_descent, plot_error_curve, split_kinds
from .phase import plot_phase_diagram
from .style import column_label, paper_style

__all__ = ["plot_error_curve", "plot_double_descent", "plot_phase_diagram", "paper_style", "column_label",
           "split_kinds"]
