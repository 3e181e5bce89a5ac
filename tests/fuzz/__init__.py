"""The fuzz suite (issue 10): hostile inputs and outputs for every command."""
