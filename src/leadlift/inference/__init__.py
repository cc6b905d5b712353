"""Inference: from a checkpoint and a recording in mV to a 12-lead ECG in mV and embeddings.

One hop each:

* :mod:`~leadlift.inference.checkpoint` — the checkpoint format (``model.safetensors`` +
  typed ``config.yaml``), export and verified loading (no pickle, no Lightning);
* :mod:`~leadlift.inference.backends` — where lead I becomes 12 leads: one backend per format
  (aligned MAE, pathology-aware reconstructor), mV windows in, mV windows out;
* :mod:`~leadlift.inference.pipeline` — whole recordings: resample, clean, window, run, Hann
  overlap-add, resample back, exact limb leads;
* :mod:`~leadlift.inference.hub` — finding a checkpoint (bundled, local folder, Hugging Face repo id
  through ``huggingface_hub``), ``save_pretrained`` and ``push_to_hub``;
* :mod:`~leadlift.inference.model_card` — a checkpoint's model card (Hub YAML header, training-set
  size, measured numbers, licences, citation) rendered from its ``config.yaml``;
* :mod:`~leadlift.inference.files` — users' files in, files out, many at a time.
* :mod:`~leadlift.inference.export` — the whole path (preprocessing, network, stitching, calibration)
  as one ONNX graph for devices: raw mV at a fixed rate and duration in, 12 leads in mV out.

:class:`leadlift.api.LeadLift` is the friendly front of this package; evaluation, benchmarks
and model cards use the same functions.
"""

from leadlift.inference.backends import Backend, MAEBackend, ReconBackend, load_backend, load_network
from leadlift.inference.checkpoint import (
    CheckpointConfig,
    calibration_key,
    export_model,
    load_checkpoint,
    read_config,
    update_config,
)
from leadlift.inference.pipeline import Embeddings, embed_records, reconstruct_records

__all__ = [
    "Backend",
    "CheckpointConfig",
    "Embeddings",
    "MAEBackend",
    "ReconBackend",
    "calibration_key",
    "embed_records",
    "export_model",
    "load_backend",
    "load_checkpoint",
    "load_network",
    "read_config",
    "reconstruct_records",
    "update_config",
]
