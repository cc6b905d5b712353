"""Evaluation: metrics and protocols on frozen models (no training code here)."""
