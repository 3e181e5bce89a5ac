"""Canonical work descriptors, op classes, and the one registry that lowers aten ops to them."""
