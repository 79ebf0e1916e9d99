"""End to end: Voila serves the VAE explorer to headless Chromium (Playwright)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.voila import (
    DATA_TO_CLIENT_JS,
    READ_SOURCE_JS,
    SOURCES_HAVE_DATA_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    console_text,
    js_errors,
    new_page,
    open_tab,
    wait_for_change,
)
from tests.browser.layout_checks import assert_fits_at_1280x720, wait_for_layout

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
    controls.locator("a.vae-csv").wait_for(state="visible", timeout=30_000)
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


def test_hold_q_drag_slider_and_fit_show_the_bound_and_the_gaps(session, artifacts):
    """Issue 14: in the "Hold q" tab, dragging q's mean and a slider change −ELBO(q); "Fit q" ends with the
    gaps in the readout. (Whatever model and digit the earlier tests left: every q is a bound for any.)"""
    page = session["page"]
    open_tab(page, "vae", "Hold q", "q_terms")
    page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["q_terms", "q_held_mean", "q_posterior"], timeout=180_000)
    page.evaluate(WATCH_SOURCES_JS, ["q_terms", "q_held_mean"])

    def neg_elbo():
        d = src(page, "q_terms")
        return d["value"][d["name"].index("−ELBO(q)")]

    wait_for_layout(page, ".vae-explorer")
    first, mean = neg_elbo(), src(page, "q_held_mean")
    x, y = page.evaluate(DATA_TO_CLIENT_JS, ["fig_q_map", mean["z1"][0], mean["z2"][0]])
    before = change_count(page, "q_terms")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y - 30, steps=8)
    page.mouse.up()
    wait_for_change(page, "q_terms", before)
    moved = src(page, "q_held_mean")
    assert moved["z1"][0] > mean["z1"][0] and moved["z2"][0] > mean["z2"][0]       # right and up
    dragged = neg_elbo()
    assert dragged != first
    page.wait_for_function("v => document.querySelector('.vae-q-readout').innerText.includes(v)",
                           arg=f"{dragged:.4f}", timeout=60_000)
    # the correlation slider changes the bound too
    before = change_count(page, "q_terms")
    page.locator(".vae-q-rho .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_for_change(page, "q_terms", before)
    assert neg_elbo() != dragged
    # the fit: diagonal then full covariance, then the chain and the gaps
    page.locator("button.vae-q-fit").click()
    page.wait_for_function("() => document.querySelector('.vae-q-chain') && "
                           "document.querySelector('.vae-q-chain').innerText.includes('amortisation gap')",
                           timeout=180_000)
    assert len(src(page, "q_fit_ellipses")["width"]) == 4 and len(src(page, "q_fit_path")["z1"]) > 5
    # the Play widget steps through the iterates in the browser: the held q moves to the full optimum
    last = len(src(page, "q_fit_path")["z1"]) - 1
    page.wait_for_function("n => document.querySelector('.vae-q-step .widget-readout').innerText === String(n)",
                           arg=last, timeout=120_000)
    page.wait_for_function("() => { const c = document.querySelector('.vae-q-chain').innerText;"
                           " const m = c.match(/ELBO\\(q\\*full\\) = ([0-9.]+)/);"
                           " return m && document.querySelector('.vae-q-readout').innerText.includes(m[1]); }",
                           timeout=60_000)
    assert_fits_at_1280x720(page, ".vae-explorer", ".vae-hold-q", artifacts / "vae_explorer_hold_q_1280x720.png",
                            readouts=[".vae-q-readout"])
    assert js_errors(session["messages"], session["failed"], session["base"]) == []
