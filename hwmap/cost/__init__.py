"""Cost models: LayerGraph x Accelerator -> GraphCost, one cost module per template kind (systolic_kind.py,
vector_pe_kind.py, gpu_kind.py; the protocol in kinds.py); dispatch.py asks the registry for it."""
