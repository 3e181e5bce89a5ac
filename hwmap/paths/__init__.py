"""Execution paths: base models plus transforms, their published accuracies, and their costs."""
