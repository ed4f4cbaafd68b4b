"""Drive a controller through the real search engine, on feedback a test decides.

:func:`run_steps` runs :class:`~nasplug.search.engine.SearchEngine` on the controller's own space with
the space's supernet swapped for a :class:`FeedbackSupernet`: whatever network the space would build,
each sample's loss and accuracy on a batch are those ``give(sample)`` returns. The hooks are therefore
called by the engine itself, in its order and with its ``Step``s, and the controller's state goes
through a real checkpoint at every epoch end: a plugin's tests see any change the engine makes there.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from nasplug import Architecture, Controller, DataShape, Feedback, SearchSpace, hookimpl
from nasplug.data.bundle import DataBundle, TensorImages
from nasplug.plugin import Hooks, load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine

BATCH_SIZE = 20
"""Images per batch of a driven run: accuracies are multiples of 1/20 (``feedback_favouring``'s are exact)."""
WRONG_LOGIT = -1e4
"""The logit of the classes that take no part in a made row: their probability is 0 in float32."""

Give = Callable[[Architecture], Feedback]


def controller_hooks(controller: Controller, name: str = "controller") -> Hooks:
    """The built-in plugins (no entry points) plus ``controller``, as the engine registers it for a run."""
    hooks = load_plugins(load_entry_points=False)
    hooks.add_controller(controller, name)
    return hooks


def run_steps(
    hooks: Hooks,
    space: SearchSpace,
    give: Give,
    *,
    epochs: int,
    steps: int,
    start: int = 0,
) -> list[dict[str, tuple[int, ...]]]:
    """Search epochs ``start`` … ``start + epochs - 1`` of ``steps`` steps each with the engine.

    ``hooks`` are the run's plugins, holding the controller (:func:`controller_hooks`), which must
    have been built for ``space``; its current state is where the run starts. A sample's feedback,
    and its loss in the weight step, are ``give(sample)`` measured on a batch of :data:`BATCH_SIZE`
    images (:func:`made_logits`): ``give`` must be a function of the sample, and is called for every
    forward of the supernet. The engine derives a genotype at every epoch end and re-seeds torch's
    global generator, as in a run. Returns the choices of every sample, in order.
    """
    controller = _controller_of(hooks)
    if controller.space is not space:
        raise ValueError("run_steps searches the space its controller was built for; pass that space")
    registered = hooks.pm.get_name(controller)
    config = SearchConfig(
        space=space.name, controller=registered.rpartition(":")[2], dataset="run_steps",
        epochs=start + epochs, batch_size=BATCH_SIZE, search_images=BATCH_SIZE, device="cpu",
        amp=False, channels_last=False, data_on_device="off", eval_derived=False, keep_checkpoints=1,
    )
    recorder = SampleRecorder()
    made = FeedbackSupernet(give, space.data.num_classes)
    supernet = mock.patch.object(space, "build_supernet", lambda only=None: made)
    with tempfile.TemporaryDirectory() as folder, supernet, _registered(hooks, recorder, space):
        hooks.pm.unregister(controller)  # the engine registers the run's controller itself
        try:
            engine = SearchEngine(config, Path(folder), hooks, Progress(False),
                                  data=labelled_data(space.data, steps), controller=controller)
        finally:
            if not hooks.pm.is_registered(controller):
                hooks.pm.register(controller, registered)
        if start:
            # what a checkpoint of epoch `start` holds: records as the engine writes them (without metrics)
            earlier = [engine._epoch_record(epoch, {}, 0.0) for epoch in range(start)]
            engine.restore({**engine.state_dict(), "epoch": start, "history": earlier})
        else:
            engine.start()
        engine.run()
    return recorder.sampled


def made_logits(feedback: Feedback, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Logits whose mean cross-entropy with ``labels`` is ``feedback.loss`` and whose top-1 accuracy is
    ``feedback.accuracy`` rounded to a multiple of ``1 / len(labels)`` (the first rows are the right ones).

    A right row puts every other class below the label, a wrong row one rival above it, so a right
    row's loss lies in (0, log ``classes``) and a wrong one's above log 2: feedback no real batch gives
    (a loss of at most ``(1 - accuracy) · log 2``, or of log ``classes`` at accuracy 1) is a ValueError.
    """
    size = len(labels)
    loss, accuracy = float(feedback.loss), float(feedback.accuracy)
    right = round(accuracy * size)
    wrong = size - right
    possible = loss < math.log(classes) if wrong == 0 else loss * size > wrong * math.log(2)
    if not (0 <= right <= size and loss > 0 and possible):
        raise ValueError(f"no batch of {size} images of {classes} classes has accuracy {accuracy:g} and "
                         f"mean cross-entropy {loss:g}")
    if wrong == 0:
        right_loss, wrong_loss = loss, 0.0
    elif right == 0:
        right_loss, wrong_loss = 0.0, loss
    else:  # the right rows take half of what they may, the wrong rows the rest
        right_loss = 0.5 * min(math.log(classes), (loss * size - wrong * math.log(2)) / right)
        wrong_loss = (loss * size - right * right_loss) / wrong
    rows = torch.arange(size)
    logits = torch.full((size, classes), WRONG_LOGIT)
    if right:  # log(1 + (classes - 1)·e^r) = right_loss, r < 0
        logits[:right] = math.log(math.expm1(right_loss) / (classes - 1))
    logits[rows, labels] = 0.0
    if wrong:  # log(1 + e^r) = wrong_loss, r > 0
        logits[rows[right:], (labels[right:] + 1) % classes] = math.log(math.expm1(wrong_loss))
    return logits


class FeedbackSupernet(nn.Module):
    """A supernet whose output on a batch of :func:`labelled_data` makes ``give(arch)``'s loss and accuracy.

    One zero-valued parameter carries the weight step's graph without changing any value. Where the
    given feedback's ``loss_tensor`` has a graph (gates that require grad), the measured loss passes
    its gradient on: backpropagating the engine's ``loss_tensor`` gives the gates the given gradient.
    """

    def __init__(self, give: Give, classes: int) -> None:
        super().__init__()
        self.give = give
        self.classes = classes
        self.zero = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        labels = x.flatten(1)[:, 0].long()
        given = self.give(arch)
        made = made_logits(given, labels.cpu(), self.classes).to(x.device)
        logits = made + (self.zero - self.zero.detach())
        graph = given.loss_tensor
        if graph is None or not graph.requires_grad:
            return logits
        # d(mean cross-entropy)/d(shift of every label logit) is mean(p_label) - 1: scale it to 1.
        right_probability = made.softmax(1)[torch.arange(len(labels)), labels].mean()
        shift = (graph - graph.detach()) / (right_probability - 1)
        return logits + nn.functional.one_hot(labels, self.classes) * shift


def labelled_data(shape: DataShape, steps: int) -> DataBundle:
    """Images of ``shape`` that carry their label as their first value: ``steps`` weight-training
    batches of :data:`BATCH_SIZE` images and one search batch."""
    count = (steps + 1) * BATCH_SIZE
    labels = torch.arange(count) % shape.num_classes
    images = torch.zeros(count, shape.in_channels, shape.input_size, shape.input_size)
    images.view(count, -1)[:, 0] = labels.float()
    classes = [str(label) for label in range(shape.num_classes)]
    return DataBundle(name="run_steps", train=TensorImages(images, labels, classes),
                      test=TensorImages(images[:BATCH_SIZE], labels[:BATCH_SIZE], classes), shape=shape)


class SampleRecorder:
    """Notes the choices of every sample the engine gives feedback on, in order."""

    def __init__(self) -> None:
        self.sampled: list[dict[str, tuple[int, ...]]] = []

    @hookimpl
    def record_feedback(self, samples: list[Architecture]) -> None:
        self.sampled += [sample.choices() for sample in samples]


class SpaceLister:
    """Lists ``space``'s class under its name, for a run whose plugins do not list it."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    @hookimpl
    def list_search_spaces(self) -> Mapping[str, type[SearchSpace]]:
        return {self.space.name: type(self.space)}


@contextmanager
def _registered(hooks: Hooks, recorder: SampleRecorder, space: SearchSpace) -> Iterator[None]:
    """The recorder, and a lister of ``space`` where no plugin lists it, registered for one run."""
    added = [recorder] if space.name in hooks.spaces() else [recorder, SpaceLister(space)]
    for plugin in added:
        hooks.pm.register(plugin)
    try:
        yield
    finally:
        for plugin in added:
            hooks.pm.unregister(plugin)


def _controller_of(hooks: Hooks) -> Controller:
    controllers = [plugin for plugin in hooks.pm.get_plugins() if isinstance(plugin, Controller)]
    if len(controllers) != 1:
        raise ValueError(f"run_steps needs hooks holding one controller (controller_hooks), "
                         f"these hold {len(controllers)}")
    return controllers[0]
