"""Checkpoints: ``{"format", "format_version", "state_dict", "metadata"}`` saved with torch.save.

Only tensors and plain Python values (dict, list, str, int, float, bool, None) are
stored, so :func:`load_checkpoint` can use ``torch.load(..., weights_only=True)``:
a pickle that would run code (a ``__reduce__`` calling a function) is refused by
torch's restricted unpickler before anything runs, and the refusal becomes a
one-line :class:`InputError`.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from importlib import resources

import torch

from ..errors import InputError
from .device import select_device
from .model import VAE

FORMAT = "free-energy-explorer/vae"
FORMAT_VERSION = 1
SHIPPED_NAME = "vae_digits_2d.pt"


def shipped_checkpoint_path():
    """Path of the 2-D-latent digits checkpoint shipped inside the package."""
    return str(resources.files("explorer").joinpath("data", SHIPPED_NAME))


def _plain(obj, where="metadata"):
    """Check that ``obj`` is made of plain JSON-like values (what weights_only can load back)."""
    # Subclasses (torch's TorchVersion, numpy floats) would be pickled as their class: store the base type.
    if obj is None or isinstance(obj, bool):
        return obj
    for base in (int, float, str):
        if isinstance(obj, base):
            return base(obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v, where) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v, where) for k, v in obj.items()}
    raise InputError(f"{where} must hold only plain values (dict, list, str, int, float, bool, None), "
                     f"got {type(obj).__name__}")


def save_checkpoint(model, path, metadata=None):
    """Write ``model``'s weights and a small plain metadata record to ``path``.

    Parameters
    ----------
    model : VAE
    path : str or PathLike
    metadata : dict, optional
        Defaults to ``model.metadata``; the architecture is always recorded.
    """
    meta = _plain(dict(model.metadata if metadata is None else metadata))
    meta["architecture"] = model.config
    state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {path}: directory {parent} does not exist")
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "state_dict": state,
                "metadata": meta}, path)
    return path


def load_checkpoint(path=None, device="cpu"):
    """Load a VAE checkpoint safely.

    Parameters
    ----------
    path : str or PathLike, optional
        Defaults to the shipped 2-D digits checkpoint.
    device : str
        Where to put the model (``"auto"``: CUDA, else MPS, else CPU).

    Returns
    -------
    VAE
        In eval mode, with ``model.metadata`` (the plain record) and ``model.checkpoint_path``.

    Raises
    ------
    InputError
        Missing file; a file that is not a torch checkpoint; a pickle that would run code;
        a torch file of another kind; weights that do not fit the recorded architecture.
    """
    path = shipped_checkpoint_path() if path is None else os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; the refusal below is the message.
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        match = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        with open(path, "rb") as fh:
            head = fh.read(2)
        if match is None and head[:1] != b"\x80" and head != b"PK":
            # neither a zip checkpoint nor a pickle stream: just bytes
            raise InputError(f"{path} is not a readable torch checkpoint (corrupt or not a checkpoint)") from None
        what = f"a call to {match.group(1)}" if match else "objects other than tensors and plain values"
        raise InputError(f"refused to load {path}: the pickle asks for {what}, which could run code; "
                         f"only weights are accepted (torch.load weights_only=True)") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError,
            KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable torch checkpoint ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise InputError(f"{path} is not a free-energy-explorer VAE checkpoint (no format tag {FORMAT!r})")
    if obj.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path} has checkpoint format version {obj.get('format_version')!r}; "
                         f"this version reads {FORMAT_VERSION}")
    meta, state = obj.get("metadata"), obj.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise InputError(f"{path} is missing its metadata or weights")
    arch = meta.get("architecture")
    try:
        model = VAE(arch["n_input"], arch["n_hidden"], arch["n_latent"])
    except (TypeError, KeyError) as exc:
        raise InputError(f"{path} has no usable architecture record ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"{path}: weights do not match the recorded architecture "
                         f"({str(exc).splitlines()[0]})") from None
    if not all(torch.isfinite(t).all() for t in state.values()):
        raise InputError(f"{path}: weights contain NaN or inf")
    model.metadata = meta
    model.checkpoint_path = os.path.abspath(path)
    return model.to(select_device(device)).eval()
