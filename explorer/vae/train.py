"""Training: seeded Adam on the negative ELBO, KL warm-up and weight beta, early stopping.

Early stopping watches the ELBO of the validation split (carved from the training
part, so the test split stays held out for the numbers the explorer reports). It is
evaluated with fixed noise (common random numbers) so that epoch-to-epoch changes
are changes of the model, not of the Monte Carlo draw.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..errors import InputError
from ._validation import check_int, check_positive_finite
from .data import BinaryDataset, load_digits_binary
from .device import cpu_threads, select_device
from .model import VAE

DEFAULT_EPOCHS = 400
DEFAULT_PATIENCE = 60
DEFAULT_BATCH_SIZE = 64
DEFAULT_LR = 3e-3
DEFAULT_HIDDEN = 128
EVAL_SAMPLES = 16          # noise draws per validation row for early stopping
FINAL_EVAL_SAMPLES = 256   # noise draws per row for the train/test ELBO written to the checkpoint


@dataclass
class TrainResult:
    """What :func:`train_vae` returns.

    Attributes
    ----------
    model : VAE
        The best model (highest validation ELBO), in eval mode, with ``model.metadata`` set.
    history : dict of lists
        ``epoch``, ``train_elbo`` (running mean over the epoch's batches), ``val_elbo``.
    metadata : dict
        The plain record stored in the checkpoint.
    """

    model: VAE
    history: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


@torch.no_grad()
def evaluate_elbo(model, x, n_samples=FINAL_EVAL_SAMPLES, seed=0, batch=4096):
    """Mean ELBO per row of ``x`` (nats), Monte Carlo over ``n_samples`` draws with a fixed seed.

    Returns
    -------
    float
    """
    model.eval()
    x = model.as_tensor(x)
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    total = 0.0
    for start in range(0, x.shape[0], batch):
        xb = x[start:start + batch]
        eps = torch.randn((n_samples, xb.shape[0], model.n_latent), dtype=model.dtype,
                          device=model.device, generator=gen)
        total += float(model.elbo(xb, eps=eps).sum())
    return total / x.shape[0]


def train_vae(dataset: BinaryDataset | None = None, *, n_latent=2, n_hidden=DEFAULT_HIDDEN,
              epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH_SIZE, lr=DEFAULT_LR, beta=1.0,
              kl_warmup=0, patience=DEFAULT_PATIENCE, seed=0, device="auto", progress=True, callback=None,
              threads=1):
    """Train a VAE on binary images.

    Parameters
    ----------
    dataset : BinaryDataset, optional
        Defaults to the binarised digits with the fixed split.
    n_latent, n_hidden : int
        Architecture (see :class:`VAE`).
    epochs : int
        Maximum number of passes over the training split.
    batch_size : int
    lr : float
        Adam learning rate.
    beta : float
        KL weight in the training loss (1 is the ELBO; the reported ELBOs always use 1).
    kl_warmup : int
        Epochs over which the KL weight rises linearly from 0 to ``beta`` (0: no warm-up).
    patience : int
        Stop after this many epochs without a better validation ELBO (0: never stop early).
        Only epochs after the warm-up count.
    seed : int
        Seeds weights, batch order and noise.
    device : str
        ``"auto"`` (CUDA, else MPS, else CPU) or an explicit device.
    progress : bool
        Show a tqdm bar with the running ELBO.
    callback : callable, optional
        ``callback(epoch, model, train_elbo, val_elbo)`` after every epoch (live plots, benchmarks);
        the model is in eval mode during the call.
    threads : int
        torch CPU threads while training (0: leave torch's setting). One by default: batches of 64
        through 128-unit layers gain little from a second thread and lose 2-4x when another
        process shares the 2 cores (measured).

    Returns
    -------
    TrainResult
    """
    threads = check_int(threads, "threads", lo=0)
    with cpu_threads(threads or torch.get_num_threads()):
        return _train(dataset, n_latent, n_hidden, epochs, batch_size, lr, beta, kl_warmup, patience, seed,
                      device, progress, callback)


def _train(dataset, n_latent, n_hidden, epochs, batch_size, lr, beta, kl_warmup, patience, seed, device,
           progress, callback):
    epochs = check_int(epochs, "epochs", lo=1)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    kl_warmup = check_int(kl_warmup, "kl_warmup", lo=0)
    patience = check_int(patience, "patience", lo=0)
    seed = check_int(seed, "seed", lo=0)
    lr = check_positive_finite(lr, "lr")
    beta = check_positive_finite(beta, "beta")
    dev = select_device(device)
    data = load_digits_binary() if dataset is None else dataset
    if len(data.val) == 0:
        raise InputError("early stopping needs a validation split (val_fraction > 0)")

    torch.manual_seed(seed)  # weight initialisation
    model = VAE(data.n_pixels, n_hidden, n_latent).to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    x_train = model.as_tensor(data.train)
    x_val = model.as_tensor(data.val)
    val_eps = torch.randn((EVAL_SAMPLES, x_val.shape[0], n_latent), dtype=model.dtype, device=dev,
                          generator=torch.Generator(device=dev).manual_seed(seed + 1))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x_train.shape[0]
    history = {"epoch": [], "train_elbo": [], "val_elbo": []}
    best_val, best_state, best_epoch, since_best = -math.inf, None, 0, 0
    t0 = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="vae-train", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        weight = beta * min(1.0, epoch / kl_warmup) if kl_warmup else beta
        perm = torch.randperm(n, device=dev, generator=gen)
        running, seen = 0.0, 0
        for start in range(0, n, batch_size):
            xb = x_train[perm[start:start + batch_size]]
            mu, logvar = model.encode(xb)
            eps = torch.randn(mu.shape, dtype=mu.dtype, device=dev, generator=gen)
            z = mu + torch.exp(0.5 * logvar) * eps
            rec = model.log_likelihood(xb, z)
            kl = model.kl_prior(mu, logvar)
            loss = -(rec - weight * kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # The running ELBO (beta = 1) is what the bar shows, whatever weight trains.
            running += float((rec - kl).detach().sum())
            seen += xb.shape[0]
        train_elbo = running / seen
        model.eval()
        with torch.no_grad():
            val_elbo = float(model.elbo(x_val, eps=val_eps).mean())
        history["epoch"].append(epoch)
        history["train_elbo"].append(train_elbo)
        history["val_elbo"].append(val_elbo)
        if not math.isfinite(train_elbo):
            raise InputError(f"training diverged at epoch {epoch} (ELBO is {train_elbo}); lower the learning rate")
        warm = epoch >= kl_warmup
        if warm and val_elbo > best_val:
            best_val, best_epoch, since_best = val_elbo, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        elif warm:
            since_best += 1
        bar.set_postfix(elbo=f"{train_elbo:.2f}", val=f"{val_elbo:.2f}", best=f"{best_val:.2f}")
        if callback is not None:
            callback(epoch, model, train_elbo, val_elbo)
        if patience and warm and since_best >= patience:
            break
    bar.close()
    seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    meta = {
        "format": "free-energy-explorer/vae",
        "architecture": model.config,
        "data": dict(data.source),
        "training": {"seed": seed, "epochs_requested": epochs, "epochs_run": history["epoch"][-1],
                     "best_epoch": best_epoch, "batch_size": batch_size, "lr": lr, "beta": beta,
                     "kl_warmup": kl_warmup, "patience": patience, "device": str(dev),
                     "seconds": round(seconds, 3)},
        "final_train_elbo": evaluate_elbo(model, data.train),
        "final_val_elbo": evaluate_elbo(model, data.val),
        "final_test_elbo": evaluate_elbo(model, data.test),
        "elbo_eval_samples": FINAL_EVAL_SAMPLES,
        "torch_version": torch.__version__,
    }
    model.metadata = meta
    return TrainResult(model, history, meta)
