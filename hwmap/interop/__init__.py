"""Interoperability with other tools' formats: ONNX models in, ZigZag workload and hardware out."""
