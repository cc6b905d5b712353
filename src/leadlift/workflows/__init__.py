"""Workflows: jobs that combine training and evaluation (the layer above both).

* :mod:`~leadlift.workflows.recon_benchmark` — train every reconstruction method on one split and
  score them side by side (``leadlift reconstruct-benchmark``);
* :mod:`~leadlift.workflows.quickstart` — the whole system on real data in one command;
* :mod:`~leadlift.workflows.release` — calibrate, measure (through the API's path), write the
  model card and bundle a checkpoint.
"""
