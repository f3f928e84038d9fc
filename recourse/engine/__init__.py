"""Explanation, drift and recourse engine (pure: numpy/TensorFlow, no Django).

Works with any model following recsys/ml/CONTRACT.md (typed as ``protocol.ScoringModel``). Inputs
are plain lists or arrays (caller interaction order, oldest first); outputs are plain dataclasses
whose positions refer back to the caller's interaction indices. Import from the module that does
the job (README.md lists them):

    sequences          History, encoding, seen masks
    alignment          CategoryIndex, preference profiles, the alignment score R(H)
    attribution        Integrated Gradients, attention, occlusion
    counterfactual     "without X, Y would drop to #n"
    explanation        explain_item (all methods + narrative), trace_explainers
    narratives         fixed-template wording
    drift_injection    planting off-profile interactions (experiments)
    drift_metrics      ADS, DTC, Jensen-Shannon
    drift_detection    IG-of-alignment detection, calibration, drift_verdict
    detection_quality  ROC-AUC / precision@k of detectors on planted drift
    recourse_search    plan_recourse / search_recourse (eq. 6)
"""
