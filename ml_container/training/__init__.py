"""Training and evaluation of the ICU-admission model (see `train.py`)."""
