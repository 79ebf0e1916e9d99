"""The VAE explorer's Training tab: train a new VAE in the background, then explore it.

Its widgets (epochs, seed, progress, status, "back to the shipped model") sit in the tab; the
loss curves are a :class:`explorer.views.vae.explorer.TrainingView`. Training runs in a thread
(:class:`explorer.app.core.components.BackgroundJob`) so that the kernel keeps answering the
sliders; the new model becomes the explorer's (:meth:`VAEExplorer.use_compute`, a new ``model_id``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile

import ipywidgets as W

from ...views.html import escape, status_html
from ...views.vae.explorer import TrainingView
from ..core import Panel
from ..core.components import BackgroundJob
from .compute import VAECompute

#: Epochs of a model trained in the app by default (~1 minute on a laptop's CPU).
DEFAULT_TRAIN_EPOCHS = 20


class TrainingTab:
    """The Training tab of a :class:`~explorer.app.vae.explorer.VAEExplorer` (``explorer.training``)."""

    def __init__(self, explorer):
        self.explorer = explorer
        self._job = BackgroundJob("vae-explorer-training", thread_without_loop=True)
        self.trained = None              # (path, TrainResult) of the last model trained here
        self._shipped = None             # (compute, name) of the model a trained one replaced
        self._device_shown = False
        self._history = {"epoch": [], "train": [], "val": []}
        self._build_widgets()

    def panel(self):
        # rendered when opened and for each new model (its loss curves)
        return Panel("training", "Training", TrainingView, self.render, widgets=[self.box],
                     reads=frozenset({"model_id"}))

    def _build_widgets(self):
        self.w_epochs = W.BoundedIntText(value=DEFAULT_TRAIN_EPOCHS, min=1, max=2000, description="Epochs",
                                         layout=W.Layout(width="160px"), style={"description_width": "60px"})
        self.w_epochs.add_class("vae-epochs")
        # seed 1 by default: the shipped model is seed 0, and a new seed shows a new latent layout
        self.w_train_seed = W.IntText(value=1, description="seed", layout=W.Layout(width="110px"),
                                      style={"description_width": "35px"})
        self.w_train = W.Button(description="Train a new model", layout=W.Layout(width="150px"))
        self.w_shipped = W.Button(description="Back to the shipped model", layout=W.Layout(width="200px"),
                                  disabled=True)
        self.w_progress = W.IntProgress(value=0, min=0, max=DEFAULT_TRAIN_EPOCHS, layout=W.Layout(width="300px"))
        self.w_device = W.HTML(layout=W.Layout(width="420px"))   # filled when the tab opens (torch)
        self.w_train_status = W.HTML(layout=W.Layout(width="520px"))
        self.w_train.on_click(lambda _b: self.train())
        self.w_shipped.on_click(lambda _b: self.use_shipped())
        self.box = W.VBox([self.w_device, W.HBox([self.w_epochs, self.w_train_seed, self.w_train]),
                                  self.w_progress, self.w_train_status, self.w_shipped])
        self.box.add_class("vae-training")

    def _show_training_device(self):
        """Name the training device (asks torch: done when the Training tab is first shown)."""
        if self._device_shown:
            return
        from ...vae import select_device
        dev = select_device("auto")
        self.w_device.value = (f"<div class='vae-device'>Training device: <b>{escape(dev)}</b>"
                               + ("" if str(dev).startswith(("cuda", "mps")) else " (no GPU found)") + "</div>")
        self._device_shown = True

    def render(self, v, state, changed):
        if "model_id" in changed:
            self._show_training_device()
            h = self._history
            v.show(h["epoch"], h["train"], h["val"])

    def train(self, epochs=None, background=True, **kwargs):
        """Train a new VAE (default :data:`DEFAULT_TRAIN_EPOCHS` epochs), then explore it.

        In the app this runs in a thread so that the kernel keeps answering the sliders;
        the progress bar and loss curve are updated on the kernel's event loop.
        """
        if self._job.running:
            self._train_status("A model is already training.")
            return None
        epochs = int(self.w_epochs.value if epochs is None else epochs)
        kwargs.setdefault("seed", int(self.w_train_seed.value))
        self.w_progress.max, self.w_progress.value = epochs, 0
        self._history = {"epoch": [], "train": [], "val": []}
        self._show_history()

        def work(post):
            from ...vae import VAESession, save_checkpoint, train_vae

            def callback(epoch, model, train_elbo, val_elbo):
                h = self._history
                h["epoch"].append(epoch)
                h["train"].append(-train_elbo)
                h["val"].append(-val_elbo)
                snap_ = {k: list(v) for k, v in h.items()}
                post(lambda: self._show_progress(snap_))

            res = train_vae(epochs=epochs, device="auto", progress=False, callback=callback, patience=0, **kwargs)
            fd, path = tempfile.mkstemp(suffix=".pt", prefix="vae_explorer_")
            os.close(fd)
            save_checkpoint(res.model, path)
            return path, res, VAESession(checkpoint=path, device="cpu")

        self.w_train.disabled = True
        self._train_status(f"Training {epochs} epochs…")
        return self._job.start(work, lambda out: self._use_trained(*out),
                                    lambda exc: self._train_status(f"Training failed: {exc}", error=True),
                                    background)

    def _show_history(self):
        p = self.explorer.panels["training"]
        if p.is_open:
            h = self._history
            p.view.show(h["epoch"], h["train"], h["val"])

    def _show_progress(self, h):
        self._history = h
        self.w_progress.value = len(h["epoch"])
        self._show_history()
        self._train_status(f"epoch {h['epoch'][-1]}: training loss {h['train'][-1]:.3f}, "
                           f"validation loss {h['val'][-1]:.3f} nats")

    def _train_status(self, text, error=False):
        self.w_train_status.value = status_html("vae-train-status", text, error)
        if error:   # a failed run: the button is free again
            self.w_train.disabled = False

    def _use_trained(self, path, res, session):
        # The checkpoint file stays while its model can be explored (its bytes key the disk cache of
        # the Hold q tab); the one it replaces goes now, and the last one when the kernel exits, so a
        # class training models all afternoon leaves nothing behind in the temporary folder.
        if self.trained is not None:
            _remove_quietly(self.trained[0])
        atexit.register(_remove_quietly, path)
        self.trained = (path, res)
        if self._shipped is None:        # kept with its caches: going back recomputes nothing
            self._shipped = (self.explorer.compute, self.explorer.model_name)
        ep = res.metadata.get("training", {}).get("epochs_run", len(res.history["epoch"]))
        self._train_status(f"Trained {ep} epochs; computing the plots of the new model…")
        self.explorer.use_compute(VAECompute(session), f"trained here ({ep} epochs)")
        self.w_train.disabled = False
        self.w_shipped.disabled = False
        self._train_status(f"Done: exploring the new model ({ep} epochs, test ELBO "
                           f"{res.metadata.get('final_test_elbo', float('nan')):.2f} nats).")

    def use_shipped(self):
        """Go back to the model the explorer was opened with (after training one here)."""
        if self._shipped is None:
            return
        (compute, name), self._shipped = self._shipped, None
        self.explorer.use_compute(compute, name)
        self.w_shipped.disabled = True


def _remove_quietly(path):
    with contextlib.suppress(OSError):
        os.remove(path)
