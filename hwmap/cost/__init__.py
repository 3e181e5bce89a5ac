"""Cost models: LayerGraph x Accelerator -> GraphCost (systolic.py, vector.py, gpu.py; dispatch.py picks one)."""
