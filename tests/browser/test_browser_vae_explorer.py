"""End to end: Voila serves the VAE explorer to headless Chromium (Playwright)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.voila_server import (
    DATA_TO_CLIENT_JS,
    READ_SOURCE_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    console_text,
    js_errors,
    new_page,
    open_tab,
    wait_for_change,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VAE_EXPLORER = "voila/render/vae_explorer.ipynb"
QUERY = "index=5&T=0.5&lam=0.5&order=6"
#: The first screen's figures, then each tab's (title, a source it builds, its figures).
CORE_FIGURES = ["fig_posterior", "fig_lambda"]
TABS = [("Latent space", "latent", ["fig_latent", "fig_digit", "fig_reconstruction"]),
        ("ELBO parts", "elbo_bars", ["fig_bars"]),
        ("Weights' tail", "log_w_hist", ["fig_log_w"]),
        ("Weight scale", "scale_exact", ["fig_weight_scale"]),
        ("Temperature", "t_cursor", ["fig_temperature"]),
        ("IWAE", "iwae_cursor", ["fig_iwae"]),
        ("Training", "train_loss", ["fig_training"])]
WATCHED = ["t_cursor", "lam_cursor", "lam_series", "digit", "lam_exact", "posterior", "iwae_cursor"]


@pytest.fixture(scope="module")
def session(server, browser, artifacts):
    messages, failed = [], []
    page = new_page(browser, server)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    # torch import + the first digit's quadrature: generous on a shared machine
    page.goto(server + VAE_EXPLORER + "?" + QUERY, wait_until="commit", timeout=240_000)
    page.wait_for_selector(".vae-temperature .noUi-handle", timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg="lam_series", timeout=240_000)
    assert page.evaluate(WAIT_SOURCE_JS, "latent") is False      # tabs are built when first opened
    for title, source, _figures in TABS:
        open_tab(page, "vae", title, source)
    page.evaluate(WATCH_SOURCES_JS, WATCHED)
    page.screenshot(path=str(artifacts / "vae_explorer_first_render.png"), full_page=True)
    yield {"page": page, "messages": messages, "failed": failed, "base": server}
    page.close()


def readout(page, cls):
    return page.locator(f".{cls} .widget-readout").first.inner_text()


def src(page, name):
    return page.evaluate(READ_SOURCE_JS, name)


def test_renders_every_plot_from_the_url_state(session):
    page = session["page"]
    assert readout(page, "vae-temperature") == "0.501"
    assert readout(page, "vae-lambda") == "0.500"
    assert readout(page, "vae-order") == "6"
    assert page.locator(".vae-index input").input_value() == "5"
    assert len(src(page, "lam_series")["order"]) == 6
    assert src(page, "lam_cursor")["x"] == [0.5]
    assert src(page, "t_cursor")["x"][0] == pytest.approx(10 ** -0.3, rel=1e-9)
    assert len(src(page, "latent")["z1"]) == 359
    controls = page.locator(".vae-controls")
    for label in ("Temperature", "Perturbation λ", "Cumulant order", "IWAE K", "Monte Carlo samples"):
        assert controls.locator(".widget-slider", has_text=label).first.is_visible()
    assert controls.locator("a.vae-csv").is_visible()
    for name in CORE_FIGURES:
        assert page.evaluate(DATA_TO_CLIENT_JS, [name, 0.0, 0.0]) is not None, f"figure {name} has no view"
    for title, _source, figures in TABS:
        page.locator(".vae-tabs .lm-TabBar-tab", has_text=title).first.click()
        for name in figures:
            assert page.evaluate(DATA_TO_CLIENT_JS, [name, 0.0, 0.0]) is not None, f"figure {name} has no view"
    assert page.locator(".vae-training button", has_text="Train a new model").is_visible()
    assert page.locator("canvas").count() >= len(CORE_FIGURES) + sum(len(f) for *_, f in TABS)


@pytest.mark.parametrize("cls, source, tab, check", [
    ("vae-temperature", "t_cursor", "Temperature",
     lambda old, new: new["x"][0] == pytest.approx(old["x"][0] * 10 ** 0.03)),
    ("vae-lambda", "lam_cursor", None, lambda old, new: new["x"][0] == pytest.approx(old["x"][0] + 0.025)),
    ("vae-order", "lam_series", None, lambda old, new: len(new["order"]) == len(old["order"]) + 1),
])
def test_sliders_change_the_plot_data(session, artifacts, cls, source, tab, check):
    """A slider patches the plots on screen: the first screen's, and the tab that is shown."""
    page = session["page"]
    if tab is not None:
        open_tab(page, "vae", tab, source)
    old = src(page, source)
    before = change_count(page, source)
    page.locator(f".{cls} .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_for_change(page, source, before)
    new = src(page, source)
    assert new != old and check(old, new)
    page.screenshot(path=str(artifacts / f"vae_explorer_after_{cls}.png"), full_page=True)


def test_tapping_the_scatter_selects_another_digit(session, artifacts):
    page = session["page"]
    open_tab(page, "vae", "Latent space", "latent")     # the scatter must be on screen to be clicked
    lat = src(page, "latent")
    z = np.column_stack([lat["z1"], lat["z2"]])
    # the most isolated dot that is not the current one: a click there can only hit it
    d = np.linalg.norm(z[:, None] - z[None], axis=-1) + np.eye(len(z)) * 1e9
    order = np.argsort(-d.min(axis=1))
    pos = next(int(p) for p in order if lat["index"][p] != 5)
    target = int(lat["index"][pos])
    before = change_count(page, "digit")
    x, y = page.evaluate(DATA_TO_CLIENT_JS, ["fig_latent", z[pos, 0], z[pos, 1]])
    page.mouse.click(x, y)
    wait_for_change(page, "digit", before, timeout=180_000)
    page.wait_for_function("v => document.querySelector('.vae-index input').value === String(v)", arg=target,
                           timeout=60_000)
    assert src(page, "latent_selected")["z1"][0] == pytest.approx(z[pos, 0])
    page.screenshot(path=str(artifacts / "vae_explorer_after_tap.png"), full_page=True)


def test_training_panel_trains_in_the_background_and_switches_the_model(session, artifacts):
    page = session["page"]
    page.evaluate(WATCH_SOURCES_JS, ["train_loss", "latent"])
    open_tab(page, "vae", "Training", "train_loss")
    epochs = 60
    box = page.locator(".vae-epochs input")
    box.fill(str(epochs))
    box.press("Enter")
    before_latent = change_count(page, "latent")
    page.locator(".vae-training button", has_text="Train a new model").click()
    # the loss curve grows epoch by epoch ...
    page.wait_for_function("() => (window.__changes.train_loss || []).length >= 2", timeout=120_000)
    # ... and the kernel still answers a slider while the model trains (a background thread)
    before = change_count(page, "lam_cursor")
    page.locator(".vae-lambda .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_for_change(page, "lam_cursor", before)
    assert "trained here" not in page.locator(".vae-model").inner_text(), "training ended before the slider moved"
    # then the explorer switches to the new model: new latent means, the shipped one can come back
    page.wait_for_function("() => document.querySelector('.vae-model').innerText.includes('trained here')",
                           timeout=300_000)
    assert len(src(page, "train_loss")["epoch"]) == epochs
    # the latent scatter sits in a hidden tab: it shows the new model's latent means once shown
    open_tab(page, "vae", "Latent space", "latent")
    wait_for_change(page, "latent", before_latent)
    open_tab(page, "vae", "Training", "train_loss")
    page.wait_for_function("() => document.querySelector('.vae-train-status').innerText"
                           ".startsWith('Done: exploring the new model')", timeout=120_000)
    assert page.locator(".vae-training button", has_text="Back to the shipped model").is_enabled()
    page.screenshot(path=str(artifacts / "vae_explorer_after_training.png"), full_page=True)


def test_no_javascript_errors(session):
    assert js_errors(session["messages"], session["failed"], session["base"]) == []
    assert all(not u.startswith(session["base"]) for u in session["failed"])


def test_weight_scale_slider_updates_the_posterior_and_the_readout(session, artifacts):
    page = session["page"]
    page.evaluate(WATCH_SOURCES_JS, ["posterior"])
    before = change_count(page, "posterior")
    page.locator(".vae-scale .noUi-handle").focus()
    page.keyboard.press("ArrowRight")                       # c = 1 -> 2^(1/4)
    wait_for_change(page, "posterior", before, timeout=180_000)
    page.wait_for_function("() => document.querySelector('.vae-readout').innerText.includes('decoder weights × 1.19')",
                           timeout=60_000)
    assert readout(page, "vae-scale") == "1.19"
    page.screenshot(path=str(artifacts / "vae_explorer_weight_scale.png"), full_page=True)
