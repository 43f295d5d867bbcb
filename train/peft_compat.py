"""LoRA wrapping across the supported transformers range, without the deprecation noise of a newer one.

Imports nothing heavy at module level: benchmarks/gpu_check.py uses it on a machine without the
project's other dependencies.
"""

from __future__ import annotations

import warnings
from typing import Any

# transformers 5.24 renamed PreTrainedModel.is_gradient_checkpointing to is_activation_checkpointing and
# keeps the old name as a property that warns (FutureWarning, "will be removed in v6"; v5.24.0
# src/transformers/modeling_utils.py). peft 0.18-0.21 reads the old name in PeftModel.__init__
# (`getattr(model, "is_gradient_checkpointing", True)`, peft v0.21.2 src/peft/peft_model.py), so every
# get_peft_model printed that warning although our code never uses the old name.
_OLD_NAME_WARNING = r"`is_gradient_checkpointing` is deprecated"


def get_lora_model(model: Any, lora_config: Any) -> Any:
    """`peft.get_peft_model(model, lora_config)`; a model that has the new `is_activation_checkpointing`
    (feature-detected on its class, not the version) hides exactly the old name's FutureWarning that
    peft's own read of it raises. Older transformers have no such warning and run unchanged."""
    from peft import get_peft_model

    if not hasattr(type(model), "is_activation_checkpointing"):
        return get_peft_model(model, lora_config)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_OLD_NAME_WARNING, category=FutureWarning)
        return get_peft_model(model, lora_config)
