"""Per-layer embedding analysis of trained networks (Lee & Wallraven, ACPR 2021).

Activations by dotted module path (:mod:`.hooks`), 2-D maps (:mod:`.embed`),
compactness and CKA metrics (:mod:`.metrics`), and the tidy per-layer tables
that tie them together (:mod:`.analyze`).
"""

from kdscope.empirical.analysis.analyze import (
    AnalysisInput,
    LayerAnalysis,
    analyze_models,
    analyze_run,
    find_classifier,
    load_analysis_input,
    run_keys,
)
from kdscope.empirical.analysis.embed import (
    EMBEDDINGS,
    TemplateProjection,
    embed_features,
    ivis_embed,
    template_projection,
    tsne,
    umap_available,
    umap_embed,
)
from kdscope.empirical.analysis.hooks import (
    Capture,
    UnknownLayerError,
    capture,
    data_hash,
    extract_features,
    model_state_hash,
    module_names,
    pool,
    resolve_module,
)
from kdscope.empirical.analysis.metrics import (
    COMPACTNESS,
    compactness,
    davies_bouldin,
    distance_ratio,
    knn_accuracy,
    linear_cka,
    linear_probe_accuracy,
    rbf_cka,
    silhouette,
)

__all__ = [
    "AnalysisInput", "LayerAnalysis", "analyze_models", "analyze_run", "find_classifier", "load_analysis_input", "run_keys",
    "EMBEDDINGS", "TemplateProjection", "embed_features", "ivis_embed", "template_projection", "tsne", "umap_available",
    "umap_embed",
    "Capture", "UnknownLayerError", "capture", "data_hash", "extract_features", "model_state_hash", "module_names",
    "pool", "resolve_module",
    "COMPACTNESS", "compactness", "davies_bouldin", "distance_ratio", "knn_accuracy", "linear_cka",
    "linear_probe_accuracy", "rbf_cka", "silhouette",
]
