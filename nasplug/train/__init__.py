"""Retraining a genotype from scratch: the evaluation protocol whose test accuracy papers publish.

``config`` (TrainConfig, the evaluation protocols behind its defaults), ``run`` (train_network: lock,
folder, start or resume), ``trainer`` (the epochs, metrics, checkpoints, weights), ``loop`` (the
training and test passes every standalone network shares) and ``ranking`` (MdeNAS's ranking
experiment on that loop).
"""

from nasplug.train.config import TrainConfig, TrainError, read_config, training_config
from nasplug.train.run import train_network
from nasplug.train.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainError", "TrainResult", "Trainer", "read_config", "train_network", "training_config"]
